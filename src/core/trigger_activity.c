/*
 * The activity trigger's state machine (trigger_activity.h). One struct
 * activity per [activity NAME]; the engine owns it, runs the hooks and
 * gives the verdicts this file asks for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/trigger_activity.h"

const char *
act_state_name(enum act_state s)
{
	switch (s) {
	case ACT_STANDBY:
		return "standby";
	case ACT_STARTING:
		return "starting";
	case ACT_ACTIVE:
		return "active";
	case ACT_STOPPING:
		return "stopping";
	case ACT_BACKOFF:
		return "backoff";
	}
	return "unknown";
}

static void
out_clear(const struct activity *a, struct act_actions *out)
{
	memset(out, 0, sizeof(*out));
	out->epoch = a->epoch;
	out->kernel_sampling = -1;
}

/* NFLOG triggers have no kernel switch: they are always sampled. */
static void
out_sampling(const struct activity *a, struct act_actions *out, bool on)
{
	if (a->cfg->source == CONFIG_SOURCE_QUEUE)
		out->kernel_sampling = on ? 1 : 0;
}

static struct act_held *
held_alloc(const struct config_activity *cfg)
{
	if (cfg->source != CONFIG_SOURCE_QUEUE || cfg->hold_packets == 0)
		return NULL;
	return calloc(cfg->hold_packets, sizeof(struct act_held));
}

int
act_init(struct activity *a, const struct config_activity *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->state = ACT_STANDBY;
	a->held = held_alloc(cfg);
	/* Without its slots the trigger still works; it holds nothing. */
	if (a->held == NULL && cfg->source == CONFIG_SOURCE_QUEUE &&
	    cfg->hold_packets > 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
act_free(struct activity *a)
{
	free(a->held);
	a->held = NULL;
}

int
act_configure(struct activity *a, const struct config_activity *cfg)
{
	struct act_held *held;

	if (a->nheld != 0 || a->state != ACT_STANDBY) {
		errno = EBUSY;
		return -1;
	}
	held = held_alloc(cfg);
	free(a->held);
	a->held = held;
	a->cfg = cfg;
	if (held == NULL && cfg->source == CONFIG_SOURCE_QUEUE &&
	    cfg->hold_packets > 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static bool
hook_same(const struct config_hook *a, const struct config_hook *b)
{
	int i;

	if (a->argc != b->argc || (a->argv == NULL) != (b->argv == NULL))
		return false;
	for (i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return false;
	return true;
}

bool
act_config_same(const struct config_activity *a, const struct config_activity *b)
{
	return strcmp(a->name, b->name) == 0 && a->source == b->source &&
	    a->ttl_ms == b->ttl_ms && a->hold_packets == b->hold_packets &&
	    a->hold_bytes == b->hold_bytes &&
	    a->start_failure_accept == b->start_failure_accept &&
	    a->retry_after_ms == b->retry_after_ms &&
	    memcmp(&a->match, &b->match, sizeof(a->match)) == 0 &&
	    hook_same(&a->start, &b->start) && hook_same(&a->stop, &b->stop);
}

void
act_keep_config(struct activity *a, const struct config_activity *cfg)
{
	a->cfg = cfg;
}

/* Every held packet goes out in one verdict; the slots are free again. */
static void
release_all(struct activity *a, struct act_actions *out, bool accept)
{
	out->release = a->held;
	out->nrelease = (int)a->nheld;
	out->release_accept = accept;
	if (accept)
		a->c.released += a->nheld;
	else
		a->c.failed_released += a->nheld;
	a->nheld = 0;
	a->held_bytes = 0;
}

/* Beyond either bound a packet is dropped: its sender retransmits. */
static enum act_verdict
hold(struct activity *a, const struct act_held *pkt)
{
	if (pkt == NULL)
		return ACT_PASS;
	if (a->held == NULL || a->nheld >= a->cfg->hold_packets ||
	    a->held_bytes + pkt->len > a->cfg->hold_bytes) {
		a->c.overflow++;
		return ACT_DROP;
	}
	a->held[a->nheld++] = *pkt;
	a->held_bytes += pkt->len;
	a->c.held++;
	return ACT_HOLD;
}

static void
start(struct activity *a, struct act_actions *out)
{
	a->state = ACT_STARTING;
	a->c.starts++;
	out->run_start = true;
}

enum act_verdict
act_packet(struct activity *a, const struct act_held *pkt, uint64_t now_ms,
    struct act_actions *out)
{
	out_clear(a, out);
	a->c.packets++;
	switch (a->state) {
	case ACT_ACTIVE:
		if (now_ms > a->last_seen_ms)
			a->last_seen_ms = now_ms;
		return ACT_PASS;
	case ACT_BACKOFF:
		if (now_ms < a->retry_at_ms) {
			a->c.backoff++;
			return a->cfg->start_failure_accept ? ACT_PASS : ACT_DROP;
		}
		/* FALLTHROUGH */
	case ACT_STANDBY:
		start(a, out);
		return hold(a, pkt);
	case ACT_STOPPING:
		a->restart = true;
		return hold(a, pkt);
	case ACT_STARTING:
		return hold(a, pkt);
	}
	return ACT_PASS;
}

enum act_verdict
act_unparsed(struct activity *a)
{
	a->c.unparsed++;
	if (a->state == ACT_ACTIVE || a->cfg->start_failure_accept)
		return ACT_PASS;
	a->c.unparsed_dropped++;
	return ACT_DROP;
}

void
act_start_done(struct activity *a, uint32_t epoch, bool ok, uint64_t now_ms,
    struct act_actions *out)
{
	out_clear(a, out);
	if (epoch != a->epoch || a->state != ACT_STARTING)
		return;
	if (ok) {
		a->state = ACT_ACTIVE;
		a->last_seen_ms = now_ms;
		release_all(a, out, true);
		out_sampling(a, out, true);
		return;
	}
	a->state = ACT_BACKOFF;
	a->retry_at_ms = now_ms + a->cfg->retry_after_ms;
	a->c.start_failures++;
	release_all(a, out, a->cfg->start_failure_accept);
}

void
act_stop_done(struct activity *a, uint32_t epoch, bool ok, uint64_t now_ms,
    struct act_actions *out)
{
	(void)now_ms;
	out_clear(a, out);
	if (epoch != a->epoch || a->state != ACT_STOPPING)
		return;
	if (!ok)
		a->c.stop_failures++;
	a->state = ACT_STANDBY;
	if (a->restart) {
		a->restart = false;
		start(a, out);
	}
}

uint64_t
act_next_deadline(const struct activity *a)
{
	if (a->state != ACT_ACTIVE)
		return ACT_NO_DEADLINE;
	return a->last_seen_ms + a->cfg->ttl_ms;
}

void
act_expire(struct activity *a, uint64_t now_ms, struct act_actions *out)
{
	out_clear(a, out);
	if (a->state != ACT_ACTIVE || now_ms < a->last_seen_ms + a->cfg->ttl_ms)
		return;
	out_sampling(a, out, false);
	if (a->cfg->stop.argv == NULL) {
		a->state = ACT_STANDBY;
		return;
	}
	a->state = ACT_STOPPING;
	a->c.stops++;
	out->run_stop = true;
}

void
act_reset(struct activity *a, struct act_actions *out)
{
	out_clear(a, out);
	a->epoch++;
	a->c.resets++;
	release_all(a, out, a->cfg->start_failure_accept);
	if (a->state == ACT_ACTIVE)
		out_sampling(a, out, false);
	/* A start that ran, or still runs, may have brought the path up. */
	if ((a->state == ACT_STARTING || a->state == ACT_ACTIVE) &&
	    a->cfg->stop.argv != NULL) {
		out->run_stop = true;
		a->c.stops++;
	}
	a->state = ACT_STANDBY;
	a->restart = false;
}
