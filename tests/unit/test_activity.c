/*
 * The activity trigger's state machine (src/core/trigger_activity.c): what it
 * asks the engine to do at each step, with time as an argument.
 */
#include "unit.h"

#include <string.h>

#include "config/config.h"
#include "core/trigger_activity.h"

static struct config_activity cfg;
static struct activity a;
static struct act_actions out;
static char *stop_argv[] = { "/sbin/vpn", "down", NULL };

static int
setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "vpn");
	cfg.source = CONFIG_SOURCE_QUEUE;
	cfg.ttl_ms = 10000;
	cfg.hold_packets = 3;
	cfg.hold_bytes = 3000;
	cfg.retry_after_ms = 5000;
	cfg.stop.argv = stop_argv;
	cfg.stop.argc = 2;
	assert_int_equal(act_init(&a, &cfg), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	act_free(&a);
	return 0;
}

static struct act_held
pkt(uint32_t id, uint32_t len)
{
	return (struct act_held){ .id = id, .len = len, .queue = 0 };
}

static enum act_verdict
packet(uint32_t id, uint32_t len, uint64_t now)
{
	struct act_held p = pkt(id, len);

	return act_packet(&a, &p, now, &out);
}

/* Standby -> starting, holding the first packet. */
static void
start_with_one_held(uint64_t now)
{
	assert_int_equal(packet(1, 60, now), ACT_HOLD);
	assert_true(out.run_start);
	assert_int_equal(a.state, ACT_STARTING);
}

static void
test_activity_first_packet_starts_and_is_held(void **state)
{
	(void)state;
	start_with_one_held(100);
	assert_false(out.run_stop);
	assert_int_equal(out.nrelease, 0);
	assert_int_equal(out.kernel_sampling, -1);
	/* More packets while start runs: held, no second start. */
	assert_int_equal(packet(2, 60, 150), ACT_HOLD);
	assert_false(out.run_start);
	assert_int_equal(a.nheld, 2);
	assert_int_equal(a.c.starts, 1);
}

static void
test_activity_start_ok_accepts_held_in_order_and_samples(void **state)
{
	uint32_t epoch = a.epoch;

	(void)state;
	start_with_one_held(100);
	packet(2, 60, 110);
	act_start_done(&a, epoch, true, 200, &out);
	assert_int_equal(a.state, ACT_ACTIVE);
	assert_int_equal(out.nrelease, 2);
	assert_true(out.release_accept);
	assert_int_equal(out.release[0].id, 1);
	assert_int_equal(out.release[1].id, 2);
	assert_int_equal(out.kernel_sampling, 1);
	assert_int_equal(a.nheld, 0);
	assert_int_equal(a.c.released, 2);
	/* Active: packets pass at once. */
	assert_int_equal(packet(3, 60, 300), ACT_PASS);
}

static void
test_activity_hold_bound_by_count_then_dropped(void **state)
{
	(void)state;
	start_with_one_held(0);
	assert_int_equal(packet(2, 60, 1), ACT_HOLD);
	assert_int_equal(packet(3, 60, 2), ACT_HOLD);
	assert_int_equal(packet(4, 60, 3), ACT_DROP);
	assert_int_equal(a.c.overflow, 1);
	assert_int_equal(a.nheld, 3);
}

static void
test_activity_hold_bound_by_bytes(void **state)
{
	(void)state;
	assert_int_equal(packet(1, 1500, 0), ACT_HOLD);
	assert_int_equal(packet(2, 1501, 1), ACT_DROP);	/* 3001 > 3000 */
	assert_int_equal(packet(3, 1500, 2), ACT_HOLD);	/* exactly 3000 */
	assert_int_equal(a.c.overflow, 1);
}

static void
test_activity_hold_packets_zero_holds_nothing(void **state)
{
	(void)state;
	act_free(&a);
	cfg.hold_packets = 0;
	assert_int_equal(act_init(&a, &cfg), 0);
	assert_int_equal(packet(1, 60, 0), ACT_DROP);
	assert_true(out.run_start);
	assert_int_equal(a.c.overflow, 1);
}

static void
test_activity_ttl_refreshed_by_every_packet_then_stop(void **state)
{
	(void)state;
	start_with_one_held(0);
	act_start_done(&a, a.epoch, true, 1000, &out);
	assert_int_equal(act_next_deadline(&a), 11000);
	packet(2, 60, 8000);
	assert_int_equal(act_next_deadline(&a), 18000);
	act_expire(&a, 17999, &out);
	assert_int_equal(a.state, ACT_ACTIVE);
	assert_false(out.run_stop);
	act_expire(&a, 18000, &out);
	assert_int_equal(a.state, ACT_STOPPING);
	assert_true(out.run_stop);
	assert_int_equal(out.kernel_sampling, 0);
	assert_int_equal(act_next_deadline(&a), ACT_NO_DEADLINE);
	act_stop_done(&a, a.epoch, true, 18100, &out);
	assert_int_equal(a.state, ACT_STANDBY);
	assert_false(out.run_start);
}

static void
test_activity_without_stop_hook_goes_to_standby(void **state)
{
	(void)state;
	cfg.stop.argv = NULL;
	start_with_one_held(0);
	act_start_done(&a, a.epoch, true, 0, &out);
	act_expire(&a, 10000, &out);
	assert_int_equal(a.state, ACT_STANDBY);
	assert_false(out.run_stop);
	assert_int_equal(out.kernel_sampling, 0);
}

static void
test_activity_traffic_while_stopping_starts_after_stop(void **state)
{
	(void)state;
	start_with_one_held(0);
	act_start_done(&a, a.epoch, true, 0, &out);
	act_expire(&a, 10000, &out);
	assert_int_equal(packet(7, 60, 10001), ACT_HOLD);
	assert_false(out.run_start);	/* not while stop runs */
	act_stop_done(&a, a.epoch, true, 10050, &out);
	assert_int_equal(a.state, ACT_STARTING);
	assert_true(out.run_start);
	assert_int_equal(out.nrelease, 0);	/* still held for the new start */
	act_start_done(&a, a.epoch, true, 10100, &out);
	assert_int_equal(out.nrelease, 1);
	assert_int_equal(out.release[0].id, 7);
	assert_int_equal(a.c.starts, 2);
}

static void
test_activity_start_failure_drops_held_and_backs_off(void **state)
{
	(void)state;
	start_with_one_held(0);
	packet(2, 60, 10);
	act_start_done(&a, a.epoch, false, 1000, &out);
	assert_int_equal(a.state, ACT_BACKOFF);
	assert_int_equal(out.nrelease, 2);
	assert_false(out.release_accept);
	assert_int_equal(out.kernel_sampling, -1);
	assert_int_equal(a.c.start_failures, 1);
	assert_int_equal(a.c.failed_released, 2);
	/* In the back-off: the start_failure verdict at once, no start. */
	assert_int_equal(packet(3, 60, 5999), ACT_DROP);
	assert_false(out.run_start);
	assert_int_equal(a.c.backoff, 1);
	/* After it: the next packet starts again and is held. */
	assert_int_equal(packet(4, 60, 6000), ACT_HOLD);
	assert_true(out.run_start);
	assert_int_equal(a.state, ACT_STARTING);
}

static void
test_activity_start_failure_accept_lets_packets_through(void **state)
{
	(void)state;
	cfg.start_failure_accept = true;
	start_with_one_held(0);
	act_start_done(&a, a.epoch, false, 1000, &out);
	assert_int_equal(out.nrelease, 1);
	assert_true(out.release_accept);
	assert_int_equal(packet(2, 60, 2000), ACT_PASS);
}

static void
test_activity_reset_while_active_runs_stop(void **state)
{
	uint32_t old;

	(void)state;
	start_with_one_held(0);
	act_start_done(&a, a.epoch, true, 0, &out);
	old = a.epoch;
	act_reset(&a, &out);
	assert_int_equal(a.state, ACT_STANDBY);
	assert_true(out.run_stop);
	assert_int_equal(out.epoch, old);	/* the stop belongs to the old epoch */
	assert_int_equal(out.kernel_sampling, 0);
	assert_int_not_equal(a.epoch, old);
	/* Its result, whatever it is, changes nothing now. */
	act_stop_done(&a, old, false, 5, &out);
	assert_int_equal(a.state, ACT_STANDBY);
	assert_int_equal(a.c.stop_failures, 0);
}

static void
test_activity_reset_while_starting_releases_and_ignores_late_start(void **state)
{
	uint32_t old;

	(void)state;
	start_with_one_held(0);
	old = a.epoch;
	act_reset(&a, &out);
	assert_int_equal(out.nrelease, 1);
	assert_false(out.release_accept);
	assert_true(out.run_stop);	/* the running start may bring it up */
	/* The start reports after the reset: ignored. */
	act_start_done(&a, old, true, 10, &out);
	assert_int_equal(a.state, ACT_STANDBY);
	assert_int_equal(out.nrelease, 0);
	assert_int_equal(out.kernel_sampling, -1);
	/* A new packet starts again in the new epoch. */
	start_with_one_held(20);
	assert_int_equal(out.epoch, a.epoch);
}

static void
test_activity_reset_in_standby_or_backoff_runs_no_stop(void **state)
{
	(void)state;
	act_reset(&a, &out);
	assert_false(out.run_stop);
	start_with_one_held(0);
	act_start_done(&a, a.epoch, false, 0, &out);
	act_reset(&a, &out);
	assert_false(out.run_stop);
	assert_int_equal(a.state, ACT_STANDBY);
	/* Reset while stopping: the stop runs already. */
	start_with_one_held(0);
	act_start_done(&a, a.epoch, true, 0, &out);
	act_expire(&a, 10000, &out);
	act_reset(&a, &out);
	assert_false(out.run_stop);
	assert_false(a.restart);
}

static void
test_activity_nflog_never_holds_and_has_no_switch(void **state)
{
	(void)state;
	act_free(&a);
	cfg.source = CONFIG_SOURCE_NFLOG;
	assert_int_equal(act_init(&a, &cfg), 0);
	assert_null(a.held);
	assert_int_equal(act_packet(&a, NULL, 0, &out), ACT_PASS);
	assert_true(out.run_start);
	act_start_done(&a, a.epoch, true, 10, &out);
	assert_int_equal(out.kernel_sampling, -1);
	assert_int_equal(out.nrelease, 0);
	act_expire(&a, 10010, &out);
	assert_int_equal(out.kernel_sampling, -1);
	assert_true(out.run_stop);
}

static void
test_activity_configure_only_in_standby(void **state)
{
	struct config_activity next = cfg;

	(void)state;
	next.hold_packets = 1;
	start_with_one_held(0);
	assert_int_equal(act_configure(&a, &next), -1);
	act_reset(&a, &out);
	assert_int_equal(act_configure(&a, &next), 0);
	assert_ptr_equal(a.cfg, &next);
	start_with_one_held(0);
	assert_int_equal(packet(2, 60, 1), ACT_DROP);	/* the new bound */
	act_reset(&a, &out);
	a.cfg = &cfg;	/* next goes out of scope */
}

/* A malformed packet gets the path's verdict, starts nothing, is counted. */
static void
test_activity_unparsed_gets_the_paths_verdict(void **state)
{
	uint32_t epoch;

	(void)state;
	/* Standby, start_failure = drop: the path is closed. */
	assert_int_equal(act_unparsed(&a), ACT_DROP);
	assert_int_equal(a.state, ACT_STANDBY);
	assert_int_equal(a.c.starts, 0);
	epoch = a.epoch;
	start_with_one_held(100);
	assert_int_equal(act_unparsed(&a), ACT_DROP);
	act_start_done(&a, epoch, true, 200, &out);
	assert_int_equal(act_unparsed(&a), ACT_PASS);
	assert_int_equal(a.c.unparsed, 3);
	assert_int_equal(a.c.unparsed_dropped, 2);
	assert_int_equal(a.c.packets, 1);	/* not traffic */
	/* start_failure = accept: an open path even in standby. */
	cfg.start_failure_accept = true;
	act_reset(&a, &out);
	assert_int_equal(act_unparsed(&a), ACT_PASS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_activity_first_packet_starts_and_is_held),
		T(test_activity_unparsed_gets_the_paths_verdict),
		T(test_activity_start_ok_accepts_held_in_order_and_samples),
		T(test_activity_hold_bound_by_count_then_dropped),
		T(test_activity_hold_bound_by_bytes),
		T(test_activity_hold_packets_zero_holds_nothing),
		T(test_activity_ttl_refreshed_by_every_packet_then_stop),
		T(test_activity_without_stop_hook_goes_to_standby),
		T(test_activity_traffic_while_stopping_starts_after_stop),
		T(test_activity_start_failure_drops_held_and_backs_off),
		T(test_activity_start_failure_accept_lets_packets_through),
		T(test_activity_reset_while_active_runs_stop),
		T(test_activity_reset_while_starting_releases_and_ignores_late_start),
		T(test_activity_reset_in_standby_or_backoff_runs_no_stop),
		T(test_activity_nflog_never_holds_and_has_no_switch),
		T(test_activity_configure_only_in_standby),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
