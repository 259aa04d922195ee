/*
 * The engine's side of SPA triggers (docs/spa.md): a datagram on an SPA
 * port is checked inline and dropped whatever the outcome, so nothing ever
 * answers on that port; a valid one queues its address into the trigger's
 * allow set (flushed with the loop pass's batch: no ack wait here,
 * Decision 15). Every outcome goes to the event log with its reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "core/packet.h"
#include "core/spa.h"
#include "engine/engine_priv.h"
#include "engine/event.h"
#include "fwknop/fwknop.h"
#include "kernel/nft.h"
#include "util/log.h"

static uint64_t
engine_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
engine_spa_opened(struct engine *e, const struct spa_result *r, uint64_t now)
{
	const struct config_spa *t = r->trigger;
	struct pkt view = { .family = (uint8_t)r->open_family };
	char ip[64], timeout[32];

	pkt_addr_str(&view, r->open_addr, ip, sizeof(ip));
	log_info("spa %s: %s allowed for %s", t->name, ip,
	    config_duration_str(t->allow_timeout_ms, timeout, sizeof(timeout)));
	event_log(e->events, now, EVENT_OPENED, "spa", t->name, r->open_family,
	    r->open_addr, NULL);
	nft_allow_add(e->nft, t->name, r->open_family, r->open_addr,
	    t->allow_timeout_ms);
}

static void
engine_spa_failed(struct engine *e, const struct spa_result *r,
    const char *detail, uint64_t now)
{
	enum event_what what;
	struct pkt view = { .family = (uint8_t)r->family };
	char ip[64];

	/* Valid but refused (replay, full cache) apart from the merely bad. */
	what = r->reason == SPA_REPLAY || r->reason == SPA_CACHE_FULL ?
	    EVENT_REFUSED : EVENT_FAILED;
	event_log(e->events, now, what, "spa", r->trigger->name, r->family,
	    r->addr, spa_reason_name(r->reason));
	if (r->reason == SPA_CACHE_FULL)
		log_warnx("spa %s: replay cache full (%u fresh packets): raise "
		    "replay_cache; refusing valid packets until some age out",
		    r->trigger->name, r->trigger->replay_cache);
	if (log_verbosity() >= 1) {
		pkt_addr_str(&view, r->addr, ip, sizeof(ip));
		log_debug("spa %s: %s: %s%s%s", r->trigger->name, ip,
		    spa_reason_name(r->reason), detail[0] ? ": " : "", detail);
	}
}

/* True when p was an SPA datagram: drop it, whatever it was. */
static bool
engine_spa_packet(struct engine *e, const struct pkt *p, const uint8_t *buf,
    uint64_t now)
{
	struct spa_request rq;
	struct spa_result r;
	enum spa_reason why;
	char detail[160] = "";
	uint64_t wall;

	/* Most queued packets are not for SPA: no clock read for them. */
	if (spa_set_find(e->spas, p) == NULL)
		return false;
	wall = engine_wall_ms();
	spa_set_packet(e->spas, p, buf, wall, &r);
	if (!r.mine)
		return false;
	if (r.reason == SPA_OK && r.trigger->format == CONFIG_SPA_FWKNOP) {
		why = fwknop_decode(r.trigger, buf + p->payload_offset,
		    p->payload_len, &rq, detail, sizeof(detail));
		if (why == SPA_OK)
			spa_set_admit(e->spas, r.trigger, p, &rq, wall, &r);
		else
			spa_set_refuse(e->spas, r.trigger, p, why, &r);
	}
	if (r.reason == SPA_OK)
		engine_spa_opened(e, &r, now);
	else
		engine_spa_failed(e, &r, detail, now);
	return true;
}

static void
engine_spa_log_counters(const struct engine *e)
{
	struct spa_counters c;
	int i;

	for (i = 0; e->spas != NULL && i < spa_set_count(e->spas); i++) {
		spa_set_counters(e->spas, i, &c);
		log_info("spa %s: %llu packets, %llu opened, %llu failed, %llu "
		    "replays refused, %llu refused on a full cache, %u cached",
		    spa_set_trigger(e->spas, i)->name,
		    (unsigned long long)c.packets, (unsigned long long)c.opened,
		    (unsigned long long)c.failed, (unsigned long long)c.replays,
		    (unsigned long long)c.cache_full, c.cached);
	}
}

/* A queued packet to an SPA port: checked, then dropped whatever it was. */
static const char *
engine_spa_queued(struct engine *e, const struct engine_packet *ep,
    uint64_t now, int *verdict)
{
	if (!engine_spa_packet(e, ep->pkt, ep->buf, now))
		return NULL;
	*verdict = NF_DROP;
	return "spa datagram, drop";
}

/*
 * The triggers of cfg with empty replay caches, started now: a packet made
 * before a start or a reload opens nothing (Decision 9), so none of the
 * packets an old cache held can be replayed into the new one.
 */
static int
engine_spa_prepare(struct engine *e, const struct config *cfg, void **next)
{
	char why[256];
	int i;

	(void)e;
	for (i = 0; i < cfg->nspas; i++)
		if (cfg->spas[i].format == CONFIG_SPA_FWKNOP && fwknop_load(why, sizeof(why)) < 0) {
			log_warnx("spa %s: format = fwknop needs libfko: %s", cfg->spas[i].name,
			    why);
			return -1;
		}
	if ((*next = spa_set_new(cfg, engine_wall_ms(), NULL)) == NULL) {
		log_warnx("spa: replay caches: out of memory");
		return -1;
	}
	return 0;
}

static void
engine_spa_discard(void *next)
{
	spa_set_free(next);
}

static int
engine_spa_commit(struct engine *e, const struct config *cfg, void *next)
{
	(void)cfg;
	spa_set_free(e->spas);
	e->spas = next;
	return 0;
}

static void
engine_spa_free(struct engine *e)
{
	spa_set_free(e->spas);
	e->spas = NULL;
}

const struct engine_kind engine_kind_spa = {
	.name = "spa",
	.keeps_state = false,
	.prepare = engine_spa_prepare,
	.discard = engine_spa_discard,
	.commit = engine_spa_commit,
	.queued = engine_spa_queued,
	.log_counters = engine_spa_log_counters,
	.free = engine_spa_free,
};
