/*
 * The engine's side of knock triggers: a completed sequence opens the
 * service to its source (allow set), runs exec, and schedules exec_stop
 * after its delay.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "core/deferred.h"
#include "core/knock_frame.h"
#include "engine/engine_priv.h"
#include "engine/event.h"
#include "engine/hook.h"
#include "engine/loop.h"
#include "engine/knock_state.h"
#include "util/log.h"
#include "util/random.h"
#include "kernel/nft.h"
#include "core/packet.h"
#include "core/trigger_knock.h"
#include "engine/event.h"

/*
 * exec and exec_stop are a pair: exec runs only with room kept for its
 * exec_stop (pair), which then runs whatever the queues hold (reserved).
 */
static int
engine_run_hook(struct engine *e, const struct config_knock *k,
    const struct config_hook *hook, enum hook_event event, int family,
    const uint8_t *addr, bool pair, bool reserved)
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
		.per_source = true,
		.pair = pair,
		.reserved = reserved,
	};
	memcpy(req.addr, addr, sizeof(req.addr));
	/* A refusal goes to the event log through the hook observer. */
	return hook_run(e->hooks, &req);
}

/*
 * What goes into k's allow set for a source: the address, or with
 * open_prefix its network (the guard masks the source the same way).
 */
static void
engine_knock_member(const struct config_knock *k, int family,
    const uint8_t *addr, uint8_t out[16])
{
	int bits = family == AF_INET ? k->open_prefix4 : k->open_prefix6;
	int len = family == AF_INET ? 4 : 16, i;

	memset(out, 0, 16);
	memcpy(out, addr, (size_t)len);
	if (bits == 0)
		return;
	for (i = 0; i < len; i++)
		if (bits <= 8 * i)
			out[i] = 0;
		else if (bits < 8 * (i + 1))
			out[i] &= (uint8_t)(0xff << (8 - (bits - 8 * i)));
}

/* A source completed k's sequence: the kernel opens the service to it. */
static void
engine_knock_opened(struct engine *e, const struct config_knock *k,
    int family, const uint8_t *addr, uint64_t now)
{
	struct deferred_item later = { .family = (uint8_t)family };
	char ip[64], net[64], timeout[32];
	struct pkt view = { .family = (uint8_t)family };
	uint8_t member[16];
	int bits = family == AF_INET ? k->open_prefix4 : k->open_prefix6;
	bool pair;

	pkt_addr_str(&view, addr, ip, sizeof(ip));
	engine_knock_member(k, family, addr, member);
	if (bits != 0) {
		pkt_addr_str(&view, member, net, sizeof(net));
		log_info("knock %s: %s completed the sequence, %s/%d allowed for "
		    "%s", k->name, ip, net, bits, config_duration_str(
		    k->allow_timeout_ms, timeout, sizeof(timeout)));
	} else
		log_info("knock %s: %s completed the sequence, allowed for %s",
		    k->name, ip, config_duration_str(k->allow_timeout_ms,
		    timeout, sizeof(timeout)));
	event_log(e->events, now, EVENT_OPENED, "knock", k->name, family, addr,
	    NULL);
	nft_allow_add(e->nft, k->name, family, member, k->allow_timeout_ms);
	if (k->exec.argv == NULL)
		return;
	pair = k->exec_stop.argv != NULL;
	/* No exec whose exec_stop could not wait: the pair is refused as one. */
	if (pair && deferred_count(e->deferred) >= ENGINE_DEFERRED_MAX) {
		e->counters.deferred_refused++;
		log_warnx("knock %s: %d exec_stop hooks already waiting, not running "
		    "exec for %s", k->name, ENGINE_DEFERRED_MAX, ip);
		event_log(e->events, now, EVENT_HOOK_REFUSED, "knock", k->name, family,
		    addr, "stop-queue-full");
		return;
	}
	if (engine_run_hook(e, k, &k->exec, HOOK_EV_OPEN, family, addr, pair, false) < 0 ||
	    !pair)
		return;
	later.when_ms = now + k->exec_stop_delay_ms;
	snprintf(later.trigger, sizeof(later.trigger), "%s", k->name);
	memcpy(later.addr, addr, sizeof(later.addr));
	if (deferred_push(e->deferred, &later) < 0)	/* checked above: cannot happen */
		hook_unreserve(e->hooks);
}

/* A source completed k's close sequence: its access goes. */
static void
engine_knock_closed(struct engine *e, const struct config_knock *k,
    int family, const uint8_t *addr, uint64_t now)
{
	struct pkt view = { .family = (uint8_t)family };
	uint8_t member[16];
	char ip[64];

	pkt_addr_str(&view, addr, ip, sizeof(ip));
	log_info("knock %s: %s sent the close sequence, access revoked", k->name,
	    ip);
	event_log(e->events, now, EVENT_CLOSED, "knock", k->name, family, addr,
	    "close-sequence");
	engine_knock_member(k, family, addr, member);
	nft_allow_del(e->nft, k->name, family, member);
}

/* What the core refused, and the windows that ran out, to the event log. */
static void
engine_knock_events(struct engine *e, const struct knock_result *kr,
    uint64_t now)
{
	struct knock_expired x;
	int i;

	for (i = 0; kr != NULL && i < kr->nfailed; i++)
		event_log(e->events, now, EVENT_FAILED, "knock",
		    kr->failed[i].trigger->name, kr->family, kr->addr,
		    kr->failed[i].reason);
	while (knock_set_expired_next(e->knocks, &x))
		event_log(e->events, now, EVENT_FAILED, "knock", x.trigger->name,
		    x.family, x.addr, x.closing ? "close-window-expired" :
		    "window-expired");
}

/* Windows that ran out: forgotten, and each one logged. */
static void
engine_knock_expire(struct engine *e, uint64_t now)
{
	knock_set_expire(e->knocks, now);
	engine_knock_events(e, NULL, now);
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

/* The knock triggers of cfg, with the counters their state files hold. */
static struct knock_set *
engine_knock_set_new(const struct config *cfg)
{
	uint8_t key[TRACKER_HASH_KEY_LEN];
	struct knock_set *ks;
	char why[256];

	if (random_bytes(key, sizeof(key)) < 0) {
		log_warn("knock: a hash key");
		return NULL;
	}
	ks = knock_set_new_at(cfg, key, (int64_t)time(NULL), why, sizeof(why));
	explicit_bzero(key, sizeof(key));	/* the trackers keep their copies */
	if (ks == NULL) {
		log_warnx("%s", why);
		return NULL;
	}
	if (knock_state_load(ks) < 0) {
		knock_set_free(ks);
		return NULL;
	}
	return ks;
}

static bool
knock_needs_commit(const struct knock_result *kr)
{
	int i;

	for (i = 0; i < kr->nopened; i++)
		if (kr->commit[i] != 0)
			return true;
	return false;
}

/* Whether a knock trigger has frames on proto (0: unknown, any may). */
static bool
engine_knock_uses_proto(const struct engine *e, uint8_t proto)
{
	struct config_port_range r[CONFIG_KNOCK_FRAMES_MAX];
	int i, j, n;

	for (i = 0; i < e->cfg->nknocks; i++) {
		n = knock_divert_ports(&e->cfg->knocks[i], r, CONFIG_KNOCK_FRAMES_MAX);
		for (j = 0; j < n; j++)
			if (proto == 0 || r[j].proto == proto)
				return true;
	}
	return false;
}

/* Whether a knock trigger counts only frames from one interface. */
static bool
engine_knock_uses_iif(const struct config *cfg)
{
	int i;

	for (i = 0; i < cfg->nknocks; i++)
		if (cfg->knocks[i].interface[0] != '\0')
			return true;
	return false;
}

/*
 * A packet through the knock triggers; the sequences it completed open. One
 * that needs its counter on disk first waits for the pass's flush: no file
 * is written in a packet callback (docs/design.md, decision 15: nothing on
 * the packet path waits). local: the kernel delivers the packet to this
 * host (it was queued at the input hook, which sees nothing else); indev:
 * the interface it came in on (decision 13).
 */
static enum knock_verdict
engine_knock_packet(struct engine *e, const struct pkt *p, bool local,
    uint32_t indev, uint64_t now)
{
	struct knock_where w = { .local = local, .iif = NULL };
	struct knock_result kr;
	int i;

	if (local && indev != 0 && engine_knock_uses_iif(e->cfg))
		w.iif = ifname_get(&e->ifnames, indev, now);
	knock_set_packet_to(e->knocks, p, &w, now, loop_pass_wall_s(e->loop), &kr);
	if (kr.verdict == KNOCK_NOT_MINE)
		return kr.verdict;
	engine_knock_events(e, &kr, now);
	for (i = 0; i < kr.nclosed; i++)
		engine_knock_closed(e, kr.closed[i], kr.family, kr.addr, now);
	if (kr.nopened == 0)
		return kr.verdict;
	if (knock_needs_commit(&kr)) {
		if (e->nknock_pending < ENGINE_KNOCK_PENDING) {
			e->knock_pending[e->nknock_pending++] = kr;
			return kr.verdict;
		}
		e->counters.knock_pending_refused++;
		log_warnx("knock: %d derived knocks already wait for their state "
		    "file in this pass, refusing one", ENGINE_KNOCK_PENDING);
		return kr.verdict;
	}
	for (i = 0; i < kr.nopened; i++)
		engine_knock_opened(e, kr.opened[i], kr.family, kr.addr, now);
	return kr.verdict;
}

/* The pass's derived knocks: each counter on disk, then it opens. */
static void
engine_knock_flush(struct engine *e, uint64_t now)
{
	struct knock_result *kr;
	int i, j;

	for (i = 0; i < e->nknock_pending; i++) {
		kr = &e->knock_pending[i];
		kr->nfailed = 0;	/* reported when the packet came */
		knock_state_commit(e->knocks, kr);
		engine_knock_events(e, kr, now);
		for (j = 0; j < kr->nopened; j++)
			engine_knock_opened(e, kr->opened[j], kr->family,
			    kr->addr, now);
	}
	e->nknock_pending = 0;
}

/* The exec_stop hooks whose delay is over. */
static void
engine_knock_run_deferred(struct engine *e, uint64_t now)
{
	const struct config_knock *k;
	struct deferred_item it;

	while (deferred_pop_due(e->deferred, now, &it)) {
		/* The trigger may have left the config by a reload since. */
		k = engine_find_knock(e->cfg, it.trigger);
		if (k != NULL && k->exec_stop.argv != NULL)
			engine_run_hook(e, k, &k->exec_stop, HOOK_EV_CLOSE, it.family, it.addr,
			    false, true);
		else
			hook_unreserve(e->hooks);
	}
}

static void
engine_knock_log_counters(const struct engine *e)
{
	struct knock_counters kc;
	int i;

	for (i = 0; i < knock_set_count(e->knocks); i++) {
		knock_set_counters(e->knocks, i, &kc);
		log_info("knock %s: %llu frames, %llu not addressed to it, %llu started, "
		    "%llu opened, %llu resets, %llu duplicates, %llu closed, "
		    "%llu replays refused, %llu state errors, %llu tracked, %llu evicted",
		    knock_set_trigger(e->knocks, i)->name,
		    (unsigned long long)kc.frames,
		    (unsigned long long)kc.not_addressed, (unsigned long long)kc.started,
		    (unsigned long long)kc.opened, (unsigned long long)kc.resets,
		    (unsigned long long)kc.duplicates, (unsigned long long)kc.closed,
		    (unsigned long long)kc.replays, (unsigned long long)kc.state_errors,
		    (unsigned long long)kc.tracker.tracked,
		    (unsigned long long)(kc.tracker.evicted_fresh + kc.tracker.evicted_progress));
	}
}

/* A queued packet: a knock frame is dropped, and nothing else sees it. */
static const char *
engine_knock_queued(struct engine *e, const struct engine_packet *ep,
    uint64_t now, int *verdict)
{
	if (engine_knock_packet(e, ep->pkt, ep->hook == NF_INET_LOCAL_IN,
	    ep->indev, now) != KNOCK_DROP)
		return NULL;
	*verdict = NF_DROP;
	return "knock frame, drop";
}

/*
 * A malformed packet at the input hook, where knock frames are diverted:
 * on a protocol a knock uses it is dropped, as every frame is (a malformed
 * one cannot be told from one; a count rule's packet on that protocol
 * shares its fate). Elsewhere it is not on a knock's path.
 */
static int
engine_knock_unparsed(struct engine *e, const struct engine_packet *ep,
    uint64_t now)
{
	(void)now;
	if (ep->hook != NF_INET_LOCAL_IN || !engine_knock_uses_proto(e,
	    ep->pkt->proto))
		return -1;
	return NF_DROP;
}

/* The earliest knock window to close, or exec_stop to run. */
static uint64_t
engine_knock_next_deadline(const struct engine *e)
{
	uint64_t next = knock_set_next_deadline(e->knocks);
	uint64_t later = deferred_next(e->deferred);	/* 0: none */

	return later != 0 && later < next ? later : next;
}


static int
engine_knock_prepare(struct engine *e, const struct config *cfg, void **next)
{
	/* Knocks decided under the running config open under it. */
	engine_knock_flush(e, loop_now_ms());
	*next = engine_knock_set_new(cfg);
	return *next == NULL ? -1 : 0;
}

static void
engine_knock_discard(void *next)
{
	knock_set_free(next);
}

/* Sources on the same sequence keep their progress (knock_set_adopt()). */
static int
engine_knock_commit(struct engine *e, const struct config *cfg, void *next)
{
	int kept = 0;

	(void)cfg;
	if (e->knocks != NULL)
		kept = knock_set_adopt(next, e->knocks);
	knock_set_free(e->knocks);
	e->knocks = next;
	return kept;
}

static void
engine_knock_free(struct engine *e)
{
	knock_set_free(e->knocks);
	e->knocks = NULL;
}

const struct engine_kind engine_kind_knock = {
	.name = "knock",
	.keeps_state = true,
	.prepare = engine_knock_prepare,
	.discard = engine_knock_discard,
	.commit = engine_knock_commit,
	.queued = engine_knock_queued,
	.unparsed = engine_knock_unparsed,
	.next_deadline = engine_knock_next_deadline,
	.expire = engine_knock_expire,
	.run_deferred = engine_knock_run_deferred,
	.flush = engine_knock_flush,
	.log_counters = engine_knock_log_counters,
	.free = engine_knock_free,
};
