/*
 * Tracker: bounded per-source state keyed by (family, address).
 *
 * Every entry holds a fixed-size value owned by the caller and a deadline.
 * All memory is allocated by tracker_new(); inserting never allocates, it
 * evicts. Entries live in one of two tiers (docs/design.md, decision 8):
 *
 *   fresh     where tracker_insert() puts an entry (a first knock frame);
 *   progress  where tracker_promote() moves it (the source proved more).
 *
 * The progress tier holds at most progress_max entries; the fresh tier gets
 * the rest of the capacity. A full tracker evicts the oldest fresh entry
 * for an insert, never a progress entry, so a flood of inserts cannot push
 * out a source that has been promoted. A promotion into a full progress
 * tier evicts the oldest progress entry.
 *
 * Buckets are chosen by SipHash-2-4 (libsodium's crypto_shorthash) under a
 * key that is random per tracker, so nobody can aim collisions at a bucket.
 * Lookup, insert, promote, evict and expire are O(1) (expire per entry):
 * insert appends to a list ordered by deadline, which stays ordered without
 * a search as long as deadlines come in non-decreasing order, as they do for
 * one window per tracker and a monotonic clock.
 *
 * Pure: no I/O; time is an argument (milliseconds, CLOCK_MONOTONIC).
 */
#ifndef NFQT_TRACKER_H
#define NFQT_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#define TRACKER_HASH_KEY_LEN	16	/* crypto_shorthash_KEYBYTES */
#define TRACKER_NO_DEADLINE	UINT64_MAX
#define TRACKER_CAPACITY_MAX	(1U << 24)

struct tracker;

struct tracker_stats {
	uint32_t tracked;		/* entries now, both tiers */
	uint32_t progress;		/* of which in the progress tier */
	uint64_t inserted;		/* entries ever inserted */
	uint64_t evicted_fresh;		/* pushed out of a full tracker */
	uint64_t evicted_progress;	/* pushed out of a full progress tier */
	uint64_t expired;		/* reached their deadline */
};

/*
 * capacity entries in all, at most progress_max of them promoted
 * (1 <= progress_max < capacity <= TRACKER_CAPACITY_MAX), each with
 * value_size bytes for the caller (zeroed on insert, aligned for uint64_t
 * and pointers). Memory is allocated here, once, and touched only as
 * sources arrive. hash_key is TRACKER_HASH_KEY_LEN bytes (the engine's
 * from getrandom, a test's fixed), or NULL for one from libsodium's
 * randombytes. NULL with errno set (EINVAL, ENOMEM, EIO) on failure.
 */
struct tracker *tracker_new(uint32_t capacity, uint32_t progress_max,
    size_t value_size, const uint8_t *hash_key);
void tracker_free(struct tracker *t);

/*
 * The tracker's SipHash-2-4 of len <= 16 bytes under key: crypto_shorthash's
 * output, without libsodium initialised (for other tables of sources).
 */
uint64_t tracker_shorthash(const uint8_t key[TRACKER_HASH_KEY_LEN],
    const uint8_t *in, size_t len);

/*
 * The value of a live entry, or NULL. An entry whose deadline is <= now_ms
 * is dead: it is removed (counted as expired) and NULL is returned.
 */
void *tracker_find(struct tracker *t, int family, const uint8_t *addr,
    uint64_t now_ms);

/*
 * A new entry in the fresh tier for a source that has none (call
 * tracker_find() first), dying at deadline_ms. Evicts the oldest fresh
 * entry when the tracker is full. Never fails.
 */
void *tracker_insert(struct tracker *t, int family, const uint8_t *addr,
    uint64_t deadline_ms);

/*
 * A live entry used again: it now dies at deadline_ms and is the newest of
 * its tier, the last its tier evicts. Its key is not hashed again, so this
 * is what a per-packet refresh calls rather than remove and insert.
 */
void tracker_refresh(struct tracker *t, void *value, uint64_t deadline_ms);

/* Move an entry to the progress tier (a no-op if it is there already). */
void tracker_promote(struct tracker *t, void *value);

/* Drop an entry (its work is done). */
void tracker_remove(struct tracker *t, void *value);

/* Earliest deadline of any entry; TRACKER_NO_DEADLINE when empty. */
uint64_t tracker_next_deadline(const struct tracker *t);

/* Remove every entry whose deadline is <= now_ms; returns how many. */
uint32_t tracker_expire(struct tracker *t, uint64_t now_ms);

/* The same, calling fn on each entry (its value still there) before it goes. */
typedef void (*tracker_expired_fn)(void *arg, int family, const uint8_t *addr,
    void *value);
uint32_t tracker_expire_each(struct tracker *t, uint64_t now_ms,
    tracker_expired_fn fn, void *arg);

/*
 * Move every entry of src into dst, oldest first, keeping its deadline,
 * value and tier; dst evicts by its own bounds if it is smaller. src's
 * cumulative counters are added to dst's, and src is left empty. -1 with
 * errno EINVAL (nothing moved) when the value sizes differ.
 */
int tracker_move_all(struct tracker *dst, struct tracker *src);

void tracker_get_stats(const struct tracker *t, struct tracker_stats *out);

#endif
