/*
 * Activity trigger (docs/activity.md): traffic on an idle path runs `start`,
 * every packet refreshes a TTL, `stop` runs once the path has been idle for
 * the TTL. In queue mode the packets that arrive while `start` runs are held
 * (bounded by count and bytes) and accepted once it succeeds.
 *
 *   standby --packet--> starting --start ok--> active --ttl--> stopping --> standby
 *                          |                                      |
 *                          +--start failed--> backoff             +--packet: start again
 *
 * Pure: time is an argument, nothing here runs a hook or touches a packet.
 * Each call fills a struct act_actions with what the engine must do now
 * (verdicts for released packets, hooks to run, the kernel's sampling
 * switch). Hook results come back tagged with the epoch they were asked for
 * in; act_reset() starts a new epoch, so results of hooks asked for before
 * it are ignored.
 */
#ifndef NFQT_TRIGGER_ACTIVITY_H
#define NFQT_TRIGGER_ACTIVITY_H

#include <stdbool.h>
#include <stdint.h>

struct config_activity;

#define ACT_NO_DEADLINE		UINT64_MAX

enum act_state {
	ACT_STANDBY,		/* idle: the next packet starts */
	ACT_STARTING,		/* start runs; queued packets are held */
	ACT_ACTIVE,		/* up; each packet refreshes the TTL */
	ACT_STOPPING,		/* stop runs; a packet now starts again after it */
	ACT_BACKOFF,		/* start failed; no new start before retry_after */
};

/* A queued packet, as the engine needs it to give the verdict later. */
struct act_held {
	uint32_t id;		/* NFQUEUE packet id */
	uint32_t len;		/* whole packet, bytes */
	uint16_t queue;
};

enum act_verdict {
	ACT_PASS,		/* accept (or: not this trigger's to judge) */
	ACT_HOLD,		/* held: a verdict comes with a later release */
	ACT_DROP,		/* over the hold bound, or refused during back-off */
};

struct act_actions {
	const struct act_held *release;	/* give these their verdict now */
	int nrelease;
	bool release_accept;		/* NF_ACCEPT, else NF_DROP */
	bool run_start;
	bool run_stop;
	uint32_t epoch;			/* tag for the hooks asked for here */
	int kernel_sampling;		/* -1: unchanged; 1 on (active), 0 off */
};

struct act_counters {
	uint64_t packets;		/* matching packets seen */
	uint64_t held;			/* packets held while start ran */
	uint64_t released;		/* held packets accepted after start */
	uint64_t failed_released;	/* held packets given the start_failure verdict */
	uint64_t overflow;		/* dropped: over hold_packets or hold_bytes */
	uint64_t backoff;		/* packets during a back-off (start_failure verdict) */
	uint64_t starts;
	uint64_t start_failures;
	uint64_t stops;
	uint64_t stop_failures;
	uint64_t resets;
	uint64_t unparsed;		/* malformed packets judged (act_unparsed()) */
	uint64_t unparsed_dropped;	/* of which dropped: the path was closed */
};

struct activity {
	const struct config_activity *cfg;
	enum act_state state;
	uint32_t epoch;
	bool restart;			/* traffic while stopping: start after stop */
	uint64_t last_seen_ms;		/* last packet while active */
	uint64_t retry_at_ms;		/* back-off ends */
	struct act_held *held;		/* hold_packets slots */
	uint32_t nheld;
	uint64_t held_bytes;
	struct act_counters c;
};

/*
 * Returns 0, or -1 (ENOMEM): the trigger then works but holds nothing
 * (packets it would hold are dropped, counted as overflow).
 */
int act_init(struct activity *a, const struct config_activity *cfg);
void act_free(struct activity *a);

/*
 * A new config for the same trigger (reload). Only in standby with nothing
 * held, as act_reset() leaves it (else -1, EBUSY, nothing changed). 0, or
 * -1 with ENOMEM as for act_init() (the new config is in use).
 */
int act_configure(struct activity *a, const struct config_activity *cfg);

/*
 * Whether b configures the trigger exactly as a does: a reload then keeps
 * its state (an active path stays up, its stop does not run), and
 * act_keep_config() points it at b.
 */
bool act_config_same(const struct config_activity *a,
    const struct config_activity *b);
void act_keep_config(struct activity *a, const struct config_activity *cfg);

/*
 * A matching packet at now_ms. pkt: the queued packet this trigger may
 * hold, or NULL (NFLOG, or another trigger judges it).
 */
enum act_verdict act_packet(struct activity *a, const struct act_held *pkt,
    uint64_t now_ms, struct act_actions *out);

/*
 * A packet on this trigger's path that the parser called malformed: it is
 * neither held nor taken as traffic (it starts nothing), but gets the
 * path's verdict now: accept while the path is up, else the start_failure
 * verdict (fail closed with start_failure = drop). Counted.
 */
enum act_verdict act_unparsed(struct activity *a);

/* How a start or stop asked for in epoch ended. */
void act_start_done(struct activity *a, uint32_t epoch, bool ok, uint64_t now_ms,
    struct act_actions *out);
void act_stop_done(struct activity *a, uint32_t epoch, bool ok, uint64_t now_ms,
    struct act_actions *out);

/* When act_expire() has something to do; ACT_NO_DEADLINE if never. */
uint64_t act_next_deadline(const struct activity *a);

/* Active and idle for the TTL at now_ms: stop. */
void act_expire(struct activity *a, uint64_t now_ms, struct act_actions *out);

/*
 * Back to standby (reload, exit): held packets get the start_failure
 * verdict; stop runs when start ran or is running, or the path is up.
 */
void act_reset(struct activity *a, struct act_actions *out);

const char *act_state_name(enum act_state s);

#endif
