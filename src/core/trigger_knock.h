/*
 * Knock trigger: per-source state machines over the [knock NAME] sections of
 * a config. A source that sends a trigger's frames in order, within its
 * window from the first frame, completes the sequence; the caller then puts
 * the source into the trigger's allow set (and runs its hook).
 *
 * Every packet on a knock port (any proto:port of any sequence), right or
 * wrong, gets KNOCK_DROP so a scanner learns nothing. Anything else is
 * KNOCK_NOT_MINE: the caller decides its verdict.
 *
 * Each trigger has its own tracker of max_sources entries (see tracker.h for
 * the tiers of docs/design.md, decision 8); a source counts as "in progress"
 * once it has sent the second frame. Triggers are independent: a packet on a
 * port shared by two triggers is a frame for both, and may advance one while
 * it resets the other. See docs/knock.md.
 *
 * Derived triggers (derive = time | counter, knock_otp.h) knock on a port
 * range: every packet in it is a frame, and the sequence expected is the
 * one of the time step, or of the counters in play, at the source's first
 * frame. Each sequence opens at most once.
 *
 * Pure, but for counter triggers: knock_set_new() reads their state files,
 * and a completed counter knock writes its state file (fsync'd) before it
 * opens. Time is an argument: now_ms is CLOCK_MONOTONIC for windows, wall_s
 * the wall clock (time(2)) for time steps.
 */
#ifndef NFQT_TRIGGER_KNOCK_H
#define NFQT_TRIGGER_KNOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/tracker.h"

struct pkt;
struct knock_set;

/* The progress tier of each trigger's tracker is 1/KNOCK_PROGRESS_SHARE of it. */
#define KNOCK_PROGRESS_SHARE	4
/* Smallest max_sources a knock set accepts (so both tiers have room). */
#define KNOCK_SOURCES_MIN	KNOCK_PROGRESS_SHARE

enum knock_verdict {
	KNOCK_NOT_MINE = 0,	/* not on any knock port: the caller decides */
	KNOCK_DROP,		/* a knock frame, right or wrong: drop it */
};

/* What went wrong for one trigger's machine, for the event log. */
struct knock_failure {
	const struct config_knock *trigger;
	const char *reason;		/* one word: wrong-order, step-used, ... */
};

/* The machines of a set: each trigger's, and its close sequence's. */
#define KNOCK_MACHINES_MAX	(2 * CONFIG_TRIGGERS_MAX)
/* Window expiries kept for the engine to log (more are only counted). */
#define KNOCK_EXPIRED_RING	256

struct knock_result {
	enum knock_verdict verdict;
	int family;			/* the source: AF_INET or AF_INET6 */
	uint8_t addr[16];		/* network order, IPv4 in the first 4 bytes; set
				 * for a packet on a knock port (KNOCK_DROP) */
	int nopened;			/* sequences this packet completed */
	const struct config_knock *opened[CONFIG_TRIGGERS_MAX];
	/*
	 * derive = counter: opened[i] opens only once its counter is on disk.
	 * commit[i] is the next unused counter to record (0: none needed); the
	 * engine writes it, then calls knock_set_commit() or, when the write
	 * failed, knock_set_commit_failed() and opens nothing.
	 */
	uint64_t commit[CONFIG_TRIGGERS_MAX];
	int nclosed;			/* close sequences this packet completed */
	const struct config_knock *closed[CONFIG_TRIGGERS_MAX];
	int nfailed;			/* machines this packet failed, and why */
	struct knock_failure failed[KNOCK_MACHINES_MAX];
};

/* A source whose window ran out before its sequence was complete. */
struct knock_expired {
	const struct config_knock *trigger;
	bool closing;			/* in its close sequence */
	int family;
	uint8_t addr[16];
};

struct knock_counters {
	uint64_t frames;		/* packets on this trigger's knock ports */
	uint64_t not_addressed;		/* on its ports but not to it: passed on */
	uint64_t started;		/* first frames that began a sequence */
	uint64_t advanced;		/* later frames in the right order */
	uint64_t wrong;			/* frames out of order (reset or ignored) */
	uint64_t resets;		/* of which reset a source's progress */
	uint64_t opened;		/* completed sequences */
	uint64_t duplicates;		/* the frame just accepted, again: ignored */
	uint64_t closed;		/* completed close sequences */
	uint64_t replays;		/* time: sequences of a used step refused */
	uint64_t state_errors;		/* counter: state not written, knock refused */
	struct tracker_stats tracker;	/* tracked, evicted_fresh, evicted_progress, expired */
};

/*
 * All knock triggers of cfg, each with a tracker of cfg->engine.max_sources
 * entries. hash_key: TRACKER_HASH_KEY_LEN bytes, NULL for a random key per
 * tracker. wall_s: time(2) now. Time triggers refuse the sequence of the
 * step wall_s falls in, since it may have opened before a restart
 * (knock_set_adopt() lifts that on reload); counter triggers start at
 * counter 0 until knock_set_restore_counter(). NULL with the reason in why
 * on failure. The set keeps pointers into cfg: cfg must outlive it.
 */
struct knock_set *knock_set_new_at(const struct config *cfg,
    const uint8_t *hash_key, int64_t wall_s, char *why, size_t whylen);
void knock_set_free(struct knock_set *ks);

/*
 * Where a packet was going, as the engine learnt it from the kernel (the
 * core asks nobody): local when it is delivered to this host (queued at
 * the input hook), and the name of the interface it came in on.
 */
struct knock_where {
	bool local;
	const char *iif;		/* NULL: unknown */
};

/*
 * Run one parsed packet, received at now_ms (CLOCK_MONOTONIC) and wall_s
 * (time(2)), through every knock trigger. A packet on a knock port is a
 * frame of a trigger only when it is addressed to it (docs/design.md,
 * decision 13: to this host, to the trigger's target, through its
 * interface); a packet no trigger takes is KNOCK_NOT_MINE.
 */
void knock_set_packet_to(struct knock_set *ks, const struct pkt *p,
    const struct knock_where *w, uint64_t now_ms, int64_t wall_s,
    struct knock_result *out);

/* knock_set_packet_to() for a packet delivered to this host, interface unknown. */
void knock_set_packet_at(struct knock_set *ks, const struct pkt *p,
    uint64_t now_ms, int64_t wall_s, struct knock_result *out);

/*
 * The counter that a result's commit[] asked for is on disk: k's counters
 * below next are used, and the knock counts as opened. -1 when another
 * completion recorded it first (a replay: open nothing).
 */
int knock_set_commit(struct knock_set *ks, const struct config_knock *k,
    uint64_t next);
/* The counter could not be recorded: the knock opens nothing. */
void knock_set_commit_failed(struct knock_set *ks, const struct config_knock *k);
/* k's lowest unused counter (derive = counter). */
uint64_t knock_set_next_counter(const struct knock_set *ks,
    const struct config_knock *k);
/* Trigger i's next unused counter, read from its state file at start. */
void knock_set_restore_counter(struct knock_set *ks, int i, uint64_t next);

/* When the engine's timer should next call knock_set_expire; TRACKER_NO_DEADLINE if never. */
uint64_t knock_set_next_deadline(const struct knock_set *ks);

/*
 * Forget sources whose window ended at or before now_ms; each is kept for
 * knock_set_expired_next() (the last KNOCK_EXPIRED_RING of them).
 */
void knock_set_expire(struct knock_set *ks, uint64_t now_ms);

/* The oldest window expiry not taken yet: true and *out, or false. */
bool knock_set_expired_next(struct knock_set *ks, struct knock_expired *out);

/*
 * Reload: move the sources of every trigger of old whose definition is
 * unchanged in ks (same name, same frames, same window; for derived ones the
 * same key, kind, step and ports) into ks, with its counters; old keeps
 * nothing of them. Returns how many triggers were adopted. Whatever else
 * changed, a derived trigger with the same name, key, kind (and step) keeps
 * its record of used steps and counters. old may then be freed.
 */
int knock_set_adopt(struct knock_set *ks, struct knock_set *old);

/*
 * Forget every source's progress on trigger name (the control socket's
 * reset); what stops a replay is kept. The number forgotten, or -1 when
 * there is no such trigger.
 */
int knock_set_reset(struct knock_set *ks, const char *name);

int knock_set_count(const struct knock_set *ks);
const struct config_knock *knock_set_trigger(const struct knock_set *ks, int i);
void knock_set_counters(const struct knock_set *ks, int i, struct knock_counters *out);

#endif
