#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "config.h"
#include "deferred.h"
#include "engine.h"
#include "hook.h"
#include "log.h"
#include "loop.h"
#include "match.h"
#include "nflog.h"
#include "nfq.h"
#include "nft.h"
#include "packet.h"
#include "trigger_activity.h"
#include "trigger_count.h"
#include "trigger_knock.h"

#define ENGINE_QUEUES_MAX	64
/* exec_stop hooks waiting for their delay; beyond this they are refused (logged). */
#define ENGINE_DEFERRED_MAX	4096
/* Interface names looked up for `iif` matches, each trusted for a second. */
#define ENGINE_IFCACHE		16
#define ENGINE_IFCACHE_MS	1000

struct engine_counters {
	uint64_t parsed;
	uint64_t malformed;
	uint64_t deferred_refused;
};

struct engine;

/*
 * An activity trigger as the engine runs it: the state machine, and the
 * epochs of its hooks whose results are still to come, oldest first (hooks
 * of one owner finish in the order they were asked for, hook.h). The
 * struct is the hooks' owner, so it lives on across reloads under its name
 * and is freed only once no result is due.
 */
struct engine_act {
	struct activity st;
	struct engine *e;
	char name[CONFIG_NAME_MAX + 1];
	bool retired;			/* gone from the config: waits for its hooks */
	uint64_t start_ms;		/* when the running start was asked for */
	uint32_t expect[HOOK_OWNER_JOBS_MAX];
	int nexpect;
};

struct engine_ifname {
	uint32_t index;
	uint64_t at_ms;
	char name[IF_NAMESIZE];
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
	struct engine_ifname ifcache[ENGINE_IFCACHE];
	struct hooks *hooks;
	struct deferred *deferred;
	struct engine_counters counters;
	int exit_status;
};

static void
engine_log_packet(const char *source, const struct pkt *p, const char *what)
{
	char src[64], dst[64], protobuf[16];
	const char *proto;

	if (log_verbosity() < 1)
		return;
	pkt_addr_str(p, p->src, src, sizeof(src));
	pkt_addr_str(p, p->dst, dst, sizeof(dst));
	proto = pkt_proto_name(p->proto, protobuf, sizeof(protobuf));
	if (p->flags & PKT_F_PORTS)
		log_debug("%s: %s %s:%u -> %s:%u len %u: %s", source, proto, src,
		    p->sport, dst, p->dport, p->ip_len, what);
	else
		log_debug("%s: %s %s -> %s len %u: %s", source, proto, src, dst,
		    p->ip_len, what);
}

/*
 * Parse one packet. A malformed one is counted and logged; it gets no
 * trigger, and the caller lets it pass: the kernel's own stack judges it.
 */
static int
engine_parse(struct engine *e, const char *source, const uint8_t *buf,
    size_t len, struct pkt *p)
{
	if (pkt_parse(buf, len, p) != PKT_OK) {
		e->counters.malformed++;
		log_debug("%s: malformed packet (%zu bytes): %s", source, len, p->error);
		return -1;
	}
	e->counters.parsed++;
	return 0;
}

static void
engine_run_hook(struct engine *e, const struct config_knock *k,
    const struct config_hook *hook, enum hook_event event, int family,
    const uint8_t *addr)
{
	struct hook_request req = {
		.owner = (void *)(uintptr_t)k,
		.name = k->name,
		.event = event,
		.hook = hook,
		.timeout_ms = (uint32_t)e->cfg->engine.hook_timeout_ms,
		.family = (uint8_t)family,
		.proto = k->open[0].proto,
		.port = k->open[0].port,
	};

	memcpy(req.addr, addr, sizeof(req.addr));
	hook_run(e->hooks, &req);	/* a refusal is logged there */
}

/* A source completed k's sequence: the kernel opens the service to it. */
static void
engine_knock_opened(struct engine *e, const struct config_knock *k,
    int family, const uint8_t *addr, uint64_t now)
{
	struct deferred_item later = { .family = (uint8_t)family };
	char ip[64], timeout[32];
	struct pkt view = { .family = (uint8_t)family };

	pkt_addr_str(&view, addr, ip, sizeof(ip));
	log_info("knock %s: %s completed the sequence, allowed for %s", k->name, ip,
	    config_duration_str(k->allow_timeout_ms, timeout, sizeof(timeout)));
	nft_allow_add(e->nft, k->name, family, addr, k->allow_timeout_ms);
	if (k->exec.argv == NULL)
		return;
	engine_run_hook(e, k, &k->exec, HOOK_EV_OPEN, family, addr);
	if (k->exec_stop.argv == NULL)
		return;
	later.when_ms = now + k->exec_stop_delay_ms;
	snprintf(later.trigger, sizeof(later.trigger), "%s", k->name);
	memcpy(later.addr, addr, sizeof(later.addr));
	if (deferred_push(e->deferred, &later) < 0) {
		e->counters.deferred_refused++;
		log_warnx("knock %s: %d exec_stop hooks already waiting, not running "
		    "one for %s", k->name, ENGINE_DEFERRED_MAX, ip);
	}
}

static const struct config_knock *
engine_find_knock(const struct config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->nknocks; i++)
		if (strcmp(cfg->knocks[i].name, name) == 0)
			return &cfg->knocks[i];
	return NULL;
}

/* --- activity triggers ------------------------------------------------ */

static const char *
engine_ifname(struct engine *e, uint32_t index, uint64_t now)
{
	struct engine_ifname *c = &e->ifcache[index % ENGINE_IFCACHE];

	if (index == 0)
		return NULL;
	if (c->index == index && now - c->at_ms < ENGINE_IFCACHE_MS)
		return c->name;
	if (if_indextoname(index, c->name) == NULL) {
		c->index = 0;
		return NULL;
	}
	c->index = index;
	c->at_ms = now;
	return c->name;
}

static struct nfq_source *
engine_queue_source(const struct engine *e, uint16_t queue)
{
	int i;

	for (i = 0; i < e->nqueues; i++)
		if (nfq_source_queue(e->queues[i]) == queue)
			return e->queues[i];
	return NULL;
}

static void engine_act_apply(struct engine_act *, const struct act_actions *,
    uint64_t);

static void
engine_act_free(struct engine_act *ea)
{
	act_free(&ea->st);
	free(ea);
}

/* A retired trigger whose last hook result came in. */
static void
engine_act_drop_retired(struct engine *e, struct engine_act *ea)
{
	int i;

	for (i = 0; i < e->nretired; i++)
		if (e->retired[i] == ea) {
			e->retired[i] = e->retired[--e->nretired];
			break;
		}
	engine_act_free(ea);
}

static void
engine_act_log_done(const struct engine_act *ea, enum act_state before,
    enum hook_event ev, const struct act_actions *out, uint64_t now)
{
	const struct activity *a = &ea->st;
	char d[32];

	if (before == ACT_STARTING && a->state == ACT_ACTIVE)
		log_info("activity %s: up, start took %llu ms; %d held packets "
		    "accepted", ea->name, (unsigned long long)(now - ea->start_ms),
		    out->nrelease);
	else if (before == ACT_STARTING && a->state == ACT_BACKOFF)
		log_warnx("activity %s: start failed; %d held packets %s, next "
		    "start in %s at the earliest", ea->name, out->nrelease,
		    out->release_accept ? "accepted" : "dropped",
		    config_duration_str(a->cfg->retry_after_ms, d, sizeof(d)));
	else if (before == ACT_STOPPING && ev == HOOK_EV_STOP)
		log_info("activity %s: stopped%s", ea->name, a->state ==
		    ACT_STARTING ? "; traffic came meanwhile: starting again" : "");
}

/* The spawner's report on a start or stop of ea. */
static void
engine_act_done(void *arg, void *owner, enum hook_event ev,
    const struct hook_result *r)
{
	struct engine_act *ea = owner;
	struct act_actions out;
	enum act_state before = ea->st.state;
	uint64_t now = loop_now_ms();
	uint32_t epoch;
	bool ok = r->status == HOOK_OK;

	(void)arg;
	if (ea->nexpect == 0) {
		log_warnx("activity %s: result of a %s nobody waits for", ea->name,
		    hook_event_name(ev));
		return;
	}
	epoch = ea->expect[0];
	memmove(ea->expect, ea->expect + 1, (size_t)--ea->nexpect * sizeof(ea->expect[0]));
	if (ea->retired) {
		if (ea->nexpect == 0)
			engine_act_drop_retired(ea->e, ea);
		return;
	}
	if (ev == HOOK_EV_START)
		act_start_done(&ea->st, epoch, ok, now, &out);
	else
		act_stop_done(&ea->st, epoch, ok, now, &out);
	engine_act_log_done(ea, before, ev, &out, now);
	engine_act_apply(ea, &out, now);
}

static void
engine_act_hook(struct engine_act *ea, enum hook_event ev, uint32_t epoch,
    uint64_t now)
{
	const struct config_activity *c = ea->st.cfg;
	struct act_actions out;
	struct hook_request req = {
		.owner = ea,
		.name = ea->name,
		.event = ev,
		.hook = ev == HOOK_EV_START ? &c->start : &c->stop,
		.timeout_ms = (uint32_t)ea->e->cfg->engine.hook_timeout_ms,
		.coalesce = true,	/* repeated starts are one start */
		.done = engine_act_done,
		.arg = ea,
	};
	int rc;

	if (ev == HOOK_EV_START)
		ea->start_ms = now;
	rc = hook_run(ea->e->hooks, &req);
	if (rc == 0) {
		/* hook_run() queues at most HOOK_OWNER_JOBS_MAX per owner. */
		if (ea->nexpect < HOOK_OWNER_JOBS_MAX)
			ea->expect[ea->nexpect++] = epoch;
		return;
	}
	if (rc == 1 && ea->nexpect > 0) {
		/* Merged into the owner's last request: its result is ours now. */
		ea->expect[ea->nexpect - 1] = epoch;
		return;
	}
	/* Refused (logged by hook_run): as if it had failed at once. */
	if (ev == HOOK_EV_START) {
		act_start_done(&ea->st, epoch, false, now, &out);
		engine_act_log_done(ea, ACT_STARTING, ev, &out, now);
	} else
		act_stop_done(&ea->st, epoch, false, now, &out);
	engine_act_apply(ea, &out, now);
}

/* Do what the state machine asked for: verdicts, the kernel switch, hooks. */
static void
engine_act_apply(struct engine_act *ea, const struct act_actions *out,
    uint64_t now)
{
	struct engine *e = ea->e;
	struct nfq_source *s;
	int i;

	for (i = 0; i < out->nrelease; i++) {
		if ((s = engine_queue_source(e, out->release[i].queue)) == NULL) {
			log_warnx("activity %s: held packet %u of queue %u: the "
			    "queue is gone", ea->name, out->release[i].id,
			    out->release[i].queue);
			continue;
		}
		nfq_source_verdict(s, out->release[i].id,
		    out->release_accept ? NF_ACCEPT : NF_DROP);
	}
	if (out->kernel_sampling >= 0)
		nft_activity_sampling(e->nft, ea->name, out->kernel_sampling == 1);
	if (out->run_stop)
		engine_act_hook(ea, HOOK_EV_STOP, out->epoch, now);
	if (out->run_start)
		engine_act_hook(ea, HOOK_EV_START, out->epoch, now);
}

/*
 * A packet for the activity triggers of its source. The first trigger it
 * matches (in file order) judges it: holds it, or not; every matching
 * trigger counts it as traffic. pkt is NULL for NFLOG packets.
 */
static int
engine_act_packet(struct engine *e, const struct pkt *p, uint32_t indev,
    uint32_t outdev, const struct act_held *pkt, enum config_source source,
    uint64_t now)
{
	const struct config_activity *c;
	const char *iif = NULL, *oif = NULL;
	struct engine_act *ea;
	struct act_actions out;
	enum act_state before;
	enum act_verdict v;
	int i, verdict = NF_ACCEPT;
	bool judged = false, restart;

	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		c = ea->st.cfg;
		if (c->source != source)
			continue;
		if (iif == NULL && match_uses_ifs(&c->match, MATCH_IIF))
			iif = engine_ifname(e, indev, now);
		if (oif == NULL && match_uses_ifs(&c->match, MATCH_OIF))
			oif = engine_ifname(e, outdev, now);
		if (!match_packet(&c->match, p, iif, oif))
			continue;
		before = ea->st.state;
		restart = ea->st.restart;
		v = act_packet(&ea->st, judged ? NULL : pkt, now, &out);
		if (!judged && pkt != NULL) {
			judged = true;
			verdict = v == ACT_HOLD ? NFQ_HOLD : v == ACT_DROP ?
			    NF_DROP : NF_ACCEPT;
		}
		if (before != ACT_STARTING && ea->st.state == ACT_STARTING)
			log_info("activity %s: traffic on the path: starting",
			    ea->name);
		else if (!restart && ea->st.restart)
			log_info("activity %s: traffic while stopping: starting "
			    "again after stop", ea->name);
		engine_act_apply(ea, &out, now);
	}
	return verdict;
}

static uint64_t
engine_act_next_deadline(const struct engine *e)
{
	uint64_t next = ACT_NO_DEADLINE, d;
	int i;

	for (i = 0; i < e->nacts; i++)
		if ((d = act_next_deadline(&e->acts[i]->st)) < next)
			next = d;
	return next;
}

static void
engine_act_expire(struct engine *e, uint64_t now)
{
	struct act_actions out;
	struct engine_act *ea;
	char d[32];
	int i;

	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		if (act_next_deadline(&ea->st) > now)
			continue;
		act_expire(&ea->st, now, &out);
		log_info("activity %s: idle for %s: %s", ea->name,
		    config_duration_str(ea->st.cfg->ttl_ms, d, sizeof(d)),
		    out.run_stop ? "stopping" : "standby (no stop hook)");
		engine_act_apply(ea, &out, now);
	}
}

/*
 * Every trigger back to standby (SIGHUP, exit): held packets get their
 * start_failure verdict; with hooks, stop runs where start ran or runs.
 */
static void
engine_act_reset_all(struct engine *e, bool hooks)
{
	struct act_actions out;
	struct engine_act *ea;
	uint64_t now = loop_now_ms();
	int i;

	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		if (ea->st.state != ACT_STANDBY || ea->st.nheld > 0)
			log_info("activity %s: reset from %s to standby%s", ea->name,
			    act_state_name(ea->st.state), hooks &&
			    (ea->st.state == ACT_STARTING || ea->st.state ==
			    ACT_ACTIVE) && ea->st.cfg->stop.argv != NULL ?
			    ": stopping" : "");
		act_reset(&ea->st, &out);
		if (!hooks)
			out.run_stop = out.run_start = false;
		engine_act_apply(ea, &out, now);
	}
}

static struct engine_act *
engine_act_take(struct engine *e, const char *name)
{
	struct engine_act *ea;
	int i;

	for (i = 0; i < e->nacts; i++)
		if (e->acts[i] != NULL && strcmp(e->acts[i]->name, name) == 0) {
			ea = e->acts[i];
			e->acts[i] = NULL;
			return ea;
		}
	for (i = 0; i < e->nretired; i++)
		if (strcmp(e->retired[i]->name, name) == 0) {
			ea = e->retired[i];
			e->retired[i] = e->retired[--e->nretired];
			ea->retired = false;
			return ea;
		}
	return NULL;
}

static void
engine_act_retire(struct engine *e, struct engine_act *ea)
{
	struct engine_act **r;

	if (ea->nexpect == 0) {
		engine_act_free(ea);
		return;
	}
	if ((r = reallocarray(e->retired, (size_t)e->nretired + 1, sizeof(*r))) == NULL)
		fatal("activity");
	e->retired = r;
	ea->retired = true;
	e->retired[e->nretired++] = ea;
}

/*
 * The triggers of cfg, in its order. A trigger keeps its struct (its hook
 * owner) across reloads by name, so its hooks stay in order; call it with
 * every trigger in standby (engine_act_reset_all()).
 */
static void
engine_act_bind(struct engine *e, const struct config *cfg)
{
	struct engine_act **next;
	struct engine_act *ea;
	int i;

	next = calloc((size_t)cfg->nactivities + 1, sizeof(*next));
	if (next == NULL)
		fatal("activity");
	for (i = 0; i < cfg->nactivities; i++) {
		if ((ea = engine_act_take(e, cfg->activities[i].name)) != NULL) {
			if (act_configure(&ea->st, &cfg->activities[i]) < 0)
				log_warn("activity %s: no room to hold packets", ea->name);
		} else {
			if ((ea = calloc(1, sizeof(*ea))) == NULL)
				fatal("activity");
			ea->e = e;
			snprintf(ea->name, sizeof(ea->name), "%s",
			    cfg->activities[i].name);
			if (act_init(&ea->st, &cfg->activities[i]) < 0)
				log_warn("activity %s: no room to hold packets", ea->name);
		}
		next[i] = ea;
	}
	for (i = 0; i < e->nacts; i++)
		if (e->acts[i] != NULL)
			engine_act_retire(e, e->acts[i]);
	free(e->acts);
	e->acts = next;
	e->nacts = cfg->nactivities;
}

static void
engine_act_free_all(struct engine *e)
{
	int i;

	for (i = 0; i < e->nacts; i++)
		engine_act_free(e->acts[i]);
	for (i = 0; i < e->nretired; i++)
		engine_act_free(e->retired[i]);
	free(e->acts);
	free(e->retired);
	e->acts = e->retired = NULL;
	e->nacts = e->nretired = 0;
}

static void
engine_log_act_counters(const struct engine *e)
{
	const struct act_counters *c;
	const struct engine_act *ea;
	int i;

	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		c = &ea->st.c;
		log_info("activity %s: %s, %llu packets, %llu held, %llu released, "
		    "%llu given the start_failure verdict, %llu over the hold "
		    "bound, %llu in back-off, %llu starts (%llu failed), %llu stops",
		    ea->name, act_state_name(ea->st.state),
		    (unsigned long long)c->packets, (unsigned long long)c->held,
		    (unsigned long long)c->released,
		    (unsigned long long)c->failed_released,
		    (unsigned long long)c->overflow, (unsigned long long)c->backoff,
		    (unsigned long long)c->starts,
		    (unsigned long long)c->start_failures,
		    (unsigned long long)c->stops);
	}
}

/* --- count triggers --------------------------------------------------- */

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
		} else if (c->kind == CONFIG_COUNT_THRESHOLD)
			log_info("count %s: %s blocked by the kernel", c->name, ip);
		else
			log_debug("count %s: %u more packets, the last from %s: "
			    "exec", c->name, c->every, ip);
		if (r->fired[i].hook)
			engine_count_hook(e, c, r);
	}
}

/*
 * A packet from the count chains (input, forward: docs/count.md): every
 * queue-fed count trigger whose match fits counts it.
 */
static int
engine_count_packet(struct engine *e, const struct pkt *p, uint32_t indev,
    uint32_t outdev, uint64_t now)
{
	const char *iif = NULL, *oif = NULL;
	struct count_result r;

	if (count_set_uses_ifs(e->counts, MATCH_IIF))
		iif = engine_ifname(e, indev, now);
	if (count_set_uses_ifs(e->counts, MATCH_OIF))
		oif = engine_ifname(e, outdev, now);
	count_set_packet(e->counts, p, iif, oif, now, &r);
	engine_count_apply(e, &r);
	return r.verdict == COUNT_DROP ? NF_DROP : NF_ACCEPT;
}

static void
engine_log_count_counters(const struct engine *e)
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

static int
engine_on_queued(void *arg, uint16_t queue, const struct nfq_packet *np)
{
	struct engine *e = arg;
	struct knock_result kr;
	struct act_held held;
	struct pkt p;
	char source[16];
	uint64_t now;
	int i, verdict;

	snprintf(source, sizeof(source), "queue %u", queue);
	if (engine_parse(e, source, np->payload, np->payload_len, &p) < 0)
		return NF_ACCEPT;
	now = loop_now_ms();
	knock_set_packet(e->knocks, &p, now, &kr);
	for (i = 0; i < kr.nopened; i++)
		engine_knock_opened(e, kr.opened[i], kr.family, kr.addr, now);
	if (kr.verdict == KNOCK_DROP) {
		engine_log_packet(source, &p, "knock frame, drop");
		return NF_DROP;
	}
	/*
	 * Only a packet queued before routing may be held: one from a later
	 * hook was routed already (Decision 4). It still counts as traffic.
	 */
	held = (struct act_held){ .id = np->id, .len = np->orig_len, .queue = queue };
	verdict = engine_act_packet(e, &p, np->indev, np->outdev,
	    np->hook == NF_INET_PRE_ROUTING ? &held : NULL, CONFIG_SOURCE_QUEUE, now);
	/*
	 * Count triggers take what their chains queue, after routing; a
	 * packet that an activity rule queued in prerouting is not counted
	 * there too.
	 */
	if (np->hook == NF_INET_LOCAL_IN || np->hook == NF_INET_FORWARD)
		verdict = engine_count_packet(e, &p, np->indev, np->outdev, now);
	engine_log_packet(source, &p, verdict == NFQ_HOLD ? "held" :
	    verdict == NF_DROP ? "drop" : "accept");
	return verdict;
}

static void
engine_on_logged(void *arg, uint16_t group, const struct nflog_packet *lp)
{
	struct engine *e = arg;
	struct count_result r;
	struct pkt p;
	char source[24];

	snprintf(source, sizeof(source), "nflog group %u", group);
	if (engine_parse(e, source, lp->payload, lp->payload_len, &p) < 0)
		return;
	engine_log_packet(source, &p, "seen");
	/* Count rules log with their trigger's prefix; activity rules without. */
	if (count_set_logged(e->counts, lp->prefix, &p, loop_now_ms(), &r) == 0) {
		engine_count_apply(e, &r);
		return;
	}
	engine_act_packet(e, &p, lp->indev, lp->outdev, NULL,
	    CONFIG_SOURCE_NFLOG, loop_now_ms());
}

/* Arm the timer for the earliest of the triggers' and the deferred deadlines. */
static void
engine_arm_timer(struct engine *e)
{
	uint64_t next = knock_set_next_deadline(e->knocks);
	uint64_t later = deferred_next(e->deferred);
	uint64_t act = engine_act_next_deadline(e);
	uint64_t count = count_set_next_deadline(e->counts);

	if (later != 0 && later < next)
		next = later;
	if (count < next)
		next = count;
	if (act != ACT_NO_DEADLINE && act < next)
		next = act;
	loop_timer_at(e->loop, next == TRACKER_NO_DEADLINE ? 0 : next);
}

static void
engine_on_timer(void *arg, uint64_t now)
{
	struct engine *e = arg;
	const struct config_knock *k;
	struct deferred_item it;

	knock_set_expire(e->knocks, now);
	count_set_expire(e->counts, now);
	engine_act_expire(e, now);
	while (deferred_pop_due(e->deferred, now, &it)) {
		/* The trigger may have left the config by a reload since. */
		k = engine_find_knock(e->cfg, it.trigger);
		if (k != NULL && k->exec_stop.argv != NULL)
			engine_run_hook(e, k, &k->exec_stop, HOOK_EV_CLOSE, it.family, it.addr);
	}
	engine_arm_timer(e);
}

/* After each loop pass: one nftables batch for everything the pass decided. */
static void
engine_on_pass(void *arg)
{
	struct engine *e = arg;
	int i;

	/* Verdicts for held packets that hook results released in this pass. */
	for (i = 0; i < e->nqueues; i++)
		nfq_source_flush(e->queues[i]);
	if (nft_batch_pending(e->nft) > 0 && nft_batch_flush(e->nft) < 0)
		log_warnx("nftables: batch not sent; the next pass retries");
	engine_arm_timer(e);
}

static void
engine_nft_monitor(void *arg)
{
	struct engine *e = arg;

	nft_monitor_handle(e->nft);
}

static void
engine_queue_readable(void *arg)
{
	struct nfq_source *s = arg;

	if (nfq_source_receive(s) < 0)
		log_warn("queue %u: receive", nfq_source_queue(s));
}

static void
engine_nflog_readable(void *arg)
{
	struct nflog_source *s = arg;

	if (nflog_source_receive(s) < 0)
		log_warn("nflog group %u: receive", nflog_source_group(s));
}

static void
engine_log_knock_counters(const struct engine *e)
{
	struct knock_counters kc;
	int i;

	for (i = 0; i < knock_set_count(e->knocks); i++) {
		knock_set_counters(e->knocks, i, &kc);
		log_info("knock %s: %llu frames, %llu started, %llu opened, %llu resets, "
		    "%llu replays refused, %llu state errors, %llu tracked, %llu evicted",
		    knock_set_trigger(e->knocks, i)->name,
		    (unsigned long long)kc.frames, (unsigned long long)kc.started,
		    (unsigned long long)kc.opened, (unsigned long long)kc.resets,
		    (unsigned long long)kc.replays, (unsigned long long)kc.state_errors,
		    (unsigned long long)kc.tracker.tracked,
		    (unsigned long long)(kc.tracker.evicted_fresh + kc.tracker.evicted_progress));
	}
}

static void
engine_log_counters(const struct engine *e)
{
	const struct nfq_counters *qc;
	const struct nflog_counters *lc;
	const struct nft_counters *nc;
	int i;

	for (i = 0; i < e->nqueues; i++) {
		qc = nfq_source_counters(e->queues[i]);
		log_info("queue %u: %llu packets, %llu accepted, %llu dropped, "
		    "%llu held (%llu still held), %llu overruns, %llu verdict errors",
		    nfq_source_queue(e->queues[i]),
		    (unsigned long long)qc->packets, (unsigned long long)qc->accepted,
		    (unsigned long long)qc->dropped, (unsigned long long)qc->held,
		    (unsigned long long)(qc->held - qc->held_verdicts),
		    (unsigned long long)qc->enobufs,
		    (unsigned long long)qc->verdict_errors);
	}
	if (e->nflog != NULL) {
		lc = nflog_source_counters(e->nflog);
		log_info("nflog group %u: %llu packets, %llu overruns",
		    nflog_source_group(e->nflog), (unsigned long long)lc->packets,
		    (unsigned long long)lc->enobufs);
	}
	log_info("parser: %llu packets parsed, %llu malformed",
	    (unsigned long long)e->counters.parsed,
	    (unsigned long long)e->counters.malformed);
	engine_log_knock_counters(e);
	engine_log_act_counters(e);
	engine_log_count_counters(e);
	nc = nft_counters(e->nft);
	log_info("nftables: %llu batches, %llu elements added, %llu refused, "
	    "%llu set full, %llu table rebuilds", (unsigned long long)nc->batches_sent,
	    (unsigned long long)nc->elems_added, (unsigned long long)nc->elems_failed,
	    (unsigned long long)nc->set_full, (unsigned long long)nc->table_recreated);
}

static void
engine_close_sources(struct engine *e)
{
	int i;

	for (i = 0; i < e->nqueues; i++) {
		loop_del_fd(e->loop, nfq_source_fd(e->queues[i]));
		nfq_source_close(e->queues[i]);
	}
	e->nqueues = 0;
	if (e->nflog != NULL) {
		loop_del_fd(e->loop, nflog_source_fd(e->nflog));
		nflog_source_close(e->nflog);
		e->nflog = NULL;
	}
}

static int
engine_open_sources(struct engine *e, const struct config_engine *ce)
{
	struct nfq_options opt = {
		.maxlen = ce->queue_maxlen,
		.copy_range = ce->copy_range,
		.fail_open = ce->fail_open,
	};
	unsigned q;

	for (q = ce->queue_first; q <= ce->queue_last; q++) {
		if (e->nqueues == ENGINE_QUEUES_MAX) {
			log_warnx("more than %d queues", ENGINE_QUEUES_MAX);
			return -1;
		}
		opt.queue = (uint16_t)q;
		e->queues[e->nqueues] = nfq_source_open(&opt, engine_on_queued, e);
		if (e->queues[e->nqueues] == NULL)
			return -1;
		loop_add_fd(e->loop, nfq_source_fd(e->queues[e->nqueues]),
		    engine_queue_readable, e->queues[e->nqueues]);
		e->nqueues++;
		log_info("queue %u: bound (copy %u bytes, queue length %u, fail-open %s)",
		    q, ce->copy_range, ce->queue_maxlen, ce->fail_open ? "on" : "off");
	}
	if (ce->nflog_group >= 0) {
		e->nflog = nflog_source_open((uint16_t)ce->nflog_group, ce->copy_range,
		    engine_on_logged, e);
		if (e->nflog == NULL)
			return -1;
		loop_add_fd(e->loop, nflog_source_fd(e->nflog), engine_nflog_readable, e->nflog);
		log_info("nflog group %d: bound", ce->nflog_group);
	}
	return 0;
}

static bool
engine_sources_differ(const struct config_engine *a, const struct config_engine *b)
{
	return a->queue_first != b->queue_first || a->queue_last != b->queue_last ||
	    a->nflog_group != b->nflog_group || a->fail_open != b->fail_open ||
	    a->queue_maxlen != b->queue_maxlen || a->copy_range != b->copy_range;
}

/*
 * SIGHUP: a new config with errors is refused and the running one, with all
 * its state, stays. Sources are rebound only when their settings changed.
 * Activity triggers go back to standby (stop runs where the path may be
 * up); held packets get their verdict before any queue is rebound.
 */
static void
engine_reload(struct engine *e)
{
	struct config *next;
	struct knock_set *knocks;
	struct count_set *counts;
	int nerrors = 0, kept;

	next = config_load(e->cfg->path, true, stderr, &nerrors);
	if (next == NULL) {
		log_warnx("reload: %d error%s in %s, keeping the running configuration",
		    nerrors, nerrors == 1 ? "" : "s", e->cfg->path);
		return;
	}
	knocks = knock_set_new(next, NULL);
	counts = count_set_new(next, NULL);
	if (knocks == NULL || counts == NULL || nft_table_sync(e->nft, next) < 0) {
		log_warnx("reload: %s cannot be applied, keeping the running configuration",
		    next->path);
		knock_set_free(knocks);
		count_set_free(counts);
		config_free(next);
		/* The table may be half way: bring it back to the running shape. */
		nft_table_sync(e->nft, e->cfg);
		return;
	}
	engine_act_reset_all(e, true);
	if (engine_sources_differ(&e->cfg->engine, &next->engine)) {
		engine_close_sources(e);
		if (engine_open_sources(e, &next->engine) < 0) {
			log_warnx("reload: cannot bind the new sources, restoring the old ones");
			engine_close_sources(e);
			if (engine_open_sources(e, &e->cfg->engine) < 0)
				log_warnx("reload: old sources could not be restored either");
			knock_set_free(knocks);
			count_set_free(counts);
			config_free(next);
			nft_table_sync(e->nft, e->cfg);
			return;
		}
	}
	engine_act_bind(e, next);
	kept = knock_set_adopt(knocks, e->knocks);
	knock_set_free(e->knocks);
	e->knocks = knocks;
	kept += count_set_adopt(counts, e->counts);
	count_set_free(e->counts);
	e->counts = counts;
	config_free(e->cfg);
	e->cfg = next;
	log_info("reload: %s loaded (%d knock and count trigger%s kept their "
	    "state, %d activity trigger%s in standby)", e->cfg->path, kept,
	    kept == 1 ? "" : "s", e->nacts, e->nacts == 1 ? "" : "s");
}

static void
engine_on_signal(void *arg, int signo)
{
	struct engine *e = arg;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", strsignal(signo));
		loop_stop(e->loop);
		break;
	case SIGHUP:
		engine_reload(e);
		break;
	case SIGUSR1:
		engine_log_counters(e);
		break;
	}
}

/* The table first: guards are in place before any packet reaches us. */
static int
engine_open_nft(struct engine *e)
{
	e->nft = nft_open();
	if (e->nft == NULL)
		return -1;
	if (nft_table_sync(e->nft, e->cfg) < 0)
		return -1;
	if (loop_add_fd(e->loop, nft_monitor_fd(e->nft), engine_nft_monitor, e) < 0)
		fatal("nftables monitor");
	return 0;
}

struct engine *
engine_open(struct config *cfg, struct spawn *sp)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0 };
	struct engine *e;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		fatal("engine");
	e->cfg = cfg;
	e->loop = loop_new();
	e->deferred = deferred_new(ENGINE_DEFERRED_MAX);
	if (e->loop == NULL || e->deferred == NULL)
		fatal("engine");
	if (loop_set_signals(e->loop, signals, engine_on_signal, e) < 0 ||
	    loop_set_timer_fn(e->loop, engine_on_timer, e) < 0)
		fatal("signalfd, timerfd");
	loop_set_pass_fn(e->loop, engine_on_pass, e);
	e->hooks = hook_open(sp, e->loop);
	e->knocks = knock_set_new(cfg, NULL);
	e->counts = count_set_new(cfg, NULL);
	if (e->hooks == NULL || e->knocks == NULL || e->counts == NULL ||
	    engine_open_nft(e) < 0 || engine_open_sources(e, &cfg->engine) < 0) {
		engine_close(e);
		return NULL;
	}
	engine_act_bind(e, cfg);
	return e;
}

int
engine_run(struct engine *e)
{
	if (loop_run(e->loop) < 0)
		return 1;
	return e->exit_status;
}

void
engine_close(struct engine *e)
{
	if (e == NULL)
		return;
	/* Held packets get their verdict before the queues go; no hook runs now. */
	engine_act_reset_all(e, false);
	if (e->nft != NULL && e->knocks != NULL && e->counts != NULL)
		engine_log_counters(e);
	engine_close_sources(e);
	nft_close(e->nft);
	hook_close(e->hooks);
	engine_act_free_all(e);
	knock_set_free(e->knocks);
	count_set_free(e->counts);
	deferred_free(e->deferred);
	loop_free(e->loop);
	config_free(e->cfg);
	free(e);
}
