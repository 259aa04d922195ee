/*
 * State files: a number survives save and load, a missing file is told
 * apart from a broken one, and a save leaves nothing half-written behind.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config/statefile.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nfqt-test-state.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/ssh.counter", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int
entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dp);
	return n;
}

static void
put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_statefile_missing_is_not_an_error(void **state)
{
	char why[STATEFILE_WHY_MAX];
	uint64_t v = 77;

	(void)state;
	unlink(path);
	assert_int_equal(statefile_load(path, &v, why, sizeof(why)), 1);
	assert_int_equal(v, 77);	/* untouched */
}

static void
test_statefile_save_then_load_and_nothing_left_over(void **state)
{
	char why[STATEFILE_WHY_MAX], text[32];
	struct stat st;
	uint64_t v = 0;
	FILE *f;

	(void)state;
	assert_int_equal(statefile_save(path, 42, why, sizeof(why)), 0);
	assert_int_equal(statefile_load(path, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 42);
	assert_int_equal(statefile_save(path, UINT64_MAX, why, sizeof(why)), 0);
	assert_int_equal(statefile_load(path, &v, why, sizeof(why)), 0);
	assert_true(v == UINT64_MAX);
	/* The file a person reads: one number, a newline; mode 0600. */
	assert_int_equal(statefile_save(path, 7, why, sizeof(why)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "7\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(entries(dir), 1);	/* no temporary file */
}

static void
test_statefile_garbage_is_an_error_with_the_path(void **state)
{
	static const char *bad[] = { "", "\n", "-1\n", "12 \n", "0x10\n",
	    "1\n2\n", "18446744073709551616\n", "abc", NULL };
	char why[STATEFILE_WHY_MAX], want[256];
	uint64_t v;
	int i;

	(void)state;
	snprintf(want, sizeof(want), "%s: not a counter: want one decimal "
	    "number and a newline", path);
	for (i = 0; bad[i] != NULL; i++) {
		put(bad[i]);
		assert_int_equal(statefile_load(path, &v, why, sizeof(why)), -1);
		assert_string_equal(why, want);
	}
	put("5");	/* without its newline: still the number */
	assert_int_equal(statefile_load(path, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 5);
}

static void
test_statefile_save_into_missing_directory_fails_clearly(void **state)
{
	char why[STATEFILE_WHY_MAX], p[160], want[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/nodir/x.counter", dir);
	assert_int_equal(statefile_save(p, 1, why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "%s: create: No such file or directory", p);
	assert_string_equal(why, want);
}

static void
test_statefile_directory_in_its_place_is_an_error(void **state)
{
	char why[STATEFILE_WHY_MAX], want[256];
	uint64_t v;

	(void)state;
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(statefile_load(path, &v, why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "%s is not a regular file", path);
	assert_string_equal(why, want);
	/* rename() over a directory fails, and the temporary goes away. */
	assert_int_equal(statefile_save(path, 3, why, sizeof(why)), -1);
	assert_non_null(strstr(why, ": rename: "));
	assert_int_equal(entries(dir), 1);
	assert_int_equal(rmdir(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statefile_missing_is_not_an_error),
		cmocka_unit_test(test_statefile_save_then_load_and_nothing_left_over),
		cmocka_unit_test(test_statefile_garbage_is_an_error_with_the_path),
		cmocka_unit_test(test_statefile_save_into_missing_directory_fails_clearly),
		cmocka_unit_test(test_statefile_directory_in_its_place_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
