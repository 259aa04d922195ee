/*
 * Tracker: a fixed array of entries, hash buckets of entry indices, and
 * three intrusive doubly linked lists over the same entries:
 *
 *   age          every entry, ordered by deadline: expiry takes the head;
 *   tiers[FRESH] fresh entries, oldest first: a full tracker evicts its head;
 *   tiers[PROGRESS] promoted entries, oldest promotion first.
 *
 * Links are 32-bit indices rather than pointers: half the size, and the
 * capacity is bounded by TRACKER_CAPACITY_MAX anyway. Index 0 is never an
 * entry, so NIL is 0 and zeroed memory (pages_alloc) is already a set of
 * empty buckets and unlinked entries: nothing is written at start, and the
 * pages of both arrays cost memory only once a source has used them. Entries
 * are handed out from a high-water mark, released ones are chained through
 * hnext on a free list.
 */
#include <sys/socket.h>

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/pages.h"
#include "core/tracker.h"
#include "core/tracker_test.h"

_Static_assert(TRACKER_HASH_KEY_LEN == crypto_shorthash_KEYBYTES,
    "TRACKER_HASH_KEY_LEN must match libsodium's key size");

#define NIL		0
#define VALUE_SIZE_MAX	4096	/* keeps capacity * stride far from overflow */

enum tier { TIER_FRESH = 0, TIER_PROGRESS = 1 };
enum which { LINK_AGE, LINK_TIER };

struct link {
	uint32_t prev;
	uint32_t next;
};

struct list {
	uint32_t head;
	uint32_t tail;
	uint32_t count;
};

struct entry {
	uint32_t hnext;			/* bucket chain, or the free list */
	struct link age;
	struct link tier;
	uint8_t family;
	uint8_t tier_id;		/* enum tier */
	uint8_t addr[16];		/* IPv4 in the first 4 bytes, rest zero */
	uint64_t deadline_ms;
	uint64_t value[];		/* the caller's value_size bytes */
};

struct tracker {
	unsigned char *mem;		/* 1 + capacity entries of stride bytes */
	size_t stride;
	size_t value_size;
	uint32_t capacity;
	uint32_t progress_max;
	uint32_t *buckets;		/* heads of chains, NIL when empty */
	uint32_t bucket_mask;
	uint32_t used;			/* high-water mark: entries 1..used were handed out */
	uint32_t free_head;		/* released entries */
	struct list age;
	struct list tiers[2];
	struct tracker_stats stats;	/* cumulative counters only */
	uint8_t key[TRACKER_HASH_KEY_LEN];
	uint64_t kw[2];			/* the key as SipHash's two words */
};

static struct entry *
entry_at(const struct tracker *t, uint32_t i)
{
	return (struct entry *)(void *)(t->mem + (size_t)i * t->stride);
}

static uint32_t
entry_index(const struct tracker *t, const void *value)
{
	const unsigned char *e;

	e = (const unsigned char *)value - offsetof(struct entry, value);
	return (uint32_t)((size_t)(e - t->mem) / t->stride);
}

static struct link *
entry_link(struct entry *e, enum which w)
{
	return w == LINK_AGE ? &e->age : &e->tier;
}

/* Put entry i into l after entry `after` (NIL: at the head). */
static void
list_insert_after(struct tracker *t, struct list *l, enum which w,
    uint32_t after, uint32_t i)
{
	struct link *lk = entry_link(entry_at(t, i), w);

	lk->prev = after;
	lk->next = after == NIL ? l->head : entry_link(entry_at(t, after), w)->next;
	if (after == NIL)
		l->head = i;
	else
		entry_link(entry_at(t, after), w)->next = i;
	if (lk->next == NIL)
		l->tail = i;
	else
		entry_link(entry_at(t, lk->next), w)->prev = i;
	l->count++;
}

static void
list_unlink(struct tracker *t, struct list *l, enum which w, uint32_t i)
{
	struct link *lk = entry_link(entry_at(t, i), w);

	if (lk->prev == NIL)
		l->head = lk->next;
	else
		entry_link(entry_at(t, lk->prev), w)->next = lk->next;
	if (lk->next == NIL)
		l->tail = lk->prev;
	else
		entry_link(entry_at(t, lk->next), w)->prev = lk->prev;
	lk->prev = lk->next = NIL;
	l->count--;
}

/* IPv4 keys use 4 bytes: whatever follows them in the caller's buffer is not the key. */
static void
key_addr(int family, const uint8_t *addr, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, addr, family == AF_INET ? 4 : 16);
}

static uint64_t
le64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return le64toh(v);
}

#define SIP_IN_MAX	24
#define ROTL64(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);	\
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);	\
} while (0)

/*
 * SipHash-2-4 (Aumasson and Bernstein), the function of libsodium's
 * crypto_shorthash, with the same output, inline and keyed by the two
 * words of the key: it runs for every packet of a tracked source, and the
 * call into the library cost half again as much as the rounds. in holds
 * len < SIP_IN_MAX - 7 bytes and zeros after them, so every word is one
 * load.
 */
static uint64_t
siphash24(const uint64_t k[2], const uint8_t in[SIP_IN_MAX], size_t len)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ULL, v1 = k[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ULL, v3 = k[1] ^ 0x7465646279746573ULL;
	uint64_t m;
	size_t off;

	for (off = 0; off + 8 <= len; off += 8) {
		m = le64(in + off);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	m = le64(in + off) | (uint64_t)len << 56;	/* zero padded */
	v3 ^= m;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
tracker_shorthash(const uint8_t key[TRACKER_HASH_KEY_LEN], const uint8_t *in,
    size_t len)
{
	uint8_t buf[SIP_IN_MAX] = { 0 };
	uint64_t kw[2] = { le64(key), le64(key + 8) };

	if (len > 16)
		len = 16;
	memcpy(buf, in, len);
	return siphash24(kw, buf, len);
}

static uint32_t
bucket_of(const struct tracker *t, uint8_t family, const uint8_t addr[16])
{
	uint8_t in[SIP_IN_MAX] = { 0 };

	/*
	 * Only the bytes of the key: 5 for IPv4 are one SipHash block where
	 * 17 are three (an IPv4 address is zero after its 4 bytes).
	 */
	in[0] = family;
	memcpy(in + 1, addr, 16);
	return (uint32_t)(siphash24(t->kw, in, family == AF_INET ? 5 : 17) &
	    t->bucket_mask);
}

static uint32_t
lookup(const struct tracker *t, uint8_t family, const uint8_t addr[16])
{
	uint32_t i;
	const struct entry *e;

	for (i = t->buckets[bucket_of(t, family, addr)]; i != NIL; i = e->hnext) {
		e = entry_at(t, i);
		if (e->family == family && memcmp(e->addr, addr, 16) == 0)
			return i;
	}
	return NIL;
}

static void
bucket_unlink(struct tracker *t, uint32_t i)
{
	struct entry *e = entry_at(t, i);
	uint32_t *pp = &t->buckets[bucket_of(t, e->family, e->addr)];

	while (*pp != i)
		pp = &entry_at(t, *pp)->hnext;
	*pp = e->hnext;
}

static void
entry_release(struct tracker *t, uint32_t i)
{
	struct entry *e = entry_at(t, i);

	bucket_unlink(t, i);
	list_unlink(t, &t->age, LINK_AGE, i);
	list_unlink(t, &t->tiers[e->tier_id], LINK_TIER, i);
	e->hnext = t->free_head;
	t->free_head = i;
}

static void
evict_oldest(struct tracker *t, enum tier tier)
{
	/* An empty fresh tier in a full tracker breaks progress_max < capacity. */
	if (t->tiers[tier].head == NIL)
		tier = tier == TIER_FRESH ? TIER_PROGRESS : TIER_FRESH;
	if (tier == TIER_FRESH)
		t->stats.evicted_fresh++;
	else
		t->stats.evicted_progress++;
	entry_release(t, t->tiers[tier].head);
}

/* A fresh entry with a normalised address; the caller checked it is new. */
static struct entry *
entry_new(struct tracker *t, uint8_t family, const uint8_t addr[16],
    uint64_t deadline_ms)
{
	struct entry *e;
	uint32_t i, after, b;

	if (t->free_head == NIL && t->used < t->capacity)
		i = ++t->used;
	else {
		if (t->free_head == NIL)
			evict_oldest(t, TIER_FRESH);
		i = t->free_head;
		t->free_head = entry_at(t, i)->hnext;
	}
	e = entry_at(t, i);

	e->family = family;
	memcpy(e->addr, addr, 16);
	e->deadline_ms = deadline_ms;
	e->tier_id = TIER_FRESH;
	memset(e->value, 0, t->value_size);
	b = bucket_of(t, family, addr);
	e->hnext = t->buckets[b];
	t->buckets[b] = i;

	/* One window per tracker: the walk stops at once, the tail is older. */
	after = t->age.tail;
	while (after != NIL && entry_at(t, after)->deadline_ms > deadline_ms)
		after = entry_at(t, after)->age.prev;
	list_insert_after(t, &t->age, LINK_AGE, after, i);
	list_insert_after(t, &t->tiers[TIER_FRESH], LINK_TIER,
	    t->tiers[TIER_FRESH].tail, i);
	return e;
}

static size_t
buckets_size(const struct tracker *t)
{
	return ((size_t)t->bucket_mask + 1) * sizeof(*t->buckets);
}

static size_t
mem_size(const struct tracker *t)
{
	return ((size_t)t->capacity + 1) * t->stride;
}

static int
tracker_init(struct tracker *t, const uint8_t *hash_key)
{
	uint32_t nbuckets = 1;

	while (nbuckets < t->capacity)
		nbuckets <<= 1;
	t->bucket_mask = nbuckets - 1;
	/* Zeroed memory is NIL everywhere: empty buckets, unlinked entries. */
	if ((t->buckets = pages_alloc(buckets_size(t))) == NULL ||
	    (t->mem = pages_alloc(mem_size(t))) == NULL)
		return -1;
	if (hash_key != NULL)
		memcpy(t->key, hash_key, sizeof(t->key));
	else if (sodium_init() < 0) {
		errno = EIO;
		return -1;
	} else
		randombytes_buf(t->key, sizeof(t->key));
	t->kw[0] = le64(t->key);
	t->kw[1] = le64(t->key + 8);
	return 0;
}

struct tracker *
tracker_new(uint32_t capacity, uint32_t progress_max, size_t value_size,
    const uint8_t *hash_key)
{
	struct tracker *t;
	size_t align = sizeof(uint64_t);

	if (capacity > TRACKER_CAPACITY_MAX || progress_max < 1 ||
	    progress_max >= capacity || value_size > VALUE_SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->capacity = capacity;
	t->progress_max = progress_max;
	t->value_size = value_size;
	t->stride = sizeof(struct entry) + (value_size + align - 1) / align * align;
	if (tracker_init(t, hash_key) < 0) {
		int saved = errno;

		tracker_free(t);
		errno = saved;
		return NULL;
	}
	return t;
}

void
tracker_free(struct tracker *t)
{
	if (t == NULL)
		return;
	sodium_memzero(t->key, sizeof(t->key));
	sodium_memzero(t->kw, sizeof(t->kw));
	pages_free(t->buckets, buckets_size(t));
	pages_free(t->mem, mem_size(t));
	free(t);
}

void *
tracker_find(struct tracker *t, int family, const uint8_t *addr,
    uint64_t now_ms)
{
	uint8_t a[16];
	uint32_t i;
	struct entry *e;

	key_addr(family, addr, a);
	if ((i = lookup(t, (uint8_t)family, a)) == NIL)
		return NULL;
	e = entry_at(t, i);
	if (e->deadline_ms <= now_ms) {
		entry_release(t, i);
		t->stats.expired++;
		return NULL;
	}
	return e->value;
}

void *
tracker_insert(struct tracker *t, int family, const uint8_t *addr,
    uint64_t deadline_ms)
{
	uint8_t a[16];

	key_addr(family, addr, a);
	t->stats.inserted++;
	return entry_new(t, (uint8_t)family, a, deadline_ms)->value;
}

void
tracker_refresh(struct tracker *t, void *value, uint64_t deadline_ms)
{
	uint32_t i = entry_index(t, value), after;
	struct entry *e = entry_at(t, i);
	struct list *tier = &t->tiers[e->tier_id];

	e->deadline_ms = deadline_ms;
	list_unlink(t, &t->age, LINK_AGE, i);
	after = t->age.tail;
	while (after != NIL && entry_at(t, after)->deadline_ms > deadline_ms)
		after = entry_at(t, after)->age.prev;
	list_insert_after(t, &t->age, LINK_AGE, after, i);
	if (tier->tail != i) {
		list_unlink(t, tier, LINK_TIER, i);
		list_insert_after(t, tier, LINK_TIER, tier->tail, i);
	}
}

void
tracker_promote(struct tracker *t, void *value)
{
	uint32_t i = entry_index(t, value);
	struct entry *e = entry_at(t, i);
	struct list *progress = &t->tiers[TIER_PROGRESS];

	if (e->tier_id == TIER_PROGRESS)
		return;
	if (progress->count >= t->progress_max)
		evict_oldest(t, TIER_PROGRESS);
	list_unlink(t, &t->tiers[TIER_FRESH], LINK_TIER, i);
	e->tier_id = TIER_PROGRESS;
	list_insert_after(t, progress, LINK_TIER, progress->tail, i);
}

void
tracker_remove(struct tracker *t, void *value)
{
	entry_release(t, entry_index(t, value));
}

int
tracker_is_promoted(const struct tracker *t, const void *value)
{
	return entry_at(t, entry_index(t, value))->tier_id == TIER_PROGRESS;
}

uint64_t
tracker_next_deadline(const struct tracker *t)
{
	if (t->age.head == NIL)
		return TRACKER_NO_DEADLINE;
	return entry_at(t, t->age.head)->deadline_ms;
}

uint32_t
tracker_expire_each(struct tracker *t, uint64_t now_ms, tracker_expired_fn fn,
    void *arg)
{
	struct entry *e;
	uint32_t n = 0;

	while (t->age.head != NIL &&
	    (e = entry_at(t, t->age.head))->deadline_ms <= now_ms) {
		if (fn != NULL)
			fn(arg, e->family, e->addr, e->value);
		entry_release(t, t->age.head);
		t->stats.expired++;
		n++;
	}
	return n;
}

uint32_t
tracker_expire(struct tracker *t, uint64_t now_ms)
{
	return tracker_expire_each(t, now_ms, NULL, NULL);
}

int
tracker_move_all(struct tracker *dst, struct tracker *src)
{
	struct entry *from, *to;
	uint32_t i;

	if (dst->value_size != src->value_size) {
		errno = EINVAL;
		return -1;
	}
	/* Oldest first: a smaller dst evicts the ones closest to their end. */
	while ((i = src->age.head) != NIL) {
		from = entry_at(src, i);
		if (lookup(dst, from->family, from->addr) == NIL) {
			to = entry_new(dst, from->family, from->addr,
			    from->deadline_ms);
			memcpy(to->value, from->value, src->value_size);
			if (from->tier_id == TIER_PROGRESS)
				tracker_promote(dst, to->value);
		}
		entry_release(src, i);
	}
	dst->stats.inserted += src->stats.inserted;
	dst->stats.evicted_fresh += src->stats.evicted_fresh;
	dst->stats.evicted_progress += src->stats.evicted_progress;
	dst->stats.expired += src->stats.expired;
	memset(&src->stats, 0, sizeof(src->stats));
	return 0;
}

void
tracker_get_stats(const struct tracker *t, struct tracker_stats *out)
{
	*out = t->stats;
	out->tracked = t->age.count;
	out->progress = t->tiers[TIER_PROGRESS].count;
}
