/*
 * Hook lines into words: the quoting rules of argv.h, and nothing of a shell.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "core/argv.h"

/* line must split into exactly the NULL-terminated list of words. */
static void
expect_words(const char *line, const char *const *words)
{
	const char *err = "unset";
	char **argv = NULL;
	int argc = -1, n, i;

	for (n = 0; words[n] != NULL; n++)
		;
	if (argv_split(line, &argv, &argc, &err) != 0)
		fail_msg("'%s': %s", line, err);
	assert_int_equal(argc, n);
	for (i = 0; i < n; i++)
		assert_string_equal(argv[i], words[i]);
	assert_null(argv[n]);
	argv_free(argv);
}

static void
expect_error(const char *line, const char *message)
{
	const char *err = NULL;
	char *sentinel[1] = { NULL };
	char **argv = sentinel;		/* must come back NULL */
	int argc = 7;

	errno = 0;
	assert_int_equal(argv_split(line, &argv, &argc, &err), -1);
	assert_null(argv);
	assert_int_equal(argc, 0);
	assert_string_equal(err, message);
	assert_int_equal(errno, EINVAL);
}

#define WORDS(...) ((const char *const []){ __VA_ARGS__, NULL })

static void
test_blanks_separate_words(void **state)
{
	(void)state;
	expect_words("/bin/echo a b", WORDS("/bin/echo", "a", "b"));
	expect_words("  \t/bin/echo \t  a\t\tb  ", WORDS("/bin/echo", "a", "b"));
}

static void
test_blank_line_has_no_words(void **state)
{
	(void)state;
	expect_words("", (const char *const []){ NULL });
	expect_words(" \t ", (const char *const []){ NULL });
}

static void
test_single_quotes_keep_everything(void **state)
{
	(void)state;
	expect_words("/bin/x 'a  b' '\\n' 'say \"hi\"' '$HOME'",
	    WORDS("/bin/x", "a  b", "\\n", "say \"hi\"", "$HOME"));
}

static void
test_double_quotes_escape_only_quote_and_backslash(void **state)
{
	(void)state;
	expect_words("/bin/x \"a \\\"b\\\" c\" \"back\\\\slash\" \"it's\" "
	    "\"\\n\\t\\$\"",
	    WORDS("/bin/x", "a \"b\" c", "back\\slash", "it's", "\\n\\t\\$"));
}

static void
test_backslash_outside_quotes_makes_next_char_plain(void **state)
{
	(void)state;
	expect_words("/bin/x a\\ b \\'q\\' \\\"d\\\" \\\\ \\n",
	    WORDS("/bin/x", "a b", "'q'", "\"d\"", "\\", "n"));
}

static void
test_touching_parts_form_one_word(void **state)
{
	(void)state;
	expect_words("/bin/x a'b c'd \"e f\"'g h'i --to=\"%IP%\"",
	    WORDS("/bin/x", "ab cd", "e fg hi", "--to=%IP%"));
}

static void
test_empty_quotes_are_empty_words(void **state)
{
	(void)state;
	expect_words("/bin/x '' \"\" y", WORDS("/bin/x", "", "", "y"));
}

static void
test_nothing_of_a_shell_is_special(void **state)
{
	(void)state;
	expect_words("/bin/x $HOME ~ *.c ; | && > /tmp/f `id` $(id) # c",
	    WORDS("/bin/x", "$HOME", "~", "*.c", ";", "|", "&&", ">", "/tmp/f",
	    "`id`", "$(id)", "#", "c"));
}

static void
test_placeholders_stay_literal(void **state)
{
	(void)state;
	expect_words("/usr/local/sbin/notify %IP% %NAME% --from=%IP%:22",
	    WORDS("/usr/local/sbin/notify", "%IP%", "%NAME%", "--from=%IP%:22"));
}

static void
test_unterminated_quotes_and_trailing_backslash(void **state)
{
	(void)state;
	expect_error("/bin/x 'abc", "unterminated single quote");
	expect_error("/bin/x \"abc", "unterminated double quote");
	expect_error("/bin/x \"abc\\\"", "unterminated double quote");
	expect_error("/bin/x abc\\", "backslash at the end of the line");
	expect_error("'", "unterminated single quote");
}

static void
test_many_words(void **state)
{
	char line[1024], word[16];
	char **argv;
	int argc, i;

	(void)state;
	line[0] = '\0';
	for (i = 0; i < 200; i++) {
		snprintf(word, sizeof(word), "w%d ", i);
		strcat(line, word);
	}
	assert_int_equal(argv_split(line, &argv, &argc, NULL), 0);
	assert_int_equal(argc, 200);
	assert_string_equal(argv[0], "w0");
	assert_string_equal(argv[199], "w199");
	assert_null(argv[200]);
	argv_free(argv);
}

static void
test_errp_may_be_null_and_free_takes_null(void **state)
{
	char **argv;
	int argc;

	(void)state;
	assert_int_equal(argv_split("'x", &argv, &argc, NULL), -1);
	assert_null(argv);
	argv_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blanks_separate_words),
		cmocka_unit_test(test_blank_line_has_no_words),
		cmocka_unit_test(test_single_quotes_keep_everything),
		cmocka_unit_test(test_double_quotes_escape_only_quote_and_backslash),
		cmocka_unit_test(test_backslash_outside_quotes_makes_next_char_plain),
		cmocka_unit_test(test_touching_parts_form_one_word),
		cmocka_unit_test(test_empty_quotes_are_empty_words),
		cmocka_unit_test(test_nothing_of_a_shell_is_special),
		cmocka_unit_test(test_placeholders_stay_literal),
		cmocka_unit_test(test_unterminated_quotes_and_trailing_backslash),
		cmocka_unit_test(test_many_words),
		cmocka_unit_test(test_errp_may_be_null_and_free_takes_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
