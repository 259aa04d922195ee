/*
 * [knock NAME] sections (docs/knock.md): listed or derived sequences,
 * the ports they open, and the knock frames as config.h exposes them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "config/config_parse.h"
#include "core/knock_frame.h"
#include "config/config_files.h"
#include "config/keyfile.h"

/* The trigger whose section is being read: in p->cfg or scratch. */
static struct config_knock *
knock_of(const struct parse *p)
{
	return p->trigger;
}

_Static_assert(CONFIG_KEY_LEN == KEYFILE_KEY_LEN, "a key is a key file's key");

#define TCP_FLAGS_SIX		KNOCK_TCP_FLAGS_SIX

/* tportknockd's letters; letter i is bit i of the TCP flags byte. */
static const char tcp_flag_letters[] = KNOCK_TCP_FLAG_LETTERS;

/* --- frames and their ports ------------------------------------------- */

/* The part after the second ':' of a TCP frame. */
static bool
flags_parse(const char *s, struct config_knock_frame *f, char *why)
{
	const char *l;
	char sb[SHOW_BUF], one[2] = { 0, 0 };
	uint8_t v = 0, bit;

	if (*s == '\0') {
		snprintf(why, WHY_MAX, "no flags after ':'");
		return false;
	}
	f->flags_mask = TCP_FLAGS_SIX;
	if (s[1] == '\0' && (*s == 'x' || *s == 'n' || *s == 'i')) {
		f->flags_mask = *s == 'i' ? 0 : TCP_FLAGS_SIX;
		f->flags_value = *s == 'x' ? TCP_FLAGS_SIX : 0;
		return true;
	}
	for (; *s != '\0'; s++) {
		one[0] = *s;
		if (*s == 'x' || *s == 'n' || *s == 'i') {
			snprintf(why, WHY_MAX, "flag '%c' stands alone", *s);
			return false;
		}
		if ((l = strchr(tcp_flag_letters, *s)) == NULL) {
			snprintf(why, WHY_MAX, "unknown flag '%s' (f s r p a u, "
			    "or x, n, i alone)", cfg_show(one, sb, sizeof(sb)));
			return false;
		}
		bit = (uint8_t)(1U << (l - tcp_flag_letters));
		if (v & bit) {
			snprintf(why, WHY_MAX, "flag '%c' given twice", *s);
			return false;
		}
		v |= bit;
	}
	f->flags_value = v;
	return true;
}

/* "proto:port[:flags]"; a TCP frame without flags is a plain SYN. */
static bool
frame_parse(const char *tok, struct config_knock_frame *f, char *why)
{
	const char *c1 = strchr(tok, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	size_t n = c2 != NULL ? (size_t)(c2 - tok) : strlen(tok);

	memset(f, 0, sizeof(*f));
	if (!cfg_port_parse(tok, n, &f->port, why))
		return false;
	if (c2 != NULL && f->port.proto != IPPROTO_TCP) {
		snprintf(why, WHY_MAX, "flags only apply to tcp");
		return false;
	}
	if (c2 != NULL && !flags_parse(c2 + 1, f, why))
		return false;
	if (c2 == NULL && f->port.proto == IPPROTO_TCP) {
		f->flags_mask = TCP_FLAGS_SIX;
		f->flags_value = 0x02;	/* SYN: what connect() sends */
	}
	snprintf(f->text, sizeof(f->text), "%s", tok);
	return true;
}

int
config_parse_frame(const char *text, struct config_knock_frame *out,
    char *why, size_t whylen)
{
	char buf[WHY_MAX];

	if (strlen(text) >= sizeof(out->text)) {
		snprintf(why, whylen, "too long for a frame");
		return -1;
	}
	if (!frame_parse(text, out, buf)) {
		snprintf(why, whylen, "%s", buf);
		return -1;
	}
	return 0;
}

/* --- [knock NAME] ----------------------------------------------------- */

enum knock_key {
	K_SEQUENCE, K_WINDOW, K_OPEN, K_ALLOW_TIMEOUT, K_RESET_ON_WRONG,
	K_EXEC, K_EXEC_STOP, K_EXEC_STOP_DELAY,
	K_KEY, K_DERIVE, K_STEP, K_FRAMES, K_PORTS, K_PROTO, K_LOOKAHEAD, K_STATE,
	K_CLOSE_SEQUENCE, K_OPEN_PREFIX,
	K_TARGET, K_INTERFACE
};

#define DERIVED_FRAMES_DEFAULT	4

static void
knock_defaults(void *t)
{
	struct config_knock *k = t;

	memset(k, 0, sizeof(*k));
	k->window_ms = 10 * 1000;
	k->allow_timeout_ms = 30 * 1000;
	k->reset_on_wrong = true;
	/* Below 32768, where Linux picks its own ephemeral ports. */
	k->ports.proto = IPPROTO_UDP;
	k->ports.lo = 20000;
	k->ports.hi = 29999;
	k->step_ms = 30 * 1000;
	k->lookahead = 5;
}

/* Where the frames of sequence or close_sequence go, and how errors name them. */
struct frames_into {
	struct config_knock_frame *frames;	/* CONFIG_KNOCK_FRAMES_MAX */
	const char *label;
};

static void
knock_frame(struct parse *p, const char *tok, int i, void *arg)
{
	const struct frames_into *into = arg;
	struct config_knock_frame spare;
	char why[WHY_MAX], sb[SHOW_BUF];

	/* Frames past the limit are still checked, into a spare. */
	if (!frame_parse(tok, i < CONFIG_KNOCK_FRAMES_MAX ?
	    &into->frames[i] : &spare, why))
		cfg_perr(p, p->lineno, "%s: %sframe '%s': %s", p->ctx, into->label,
		    cfg_show(tok, sb, sizeof(sb)), why);
}

static void
knock_sequence(struct parse *p, const char *v)
{
	struct config_knock *k = knock_of(p);
	struct frames_into into = { k->frames, "" };

	cfg_words_list(p, v, knock_frame, &into, CONFIG_KNOCK_FRAMES_MAX, "frames",
	    &k->nframes);
}

/* "tcp:22" or "udp:53": a port word of open; anything else is an address. */
static bool
open_is_port(const char *tok)
{
	return strncmp(tok, "tcp:", 4) == 0 || strncmp(tok, "udp:", 4) == 0;
}

static bool
dest_same(const struct config_dest *a, const struct config_dest *b)
{
	return a->family == b->family && (a->family == 0 ||
	    (a->p.len == b->p.len && memcmp(a->p.addr, b->p.addr,
	    a->family == AF_INET ? 4 : 16) == 0));
}

static void
knock_close_sequence(struct parse *p, const char *v)
{
	struct config_knock *k = knock_of(p);
	struct frames_into into = { k->close_frames, "close_sequence: " };

	cfg_words_list(p, v, knock_frame, &into, CONFIG_KNOCK_FRAMES_MAX, "frames",
	    &k->nclose);
}

/* "24" (IPv4 sources get their /24) or "24 64" (and IPv6 ones their /64). */
static void
knock_open_prefix_len(struct parse *p, const char *tok, int i, void *arg)
{
	uint16_t n;
	char sb[SHOW_BUF];

	(void)arg;
	if (i > 1)
		return;
	if (!cfg_u16_parse(tok, strlen(tok), &n) || (i == 0 && (n < 8 ||
	    n > 32)) || (i == 1 && (n < 16 || n > 128))) {
		cfg_verr(p, "'%s' is not a prefix length of %s", cfg_show(tok, sb,
		    sizeof(sb)), i == 0 ? "IPv4, 8 to 32" : "IPv6, 16 to 128");
		return;
	}
	/* A whole address is no prefix: keep 0, the plain lookup. */
	if (i == 0)
		knock_of(p)->open_prefix4 = n == 32 ? 0 : (uint8_t)n;
	else
		knock_of(p)->open_prefix6 = n == 128 ? 0 : (uint8_t)n;
}

static void
knock_open_prefix(struct parse *p, const char *v)
{
	int n = cfg_words_each(p, v, knock_open_prefix_len, NULL);

	if (n == 0 || n > 2)
		cfg_verr(p, "want the IPv4 prefix length, and optionally the "
		    "IPv6 one: 24, or 24 64");
}

static void
knock_open_port(struct parse *p, const char *tok, const struct config_dest *dst,
    int i)
{
	struct config_knock *k = knock_of(p);
	struct config_port port;
	char why[WHY_MAX], sb[SHOW_BUF];
	int j;

	if (!cfg_port_parse(tok, strlen(tok), &port, why)) {
		cfg_verr(p, "'%s': %s", cfg_show(tok, sb, sizeof(sb)), why);
		return;
	}
	for (j = 0; j < i && j < CONFIG_OPEN_MAX; j++)
		if (k->open[j].proto == port.proto &&
		    k->open[j].port == port.port &&
		    dest_same(&k->open_dst[j], dst)) {
			cfg_verr(p, "'%s' is listed twice", cfg_show(tok, sb, sizeof(sb)));
			break;
		}
	if (i < CONFIG_OPEN_MAX) {
		k->open[i] = port;
		k->open_dst[i] = *dst;
	}
}

/*
 * open = [ADDRESS|PREFIX] proto:port ...: ports without an address are
 * this host's own; an address word scopes the ports after it (until the
 * next one) to that destination behind the gateway (docs/design.md,
 * decision 13).
 */
static void
knock_open(struct parse *p, const char *v)
{
	struct config_dest dst = { 0 };
	char tok[CONFIG_LINE_MAX + 1], prev[CONFIG_LINE_MAX + 1] = "";
	char why[WHY_MAX], sb[SHOW_BUF];
	bool scoped_port = true;
	size_t len;
	int n = 0, family;

	for (;;) {
		while (cfg_is_blank(*v))
			v++;
		if (*v == '\0')
			break;
		for (len = 0; v[len] != '\0' && !cfg_is_blank(v[len]); len++)
			;
		snprintf(tok, sizeof(tok), "%.*s", (int)len, v);
		v += len;
		if (open_is_port(tok)) {
			knock_open_port(p, tok, &dst, n++);
			scoped_port = true;
			continue;
		}
		if (!scoped_port)
			cfg_verr(p, "address '%s' has no port after it",
			    cfg_show(prev, sb, sizeof(sb)));
		snprintf(prev, sizeof(prev), "%s", tok);
		family = 0;
		if (match_prefix_parse(tok, &family, &dst.p, why, sizeof(why)) < 0) {
			cfg_verr(p, "'%s' is neither proto:port nor an address or "
			    "prefix: %s", cfg_show(tok, sb, sizeof(sb)), why);
			dst.family = 0;
			scoped_port = true;
			continue;
		}
		dst.family = (uint8_t)family;
		scoped_port = false;
	}
	if (!scoped_port)
		cfg_verr(p, "address '%s' has no port after it",
		    cfg_show(prev, sb, sizeof(sb)));
	else if (n == 0)
		cfg_verr(p, "no ports");
	else if (n > CONFIG_OPEN_MAX)
		cfg_verr(p, "%d ports, at most %d", n, CONFIG_OPEN_MAX);
	else
		knock_of(p)->nopen = n;
}

/* knockd's target: the one address frames must be sent to. */
static void
knock_target(struct parse *p, const char *v)
{
	struct config_dest *t = &knock_of(p)->target;
	char why[WHY_MAX], sb[SHOW_BUF];
	int family = 0;

	if (match_prefix_parse(v, &family, &t->p, why, sizeof(why)) < 0 ||
	    strchr(v, '/') != NULL) {
		cfg_verr(p, "'%s' is not an address%s%s", cfg_show(v, sb,
		    sizeof(sb)), strchr(v, '/') != NULL ? " (one address, no "
		    "prefix)" : ": ", strchr(v, '/') != NULL ? "" : why);
		t->family = 0;
		return;
	}
	t->family = (uint8_t)family;
}

/* knockd's interface: frames count only when they arrive on it. */
static void
knock_interface(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];
	size_t i, len = strlen(v);

	for (i = 0; i < len; i++)
		if (v[i] == '/' || v[i] == '*' || cfg_is_blank(v[i]))
			break;
	if (len == 0 || len >= MATCH_IFNAME_MAX || i < len) {
		cfg_verr(p, "'%s' is not an interface name (1-%d characters, "
		    "no '/', '*' or blanks)", cfg_show(v, sb, sizeof(sb)),
		    MATCH_IFNAME_MAX - 1);
		return;
	}
	snprintf(knock_of(p)->interface, sizeof(knock_of(p)->interface), "%s", v);
}

static void
knock_window(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 1, CONFIG_DURATION_MAX_MS, &knock_of(p)->window_ms);
}

static void
knock_allow_timeout(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 1, CONFIG_DURATION_MAX_MS,
	    &knock_of(p)->allow_timeout_ms);
}

static void
knock_reset_on_wrong(struct parse *p, const char *v)
{
	cfg_set_bool(p, v, &knock_of(p)->reset_on_wrong);
}

static void
knock_exec(struct parse *p, const char *v)
{
	cfg_set_hook(p, v, &knock_of(p)->exec);
}

static void
knock_exec_stop(struct parse *p, const char *v)
{
	cfg_set_hook(p, v, &knock_of(p)->exec_stop);
}

static void
knock_exec_stop_delay(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 0, CONFIG_DURATION_MAX_MS,
	    &knock_of(p)->exec_stop_delay_ms);
}

static void
knock_key(struct parse *p, const char *v)
{
	char why[KEYFILE_WHY_MAX];

	if (!cfg_set_path(p, v, knock_of(p)->key_path))
		return;
	if (keyfile_read(v, p->check_owner, KEYFILE_ROOT_ONLY, knock_of(p)->key,
	    why, sizeof(why)) == -1)
		cfg_verr(p, "%s", why);
}

static void
knock_derive(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "time") == 0)
		knock_of(p)->derive = CONFIG_DERIVE_TIME;
	else if (strcmp(v, "counter") == 0)
		knock_of(p)->derive = CONFIG_DERIVE_COUNTER;
	else
		cfg_verr(p, "'%s' is not time or counter", cfg_show(v, sb, sizeof(sb)));
}

static void
knock_step(struct parse *p, const char *v)
{
	uint64_t ms = 0;

	cfg_set_duration(p, v, 1, CONFIG_STEP_MAX_MS, &ms);
	if (ms == 0)
		return;
	if (ms % 1000 != 0)
		cfg_verr(p, "must be whole seconds (the engine counts steps "
		    "from time(2))");
	else
		knock_of(p)->step_ms = ms;
}

static void
knock_frames(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 2, CONFIG_KNOCK_FRAMES_MAX, &n))
		knock_of(p)->nframes = (int)n;
}

static void
knock_ports(struct parse *p, const char *v)
{
	const char *dash = strchr(v, '-');
	char sb[SHOW_BUF];
	uint16_t lo, hi;

	if (dash == NULL || !cfg_u16_parse(v, (size_t)(dash - v), &lo) ||
	    !cfg_u16_parse(dash + 1, strlen(dash + 1), &hi) || lo == 0) {
		cfg_verr(p, "'%s' is not a port range such as 20000-29999",
		    cfg_show(v, sb, sizeof(sb)));
		return;
	}
	if (lo >= hi) {
		cfg_verr(p, "'%s' must go from a lower port to a higher one",
		    cfg_show(v, sb, sizeof(sb)));
		return;
	}
	knock_of(p)->ports.lo = lo;
	knock_of(p)->ports.hi = hi;
}

static void
knock_proto(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "udp") == 0)
		knock_of(p)->ports.proto = IPPROTO_UDP;
	else if (strcmp(v, "tcp") == 0)
		knock_of(p)->ports.proto = IPPROTO_TCP;
	else
		cfg_verr(p, "'%s' is not udp or tcp", cfg_show(v, sb, sizeof(sb)));
}

static void
knock_lookahead(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 1, CONFIG_LOOKAHEAD_MAX, &n))
		knock_of(p)->lookahead = (uint32_t)n;
}

static void
knock_state(struct parse *p, const char *v)
{
	char why[512];

	if (!cfg_set_path(p, v, knock_of(p)->state_path))
		return;
	/* Under the engine's broker the privileged side checks it. */
	if (p->check_owner && config_files_get() == NULL &&
	    config_file_check(v, CONFIG_FILE_STATE, why, sizeof(why)) == -1)
		cfg_verr(p, "%s", why);
}

static void
knock_hook_user(struct parse *p, const char *v)
{
	cfg_set_user(p, v, knock_of(p)->run_as.user, &knock_of(p)->run_as.user_line);
}

static void
knock_hook_caps(struct parse *p, const char *v)
{
	cfg_set_caps(p, v, &knock_of(p)->run_as);
}

static const struct key knock_keys[] = {
	[K_SEQUENCE] = { "sequence", knock_sequence, true },
	[K_WINDOW] = { "window", knock_window, false },
	[K_OPEN] = { "open", knock_open, true },
	[K_ALLOW_TIMEOUT] = { "allow_timeout", knock_allow_timeout, false },
	[K_RESET_ON_WRONG] = { "reset_on_wrong", knock_reset_on_wrong, false },
	[K_EXEC] = { "exec", knock_exec, false },
	[K_EXEC_STOP] = { "exec_stop", knock_exec_stop, false },
	[K_EXEC_STOP_DELAY] = { "exec_stop_delay", knock_exec_stop_delay, false },
	[K_KEY] = { "key", knock_key, false },
	[K_DERIVE] = { "derive", knock_derive, false },
	[K_STEP] = { "step", knock_step, false },
	[K_FRAMES] = { "frames", knock_frames, false },
	[K_PORTS] = { "ports", knock_ports, false },
	[K_PROTO] = { "proto", knock_proto, false },
	[K_LOOKAHEAD] = { "lookahead", knock_lookahead, false },
	[K_STATE] = { "state", knock_state, false },
	[K_CLOSE_SEQUENCE] = { "close_sequence", knock_close_sequence, false },
	[K_OPEN_PREFIX] = { "open_prefix", knock_open_prefix, false },
	[K_TARGET] = { "target", knock_target, false },
	[K_INTERFACE] = { "interface", knock_interface, false },
	{ "hook_user", knock_hook_user, false },
	{ "hook_caps", knock_hook_caps, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(knock_keys) / sizeof(knock_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [knock]");


static const char *
proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

/* How many sequences k's range and frames give, capped at cap. */
static uint64_t
derived_sequences(const struct config_knock *k, uint64_t cap)
{
	uint64_t span = (uint64_t)k->ports.hi - k->ports.lo + 1, n = 1;
	int i;

	for (i = 0; i < k->nframes && n < cap; i++)
		n = n > cap / span ? cap : n * span;
	return n;
}

/* Keys that only mean something with derive, or with one kind of it. */
static void
knock_check_derive_keys(struct parse *p)
{
	static const struct {
		enum knock_key key;
		enum config_derive only;	/* NONE: either kind */
	} keys[] = {
		{ K_STEP, CONFIG_DERIVE_TIME }, { K_FRAMES, CONFIG_DERIVE_NONE },
		{ K_PORTS, CONFIG_DERIVE_NONE }, { K_PROTO, CONFIG_DERIVE_NONE },
		{ K_LOOKAHEAD, CONFIG_DERIVE_COUNTER },
		{ K_STATE, CONFIG_DERIVE_COUNTER },
	};
	enum config_derive d = knock_of(p)->derive;
	const int *seen = p->seen_line;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!seen[keys[i].key] || (d != CONFIG_DERIVE_NONE &&
		    (keys[i].only == CONFIG_DERIVE_NONE || keys[i].only == d)))
			continue;
		cfg_perr(p, seen[keys[i].key], "%s: %s only applies with derive = %s",
		    p->ctx, knock_keys[keys[i].key].name,
		    keys[i].only == CONFIG_DERIVE_TIME ? "time" :
		    keys[i].only == CONFIG_DERIVE_COUNTER ? "counter" :
		    "time or counter");
	}
}

/* A derived sequence: key, derive and the keys that shape it, together. */
static void
knock_check_derived(struct parse *p)
{
	struct config_knock *k = knock_of(p);
	const int *seen = p->seen_line;
	int line;

	if (seen[K_DERIVE] && !seen[K_KEY])
		cfg_perr(p, seen[K_DERIVE], "%s: derive needs key (the file of the "
		    "secret the sequence is derived from)", p->ctx);
	if (seen[K_KEY] && !seen[K_DERIVE])
		cfg_perr(p, seen[K_KEY], "%s: key needs derive = time or derive = "
		    "counter", p->ctx);
	if (seen[K_SEQUENCE] && (seen[K_KEY] || seen[K_DERIVE]))
		cfg_perr(p, seen[K_SEQUENCE], "%s: sequence: not with key and derive "
		    "(the sequence is derived from the key)", p->ctx);
	/* A bad derive value is its own error: no guess at what was meant. */
	if (!seen[K_DERIVE] || k->derive != CONFIG_DERIVE_NONE)
		knock_check_derive_keys(p);
	if (k->derive == CONFIG_DERIVE_COUNTER && !seen[K_STATE])
		cfg_perr(p, seen[K_DERIVE], "%s: derive = counter needs state (the "
		    "file where the engine keeps the next counter)", p->ctx);
	if (k->derive == CONFIG_DERIVE_NONE)
		return;
	if (!seen[K_FRAMES])
		k->nframes = DERIVED_FRAMES_DEFAULT;
	if (k->nframes >= 2 && derived_sequences(k,
	    CONFIG_DERIVED_MIN_SEQUENCES) < CONFIG_DERIVED_MIN_SEQUENCES) {
		line = seen[K_PORTS] ? seen[K_PORTS] : seen[K_FRAMES] ?
		    seen[K_FRAMES] : seen[K_DERIVE];
		cfg_perr(p, line, "%s: ports %u-%u and frames = %d give %" PRIu64
		    " sequences, too few to resist guessing: widen ports or add "
		    "frames (at least %llu sequences)", p->ctx, k->ports.lo,
		    k->ports.hi, k->nframes, derived_sequences(k, UINT64_MAX),
		    CONFIG_DERIVED_MIN_SEQUENCES);
	}
}

/* A port this section opens that also carries knock frames: its own, or b's. */
static void
knock_check_open(struct parse *p, const struct config_knock *b)
{
	const struct config_knock *k = knock_of(p);
	const struct config_port *o;
	char what[CONFIG_NAME_MAX + 64];
	int i;

	for (i = 0; i < k->nopen; i++) {
		o = &k->open[i];
		/* A forwarded service never meets the input hook's divert. */
		if (k->open_dst[i].family != 0 ||
		    !knock_has_port(b, o->proto, o->port))
			continue;
		if (b != k)
			snprintf(what, sizeof(what), "a knock port of [knock %s] "
			    "(line %d)", b->name, b->line);
		else if (k->derive == CONFIG_DERIVE_NONE)
			snprintf(what, sizeof(what), "also a knock frame");
		else
			snprintf(what, sizeof(what), "in the knock's ports "
			    "%s:%u-%u", proto_name(k->ports.proto), k->ports.lo,
			    k->ports.hi);
		cfg_perr(p, p->seen_line[K_OPEN], "%s: open: %s:%u is %s", p->ctx,
		    proto_name(o->proto), o->port, what);
	}
}

/* A service this section opens that CONFIG_GUARD_TRIGGERS_MAX others open too. */
static void
knock_check_shared_guards(struct parse *p)
{
	const struct config_knock *k = knock_of(p), *a;
	int i, j, o, n;

	for (o = 0; o < k->nopen && o < CONFIG_OPEN_MAX; o++) {
		n = 1;
		for (i = 0; i < p->cfg->nknocks && &p->cfg->knocks[i] != k; i++) {
			a = &p->cfg->knocks[i];
			for (j = 0; j < a->nopen; j++)
				if (a->open[j].proto == k->open[o].proto &&
				    a->open[j].port == k->open[o].port &&
				    dest_same(&a->open_dst[j], &k->open_dst[o])) {
					n++;
					break;
				}
		}
		if (n == CONFIG_GUARD_TRIGGERS_MAX + 1)
			cfg_perr(p, p->seen_line[K_OPEN], "%s: open: %s:%u is "
			    "opened by more than %d triggers (one guard holds "
			    "at most that many)", p->ctx,
			    proto_name(k->open[o].proto), k->open[o].port,
			    CONFIG_GUARD_TRIGGERS_MAX);
	}
}

/* Ports this section knocks on that an earlier trigger opens. */
static void
knock_check_frames_of_others(struct parse *p)
{
	const struct config_knock *k = knock_of(p), *a;
	const int *seen = p->seen_line;
	int i, j, line;

	line = seen[K_SEQUENCE] ? seen[K_SEQUENCE] : seen[K_PORTS] ?
	    seen[K_PORTS] : p->section_line;
	for (i = 0; i < p->cfg->nknocks && &p->cfg->knocks[i] != k; i++) {
		a = &p->cfg->knocks[i];
		for (j = 0; j < a->nopen; j++)
			if (a->open_dst[j].family == 0 &&
			    knock_has_port(k, a->open[j].proto,
			    a->open[j].port)) {
				cfg_perr(p, line, "%s: knocks on %s:%u, which [knock "
				    "%s] (line %d) opens", p->ctx,
				    proto_name(a->open[j].proto), a->open[j].port,
				    a->name, a->line);
				break;
			}
	}
}

/* A close sequence that is the open sequence would open and close at once. */
static void
knock_check_close(struct parse *p)
{
	const struct config_knock *k = knock_of(p);
	int i;

	if (k->nclose == 0 || k->derive != CONFIG_DERIVE_NONE ||
	    k->nclose != k->nframes)
		return;
	for (i = 0; i < k->nclose; i++)
		if (k->close_frames[i].port.proto != k->frames[i].port.proto ||
		    k->close_frames[i].port.port != k->frames[i].port.port ||
		    k->close_frames[i].flags_mask != k->frames[i].flags_mask ||
		    k->close_frames[i].flags_value != k->frames[i].flags_value)
			return;
	cfg_perr(p, p->seen_line[K_CLOSE_SEQUENCE], "%s: close_sequence is the "
	    "sequence itself", p->ctx);
}

/*
 * The knock's keys together: hooks that need each other, derived keys,
 * and ports that would be both knocked on and opened: the divert rule of the
 * knock would swallow the service's packets.
 */
static void
knock_check(struct parse *p)
{
	const struct config_knock *k = knock_of(p);
	const int *seen = p->seen_line;
	int i;

	if (seen[K_EXEC_STOP] && !seen[K_EXEC])
		cfg_perr(p, seen[K_EXEC_STOP], "%s: exec_stop needs exec", p->ctx);
	if (seen[K_EXEC_STOP] && !seen[K_EXEC_STOP_DELAY])
		cfg_perr(p, seen[K_EXEC_STOP], "%s: exec_stop needs exec_stop_delay "
		    "(how long after exec it runs)", p->ctx);
	if (seen[K_EXEC_STOP_DELAY] && !seen[K_EXEC_STOP])
		cfg_perr(p, seen[K_EXEC_STOP_DELAY], "%s: exec_stop_delay without "
		    "exec_stop", p->ctx);
	knock_check_derived(p);
	knock_check_close(p);
	knock_check_open(p, k);
	if (p->scratch)
		return;
	for (i = 0; i < p->cfg->nknocks && &p->cfg->knocks[i] != k; i++)
		knock_check_open(p, &p->cfg->knocks[i]);
	knock_check_frames_of_others(p);
	knock_check_shared_guards(p);
}

/* A knock with key or derive has no sequence to list. */
static bool
knock_key_waived(const struct parse *p, int key)
{
	return key == K_SEQUENCE && (p->seen_line[K_KEY] ||
	    p->seen_line[K_DERIVE]);
}

/* "10.0.0.0/8", "192.0.2.7" (a whole address without its length), "". */
static const char *
dest_str(const struct config_dest *d, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int bits = d->family == AF_INET ? 32 : 128;

	if (d->family == 0 || inet_ntop(d->family, d->p.addr, a, sizeof(a)) == NULL) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	if (d->p.len == bits)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, d->p.len);
	return buf;
}

static void
knock_print(const void *t, FILE *out)
{
	const struct config_knock *k = t;
	char buf[32], dst[INET6_ADDRSTRLEN + 8];
	int i;

	fprintf(out, "knock %s:", k->name);
	if (k->derive != CONFIG_DERIVE_NONE)
		fprintf(out, " %d frames in %s:%u-%u derived from the %s",
		    k->nframes, k->ports.proto == IPPROTO_TCP ? "tcp" : "udp",
		    k->ports.lo, k->ports.hi, k->derive == CONFIG_DERIVE_TIME ?
		    "time" : "counter");
	for (i = 0; k->derive == CONFIG_DERIVE_NONE && i < k->nframes; i++)
		fprintf(out, "%s%s", i ? " -> " : " ",
		    knock_frame_str(&k->frames[i], buf, sizeof(buf)));
	fprintf(out, " within %s opens",
	    config_duration_str(k->window_ms, buf, sizeof(buf)));
	for (i = 0; i < k->nopen; i++)
		fprintf(out, " %s%s%s:%u", dest_str(&k->open_dst[i], dst,
		    sizeof(dst)), k->open_dst[i].family ? " " : "",
		    k->open[i].proto == IPPROTO_TCP ? "tcp" : "udp",
		    k->open[i].port);
	fprintf(out, " for %s\n",
	    config_duration_str(k->allow_timeout_ms, buf, sizeof(buf)));
	if (k->target.family != 0)
		fprintf(out, "  %-15s %s\n", "target", dest_str(&k->target, dst,
		    sizeof(dst)));
	if (k->interface[0] != '\0')
		fprintf(out, "  %-15s %s\n", "interface", k->interface);
	if (k->derive != CONFIG_DERIVE_NONE)
		fprintf(out, "  %-15s %s\n", "key", k->key_path);
	if (k->derive == CONFIG_DERIVE_TIME)
		fprintf(out, "  %-15s %s\n", "step",
		    config_duration_str(k->step_ms, buf, sizeof(buf)));
	if (k->derive == CONFIG_DERIVE_COUNTER)
		fprintf(out, "  %-15s %u\n  %-15s %s\n", "lookahead",
		    k->lookahead, "state", k->state_path);
	for (i = 0; i < k->nclose; i++)
		fprintf(out, "%s%s", i ? " -> " : "  close_sequence  ",
		    knock_frame_str(&k->close_frames[i], buf, sizeof(buf)));
	if (k->nclose > 0)
		fprintf(out, "\n");
	if (k->open_prefix4 != 0 || k->open_prefix6 != 0)
		fprintf(out, "  %-15s %u %u\n", "open_prefix",
		    k->open_prefix4 ? k->open_prefix4 : 32,
		    k->open_prefix6 ? k->open_prefix6 : 128);
	fprintf(out, "  %-15s %s\n", "reset_on_wrong",
	    k->reset_on_wrong ? "yes" : "no");
	cfg_hook_print("exec", &k->exec, out);
	cfg_hook_print("exec_stop", &k->exec_stop, out);
	if (k->exec.argv != NULL)
		cfg_run_as_print(&k->run_as, out);
	if (k->exec_stop.argv != NULL)
		fprintf(out, "  %-15s %s\n", "exec_stop_delay",
		    config_duration_str(k->exec_stop_delay_ms, buf, sizeof(buf)));
}

static void
knock_clear(void *t)
{
	struct config_knock *k = t;

	cfg_hook_clear(&k->exec);
	cfg_hook_clear(&k->exec_stop);
	sodium_memzero(k->key, sizeof(k->key));
}

CFG_KIND_ARRAY(knock, struct config_knock, knocks, nknocks)

const struct cfg_kind cfg_kind_knock = {
	.section = "knock",
	.keys = knock_keys,
	.defaults = knock_defaults,
	.key_waived = knock_key_waived,
	.check = knock_check,
	.print = knock_print,
	.clear = knock_clear,
	CFG_KIND_FIELDS(knock, struct config_knock),
};
