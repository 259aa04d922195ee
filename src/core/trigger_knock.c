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
 *   entry, packet is the frame just accepted   a duplicate (retransmitted
 *                                              or sent twice): ignored
 *   no entry, packet matches frame 0           start: entry, window begins
 *   no entry, anything else                    nothing
 * and the verdict is always DROP. A close sequence (close_sequence) runs
 * the same machine with a tracker of its own; completing it asks the
 * engine to take the source out of the allow set. Failures (a reset, a
 * used time step) are reported with a one-word reason in the result, and
 * window expiries in a ring the engine drains, for the event log.
 *
 * Derived triggers (derive = time | counter) run the same machine over the
 * sequence(s) that were in play at the source's first frame: the time step
 * of that frame, or every counter from the next unused one to lookahead past
 * it, one bit each in `alive`. A frame keeps the candidates it matches; none
 * left is a wrong frame. What stops a replay is checked at both ends: a used
 * step or counter never starts a knock, and never completes one, since
 * another source may have used it meanwhile.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "core/knock_frame.h"
#include "core/knock_otp.h"
#include "core/pages.h"
#include "core/packet.h"
#include "core/tracker.h"
#include "core/trigger_knock.h"

#define PORT_BITMAP_BYTES	(65536 / 8)
/* Derived sequences kept per trigger: the counters in play, a few steps. */
#define OTP_CACHE		32

_Static_assert(CONFIG_LOOKAHEAD_MAX <= 32, "alive has one bit per counter");
_Static_assert(OTP_CACHE >= CONFIG_LOOKAHEAD_MAX, "every candidate cached");

struct knock_state {
	uint64_t base;		/* derived: step, or first counter in play */
	uint32_t alive;		/* derived: bit i, sequence base + i matches so far */
	uint8_t next;		/* frame this source must send next, >= 1 */
};

/* The ports of one derived sequence; direct-mapped on n % OTP_CACHE. */
struct otp_cached {
	uint64_t n;
	bool valid;
	uint16_t ports[CONFIG_KNOCK_FRAMES_MAX];
};

struct knock_trigger {
	const struct config_knock *cfg;
	/* The machine's sequence: the trigger's, or its close sequence. */
	const struct config_knock_frame *frames;
	int nframes;
	enum config_derive derive;	/* close sequences are listed: NONE */
	bool closes;
	struct knock_set *set;		/* for the expiry ring */
	struct tracker *tracker;
	struct knock_counters counters;	/* .tracker is filled on request */
	uint64_t step_used;		/* time: no step up to this one opens */
	uint64_t start_step;		/* time: the step the engine started in */
	uint64_t counter_next;		/* counter: the lowest unused counter */
	struct otp_cached *cache;	/* derived only: OTP_CACHE entries */
};

struct knock_set {
	struct knock_trigger *triggers;
	int ntriggers;
	struct knock_trigger *closers;	/* close sequences, in trigger order */
	int nclosers;
	struct knock_expired expired[KNOCK_EXPIRED_RING];
	int exp_head;			/* oldest kept */
	int exp_count;
	uint64_t exp_dropped;		/* expiries the ring had no room for */
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

/* UDP frames have mask 0 and value 0, so the flags test passes for them. */
static bool
frame_matches(const struct config_knock_frame *f, const struct pkt *p)
{
	return f->port.proto == p->proto && f->port.port == p->dport &&
	    (p->tcp_flags & f->flags_mask) == f->flags_value;
}

/* The ports of derived sequence n, computed once while it is in use. */
static const uint16_t *
otp_ports(struct knock_trigger *kt, uint64_t n)
{
	const struct config_knock *k = kt->cfg;
	struct otp_cached *c = &kt->cache[n % OTP_CACHE];

	if (!c->valid || c->n != n) {
		knock_otp_ports(k->key, k->derive, k->name, n, k->ports.lo,
		    k->ports.hi, k->nframes, c->ports);
		c->n = n;
		c->valid = true;
	}
	return c->ports;
}

/* Frame i of derived sequence n: the range's protocol, exactly SYN for tcp. */
static bool
otp_matches(struct knock_trigger *kt, uint64_t n, int i, const struct pkt *p)
{
	const struct config_knock *k = kt->cfg;

	if (p->proto != k->ports.proto || otp_ports(kt, n)[i] != p->dport)
		return false;
	return p->proto != IPPROTO_TCP ||
	    (p->tcp_flags & 0x3f) == PKT_TCP_SYN;
}

/*
 * The candidates of alive (bit i: sequence base + i) whose frame i matches
 * p and that are still unused.
 */
static uint32_t
otp_filter(struct knock_trigger *kt, uint64_t base, uint32_t alive, int frame,
    const struct pkt *p)
{
	uint32_t keep = 0;
	int i;

	for (i = 0; i < 32 && alive >> i != 0; i++) {
		if (!(alive & (1U << i)))
			continue;
		if (kt->cfg->derive == CONFIG_DERIVE_COUNTER &&
		    base + (uint64_t)i < kt->counter_next)
			continue;
		if (otp_matches(kt, base + (uint64_t)i, frame, p))
			keep |= 1U << i;
	}
	return keep;
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
	out->commit[out->nopened] = 0;
	out->opened[out->nopened++] = kt->cfg;
}

static void
trigger_fail(struct knock_trigger *kt, const char *reason,
    struct knock_result *out)
{
	if (out->nfailed >= KNOCK_MACHINES_MAX)
		return;
	out->failed[out->nfailed].trigger = kt->cfg;
	out->failed[out->nfailed++].reason = reason;
}

static void otp_complete(struct knock_trigger *, const struct knock_state *,
    struct knock_result *);

/* A machine's sequence is complete: open, close, or a derived check first. */
static void
trigger_done(struct knock_trigger *kt, const struct knock_state *st,
    struct knock_result *out)
{
	if (kt->closes) {
		kt->counters.closed++;
		if (out->nclosed < CONFIG_TRIGGERS_MAX)
			out->closed[out->nclosed++] = kt->cfg;
	} else if (kt->derive == CONFIG_DERIVE_NONE || st == NULL)
		trigger_open(kt, out);
	else
		otp_complete(kt, st, out);
}

/*
 * A derived sequence is complete: open unless it was used meanwhile. A
 * counter must be on disk before it opens anything, so a restart can never
 * make it acceptable again; the core does no I/O, so it asks: commit[] says
 * which counter the engine records first, and only knock_set_commit() makes
 * it used and opened (docs/design.md, decision 9).
 */
static void
otp_complete(struct knock_trigger *kt, const struct knock_state *st,
    struct knock_result *out)
{
	const struct config_knock *k = kt->cfg;
	uint64_t n = st->base;
	int i;

	if (k->derive == CONFIG_DERIVE_TIME) {
		if (n <= kt->step_used) {
			kt->counters.replays++;
			trigger_fail(kt, "step-used", out);
			return;
		}
		kt->step_used = n;
		trigger_open(kt, out);
		return;
	}
	for (i = 0; i < 31 && !(st->alive & (1U << i)); i++)
		;
	n += (uint64_t)i;
	out->commit[out->nopened] = n + 1;
	out->opened[out->nopened++] = kt->cfg;
}

/* The candidates a derived first frame may start; 0 if none. */
static uint32_t
otp_start(struct knock_trigger *kt, const struct pkt *p, int64_t wall_s,
    uint64_t *base, struct knock_result *out)
{
	const struct config_knock *k = kt->cfg;
	uint32_t all;

	if (k->derive == CONFIG_DERIVE_TIME) {
		*base = knock_otp_step(k, wall_s);
		if (*base > kt->step_used)
			return otp_filter(kt, *base, 1, 0, p);
		/*
		 * The sequence of this step opened already (a replay, or a
		 * second user of a shared key), or may have before a restart.
		 */
		if (otp_filter(kt, *base, 1, 0, p) != 0) {
			kt->counters.replays++;
			trigger_fail(kt, *base == kt->start_step &&
			    kt->step_used == kt->start_step ? "start-step" :
			    "step-used", out);
		}
		return 0;
	}
	*base = kt->counter_next;
	all = k->lookahead >= 32 ? UINT32_MAX : (1U << k->lookahead) - 1;
	return otp_filter(kt, *base, all, 0, p);
}

/* A packet that may be frame 0, from a source with no progress. */
static void
trigger_start(struct knock_trigger *kt, const struct pkt *p, uint64_t now_ms,
    int64_t wall_s, struct knock_result *out)
{
	const struct config_knock *k = kt->cfg;
	struct knock_state *st;
	uint32_t alive = 0;
	uint64_t base = 0;

	if (kt->derive == CONFIG_DERIVE_NONE ? !frame_matches(&kt->frames[0], p) :
	    (alive = otp_start(kt, p, wall_s, &base, out)) == 0)
		return;
	kt->counters.started++;
	if (kt->nframes == 1) {
		trigger_done(kt, NULL, out);
		return;
	}
	st = tracker_insert(kt->tracker, p->family, p->src,
	    window_end(now_ms, k->window_ms));
	st->next = 1;
	st->base = base;
	st->alive = alive;
}

/* Whether p is the frame st expects; a derived one narrows the candidates. */
static bool
trigger_advance(struct knock_trigger *kt, struct knock_state *st,
    const struct pkt *p)
{
	uint32_t keep;

	if (kt->derive == CONFIG_DERIVE_NONE)
		return frame_matches(&kt->frames[st->next], p);
	if ((keep = otp_filter(kt, st->base, st->alive, st->next, p)) == 0)
		return false;
	st->alive = keep;
	return true;
}

/* Whether p is a frame of this machine's sequence (or may be). */
static bool
machine_has_port(const struct knock_trigger *kt, const struct pkt *p)
{
	const struct config_knock *k = kt->cfg;

	if (kt->derive != CONFIG_DERIVE_NONE)
		return k->ports.proto == p->proto && p->dport >= k->ports.lo &&
		    p->dport <= k->ports.hi;
	return knock_frames_have_port(kt->frames, kt->nframes, p->proto,
	    p->dport);
}

/*
 * The frame st accepted last, again: a retransmission, or a client that
 * sends each frame twice. It must not reset the sequence.
 */
static bool
trigger_duplicate(struct knock_trigger *kt, const struct knock_state *st,
    const struct pkt *p)
{
	if (kt->derive == CONFIG_DERIVE_NONE)
		return frame_matches(&kt->frames[st->next - 1], p);
	return otp_filter(kt, st->base, st->alive, st->next - 1, p) != 0;
}

static void
expired_keep(void *arg, int family, const uint8_t *addr, void *value)
{
	struct knock_trigger *kt = arg;
	struct knock_set *ks = kt->set;
	struct knock_expired *e;

	(void)value;
	if (ks->exp_count == KNOCK_EXPIRED_RING) {
		ks->exp_dropped++;
		return;
	}
	e = &ks->expired[(ks->exp_head + ks->exp_count++) % KNOCK_EXPIRED_RING];
	e->trigger = kt->cfg;
	e->closing = kt->closes;
	e->family = family;
	memcpy(e->addr, addr, sizeof(e->addr));
}

/*
 * docs/design.md, decision 13: a frame counts only when it is addressed to
 * this host (the engine says so: it was queued at the input hook), to the
 * trigger's target when one is set, and arrived on its interface when one
 * is set.
 */
static bool
trigger_addressed(const struct config_knock *k, const struct pkt *p,
    const struct knock_where *w)
{
	if (!w->local)
		return false;
	if (k->target.family != 0 && (k->target.family != p->family ||
	    memcmp(k->target.p.addr, p->dst, p->family == AF_INET ? 4 : 16) != 0))
		return false;
	if (k->interface[0] != '\0' && (w->iif == NULL ||
	    strcmp(k->interface, w->iif) != 0))
		return false;
	return true;
}

static void
trigger_packet(struct knock_trigger *kt, const struct pkt *p,
    const struct knock_where *w, uint64_t now_ms, int64_t wall_s,
    struct knock_result *out)
{
	const struct config_knock *k = kt->cfg;
	struct knock_state *st;

	if (!machine_has_port(kt, p)) {
		/* The other machine's frames are this one's too (verdict). */
		if (knock_has_port(k, p->proto, p->dport) &&
		    trigger_addressed(k, p, w))
			out->verdict = KNOCK_DROP;
		return;
	}
	if (!trigger_addressed(k, p, w)) {
		kt->counters.not_addressed++;
		return;
	}
	out->verdict = KNOCK_DROP;
	kt->counters.frames++;
	/* Reclaim dead entries first, so none of them costs a live one its slot. */
	tracker_expire_each(kt->tracker, now_ms, expired_keep, kt);
	if ((st = tracker_find(kt->tracker, p->family, p->src, now_ms)) == NULL) {
		trigger_start(kt, p, now_ms, wall_s, out);
		return;
	}
	if (trigger_advance(kt, st, p)) {
		kt->counters.advanced++;
		if (++st->next < kt->nframes) {
			tracker_promote(kt->tracker, st);
			return;
		}
		trigger_done(kt, st, out);
		tracker_remove(kt->tracker, st);
		return;
	}
	if (trigger_duplicate(kt, st, p)) {
		kt->counters.duplicates++;
		return;
	}
	kt->counters.wrong++;
	if (!k->reset_on_wrong)
		return;
	kt->counters.resets++;
	trigger_fail(kt, "wrong-order", out);
	tracker_remove(kt->tracker, st);
	/* Starting over is what a user who lost count does: let it count. */
	trigger_start(kt, p, now_ms, wall_s, out);
}

void
knock_set_packet_at(struct knock_set *ks, const struct pkt *p, uint64_t now_ms,
    int64_t wall_s, struct knock_result *out)
{
	static const struct knock_where here = { .local = true, .iif = NULL };

	knock_set_packet_to(ks, p, &here, now_ms, wall_s, out);
}

void
knock_set_packet_to(struct knock_set *ks, const struct pkt *p,
    const struct knock_where *w, uint64_t now_ms, int64_t wall_s,
    struct knock_result *out)
{
	int i;

	out->verdict = KNOCK_NOT_MINE;
	out->family = p->family;
	out->nopened = 0;
	out->nclosed = 0;
	out->nfailed = 0;
	if (!set_has_port(ks, p))
		return;
	memset(out->addr, 0, sizeof(out->addr));
	memcpy(out->addr, p->src, p->family == AF_INET ? 4 : 16);
	for (i = 0; i < ks->ntriggers; i++)
		trigger_packet(&ks->triggers[i], p, w, now_ms, wall_s, out);
	for (i = 0; i < ks->nclosers; i++)
		trigger_packet(&ks->closers[i], p, w, now_ms, wall_s, out);
}

/* Every port that carries one of k's frames, in the set's bitmaps. */
static int
set_mark_ports(struct knock_set *ks, const struct config_knock *k, char *why,
    size_t whylen)
{
	struct config_port_range r[CONFIG_KNOCK_PORTS_MAX];
	uint8_t *bm;
	uint32_t port;
	int i, n;

	n = knock_divert_ports(k, r, CONFIG_KNOCK_PORTS_MAX);
	for (i = 0; i < n; i++) {
		if ((bm = port_bitmap(ks, r[i].proto)) == NULL || r[i].lo == 0 ||
		    r[i].lo > r[i].hi) {
			snprintf(why, whylen, "knock %s: knock ports %u-%u on "
			    "protocol %u", k->name, r[i].lo, r[i].hi, r[i].proto);
			return -1;
		}
		for (port = r[i].lo; port <= r[i].hi; port++)
			bm[port / 8] |= 1U << (port % 8);
	}
	return 0;
}

static bool
derived_valid(const struct config_knock *k)
{
	if (k->derive == CONFIG_DERIVE_NONE)
		return true;
	if (k->derive != CONFIG_DERIVE_TIME && k->derive != CONFIG_DERIVE_COUNTER)
		return false;
	return k->nframes >= 2 && k->step_ms >= 1000 &&
	    k->lookahead >= 1 && k->lookahead <= CONFIG_LOOKAHEAD_MAX;
}

/*
 * What stops a replay across a restart: a time trigger treats the step it
 * starts in as used (docs/design.md, decision 9: a record of used steps lost
 * on restart must open nothing); a counter trigger's next counter comes from
 * its state file, which the engine reads (knock_set_restore_counter).
 */
static void
trigger_replay_init(struct knock_trigger *kt, int64_t wall_s)
{
	const struct config_knock *k = kt->cfg;

	if (k->derive == CONFIG_DERIVE_TIME)
		kt->step_used = kt->start_step = knock_otp_step(k, wall_s);
}

/* The close sequence's machine: listed frames, a tracker of its own. */
static int
knock_set_add_closer(struct knock_set *ks, const struct config_knock *k,
    uint32_t capacity, const uint8_t *hash_key, char *why, size_t whylen)
{
	struct knock_trigger *kt = &ks->closers[ks->nclosers];

	if (k->nclose > CONFIG_KNOCK_FRAMES_MAX) {
		snprintf(why, whylen, "knock %s: %d close frames, at most %d",
		    k->name, k->nclose, CONFIG_KNOCK_FRAMES_MAX);
		return -1;
	}
	kt->cfg = k;
	kt->frames = k->close_frames;
	kt->nframes = k->nclose;
	kt->derive = CONFIG_DERIVE_NONE;
	kt->closes = true;
	kt->set = ks;
	kt->tracker = tracker_new(capacity, capacity / KNOCK_PROGRESS_SHARE,
	    sizeof(struct knock_state), hash_key);
	if (kt->tracker == NULL) {
		snprintf(why, whylen, "knock %s: close tracker of %u sources: out "
		    "of memory", k->name, capacity);
		return -1;
	}
	ks->nclosers++;
	return 0;
}

static int
knock_set_add(struct knock_set *ks, const struct config_knock *k,
    uint32_t capacity, const uint8_t *hash_key, int64_t wall_s, char *why,
    size_t whylen)
{
	struct knock_trigger *kt = &ks->triggers[ks->ntriggers];

	if (k->nframes < 1 || k->nframes > CONFIG_KNOCK_FRAMES_MAX ||
	    !derived_valid(k)) {
		snprintf(why, whylen, "knock %s: %d frames, want 1 to %d (2 when "
		    "derived), or a bad derived setting", k->name, k->nframes,
		    CONFIG_KNOCK_FRAMES_MAX);
		return -1;
	}
	if (set_mark_ports(ks, k, why, whylen) < 0)
		return -1;
	kt->cfg = k;
	kt->frames = k->frames;
	kt->nframes = k->nframes;
	kt->derive = k->derive;
	kt->set = ks;
	trigger_replay_init(kt, wall_s);
	if (k->derive != CONFIG_DERIVE_NONE &&
	    (kt->cache = calloc(OTP_CACHE, sizeof(*kt->cache))) == NULL) {
		snprintf(why, whylen, "knock %s: sequence cache: out of memory",
		    k->name);
		return -1;
	}
	kt->tracker = tracker_new(capacity, capacity / KNOCK_PROGRESS_SHARE,
	    sizeof(struct knock_state), hash_key);
	if (kt->tracker == NULL) {
		snprintf(why, whylen, "knock %s: tracker of %u sources: out of "
		    "memory", k->name, capacity);
		free(kt->cache);
		kt->cache = NULL;
		return -1;
	}
	ks->ntriggers++;
	return k->nclose > 0 ? knock_set_add_closer(ks, k, capacity, hash_key,
	    why, whylen) : 0;
}

struct knock_set *
knock_set_new_at(const struct config *cfg, const uint8_t *hash_key,
    int64_t wall_s, char *why, size_t whylen)
{
	struct knock_set *ks;
	uint32_t capacity = cfg->engine.max_sources;
	int i;

	if (capacity < KNOCK_SOURCES_MIN || capacity > TRACKER_CAPACITY_MAX) {
		snprintf(why, whylen, "knock: max_sources %u is out of range "
		    "%u..%u", capacity, KNOCK_SOURCES_MIN, TRACKER_CAPACITY_MAX);
		return NULL;
	}
	if (cfg->nknocks < 0 || cfg->nknocks > CONFIG_TRIGGERS_MAX) {
		snprintf(why, whylen, "knock: %d triggers, at most %d",
		    cfg->nknocks, CONFIG_TRIGGERS_MAX);
		return NULL;
	}
	/* Derived sequences are libsodium's HMAC; listed ones need none of it. */
	for (i = 0; i < cfg->nknocks; i++)
		if (cfg->knocks[i].derive != CONFIG_DERIVE_NONE) {
			if (sodium_init() < 0) {
				snprintf(why, whylen, "knock: libsodium does not initialise");
				return NULL;
			}
			break;
		}
	/* Its port tables are mostly zeros: only the pages written cost memory. */
	if ((ks = pages_alloc(sizeof(*ks))) == NULL ||
	    (cfg->nknocks > 0 && (ks->triggers = calloc((size_t)cfg->nknocks,
	    sizeof(*ks->triggers))) == NULL) ||
	    (cfg->nknocks > 0 && (ks->closers = calloc((size_t)cfg->nknocks,
	    sizeof(*ks->closers))) == NULL)) {
		snprintf(why, whylen, "knock: set of %d triggers: out of memory",
		    cfg->nknocks);
		knock_set_free(ks);
		return NULL;
	}
	for (i = 0; i < cfg->nknocks; i++) {
		if (knock_set_add(ks, &cfg->knocks[i], capacity, hash_key,
		    wall_s, why, whylen) < 0) {
			knock_set_free(ks);
			return NULL;
		}
	}
	return ks;
}

static struct knock_trigger *
set_find(struct knock_set *ks, const struct config_knock *k)
{
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		if (ks->triggers[i].cfg == k)
			return &ks->triggers[i];
	return NULL;
}

int
knock_set_commit(struct knock_set *ks, const struct config_knock *k,
    uint64_t next)
{
	struct knock_trigger *kt = set_find(ks, k);

	if (kt == NULL)
		return -1;
	if (next <= kt->counter_next) {
		/* Another source completed the same counter first. */
		kt->counters.replays++;
		return -1;
	}
	kt->counter_next = next;
	kt->counters.opened++;
	return 0;
}

void
knock_set_commit_failed(struct knock_set *ks, const struct config_knock *k)
{
	struct knock_trigger *kt = set_find(ks, k);

	if (kt != NULL)
		kt->counters.state_errors++;
}

uint64_t
knock_set_next_counter(const struct knock_set *ks, const struct config_knock *k)
{
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		if (ks->triggers[i].cfg == k)
			return ks->triggers[i].counter_next;
	return UINT64_MAX;
}

void
knock_set_restore_counter(struct knock_set *ks, int i, uint64_t next)
{
	if (i >= 0 && i < ks->ntriggers && next > ks->triggers[i].counter_next)
		ks->triggers[i].counter_next = next;
}

void
knock_set_free(struct knock_set *ks)
{
	int i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->ntriggers; i++) {
		tracker_free(ks->triggers[i].tracker);
		free(ks->triggers[i].cache);
	}
	for (i = 0; i < ks->nclosers; i++)
		tracker_free(ks->closers[i].tracker);
	free(ks->closers);
	free(ks->triggers);
	pages_free(ks, sizeof(*ks));
}

uint64_t
knock_set_next_deadline(const struct knock_set *ks)
{
	uint64_t next = TRACKER_NO_DEADLINE, d;
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		if ((d = tracker_next_deadline(ks->triggers[i].tracker)) < next)
			next = d;
	for (i = 0; i < ks->nclosers; i++)
		if ((d = tracker_next_deadline(ks->closers[i].tracker)) < next)
			next = d;
	return next;
}

void
knock_set_expire(struct knock_set *ks, uint64_t now_ms)
{
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		tracker_expire_each(ks->triggers[i].tracker, now_ms, expired_keep,
		    &ks->triggers[i]);
	for (i = 0; i < ks->nclosers; i++)
		tracker_expire_each(ks->closers[i].tracker, now_ms, expired_keep,
		    &ks->closers[i]);
}

bool
knock_set_expired_next(struct knock_set *ks, struct knock_expired *out)
{
	if (ks->exp_count == 0)
		return false;
	*out = ks->expired[ks->exp_head];
	ks->exp_head = (ks->exp_head + 1) % KNOCK_EXPIRED_RING;
	ks->exp_count--;
	return true;
}

/* Sequence n of a is sequence n of b: the same key, name, kind and step. */
static bool
knock_same_derivation(const struct config_knock *a, const struct config_knock *b)
{
	return a->derive != CONFIG_DERIVE_NONE && a->derive == b->derive &&
	    strcmp(a->name, b->name) == 0 &&
	    sodium_memcmp(a->key, b->key, sizeof(a->key)) == 0 &&
	    (a->derive != CONFIG_DERIVE_TIME || a->step_ms == b->step_ms);
}

/* Progress made under a's rules means the same under b's. */
static bool
knock_same_sequence(const struct config_knock *a, const struct config_knock *b)
{
	int i;

	if (strcmp(a->name, b->name) != 0 || a->nframes != b->nframes ||
	    a->window_ms != b->window_ms || a->derive != b->derive)
		return false;
	if (a->derive != CONFIG_DERIVE_NONE)
		return knock_same_derivation(a, b) &&
		    a->ports.proto == b->ports.proto &&
		    a->ports.lo == b->ports.lo && a->ports.hi == b->ports.hi;
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
	to->not_addressed += from->not_addressed;
	to->started += from->started;
	to->advanced += from->advanced;
	to->wrong += from->wrong;
	to->resets += from->resets;
	to->opened += from->opened;
	to->replays += from->replays;
	to->duplicates += from->duplicates;
	to->closed += from->closed;
	to->state_errors += from->state_errors;
}

/* The record of used steps and counters outlives a reload. */
static void
replay_record_adopt(struct knock_trigger *to, const struct knock_trigger *from)
{
	if (!knock_same_derivation(to->cfg, from->cfg))
		return;
	if (to->cfg->derive == CONFIG_DERIVE_TIME)
		to->step_used = from->step_used;
	else if (from->counter_next > to->counter_next)
		to->counter_next = from->counter_next;
}

int
knock_set_adopt(struct knock_set *ks, struct knock_set *old)
{
	struct knock_trigger *to, *from;
	int i, j, adopted = 0;

	for (i = 0; i < ks->ntriggers; i++) {
		to = &ks->triggers[i];
		for (j = 0; j < old->ntriggers; j++)
			replay_record_adopt(to, &old->triggers[j]);
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
knock_set_reset(struct knock_set *ks, const char *name)
{
	int i;

	for (i = 0; i < ks->ntriggers; i++)
		if (strcmp(ks->triggers[i].cfg->name, name) == 0)
			return (int)tracker_expire(ks->triggers[i].tracker, UINT64_MAX);
	return -1;
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
	int j;

	memset(out, 0, sizeof(*out));
	if (i < 0 || i >= ks->ntriggers)
		return;
	*out = ks->triggers[i].counters;
	tracker_get_stats(ks->triggers[i].tracker, &out->tracker);
	/* The close sequence's machine counts what it closed. */
	for (j = 0; j < ks->nclosers; j++)
		if (ks->closers[j].cfg == ks->triggers[i].cfg)
			out->closed += ks->closers[j].counters.closed;
}
