#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "loop.h"
#include "nflog.h"
#include "nfq.h"
#include "packet.h"

#define ENGINE_QUEUES_MAX	64

struct engine_counters {
	uint64_t parsed;
	uint64_t malformed;
};

struct engine {
	struct config *cfg;
	struct loop *loop;
	struct nfq_source *queues[ENGINE_QUEUES_MAX];
	int nqueues;
	struct nflog_source *nflog;
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

static int
engine_on_queued(void *arg, uint16_t queue, const struct nfq_packet *np)
{
	struct engine *e = arg;
	struct pkt p;
	char source[16];

	snprintf(source, sizeof(source), "queue %u", queue);
	if (engine_parse(e, source, np->payload, np->payload_len, &p) < 0)
		return NF_ACCEPT;
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
	int nerrors = 0;

	next = config_load(e->cfg->path, true, stderr, &nerrors);
	if (next == NULL) {
		log_warnx("reload: %d error%s in %s, keeping the running configuration",
		    nerrors, nerrors == 1 ? "" : "s", e->cfg->path);
		return;
	}
	if (engine_sources_differ(&e->cfg->engine, &next->engine)) {
		engine_close_sources(e);
		if (engine_open_sources(e, &next->engine) < 0) {
			log_warnx("reload: cannot bind the new sources, restoring the old ones");
			engine_close_sources(e);
			if (engine_open_sources(e, &e->cfg->engine) < 0)
				log_warnx("reload: old sources could not be restored either");
			config_free(next);
			return;
		}
	}
	config_free(e->cfg);
	e->cfg = next;
	log_info("reload: %s loaded", e->cfg->path);
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

struct engine *
engine_open(struct config *cfg)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0 };
	struct engine *e;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		fatal("engine");
	e->cfg = cfg;
	e->loop = loop_new();
	if (e->loop == NULL)
		fatal("event loop");
	if (loop_set_signals(e->loop, signals, engine_on_signal, e) < 0)
		fatal("signalfd");
	if (engine_open_sources(e, &cfg->engine) < 0) {
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
	engine_log_counters(e);
	engine_close_sources(e);
	loop_free(e->loop);
	config_free(e->cfg);
	free(e);
}
