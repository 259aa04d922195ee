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
#include "core/trigger_knock.h"
#include "kernel/ifname.h"

#define ENGINE_QUEUES_MAX	64
/* exec_stop hooks waiting for their delay; beyond this they are refused (logged). */
#define ENGINE_DEFERRED_MAX	4096
/* Derived knocks waiting for their counter to be written in this pass. */
#define ENGINE_KNOCK_PENDING	16

struct deferred;
struct events;
struct engine_act;		/* engine_activity.c */
struct hooks;
struct loop;
struct nflog_source;
struct nfq_source;
struct nft;
struct pkt;
struct spa_set;

struct engine_counters {
	uint64_t parsed;
	uint64_t malformed;
	uint64_t deferred_refused;
	uint64_t knock_pending_refused;	/* over ENGINE_KNOCK_PENDING in one pass */
};

struct engine {
	struct config *cfg;
	struct loop *loop;
	struct nfq_source *queues[ENGINE_QUEUES_MAX];
	int nqueues;
	struct nflog_source *nflog;
	struct nft *nft;
	struct knock_set *knocks;
	struct count_set *counts;
	struct spa_set *spas;
	struct events *events;		/* the event log (engine/event.h) */
	struct engine_act **acts;	/* one per cfg->activities[], same order */
	int nacts;
	struct engine_act **retired;
	int nretired;
	struct ifname_cache ifnames;
	struct hooks *hooks;
	struct deferred *deferred;
	struct engine_counters counters;
	struct knock_result knock_pending[ENGINE_KNOCK_PENDING];
	int nknock_pending;
	int exit_status;
};

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
	/* Before the sources close: held packets get their verdicts; with hooks, stops run. */
	void (*quiesce)(struct engine *e, bool hooks);
	/*
	 * A queued packet, in the order of engine_kinds[]: may set *verdict.
	 * NULL passes the packet on; else *verdict is final, and the string
	 * says what became of the packet ("knock frame, drop") in the log.
	 */
	const char *(*queued)(struct engine *e, const struct engine_packet *ep,
	    uint64_t now, int *verdict);
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
