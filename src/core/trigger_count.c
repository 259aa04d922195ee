/*
 * Count triggers: every-N counting and, for path = engine, per-source
 * token buckets (trigger_count.h). The bucket holds `credit` in units of
 * a millisecond times the threshold: each millisecond adds threshold
 * units, each packet costs period_ms units, and a full bucket holds
 * threshold * period_ms, so integers are exact and no division is needed.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/match.h"
#include "core/packet.h"
#include "core/tracker.h"
#include "core/trigger_count.h"
#include "core/trigger_count_test.h"

/* A tracked source of an engine-path trigger. */
struct count_source {
	uint64_t credit;		/* ms * threshold; a packet costs period_ms */
	uint64_t last_ms;		/* when credit was last brought up to date */
	uint64_t blocked_until;		/* its packets that still reach us are dropped */
};

struct count_trigger {
	const struct config_count *cfg;
	uint64_t seen;			/* every: matching packets since the last hook */
	struct tracker *sources;	/* threshold, engine path */
	struct count_counters c;	/* .tracker is filled on request */
};

struct count_set {
	struct count_trigger *t;
	int n;
	struct match_index *index;	/* the queue-fed triggers, bit i for t[i] */
	bool uses_ifs[2];		/* enum match_if: some queue-fed match names one */
};

_Static_assert(CONFIG_TRIGGERS_MAX <= MATCH_INDEX_BITS,
    "every count trigger has a bit in the index");

static bool
engine_counts_threshold(const struct config_count *c)
{
	return c->kind == CONFIG_COUNT_THRESHOLD && c->path == CONFIG_PATH_ENGINE;
}

/* Packets of this trigger reach the engine through the queue. */
static bool
queue_fed(const struct config_count *c)
{
	if (c->kind == CONFIG_COUNT_EVERY)
		return c->source == CONFIG_SOURCE_QUEUE;
	return engine_counts_threshold(c);
}

struct count_set *
count_set_new(const struct config *cfg, const uint8_t *hash_key, char *why,
    size_t whylen)
{
	uint32_t capacity = cfg->engine.max_sources;
	struct count_trigger *t;
	struct count_set *cs;
	int i;

	if (cfg->ncounts < 0 || cfg->ncounts > CONFIG_TRIGGERS_MAX ||
	    capacity < COUNT_PROGRESS_SHARE || capacity > TRACKER_CAPACITY_MAX) {
		snprintf(why, whylen, "count: %d triggers, max_sources %u: out "
		    "of range", cfg->ncounts, capacity);
		return NULL;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL || (cfg->ncounts > 0 &&
	    (cs->t = calloc((size_t)cfg->ncounts, sizeof(*cs->t))) == NULL) ||
	    (cs->index = match_index_new()) == NULL) {
		snprintf(why, whylen, "count: set of %d triggers: out of memory",
		    cfg->ncounts);
		count_set_free(cs);
		return NULL;
	}
	for (i = 0; i < cfg->ncounts; i++) {
		t = &cs->t[cs->n];
		t->cfg = &cfg->counts[i];
		if (engine_counts_threshold(t->cfg) && (t->sources = tracker_new(
		    capacity, capacity / COUNT_PROGRESS_SHARE,
		    sizeof(struct count_source), hash_key)) == NULL) {
			snprintf(why, whylen, "count %s: tracker of %u sources: "
			    "out of memory", t->cfg->name, capacity);
			count_set_free(cs);
			return NULL;
		}
		if (queue_fed(t->cfg)) {
			match_index_add(cs->index, &t->cfg->match, cs->n);
			cs->uses_ifs[MATCH_IIF] |= match_uses_ifs(&t->cfg->match, MATCH_IIF);
			cs->uses_ifs[MATCH_OIF] |= match_uses_ifs(&t->cfg->match, MATCH_OIF);
		}
		cs->n++;
	}
	return cs;
}

void
count_set_free(struct count_set *cs)
{
	int i;

	if (cs == NULL)
		return;
	for (i = 0; i < cs->n; i++)
		tracker_free(cs->t[i].sources);
	match_index_free(cs->index);
	free(cs->t);
	free(cs);
}

bool
count_set_uses_ifs(const struct count_set *cs, enum match_if which)
{
	return cs->uses_ifs[which];
}

bool
count_allowed(const struct config_count *c, int family, const uint8_t *addr)
{
	int i;

	for (i = 0; i < c->nallow; i++)
		if (c->allow[i].family == family &&
		    match_prefix_has(&c->allow[i].p, addr))
			return true;
	return false;
}

static void
result_init(struct count_result *out, const struct pkt *p)
{
	/* Not memset: fired[] is a few kB and every packet comes here. */
	out->nfired = 0;
	out->verdict = COUNT_PASS;
	out->family = p->family;
	memcpy(out->addr, p->src, sizeof(out->addr));
	out->proto = p->proto;
	out->dport = (p->flags & PKT_F_PORTS) ? p->dport : 0;
}

static void
fired_add(struct count_result *out, const struct config_count *c, bool block,
    bool hook)
{
	struct count_fired *f;

	if (out->nfired == CONFIG_TRIGGERS_MAX)
		return;			/* one per trigger: cannot happen */
	f = &out->fired[out->nfired++];
	f->trigger = c;
	f->block = block;
	f->hook = hook;
	f->nth = 0;
}

/* The trigger asks for its exec: counted, and numbered for the caller. */
static void
fired_hook(struct count_trigger *t, struct count_result *out, bool block)
{
	bool hook = t->cfg->exec.argv != NULL;

	t->c.hooks += hook;
	fired_add(out, t->cfg, block, hook);
	out->fired[out->nfired - 1].nth = t->c.hooks;
}

/* every = N: the Nth packet since the last hook asks for one. */
static void
every_packet(struct count_trigger *t, struct count_result *out)
{
	t->c.packets++;
	/* Counted by the kernel, which lets only every Nth packet through. */
	if (t->cfg->path != CONFIG_PATH_KERNEL && ++t->seen < t->cfg->every)
		return;
	t->seen = 0;
	fired_hook(t, out, false);
}

/*
 * The source's entry, kept for period_ms after this packet: a source seen
 * before is moved to the end of the age list with its value (and promoted:
 * it has sent more than one packet); a new one starts with a full bucket.
 */
static struct count_source *
source_touch(struct count_trigger *t, int family, const uint8_t *addr,
    uint64_t now)
{
	const struct config_count *c = t->cfg;
	uint64_t full = (uint64_t)c->threshold * c->period_ms;
	struct count_source *s;

	s = tracker_find(t->sources, family, addr, now);
	if (s == NULL) {
		s = tracker_insert(t->sources, family, addr, now + c->period_ms);
		s->credit = full;
		s->last_ms = now;
		return s;
	}
	tracker_refresh(t->sources, s, now + c->period_ms);
	tracker_promote(t->sources, s);
	return s;
}

/* Refill for the time since the last packet, then take one packet's cost. */
static bool
bucket_take(const struct config_count *c, struct count_source *s, uint64_t now)
{
	uint64_t full = (uint64_t)c->threshold * c->period_ms;
	uint64_t elapsed = now > s->last_ms ? now - s->last_ms : 0;

	if (elapsed >= c->period_ms)
		s->credit = full;
	else if ((s->credit += elapsed * c->threshold) > full)
		s->credit = full;
	s->last_ms = now;
	if (s->credit < c->period_ms)
		return false;
	s->credit -= c->period_ms;
	return true;
}

/* Threshold, engine path: a source whose bucket is empty is blocked. */
static void
threshold_packet(struct count_trigger *t, const struct pkt *p, uint64_t now,
    struct count_result *out)
{
	const struct config_count *c = t->cfg;
	struct count_source *s;

	t->c.packets++;
	if (count_allowed(c, p->family, p->src)) {
		t->c.exempt++;
		return;
	}
	s = source_touch(t, p->family, p->src, now);
	/*
	 * Blocked: the kernel drops it once the block set has it, but packets
	 * queued before that (or all of them, if the set refused it) come here.
	 */
	if (s->blocked_until > now) {
		t->c.dropped++;
		out->verdict = COUNT_DROP;
		return;
	}
	if (bucket_take(c, s, now))
		return;
	s->blocked_until = now + c->block_timeout_ms;
	t->c.blocks++;
	t->c.dropped++;
	out->verdict = COUNT_DROP;
	fired_hook(t, out, true);
}

void
count_set_packet(struct count_set *cs, const struct pkt *p, const char *iif,
    const char *oif, uint64_t now_ms, struct count_result *out)
{
	struct count_trigger *t;
	uint64_t bits;

	result_init(out, p);
	/* Lowest bit first: the triggers in file order. */
	for (bits = match_index_candidates(cs->index, p); bits != 0;
	    bits &= bits - 1) {
		t = &cs->t[__builtin_ctzll(bits)];
		if (!match_packet(&t->cfg->match, p, iif, oif))
			continue;
		if (t->cfg->kind == CONFIG_COUNT_EVERY)
			every_packet(t, out);
		else
			threshold_packet(t, p, now_ms, out);
	}
}

static struct count_trigger *
trigger_by_name(struct count_set *cs, const char *name)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->t[i].cfg->name, name) == 0)
			return &cs->t[i];
	return NULL;
}

int
count_set_logged(struct count_set *cs, const char *prefix,
    const struct pkt *p, uint64_t now_ms, struct count_result *out)
{
	size_t n = strlen(COUNT_LOG_PREFIX);
	struct count_trigger *t;
	const struct config_count *c;

	(void)now_ms;
	if (strncmp(prefix, COUNT_LOG_PREFIX, n) != 0)
		return -1;
	result_init(out, p);
	if ((t = trigger_by_name(cs, prefix + n)) == NULL)
		return 0;
	c = t->cfg;
	if (c->kind == CONFIG_COUNT_EVERY && c->source == CONFIG_SOURCE_NFLOG) {
		every_packet(t, out);
		return 0;
	}
	if (c->kind == CONFIG_COUNT_THRESHOLD && c->path == CONFIG_PATH_KERNEL) {
		/* The kernel blocked the source with this packet: tell exec. */
		t->c.packets++;
		t->c.blocks++;
		fired_hook(t, out, false);
	}
	return 0;
}

uint64_t
count_set_next_deadline(const struct count_set *cs)
{
	uint64_t next = TRACKER_NO_DEADLINE, d;
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->t[i].sources != NULL &&
		    (d = tracker_next_deadline(cs->t[i].sources)) < next)
			next = d;
	return next;
}

void
count_set_expire(struct count_set *cs, uint64_t now_ms)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->t[i].sources != NULL)
			tracker_expire(cs->t[i].sources, now_ms);
}

/* Whether a's count carries over to b: same name and the same counting. */
static bool
same_counting(const struct config_count *a, const struct config_count *b)
{
	if (strcmp(a->name, b->name) != 0 || a->kind != b->kind)
		return false;
	if (a->kind == CONFIG_COUNT_EVERY)
		return a->every == b->every && a->source == b->source &&
		    a->path == b->path;
	return a->path == b->path && a->threshold == b->threshold &&
	    a->period_ms == b->period_ms;
}

int
count_set_adopt(struct count_set *cs, struct count_set *old)
{
	struct count_trigger *t, *o;
	int i, j, n = 0;

	for (i = 0; i < cs->n; i++) {
		t = &cs->t[i];
		for (j = 0; j < old->n; j++) {
			o = &old->t[j];
			if (o->cfg == NULL || !same_counting(t->cfg, o->cfg))
				continue;
			t->seen = o->seen;
			t->c = o->c;
			if (t->sources != NULL && o->sources != NULL)
				tracker_move_all(t->sources, o->sources);
			o->cfg = NULL;	/* adopted once */
			n++;
			break;
		}
	}
	return n;
}

int
count_set_reset(struct count_set *cs, const char *name)
{
	int i;

	for (i = 0; i < cs->n; i++) {
		if (strcmp(cs->t[i].cfg->name, name) != 0)
			continue;
		cs->t[i].seen = 0;
		return cs->t[i].sources == NULL ? 0 :
		    (int)tracker_expire(cs->t[i].sources, UINT64_MAX);
	}
	return -1;
}

int
count_set_count(const struct count_set *cs)
{
	return cs->n;
}

const struct config_count *
count_set_trigger(const struct count_set *cs, int i)
{
	return cs->t[i].cfg;
}

void
count_set_counters(const struct count_set *cs, int i, struct count_counters *out)
{
	*out = cs->t[i].c;
	memset(&out->tracker, 0, sizeof(out->tracker));
	if (cs->t[i].sources != NULL)
		tracker_get_stats(cs->t[i].sources, &out->tracker);
}
