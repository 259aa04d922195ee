/*
 * The event log (src/engine/event.c): the fixed line format, words that a
 * packet or a name cannot use to forge a field, and the per-source and
 * log-wide rate limits that keep a flood from filling the log.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "engine/event.h"

static void
test_event_line_has_fixed_fields(void **state)
{
	struct events *ev = events_new();
	uint8_t a[16] = { 192, 0, 2, 7 };
	char line[256];

	(void)state;
	event_log(ev, 1000, EVENT_FAILED, "knock", "ssh", AF_INET, a, "wrong-order");
	event_format(events_recent(ev, 0), line, sizeof(line));
	assert_string_equal(line,
	    "event=failed kind=knock trigger=ssh src=192.0.2.7 reason=wrong-order");
	events_free(ev);
}

static void
test_event_words_cannot_forge_fields(void **state)
{
	struct events *ev = events_new();
	char line[256];

	(void)state;
	event_log(ev, 1000, EVENT_HOOK_FAILED, "knock", "a b\nevent=opened", 0, NULL,
	    "exit=1 src=10.0.0.1");
	event_format(events_recent(ev, 0), line, sizeof(line));
	assert_string_equal(line, "event=hook-failed kind=knock "
	    "trigger=a_b_event_opened src=- reason=exit_1_src_10.0.0.1");
	events_free(ev);
}

static void
test_event_source_over_its_rate_is_held_back(void **state)
{
	struct events *ev = events_new();
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 }, b[16] = { 198, 51, 100, 1 };
	int i;

	(void)state;
	for (i = 0; i < EVENT_PER_SOURCE + 5; i++)
		event_log(ev, 1000 + (uint64_t)i, EVENT_FAILED, "knock", "ssh",
		    AF_INET6, a, "window-expired");
	assert_int_equal(events_counters(ev)->logged, EVENT_PER_SOURCE);
	assert_int_equal(events_counters(ev)->suppressed, 5);
	/* Another source still gets its lines in. */
	event_log(ev, 2000, EVENT_OPENED, "knock", "ssh", AF_INET, b, NULL);
	assert_int_equal(events_counters(ev)->logged, EVENT_PER_SOURCE + 1);
	/* After the window the first source may speak again. */
	event_log(ev, 1000 + EVENT_WINDOW_MS, EVENT_FAILED, "knock", "ssh",
	    AF_INET6, a, "window-expired");
	assert_int_equal(events_counters(ev)->logged, EVENT_PER_SOURCE + 2);
	events_free(ev);
}

static void
test_event_flood_of_sources_bounded_in_all(void **state)
{
	struct events *ev = events_new();
	uint8_t a[16] = { 10 };
	uint32_t i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		memcpy(a, &i, sizeof(i));
		event_log(ev, 5000, EVENT_FAILED, "knock", "ssh", AF_INET, a, "wrong-order");
	}
	assert_int_equal(events_counters(ev)->logged, EVENT_PER_WINDOW);
	assert_int_equal(events_counters(ev)->suppressed, 5000 - EVENT_PER_WINDOW);
	events_free(ev);
}

static void
test_event_recent_ring_newest_first(void **state)
{
	struct events *ev = events_new();
	char name[16];
	int i;

	(void)state;
	for (i = 0; i < EVENT_RECENT + 3; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		event_log(ev, (uint64_t)i, EVENT_OPENED, "knock", name, 0, NULL, NULL);
	}
	snprintf(name, sizeof(name), "t%d", EVENT_RECENT + 2);
	assert_string_equal(events_recent(ev, 0)->trigger, name);
	assert_string_equal(events_recent(ev, EVENT_RECENT - 1)->trigger, "t3");
	assert_null(events_recent(ev, EVENT_RECENT));
	events_free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_line_has_fixed_fields),
		cmocka_unit_test(test_event_words_cannot_forge_fields),
		cmocka_unit_test(test_event_source_over_its_rate_is_held_back),
		cmocka_unit_test(test_event_flood_of_sources_bounded_in_all),
		cmocka_unit_test(test_event_recent_ring_newest_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
