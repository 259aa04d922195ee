/*
 * The engine's side of count triggers: what a fired trigger asks for (its
 * source into the block set, its hook); packets come from the count
 * chains' queues or, prefixed by trigger name, from NFLOG.
 */
#include <stdint.h>
#include <string.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "engine/engine_priv.h"
#include "engine/event.h"
#include "engine/loop.h"
#include "engine/hook.h"
#include "util/log.h"
#include "util/random.h"
#include "core/match.h"
#include "kernel/nft.h"
#include "core/packet.h"
#include "core/trigger_count.h"


/* Once per N packets: each run is its own, serialized per trigger. */
static void
engine_count_hook(struct engine *e, const struct config_count *c,
    const struct count_result *r)
{
	struct hook_request req = {
		.owner = (void *)(uintptr_t)c,	/* one at a time; never merged */
		.name = c->name,
		.event = HOOK_EV_COUNT,
		.hook = &c->exec,
		.timeout_ms = (uint32_t)e->cfg->engine.hook_timeout_ms,
		.family = (uint8_t)r->family,
		.proto = r->proto,
		.port = r->dport,
	};

	memcpy(req.addr, r->addr, sizeof(req.addr));
	hook_run(e->hooks, &req);	/* a refusal is logged there */
}

/* What the count triggers decided: block sets (batched per pass) and hooks. */
static void
engine_count_apply(struct engine *e, const struct count_result *r)
{
	const struct config_count *c;
	struct pkt view = { .family = (uint8_t)r->family };
	char ip[64], per[32], d[32];
	int i;

	for (i = 0; i < r->nfired; i++) {
		c = r->fired[i].trigger;
		pkt_addr_str(&view, r->addr, ip, sizeof(ip));
		if (r->fired[i].block) {
			log_info("count %s: %s sent over %u packets per %s: blocked "
			    "for %s", c->name, ip, c->threshold,
			    config_duration_str(c->period_ms, per, sizeof(per)),
			    config_duration_str(c->block_timeout_ms, d, sizeof(d)));
			nft_block_add(e->nft, c->name, r->family, r->addr,
			    c->block_timeout_ms);
			event_log(e->events, loop_now_ms(), EVENT_BLOCKED, "count",
			    c->name, r->family, r->addr, "threshold");
		} else if (c->kind == CONFIG_COUNT_THRESHOLD) {
			log_info("count %s: %s blocked by the kernel", c->name, ip);
			event_log(e->events, loop_now_ms(), EVENT_BLOCKED, "count",
			    c->name, r->family, r->addr, "kernel-threshold");
		} else
			log_debug("count %s: %u more packets, the last from %s: "
			    "exec", c->name, c->every, ip);
		if (r->fired[i].hook)
			engine_count_hook(e, c, r);
	}
}

/*
 * A packet from the count chains (input, forward: docs/count.md): every
 * queue-fed count trigger whose match fits counts it, and its verdict
 * stands. A packet queued before routing is an activity trigger's: not
 * counted there too.
 */
static const char *
engine_count_queued(struct engine *e, const struct engine_packet *ep,
    uint64_t now, int *verdict)
{
	const char *iif = NULL, *oif = NULL;
	struct count_result r;

	if (ep->hook != NF_INET_LOCAL_IN && ep->hook != NF_INET_FORWARD)
		return NULL;
	if (count_set_uses_ifs(e->counts, MATCH_IIF))
		iif = ifname_get(&e->ifnames, ep->indev, now);
	if (count_set_uses_ifs(e->counts, MATCH_OIF))
		oif = ifname_get(&e->ifnames, ep->outdev, now);
	count_set_packet(e->counts, ep->pkt, iif, oif, now, &r);
	engine_count_apply(e, &r);
	*verdict = r.verdict == COUNT_DROP ? NF_DROP : NF_ACCEPT;
	return NULL;
}

/* A packet from NFLOG: count rules log with their trigger's name as prefix. */
static bool
engine_count_logged(struct engine *e, const struct engine_packet *ep,
    uint64_t now)
{
	struct count_result r;

	if (count_set_logged(e->counts, ep->prefix, ep->pkt, now, &r) != 0)
		return false;
	engine_count_apply(e, &r);
	return true;
}

static void
engine_count_log_counters(const struct engine *e)
{
	struct count_counters cc;
	const struct config_count *c;
	int i;

	for (i = 0; i < count_set_count(e->counts); i++) {
		count_set_counters(e->counts, i, &cc);
		c = count_set_trigger(e->counts, i);
		log_info("count %s: %llu packets, %llu hooks, %llu blocks, "
		    "%llu exempt, %llu dropped, %llu tracked, %llu evicted",
		    c->name, (unsigned long long)cc.packets,
		    (unsigned long long)cc.hooks, (unsigned long long)cc.blocks,
		    (unsigned long long)cc.exempt, (unsigned long long)cc.dropped,
		    (unsigned long long)cc.tracker.tracked,
		    (unsigned long long)(cc.tracker.evicted_fresh +
		    cc.tracker.evicted_progress));
	}
}

static struct count_set *
engine_count_set_new(const struct config *cfg)
{
	uint8_t key[TRACKER_HASH_KEY_LEN];
	struct count_set *cs;
	char why[256];

	if (random_bytes(key, sizeof(key)) < 0) {
		log_warn("count: a hash key");
		return NULL;
	}
	cs = count_set_new(cfg, key, why, sizeof(why));
	explicit_bzero(key, sizeof(key));	/* the trackers keep their copies */
	if (cs == NULL)
		log_warnx("%s", why);
	return cs;
}

static uint64_t
engine_count_next_deadline(const struct engine *e)
{
	return count_set_next_deadline(e->counts);
}

static void
engine_count_expire(struct engine *e, uint64_t now)
{
	count_set_expire(e->counts, now);
}

static int
engine_count_prepare(struct engine *e, const struct config *cfg, void **next)
{
	(void)e;
	*next = engine_count_set_new(cfg);
	return *next == NULL ? -1 : 0;
}

static void
engine_count_discard(void *next)
{
	count_set_free(next);
}

/* Triggers that stay keep their counts (count_set_adopt()). */
static int
engine_count_commit(struct engine *e, const struct config *cfg, void *next)
{
	int kept = 0;

	(void)cfg;
	if (e->counts != NULL)
		kept = count_set_adopt(next, e->counts);
	count_set_free(e->counts);
	e->counts = next;
	return kept;
}

static void
engine_count_free(struct engine *e)
{
	count_set_free(e->counts);
	e->counts = NULL;
}

const struct engine_kind engine_kind_count = {
	.name = "count",
	.keeps_state = true,
	.prepare = engine_count_prepare,
	.discard = engine_count_discard,
	.commit = engine_count_commit,
	.queued = engine_count_queued,
	.logged = engine_count_logged,
	.logged_by_prefix = true,
	.next_deadline = engine_count_next_deadline,
	.expire = engine_count_expire,
	.log_counters = engine_count_log_counters,
	.free = engine_count_free,
};
