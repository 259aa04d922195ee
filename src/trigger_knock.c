/*
 * Knock trigger state machine. Per trigger and source, the only state is
 * the index of the frame expected next; the tracker entry's deadline is the
 * end of the window (first frame + window), and the tracker forgets the
 * source when it passes. A source with no entry is at frame 0.
 *
 * For a packet on one of the trigger's knock ports:
 *   entry, packet matches the expected frame   advance (complete: open)
 *   entry, packet does not match               reset_on_wrong: forget the
 *                                              source, then treat the packet
 *                                              as a possible first frame;
 *                                              else ignore it
 *   no entry, packet matches frame 0           start: entry, window begins
 *   no entry, anything else                    nothing
 * and the verdict is always DROP.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "packet.h"
#include "tracker.h"
#include "trigger_knock.h"

#define PORT_BITMAP_BYTES	(65536 / 8)

struct knock_state {
	uint8_t next;		/* frame this source must send next, >= 1 */
};

struct knock_trigger {
	const struct config_knock *cfg;
	struct tracker *tracker;
	struct knock_counters counters;	/* .tracker is filled on request */
};

struct knock_set {
	struct knock_trigger *triggers;
	int ntriggers;
	/* Every knock port of every trigger: most packets stop here. */
	uint8_t tcp_ports[PORT_BITMAP_BYTES];
	uint8_t udp_ports[PORT_BITMAP_BYTES];
};

static uint8_t *
port_bitmap(struct knock_set *ks, uint8_t proto)
{
	if (proto == IPPROTO_TCP)
		return ks->tcp_ports;
	if (proto == IPPROTO_UDP)
		return ks->udp_ports;
	return NULL;
}

static bool
set_has_port(const struct knock_set *ks, const struct pkt *p)
{
	const uint8_t *bm;

	if (!(p->flags & PKT_F_PORTS))
		return false;
	if (p->proto == IPPROTO_TCP)
		bm = ks->tcp_ports;
	else if (p->proto == IPPROTO_UDP)
		bm = ks->udp_ports;
	else
		return false;
	return (bm[p->dport / 8] & (1U << (p->dport % 8))) != 0;
}

static bool
trigger_has_port(const struct config_knock *k, const struct pkt *p)
{
	int i;

	for (i = 0; i < k->nframes; i++)
		if (k->frames[i].port.proto == p->proto &&
		    k->frames[i].port.port == p->dport)
			return true;
	return false;
}

/* UDP frames have mask 0 and value 0, so the flags test passes for them. */
static bool
frame_matches(const struct config_knock_frame *f, const struct pkt *p)
{
	return f->port.proto == p->proto && f->port.port == p->dport &&
	    (p->tcp_flags & f->flags_mask) == f->flags_value;
}

static uint64_t
window_end(uint64_t now_ms, uint64_t window_ms)
{
	if (window_ms >= TRACKER_NO_DEADLINE - now_ms)
		return TRACKER_NO_DEADLINE - 1;
	return now_ms + window_ms;
}

static void
trigger_open(struct knock_trigger *kt, struct knock_result *out)
{
	kt->counters.opened++;
	out->opened[out->nopened++] = kt->cfg;
}

/* A packet that may be frame 0, from a source with no progress. */
static void
trigger_start(struct knock_trigger *kt, const struct pkt *p, uint64_t now_ms,
    struct knock_result *out)
{
	const struct config_knock *k = kt->cfg;
	struct knock_state *st;

	if (!frame_matches(&k->frames[0], p))
		return;
	kt->counters.started++;
	if (k->nframes == 1) {
		trigger_open(kt, out);
		return;
	}
	st = tracker_insert(kt->tracker, p->family, p->src,
	    window_end(now_ms, k->window_ms));
	st->next = 1;
}

static void
trigger_packet(struct knock_trigger *kt, const struct pkt *p, uint64_t now_ms,
    struct knock_result *out)
{
	const struct config_knock *k = kt->cfg;
	struct knock_state *st;

	if (!trigger_has_port(k, p))
		return;
	out->verdict = KNOCK_DROP;
	kt->counters.frames++;
	/* Reclaim dead entries first, so none of them costs a live one its slot. */
	tracker_expire(kt->tracker, now_ms);
	if ((st = tracker_find(kt->tracker, p->family, p->src, now_ms)) == NULL) {
		trigger_start(kt, p, now_ms, out);
		return;
	}
	if (frame_matches(&k->frames[st->next], p)) {
		kt->counters.advanced++;
		if (++st->next == k->nframes) {
			tracker_remove(kt->tracker, st);
			trigger_open(kt, out);
		} else
			tracker_promote(kt->tracker, st);
		return;
	}
	kt->counters.wrong++;
	if (!k->reset_on_wrong)
		return;
	kt->counters.resets++;
	tracker_remove(kt->tracker, st);
	/* Starting over is what a user who lost count does: let it count. */
	trigger_start(kt, p, now_ms, out);
}

void
knock_set_packet(struct knock_set *ks, const struct pkt *p, uint64_t now_ms,
    struct knock_result *out)
{
	int i;

	out->verdict = KNOCK_NOT_MINE;
	out->family = p->family;
	memset(out->addr, 0, sizeof(out->addr));
	memcpy(out->addr, p->src, p->family == AF_INET ? 4 : 16);
	out->nopened = 0;
	if (!set_has_port(ks, p))
		return;
	for (i = 0; i < ks->ntriggers; i++)
		trigger_packet(&ks->triggers[i], p, now_ms, out);
}

static int
knock_set_add(struct knock_set *ks, const struct config_knock *k,
    uint32_t capacity, const uint8_t *hash_key)
{
	struct knock_trigger *kt = &ks->triggers[ks->ntriggers];
	uint8_t *bm;
	int i;

	if (k->nframes < 1 || k->nframes > CONFIG_KNOCK_FRAMES_MAX) {
		log_warnx("knock %s: %d frames, want 1 to %d", k->name,
		    k->nframes, CONFIG_KNOCK_FRAMES_MAX);
		return -1;
	}
	for (i = 0; i < k->nframes; i++) {
		if ((bm = port_bitmap(ks, k->frames[i].port.proto)) == NULL) {
			log_warnx("knock %s: frame %s is neither tcp nor udp",
			    k->name, k->frames[i].text);
			return -1;
		}
		bm[k->frames[i].port.port / 8] |= 1U << (k->frames[i].port.port % 8);
	}
	kt->cfg = k;
	kt->tracker = tracker_new(capacity, capacity / KNOCK_PROGRESS_SHARE,
	    sizeof(struct knock_state), hash_key);
	if (kt->tracker == NULL) {
		log_warn("knock %s: tracker of %u sources", k->name, capacity);
		return -1;
	}
	ks->ntriggers++;
	return 0;
}

struct knock_set *
knock_set_new(const struct config *cfg, const uint8_t *hash_key)
{
	struct knock_set *ks;
	uint32_t capacity = cfg->engine.max_sources;
	int i;

	if (capacity < KNOCK_SOURCES_MIN || capacity > TRACKER_CAPACITY_MAX) {
		log_warnx("knock: max_sources %u is out of range %u..%u",
		    capacity, KNOCK_SOURCES_MIN, TRACKER_CAPACITY_MAX);
		return NULL;
	}
	if (cfg->nknocks < 0 || cfg->nknocks > CONFIG_TRIGGERS_MAX) {
		log_warnx("knock: %d triggers, at most %d", cfg->nknocks,
		    CONFIG_TRIGGERS_MAX);
		return NULL;
	}
	if ((ks = calloc(1, sizeof(*ks))) == NULL ||
	    (cfg->nknocks > 0 && (ks->triggers = calloc((size_t)cfg->nknocks,
	    sizeof(*ks->triggers))) == NULL)) {
		log_warn("knock: set of %d triggers", cfg->nknocks);
		free(ks);
		return NULL;
	}
	for (i = 0; i < cfg->nknocks; i++) {
		if (knock_set_add(ks, &cfg->knocks[i], capacity, hash_key) < 0) {
			knock_set_free(ks);
			return NULL;
		}
	}
	return ks;
}

void
knock_set_free(struct knock_set *ks)
{
	int i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->ntriggers; i++)
		tracker_free(ks->triggers[i].tracker);
	free(ks->triggers);
	free(ks);
}

uint64_t
knock_set_next_deadline(const struct knock_set *ks)
{
	uint64_t next = TRACKER_NO_DEADLINE, d;
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		if ((d = tracker_next_deadline(ks->triggers[i].tracker)) < next)
			next = d;
	return next;
}

void
knock_set_expire(struct knock_set *ks, uint64_t now_ms)
{
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		tracker_expire(ks->triggers[i].tracker, now_ms);
}

/* Progress made under a's rules means the same under b's. */
static bool
knock_same_sequence(const struct config_knock *a, const struct config_knock *b)
{
	int i;

	if (strcmp(a->name, b->name) != 0 || a->nframes != b->nframes ||
	    a->window_ms != b->window_ms)
		return false;
	for (i = 0; i < a->nframes; i++)
		if (a->frames[i].port.proto != b->frames[i].port.proto ||
		    a->frames[i].port.port != b->frames[i].port.port ||
		    a->frames[i].flags_mask != b->frames[i].flags_mask ||
		    a->frames[i].flags_value != b->frames[i].flags_value)
			return false;
	return true;
}

static void
counters_add(struct knock_counters *to, const struct knock_counters *from)
{
	to->frames += from->frames;
	to->started += from->started;
	to->advanced += from->advanced;
	to->wrong += from->wrong;
	to->resets += from->resets;
	to->opened += from->opened;
}

int
knock_set_adopt(struct knock_set *ks, struct knock_set *old)
{
	struct knock_trigger *to, *from;
	int i, j, adopted = 0;

	for (i = 0; i < ks->ntriggers; i++) {
		to = &ks->triggers[i];
		for (j = 0; j < old->ntriggers; j++) {
			from = &old->triggers[j];
			if (!knock_same_sequence(to->cfg, from->cfg))
				continue;
			if (tracker_move_all(to->tracker, from->tracker) < 0)
				continue;
			counters_add(&to->counters, &from->counters);
			memset(&from->counters, 0, sizeof(from->counters));
			adopted++;
			break;
		}
	}
	return adopted;
}

int
knock_set_count(const struct knock_set *ks)
{
	return ks->ntriggers;
}

const struct config_knock *
knock_set_trigger(const struct knock_set *ks, int i)
{
	if (i < 0 || i >= ks->ntriggers)
		return NULL;
	return ks->triggers[i].cfg;
}

void
knock_set_counters(const struct knock_set *ks, int i, struct knock_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (i < 0 || i >= ks->ntriggers)
		return;
	*out = ks->triggers[i].counters;
	tracker_get_stats(ks->triggers[i].tracker, &out->tracker);
}
