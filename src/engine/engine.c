/*
 * The engine's lifecycle and packet sources: it opens the table and the
 * queues and log groups, parses each packet and hands it down the kinds of
 * trigger (engine_kinds.c; each kind's glue is in engine_<kind>.c, reached
 * only through its struct engine_kind), arms the timer, flushes each loop
 * pass's nftables batch, reloads and stops.
 */
#include <sys/timerfd.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "core/deferred.h"
#include "engine/control.h"
#include "engine/engine.h"
#include "engine/engine_priv.h"
#include "engine/event.h"
#include "engine/hook.h"
#include "util/log.h"
#include "core/pages.h"
#include "engine/loop.h"
#include "kernel/kstats.h"
#include "kernel/nflog.h"
#include "kernel/nfq.h"
#include "kernel/nft.h"
#include "core/packet.h"
#include "util/sdnotify.h"

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
 * trigger; a queued one gets the verdict of its path (engine_unparsed()).
 */
static int
engine_parse(struct engine *e, const char *source, const uint8_t *buf,
    size_t len, struct pkt *p, uint64_t *malformed)
{
	if (pkt_parse(buf, len, p) != PKT_OK) {
		e->counters.malformed++;
		if (malformed != NULL)
			(*malformed)++;
		log_debug("%s: malformed packet (%zu bytes): %s", source, len, p->error);
		return -1;
	}
	e->counters.parsed++;
	return 0;
}

/*
 * The verdict of a malformed queued packet: that of the path it was queued
 * on, never a blind accept (issue 15). Each kind says whether the packet is
 * on one of its paths and what that path gives it (engine_kind.unparsed);
 * a packet on none passes to the kernel's own checks. Counted either way.
 */
static int
engine_unparsed(struct engine *e, const struct nfq_packet *np,
    const struct pkt *p, const char *source, uint16_t queue)
{
	struct engine_packet ep = { .pkt = p, .source = source,
	    .indev = np->indev, .outdev = np->outdev, .hook = np->hook,
	    .id = np->id, .len = np->orig_len, .queue = queue };
	uint64_t now = loop_now_ms();
	int i, verdict = -1;

	for (i = 0; i < engine_nkinds && verdict < 0; i++)
		if (engine_kinds[i]->unparsed != NULL)
			verdict = engine_kinds[i]->unparsed(e, &ep, now);
	if (verdict == NF_DROP) {
		e->counters.malformed_dropped++;
		return NF_DROP;
	}
	return NF_ACCEPT;
}

/* A queued packet through the kinds in turn (engine_kinds.c). */
static int
engine_on_queued(void *arg, uint16_t queue, const struct nfq_packet *np)
{
	struct engine *e = arg;
	struct engine_packet ep;
	struct pkt p;
	char source[16] = "queue";
	uint64_t now;
	const char *final;
	int i, verdict = NF_ACCEPT;
	struct engine_queue_stats *qs = NULL;

	if (queue >= e->cfg->engine.queue_first &&
	    queue - e->cfg->engine.queue_first < ENGINE_QUEUES_MAX)
		qs = &e->qstats[queue - e->cfg->engine.queue_first];
	/* Maintenance bypass: accepted unseen; the guards still decide. */
	if (e->bypass) {
		if (qs != NULL)
			qs->bypassed++;
		return NF_ACCEPT;
	}
	/* Only messages name the source: no formatting per packet otherwise. */
	if (log_verbosity() >= 1)
		snprintf(source, sizeof(source), "queue %u", queue);
	if (engine_parse(e, source, np->payload, np->payload_len, &p,
	    qs == NULL ? NULL : &qs->malformed) < 0)
		return engine_unparsed(e, np, &p, source, queue);
	now = loop_pass_ms(e->loop);
	ep = (struct engine_packet){ .pkt = &p, .buf = np->payload,
	    .source = source, .indev = np->indev, .outdev = np->outdev,
	    .hook = np->hook,
	    .id = np->id, .len = np->orig_len, .queue = queue };
	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->queued != NULL && (final =
		    engine_kinds[i]->queued(e, &ep, now, &verdict)) != NULL) {
			engine_log_packet(source, &p, final);
			return verdict;
		}
	engine_log_packet(source, &p, verdict == NFQ_HOLD ? "held" :
	    verdict == NF_DROP ? "drop" : "accept");
	return verdict;
}

/*
 * A logged packet: first to the kinds whose rules log with a prefix of
 * theirs (a trigger's name), then to the others, until one takes it.
 */
static void
engine_on_logged(void *arg, uint16_t group, const struct nflog_packet *lp)
{
	const struct engine_kind *k;
	struct engine *e = arg;
	struct engine_packet ep;
	struct pkt p;
	char source[24] = "nflog group";
	uint64_t now;
	int i, pass;

	if (log_verbosity() >= 1)
		snprintf(source, sizeof(source), "nflog group %u", group);
	if (engine_parse(e, source, lp->payload, lp->payload_len, &p, NULL) < 0)
		return;
	engine_log_packet(source, &p, "seen");
	now = loop_pass_ms(e->loop);
	ep = (struct engine_packet){ .pkt = &p, .buf = lp->payload,
	    .source = source, .indev = lp->indev, .outdev = lp->outdev,
	    .hook = -1,
	    .prefix = lp->prefix };
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < engine_nkinds; i++) {
			k = engine_kinds[i];
			if (k->logged != NULL && k->logged_by_prefix == (pass == 0) &&
			    k->logged(e, &ep, now))
				return;
		}
}

/* Arm the timer for the earliest of the triggers' deadlines. */
static void
engine_arm_timer(struct engine *e)
{
	uint64_t next = ENGINE_NO_DEADLINE, d;
	int i;

	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->next_deadline != NULL &&
		    (d = engine_kinds[i]->next_deadline(e)) < next)
			next = d;
	if ((d = control_next_deadline(e->control)) < next)
		next = d;
	if (e->reload_pending && e->reload_ms + ENGINE_RELOAD_GAP_MS < next)
		next = e->reload_ms + ENGINE_RELOAD_GAP_MS;
	/* Retries: element changes after their back-off, verdicts soon. */
	if (e->nft != NULL && nft_batch_pending(e->nft) > 0 &&
	    (d = nft_batch_due_ms(e->nft)) > 0 && d < next)
		next = d;
	for (i = 0; i < e->nqueues; i++)
		if (nfq_source_unsent(e->queues[i]) &&
		    (d = loop_now_ms() + ENGINE_VERDICT_RETRY_MS) < next)
			next = d;
	loop_timer_at(e->loop, next == ENGINE_NO_DEADLINE ? 0 : next);
}

static void
engine_on_timer(void *arg, uint64_t now)
{
	struct engine *e = arg;
	int i;

	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->expire != NULL)
			engine_kinds[i]->expire(e, now);
	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->run_deferred != NULL)
			engine_kinds[i]->run_deferred(e, now);
	control_expire(e->control, now);
	engine_arm_timer(e);
}

/*
 * A reload moved the control socket or the metrics address. The new ones
 * are made before the old ones go. The engine's user may not write where
 * the socket goes (/run/nfq-trigger is root's): the privileged side makes
 * it, as root, owner-only like the first. When something still fails (a
 * port in use), the old ones stay until a restart. Nobody loses the way in.
 */
static void
engine_control_move(struct engine *e)
{
	const struct config_engine *ce = &e->cfg->engine;
	int fd = -1;

	if (ce->control[0] != '\0' && control_path_differs(e->control, ce) &&
	    e->reload_hooks.listen != NULL)
		fd = e->reload_hooks.listen(e->reload_hooks.arg, ce->control);
	if (!control_move(e->control, ce, fd))
		log_warnx("control: what could not move stays where it was until "
		    "a restart");
}

static bool
engine_backlogged(void *arg)
{
	struct engine *e = arg;

	return nft_batch_full(e->nft);
}

/*
 * While the element batch is full the sources are not read (their fds
 * leave the poll set, so a retry's back-off does not spin): the kernel
 * queues the packets, and nothing they would add is lost.
 */
static void
engine_sources_pause(struct engine *e, bool pause)
{
	int i;

	if (pause == e->sources_paused)
		return;
	e->sources_paused = pause;
	for (i = 0; i < e->nqueues; i++)
		loop_fd_events(e->loop, nfq_source_fd(e->queues[i]), !pause, false);
	if (e->nflog != NULL)
		loop_fd_events(e->loop, nflog_source_fd(e->nflog), !pause, false);
	if (pause)
		log_warnx("nftables: %d element changes wait; packet sources "
		    "paused until they are sent", nft_batch_pending(e->nft));
	else
		log_info("nftables: packet sources read again");
}

/* After each loop pass: one nftables batch for everything the pass decided. */
static void
engine_on_pass(void *arg)
{
	struct engine *e = arg;
	uint64_t now;
	char why[256];
	int i;

	/* Verdicts for held packets that hook results released in this pass. */
	for (i = 0; i < e->nqueues; i++)
		nfq_source_flush(e->queues[i]);
	/* Then the kinds' kernel and file work, into the pass's one batch. */
	now = loop_now_ms();
	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->flush != NULL)
			engine_kinds[i]->flush(e, now);
	/* A failed flush is retried after its back-off (nft_batch_flush()). */
	if (nft_batch_pending(e->nft) > 0 && loop_now_ms() >= nft_batch_due_ms(e->nft))
		nft_batch_flush(e->nft);
	engine_sources_pause(e, nft_batch_full(e->nft));
	/*
	 * However many SIGHUPs came, one reload per pass and per
	 * ENGINE_RELOAD_GAP_MS: the queues are read between two reloads, and
	 * a storm of signals cannot keep the loop reloading (docs/design.md:
	 * reloads are coalesced). The timer brings a waiting one.
	 */
	if (e->reload_pending && loop_now_ms() >= e->reload_ms + ENGINE_RELOAD_GAP_MS) {
		e->reload_pending = false;
		engine_reload(e, why, sizeof(why));
		e->reload_ms = loop_now_ms();	/* the gap runs from its end */
	}
	/* Requests may wait on the kernel (a set dump): here, never in a callback. */
	control_run(e->control);
	if (e->control_reopen) {
		e->control_reopen = false;
		engine_control_move(e);
	}
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

/* The kernel's side (docs/control.md); not "queue N:", which tests read. */
static void
engine_log_kernel_counters(const struct nfq_source *s)
{
	struct kstats_queue k;
	uint64_t drops = 0;

	if (!kstats_queue(nfq_source_queue(s), &k))
		return;
	kstats_netlink_drops(nfq_source_portid(s), &drops);
	log_info("kernel counters of queue %u (%u waiting, %llu dropped for a full "
	    "queue, %llu for a full socket, %llu ids, %llu socket drops)",
	    nfq_source_queue(s), k.waiting, (unsigned long long)k.queue_dropped,
	    (unsigned long long)k.user_dropped, (unsigned long long)k.id_sequence,
	    (unsigned long long)drops);
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
		    "%llu failed verdict sends, %llu forged, %llu malformed datagrams",
		    nfq_source_queue(e->queues[i]),
		    (unsigned long long)qc->packets, (unsigned long long)qc->accepted,
		    (unsigned long long)qc->dropped, (unsigned long long)qc->held,
		    (unsigned long long)(qc->held - qc->held_verdicts),
		    (unsigned long long)qc->enobufs,
		    (unsigned long long)qc->verdict_errors,
		    (unsigned long long)qc->verdict_send_failures,
		    (unsigned long long)qc->nl.forged,
		    (unsigned long long)qc->nl.malformed);
		engine_log_kernel_counters(e->queues[i]);
	}
	if (e->nflog != NULL) {
		lc = nflog_source_counters(e->nflog);
		log_info("nflog group %u: %llu packets, %llu overruns, %llu forged, "
		    "%llu malformed datagrams", nflog_source_group(e->nflog),
		    (unsigned long long)lc->packets, (unsigned long long)lc->enobufs,
		    (unsigned long long)lc->nl.forged,
		    (unsigned long long)lc->nl.malformed);
	}
	log_info("parser: %llu packets parsed, %llu malformed (%llu dropped: "
	    "their path was closed)", (unsigned long long)e->counters.parsed,
	    (unsigned long long)e->counters.malformed,
	    (unsigned long long)e->counters.malformed_dropped);
	for (i = 0; i < engine_nkinds; i++)
		engine_kinds[i]->log_counters(e);
	nc = nft_counters(e->nft);
	log_info("nftables: %llu batches, %llu elements added, %llu refused, "
	    "%llu set full, %llu retried flushes, %llu lost, %llu table rebuilds, "
	    "%llu forged, %llu malformed datagrams",
	    (unsigned long long)nc->batches_sent,
	    (unsigned long long)nc->elems_added, (unsigned long long)nc->elems_failed,
	    (unsigned long long)nc->set_full, (unsigned long long)nc->flush_retries,
	    (unsigned long long)nc->elems_lost, (unsigned long long)nc->table_recreated,
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
	e->sources_paused = false;
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
		nfq_source_set_backlog(e->queues[e->nqueues], engine_backlogged, e);
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
		nflog_source_set_backlog(e->nflog, engine_backlogged, e);
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

/* The state each kind built for cfg, aside: -1 when one could not. */
static int
engine_kinds_prepare(struct engine *e, const struct config *cfg,
    void *staged[])
{
	int i, rc = 0;

	for (i = 0; i < engine_nkinds; i++) {
		staged[i] = NULL;
		if (engine_kinds[i]->prepare != NULL &&
		    engine_kinds[i]->prepare(e, cfg, &staged[i]) < 0)
			rc = -1;
	}
	return rc;
}

static void
engine_kinds_discard(void *staged[])
{
	int i;

	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->discard != NULL)
			engine_kinds[i]->discard(staged[i]);
}

static void
engine_kinds_quiesce(struct engine *e, const struct config *next, bool hooks)
{
	int i;

	for (i = 0; i < engine_nkinds; i++)
		if (engine_kinds[i]->quiesce != NULL)
			engine_kinds[i]->quiesce(e, next, hooks);
}

/* What the reload message says of the kinds that keep state, or of the others. */
struct engine_reload_note {
	int triggers;
	char kinds[64];			/* "knock and count" */
	int nkinds;
};

static void
engine_note_add(struct engine_reload_note *n, const struct engine_kind *k,
    int triggers, int of)
{
	size_t o = strlen(n->kinds);

	n->triggers += triggers;
	n->nkinds++;
	snprintf(n->kinds + o, sizeof(n->kinds) - o, "%s%s", n->nkinds == 1 ?
	    "" : n->nkinds == of ? " and " : ", ", k->name);
}

/*
 * The staged state runs. notes (NULL: none wanted): [0] the kinds whose
 * triggers kept their state, [1] those whose triggers start in standby. SPA
 * triggers do neither: their replay caches start empty, and what was sent
 * before the reload is refused (docs/spa.md).
 */
static void
engine_kinds_commit(struct engine *e, const struct config *cfg,
    void *staged[], struct engine_reload_note notes[2])
{
	const struct engine_kind *k;
	int i, n, keeping = 0, standby = 0;

	/* A kind that neither keeps state nor has a standby (spa) is not noted. */
	for (i = 0; i < engine_nkinds; i++) {
		keeping += engine_kinds[i]->keeps_state;
		standby += !engine_kinds[i]->keeps_state &&
		    engine_kinds[i]->quiesce != NULL;
	}
	if (notes != NULL)
		memset(notes, 0, 2 * sizeof(*notes));
	for (i = 0; i < engine_nkinds; i++) {
		k = engine_kinds[i];
		n = k->commit(e, cfg, staged[i]);
		if (notes != NULL && (k->keeps_state || k->quiesce != NULL))
			engine_note_add(&notes[!k->keeps_state], k, n,
			    k->keeps_state ? keeping : standby);
	}
}

/* A reload that cannot be applied: drop what was built for it. */
static void
engine_reload_abandon(struct engine *e, struct config *next, void *staged[])
{
	engine_kinds_discard(staged);
	config_free(next);
	/* The table may be half way: bring it back to the running shape. */
	nft_table_sync(e->nft, e->cfg);
	if (e->reload_hooks.done != NULL)
		e->reload_hooks.done(e->reload_hooks.arg, false);
}

void
engine_set_reload_hooks(struct engine *e, const struct engine_reload_hooks *h)
{
	e->reload_hooks = *h;
}

/*
 * The new config, or NULL with every error logged as "file:line: message"
 * wherever the log goes (syslog in daemon mode, where stderr is /dev/null).
 */
static struct config *
engine_reload_load(const char *path, char *why, size_t whylen)
{
	struct config *cfg;
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *errs;
	int nerrors = 0;

	errs = open_memstream(&text, &len);
	cfg = config_load(path, true, errs, &nerrors);
	if (errs != NULL)
		fclose(errs);
	if (cfg != NULL) {
		free(text);
		return cfg;
	}
	snprintf(why, whylen, "%d error%s in %s", nerrors, nerrors == 1 ? "" : "s",
	    path);
	for (line = text == NULL ? NULL : strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		log_warnx("reload: %s", line);
		if (line == text)
			snprintf(why, whylen, "%d error%s, the first: %s", nerrors,
			    nerrors == 1 ? "" : "s", line);
	}
	free(text);
	log_warnx("reload: %d error%s in %s, keeping the running configuration",
	    nerrors, nerrors == 1 ? "" : "s", path);
	return NULL;
}

/* A reload that could not be applied, for the log, the reply and systemd. */
static int
engine_reload_refused(struct engine *e, char *why, size_t whylen,
    const char *reason)
{
	if (reason != NULL)
		snprintf(why, whylen, "%s", reason);
	e->reloads_refused++;
	sdnotify_send("READY=1");
	return -1;
}

/*
 * SIGHUP, `nfq-trigger reload` (docs/design.md: reload keeps what did not
 * change): a new config with errors is refused and the running one, with
 * all its state, stays. Knock and count triggers keep their tracked
 * sources where their rules are the same; allow and block sets keep their
 * elements; an activity trigger whose config is unchanged stays as it is
 * (an active path up, no stop), a changed or removed one goes to standby.
 * Sources are rebound only when their settings changed, and then every
 * activity trigger goes to standby first, so held packets get a verdict.
 * A new table name builds the new table, then removes the old one.
 */
int
engine_reload(struct engine *e, char *why, size_t whylen)
{
	struct config *next;
	void *staged[ENGINE_KINDS_MAX];
	struct engine_reload_note notes[2];
	struct engine_carry *carry;
	char oldtable[CONFIG_TABLE_MAX + 1];
	bool rebind;

	sdnotify_reloading();
	e->reloads++;
	e->reload_ms = loop_now_ms();
	/* The privileged side reads the file first; it refuses what has errors. */
	if (e->reload_hooks.prepare != NULL &&
	    e->reload_hooks.prepare(e->reload_hooks.arg, why, whylen) < 0) {
		log_warnx("reload: %s, keeping the running configuration", why);
		return engine_reload_refused(e, why, whylen, NULL);
	}
	if ((next = engine_reload_load(e->cfg->path, why, whylen)) == NULL) {
		if (e->reload_hooks.done != NULL)
			e->reload_hooks.done(e->reload_hooks.arg, false);
		return engine_reload_refused(e, why, whylen, NULL);
	}
	snprintf(oldtable, sizeof(oldtable), "%s", e->cfg->engine.table);
	/* Before the sync: the sets it recreates are read while they hold them. */
	carry = engine_carry_read(e, next);
	if (engine_kinds_prepare(e, next, staged) < 0 ||
	    nft_table_sync(e->nft, next) < 0) {
		engine_carry_free(carry);
		log_warnx("reload: %s cannot be applied, keeping the running configuration",
		    next->path);
		engine_reload_abandon(e, next, staged);
		return engine_reload_refused(e, why, whylen,
		    "the new file cannot be applied (the log says why)");
	}
	engine_carry_write(e, carry);
	if (strcmp(oldtable, next->engine.table) != 0 &&
	    nft_table_delete(e->nft, oldtable) == 0)
		log_info("reload: table inet %s replaced by inet %s", oldtable,
		    next->engine.table);
	rebind = engine_sources_differ(&e->cfg->engine, &next->engine);
	/* Rebinding drops what the kernel holds: then every trigger quiesces. */
	engine_kinds_quiesce(e, rebind ? NULL : next, true);
	if (rebind) {
		memset(e->qstats, 0, sizeof(e->qstats));
		engine_close_sources(e);
		if (engine_open_sources(e, &next->engine) < 0) {
			log_warnx("reload: cannot bind the new sources, restoring the old ones");
			engine_close_sources(e);
			if (engine_open_sources(e, &e->cfg->engine) < 0)
				log_warnx("reload: old sources could not be restored either");
			engine_reload_abandon(e, next, staged);
			return engine_reload_refused(e, why, whylen,
			    "cannot bind the new queues or log group");
		}
	}
	engine_kinds_commit(e, next, staged, notes);
	/* Moved after control_run(): this reload may be one of its requests. */
	if (control_differs(e->control, &next->engine))
		e->control_reopen = true;
	config_free(e->cfg);
	e->cfg = next;
	engine_kbase_reset(e);
	if (e->reload_hooks.done != NULL)
		e->reload_hooks.done(e->reload_hooks.arg, true);
	log_info("reload: %s loaded (%d %s trigger%s kept their state, %d %s "
	    "trigger%s in standby)", e->cfg->path, notes[0].triggers,
	    notes[0].kinds, notes[0].triggers == 1 ? "" : "s", notes[1].triggers,
	    notes[1].kinds, notes[1].triggers == 1 ? "" : "s");
	snprintf(why, whylen, "%s loaded", e->cfg->path);
	sdnotify_send("READY=1");
	return 0;
}

static void
engine_on_signal(void *arg, int signo)
{
	struct engine *e = arg;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", strsignal(signo));
		sdnotify_send("STOPPING=1");
		loop_stop(e->loop);
		break;
	case SIGHUP:
		e->reload_pending = true;
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
	/* Without a monitor (nft_open() said so) the engine runs on. */
	if (nft_monitor_fd(e->nft) >= 0 &&
	    loop_add_fd(e->loop, nft_monitor_fd(e->nft), engine_nft_monitor, e) < 0)
		log_warn("nftables monitor: not watched");
	return 0;
}

static void
engine_watchdog(void *arg)
{
	struct engine *e = arg;
	uint64_t n;

	if (read(e->watchdog_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("watchdog timer");
	sdnotify_send("WATCHDOG=1");
}

/* WATCHDOG=1 at half the interval systemd asked for, from the loop itself. */
static void
engine_open_watchdog(struct engine *e)
{
	uint64_t usec = sdnotify_watchdog_usec() / 2;
	struct itimerspec its;

	e->watchdog_fd = -1;
	if (usec == 0)
		return;
	its.it_value.tv_sec = its.it_interval.tv_sec = (time_t)(usec / 1000000);
	its.it_value.tv_nsec = its.it_interval.tv_nsec = (long)(usec % 1000000) * 1000;
	e->watchdog_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (e->watchdog_fd < 0 || timerfd_settime(e->watchdog_fd, 0, &its, NULL) < 0 ||
	    loop_add_fd(e->loop, e->watchdog_fd, engine_watchdog, e) < 0) {
		/* The queues are bound: failing now would leave their packets. */
		log_warn("watchdog timer: systemd will see no WATCHDOG=1");
		if (e->watchdog_fd >= 0)
			close(e->watchdog_fd);
		e->watchdog_fd = -1;
		return;
	}
	log_info("watchdog: every %llu ms", (unsigned long long)(usec / 1000));
}

struct engine *
engine_open(struct config *cfg, struct spawn *sp)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0 };
	void *staged[ENGINE_KINDS_MAX];
	struct engine *e;

	/*
	 * Every reload frees and makes blocks of up to megabytes (the plan
	 * being built, SPA replay caches; trackers take pages_alloc). A fixed
	 * mmap threshold keeps them out of the heap (glibc's sliding one would
	 * take them in after the first free): the kernel then gives zeroed
	 * pages when first touched, instead of calloc clearing them all.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	/* Its arrays (pending knocks, hook counts) are written only as used. */
	e = pages_alloc(sizeof(*e));
	if (e == NULL)
		fatal("engine");
	e->cfg = cfg;
	e->watchdog_fd = -1;
	e->started_ms = loop_now_ms();
	e->loop = loop_new();
	e->deferred = deferred_new(ENGINE_DEFERRED_MAX);
	e->events = events_new();
	if (e->loop == NULL || e->deferred == NULL || e->events == NULL)
		fatal("engine");
	if (loop_set_signals(e->loop, signals, engine_on_signal, e) < 0 ||
	    loop_set_timer_fn(e->loop, engine_on_timer, e) < 0)
		fatal("signalfd, timerfd");
	loop_set_pass_fn(e->loop, engine_on_pass, e);
	e->hooks = hook_open(sp, e->loop);
	if (engine_kinds_prepare(e, cfg, staged) < 0 || e->hooks == NULL) {
		engine_kinds_discard(staged);
		engine_close(e);
		return NULL;
	}
	engine_kinds_commit(e, cfg, staged, NULL);
	if (engine_open_nft(e) < 0 || engine_open_sources(e, &cfg->engine) < 0) {
		engine_close(e);
		return NULL;
	}
	hook_set_observer(e->hooks, engine_hook_observed, e);
	if ((e->control = control_open(e->loop, &cfg->engine, engine_control, e)) == NULL) {
		log_warnx("control: out of memory");
		engine_close(e);
		return NULL;
	}
	engine_open_watchdog(e);
	engine_kbase_reset(e);
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
	int i;

	if (e == NULL)
		return;
	/* Held packets get their verdict before the queues go; no hook runs now. */
	engine_kinds_quiesce(e, NULL, false);
	/* The triggers are bound before the table is opened. */
	if (e->nft != NULL)
		engine_log_counters(e);
	engine_close_sources(e);
	control_close(e->control);
	if (e->watchdog_fd >= 0) {
		loop_del_fd(e->loop, e->watchdog_fd);
		close(e->watchdog_fd);
	}
	nft_close(e->nft);
	hook_close(e->hooks);
	for (i = 0; i < engine_nkinds; i++)
		engine_kinds[i]->free(e);
	deferred_free(e->deferred);
	events_free(e->events);
	loop_free(e->loop);
	config_free(e->cfg);
	pages_free(e, sizeof(*e));
}
