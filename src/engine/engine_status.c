/*
 * What the control socket shows (docs/control.md): status, as text or
 * JSON, and metrics in Prometheus' text format. Every path a packet can
 * take is counted: the engine's verdicts per queue, the kernel's own queue
 * and socket counters, and the divert rules' counters, so that packets the
 * kernel accepted without us (fail_open: queue or socket full) show up as
 * bypassed (docs/design.md, Decision 6).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "builders/plan.h"
#include "config/config.h"
#include "core/trigger_activity.h"
#include "core/trigger_count.h"
#include "core/trigger_knock.h"
#include "engine/control.h"
#include "engine/engine_priv.h"
#include "engine/event.h"
#include "engine/loop.h"
#include "kernel/kstats.h"
#include "kernel/nflog.h"
#include "kernel/nfq.h"
#include "kernel/nft.h"
#include "kernel/nft_list.h"

#define U(x)	((unsigned long long)(x))

/* One queue as the engine and the kernel count it. */
struct queue_view {
	uint16_t queue;
	const struct nfq_counters *c;
	const struct engine_queue_stats *qs;
	bool have_kernel;
	struct kstats_queue k;
	bool have_drops;
	uint64_t socket_drops;
};

/* The packets the kernel accepted for us while we never saw them. */
struct bypass_view {
	bool have_diverted;
	uint64_t diverted;	/* by the queue rules, as their counters say */
	uint64_t queue_full;	/* diverted, but no id: the queue was full */
	uint64_t socket_full;	/* given an id, never received: the socket was full */
};

static void
queue_view(const struct engine *e, int i, struct queue_view *v)
{
	const struct nfq_source *s = e->queues[i];

	memset(v, 0, sizeof(*v));
	v->queue = nfq_source_queue(s);
	v->c = nfq_source_counters(s);
	v->qs = &e->qstats[i];
	v->have_kernel = kstats_queue(v->queue, &v->k);
	v->have_drops = kstats_netlink_drops(nfq_source_portid(s), &v->socket_drops);
}

/* The kernel's totals over every queue, for the bypass arithmetic. */
struct ktotals {
	bool ok;
	uint64_t diverted, ids, received, queue_dropped, user_dropped;
};

static void
ktotals_read(const struct engine *e, struct ktotals *t)
{
	struct queue_view v;
	int i;

	memset(t, 0, sizeof(*t));
	t->ok = nft_list_queue_packets(e->cfg->engine.table, &t->diverted) == 0;
	for (i = 0; i < e->nqueues; i++) {
		queue_view(e, i, &v);
		if (!v.have_kernel)
			t->ok = false;
		t->ids += v.k.id_sequence;
		t->received += v.c->packets;
		t->queue_dropped += v.k.queue_dropped;
		t->user_dropped += v.k.user_dropped;
	}
}

static uint64_t
sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/*
 * Since the baseline: the rules diverted D, the kernel gave out I ids, we
 * received R; with fail_open, D - I - queue drops were accepted for a full
 * queue and I - R - user drops for a full socket (less what is in flight).
 */
static void
bypass_view(const struct engine *e, struct bypass_view *b)
{
	const struct engine_kbase *kb = &e->kbase;
	struct ktotals t;
	uint64_t d, ids, recv;

	memset(b, 0, sizeof(*b));
	b->queue_full = kb->carry_queue_full;
	b->socket_full = kb->carry_socket_full;
	ktotals_read(e, &t);
	b->have_diverted = t.ok;
	b->diverted = t.diverted;
	if (!t.ok || !kb->valid || !e->cfg->engine.fail_open)
		return;
	d = sub0(t.diverted, kb->diverted);
	ids = sub0(t.ids, kb->ids);
	recv = sub0(t.received, kb->received);
	b->queue_full += sub0(d, ids + sub0(t.queue_dropped, kb->queue_dropped));
	b->socket_full += sub0(ids, recv + sub0(t.user_dropped, kb->user_dropped));
}

void
engine_kbase_reset(struct engine *e)
{
	struct bypass_view b;
	struct ktotals t;

	bypass_view(e, &b);
	ktotals_read(e, &t);
	e->kbase.carry_queue_full = b.queue_full;
	e->kbase.carry_socket_full = b.socket_full;
	e->kbase.valid = t.ok;
	e->kbase.diverted = t.diverted;
	e->kbase.ids = t.ids;
	e->kbase.received = t.received;
	e->kbase.queue_dropped = t.queue_dropped;
	e->kbase.user_dropped = t.user_dropped;
}

/* Elements in a trigger's two sets (suffixes _allow4/_allow6 ...); -1 unknown. */
static long
set_size(const struct engine *e, const char *name, const char *s4, const char *s6)
{
	char set[NFT_SET_NAME_MAX + 1];
	int n4, n6;

	snprintf(set, sizeof(set), "%s%s", name, s4);
	n4 = nft_list_set(e->cfg->engine.table, set, AF_INET, NULL, NULL);
	snprintf(set, sizeof(set), "%s%s", name, s6);
	n6 = nft_list_set(e->cfg->engine.table, set, AF_INET6, NULL, NULL);
	if (n4 < 0 || n6 < 0)
		return -1;
	return (long)n4 + n6;
}

static const struct engine_hookstat *
hookstat(const struct engine *e, const char *name)
{
	static const struct engine_hookstat none;
	int i;

	for (i = 0; i < e->nhookstats; i++)
		if (strcmp(e->hookstats[i].name, name) == 0)
			return &e->hookstats[i];
	return &none;
}

/* A JSON string: names are plain, but paths and event lines may not be. */
static void
json_str(struct control_reply *r, const char *s)
{
	control_printf(r, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			control_printf(r, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			control_printf(r, "\\u%04x", (unsigned char)*s);
		else
			control_printf(r, "%c", *s);
	}
	control_printf(r, "\"");
}

/* --- per trigger --------------------------------------------------------- */

/* What status shows of one trigger, whatever its kind. */
struct trigger_view {
	const char *name;
	const char *kind;
	const char *state;
	long tracked;		/* -1: keeps none */
	long set_elems;		/* allow or block set; -1: none or unreadable */
	const char *set_what;	/* "allowed", "blocked" */
	char detail[256];	/* kind-specific counters, "key value" pairs */
};

static void
trigger_recent(const struct engine *e, const char *name, bool json,
    struct control_reply *r)
{
	const struct event *ev;
	uint64_t now = loop_now_ms();
	char line[256];
	int i, n = 0;

	if (json)
		control_printf(r, "\"recent_events\": [");
	for (i = 0; (ev = events_recent(e->events, i)) != NULL; i++) {
		if (strcmp(ev->trigger, name) != 0)
			continue;
		event_format(ev, line, sizeof(line));
		if (json) {
			control_printf(r, "%s{\"ago_ms\": %llu, \"line\": ", n > 0 ?
			    ", " : "", U(now - ev->at_ms));
			json_str(r, line);
			control_printf(r, "}");
		} else
			control_printf(r, "    %6.1fs ago  %s\n",
			    (double)(now - ev->at_ms) / 1000.0, line);
		n++;
	}
	if (json)
		control_printf(r, "]");
}

/* detail is "key number, key number": the same pairs as JSON members. */
static void
detail_json(const char *detail, struct control_reply *r)
{
	char buf[256], *save = NULL, *pair, *sp;
	bool first = true;

	snprintf(buf, sizeof(buf), "%s", detail);
	for (pair = strtok_r(buf, ",", &save); pair != NULL;
	    pair = strtok_r(NULL, ",", &save)) {
		while (*pair == ' ')
			pair++;
		if ((sp = strrchr(pair, ' ')) == NULL)
			continue;
		*sp = '\0';
		control_printf(r, "%s\"%s\": %s", first ? "" : ", ", pair, sp + 1);
		first = false;
	}
}

static void
trigger_emit(const struct engine *e, const struct trigger_view *t, bool json,
    bool *first, struct control_reply *r)
{
	const struct engine_hookstat *hs = hookstat(e, t->name);

	if (!json) {
		control_printf(r, "%s %s: %s", t->kind, t->name, t->state);
		if (t->tracked >= 0)
			control_printf(r, ", %ld tracked source%s", t->tracked,
			    t->tracked == 1 ? "" : "s");
		if (t->set_what != NULL && t->set_elems >= 0)
			control_printf(r, ", %ld %s", t->set_elems, t->set_what);
		else if (t->set_what != NULL)
			control_printf(r, ", %s unknown", t->set_what);
		control_printf(r, "\n    %s\n    hooks: %llu run, %llu failed, "
		    "%llu refused\n", t->detail, U(hs->runs), U(hs->failures),
		    U(hs->refused));
		trigger_recent(e, t->name, false, r);
		return;
	}
	control_printf(r, "%s\n    {\"name\": ", *first ? "" : ",");
	*first = false;
	json_str(r, t->name);
	control_printf(r, ", \"kind\": \"%s\", \"state\": \"%s\"", t->kind, t->state);
	if (t->tracked >= 0)
		control_printf(r, ", \"tracked_sources\": %ld", t->tracked);
	if (t->set_what != NULL)
		control_printf(r, ", \"%s\": %ld", t->set_what, t->set_elems);
	control_printf(r, ", \"counters\": {");
	detail_json(t->detail, r);
	control_printf(r, "}, \"hooks\": {\"runs\": %llu, \"failures\": %llu, "
	    "\"refused\": %llu}, ", U(hs->runs), U(hs->failures), U(hs->refused));
	trigger_recent(e, t->name, true, r);
	control_printf(r, "}");
}

static void
status_triggers(const struct engine *e, bool json, struct control_reply *r)
{
	struct trigger_view t;
	struct knock_counters kc;
	struct count_counters cc;
	const struct config_count *c;
	const struct activity *a;
	bool first = true;
	int i;

	for (i = 0; i < knock_set_count(e->knocks); i++) {
		knock_set_counters(e->knocks, i, &kc);
		t = (struct trigger_view){ .name = knock_set_trigger(e->knocks, i)->name,
		    .kind = "knock", .state = "listening",
		    .tracked = (long)kc.tracker.tracked, .set_what = "allowed" };
		t.set_elems = set_size(e, t.name, NFT_SET_ALLOW4, NFT_SET_ALLOW6);
		snprintf(t.detail, sizeof(t.detail), "frames %llu, started %llu, "
		    "opened %llu, wrong %llu, replays %llu, evicted %llu",
		    U(kc.frames), U(kc.started), U(kc.opened), U(kc.wrong),
		    U(kc.replays), U(kc.tracker.evicted_fresh +
		    kc.tracker.evicted_progress));
		trigger_emit(e, &t, json, &first, r);
	}
	for (i = 0; (a = engine_act_state(e, i)) != NULL; i++) {
		t = (struct trigger_view){ .name = a->cfg->name, .kind = "activity",
		    .state = act_state_name(a->state), .tracked = -1 };
		snprintf(t.detail, sizeof(t.detail), "packets %llu, held_now %u, "
		    "held %llu, starts %llu, start_failures %llu, stops %llu",
		    U(a->c.packets), a->nheld, U(a->c.held), U(a->c.starts),
		    U(a->c.start_failures), U(a->c.stops));
		trigger_emit(e, &t, json, &first, r);
	}
	for (i = 0; i < count_set_count(e->counts); i++) {
		count_set_counters(e->counts, i, &cc);
		c = count_set_trigger(e->counts, i);
		t = (struct trigger_view){ .name = c->name, .kind = "count",
		    .state = "counting", .tracked = (long)cc.tracker.tracked };
		if (c->kind == CONFIG_COUNT_THRESHOLD) {
			t.set_what = "blocked";
			t.set_elems = set_size(e, c->name, NFT_SET_BLOCK4, NFT_SET_BLOCK6);
		}
		snprintf(t.detail, sizeof(t.detail), "packets %llu, hooks %llu, "
		    "blocks %llu, exempt %llu, dropped %llu", U(cc.packets),
		    U(cc.hooks), U(cc.blocks), U(cc.exempt), U(cc.dropped));
		trigger_emit(e, &t, json, &first, r);
	}
	for (i = 0; i < e->cfg->nrotates; i++) {
		t = (struct trigger_view){ .name = e->cfg->rotates[i].name,
		    .kind = "rotate", .state = "in-kernel", .tracked = -1 };
		snprintf(t.detail, sizeof(t.detail), "pool_v4 %d, pool_v6 %d",
		    e->cfg->rotates[i].pool[0].n, e->cfg->rotates[i].pool[1].n);
		trigger_emit(e, &t, json, &first, r);
	}
}

/* --- per queue ------------------------------------------------------------ */

static void
status_queue(const struct queue_view *v, bool json, bool first,
    struct control_reply *r)
{
	const struct nfq_counters *c = v->c;

	if (!json) {
		control_printf(r, "queue %u: %llu received, %llu accepted, %llu dropped, "
		    "%llu held (%llu now), %llu malformed, %llu bypassed (maintenance), "
		    "%llu ENOBUFS, %llu verdict errors, %llu failed verdict sends "
		    "(retried)\n", v->queue, U(c->packets),
		    U(c->accepted), U(c->dropped), U(c->held),
		    U(c->held - c->held_verdicts), U(v->qs->malformed),
		    U(v->qs->bypassed), U(c->enobufs), U(c->verdict_errors),
		    U(c->verdict_send_failures));
		if (v->have_kernel)
			control_printf(r, "    kernel: %u waiting, %llu queue drops, "
			    "%llu user drops, id sequence %llu", v->k.waiting,
			    U(v->k.queue_dropped), U(v->k.user_dropped),
			    U(v->k.id_sequence));
		else
			control_printf(r, "    kernel: not listed");
		if (v->have_drops)
			control_printf(r, ", socket drops %llu", U(v->socket_drops));
		control_printf(r, "\n");
		return;
	}
	control_printf(r, "%s\n    {\"queue\": %u, \"received\": %llu, \"accepted\": %llu, "
	    "\"dropped\": %llu, \"held\": %llu, \"held_now\": %llu, \"malformed\": %llu, "
	    "\"bypassed\": %llu, \"enobufs\": %llu, \"verdict_errors\": %llu, "
	    "\"verdict_send_failures\": %llu",
	    first ? "" : ",", v->queue, U(c->packets), U(c->accepted),
	    U(c->dropped), U(c->held), U(c->held - c->held_verdicts),
	    U(v->qs->malformed), U(v->qs->bypassed), U(c->enobufs),
	    U(c->verdict_errors), U(c->verdict_send_failures));
	if (v->have_kernel)
		control_printf(r, ", \"kernel\": {\"waiting\": %u, \"queue_dropped\": %llu, "
		    "\"user_dropped\": %llu, \"id_sequence\": %llu}", v->k.waiting,
		    U(v->k.queue_dropped), U(v->k.user_dropped), U(v->k.id_sequence));
	if (v->have_drops)
		control_printf(r, ", \"socket_drops\": %llu", U(v->socket_drops));
	control_printf(r, "}");
}

void
engine_status(struct engine *e, bool json, struct control_reply *r)
{
	const struct event_counters *ec = events_counters(e->events);
	const struct nft_counters *nc = nft_counters(e->nft);
	const struct nflog_counters *lc;
	struct bypass_view b;
	struct queue_view v;
	uint64_t up = (loop_now_ms() - e->started_ms) / 1000;
	int i;

	bypass_view(e, &b);
	if (!json) {
		control_printf(r, "nfq-trigger %s, up %llus, config %s, table inet %s\n",
		    NFQT_VERSION, U(up), e->cfg->path, e->cfg->engine.table);
		control_printf(r, "bypass %s%s\n", e->bypass ? "ON" : "off", e->bypass ?
		    ": queued packets are accepted uninspected (guards stay)" : "");
		control_printf(r, "reloads: %llu (%llu refused); events: %llu logged, "
		    "%llu suppressed\n", U(e->reloads), U(e->reloads_refused),
		    U(ec->logged), U(ec->suppressed));
		for (i = 0; i < e->nqueues; i++) {
			queue_view(e, i, &v);
			status_queue(&v, false, i == 0, r);
		}
		if (b.have_diverted)
			control_printf(r, "divert rules: %llu packets; accepted by the "
			    "kernel unseen (fail_open): %llu queue full, %llu socket full\n",
			    U(b.diverted), U(b.queue_full), U(b.socket_full));
		if (e->nflog != NULL) {
			lc = nflog_source_counters(e->nflog);
			control_printf(r, "nflog group %u: %llu packets, %llu ENOBUFS\n",
			    nflog_source_group(e->nflog), U(lc->packets), U(lc->enobufs));
		}
		control_printf(r, "nftables: %llu batches, %llu elements added, %llu deleted, "
		    "%llu refused, %llu set full, %llu retried flushes, %llu lost, "
		    "%llu table rebuilds\n", U(nc->batches_sent), U(nc->elems_added),
		    U(nc->elems_deleted), U(nc->elems_failed), U(nc->set_full),
		    U(nc->flush_retries), U(nc->elems_lost), U(nc->table_recreated));
		status_triggers(e, false, r);
		return;
	}
	control_printf(r, "{\"version\": \"%s\", \"config\": ", NFQT_VERSION);
	json_str(r, e->cfg->path);
	control_printf(r, ", \"table\": \"%s\", \"uptime_s\": %llu, \"bypass\": %s, "
	    "\"reloads\": %llu, \"reloads_refused\": %llu,\n  \"events\": {\"logged\": "
	    "%llu, \"suppressed\": %llu},\n  \"queues\": [", e->cfg->engine.table, U(up),
	    e->bypass ? "true" : "false", U(e->reloads), U(e->reloads_refused),
	    U(ec->logged), U(ec->suppressed));
	for (i = 0; i < e->nqueues; i++) {
		queue_view(e, i, &v);
		status_queue(&v, true, i == 0, r);
	}
	control_printf(r, "],\n  \"kernel_bypassed\": {\"diverted\": %llu, "
	    "\"queue_full\": %llu, \"socket_full\": %llu, \"known\": %s},\n  \"nflog\": ",
	    U(b.diverted), U(b.queue_full), U(b.socket_full),
	    b.have_diverted ? "true" : "false");
	if (e->nflog != NULL) {
		lc = nflog_source_counters(e->nflog);
		control_printf(r, "{\"group\": %u, \"packets\": %llu, \"enobufs\": %llu}",
		    nflog_source_group(e->nflog), U(lc->packets), U(lc->enobufs));
	} else
		control_printf(r, "null");
	control_printf(r, ",\n  \"nftables\": {\"batches\": %llu, \"added\": %llu, "
	    "\"deleted\": %llu, \"refused\": %llu, \"set_full\": %llu, "
	    "\"retried_flushes\": %llu, \"lost\": %llu, \"table_rebuilds\": %llu}",
	    U(nc->batches_sent), U(nc->elems_added), U(nc->elems_deleted),
	    U(nc->elems_failed), U(nc->set_full), U(nc->flush_retries),
	    U(nc->elems_lost), U(nc->table_recreated));
	control_printf(r, ",\n  \"triggers\": [");
	status_triggers(e, true, r);
	control_printf(r, "]}\n");
}

/* --- metrics ----------------------------------------------------------------- */

static void
family(struct control_reply *r, const char *name, const char *type, const char *help)
{
	control_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_queues(struct engine *e, struct control_reply *r)
{
	struct queue_view v[ENGINE_QUEUES_MAX];
	int i;

	for (i = 0; i < e->nqueues; i++)
		queue_view(e, i, &v[i]);
	family(r, "nfq_trigger_packets_total", "counter",
	    "Verdicts the engine gave per queue (hold: held, verdict later).");
	for (i = 0; i < e->nqueues; i++)
		control_printf(r, "nfq_trigger_packets_total{queue=\"%u\",verdict=\"accept\"} %llu\n"
		    "nfq_trigger_packets_total{queue=\"%u\",verdict=\"drop\"} %llu\n"
		    "nfq_trigger_packets_total{queue=\"%u\",verdict=\"hold\"} %llu\n",
		    v[i].queue, U(v[i].c->accepted), v[i].queue, U(v[i].c->dropped),
		    v[i].queue, U(v[i].c->held));
#define QUEUE_FAMILY(name, type, help, expr) do {				\
	family(r, name, type, help);						\
	for (i = 0; i < e->nqueues; i++)					\
		control_printf(r, name "{queue=\"%u\"} %llu\n", v[i].queue,	\
		    U(expr));							\
} while (0)
	QUEUE_FAMILY("nfq_trigger_queue_received_total", "counter",
	    "Packet messages read from the queue.", v[i].c->packets);
	QUEUE_FAMILY("nfq_trigger_queue_held", "gauge",
	    "Packets held now, waiting for a hook.", v[i].c->held - v[i].c->held_verdicts);
	QUEUE_FAMILY("nfq_trigger_queue_malformed_total", "counter",
	    "Packets that did not parse, accepted unjudged.", v[i].qs->malformed);
	QUEUE_FAMILY("nfq_trigger_queue_bypassed_total", "counter",
	    "Packets accepted uninspected during maintenance bypass.", v[i].qs->bypassed);
	QUEUE_FAMILY("nfq_trigger_queue_enobufs_total", "counter",
	    "Socket overruns the engine was told of (ENOBUFS).", v[i].c->enobufs);
	QUEUE_FAMILY("nfq_trigger_queue_verdict_errors_total", "counter",
	    "Verdicts the kernel refused or that could not be sent.",
	    v[i].c->verdict_errors);
	QUEUE_FAMILY("nfq_trigger_queue_verdict_send_failures_total", "counter",
	    "Verdict sends that failed and were kept to be sent again.",
	    v[i].c->verdict_send_failures);
	QUEUE_FAMILY("nfq_trigger_kernel_queue_waiting", "gauge",
	    "Packets in the kernel queue without a verdict.", v[i].k.waiting);
	QUEUE_FAMILY("nfq_trigger_kernel_queue_dropped_total", "counter",
	    "Kernel: dropped for a full queue (fail_open off).", v[i].k.queue_dropped);
	QUEUE_FAMILY("nfq_trigger_kernel_queue_user_dropped_total", "counter",
	    "Kernel: dropped for a full socket (fail_open off).", v[i].k.user_dropped);
	QUEUE_FAMILY("nfq_trigger_kernel_queue_ids_total", "counter",
	    "Kernel: packet ids handed out since the queue was bound.",
	    v[i].k.id_sequence);
	QUEUE_FAMILY("nfq_trigger_kernel_socket_drops_total", "counter",
	    "Kernel: messages the queue's netlink socket dropped.", v[i].socket_drops);
#undef QUEUE_FAMILY
}

static void
metrics_kernel(struct engine *e, struct control_reply *r)
{
	const struct nft_counters *nc = nft_counters(e->nft);
	struct bypass_view b;

	bypass_view(e, &b);
	if (b.have_diverted) {
		family(r, "nfq_trigger_diverted_packets_total", "counter",
		    "Packets the table's queue rules sent to a queue.");
		control_printf(r, "nfq_trigger_diverted_packets_total %llu\n", U(b.diverted));
	}
	family(r, "nfq_trigger_kernel_bypassed_packets_total", "counter",
	    "Packets the kernel accepted unseen (fail_open) since start-up.");
	control_printf(r, "nfq_trigger_kernel_bypassed_packets_total{reason=\"queue_full\"} "
	    "%llu\nnfq_trigger_kernel_bypassed_packets_total{reason=\"socket_full\"} %llu\n",
	    U(b.queue_full), U(b.socket_full));
	family(r, "nfq_trigger_nft_batches_total", "counter", "Element batches sent.");
	control_printf(r, "nfq_trigger_nft_batches_total %llu\n", U(nc->batches_sent));
	family(r, "nfq_trigger_nft_elements_total", "counter",
	    "Set elements committed (add, delete) or refused by the kernel.");
	control_printf(r, "nfq_trigger_nft_elements_total{op=\"add\"} %llu\n"
	    "nfq_trigger_nft_elements_total{op=\"delete\"} %llu\n"
	    "nfq_trigger_nft_elements_total{op=\"refused\"} %llu\n",
	    U(nc->elems_added), U(nc->elems_deleted), U(nc->elems_failed));
	family(r, "nfq_trigger_nft_set_full_total", "counter",
	    "Elements the kernel refused because their set was full.");
	control_printf(r, "nfq_trigger_nft_set_full_total %llu\n", U(nc->set_full));
	family(r, "nfq_trigger_nft_flush_retries_total", "counter",
	    "Element batches sent again after a failed send or a netlink error.");
	control_printf(r, "nfq_trigger_nft_flush_retries_total %llu\n", U(nc->flush_retries));
	family(r, "nfq_trigger_nft_elements_lost_total", "counter",
	    "Element changes given up after their last retry.");
	control_printf(r, "nfq_trigger_nft_elements_lost_total %llu\n", U(nc->elems_lost));
	family(r, "nfq_trigger_nft_table_rebuilds_total", "counter",
	    "Times the table vanished and was rebuilt.");
	control_printf(r, "nfq_trigger_nft_table_rebuilds_total %llu\n",
	    U(nc->table_recreated));
}

static void
metrics_triggers(struct engine *e, struct control_reply *r)
{
	struct knock_counters kc;
	struct count_counters cc;
	const struct config_count *c;
	const struct activity *a;
	const char *name;
	long n;
	int i, s;

	family(r, "nfq_trigger_knock_frames_total", "counter", "Knock frames seen.");
	for (i = 0; i < knock_set_count(e->knocks); i++) {
		knock_set_counters(e->knocks, i, &kc);
		control_printf(r, "nfq_trigger_knock_frames_total{trigger=\"%s\"} %llu\n",
		    knock_set_trigger(e->knocks, i)->name, U(kc.frames));
	}
	family(r, "nfq_trigger_knock_opened_total", "counter", "Completed knocks.");
	for (i = 0; i < knock_set_count(e->knocks); i++) {
		knock_set_counters(e->knocks, i, &kc);
		control_printf(r, "nfq_trigger_knock_opened_total{trigger=\"%s\"} %llu\n",
		    knock_set_trigger(e->knocks, i)->name, U(kc.opened));
	}
	family(r, "nfq_trigger_tracked_sources", "gauge", "Sources a trigger tracks now.");
	for (i = 0; i < knock_set_count(e->knocks); i++) {
		knock_set_counters(e->knocks, i, &kc);
		control_printf(r, "nfq_trigger_tracked_sources{trigger=\"%s\"} %llu\n",
		    knock_set_trigger(e->knocks, i)->name, U(kc.tracker.tracked));
	}
	for (i = 0; i < count_set_count(e->counts); i++) {
		count_set_counters(e->counts, i, &cc);
		control_printf(r, "nfq_trigger_tracked_sources{trigger=\"%s\"} %llu\n",
		    count_set_trigger(e->counts, i)->name, U(cc.tracker.tracked));
	}
	family(r, "nfq_trigger_set_elements", "gauge",
	    "Addresses in a trigger's allow or block set.");
	for (i = 0; i < knock_set_count(e->knocks); i++) {
		name = knock_set_trigger(e->knocks, i)->name;
		if ((n = set_size(e, name, NFT_SET_ALLOW4, NFT_SET_ALLOW6)) >= 0)
			control_printf(r, "nfq_trigger_set_elements{trigger=\"%s\","
			    "set=\"allow\"} %ld\n", name, n);
	}
	for (i = 0; i < count_set_count(e->counts); i++) {
		c = count_set_trigger(e->counts, i);
		if (c->kind == CONFIG_COUNT_THRESHOLD &&
		    (n = set_size(e, c->name, NFT_SET_BLOCK4, NFT_SET_BLOCK6)) >= 0)
			control_printf(r, "nfq_trigger_set_elements{trigger=\"%s\","
			    "set=\"block\"} %ld\n", c->name, n);
	}
	family(r, "nfq_trigger_activity_state", "gauge",
	    "1 for the state an activity trigger is in.");
	for (i = 0; (a = engine_act_state(e, i)) != NULL; i++)
		for (s = ACT_STANDBY; s <= ACT_BACKOFF; s++)
			control_printf(r, "nfq_trigger_activity_state{trigger=\"%s\","
			    "state=\"%s\"} %d\n", a->cfg->name,
			    act_state_name((enum act_state)s), a->state == (enum act_state)s);
	family(r, "nfq_trigger_activity_starts_total", "counter", "start hooks asked for.");
	for (i = 0; (a = engine_act_state(e, i)) != NULL; i++)
		control_printf(r, "nfq_trigger_activity_starts_total{trigger=\"%s\"} %llu\n",
		    a->cfg->name, U(a->c.starts));
	family(r, "nfq_trigger_activity_stops_total", "counter", "stop hooks asked for.");
	for (i = 0; (a = engine_act_state(e, i)) != NULL; i++)
		control_printf(r, "nfq_trigger_activity_stops_total{trigger=\"%s\"} %llu\n",
		    a->cfg->name, U(a->c.stops));
	family(r, "nfq_trigger_count_packets_total", "counter",
	    "Packets a count trigger counted.");
	for (i = 0; i < count_set_count(e->counts); i++) {
		count_set_counters(e->counts, i, &cc);
		control_printf(r, "nfq_trigger_count_packets_total{trigger=\"%s\"} %llu\n",
		    count_set_trigger(e->counts, i)->name, U(cc.packets));
	}
	family(r, "nfq_trigger_count_blocks_total", "counter", "Sources blocked.");
	for (i = 0; i < count_set_count(e->counts); i++) {
		count_set_counters(e->counts, i, &cc);
		control_printf(r, "nfq_trigger_count_blocks_total{trigger=\"%s\"} %llu\n",
		    count_set_trigger(e->counts, i)->name, U(cc.blocks));
	}
	family(r, "nfq_trigger_hooks_total", "counter",
	    "Hooks per trigger and outcome (a failure also counts as run).");
	for (i = 0; i < e->nhookstats; i++)
		control_printf(r, "nfq_trigger_hooks_total{trigger=\"%s\",result=\"run\"} %llu\n"
		    "nfq_trigger_hooks_total{trigger=\"%s\",result=\"failed\"} %llu\n"
		    "nfq_trigger_hooks_total{trigger=\"%s\",result=\"refused\"} %llu\n",
		    e->hookstats[i].name, U(e->hookstats[i].runs), e->hookstats[i].name,
		    U(e->hookstats[i].failures), e->hookstats[i].name,
		    U(e->hookstats[i].refused));
}

void
engine_metrics(struct engine *e, struct control_reply *r)
{
	const struct event_counters *ec = events_counters(e->events);
	uint64_t served, refused;

	family(r, "nfq_trigger_up", "gauge", "The engine answers.");
	control_printf(r, "nfq_trigger_up 1\n");
	family(r, "nfq_trigger_uptime_seconds", "gauge", "Seconds since start-up.");
	control_printf(r, "nfq_trigger_uptime_seconds %llu\n",
	    U((loop_now_ms() - e->started_ms) / 1000));
	family(r, "nfq_trigger_bypass", "gauge",
	    "1 while maintenance bypass accepts queued packets uninspected.");
	control_printf(r, "nfq_trigger_bypass %d\n", e->bypass ? 1 : 0);
	family(r, "nfq_trigger_reloads_total", "counter", "Reloads by result.");
	control_printf(r, "nfq_trigger_reloads_total{result=\"applied\"} %llu\n"
	    "nfq_trigger_reloads_total{result=\"refused\"} %llu\n",
	    U(e->reloads - e->reloads_refused), U(e->reloads_refused));
	metrics_queues(e, r);
	metrics_kernel(e, r);
	metrics_triggers(e, r);
	family(r, "nfq_trigger_parsed_packets_total", "counter", "Packets parsed.");
	control_printf(r, "nfq_trigger_parsed_packets_total %llu\n", U(e->counters.parsed));
	family(r, "nfq_trigger_events_total", "counter",
	    "Event log lines, written or held back by the rate limits.");
	control_printf(r, "nfq_trigger_events_total{result=\"logged\"} %llu\n"
	    "nfq_trigger_events_total{result=\"suppressed\"} %llu\n",
	    U(ec->logged), U(ec->suppressed));
	control_counters(e->control, &served, &refused);
	family(r, "nfq_trigger_control_requests_total", "counter",
	    "Control and metrics requests, served or refused.");
	control_printf(r, "nfq_trigger_control_requests_total{result=\"served\"} %llu\n"
	    "nfq_trigger_control_requests_total{result=\"refused\"} %llu\n",
	    U(served), U(refused));
}
