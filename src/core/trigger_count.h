/*
 * Count triggers (docs/count.md): the part of the [count NAME] sections
 * that the engine runs. Which path a trigger takes:
 *
 *   every = N             the engine counts the trigger's packets (queued,
 *                         or logged with the trigger's NFLOG prefix) and
 *                         asks for exec at every Nth one;
 *   threshold, kernel     nftables counts and blocks by itself; the engine
 *                         only hears of a block through NFLOG when the
 *                         trigger has exec (COUNT_LOG_PREFIX);
 *   threshold, engine     queued packets are counted per source in a token
 *                         bucket, in a tracker of max_sources entries: a
 *                         source over the threshold is to be put into the
 *                         block set, and its packets that still reach the
 *                         engine are dropped while it is tracked.
 *
 * The token bucket is the kernel's (nft `limit rate over N/T burst N
 * packets`): it holds N packets and refills at N per T, so a source may
 * send N at once and N per T on average; the packet that finds it empty is
 * over. A source is tracked for T after its last packet (then its bucket
 * is full again and it needs no entry). Per docs/design.md, decision 8, a
 * source enters the fresh tier and is promoted by its second packet, so a
 * flood of spoofed one-packet sources evicts only its own kind.
 *
 * Pure: time is an argument; nothing here runs a hook or touches the kernel.
 */
#ifndef NFQT_TRIGGER_COUNT_H
#define NFQT_TRIGGER_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/tracker.h"

struct pkt;
struct count_set;

/* NFLOG prefix of a count trigger's rule: this, then the trigger's name. */
#define COUNT_LOG_PREFIX	"nfqt-count "
/* The progress tier of an engine-path tracker is 1/COUNT_PROGRESS_SHARE of it. */
#define COUNT_PROGRESS_SHARE	4

enum count_verdict {
	COUNT_PASS = 0,		/* accept (or: no count trigger's to judge) */
	COUNT_DROP,		/* an engine-path threshold was crossed */
};

/* One trigger that acted on the packet. */
struct count_fired {
	const struct config_count *trigger;
	bool block;		/* add the source to the trigger's block set */
	bool hook;		/* run the trigger's exec */
	uint64_t nth;		/* hook: the trigger's how-manieth, from 1 */
};

struct count_result {
	enum count_verdict verdict;
	int family;			/* the packet's source, for %IP% and the set */
	uint8_t addr[16];
	uint8_t proto;			/* for %PROTO% and %PORT% */
	uint16_t dport;
	int nfired;
	struct count_fired fired[CONFIG_TRIGGERS_MAX];
};

struct count_counters {
	uint64_t packets;		/* packets the engine counted for it */
	uint64_t hooks;			/* exec asked for */
	uint64_t blocks;		/* sources blocked (engine) or heard of (kernel) */
	uint64_t exempt;		/* engine path: packets of allow-listed sources */
	uint64_t dropped;		/* engine path: packets of blocked sources */
	struct tracker_stats tracker;	/* engine path */
};

/*
 * The count triggers of cfg; engine-path ones get a tracker of
 * cfg->engine.max_sources entries. hash_key: TRACKER_HASH_KEY_LEN bytes, or
 * NULL for a random key per tracker. NULL (logged) on failure. The set
 * keeps pointers into cfg: cfg must outlive it.
 */
struct count_set *count_set_new(const struct config *cfg, const uint8_t *hash_key,
    char *why, size_t whylen);
void count_set_free(struct count_set *cs);

/* Whether some queue-fed trigger's match names interfaces (the caller resolves them). */
bool count_set_uses_ifs(const struct count_set *cs, enum match_if which);

/*
 * A packet from the queue (the count chains, input and forward), received
 * at now_ms: every queue-fed trigger whose match it fits counts it.
 * iif/oif are interface names, NULL when unknown.
 */
void count_set_packet(struct count_set *cs, const struct pkt *p, const char *iif,
    const char *oif, uint64_t now_ms, struct count_result *out);

/*
 * A packet from NFLOG with its prefix. Returns -1 when the prefix is not a
 * count trigger's (the packet is someone else's), else 0: out says what
 * the named trigger does (nothing when no trigger has that name: a rule
 * left from before a reload).
 */
int count_set_logged(struct count_set *cs, const char *prefix,
    const struct pkt *p, uint64_t now_ms, struct count_result *out);

/* When count_set_expire() has something to do; TRACKER_NO_DEADLINE if never. */
uint64_t count_set_next_deadline(const struct count_set *cs);

/* Forget sources whose bucket is full again at now_ms. */
void count_set_expire(struct count_set *cs, uint64_t now_ms);

/*
 * Reload: a trigger of cs whose counting is unchanged in old (same name,
 * kind and path, same every, or same threshold and period) takes its
 * counters, its place in the count and its tracked sources from old.
 * Returns how many were adopted; old may then be freed.
 */
int count_set_adopt(struct count_set *cs, struct count_set *old);

/*
 * Trigger name starts over: sources and the every-N count forgotten. The
 * number of sources forgotten, or -1 when there is no such trigger.
 */
int count_set_reset(struct count_set *cs, const char *name);

int count_set_count(const struct count_set *cs);
const struct config_count *count_set_trigger(const struct count_set *cs, int i);
void count_set_counters(const struct count_set *cs, int i, struct count_counters *out);

#endif
