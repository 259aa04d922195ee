#include <string.h>

#include "unit.h"
#include "core/deferred.h"
#include "core/deferred_test.h"

static struct deferred_item
item_at(uint64_t when, const char *name)
{
	struct deferred_item it = { .when_ms = when };

	strncpy(it.trigger, name, sizeof(it.trigger) - 1);
	return it;
}

static void
test_deferred_pops_in_time_order(void **state)
{
	static const uint64_t when[] = { 500, 100, 900, 300, 700, 200, 800, 400, 600 };
	struct deferred *d = deferred_new(16);
	struct deferred_item it, out;
	uint64_t last = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		it = item_at(when[i], "t");
		assert_int_equal(deferred_push(d, &it), 0);
	}
	assert_int_equal(deferred_next(d), 100);
	for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		assert_true(deferred_pop_due(d, 1000, &out));
		assert_true(out.when_ms >= last);
		last = out.when_ms;
	}
	assert_int_equal(deferred_count(d), 0);
	assert_int_equal(deferred_next(d), 0);
	deferred_free(d);
}

static void
test_deferred_nothing_before_its_time(void **state)
{
	struct deferred *d = deferred_new(4);
	struct deferred_item it = item_at(1000, "ssh"), out;

	(void)state;
	assert_int_equal(deferred_push(d, &it), 0);
	assert_false(deferred_pop_due(d, 999, &out));
	assert_true(deferred_pop_due(d, 1000, &out));
	assert_string_equal(out.trigger, "ssh");
	deferred_free(d);
}

static void
test_deferred_full_queue_refuses(void **state)
{
	struct deferred *d = deferred_new(2);
	struct deferred_item it = item_at(1, "a");

	(void)state;
	assert_int_equal(deferred_push(d, &it), 0);
	assert_int_equal(deferred_push(d, &it), 0);
	assert_int_equal(deferred_push(d, &it), -1);
	assert_int_equal(deferred_count(d), 2);
	deferred_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deferred_pops_in_time_order),
		cmocka_unit_test(test_deferred_nothing_before_its_time),
		cmocka_unit_test(test_deferred_full_queue_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
