/*
 * Memory and secrets for the engine's tables: zeroed pages that cost
 * memory only once written (src/core/pages.c), and hash keys from the
 * kernel's random pool (src/util/random.c).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/pages.h"
#include "util/random.h"

/* The process's anonymous memory in kB, as ps and the kernel count it. */
static long
rss_anon_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %ld", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb >= 0);
	return kb;
}

static void
test_pages_are_zero_and_cost_only_what_is_written(void **state)
{
	size_t size = 16 << 20, i;
	unsigned char *p;
	long before;
	unsigned sum = 0;

	(void)state;
	before = rss_anon_kb();
	assert_non_null(p = pages_alloc(size));
	p[size / 2] = 1;
	p[size - 1] = 2;
	/* Reading the rest sees zeros (the kernel's shared zero page). */
	for (i = 0; i < size; i += 4096)
		sum += p[i];
	assert_int_equal(sum, 1);
	assert_int_equal(p[size - 1], 2);
	/* Two pages written of 4096: far below the 16 MB a calloc would clear. */
	assert_true(rss_anon_kb() - before < 1024);
	pages_free(p, size);
	pages_free(NULL, size);
}

static void
test_random_bytes_differ_between_calls(void **state)
{
	uint8_t a[16] = { 0 }, b[16] = { 0 }, zero[16] = { 0 };

	(void)state;
	assert_int_equal(random_bytes(a, sizeof(a)), 0);
	assert_int_equal(random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(random_bytes(a, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages_are_zero_and_cost_only_what_is_written),
		cmocka_unit_test(test_random_bytes_differ_between_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
