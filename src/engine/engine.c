/*
 * The engine's lifecycle and packet sources: it opens the table and the
 * queues and log groups, hands each packet down the line (parse, knock,
 * activity, count; the glue per trigger kind is in engine_*.c), arms the
 * timer, flushes each loop pass's nftables batch, reloads and stops.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "core/deferred.h"
#include "engine/engine.h"
#include "engine/engine_priv.h"
#include "engine/hook.h"
#include "util/log.h"
#include "engine/loop.h"
#include "kernel/nflog.h"
#include "kernel/nfq.h"
#include "kernel/nft.h"
#include "core/packet.h"
#include "core/trigger_activity.h"
#include "core/trigger_count.h"
#include "core/trigger_knock.h"

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

static int
engine_on_queued(void *arg, uint16_t queue, const struct nfq_packet *np)
{
	struct engine *e = arg;
	struct act_held held;
	struct pkt p;
	char source[16];
	uint64_t now;
	int verdict;

	snprintf(source, sizeof(source), "queue %u", queue);
	if (engine_parse(e, source, np->payload, np->payload_len, &p) < 0)
		return NF_ACCEPT;
	now = loop_now_ms();
	if (engine_knock_packet(e, &p, now) == KNOCK_DROP) {
		engine_log_packet(source, &p, "knock frame, drop");
		return NF_DROP;
	}
	/*
	 * Only a packet queued before routing may be held: one from a later
	 * hook was routed already (docs/design.md, decision 4). Still traffic.
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
	struct pkt p;
	char source[24];

	snprintf(source, sizeof(source), "nflog group %u", group);
	if (engine_parse(e, source, lp->payload, lp->payload_len, &p) < 0)
		return;
	engine_log_packet(source, &p, "seen");
	/* Count rules log with their trigger's prefix; activity rules without. */
	if (engine_count_logged(e, lp->prefix, &p, loop_now_ms()) == 0)
		return;
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

	knock_set_expire(e->knocks, now);
	count_set_expire(e->counts, now);
	engine_act_expire(e, now);
	engine_knock_run_deferred(e, now);
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
	engine_knock_flush(e, loop_now_ms());
	engine_act_flush(e);
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
engine_log_counters(const struct engine *e)
{
	const struct nfq_counters *qc;
	const struct nflog_counters *lc;
	const struct nft_counters *nc;
	int i;

	for (i = 0; i < e->nqueues; i++) {
		qc = nfq_source_counters(e->queues[i]);
		log_info("queue %u: %llu packets, %llu accepted, %llu dropped, "
		    "%llu held (%llu still held), %llu overruns, %llu verdict errors, "
		    "%llu forged, %llu malformed datagrams",
		    nfq_source_queue(e->queues[i]),
		    (unsigned long long)qc->packets, (unsigned long long)qc->accepted,
		    (unsigned long long)qc->dropped, (unsigned long long)qc->held,
		    (unsigned long long)(qc->held - qc->held_verdicts),
		    (unsigned long long)qc->enobufs,
		    (unsigned long long)qc->verdict_errors,
		    (unsigned long long)qc->nl.forged,
		    (unsigned long long)qc->nl.malformed);
	}
	if (e->nflog != NULL) {
		lc = nflog_source_counters(e->nflog);
		log_info("nflog group %u: %llu packets, %llu overruns, %llu forged, "
		    "%llu malformed datagrams", nflog_source_group(e->nflog),
		    (unsigned long long)lc->packets, (unsigned long long)lc->enobufs,
		    (unsigned long long)lc->nl.forged,
		    (unsigned long long)lc->nl.malformed);
	}
	log_info("parser: %llu packets parsed, %llu malformed",
	    (unsigned long long)e->counters.parsed,
	    (unsigned long long)e->counters.malformed);
	engine_knock_log_counters(e);
	engine_act_log_counters(e);
	engine_count_log_counters(e);
	nc = nft_counters(e->nft);
	log_info("nftables: %llu batches, %llu elements added, %llu refused, "
	    "%llu set full, %llu table rebuilds, %llu forged, %llu malformed "
	    "datagrams", (unsigned long long)nc->batches_sent,
	    (unsigned long long)nc->elems_added, (unsigned long long)nc->elems_failed,
	    (unsigned long long)nc->set_full, (unsigned long long)nc->table_recreated,
	    (unsigned long long)nc->nl.forged, (unsigned long long)nc->nl.malformed);
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

/* A reload that cannot be applied: drop what was built for it. */
static void
engine_reload_abandon(struct engine *e, struct config *next,
    struct knock_set *knocks, struct count_set *counts)
{
	knock_set_free(knocks);
	count_set_free(counts);
	config_free(next);
	/* The table may be half way: bring it back to the running shape. */
	nft_table_sync(e->nft, e->cfg);
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
	/* Knocks decided under the running config open under it. */
	engine_knock_flush(e, loop_now_ms());
	knocks = engine_knock_set_new(next);
	counts = engine_count_set_new(next);
	if (knocks == NULL || counts == NULL || nft_table_sync(e->nft, next) < 0) {
		log_warnx("reload: %s cannot be applied, keeping the running configuration",
		    next->path);
		engine_reload_abandon(e, next, knocks, counts);
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
			engine_reload_abandon(e, next, knocks, counts);
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
	e->knocks = engine_knock_set_new(cfg);
	e->counts = engine_count_set_new(cfg);
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
