/*
 * Key files: the one format (64 hex digits), every way a file can be wrong,
 * and the ownership rules with and without the check.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config/keyfile.h"

#define HEX64	"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191A1B1C1D1E1F"
#define NOBODY	65534

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nfqt-test-keyfile.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/k", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void
put(const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* keyfile_read's reason, with the temp path replaced by "K". */
static const char *
why_of(bool check, uid_t also)
{
	static char out[KEYFILE_WHY_MAX];
	char why[KEYFILE_WHY_MAX];
	uint8_t key[KEYFILE_KEY_LEN];
	const char *s = why, *at;
	size_t i, o = 0;

	memset(key, 0xee, sizeof(key));
	if (keyfile_read(path, check, also, key, why, sizeof(why)) == 0)
		return "OK";
	for (i = 0; i < sizeof(key); i++)
		assert_int_equal(key[i], 0);	/* nothing half-read */
	while ((at = strstr(s, path)) != NULL) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*sK",
		    (int)(at - s), s);
		s = at + strlen(path);
	}
	snprintf(out + o, sizeof(out) - o, "%s", s);
	return out;
}

static void
test_keyfile_reads_64_hex_digits_with_or_without_newline(void **state)
{
	uint8_t key[KEYFILE_KEY_LEN];
	char why[KEYFILE_WHY_MAX];
	int i;

	(void)state;
	put(HEX64 "\n", 0600);
	assert_int_equal(keyfile_read(path, true, KEYFILE_ROOT_ONLY, key, why,
	    sizeof(why)), geteuid() == 0 ? 0 : -1);
	assert_int_equal(keyfile_read(path, false, KEYFILE_ROOT_ONLY, key, why,
	    sizeof(why)), 0);
	for (i = 0; i < KEYFILE_KEY_LEN; i++)
		assert_int_equal(key[i], i);
	put(HEX64, 0600);
	assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY), "OK");
}

static void
test_keyfile_anything_but_one_key_line_is_refused(void **state)
{
	static const char *bad[] = {
		"",
		"\n",
		HEX64 "00\n",					/* 33 bytes */
		HEX64 "\n\n",					/* a second line */
		HEX64 "\r\n",
		" " HEX64 "\n",
		"g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",
		"00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11\n",
		NULL
	};
	int i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		put(bad[i], 0600);
		assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY),
		    "K is not a key: want one line of 64 hexadecimal digits "
		    "(32 bytes)");
	}
	/* Hex digits, too few of them: said so. */
	put("000102030405060708090a0b0c0d0e0f\n", 0600);
	assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY), "K is too short: 32 "
	    "hexadecimal digits, a key has 64 (32 bytes)");
}

static void
test_keyfile_missing_or_not_a_file(void **state)
{
	(void)state;
	unlink(path);
	assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY),
	    "K: No such file or directory");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY),
	    "K is not a regular file");
	assert_int_equal(rmdir(path), 0);
}

static void
test_keyfile_open_to_group_or_others_is_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	put(HEX64 "\n", 0640);
	assert_string_equal(why_of(true, KEYFILE_ROOT_ONLY),
	    "K is open to its group (mode 0640): a key must be for its owner "
	    "only: chmod 600 K");
	put(HEX64 "\n", 0604);
	assert_string_equal(why_of(true, KEYFILE_ROOT_ONLY),
	    "K is open to others (mode 0604): a key must be for its owner "
	    "only: chmod 600 K");
	/* Write or execute permission is as wrong as read. */
	put(HEX64 "\n", 0622);
	assert_string_equal(why_of(true, KEYFILE_ROOT_ONLY),
	    "K is open to group and others (mode 0622): a key must be for its "
	    "owner only: chmod 600 K");
	/* Unchecked, the mode does not matter (tests, -C of a copy). */
	assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY), "OK");
	put(HEX64 "\n", 0400);
	assert_string_equal(why_of(true, KEYFILE_ROOT_ONLY), "OK");
}

static void
test_keyfile_owner_must_be_root_or_the_given_user(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	put(HEX64 "\n", 0600);
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_string_equal(why_of(true, KEYFILE_ROOT_ONLY),
	    "K is owned by uid 65534, not root");
	assert_string_equal(why_of(true, 1000),
	    "K is owned by uid 65534, neither root nor you (uid 1000)");
	assert_string_equal(why_of(true, NOBODY), "OK");
	assert_string_equal(why_of(false, KEYFILE_ROOT_ONLY), "OK");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyfile_reads_64_hex_digits_with_or_without_newline),
		cmocka_unit_test(test_keyfile_anything_but_one_key_line_is_refused),
		cmocka_unit_test(test_keyfile_missing_or_not_a_file),
		cmocka_unit_test(test_keyfile_open_to_group_or_others_is_refused),
		cmocka_unit_test(test_keyfile_owner_must_be_root_or_the_given_user),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
