/*
 * Inside the engine: struct engine, and struct engine_kind, what each
 * trigger kind's glue (engine_knock.c, engine_activity.c, engine_count.c)
 * gives engine.c through its row in engine_kinds.c. engine.c is the
 * dispatcher; the glue files never call back into it.
 * Not for anything outside src/engine*.c: engine.h is the contract.
 */
#ifndef NFQT_ENGINE_PRIV_H
#define NFQT_ENGINE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "engine/engine.h"
#include "core/trigger_knock.h"
#include "engine/hook.h"
#include "kernel/ifname.h"

#define ENGINE_QUEUES_MAX	CONFIG_QUEUES_MAX
/* SIGHUPs closer than this to the last reload wait for one more reload. */
#define ENGINE_RELOAD_GAP_MS	100
/* Verdicts whose send failed are sent again this soon (they hold packets). */
#define ENGINE_VERDICT_RETRY_MS	10
/* exec_stop hooks waiting for their delay; beyond this they are refused (logged). */
#define ENGINE_DEFERRED_MAX	4096
/* Derived knocks waiting for their counter to be written in this pass. */
#define ENGINE_KNOCK_PENDING	16

/* Per trigger name: what its hooks came to (status, metrics). */
#define ENGINE_HOOKSTATS	(4 * CONFIG_TRIGGERS_MAX)

struct activity;
struct control;
struct control_reply;
struct deferred;
struct events;
struct engine_act;		/* engine_activity.c */
struct hooks;
struct loop;
struct match_index;
struct nflog_source;
struct nfq_source;
struct nft;
struct pkt;
struct spa_set;

struct engine_counters {
	uint64_t parsed;
	uint64_t malformed;
	uint64_t malformed_dropped;	/* the path they were queued on is closed */
	uint64_t deferred_refused;
	uint64_t knock_pending_refused;	/* over ENGINE_KNOCK_PENDING in one pass */
};

struct engine_hookstat {
	char name[CONFIG_NAME_MAX + 1];
	uint64_t runs;
	uint64_t failures;
	uint64_t refused;
};

/* What the engine counts per queue beside the source's own counters. */
struct engine_queue_stats {
	uint64_t malformed;		/* accepted unparsed */
	uint64_t bypassed;		/* accepted uninspected: maintenance bypass */
};

/*
 * The kernel's counters at the last baseline (start-up, reload), so that
 * packets the kernel accepted without us (fail_open) can be told apart:
 * rules diverted more than got an id (queue full), or got an id and never
 * reached us (socket full). What earlier baselines found is carried.
 */
struct engine_kbase {
	bool valid;
	uint64_t diverted, ids, received, queue_dropped, user_dropped;
	uint64_t carry_queue_full, carry_socket_full;
};

struct engine {
	struct config *cfg;
	struct loop *loop;
	struct nfq_source *queues[ENGINE_QUEUES_MAX];
	int nqueues;
	struct nflog_source *nflog;
	/* Not read while the element batch is full (nft_batch_full()). */
	bool sources_paused;
	struct nft *nft;
	struct knock_set *knocks;
	struct count_set *counts;
	struct spa_set *spas;
	struct engine_act **acts;	/* one per cfg->activities[], same order */
	int nacts;
	struct match_index *act_index;	/* dispatch of acts[] by port */
	struct engine_act **retired;
	int nretired;
	struct ifname_cache ifnames;
	struct hooks *hooks;
	struct deferred *deferred;
	struct engine_counters counters;
	struct knock_result knock_pending[ENGINE_KNOCK_PENDING];
	int nknock_pending;
	struct engine_reload_hooks reload_hooks;
	int exit_status;
	struct events *events;		/* the event log (event.h) */
	struct control *control;	/* the control socket (control.h) */
	bool bypass;			/* maintenance: queued packets accepted uninspected */
	bool reload_pending;		/* SIGHUP: one reload, in a pass, when due */
	uint64_t reload_ms;		/* when the last reload ran */
	bool control_reopen;		/* a reload moved the control socket */
	uint64_t started_ms;
	uint64_t reloads, reloads_refused;
	struct engine_queue_stats qstats[ENGINE_QUEUES_MAX];
	struct engine_hookstat hookstats[ENGINE_HOOKSTATS];
	int nhookstats;
	struct engine_kbase kbase;
	int watchdog_fd;		/* timerfd for WATCHDOG=1; -1 without */
};

/*
 * engine_carry.c: a reload that makes the sets anew (new table name, new
 * max_sources) carries their addresses over; NULL when none need to be.
 */
struct engine_carry;
struct engine_carry *engine_carry_read(const struct engine *e,
    const struct config *next);
/* Put them back (and free c); call after the new table is synced. */
void engine_carry_write(struct engine *e, struct engine_carry *c);
void engine_carry_free(struct engine_carry *c);

/* engine.c: SIGHUP and `nfq-trigger reload`. 0, or -1 with why filled in. */
int engine_reload(struct engine *e, char *why, size_t whylen);

/* engine_control.c: one control request (control_fn). */
void engine_control(void *arg, int argc, char **argv, struct control_reply *r);
/* The hook observer (hook_observe_fn): event log and per-trigger counts. */
void engine_hook_observed(void *arg, const char *trigger,
    enum hook_event event, int family, const uint8_t *addr,
    const struct hook_result *r);

/* engine_status.c: status (text or JSON) and metrics. */
void engine_status(struct engine *e, bool json, struct control_reply *r);
void engine_metrics(struct engine *e, struct control_reply *r);
/* Kernel counters now, for the bypass arithmetic (kbase). */
void engine_kbase_reset(struct engine *e);

/*
 * engine_activity.c, for the control socket (status, reset NAME), beside
 * its row in engine_kinds[]: the i-th trigger's state machine (NULL past
 * the end), and one trigger back to standby (-1: no such trigger).
 */
const struct activity *engine_act_state(const struct engine *e, int i);
int engine_act_reset_one(struct engine *e, const char *name);

#define ENGINE_NO_DEADLINE	UINT64_MAX
#define ENGINE_KINDS_MAX	8	/* rows of engine_kinds[] */

/* A parsed packet as the dispatcher hands it to each kind of trigger. */
struct engine_packet {
	const struct pkt *pkt;
	const uint8_t *buf;		/* the bytes pkt was parsed from */
	const char *source;		/* "queue 3", "nflog group 5": messages */
	uint32_t indev;
	uint32_t outdev;
	int hook;			/* NF_INET_*: where it was queued; -1: NFLOG */
	uint32_t id;			/* queued: the packet's id in its queue */
	uint32_t len;			/* queued: the whole packet's length */
	uint16_t queue;
	const char *prefix;		/* NFLOG's prefix; NULL when queued */
};

/*
 * A kind of trigger as the engine runs it: one record per kind, defined in
 * engine_<kind>.c and listed in engine_kinds.c. engine.c calls each kind
 * only through these; NULL members are operations the kind does not have.
 */
struct engine_kind {
	const char *name;		/* "knock": the reload message */
	bool keeps_state;		/* triggers keep their state across reloads */
	/* State for cfg's triggers, built aside: -1 (logged) if it cannot be. */
	int (*prepare)(struct engine *e, const struct config *cfg, void **next);
	void (*discard)(void *next);	/* what prepare built, unused */
	/*
	 * next becomes the running state, taking over what it can of the
	 * old; the number of triggers that kept their state (keeps_state)
	 * or that start in standby.
	 */
	int (*commit)(struct engine *e, const struct config *cfg, void *next);
	/*
	 * Before a reload commits, and before the sources close: held packets
	 * get their verdicts; with hooks, stops run. next: the config a reload
	 * brings, whose unchanged triggers keep their state (docs/design.md,
	 * decision 17); NULL: every trigger (exit, queues rebound).
	 */
	void (*quiesce)(struct engine *e, const struct config *next, bool hooks);
	/*
	 * A queued packet, in the order of engine_kinds[]: may set *verdict.
	 * NULL passes the packet on; else *verdict is final, and the string
	 * says what became of the packet ("knock frame, drop") in the log.
	 */
	const char *(*queued)(struct engine *e, const struct engine_packet *ep,
	    uint64_t now, int *verdict);
	/*
	 * A queued packet the parser called malformed, in the order of
	 * engine_kinds[]: the verdict of this kind's path (NF_ACCEPT,
	 * NF_DROP), or -1 when it is on none of this kind's paths.
	 */
	int (*unparsed)(struct engine *e, const struct engine_packet *ep,
	    uint64_t now);
	/* A packet from NFLOG: true when the kind took it, and no other sees it. */
	bool (*logged)(struct engine *e, const struct engine_packet *ep,
	    uint64_t now);
	bool logged_by_prefix;		/* asked first: its rules log with a prefix */
	uint64_t (*next_deadline)(const struct engine *e); /* or ENGINE_NO_DEADLINE */
	void (*expire)(struct engine *e, uint64_t now);	/* what timed out */
	/*
	 * After each loop pass's packets, before its nftables batch: the
	 * kernel and file work the pass decided (never in a packet callback).
	 */
	void (*flush)(struct engine *e, uint64_t now);
	void (*run_deferred)(struct engine *e, uint64_t now); /* after every expire */
	void (*log_counters)(const struct engine *e);
	void (*free)(struct engine *e);
};

/* engine_kinds.c: every kind, in the order a queued packet meets them. */
extern const struct engine_kind *const engine_kinds[];
extern const int engine_nkinds;

#endif
