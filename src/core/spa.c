/*
 * Single-packet authorization: our packet format, the replay cache, and the
 * checks every format shares. See spa.h for the bytes and the order of the
 * checks, docs/spa.md for what they mean to a user.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "core/packet.h"
#include "core/spa.h"

_Static_assert(SPA_MAC_LEN == crypto_auth_hmacsha512256_BYTES, "MAC length");
_Static_assert(CONFIG_KEY_LEN == crypto_auth_hmacsha512256_KEYBYTES, "MAC key");

#define FAMILY_NONE	0
#define FAMILY_V4	4
#define FAMILY_V6	6
#define DIGEST_STORED	16	/* keyed BLAKE2b of a digest: what a slot keeps */

static const char *const reason_names[SPA_REASON_MAX] = {
	[SPA_OK] = "ok",
	[SPA_FRAGMENT] = "fragment",
	[SPA_CAPTURE_SHORT] = "capture-short",
	[SPA_BAD_SIZE] = "bad-size",
	[SPA_BAD_VERSION] = "bad-version",
	[SPA_MALFORMED] = "malformed",
	[SPA_TRUNCATED] = "truncated",
	[SPA_WRONG_TRIGGER] = "wrong-trigger",
	[SPA_BAD_MAC] = "bad-mac",
	[SPA_TOO_OLD] = "too-old",
	[SPA_FROM_FUTURE] = "from-future",
	[SPA_BEFORE_START] = "before-start",
	[SPA_ADDRESS_REFUSED] = "address-refused",
	[SPA_REPLAY] = "replay",
	[SPA_CACHE_FULL] = "replay-cache-full",
	[SPA_BAD_DECRYPT] = "bad-decrypt",
	[SPA_COMMAND_REFUSED] = "command-refused",
	[SPA_NAT_REFUSED] = "nat-refused",
	[SPA_PORT_NOT_OPEN] = "port-not-open",
};

const char *
spa_reason_name(enum spa_reason r)
{
	if ((unsigned)r >= SPA_REASON_MAX || reason_names[r] == NULL)
		return "unknown";
	return reason_names[r];
}

/* --- the format ------------------------------------------------------- */

static size_t
family_len(uint8_t f)
{
	return f == FAMILY_V4 ? 4 : f == FAMILY_V6 ? 16 : 0;
}

static bool
name_ok(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

enum spa_reason
spa_parse(const uint8_t *buf, size_t len, struct spa_msg *out)
{
	size_t n, alen, want, i;

	memset(out, 0, sizeof(*out));
	if (len < 4 || len > SPA_LEN_MAX)
		return SPA_BAD_SIZE;
	if (buf[0] != SPA_VERSION)
		return SPA_BAD_VERSION;
	n = buf[2];
	if ((buf[1] != FAMILY_NONE && buf[1] != FAMILY_V4 &&
	    buf[1] != FAMILY_V6) || n == 0 || n > CONFIG_NAME_MAX || buf[3] != 0)
		return SPA_MALFORMED;
	alen = family_len(buf[1]);
	want = SPA_HEAD_LEN + n + alen + SPA_MAC_LEN;
	if (len < want)
		return SPA_TRUNCATED;
	if (len > want)
		return SPA_BAD_SIZE;
	if (!name_ok(buf + SPA_HEAD_LEN, n))
		return SPA_MALFORMED;
	for (i = 0; i < 8; i++)
		out->ts_ms = out->ts_ms << 8 | buf[4 + i];
	memcpy(out->nonce, buf + 12, SPA_NONCE_LEN);
	memcpy(out->name, buf + SPA_HEAD_LEN, n);
	out->family = buf[1] == FAMILY_V4 ? AF_INET : buf[1] == FAMILY_V6 ?
	    AF_INET6 : 0;
	memcpy(out->addr, buf + SPA_HEAD_LEN + n, alen);
	memcpy(out->mac, buf + SPA_HEAD_LEN + n + alen, SPA_MAC_LEN);
	return SPA_OK;
}

static void
spa_mac(const uint8_t key[CONFIG_KEY_LEN], const uint8_t *buf, size_t len,
    uint8_t mac[SPA_MAC_LEN])
{
	crypto_auth_hmacsha512256_state st;

	crypto_auth_hmacsha512256_init(&st, key, CONFIG_KEY_LEN);
	/* The label with its NUL. */
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)SPA_LABEL,
	    sizeof(SPA_LABEL));
	crypto_auth_hmacsha512256_update(&st, buf, len);
	crypto_auth_hmacsha512256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

enum spa_reason
spa_verify(const uint8_t key[CONFIG_KEY_LEN], const char *name,
    const uint8_t *buf, size_t len, struct spa_msg *out)
{
	uint8_t mac[SPA_MAC_LEN];
	enum spa_reason r;
	int diff;

	if ((r = spa_parse(buf, len, out)) != SPA_OK)
		return r;
	if (strcmp(out->name, name) != 0)
		return SPA_WRONG_TRIGGER;
	spa_mac(key, buf, len - SPA_MAC_LEN, mac);
	diff = crypto_verify_32(mac, out->mac);
	sodium_memzero(mac, sizeof(mac));
	return diff == 0 ? SPA_OK : SPA_BAD_MAC;
}

size_t
spa_encode(const uint8_t key[CONFIG_KEY_LEN], const struct spa_msg *m,
    uint8_t out[SPA_LEN_MAX])
{
	size_t n = strnlen(m->name, sizeof(m->name)), alen, len, i;
	uint8_t f;

	f = m->family == AF_INET ? FAMILY_V4 : m->family == AF_INET6 ?
	    FAMILY_V6 : FAMILY_NONE;
	if (n == 0 || n > CONFIG_NAME_MAX || (m->family != 0 && f == FAMILY_NONE) ||
	    !name_ok((const uint8_t *)m->name, n))
		return 0;
	alen = family_len(f);
	out[0] = SPA_VERSION;
	out[1] = f;
	out[2] = (uint8_t)n;
	out[3] = 0;
	for (i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(m->ts_ms >> (56 - 8 * i));
	memcpy(out + 12, m->nonce, SPA_NONCE_LEN);
	memcpy(out + SPA_HEAD_LEN, m->name, n);
	memcpy(out + SPA_HEAD_LEN + n, m->addr, alen);
	len = SPA_HEAD_LEN + n + alen;
	spa_mac(key, out, len, out + len);
	return len + SPA_MAC_LEN;
}

/* --- the replay cache ------------------------------------------------- */

/*
 * Open addressing with linear probing over a power of two of at least
 * 2 * max slots. An expired slot stays occupied (probe chains run through
 * it) and is reused by the next insert that passes it; when max slots are
 * occupied, one sweep rebuilds the table from the live ones.
 */
struct replay_slot {
	uint64_t expires_ms;		/* 0: empty */
	uint8_t d[DIGEST_STORED];
};

struct spa_replay {
	struct replay_slot *slots;
	struct replay_slot *scratch;	/* max entries, for the sweep */
	uint32_t mask;
	uint32_t max;
	uint32_t used;			/* occupied slots, live or expired */
	uint8_t key[crypto_generichash_KEYBYTES_MIN];
};

struct spa_replay *
spa_replay_new(uint32_t max, const uint8_t *hash_key)
{
	struct spa_replay *rc;
	uint32_t size = 16;

	if (max == 0 || max > CONFIG_SPA_CACHE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (size < 2 * max)
		size <<= 1;
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return NULL;
	rc->slots = calloc(size, sizeof(*rc->slots));
	rc->scratch = calloc(max, sizeof(*rc->scratch));
	if (rc->slots == NULL || rc->scratch == NULL) {
		spa_replay_free(rc);
		errno = ENOMEM;
		return NULL;
	}
	rc->mask = size - 1;
	rc->max = max;
	if (hash_key != NULL)
		memcpy(rc->key, hash_key, sizeof(rc->key));
	else
		randombytes_buf(rc->key, sizeof(rc->key));
	return rc;
}

void
spa_replay_free(struct spa_replay *rc)
{
	if (rc == NULL)
		return;
	free(rc->slots);
	free(rc->scratch);
	free(rc);
}

static uint32_t
slot_index(const struct spa_replay *rc, const uint8_t d[DIGEST_STORED])
{
	uint32_t h;

	/* d is a keyed hash already: its bits are as good as any. */
	memcpy(&h, d, sizeof(h));
	return h & rc->mask;
}

/* Rebuild the table from the slots still live at now_ms. */
static void
replay_sweep(struct spa_replay *rc, uint64_t now_ms)
{
	uint32_t i, n = 0, j;

	for (i = 0; i <= rc->mask; i++)
		if (rc->slots[i].expires_ms > now_ms && n < rc->max)
			rc->scratch[n++] = rc->slots[i];
	memset(rc->slots, 0, ((size_t)rc->mask + 1) * sizeof(*rc->slots));
	for (i = 0; i < n; i++) {
		j = slot_index(rc, rc->scratch[i].d);
		while (rc->slots[j].expires_ms != 0)
			j = (j + 1) & rc->mask;
		rc->slots[j] = rc->scratch[i];
	}
	rc->used = n;
}

enum spa_reason
spa_replay_add(struct spa_replay *rc, const uint8_t *digest, size_t len,
    uint64_t expires_ms, uint64_t now_ms)
{
	struct replay_slot *s, *reuse = NULL;
	uint8_t d[DIGEST_STORED];
	uint32_t j, probes;

	crypto_generichash(d, sizeof(d), digest, len, rc->key, sizeof(rc->key));
	if (expires_ms == 0)
		expires_ms = 1;
	for (;;) {
		j = slot_index(rc, d);
		for (probes = 0; probes <= rc->mask; probes++) {
			s = &rc->slots[j];
			if (s->expires_ms == 0)
				break;
			if (s->expires_ms > now_ms) {
				if (sodium_memcmp(s->d, d, sizeof(d)) == 0)
					return SPA_REPLAY;
			} else if (reuse == NULL)
				reuse = s;
			j = (j + 1) & rc->mask;
		}
		if (reuse != NULL) {
			s = reuse;
			break;
		}
		if (rc->used < rc->max && s->expires_ms == 0) {
			rc->used++;
			break;
		}
		/* Full of occupied slots: make room from the expired ones once. */
		if (rc->used >= rc->max) {
			replay_sweep(rc, now_ms);
			if (rc->used >= rc->max)
				return SPA_CACHE_FULL;
			continue;
		}
		return SPA_CACHE_FULL;	/* not reached: size >= 2 * max */
	}
	memcpy(s->d, d, sizeof(d));
	s->expires_ms = expires_ms;
	return SPA_OK;
}

uint32_t
spa_replay_count(const struct spa_replay *rc)
{
	return rc->used;
}

/* --- the triggers ----------------------------------------------------- */

struct spa_trigger {
	const struct config_spa *cfg;
	struct spa_replay *replay;
	struct spa_counters counters;
};

struct spa_set {
	struct spa_trigger *triggers;
	int ntriggers;
	uint64_t start_ms;
};

struct spa_set *
spa_set_new(const struct config *cfg, uint64_t start_ms, const uint8_t *hash_key)
{
	struct spa_set *s;
	int i;

	if ((cfg->nspas > 0 && sodium_init() < 0) || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->start_ms = start_ms;
	if (cfg->nspas > 0 && (s->triggers = calloc((size_t)cfg->nspas,
	    sizeof(*s->triggers))) == NULL) {
		free(s);
		return NULL;
	}
	for (i = 0; i < cfg->nspas; i++) {
		s->triggers[i].cfg = &cfg->spas[i];
		s->triggers[i].replay = spa_replay_new(cfg->spas[i].replay_cache,
		    hash_key);
		s->ntriggers++;
		if (s->triggers[i].replay == NULL) {
			spa_set_free(s);
			return NULL;
		}
	}
	return s;
}

void
spa_set_free(struct spa_set *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ntriggers; i++)
		spa_replay_free(s->triggers[i].replay);
	free(s->triggers);
	free(s);
}

static struct spa_trigger *
set_trigger_of(struct spa_set *s, const struct config_spa *t)
{
	int i;

	for (i = 0; i < s->ntriggers; i++)
		if (s->triggers[i].cfg == t)
			return &s->triggers[i];
	return NULL;
}

const struct config_spa *
spa_set_find(const struct spa_set *s, const struct pkt *p)
{
	int i;

	/* Later fragments carry no ports; netfilter reassembles before input. */
	if (s == NULL || !(p->flags & PKT_F_PORTS) || p->proto != IPPROTO_UDP)
		return NULL;
	for (i = 0; i < s->ntriggers; i++)
		if (s->triggers[i].cfg->port.port == p->dport &&
		    s->triggers[i].cfg->port.proto == p->proto)
			return s->triggers[i].cfg;
	return NULL;
}

static void
result_init(struct spa_result *out, const struct config_spa *t,
    const struct pkt *p)
{
	memset(out, 0, sizeof(*out));
	out->mine = true;
	out->trigger = t;
	out->family = p->family;
	memcpy(out->addr, p->src, sizeof(out->addr));
}

static void
trigger_fail(struct spa_trigger *st, enum spa_reason r, struct spa_result *out)
{
	out->reason = r;
	if (r == SPA_REPLAY)
		st->counters.replays++;
	else if (r == SPA_CACHE_FULL)
		st->counters.cache_full++;
	else
		st->counters.failed++;
}

static bool
addr_equal(int fa, const uint8_t *a, int fb, const uint8_t *b)
{
	return fa == fb && memcmp(a, b, fa == AF_INET ? 4 : 16) == 0;
}

/* Age, then the address, then the cache: each packet is cached once valid. */
static enum spa_reason
trigger_admit(const struct spa_set *s, struct spa_trigger *st,
    const struct pkt *p, const struct spa_request *rq, uint64_t now_ms,
    struct spa_result *out)
{
	const struct config_spa *t = st->cfg;

	if (rq->ts_ms > now_ms + SPA_SKEW_MS)
		return SPA_FROM_FUTURE;
	if (rq->ts_ms + t->max_age_ms < now_ms)
		return SPA_TOO_OLD;
	/* A replay cache lost on restart must not let an old packet open. */
	if (rq->ts_ms < s->start_ms)
		return SPA_BEFORE_START;
	if (rq->family == 0) {
		out->open_family = p->family;
		memcpy(out->open_addr, p->src, sizeof(out->open_addr));
	} else {
		if (!t->allow_address && !addr_equal(rq->family, rq->addr,
		    p->family, p->src))
			return SPA_ADDRESS_REFUSED;
		out->open_family = rq->family;
		memset(out->open_addr, 0, sizeof(out->open_addr));
		memcpy(out->open_addr, rq->addr, rq->family == AF_INET ? 4 : 16);
	}
	/* Kept while the packet could pass the age check: ts + max_age. */
	return spa_replay_add(st->replay, rq->digest, rq->digest_len,
	    rq->ts_ms + t->max_age_ms + 1, now_ms);
}

void
spa_set_admit(struct spa_set *s, const struct config_spa *t,
    const struct pkt *p, const struct spa_request *rq, uint64_t now_ms,
    struct spa_result *out)
{
	struct spa_trigger *st = set_trigger_of(s, t);
	enum spa_reason r;

	result_init(out, t, p);
	if (st == NULL) {
		out->reason = SPA_WRONG_TRIGGER;
		return;
	}
	if ((r = trigger_admit(s, st, p, rq, now_ms, out)) != SPA_OK) {
		out->open_family = 0;
		trigger_fail(st, r, out);
		return;
	}
	out->reason = SPA_OK;
	st->counters.opened++;
}

void
spa_set_refuse(struct spa_set *s, const struct config_spa *t,
    const struct pkt *p, enum spa_reason r, struct spa_result *out)
{
	struct spa_trigger *st = set_trigger_of(s, t);

	result_init(out, t, p);
	out->reason = r;
	if (st != NULL)
		trigger_fail(st, r, out);
}

/* The datagram must be whole: a short capture or a fragment is refused. */
static enum spa_reason
capture_check(const struct pkt *p)
{
	if (p->flags & PKT_F_FRAGMENT)
		return SPA_FRAGMENT;
	if ((p->flags & PKT_F_L4_TRUNC) || (!(p->flags & PKT_F_LEN_UNKNOWN) &&
	    (size_t)p->payload_offset + p->payload_len < p->ip_len))
		return SPA_CAPTURE_SHORT;
	return SPA_OK;
}

void
spa_set_packet(struct spa_set *s, const struct pkt *p, const uint8_t *buf,
    uint64_t now_ms, struct spa_result *out)
{
	const struct config_spa *t = spa_set_find(s, p);
	struct spa_trigger *st;
	struct spa_request rq;
	struct spa_msg m;
	enum spa_reason r;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return;
	st = set_trigger_of(s, t);
	st->counters.packets++;
	result_init(out, t, p);
	if ((r = capture_check(p)) != SPA_OK) {
		trigger_fail(st, r, out);
		return;
	}
	if (t->format != CONFIG_SPA_NATIVE)
		return;			/* the caller's adapter decodes it */
	r = spa_verify(t->key, t->name, buf + p->payload_offset, p->payload_len,
	    &m);
	if (r != SPA_OK) {
		trigger_fail(st, r, out);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.ts_ms = m.ts_ms;
	memcpy(rq.digest, m.mac, SPA_MAC_LEN);
	rq.digest_len = SPA_MAC_LEN;
	rq.family = m.family;
	memcpy(rq.addr, m.addr, sizeof(rq.addr));
	spa_set_admit(s, t, p, &rq, now_ms, out);
}

int
spa_set_count(const struct spa_set *s)
{
	return s->ntriggers;
}

const struct config_spa *
spa_set_trigger(const struct spa_set *s, int i)
{
	return s->triggers[i].cfg;
}

void
spa_set_counters(const struct spa_set *s, int i, struct spa_counters *out)
{
	*out = s->triggers[i].counters;
	out->cached = spa_replay_count(s->triggers[i].replay);
}
