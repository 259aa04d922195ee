/*
 * Inside the engine: struct engine, and what each trigger kind's glue
 * (engine_knock.c, engine_activity.c, engine_count.c) gives engine.c.
 * engine.c is the dispatcher; the glue files never call back into it.
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
struct engine_act;		/* engine_activity.c */
struct hooks;
struct loop;
struct nflog_source;
struct nfq_source;
struct nft;
struct pkt;
struct act_held;

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

/* engine_knock.c */
struct knock_set *engine_knock_set_new(const struct config *cfg);
enum knock_verdict engine_knock_packet(struct engine *e, const struct pkt *p,
    uint64_t now);
void engine_knock_flush(struct engine *e, uint64_t now);
void engine_knock_run_deferred(struct engine *e, uint64_t now);
void engine_knock_log_counters(const struct engine *e);

/* engine_activity.c; pkt is NULL for a packet that cannot be held. */
int engine_act_packet(struct engine *e, const struct pkt *p, uint32_t indev,
    uint32_t outdev, const struct act_held *pkt, enum config_source source,
    uint64_t now);
uint64_t engine_act_next_deadline(const struct engine *e);
void engine_act_expire(struct engine *e, uint64_t now);
void engine_act_reset_all(struct engine *e, bool hooks);
void engine_act_bind(struct engine *e, const struct config *cfg);
void engine_act_free_all(struct engine *e);
void engine_act_log_counters(const struct engine *e);
void engine_act_flush(struct engine *e);

/* engine_count.c */
struct count_set *engine_count_set_new(const struct config *cfg);
int engine_count_packet(struct engine *e, const struct pkt *p, uint32_t indev,
    uint32_t outdev, uint64_t now);
int engine_count_logged(struct engine *e, const char *prefix,
    const struct pkt *p, uint64_t now);
void engine_count_log_counters(const struct engine *e);

#endif
