/*
 * Tracker tests: lookup by (family, address), the two tiers of
 * docs/design.md, decision 8, expiry by deadline, and moving state between
 * trackers on reload. A fixed hash key keeps runs repeatable; one test checks
 * the random key path.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "unit.h"
#include "core/tracker.h"
#include "core/tracker_test.h"

struct val {
	uint32_t id;
	uint32_t extra;
};

static const uint8_t test_key[TRACKER_HASH_KEY_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* 10.x.y.z for n, in the first 4 bytes of a 16-byte buffer. */
static const uint8_t *
v4(uint32_t n)
{
	static uint8_t a[16];

	memset(a, 0, sizeof(a));
	a[0] = 10;
	a[1] = (uint8_t)(n >> 16);
	a[2] = (uint8_t)(n >> 8);
	a[3] = (uint8_t)n;
	return a;
}

static struct tracker *
new_tracker(uint32_t capacity, uint32_t progress_max)
{
	struct tracker *t;

	t = tracker_new(capacity, progress_max, sizeof(struct val), test_key);
	assert_non_null(t);
	return t;
}

static struct val *
insert(struct tracker *t, uint32_t n, uint64_t deadline)
{
	struct val *v;

	assert_null(tracker_find(t, AF_INET, v4(n), 0));
	v = tracker_insert(t, AF_INET, v4(n), deadline);
	assert_non_null(v);
	v->id = n;
	return v;
}

static struct tracker_stats
stats(const struct tracker *t)
{
	struct tracker_stats s;

	tracker_get_stats(t, &s);
	return s;
}

static void
test_tracker_insert_then_find_returns_same_zeroed_value(void **state)
{
	struct tracker *t = new_tracker(16, 4);
	struct val *v;

	(void)state;
	v = tracker_insert(t, AF_INET, v4(1), 100);
	assert_int_equal(v->id, 0);
	assert_int_equal(v->extra, 0);
	v->id = 42;
	assert_ptr_equal(tracker_find(t, AF_INET, v4(1), 50), v);
	assert_null(tracker_find(t, AF_INET, v4(2), 50));
	assert_int_equal(stats(t).tracked, 1);
	assert_int_equal(stats(t).inserted, 1);
	tracker_free(t);
}

static void
test_tracker_families_are_distinct_keys(void **state)
{
	struct tracker *t = new_tracker(16, 4);
	uint8_t a6[16] = { 10, 0, 0, 1 };	/* same first bytes as 10.0.0.1 */
	struct val *v4v, *v6v;

	(void)state;
	v4v = tracker_insert(t, AF_INET, v4(1), 100);
	assert_null(tracker_find(t, AF_INET6, a6, 0));
	v6v = tracker_insert(t, AF_INET6, a6, 100);
	assert_ptr_not_equal(v4v, v6v);
	assert_ptr_equal(tracker_find(t, AF_INET, v4(1), 0), v4v);
	assert_ptr_equal(tracker_find(t, AF_INET6, a6, 0), v6v);
	tracker_free(t);
}

static void
test_tracker_ipv4_key_ignores_bytes_after_the_address(void **state)
{
	struct tracker *t = new_tracker(16, 4);
	uint8_t dirty[16];
	struct val *v;

	(void)state;
	v = tracker_insert(t, AF_INET, v4(7), 100);
	memcpy(dirty, v4(7), 16);
	memset(dirty + 4, 0xee, 12);
	assert_ptr_equal(tracker_find(t, AF_INET, dirty, 0), v);
	tracker_free(t);
}

static void
test_tracker_find_after_deadline_expires_entry(void **state)
{
	struct tracker *t = new_tracker(16, 4);

	(void)state;
	insert(t, 1, 100);
	assert_non_null(tracker_find(t, AF_INET, v4(1), 99));
	assert_null(tracker_find(t, AF_INET, v4(1), 100));
	assert_int_equal(stats(t).tracked, 0);
	assert_int_equal(stats(t).expired, 1);
	tracker_free(t);
}

static void
test_tracker_next_deadline_is_earliest(void **state)
{
	struct tracker *t = new_tracker(16, 4);

	(void)state;
	assert_true(tracker_next_deadline(t) == TRACKER_NO_DEADLINE);
	insert(t, 1, 300);
	insert(t, 2, 100);	/* out of order: insert must still sort */
	insert(t, 3, 200);
	assert_int_equal(tracker_next_deadline(t), 100);
	assert_int_equal(tracker_expire(t, 150), 1);
	assert_null(tracker_find(t, AF_INET, v4(2), 0));
	assert_int_equal(tracker_next_deadline(t), 200);
	assert_int_equal(tracker_expire(t, 300), 2);
	assert_true(tracker_next_deadline(t) == TRACKER_NO_DEADLINE);
	assert_int_equal(stats(t).expired, 3);
	assert_int_equal(stats(t).tracked, 0);
	tracker_free(t);
}

static void
test_tracker_expire_keeps_entries_not_yet_due(void **state)
{
	struct tracker *t = new_tracker(16, 4);
	uint32_t i;

	(void)state;
	for (i = 0; i < 10; i++)
		insert(t, i, 1000 + i * 10);
	assert_int_equal(tracker_expire(t, 1045), 5);
	for (i = 0; i < 10; i++) {
		if (i < 5)
			assert_null(tracker_find(t, AF_INET, v4(i), 0));
		else
			assert_non_null(tracker_find(t, AF_INET, v4(i), 0));
	}
	tracker_free(t);
}

static void
test_tracker_full_evicts_oldest_fresh(void **state)
{
	struct tracker *t = new_tracker(8, 2);
	uint32_t i;

	(void)state;
	for (i = 0; i < 8; i++)
		insert(t, i, 1000);
	insert(t, 8, 1000);
	assert_null(tracker_find(t, AF_INET, v4(0), 0));
	for (i = 1; i <= 8; i++)
		assert_non_null(tracker_find(t, AF_INET, v4(i), 0));
	assert_int_equal(stats(t).tracked, 8);
	assert_int_equal(stats(t).evicted_fresh, 1);
	assert_int_equal(stats(t).evicted_progress, 0);
	tracker_free(t);
}

static void
test_tracker_fresh_flood_never_evicts_progress(void **state)
{
	struct tracker *t = new_tracker(8, 2);
	struct val *v;
	uint32_t i;

	(void)state;
	v = insert(t, 1000, 1000000);
	tracker_promote(t, v);
	v = insert(t, 1001, 1000000);
	tracker_promote(t, v);
	for (i = 0; i < 10000; i++)
		insert(t, 100000 + i, 1000 + i);
	assert_non_null(tracker_find(t, AF_INET, v4(1000), 0));
	assert_non_null(tracker_find(t, AF_INET, v4(1001), 0));
	assert_int_equal(stats(t).tracked, 8);
	assert_int_equal(stats(t).progress, 2);
	assert_int_equal(stats(t).evicted_fresh, 10000 - 6);
	assert_int_equal(stats(t).evicted_progress, 0);
	tracker_free(t);
}

static void
test_tracker_full_progress_tier_evicts_oldest_progress(void **state)
{
	struct tracker *t = new_tracker(8, 2);
	struct val *a, *b, *c;

	(void)state;
	a = insert(t, 1, 1000);
	b = insert(t, 2, 1000);
	c = insert(t, 3, 1000);
	tracker_promote(t, b);		/* b promoted first: the oldest in its tier */
	tracker_promote(t, a);
	tracker_promote(t, a);		/* again: no-op */
	assert_int_equal(stats(t).progress, 2);
	tracker_promote(t, c);
	assert_null(tracker_find(t, AF_INET, v4(2), 0));
	assert_true(tracker_is_promoted(t, tracker_find(t, AF_INET, v4(1), 0)));
	assert_true(tracker_is_promoted(t, tracker_find(t, AF_INET, v4(3), 0)));
	assert_int_equal(stats(t).progress, 2);
	assert_int_equal(stats(t).evicted_progress, 1);
	tracker_free(t);
}

static void
test_tracker_remove_frees_a_slot(void **state)
{
	struct tracker *t = new_tracker(4, 1);
	uint32_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		insert(t, i, 1000);
	tracker_remove(t, tracker_find(t, AF_INET, v4(2), 0));
	assert_int_equal(stats(t).tracked, 3);
	insert(t, 9, 1000);
	assert_int_equal(stats(t).evicted_fresh, 0);
	for (i = 0; i < 4; i++)
		assert_true((tracker_find(t, AF_INET, v4(i), 0) == NULL) == (i == 2));
	tracker_free(t);
}

static void
test_tracker_fills_to_capacity_and_finds_everything(void **state)
{
	struct tracker *t = new_tracker(4096, 1024);
	struct val *v;
	uint32_t i;

	(void)state;
	for (i = 0; i < 4096; i++)
		insert(t, i * 7919, 5000);
	for (i = 0; i < 4096; i++) {
		v = tracker_find(t, AF_INET, v4(i * 7919), 0);
		assert_non_null(v);
		assert_int_equal(v->id, i * 7919);
	}
	assert_int_equal(stats(t).tracked, 4096);
	assert_int_equal(stats(t).evicted_fresh, 0);
	tracker_free(t);
}

static void
test_tracker_rejects_impossible_bounds(void **state)
{
	(void)state;
	errno = 0;
	assert_null(tracker_new(0, 1, 8, test_key));
	assert_int_equal(errno, EINVAL);
	assert_null(tracker_new(1, 1, 8, test_key));
	assert_null(tracker_new(8, 0, 8, test_key));
	assert_null(tracker_new(8, 8, 8, test_key));
	assert_null(tracker_new(TRACKER_CAPACITY_MAX + 1, 4, 8, test_key));
	assert_null(tracker_new(8, 2, 1U << 20, test_key));
}

static void
test_tracker_random_key_works(void **state)
{
	struct tracker *t = tracker_new(64, 16, sizeof(struct val), NULL);
	uint32_t i;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 64; i++)
		tracker_insert(t, AF_INET, v4(i), 100);
	for (i = 0; i < 64; i++)
		assert_non_null(tracker_find(t, AF_INET, v4(i), 0));
	tracker_free(t);
}

/* The inline SipHash is libsodium's: the same 64 bits for every length it takes. */
static void
test_tracker_shorthash_is_crypto_shorthash(void **state)
{
	uint8_t key[TRACKER_HASH_KEY_LEN], in[16];
	uint64_t want;
	size_t len;
	int round;

	(void)state;
	assert_true(sodium_init() >= 0);
	for (round = 0; round < 8; round++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(in, sizeof(in));
		for (len = 0; len <= sizeof(in); len++) {
			crypto_shorthash((unsigned char *)&want, in, len, key);
			assert_int_equal(tracker_shorthash(key, in, len), want);
		}
	}
}

static void
test_tracker_move_all_keeps_value_deadline_tier_and_counters(void **state)
{
	struct tracker *src = new_tracker(16, 4), *dst;
	uint8_t other_key[TRACKER_HASH_KEY_LEN] = { 99 };
	struct val *v;

	(void)state;
	dst = tracker_new(16, 4, sizeof(struct val), other_key);
	assert_non_null(dst);
	insert(src, 1, 100);
	v = insert(src, 2, 200);
	v->extra = 77;
	tracker_promote(src, v);
	insert(src, 3, 50);
	assert_int_equal(tracker_expire(src, 60), 1);

	assert_int_equal(tracker_move_all(dst, src), 0);
	assert_int_equal(stats(src).tracked, 0);
	assert_int_equal(stats(src).expired, 0);
	assert_int_equal(stats(dst).tracked, 2);
	assert_int_equal(stats(dst).progress, 1);
	assert_int_equal(stats(dst).inserted, 3);
	assert_int_equal(stats(dst).expired, 1);
	v = tracker_find(dst, AF_INET, v4(2), 0);
	assert_non_null(v);
	assert_int_equal(v->id, 2);
	assert_int_equal(v->extra, 77);
	assert_true(tracker_is_promoted(dst, v));
	assert_int_equal(tracker_next_deadline(dst), 100);
	assert_null(tracker_find(dst, AF_INET, v4(1), 100));
	tracker_free(src);
	tracker_free(dst);
}

static void
test_tracker_move_all_into_smaller_keeps_newest(void **state)
{
	struct tracker *src = new_tracker(64, 16), *dst = new_tracker(8, 2);
	uint32_t i;

	(void)state;
	for (i = 0; i < 32; i++)
		insert(src, i, 1000 + i);
	assert_int_equal(tracker_move_all(dst, src), 0);
	assert_int_equal(stats(dst).tracked, 8);
	assert_int_equal(stats(dst).evicted_fresh, 24);
	for (i = 0; i < 32; i++)
		assert_true((tracker_find(dst, AF_INET, v4(i), 0) != NULL) == (i >= 24));
	tracker_free(src);
	tracker_free(dst);
}

static void
test_tracker_move_all_refuses_other_value_size(void **state)
{
	struct tracker *src = new_tracker(8, 2), *dst;

	(void)state;
	dst = tracker_new(8, 2, sizeof(struct val) + 1, test_key);
	assert_non_null(dst);
	insert(src, 1, 100);
	errno = 0;
	assert_int_equal(tracker_move_all(dst, src), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stats(src).tracked, 1);
	tracker_free(src);
	tracker_free(dst);
}

/* A model of the tracker: per key its deadline (0: absent) and promotion order. */
#define MODEL_KEYS 60

struct model {
	uint64_t deadline[MODEL_KEYS];
	uint64_t promoted[MODEL_KEYS];	/* 0: fresh, else promotion sequence number */
	uint64_t seq;
};

static uint64_t
model_next(const struct model *m)
{
	uint64_t next = TRACKER_NO_DEADLINE;
	uint32_t i;

	for (i = 0; i < MODEL_KEYS; i++)
		if (m->deadline[i] != 0 && m->deadline[i] < next)
			next = m->deadline[i];
	return next;
}

static void
model_drop(struct model *m, uint32_t n)
{
	m->deadline[n] = 0;
	m->promoted[n] = 0;
}

static void
model_expire(struct model *m, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < MODEL_KEYS; i++)
		if (m->deadline[i] != 0 && m->deadline[i] <= now)
			model_drop(m, i);
}

/* Promote n; a full progress tier (max) loses its oldest promotion. */
static void
model_promote(struct model *m, uint32_t n, uint32_t max)
{
	uint32_t i, count = 0, oldest = MODEL_KEYS;

	if (m->promoted[n] != 0)
		return;
	for (i = 0; i < MODEL_KEYS; i++) {
		if (m->promoted[i] == 0)
			continue;
		count++;
		if (oldest == MODEL_KEYS || m->promoted[i] < m->promoted[oldest])
			oldest = i;
	}
	if (count >= max)
		model_drop(m, oldest);
	m->promoted[n] = ++m->seq;
}

/*
 * Random finds, inserts, promotions, removals and expiries against the
 * model. Fewer keys than capacity, so only the progress tier overflows: the
 * tracker must agree with the model at every step.
 */
static void
test_tracker_churn_agrees_with_model(void **state)
{
	struct tracker *t = new_tracker(64, 16);
	struct model m;
	uint64_t now;
	uint32_t n, live, progress, x = 12345;
	struct val *v;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (now = 1; now < 50000; now++) {
		x = x * 1103515245 + 12345;
		n = (x >> 16) % MODEL_KEYS;
		v = tracker_find(t, AF_INET, v4(n), now);
		if (m.deadline[n] != 0 && m.deadline[n] <= now)
			model_drop(&m, n);	/* find expired it */
		assert_true((v != NULL) == (m.deadline[n] != 0));
		if (v == NULL) {
			m.deadline[n] = now + 50 + (x >> 8) % 400;
			v = tracker_insert(t, AF_INET, v4(n), m.deadline[n]);
			v->id = n;
		} else if (x & 0x100) {
			assert_int_equal(v->id, n);
			tracker_promote(t, v);
			model_promote(&m, n, 16);
		} else if (x & 0x200) {
			tracker_remove(t, v);
			model_drop(&m, n);
		}
		if (now % 37 == 0) {
			tracker_expire(t, now);
			model_expire(&m, now);
		}
		for (live = progress = 0, n = 0; n < MODEL_KEYS; n++) {
			live += m.deadline[n] != 0;
			progress += m.promoted[n] != 0;
		}
		assert_int_equal(stats(t).tracked, live);
		assert_int_equal(stats(t).progress, progress);
		assert_true(tracker_next_deadline(t) == model_next(&m));
	}
	assert_int_equal(stats(t).evicted_fresh, 0);
	assert_true(stats(t).evicted_progress > 100);
	tracker_expire(t, now + 1000);
	assert_int_equal(stats(t).tracked, 0);
	assert_int_equal(stats(t).progress, 0);
	tracker_free(t);
}

/*
 * A refreshed entry keeps its value, dies at its new deadline and becomes
 * the newest of its tier: the next eviction takes another.
 */
static void
test_tracker_refresh_moves_deadline_and_spares_from_eviction(void **state)
{
	struct tracker *t = new_tracker(4, 1);
	struct val *v;

	(void)state;
	v = insert(t, 1, 100);
	insert(t, 2, 100);
	insert(t, 3, 100);
	insert(t, 4, 100);
	tracker_refresh(t, v, 500);
	assert_int_equal(tracker_next_deadline(t), 100);
	insert(t, 5, 600);		/* full: evicts the oldest fresh, 2 */
	assert_non_null(tracker_find(t, AF_INET, v4(1), 0));
	assert_null(tracker_find(t, AF_INET, v4(2), 0));
	assert_int_equal(((struct val *)tracker_find(t, AF_INET, v4(1), 0))->id, 1);
	assert_int_equal(tracker_expire(t, 100), 2);	/* 3 and 4 */
	assert_non_null(tracker_find(t, AF_INET, v4(1), 499));
	assert_null(tracker_find(t, AF_INET, v4(1), 500));
	assert_int_equal(stats(t).tracked, 1);
	tracker_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tracker_refresh_moves_deadline_and_spares_from_eviction),
		cmocka_unit_test(test_tracker_insert_then_find_returns_same_zeroed_value),
		cmocka_unit_test(test_tracker_families_are_distinct_keys),
		cmocka_unit_test(test_tracker_ipv4_key_ignores_bytes_after_the_address),
		cmocka_unit_test(test_tracker_find_after_deadline_expires_entry),
		cmocka_unit_test(test_tracker_next_deadline_is_earliest),
		cmocka_unit_test(test_tracker_expire_keeps_entries_not_yet_due),
		cmocka_unit_test(test_tracker_full_evicts_oldest_fresh),
		cmocka_unit_test(test_tracker_fresh_flood_never_evicts_progress),
		cmocka_unit_test(test_tracker_full_progress_tier_evicts_oldest_progress),
		cmocka_unit_test(test_tracker_remove_frees_a_slot),
		cmocka_unit_test(test_tracker_fills_to_capacity_and_finds_everything),
		cmocka_unit_test(test_tracker_rejects_impossible_bounds),
		cmocka_unit_test(test_tracker_random_key_works),
		cmocka_unit_test(test_tracker_shorthash_is_crypto_shorthash),
		cmocka_unit_test(test_tracker_move_all_keeps_value_deadline_tier_and_counters),
		cmocka_unit_test(test_tracker_move_all_into_smaller_keeps_newest),
		cmocka_unit_test(test_tracker_move_all_refuses_other_value_size),
		cmocka_unit_test(test_tracker_churn_agrees_with_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
