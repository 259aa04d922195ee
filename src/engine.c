#include <arpa/inet.h>
#include <errno.h>
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
#include "nflog.h"
#include "nfq.h"
#include "nft.h"
#include "packet.h"
#include "trigger_knock.h"

#define ENGINE_QUEUES_MAX	64
/* exec_stop hooks waiting for their delay; beyond this they are refused (logged). */
#define ENGINE_DEFERRED_MAX	4096

struct engine_counters {
	uint64_t parsed;
	uint64_t malformed;
	uint64_t deferred_refused;
};

struct engine {
	struct config *cfg;
	struct loop *loop;
	struct nfq_source *queues[ENGINE_QUEUES_MAX];
	int nqueues;
	struct nflog_source *nflog;
	struct nft *nft;
	struct knock_set *knocks;
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

static int
engine_on_queued(void *arg, uint16_t queue, const struct nfq_packet *np)
{
	struct engine *e = arg;
	struct knock_result kr;
	struct pkt p;
	char source[16];
	uint64_t now;
	int i;

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
	engine_log_packet(source, &p, "accept");
	return NF_ACCEPT;
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
}

/* Arm the timer for the earliest of the triggers' and the deferred deadlines. */
static void
engine_arm_timer(struct engine *e)
{
	uint64_t next = knock_set_next_deadline(e->knocks);
	uint64_t later = deferred_next(e->deferred);

	if (later != 0 && later < next)
		next = later;
	loop_timer_at(e->loop, next == TRACKER_NO_DEADLINE ? 0 : next);
}

static void
engine_on_timer(void *arg, uint64_t now)
{
	struct engine *e = arg;
	const struct config_knock *k;
	struct deferred_item it;

	knock_set_expire(e->knocks, now);
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
		    "%llu tracked, %llu evicted", knock_set_trigger(e->knocks, i)->name,
		    (unsigned long long)kc.frames, (unsigned long long)kc.started,
		    (unsigned long long)kc.opened, (unsigned long long)kc.resets,
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
		    "%llu overruns, %llu verdict errors", nfq_source_queue(e->queues[i]),
		    (unsigned long long)qc->packets, (unsigned long long)qc->accepted,
		    (unsigned long long)qc->dropped, (unsigned long long)qc->enobufs,
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
 */
static void
engine_reload(struct engine *e)
{
	struct config *next;
	struct knock_set *knocks;
	int nerrors = 0, kept;

	next = config_load(e->cfg->path, true, stderr, &nerrors);
	if (next == NULL) {
		log_warnx("reload: %d error%s in %s, keeping the running configuration",
		    nerrors, nerrors == 1 ? "" : "s", e->cfg->path);
		return;
	}
	knocks = knock_set_new(next, NULL);
	if (knocks == NULL || nft_table_sync(e->nft, next) < 0) {
		log_warnx("reload: %s cannot be applied, keeping the running configuration",
		    next->path);
		knock_set_free(knocks);
		config_free(next);
		/* The table may be half way: bring it back to the running shape. */
		nft_table_sync(e->nft, e->cfg);
		return;
	}
	if (engine_sources_differ(&e->cfg->engine, &next->engine)) {
		engine_close_sources(e);
		if (engine_open_sources(e, &next->engine) < 0) {
			log_warnx("reload: cannot bind the new sources, restoring the old ones");
			engine_close_sources(e);
			if (engine_open_sources(e, &e->cfg->engine) < 0)
				log_warnx("reload: old sources could not be restored either");
			knock_set_free(knocks);
			config_free(next);
			nft_table_sync(e->nft, e->cfg);
			return;
		}
	}
	kept = knock_set_adopt(knocks, e->knocks);
	knock_set_free(e->knocks);
	e->knocks = knocks;
	config_free(e->cfg);
	e->cfg = next;
	log_info("reload: %s loaded (%d knock trigger%s kept their state)", e->cfg->path,
	    kept, kept == 1 ? "" : "s");
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
	if (e->hooks == NULL || e->knocks == NULL || engine_open_nft(e) < 0 ||
	    engine_open_sources(e, &cfg->engine) < 0) {
		engine_close(e);
		return NULL;
	}
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
	if (e->nft != NULL && e->knocks != NULL)
		engine_log_counters(e);
	engine_close_sources(e);
	nft_close(e->nft);
	hook_close(e->hooks);
	knock_set_free(e->knocks);
	deferred_free(e->deferred);
	loop_free(e->loop);
	config_free(e->cfg);
	free(e);
}
