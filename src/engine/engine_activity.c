/*
 * The engine's side of activity triggers: each trigger's state machine
 * with its hook owner, held packets' verdicts, the kernel's sampling
 * switch, start and stop hooks and their results, TTL expiry, and the
 * triggers kept by name across reloads.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "engine/engine_priv.h"
#include "engine/hook.h"
#include "util/log.h"
#include "engine/loop.h"
#include "core/match.h"
#include "kernel/nfq.h"
#include "kernel/nft.h"
#include "core/trigger_activity.h"
#include "engine/event.h"

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
	int8_t sampling_want;		/* -1, or the kernel switch for the pass's flush */
};

/* The config has at most CONFIG_TRIGGERS_MAX triggers in all: a bit each. */
_Static_assert(CONFIG_TRIGGERS_MAX <= MATCH_INDEX_BITS,
    "every activity trigger has a bit in the dispatch index");

static void engine_act_apply(struct engine_act *, const struct act_actions *,
    uint64_t);

static struct nfq_source *
engine_queue_source(const struct engine *e, uint16_t queue)
{
	int i;

	for (i = 0; i < e->nqueues; i++)
		if (nfq_source_queue(e->queues[i]) == queue)
			return e->queues[i];
	return NULL;
}

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
		event_log(ea->e->events, now, EVENT_STARTED, "activity", ea->name, 0,
		    NULL, NULL);
	else if (before == ACT_STOPPING && ev == HOOK_EV_STOP)
		event_log(ea->e->events, now, EVENT_STOPPED, "activity", ea->name, 0,
		    NULL, NULL);
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
	/* A kernel round trip: the pass's flush makes it (engine_act_flush). */
	if (out->kernel_sampling >= 0)
		ea->sampling_want = (int8_t)out->kernel_sampling;
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
	int verdict = NF_ACCEPT;
	bool judged = false, restart;
	uint64_t bits;

	/* Lowest bit first: the triggers in file order. */
	for (bits = match_index_candidates(e->act_index, p); bits != 0;
	    bits &= bits - 1) {
		ea = e->acts[__builtin_ctzll(bits)];
		c = ea->st.cfg;
		if (c->source != source)
			continue;
		if (iif == NULL && match_uses_ifs(&c->match, MATCH_IIF))
			iif = ifname_get(&e->ifnames, indev, now);
		if (oif == NULL && match_uses_ifs(&c->match, MATCH_OIF))
			oif = ifname_get(&e->ifnames, outdev, now);
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

/*
 * A malformed packet queued before routing or at the output hook, where
 * activity rules queue: the first queue-mode trigger whose match its
 * header fits gives its path's verdict (act_unparsed()); none: -1.
 */
static int
engine_act_unparsed(struct engine *e, const struct engine_packet *ep,
    uint64_t now)
{
	const struct pkt *p = ep->pkt;
	const struct config_activity *c;
	const char *iif = NULL, *oif = NULL;
	struct engine_act *ea;
	int i;

	if (ep->hook != NF_INET_PRE_ROUTING && ep->hook != NF_INET_LOCAL_OUT)
		return -1;
	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		c = ea->st.cfg;
		if (c->source != CONFIG_SOURCE_QUEUE)
			continue;
		if (iif == NULL && match_uses_ifs(&c->match, MATCH_IIF))
			iif = ifname_get(&e->ifnames, ep->indev, now);
		if (oif == NULL && match_uses_ifs(&c->match, MATCH_OIF))
			oif = ifname_get(&e->ifnames, ep->outdev, now);
		if (match_packet_header(&c->match, p, iif, oif))
			return act_unparsed(&ea->st) == ACT_DROP ? NF_DROP : NF_ACCEPT;
	}
	return -1;
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
 * Back to standby: held packets get their start_failure verdict; with
 * hooks, stop runs where start ran or runs.
 */
static void
engine_act_reset(struct engine_act *ea, bool hooks, uint64_t now)
{
	struct act_actions out;

	if (ea->st.state != ACT_STANDBY || ea->st.nheld > 0)
		log_info("activity %s: reset from %s to standby%s", ea->name,
		    act_state_name(ea->st.state), hooks &&
		    (ea->st.state == ACT_STARTING || ea->st.state ==
		    ACT_ACTIVE) && ea->st.cfg->stop.argv != NULL ?
		    ": stopping" : "");
	act_reset(&ea->st, &out);
	if (!hooks)
		out.run_stop = out.run_start = false;
	if (out.run_stop)
		event_log(ea->e->events, now, EVENT_STOPPED, "activity", ea->name, 0,
		    NULL, "reset");
	engine_act_apply(ea, &out, now);
}

static const struct config_activity *
engine_act_find_config(const struct config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->nactivities; i++)
		if (strcmp(cfg->activities[i].name, name) == 0)
			return &cfg->activities[i];
	return NULL;
}

/*
 * Back to standby before a reload commits or the queues close (quiesce).
 * With next (a reload, the queues kept), a trigger that next configures
 * exactly as now keeps its state: an active path stays up, its stop does
 * not run (docs/design.md, decision 17); one that changed or went goes to
 * standby. Without next, every trigger does.
 */
static void
engine_act_quiesce(struct engine *e, const struct config *next, bool hooks)
{
	const struct config_activity *c;
	uint64_t now = loop_now_ms();
	int i;

	for (i = 0; i < e->nacts; i++) {
		c = next == NULL ? NULL :
		    engine_act_find_config(next, e->acts[i]->name);
		if (c == NULL || !act_config_same(e->acts[i]->st.cfg, c))
			engine_act_reset(e->acts[i], hooks, now);
	}
}

int
engine_act_reset_one(struct engine *e, const char *name)
{
	int i;

	for (i = 0; i < e->nacts; i++)
		if (strcmp(e->acts[i]->name, name) == 0) {
			engine_act_reset(e->acts[i], true, loop_now_ms());
			return 0;
		}
	return -1;
}

const struct activity *
engine_act_state(const struct engine *e, int i)
{
	return i < 0 || i >= e->nacts ? NULL : &e->acts[i]->st;
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

/* Room in e->retired for it was made by engine_act_prepare(). */
static void
engine_act_retire(struct engine *e, struct engine_act *ea)
{
	if (ea->nexpect == 0) {
		engine_act_free(ea);
		return;
	}
	ea->retired = true;
	ea->st.cfg = NULL;	/* its config is freed with the reload */
	e->retired[e->nretired++] = ea;
}

/*
 * What binding a config's triggers needs, allocated before the commit,
 * which cannot fail: a reload short of memory is refused and the running
 * triggers stay.
 */
struct act_staged {
	struct engine_act **next;	/* one per trigger, and a NULL */
	struct engine_act **fresh;	/* a blank struct per trigger, for new names */
	int n;
};

static void
engine_act_discard(void *arg)
{
	struct act_staged *st = arg;
	int i;

	if (st == NULL)
		return;
	for (i = 0; st->fresh != NULL && i < st->n; i++)
		free(st->fresh[i]);
	free(st->fresh);
	free(st->next);
	free(st);
}

static int
engine_act_prepare(struct engine *e, const struct config *cfg, void **out)
{
	size_t room = (size_t)e->nretired + (size_t)e->nacts + 1;
	struct act_staged *st;
	struct engine_act **r;
	int i;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto nomem;
	st->n = cfg->nactivities;
	if ((st->next = calloc((size_t)st->n + 1, sizeof(*st->next))) == NULL ||
	    (st->fresh = calloc((size_t)st->n + 1, sizeof(*st->fresh))) == NULL)
		goto nomem;
	for (i = 0; i < st->n; i++)
		if ((st->fresh[i] = calloc(1, sizeof(*st->fresh[i]))) == NULL)
			goto nomem;
	/* Every running trigger may retire with hooks still out. */
	if ((r = reallocarray(e->retired, room, sizeof(*r))) == NULL)
		goto nomem;
	e->retired = r;
	*out = st;
	return 0;
nomem:
	log_warnx("activity: out of memory for %d triggers", cfg->nactivities);
	engine_act_discard(st);
	return -1;
}

/*
 * The triggers of cfg, in its order. A trigger keeps its struct (its hook
 * owner) across reloads by name, so its hooks stay in order; one whose
 * config is the same keeps its state, the others must be in standby
 * (engine_act_quiesce()).
 */
static void
engine_act_bind(struct engine *e, const struct config *cfg,
    struct act_staged *st)
{
	struct engine_act **next = st->next;
	struct engine_act *ea;
	struct match_index *index;
	int i;

	st->next = NULL;
	for (i = 0; i < cfg->nactivities; i++) {
		if ((ea = engine_act_take(e, cfg->activities[i].name)) != NULL) {
			if (ea->st.cfg != NULL &&
			    act_config_same(ea->st.cfg, &cfg->activities[i]))
				act_keep_config(&ea->st, &cfg->activities[i]);
			else if (act_configure(&ea->st, &cfg->activities[i]) < 0)
				log_warn("activity %s: no room to hold packets", ea->name);
		} else {
			ea = st->fresh[i];
			st->fresh[i] = NULL;
			ea->e = e;
			ea->sampling_want = -1;
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
	if ((index = match_index_new()) == NULL)
		fatal("activity");
	for (i = 0; i < e->nacts; i++)
		match_index_add(index, &cfg->activities[i].match, i);
	match_index_free(e->act_index);
	e->act_index = index;
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
	match_index_free(e->act_index);
	e->act_index = NULL;
	e->acts = e->retired = NULL;
	e->nacts = e->nretired = 0;
}

static void
engine_act_log_counters(const struct engine *e)
{
	const struct act_counters *c;
	const struct engine_act *ea;
	int i;

	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		c = &ea->st.c;
		log_info("activity %s: %s, %llu packets, %llu held, %llu released, "
		    "%llu given the start_failure verdict, %llu over the hold "
		    "bound, %llu in back-off, %llu starts (%llu failed), %llu stops, "
		    "%llu malformed (%llu dropped)",
		    ea->name, act_state_name(ea->st.state),
		    (unsigned long long)c->packets, (unsigned long long)c->held,
		    (unsigned long long)c->released,
		    (unsigned long long)c->failed_released,
		    (unsigned long long)c->overflow, (unsigned long long)c->backoff,
		    (unsigned long long)c->starts,
		    (unsigned long long)c->start_failures,
		    (unsigned long long)c->stops, (unsigned long long)c->unparsed,
		    (unsigned long long)c->unparsed_dropped);
	}
}

/*
 * The sampling switches that this pass's decisions asked for, after the
 * packets: one small batch each, outside every packet callback.
 */
static void
engine_act_flush(struct engine *e, uint64_t now)
{
	struct engine_act *ea;
	int i;

	(void)now;
	for (i = 0; i < e->nacts; i++) {
		ea = e->acts[i];
		if (ea->sampling_want < 0)
			continue;
		nft_activity_sampling(e->nft, ea->name, ea->sampling_want == 1);
		ea->sampling_want = -1;
	}
}

/* A queued packet: held, or its verdict now. */
static const char *
engine_act_queued(struct engine *e, const struct engine_packet *ep,
    uint64_t now, int *verdict)
{
	struct act_held held = { .id = ep->id, .len = ep->len, .queue = ep->queue };

	/*
	 * A packet queued before routing may be held (docs/design.md,
	 * decision 4), and so may the host's own at the output hook: it
	 * leaves on the route it had when it was sent (docs/activity.md).
	 * One from a later hook still counts as traffic.
	 */
	*verdict = engine_act_packet(e, ep->pkt, ep->indev, ep->outdev,
	    ep->hook == NF_INET_PRE_ROUTING || ep->hook == NF_INET_LOCAL_OUT ?
	    &held : NULL, CONFIG_SOURCE_QUEUE, now);
	return NULL;
}

/* A packet from NFLOG that no trigger's prefix claimed. */
static bool
engine_act_logged(struct engine *e, const struct engine_packet *ep,
    uint64_t now)
{
	engine_act_packet(e, ep->pkt, ep->indev, ep->outdev, NULL,
	    CONFIG_SOURCE_NFLOG, now);
	return true;
}

/*
 * The triggers of cfg run; the ones quiesce kept are still up. The table
 * sync before switched every sampling off: those need theirs on again.
 * Returns how many are in standby.
 */
static int
engine_act_commit(struct engine *e, const struct config *cfg, void *next)
{
	int i, standby = 0;

	engine_act_bind(e, cfg, next);
	engine_act_discard(next);
	for (i = 0; i < e->nacts; i++)
		if (e->acts[i]->st.state == ACT_ACTIVE)
			nft_activity_sampling(e->nft, e->acts[i]->name, true);
		else if (e->acts[i]->st.state == ACT_STANDBY)
			standby++;
	return standby;
}

const struct engine_kind engine_kind_activity = {
	.name = "activity",
	.keeps_state = false,
	.prepare = engine_act_prepare,
	.discard = engine_act_discard,
	.commit = engine_act_commit,
	.quiesce = engine_act_quiesce,
	.queued = engine_act_queued,
	.unparsed = engine_act_unparsed,
	.logged = engine_act_logged,
	.logged_by_prefix = false,
	.next_deadline = engine_act_next_deadline,
	.expire = engine_act_expire,
	.flush = engine_act_flush,
	.log_counters = engine_act_log_counters,
	.free = engine_act_free_all,
};
