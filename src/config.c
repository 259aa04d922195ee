/*
 * nfq-trigger.ini into one immutable struct config, with libinih.
 *
 * Debian's libinih (55) gives the handler no line number and splits lines
 * longer than its 200-byte buffer without a word. So inih reads through
 * ini_read(), our reader: it counts lines, refuses long lines and control
 * characters, and parses section headers itself (inih truncates long ones
 * and never reports a section without keys). inih keeps what it does well:
 * comments, "key = value" and trimming. Every problem is recorded with its
 * line and all of them are printed at the end, sorted by line.
 */
#include <sys/stat.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>
#include <sodium.h>

#include "argv.h"
#include "config.h"
#include "keyfile.h"

_Static_assert(CONFIG_KEY_LEN == KEYFILE_KEY_LEN, "a key is a key file's key");

#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes; a bigger config is a mistake */
#define ERRORS_STORED_MAX	1000		/* more are counted, not printed */
#define SHOW_MAX		40		/* bytes of the user's text quoted back */
#define SHOW_BUF		(SHOW_MAX * 4 + 8)
#define WHY_MAX			128
#define KEYS_MAX		24
#define TCP_FLAGS_SIX		0x3f		/* FIN SYN RST PSH ACK URG */

/* tportknockd's letters; letter i is bit i of the TCP flags byte. */
static const char tcp_flag_letters[] = "fsrpau";

enum section {
	SECTION_NONE, SECTION_ENGINE, SECTION_KNOCK, SECTION_ACTIVITY,
	SECTION_COUNT, SECTION_ROTATE, SECTION_SKIP
};

struct cfg_error {
	int line;			/* 0: about the file as a whole */
	int seq;			/* keeps one line's messages in order */
	char *msg;
};

struct parse;

struct key {
	const char *name;
	void (*set)(struct parse *, const char *);
	bool required;
};

struct parse {
	const char *name;		/* file name in messages */
	const char *text;		/* what the reader hands to inih */
	bool check_owner;		/* of key files too */
	size_t len;
	size_t pos;
	int lineno;
	char raw[CONFIG_LINE_MAX + 1];	/* current line, trimmed */
	bool keyline;			/* raw went to inih as "key = value" */
	bool handled;			/* and inih called the handler for it */

	struct cfg_error *errs;
	int nerrs;			/* stored */
	int errcap;
	int nerrors;			/* found */
	bool oom;

	struct config *cfg;
	enum section section;
	int section_line;
	char ctx[CONFIG_NAME_MAX * 4 + 16]; /* "knock ssh": message prefix */
	const struct key *keys;
	const char *key;		/* being set, for messages */
	int seen_line[KEYS_MAX];	/* 0: not set in this section */
	int engine_line;		/* first [engine], 0: none yet */
	struct config_engine *engine;
	struct config_knock *knock;
	struct config_engine scratch_engine; /* sections that are errors */
	struct config_knock scratch_knock;  /* still get their keys checked */
	struct config_activity *activity;
	struct config_activity scratch_activity;
	struct config_count *count;
	struct config_count scratch_count;
	struct config_rotate *rotate;
	struct config_rotate scratch_rotate;
};

static void perr(struct parse *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void verr(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* --- messages --------------------------------------------------------- */

static void
perr(struct parse *p, int line, const char *fmt, ...)
{
	struct cfg_error *ne;
	va_list ap;
	char *msg;
	int ncap;

	p->nerrors++;
	if (p->nerrs >= ERRORS_STORED_MAX)
		return;
	if (p->nerrs == p->errcap) {
		ncap = p->errcap ? p->errcap * 2 : 16;
		if ((ne = realloc(p->errs, (size_t)ncap * sizeof(*ne))) == NULL) {
			p->oom = true;
			return;
		}
		p->errs = ne;
		p->errcap = ncap;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1) {
		p->oom = true;
		va_end(ap);
		return;
	}
	va_end(ap);
	p->errs[p->nerrs].line = line;
	p->errs[p->nerrs].seq = p->nerrors;
	p->errs[p->nerrs].msg = msg;
	p->nerrs++;
}

/* "knock ssh: window: <message>" at the current line. */
static void
verr(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	perr(p, p->lineno, "%s: %s: %s", p->ctx, p->key, msg);
}

/* The user's text made safe for a terminal and short: \xNN, "...". */
static const char *
show(const char *in, char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i;

	for (i = 0; s[i] != '\0' && o + 8 < len; i++) {
		if (i == SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (s[i] >= 0x20 && s[i] < 0x7f)
			buf[o++] = (char)s[i];
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", s[i]);
	}
	buf[o] = '\0';
	return buf;
}

static int
error_cmp(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
errors_print(struct parse *p, FILE *errs)
{
	int i;

	if (p->nerrs > 0)
		qsort(p->errs, (size_t)p->nerrs, sizeof(*p->errs), error_cmp);
	for (i = 0; errs != NULL && i < p->nerrs; i++) {
		if (p->errs[i].line > 0)
			fprintf(errs, "%s:%d: %s\n", p->name, p->errs[i].line,
			    p->errs[i].msg);
		else
			fprintf(errs, "%s: %s\n", p->name, p->errs[i].msg);
	}
	if (errs != NULL && p->nerrors > p->nerrs)
		fprintf(errs, "%s: %d more errors not shown\n", p->name,
		    p->nerrors - p->nerrs);
	if (errs != NULL && p->oom)
		fprintf(errs, "%s: out of memory while reading it\n", p->name);
}

/* --- values ----------------------------------------------------------- */

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Digits only (no sign, no blank) that fit in 64 bits; false otherwise. */
static bool
u64_parse(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
u16_parse(const char *s, size_t n, uint16_t *out)
{
	uint64_t v;

	if (!u64_parse(s, n, &v) || v > UINT16_MAX)
		return false;
	*out = (uint16_t)v;
	return true;
}

static const struct {
	const char *unit;
	uint64_t ms;
} duration_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
	{ "d", 24 * 3600 * 1000 }, { NULL, 0 }
};

/* NULL, or the reason text is not a duration. */
static const char *
duration_parse(const char *text, uint64_t *ms)
{
	const char *u = text;
	uint64_t n;
	int i;

	while (*u >= '0' && *u <= '9')
		u++;
	if (u == text)
		return "is not a duration: a number and a unit (250ms, 10s, 5m, 1h, 2d)";
	if (*u == '\0')
		return "needs a unit (ms, s, m, h or d)";
	for (i = 0; duration_units[i].unit != NULL; i++)
		if (strcmp(u, duration_units[i].unit) == 0)
			break;
	if (duration_units[i].unit == NULL)
		return "has an unknown unit (ms, s, m, h or d)";
	if (!u64_parse(text, (size_t)(u - text), &n) ||
	    n > CONFIG_DURATION_MAX_MS / duration_units[i].ms)
		return "is too long (at most 3650d)";
	*ms = n * duration_units[i].ms;
	return NULL;
}

int
config_parse_duration(const char *text, uint64_t *ms)
{
	return duration_parse(text, ms) == NULL ? 0 : -1;
}

const char *
config_duration_str(uint64_t ms, char *buf, size_t buflen)
{
	int i;

	if (ms == 0) {
		snprintf(buf, buflen, "0s");
		return buf;
	}
	for (i = 4; i > 0; i--)
		if (ms % duration_units[i].ms == 0)
			break;
	snprintf(buf, buflen, "%" PRIu64 "%s", ms / duration_units[i].ms,
	    duration_units[i].unit);
	return buf;
}

/* "proto:port" in s[0..n): true, or false with the reason in why. */
static bool
port_parse(const char *s, size_t n, struct config_port *out, char *why)
{
	const char *colon = memchr(s, ':', n);
	char sb[SHOW_BUF], tmp[SHOW_BUF];
	size_t plen;

	if (colon == NULL || memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
		snprintf(why, WHY_MAX, "expected proto:port such as tcp:22");
		return false;
	}
	plen = (size_t)(colon - s);
	if (plen == 3 && memcmp(s, "tcp", 3) == 0)
		out->proto = IPPROTO_TCP;
	else if (plen == 3 && memcmp(s, "udp", 3) == 0)
		out->proto = IPPROTO_UDP;
	else {
		snprintf(tmp, sizeof(tmp), "%.*s", (int)plen, s);
		snprintf(why, WHY_MAX, "unknown protocol '%s' (tcp or udp)",
		    show(tmp, sb, sizeof(sb)));
		return false;
	}
	plen = n - (size_t)(colon + 1 - s);
	if (plen > 5 || !u16_parse(colon + 1, plen, &out->port) ||
	    out->port == 0) {
		snprintf(tmp, sizeof(tmp), "%.*s", (int)plen, colon + 1);
		snprintf(why, WHY_MAX, "port '%s' is not a number 1-65535",
		    show(tmp, sb, sizeof(sb)));
		return false;
	}
	return true;
}

int
config_parse_port(const char *text, struct config_port *out)
{
	char why[WHY_MAX];

	return port_parse(text, strlen(text), out, why) ? 0 : -1;
}

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
			    "or x, n, i alone)", show(one, sb, sizeof(sb)));
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
	if (!port_parse(tok, n, &f->port, why))
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

const char *
config_frame_str(const struct config_knock_frame *f, char *buf, size_t buflen)
{
	char flags[8];
	size_t i, n = 0;

	if (f->port.proto != IPPROTO_TCP) {
		snprintf(buf, buflen, "udp:%u", f->port.port);
		return buf;
	}
	if (f->flags_mask == 0)
		flags[n++] = 'i';
	else if (f->flags_value == 0)
		flags[n++] = 'n';
	else if ((f->flags_value & TCP_FLAGS_SIX) == TCP_FLAGS_SIX)
		flags[n++] = 'x';
	else
		for (i = 0; i < 6; i++)
			if (f->flags_value & (1U << i))
				flags[n++] = tcp_flag_letters[i];
	flags[n] = '\0';
	snprintf(buf, buflen, "tcp:%u:%s", f->port.port, flags);
	return buf;
}

int
config_knock_divert(const struct config_knock *k,
    struct config_port_range *out, int max)
{
	const struct config_port *fp;
	int i, j, n = 0;

	if (k->derive != CONFIG_DERIVE_NONE) {
		if (max < 1)
			return 0;
		out[0] = k->ports;
		return 1;
	}
	for (i = 0; i < k->nframes && i < CONFIG_KNOCK_FRAMES_MAX && n < max;
	    i++) {
		fp = &k->frames[i].port;
		for (j = 0; j < n; j++)
			if (out[j].proto == fp->proto && out[j].lo == fp->port)
				break;
		if (j < n)
			continue;
		out[n].proto = fp->proto;
		out[n].lo = out[n].hi = fp->port;
		n++;
	}
	return n;
}

bool
config_knock_has_port(const struct config_knock *k, uint8_t proto,
    uint16_t port)
{
	int i;

	if (k->derive != CONFIG_DERIVE_NONE)
		return k->ports.proto == proto && port >= k->ports.lo &&
		    port <= k->ports.hi;
	for (i = 0; i < k->nframes && i < CONFIG_KNOCK_FRAMES_MAX; i++)
		if (k->frames[i].port.proto == proto &&
		    k->frames[i].port.port == port)
			return true;
	return false;
}

/* NULL, or why s is not a name of 1..max bytes from [A-Za-z0-9_] (+ '-'). */
static const char *
name_check(const char *s, size_t max, bool dash, char *why)
{
	size_t n = strlen(s), i;

	if (n > max) {
		snprintf(why, WHY_MAX, "is longer than %zu bytes", max);
		return why;
	}
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || (dash && s[i] == '-')))
			return dash ? "may only hold letters, digits, '_' and '-'" :
			    "may only hold letters, digits and '_'";
	return NULL;
}

/* --- setters: each checks one value and reports its own error --------- */

static bool
set_uint(struct parse *p, const char *v, uint64_t min, uint64_t max,
    uint64_t *out)
{
	char sb[SHOW_BUF];

	if (!u64_parse(v, strlen(v), out) || *out < min || *out > max) {
		verr(p, "'%s' is not a number from %" PRIu64 " to %" PRIu64,
		    show(v, sb, sizeof(sb)), min, max);
		return false;
	}
	return true;
}

static void
set_bool(struct parse *p, const char *v, bool *out)
{
	static const char *yes[] = { "yes", "true", "on", "1", NULL };
	static const char *no[] = { "no", "false", "off", "0", NULL };
	char sb[SHOW_BUF];
	int i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return;
		}
	}
	verr(p, "'%s' is not yes/no, true/false, on/off or 1/0",
	    show(v, sb, sizeof(sb)));
}

/* A duration in [min, max] milliseconds. */
static void
set_duration(struct parse *p, const char *v, uint64_t min, uint64_t max,
    uint64_t *out)
{
	const char *why;
	char sb[SHOW_BUF], d[32];
	uint64_t ms;

	show(v, sb, sizeof(sb));
	if ((why = duration_parse(v, &ms)) != NULL &&
	    v[strspn(v, "0123456789")] == '\0')
		verr(p, "'%s' needs a unit (ms, s, m, h or d), as in %ss", sb, sb);
	else if (why != NULL)
		verr(p, "'%s' %s", sb, why);
	else if (ms < min)
		verr(p, "must be longer than 0");
	else if (ms > max)
		verr(p, "'%s' is too long (at most %s)", sb,
		    config_duration_str(max, d, sizeof(d)));
	else
		*out = ms;
}

static void
set_hook(struct parse *p, const char *v, struct config_hook *h)
{
	const char *why;
	char sb[SHOW_BUF];
	char **argv;
	int argc;

	if (argv_split(v, &argv, &argc, &why) == -1) {
		if (errno == ENOMEM)
			p->oom = true;
		verr(p, "%s", why);
		return;
	}
	if (argc == 0 || argv[0][0] != '/') {
		if (argc == 0)
			verr(p, "no command");
		else
			verr(p, "'%s' is not an absolute path (hooks run "
			    "without a shell or PATH)", show(argv[0], sb,
			    sizeof(sb)));
		argv_free(argv);
		return;
	}
	if ((h->line = strdup(v)) == NULL) {
		p->oom = true;
		argv_free(argv);
		return;
	}
	h->argv = argv;
	h->argc = argc;
}

static void
hook_clear(struct config_hook *h)
{
	argv_free(h->argv);
	free(h->line);
	memset(h, 0, sizeof(*h));
}

/* --- [engine] --------------------------------------------------------- */

static void
engine_defaults(struct config_engine *e)
{
	memset(e, 0, sizeof(*e));
	e->nflog_group = -1;
	e->fail_open = true;
	e->queue_bypass = true;
	e->queue_maxlen = 4096;
	e->copy_range = 256;
	snprintf(e->table, sizeof(e->table), "nfq_trigger");
	e->manage_rules = true;
	e->max_sources = 65536;
	e->hook_timeout_ms = 30 * 1000;
}

static void
engine_queue(struct parse *p, const char *v)
{
	const char *dash = strchr(v, '-');
	char sb[SHOW_BUF];
	uint16_t a = 0, b = 0;

	if (dash == NULL ? !u16_parse(v, strlen(v), &a) :
	    !u16_parse(v, (size_t)(dash - v), &a) ||
	    !u16_parse(dash + 1, strlen(dash + 1), &b)) {
		verr(p, "'%s' is not a queue number 0-65535 or a range such "
		    "as 0-3", show(v, sb, sizeof(sb)));
		return;
	}
	if (dash == NULL)
		b = a;
	if (a > b) {
		verr(p, "'%s' goes backwards", show(v, sb, sizeof(sb)));
		return;
	}
	p->engine->queue_first = a;
	p->engine->queue_last = b;
}

static void
engine_nflog_group(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 0, UINT16_MAX, &n))
		p->engine->nflog_group = (int)n;
}

static void
engine_fail_open(struct parse *p, const char *v)
{
	set_bool(p, v, &p->engine->fail_open);
}

static void
engine_queue_bypass(struct parse *p, const char *v)
{
	set_bool(p, v, &p->engine->queue_bypass);
}

static void
engine_manage_rules(struct parse *p, const char *v)
{
	set_bool(p, v, &p->engine->manage_rules);
}

static void
engine_queue_maxlen(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 1, UINT32_MAX, &n))
		p->engine->queue_maxlen = (uint32_t)n;
}

static void
engine_copy_range(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, CONFIG_COPY_RANGE_MIN, CONFIG_COPY_RANGE_MAX, &n))
		p->engine->copy_range = (uint32_t)n;
}

static void
engine_max_sources(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, CONFIG_MAX_SOURCES_MIN, CONFIG_MAX_SOURCES_MAX, &n))
		p->engine->max_sources = (uint32_t)n;
}

static void
engine_table(struct parse *p, const char *v)
{
	const char *why;
	char sb[SHOW_BUF], buf[WHY_MAX];

	if ((why = name_check(v, CONFIG_TABLE_MAX, false, buf)) == NULL &&
	    !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
		why = "must start with a letter";
	if (why != NULL)
		verr(p, "'%s' %s", show(v, sb, sizeof(sb)), why);
	else
		snprintf(p->engine->table, sizeof(p->engine->table), "%s", v);
}

static void
engine_hook_timeout(struct parse *p, const char *v)
{
	set_duration(p, v, 1, CONFIG_HOOK_TIMEOUT_MAX_MS,
	    &p->engine->hook_timeout_ms);
}

static const struct key engine_keys[] = {
	{ "queue", engine_queue, false },
	{ "nflog_group", engine_nflog_group, false },
	{ "fail_open", engine_fail_open, false },
	{ "queue_bypass", engine_queue_bypass, false },
	{ "queue_maxlen", engine_queue_maxlen, false },
	{ "copy_range", engine_copy_range, false },
	{ "table", engine_table, false },
	{ "manage_rules", engine_manage_rules, false },
	{ "max_sources", engine_max_sources, false },
	{ "hook_timeout", engine_hook_timeout, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(engine_keys) / sizeof(engine_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [engine]");

/* --- [knock NAME] ----------------------------------------------------- */

enum knock_key {
	K_SEQUENCE, K_WINDOW, K_OPEN, K_ALLOW_TIMEOUT, K_RESET_ON_WRONG,
	K_EXEC, K_EXEC_STOP, K_EXEC_STOP_DELAY,
	K_KEY, K_DERIVE, K_STEP, K_FRAMES, K_PORTS, K_PROTO, K_LOOKAHEAD, K_STATE
};

#define DERIVED_FRAMES_DEFAULT	4

static void
knock_defaults(struct config_knock *k)
{
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

/* Calls fn on every blank-separated word of v; returns how many. */
static int
words_each(struct parse *p, const char *v,
    void (*fn)(struct parse *, const char *, int))
{
	char tok[CONFIG_LINE_MAX + 1];
	size_t n;
	int count = 0;

	for (;;) {
		while (is_blank(*v))
			v++;
		if (*v == '\0')
			return count;
		for (n = 0; v[n] != '\0' && !is_blank(v[n]); n++)
			;
		if (n >= sizeof(tok))
			n = sizeof(tok) - 1;	/* inih's line is shorter */
		memcpy(tok, v, n);
		tok[n] = '\0';
		fn(p, tok, count++);
		v += n;
		while (*v != '\0' && !is_blank(*v))
			v++;
	}
}

static void
knock_frame(struct parse *p, const char *tok, int i)
{
	struct config_knock *k = p->knock;
	struct config_knock_frame spare;
	char why[WHY_MAX], sb[SHOW_BUF];

	/* Frames past the limit are still checked, into a spare. */
	if (!frame_parse(tok, i < CONFIG_KNOCK_FRAMES_MAX ?
	    &k->frames[i] : &spare, why))
		perr(p, p->lineno, "%s: frame '%s': %s", p->ctx,
		    show(tok, sb, sizeof(sb)), why);
}

static void
knock_sequence(struct parse *p, const char *v)
{
	int n;

	n = words_each(p, v, knock_frame);
	if (n == 0)
		verr(p, "no frames");
	else if (n > CONFIG_KNOCK_FRAMES_MAX)
		verr(p, "%d frames, at most %d", n, CONFIG_KNOCK_FRAMES_MAX);
	else
		p->knock->nframes = n;
}

static void
knock_open_port(struct parse *p, const char *tok, int i)
{
	struct config_knock *k = p->knock;
	struct config_port port;
	char why[WHY_MAX], sb[SHOW_BUF];
	int j;

	if (!port_parse(tok, strlen(tok), &port, why)) {
		verr(p, "'%s': %s", show(tok, sb, sizeof(sb)), why);
		return;
	}
	for (j = 0; j < i && j < CONFIG_OPEN_MAX; j++)
		if (k->open[j].proto == port.proto &&
		    k->open[j].port == port.port) {
			verr(p, "'%s' is listed twice", show(tok, sb, sizeof(sb)));
			break;
		}
	if (i < CONFIG_OPEN_MAX)
		k->open[i] = port;
}

static void
knock_open(struct parse *p, const char *v)
{
	int n;

	n = words_each(p, v, knock_open_port);
	if (n == 0)
		verr(p, "no ports");
	else if (n > CONFIG_OPEN_MAX)
		verr(p, "%d ports, at most %d", n, CONFIG_OPEN_MAX);
	else
		p->knock->nopen = n;
}

static void
knock_window(struct parse *p, const char *v)
{
	set_duration(p, v, 1, CONFIG_DURATION_MAX_MS, &p->knock->window_ms);
}

static void
knock_allow_timeout(struct parse *p, const char *v)
{
	set_duration(p, v, 1, CONFIG_DURATION_MAX_MS,
	    &p->knock->allow_timeout_ms);
}

static void
knock_reset_on_wrong(struct parse *p, const char *v)
{
	set_bool(p, v, &p->knock->reset_on_wrong);
}

static void
knock_exec(struct parse *p, const char *v)
{
	set_hook(p, v, &p->knock->exec);
}

static void
knock_exec_stop(struct parse *p, const char *v)
{
	set_hook(p, v, &p->knock->exec_stop);
}

static void
knock_exec_stop_delay(struct parse *p, const char *v)
{
	set_duration(p, v, 0, CONFIG_DURATION_MAX_MS,
	    &p->knock->exec_stop_delay_ms);
}

/* An absolute path for key and state: the daemon's directory is "/". */
static bool
set_path(struct parse *p, const char *v, char *out)
{
	char sb[SHOW_BUF];

	if (v[0] != '/') {
		verr(p, "'%s' is not an absolute path", show(v, sb, sizeof(sb)));
		return false;
	}
	snprintf(out, CONFIG_PATH_MAX, "%s", v);
	return true;
}

static void
knock_key(struct parse *p, const char *v)
{
	char why[KEYFILE_WHY_MAX];

	if (!set_path(p, v, p->knock->key_path))
		return;
	if (keyfile_read(v, p->check_owner, KEYFILE_ROOT_ONLY, p->knock->key,
	    why, sizeof(why)) == -1)
		verr(p, "%s", why);
}

static void
knock_derive(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "time") == 0)
		p->knock->derive = CONFIG_DERIVE_TIME;
	else if (strcmp(v, "counter") == 0)
		p->knock->derive = CONFIG_DERIVE_COUNTER;
	else
		verr(p, "'%s' is not time or counter", show(v, sb, sizeof(sb)));
}

static void
knock_step(struct parse *p, const char *v)
{
	uint64_t ms = 0;

	set_duration(p, v, 1, CONFIG_STEP_MAX_MS, &ms);
	if (ms == 0)
		return;
	if (ms % 1000 != 0)
		verr(p, "must be whole seconds (the engine counts steps "
		    "from time(2))");
	else
		p->knock->step_ms = ms;
}

static void
knock_frames(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 2, CONFIG_KNOCK_FRAMES_MAX, &n))
		p->knock->nframes = (int)n;
}

static void
knock_ports(struct parse *p, const char *v)
{
	const char *dash = strchr(v, '-');
	char sb[SHOW_BUF];
	uint16_t lo, hi;

	if (dash == NULL || !u16_parse(v, (size_t)(dash - v), &lo) ||
	    !u16_parse(dash + 1, strlen(dash + 1), &hi) || lo == 0) {
		verr(p, "'%s' is not a port range such as 20000-29999",
		    show(v, sb, sizeof(sb)));
		return;
	}
	if (lo >= hi) {
		verr(p, "'%s' must go from a lower port to a higher one",
		    show(v, sb, sizeof(sb)));
		return;
	}
	p->knock->ports.lo = lo;
	p->knock->ports.hi = hi;
}

static void
knock_proto(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "udp") == 0)
		p->knock->ports.proto = IPPROTO_UDP;
	else if (strcmp(v, "tcp") == 0)
		p->knock->ports.proto = IPPROTO_TCP;
	else
		verr(p, "'%s' is not udp or tcp", show(v, sb, sizeof(sb)));
}

static void
knock_lookahead(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 1, CONFIG_LOOKAHEAD_MAX, &n))
		p->knock->lookahead = (uint32_t)n;
}

static void
knock_state(struct parse *p, const char *v)
{
	set_path(p, v, p->knock->state_path);
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
	enum config_derive d = p->knock->derive;
	const int *seen = p->seen_line;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!seen[keys[i].key] || (d != CONFIG_DERIVE_NONE &&
		    (keys[i].only == CONFIG_DERIVE_NONE || keys[i].only == d)))
			continue;
		perr(p, seen[keys[i].key], "%s: %s only applies with derive = %s",
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
	struct config_knock *k = p->knock;
	const int *seen = p->seen_line;
	int line;

	if (seen[K_DERIVE] && !seen[K_KEY])
		perr(p, seen[K_DERIVE], "%s: derive needs key (the file of the "
		    "secret the sequence is derived from)", p->ctx);
	if (seen[K_KEY] && !seen[K_DERIVE])
		perr(p, seen[K_KEY], "%s: key needs derive = time or derive = "
		    "counter", p->ctx);
	if (seen[K_SEQUENCE] && (seen[K_KEY] || seen[K_DERIVE]))
		perr(p, seen[K_SEQUENCE], "%s: sequence: not with key and derive "
		    "(the sequence is derived from the key)", p->ctx);
	/* A bad derive value is its own error: no guess at what was meant. */
	if (!seen[K_DERIVE] || k->derive != CONFIG_DERIVE_NONE)
		knock_check_derive_keys(p);
	if (k->derive == CONFIG_DERIVE_COUNTER && !seen[K_STATE])
		perr(p, seen[K_DERIVE], "%s: derive = counter needs state (the "
		    "file where the engine keeps the next counter)", p->ctx);
	if (k->derive == CONFIG_DERIVE_NONE)
		return;
	if (!seen[K_FRAMES])
		k->nframes = DERIVED_FRAMES_DEFAULT;
	if (k->nframes >= 2 && derived_sequences(k,
	    CONFIG_DERIVED_MIN_SEQUENCES) < CONFIG_DERIVED_MIN_SEQUENCES) {
		line = seen[K_PORTS] ? seen[K_PORTS] : seen[K_FRAMES] ?
		    seen[K_FRAMES] : seen[K_DERIVE];
		perr(p, line, "%s: ports %u-%u and frames = %d give %" PRIu64
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
	const struct config_knock *k = p->knock;
	const struct config_port *o;
	char what[CONFIG_NAME_MAX + 64];
	int i;

	for (i = 0; i < k->nopen; i++) {
		o = &k->open[i];
		if (!config_knock_has_port(b, o->proto, o->port))
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
		perr(p, p->seen_line[K_OPEN], "%s: open: %s:%u is %s", p->ctx,
		    proto_name(o->proto), o->port, what);
	}
}

/* Ports this section knocks on that an earlier trigger opens. */
static void
knock_check_frames_of_others(struct parse *p)
{
	const struct config_knock *k = p->knock, *a;
	const int *seen = p->seen_line;
	int i, j, line;

	line = seen[K_SEQUENCE] ? seen[K_SEQUENCE] : seen[K_PORTS] ?
	    seen[K_PORTS] : p->section_line;
	for (i = 0; i < p->cfg->nknocks && &p->cfg->knocks[i] != k; i++) {
		a = &p->cfg->knocks[i];
		for (j = 0; j < a->nopen; j++)
			if (config_knock_has_port(k, a->open[j].proto,
			    a->open[j].port)) {
				perr(p, line, "%s: knocks on %s:%u, which [knock "
				    "%s] (line %d) opens", p->ctx,
				    proto_name(a->open[j].proto), a->open[j].port,
				    a->name, a->line);
				break;
			}
	}
}

/*
 * The knock's keys together: hooks that need each other, derived keys,
 * and ports that would be both knocked on and opened: the divert rule of the
 * knock would swallow the service's packets.
 */
static void
knock_check(struct parse *p)
{
	const struct config_knock *k = p->knock;
	const int *seen = p->seen_line;
	int i;

	if (seen[K_EXEC_STOP] && !seen[K_EXEC])
		perr(p, seen[K_EXEC_STOP], "%s: exec_stop needs exec", p->ctx);
	if (seen[K_EXEC_STOP] && !seen[K_EXEC_STOP_DELAY])
		perr(p, seen[K_EXEC_STOP], "%s: exec_stop needs exec_stop_delay "
		    "(how long after exec it runs)", p->ctx);
	if (seen[K_EXEC_STOP_DELAY] && !seen[K_EXEC_STOP])
		perr(p, seen[K_EXEC_STOP_DELAY], "%s: exec_stop_delay without "
		    "exec_stop", p->ctx);
	knock_check_derived(p);
	knock_check_open(p, k);
	if (k == &p->scratch_knock)
		return;
	for (i = 0; i < p->cfg->nknocks && &p->cfg->knocks[i] != k; i++)
		knock_check_open(p, &p->cfg->knocks[i]);
	knock_check_frames_of_others(p);
}

/* --- [activity NAME] -------------------------------------------------- */

enum activity_key {
	A_MATCH, A_SOURCE, A_TTL, A_START, A_STOP, A_HOLD_PACKETS, A_HOLD_BYTES,
	A_START_FAILURE, A_RETRY_AFTER
};

static void
activity_defaults(struct config_activity *a)
{
	memset(a, 0, sizeof(*a));
	a->source = CONFIG_SOURCE_QUEUE;
	a->ttl_ms = 600 * 1000;		/* tuninetd's default */
	a->hold_packets = 64;
	a->hold_bytes = 256 * 1024;
	a->start_failure_accept = false;	/* fail closed: nothing goes around the tunnel */
	a->retry_after_ms = 10 * 1000;
}

static void
activity_match(struct parse *p, const char *v)
{
	char why[MATCH_WHY_MAX];

	if (match_parse(v, &p->activity->match, why, sizeof(why)) == -1)
		verr(p, "%s", why);
}

static void
activity_source(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "queue") == 0)
		p->activity->source = CONFIG_SOURCE_QUEUE;
	else if (strcmp(v, "nflog") == 0)
		p->activity->source = CONFIG_SOURCE_NFLOG;
	else
		verr(p, "'%s' is not queue or nflog", show(v, sb, sizeof(sb)));
}

static void
activity_ttl(struct parse *p, const char *v)
{
	uint64_t ms = 0;

	set_duration(p, v, 1, CONFIG_DURATION_MAX_MS, &ms);
	if (ms != 0 && ms < CONFIG_TTL_MIN_MS)
		verr(p, "must be at least 2s (live flows are sampled once a second)");
	else if (ms != 0)
		p->activity->ttl_ms = ms;
}

static void
activity_start(struct parse *p, const char *v)
{
	set_hook(p, v, &p->activity->start);
}

static void
activity_stop(struct parse *p, const char *v)
{
	set_hook(p, v, &p->activity->stop);
}

static void
activity_hold_packets(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 0, CONFIG_HOLD_PACKETS_MAX, &n))
		p->activity->hold_packets = (uint32_t)n;
}

static void
activity_hold_bytes(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 0, CONFIG_HOLD_BYTES_MAX, &n))
		p->activity->hold_bytes = (uint32_t)n;
}

static void
activity_start_failure(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "accept") == 0)
		p->activity->start_failure_accept = true;
	else if (strcmp(v, "drop") == 0)
		p->activity->start_failure_accept = false;
	else
		verr(p, "'%s' is not accept or drop", show(v, sb, sizeof(sb)));
}

static void
activity_retry_after(struct parse *p, const char *v)
{
	set_duration(p, v, 0, CONFIG_DURATION_MAX_MS, &p->activity->retry_after_ms);
}

static const struct key activity_keys[] = {
	[A_MATCH] = { "match", activity_match, true },
	[A_SOURCE] = { "source", activity_source, false },
	[A_TTL] = { "ttl", activity_ttl, false },
	[A_START] = { "start", activity_start, true },
	[A_STOP] = { "stop", activity_stop, false },
	[A_HOLD_PACKETS] = { "hold_packets", activity_hold_packets, false },
	[A_HOLD_BYTES] = { "hold_bytes", activity_hold_bytes, false },
	[A_START_FAILURE] = { "start_failure", activity_start_failure, false },
	[A_RETRY_AFTER] = { "retry_after", activity_retry_after, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(activity_keys) / sizeof(activity_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [activity]");

/*
 * The section's keys together. The trigger diverts in prerouting (Decision
 * 4: a held packet must be routed after start), where no output interface
 * is known yet; and NFLOG packets are never held.
 */
static void
activity_check(struct parse *p)
{
	static const enum activity_key queue_only[] = {
		A_HOLD_PACKETS, A_HOLD_BYTES, A_START_FAILURE
	};
	const struct config_activity *a = p->activity;
	size_t i;

	if (p->seen_line[A_MATCH] && match_uses_ifs(&a->match, MATCH_OIF))
		perr(p, p->seen_line[A_MATCH], "%s: match: oif: an activity "
		    "trigger sees packets in prerouting, before routing has "
		    "chosen an output interface", p->ctx);
	if (a->source != CONFIG_SOURCE_NFLOG)
		return;
	for (i = 0; i < sizeof(queue_only) / sizeof(queue_only[0]); i++)
		if (p->seen_line[queue_only[i]])
			perr(p, p->seen_line[queue_only[i]], "%s: %s only applies "
			    "with source = queue (NFLOG packets are not held)",
			    p->ctx, activity_keys[queue_only[i]].name);
}

/* What an activity trigger needs from [engine], wherever that section is. */
static void
activities_check_engine(struct parse *p)
{
	const struct config_engine *e = &p->cfg->engine;
	const struct config_activity *a;
	int i;

	for (i = 0; i < p->cfg->nactivities; i++) {
		a = &p->cfg->activities[i];
		if (a->source == CONFIG_SOURCE_NFLOG && e->nflog_group < 0)
			perr(p, a->line, "activity %s: source = nflog needs "
			    "nflog_group in [engine]", a->name);
		if (a->source == CONFIG_SOURCE_QUEUE &&
		    a->hold_packets >= e->queue_maxlen)
			perr(p, a->line, "activity %s: hold_packets = %u leaves no "
			    "room in the kernel queue (queue_maxlen = %u)", a->name,
			    a->hold_packets, e->queue_maxlen);
	}
}

/* --- [count NAME] ----------------------------------------------------- */

enum count_key {
	C_MATCH, C_SOURCE, C_EVERY, C_THRESHOLD, C_BLOCK_TIMEOUT, C_ALLOW,
	C_PATH, C_EXEC
};

static void
count_defaults(struct config_count *c)
{
	memset(c, 0, sizeof(*c));
	c->source = CONFIG_SOURCE_QUEUE;
	c->every = 1;
	c->block_timeout_ms = 10 * 60 * 1000;	/* fail2ban's bantime */
	c->path = CONFIG_PATH_KERNEL;
}

static void
count_match(struct parse *p, const char *v)
{
	char why[MATCH_WHY_MAX];

	if (match_parse(v, &p->count->match, why, sizeof(why)) == -1)
		verr(p, "%s", why);
}

static void
count_source(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "queue") == 0)
		p->count->source = CONFIG_SOURCE_QUEUE;
	else if (strcmp(v, "nflog") == 0)
		p->count->source = CONFIG_SOURCE_NFLOG;
	else
		verr(p, "'%s' is not queue or nflog", show(v, sb, sizeof(sb)));
}

static void
count_every(struct parse *p, const char *v)
{
	uint64_t n;

	if (set_uint(p, v, 1, CONFIG_EVERY_MAX, &n))
		p->count->every = (uint32_t)n;
}

/* nft's rate units, for "10/minute". */
static const struct {
	const char *name;
	uint64_t ms;
} rate_units[] = {
	{ "second", 1000 }, { "minute", 60 * 1000 }, { "hour", 3600 * 1000 },
	{ "day", 24 * 3600 * 1000 }, { "week", 7 * 24 * 3600 * 1000ULL },
	{ NULL, 0 }
};

/* "10/60s" or "10/minute": more than 10 packets per 60 seconds. */
static void
count_threshold(struct parse *p, const char *v)
{
	const char *slash = strchr(v, '/'), *per;
	char sb[SHOW_BUF], num[24];
	uint64_t n, ms = 0;
	size_t len;
	int i;

	show(v, sb, sizeof(sb));
	for (len = slash != NULL ? (size_t)(slash - v) : 0; len > 0 &&
	    is_blank(v[len - 1]); len--)
		;
	if (slash == NULL || len == 0 || len >= sizeof(num)) {
		verr(p, "'%s' is not PACKETS/PERIOD, as in 10/60s or 10/minute", sb);
		return;
	}
	snprintf(num, sizeof(num), "%.*s", (int)len, v);
	for (per = slash + 1; is_blank(*per); per++)
		;
	if (!u64_parse(num, len, &n) || n < 1 || n > CONFIG_THRESHOLD_MAX) {
		verr(p, "'%s': the packets are not a number from 1 to %u", sb,
		    CONFIG_THRESHOLD_MAX);
		return;
	}
	for (i = 0; rate_units[i].name != NULL; i++)
		if (strcmp(per, rate_units[i].name) == 0)
			ms = rate_units[i].ms;
	if (ms == 0 && duration_parse(per, &ms) != NULL) {
		verr(p, "'%s': the period is not a duration (60s, 1h) or second, "
		    "minute, hour, day, week", sb);
		return;
	}
	if (ms < 1000 || ms % 1000 != 0) {
		verr(p, "'%s': the period must be whole seconds (nftables counts "
		    "rates per second)", sb);
		return;
	}
	p->count->threshold = (uint32_t)n;
	p->count->period_ms = ms;
}

static void
count_block_timeout(struct parse *p, const char *v)
{
	set_duration(p, v, 1, CONFIG_DURATION_MAX_MS, &p->count->block_timeout_ms);
}

static void
count_allow_one(struct parse *p, const char *tok, int i)
{
	struct config_count *c = p->count;
	struct config_prefix px = { 0 };
	char why[MATCH_WHY_MAX];
	int family = 0, j;

	if (i >= CONFIG_ALLOW_MAX) {
		if (i == CONFIG_ALLOW_MAX)
			verr(p, "more than %d prefixes", CONFIG_ALLOW_MAX);
		return;
	}
	if (match_prefix_parse(tok, &family, &px.p, why, sizeof(why)) == -1) {
		verr(p, "%s", why);
		return;
	}
	px.family = (uint8_t)family;
	for (j = 0; j < c->nallow; j++)
		if (c->allow[j].family == px.family &&
		    c->allow[j].p.len == px.p.len &&
		    memcmp(c->allow[j].p.addr, px.p.addr, 16) == 0) {
			verr(p, "'%s' is listed twice", tok);
			return;
		}
	c->allow[c->nallow++] = px;
}

static void
count_allow(struct parse *p, const char *v)
{
	words_each(p, v, count_allow_one);
}

static void
count_path(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "kernel") == 0)
		p->count->path = CONFIG_PATH_KERNEL;
	else if (strcmp(v, "engine") == 0)
		p->count->path = CONFIG_PATH_ENGINE;
	else
		verr(p, "'%s' is not kernel or engine", show(v, sb, sizeof(sb)));
}

static void
count_exec(struct parse *p, const char *v)
{
	set_hook(p, v, &p->count->exec);
}

static const struct key count_keys[] = {
	[C_MATCH] = { "match", count_match, true },
	[C_SOURCE] = { "source", count_source, false },
	[C_EVERY] = { "every", count_every, false },
	[C_THRESHOLD] = { "threshold", count_threshold, false },
	[C_BLOCK_TIMEOUT] = { "block_timeout", count_block_timeout, false },
	[C_ALLOW] = { "allow", count_allow, false },
	[C_PATH] = { "path", count_path, false },
	[C_EXEC] = { "exec", count_exec, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(count_keys) / sizeof(count_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [count]");

/*
 * The section's keys together: `every` (with exec) and `threshold` are the
 * two kinds of count trigger, each with keys of its own.
 */
static void
count_check(struct parse *p)
{
	static const enum count_key threshold_only[] = {
		C_BLOCK_TIMEOUT, C_ALLOW, C_PATH
	};
	struct config_count *c = p->count;
	const int *seen = p->seen_line;
	size_t i;

	if (seen[C_EVERY] && seen[C_THRESHOLD]) {
		perr(p, seen[C_EVERY], "%s: every and threshold are two kinds "
		    "of count trigger: use a section for each", p->ctx);
		return;
	}
	if (seen[C_THRESHOLD]) {
		c->kind = CONFIG_COUNT_THRESHOLD;
		if (seen[C_MATCH] && c->path == CONFIG_PATH_KERNEL &&
		    match_uses_ifs(&c->match, MATCH_OIF))
			perr(p, seen[C_MATCH], "%s: match: oif: the kernel counts a "
			    "threshold in prerouting, before routing has chosen an "
			    "output interface (path = engine counts after it)",
			    p->ctx);
		if (seen[C_SOURCE])
			perr(p, seen[C_SOURCE], "%s: source only applies with "
			    "every (a threshold is counted by the kernel, or "
			    "through the queue with path = engine)", p->ctx);
		return;
	}
	c->kind = CONFIG_COUNT_EVERY;
	if (!seen[C_EXEC])
		perr(p, p->section_line, "%s: needs exec (what to run every N "
		    "packets) or threshold (sources to block)", p->ctx);
	for (i = 0; i < sizeof(threshold_only) / sizeof(threshold_only[0]); i++)
		if (seen[threshold_only[i]])
			perr(p, seen[threshold_only[i]], "%s: %s only applies "
			    "with threshold", p->ctx,
			    count_keys[threshold_only[i]].name);
}

/* What a count trigger needs from [engine], wherever that section is. */
static void
counts_check_engine(struct parse *p)
{
	const struct config_count *c;
	int i;

	for (i = 0; i < p->cfg->ncounts; i++) {
		c = &p->cfg->counts[i];
		if (p->cfg->engine.nflog_group >= 0)
			continue;
		if (c->kind == CONFIG_COUNT_EVERY && c->source == CONFIG_SOURCE_NFLOG)
			perr(p, c->line, "count %s: source = nflog needs "
			    "nflog_group in [engine]", c->name);
		if (c->kind == CONFIG_COUNT_THRESHOLD &&
		    c->path == CONFIG_PATH_KERNEL && c->exec.argv != NULL)
			perr(p, c->line, "count %s: exec with a threshold counted "
			    "by the kernel needs nflog_group in [engine] (the "
			    "kernel reports each block through it)", c->name);
	}
}

/* --- [rotate NAME] ---------------------------------------------------- */

enum rotate_key { R_MATCH, R_MODE, R_POOL, R_POLICY };

static void
rotate_defaults(struct config_rotate *r)
{
	memset(r, 0, sizeof(*r));
	r->mode = CONFIG_ROTATE;
	r->policy = CONFIG_ROUND_ROBIN;
}

static void
rotate_match(struct parse *p, const char *v)
{
	char why[MATCH_WHY_MAX];

	if (match_parse(v, &p->rotate->match, why, sizeof(why)) == -1)
		verr(p, "%s", why);
}

static void
rotate_mode(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "rotate") == 0)
		p->rotate->mode = CONFIG_ROTATE;
	else if (strcmp(v, "passthrough") == 0)
		p->rotate->mode = CONFIG_PASSTHROUGH;
	else
		verr(p, "'%s' is not rotate or passthrough", show(v, sb, sizeof(sb)));
}

static void
rotate_policy(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "round-robin") == 0)
		p->rotate->policy = CONFIG_ROUND_ROBIN;
	else if (strcmp(v, "random") == 0)
		p->rotate->policy = CONFIG_RANDOM;
	else
		verr(p, "'%s' is not round-robin or random", show(v, sb, sizeof(sb)));
}

/* Adds addr to the pool; false (reported) when it is there or no room. */
static bool
pool_add(struct parse *p, struct config_pool *pool, const uint8_t *addr,
    int alen, const char *tok)
{
	int i;

	for (i = 0; i < pool->n; i++)
		if (memcmp(pool->addr[i], addr, (size_t)alen) == 0) {
			verr(p, "'%s': an address of it is listed twice", tok);
			return false;
		}
	if (pool->n == CONFIG_POOL_MAX) {
		verr(p, "more than %d addresses of one family (a larger pool "
		    "is one prefix)", CONFIG_POOL_MAX);
		return false;
	}
	memcpy(pool->addr[pool->n++], addr, (size_t)alen);
	return true;
}

/*
 * One word of the pool: an address, or a prefix that is spelled out when
 * it holds at most CONFIG_POOL_MAX addresses, else kept as a prefix that
 * must stand alone in its family.
 */
static void
rotate_pool_one(struct parse *p, const char *tok, int i)
{
	struct match_prefix px;
	struct config_pool *pool;
	char why[MATCH_WHY_MAX];
	uint8_t addr[16];
	int family = 0, alen, host, k, b;

	(void)i;
	if (match_prefix_parse(tok, &family, &px, why, sizeof(why)) == -1) {
		verr(p, "%s", why);
		return;
	}
	pool = &p->rotate->pool[family == AF_INET6];
	alen = family == AF_INET ? 4 : 16;
	host = alen * 8 - px.len;
	if (pool->prefix) {
		verr(p, "'%s': the pool's prefix of more than %d addresses "
		    "stands alone in its family", tok, CONFIG_POOL_MAX);
		return;
	}
	if (host > CONFIG_POOL_HOST_BITS && pool->n > 0) {
		verr(p, "'%s' holds more than %d addresses: such a prefix "
		    "stands alone in its family's pool", tok, CONFIG_POOL_MAX);
		return;
	}
	if (host > CONFIG_POOL_HOST_BITS) {
		pool->prefix = true;
		pool->prefix_len = px.len;
		memcpy(pool->addr[0], px.addr, 16);
		pool->n = 1;
		return;
	}
	for (k = 0; k < (1 << host); k++) {
		memcpy(addr, px.addr, 16);
		for (b = 0; b < host; b++)
			if (k & (1 << b))
				addr[alen - 1 - b / 8] |= (uint8_t)(1u << (b % 8));
		if (!pool_add(p, pool, addr, alen, tok))
			return;
	}
}

static void
rotate_pool(struct parse *p, const char *v)
{
	words_each(p, v, rotate_pool_one);
}

static const struct key rotate_keys[] = {
	[R_MATCH] = { "match", rotate_match, true },
	[R_MODE] = { "mode", rotate_mode, false },
	[R_POOL] = { "pool", rotate_pool, false },
	[R_POLICY] = { "policy", rotate_policy, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(rotate_keys) / sizeof(rotate_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [rotate]");
_Static_assert(1 << CONFIG_POOL_HOST_BITS == CONFIG_POOL_MAX,
    "a prefix that is spelled out fills the pool at most");

static void
rotate_check(struct parse *p)
{
	const struct config_rotate *r = p->rotate;
	const int *seen = p->seen_line;
	int f, useful = 0;

	if (r->mode == CONFIG_PASSTHROUGH) {
		if (seen[R_POOL])
			perr(p, seen[R_POOL], "%s: pool: not with mode = "
			    "passthrough (connections keep their address)", p->ctx);
		if (seen[R_POLICY])
			perr(p, seen[R_POLICY], "%s: policy: not with mode = "
			    "passthrough", p->ctx);
		return;
	}
	if (!seen[R_POOL]) {
		perr(p, p->section_line, "%s: needs pool (the source addresses "
		    "to spread connections over) or mode = passthrough", p->ctx);
		return;
	}
	for (f = 0; f < 2; f++) {
		if (r->pool[f].prefix && r->policy == CONFIG_ROUND_ROBIN)
			perr(p, seen[R_POLICY] ? seen[R_POLICY] : seen[R_POOL],
			    "%s: a pool prefix of more than %d addresses takes "
			    "policy = random (round-robin needs a list)", p->ctx,
			    CONFIG_POOL_MAX);
		if (r->pool[f].n > 0 && match_has_family(&r->match,
		    f ? AF_INET6 : AF_INET))
			useful++;
	}
	if (seen[R_MATCH] && useful == 0 && (r->pool[0].n > 0 || r->pool[1].n > 0))
		perr(p, seen[R_POOL], "%s: pool: no address of the family the "
		    "match is for", p->ctx);
}

/* --- sections --------------------------------------------------------- */

/* A knock with key or derive has no sequence to list. */
static bool
derived_needs_no(const struct parse *p, int key)
{
	return p->section == SECTION_KNOCK && key == K_SEQUENCE &&
	    (p->seen_line[K_KEY] || p->seen_line[K_DERIVE]);
}

static void
section_end(struct parse *p)
{
	int i;

	if (p->section == SECTION_ENGINE || p->section == SECTION_KNOCK ||
	    p->section == SECTION_ACTIVITY || p->section == SECTION_COUNT ||
	    p->section == SECTION_ROTATE)
		for (i = 0; p->keys[i].name != NULL; i++)
			if (p->keys[i].required && !p->seen_line[i] &&
			    !derived_needs_no(p, i))
				perr(p, p->section_line, "%s: missing required "
				    "key '%s'", p->ctx, p->keys[i].name);
	if (p->section == SECTION_KNOCK)
		knock_check(p);
	if (p->section == SECTION_ACTIVITY)
		activity_check(p);
	if (p->section == SECTION_COUNT)
		count_check(p);
	if (p->section == SECTION_ROTATE)
		rotate_check(p);
	hook_clear(&p->scratch_count.exec);
	hook_clear(&p->scratch_activity.start);
	hook_clear(&p->scratch_activity.stop);
	hook_clear(&p->scratch_knock.exec);
	hook_clear(&p->scratch_knock.exec_stop);
	sodium_memzero(p->scratch_knock.key, sizeof(p->scratch_knock.key));
	p->section = SECTION_NONE;
}

static void
engine_begin(struct parse *p, const char *name)
{
	p->section = SECTION_ENGINE;
	p->keys = engine_keys;
	snprintf(p->ctx, sizeof(p->ctx), "engine");
	if (name != NULL)
		perr(p, p->lineno, "[engine] takes no name");
	if (p->engine_line != 0) {
		perr(p, p->lineno, "duplicate section [engine] (first at line "
		    "%d)", p->engine_line);
		engine_defaults(&p->scratch_engine);
		p->engine = &p->scratch_engine;
		return;
	}
	p->engine_line = p->lineno;
	p->engine = &p->cfg->engine;
}

/*
 * NULL, or why NAME cannot become a new trigger: names are unique across
 * every kind, since they name the trigger's nftables objects.
 */
static const char *
trigger_name_problem(struct parse *p, const char *name, char *why)
{
	const char *bad;
	char buf[WHY_MAX];
	int i;

	if ((bad = name_check(name, CONFIG_NAME_MAX, true, buf)) != NULL) {
		snprintf(why, WHY_MAX, "trigger name %s", bad);
		return why;
	}
	for (i = 0; i < p->cfg->nknocks; i++)
		if (strcmp(p->cfg->knocks[i].name, name) == 0) {
			snprintf(why, WHY_MAX, "duplicate trigger name (first "
			    "at line %d)", p->cfg->knocks[i].line);
			return why;
		}
	for (i = 0; i < p->cfg->nactivities; i++)
		if (strcmp(p->cfg->activities[i].name, name) == 0) {
			snprintf(why, WHY_MAX, "duplicate trigger name (first "
			    "at line %d)", p->cfg->activities[i].line);
			return why;
		}
	for (i = 0; i < p->cfg->ncounts; i++)
		if (strcmp(p->cfg->counts[i].name, name) == 0) {
			snprintf(why, WHY_MAX, "duplicate trigger name (first "
			    "at line %d)", p->cfg->counts[i].line);
			return why;
		}
	for (i = 0; i < p->cfg->nrotates; i++)
		if (strcmp(p->cfg->rotates[i].name, name) == 0) {
			snprintf(why, WHY_MAX, "duplicate trigger name (first "
			    "at line %d)", p->cfg->rotates[i].line);
			return why;
		}
	if (p->cfg->nknocks + p->cfg->nactivities + p->cfg->ncounts +
	    p->cfg->nrotates >= CONFIG_TRIGGERS_MAX) {
		snprintf(why, WHY_MAX, "more than %d triggers",
		    CONFIG_TRIGGERS_MAX);
		return why;
	}
	return NULL;
}

static void
knock_begin(struct parse *p, const char *name)
{
	struct config_knock *nk;
	char why[WHY_MAX], sb[SHOW_BUF];
	const char *bad = NULL;

	p->section = SECTION_KNOCK;
	p->keys = knock_keys;
	p->knock = &p->scratch_knock;
	snprintf(p->ctx, sizeof(p->ctx), "knock %s",
	    name ? show(name, sb, sizeof(sb)) : "");
	if (name == NULL) {
		perr(p, p->lineno, "[knock] needs a name: [knock NAME]");
		snprintf(p->ctx, sizeof(p->ctx), "knock");
	} else if ((bad = trigger_name_problem(p, name, why)) != NULL)
		perr(p, p->lineno, "%s: %s", p->ctx, bad);
	else if ((nk = realloc(p->cfg->knocks, (size_t)(p->cfg->nknocks + 1) *
	    sizeof(*nk))) == NULL)
		p->oom = true;
	else {
		p->cfg->knocks = nk;
		p->knock = &nk[p->cfg->nknocks++];
	}
	knock_defaults(p->knock);
	p->knock->line = p->lineno;
	if (name != NULL && bad == NULL)
		snprintf(p->knock->name, sizeof(p->knock->name), "%s", name);
}

static void
activity_begin(struct parse *p, const char *name)
{
	struct config_activity *na;
	char why[WHY_MAX], sb[SHOW_BUF];
	const char *bad = NULL;

	p->section = SECTION_ACTIVITY;
	p->keys = activity_keys;
	p->activity = &p->scratch_activity;
	snprintf(p->ctx, sizeof(p->ctx), "activity %s",
	    name ? show(name, sb, sizeof(sb)) : "");
	if (name == NULL) {
		perr(p, p->lineno, "[activity] needs a name: [activity NAME]");
		snprintf(p->ctx, sizeof(p->ctx), "activity");
	} else if ((bad = trigger_name_problem(p, name, why)) != NULL)
		perr(p, p->lineno, "%s: %s", p->ctx, bad);
	else if ((na = realloc(p->cfg->activities,
	    (size_t)(p->cfg->nactivities + 1) * sizeof(*na))) == NULL)
		p->oom = true;
	else {
		p->cfg->activities = na;
		p->activity = &na[p->cfg->nactivities++];
	}
	activity_defaults(p->activity);
	p->activity->line = p->lineno;
	if (name != NULL && bad == NULL)
		snprintf(p->activity->name, sizeof(p->activity->name), "%s", name);
}

static void
count_begin(struct parse *p, const char *name)
{
	struct config_count *nc;
	char why[WHY_MAX], sb[SHOW_BUF];
	const char *bad = NULL;

	p->section = SECTION_COUNT;
	p->keys = count_keys;
	p->count = &p->scratch_count;
	snprintf(p->ctx, sizeof(p->ctx), "count %s",
	    name ? show(name, sb, sizeof(sb)) : "");
	if (name == NULL) {
		perr(p, p->lineno, "[count] needs a name: [count NAME]");
		snprintf(p->ctx, sizeof(p->ctx), "count");
	} else if ((bad = trigger_name_problem(p, name, why)) != NULL)
		perr(p, p->lineno, "%s: %s", p->ctx, bad);
	else if ((nc = realloc(p->cfg->counts, (size_t)(p->cfg->ncounts + 1) *
	    sizeof(*nc))) == NULL)
		p->oom = true;
	else {
		p->cfg->counts = nc;
		p->count = &nc[p->cfg->ncounts++];
	}
	count_defaults(p->count);
	p->count->line = p->lineno;
	if (name != NULL && bad == NULL)
		snprintf(p->count->name, sizeof(p->count->name), "%s", name);
}

static void
rotate_begin(struct parse *p, const char *name)
{
	struct config_rotate *nr;
	char why[WHY_MAX], sb[SHOW_BUF];
	const char *bad = NULL;

	p->section = SECTION_ROTATE;
	p->keys = rotate_keys;
	p->rotate = &p->scratch_rotate;
	snprintf(p->ctx, sizeof(p->ctx), "rotate %s",
	    name ? show(name, sb, sizeof(sb)) : "");
	if (name == NULL) {
		perr(p, p->lineno, "[rotate] needs a name: [rotate NAME]");
		snprintf(p->ctx, sizeof(p->ctx), "rotate");
	} else if ((bad = trigger_name_problem(p, name, why)) != NULL)
		perr(p, p->lineno, "%s: %s", p->ctx, bad);
	else if ((nr = realloc(p->cfg->rotates, (size_t)(p->cfg->nrotates + 1) *
	    sizeof(*nr))) == NULL)
		p->oom = true;
	else {
		p->cfg->rotates = nr;
		p->rotate = &nr[p->cfg->nrotates++];
	}
	rotate_defaults(p->rotate);
	p->rotate->line = p->lineno;
	if (name != NULL && bad == NULL)
		snprintf(p->rotate->name, sizeof(p->rotate->name), "%s", name);
}

/* Splits the inside of [...] into at most three blank-separated words. */
static int
header_words(char *in, char *w[3])
{
	int n = 0;

	for (;;) {
		while (is_blank(*in))
			*in++ = '\0';
		if (*in == '\0' || n == 3)
			return n + (*in != '\0');
		w[n++] = in;
		while (*in != '\0' && !is_blank(*in))
			in++;
	}
}

/* line is trimmed and starts with '['. */
static void
section_begin(struct parse *p, const char *line)
{
	char inside[CONFIG_LINE_MAX + 1], sb[SHOW_BUF], *w[3];
	const char *close = strchr(line, ']'), *rest;
	int n;

	section_end(p);
	memset(p->seen_line, 0, sizeof(p->seen_line));
	p->section = SECTION_SKIP;
	p->section_line = p->lineno;
	if (close == NULL) {
		perr(p, p->lineno, "section header without ']'");
		return;
	}
	for (rest = close + 1; is_blank(*rest); rest++)
		;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		perr(p, p->lineno, "text after the section header: '%s'",
		    show(rest, sb, sizeof(sb)));
		return;
	}
	snprintf(inside, sizeof(inside), "%.*s", (int)(close - line - 1),
	    line + 1);
	n = header_words(inside, w);
	if (n == 0)
		perr(p, p->lineno, "empty section header");
	else if (n > 2)
		perr(p, p->lineno, "section header '%s' has more than a type "
		    "and a name", show(line, sb, sizeof(sb)));
	else if (strcmp(w[0], "engine") == 0)
		engine_begin(p, n == 2 ? w[1] : NULL);
	else if (strcmp(w[0], "knock") == 0)
		knock_begin(p, n == 2 ? w[1] : NULL);
	else if (strcmp(w[0], "activity") == 0)
		activity_begin(p, n == 2 ? w[1] : NULL);
	else if (strcmp(w[0], "count") == 0)
		count_begin(p, n == 2 ? w[1] : NULL);
	else if (strcmp(w[0], "rotate") == 0)
		rotate_begin(p, n == 2 ? w[1] : NULL);
	else
		perr(p, p->lineno, "unknown section '%s': expected [engine], "
		    "[knock NAME], [activity NAME], [count NAME] or [rotate NAME]",
		    show(line, sb, sizeof(sb)));
}

/* --- inih's reader and handler ---------------------------------------- */

static void
key_apply(struct parse *p, const char *name, const char *value)
{
	char sb[SHOW_BUF];
	int i;

	if (*name == '\0') {
		perr(p, p->lineno, "no key name before '='");
		return;
	}
	for (i = 0; p->keys[i].name != NULL; i++)
		if (strcmp(p->keys[i].name, name) == 0)
			break;
	if (p->keys[i].name == NULL) {
		perr(p, p->lineno, "%s: unknown key '%s'", p->ctx,
		    show(name, sb, sizeof(sb)));
		return;
	}
	if (p->seen_line[i] != 0) {
		perr(p, p->lineno, "%s: duplicate key '%s' (first at line %d)",
		    p->ctx, name, p->seen_line[i]);
		return;
	}
	p->seen_line[i] = p->lineno;
	p->key = p->keys[i].name;
	if (*value == '\0')
		verr(p, "no value");
	else
		p->keys[i].set(p, value);
}

static int
ini_handler_cb(void *user, const char *section, const char *name,
    const char *value)
{
	struct parse *p = user;
	size_t n = strlen(name);
	const char *sep = p->raw;
	char sb[SHOW_BUF];

	(void)section;		/* ours, from the reader: see section_begin() */
	p->handled = true;
	if (strncmp(p->raw, name, n) == 0)
		for (sep = p->raw + n; is_blank(*sep); sep++)
			;
	/* inih also splits "key: value"; here ':' belongs to values. */
	if (*sep != '=') {
		perr(p, p->lineno, "expected 'key = value', got '%s'",
		    show(p->raw, sb, sizeof(sb)));
		return 1;
	}
	if (p->section == SECTION_NONE)
		perr(p, p->lineno, "'%s' outside any section: put it under "
		    "[engine] or [knock NAME]", show(name, sb, sizeof(sb)));
	else if (p->section != SECTION_SKIP)
		key_apply(p, name, value);
	return 1;
}

/* The previous line went to inih as a key line, and inih refused it. */
static void
line_done(struct parse *p)
{
	char sb[SHOW_BUF];

	if (p->keyline && !p->handled)
		perr(p, p->lineno, "expected 'key = value' or '[section]', got "
		    "'%s'", show(p->raw, sb, sizeof(sb)));
	p->keyline = false;
}

static bool
line_chars_ok(struct parse *p, const char *line, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (line[i] == '\t' || ((unsigned char)line[i] >= 0x20 &&
		    line[i] != 0x7f))
			continue;
		perr(p, p->lineno, "control character 0x%02x in column %zu",
		    (unsigned char)line[i], i + 1);
		return false;
	}
	return true;
}

/*
 * One physical line into str for inih: trimmed key lines as they are, a
 * blank line for everything else (comments, headers, refused lines), so
 * inih and we count the same lines.
 */
static void
line_take(struct parse *p, const char *line, size_t n, size_t room, char *str)
{
	size_t limit = room < CONFIG_LINE_MAX ? room : CONFIG_LINE_MAX;

	strcpy(str, "\n");
	p->handled = false;
	if (n > limit) {
		perr(p, p->lineno, "line is %zu bytes long, at most %zu are "
		    "allowed", n, limit);
		return;
	}
	if (!line_chars_ok(p, line, n))
		return;
	if (p->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	for (; n > 0 && is_blank(*line); n--)
		line++;
	while (n > 0 && is_blank(line[n - 1]))
		n--;
	memcpy(p->raw, line, n);
	p->raw[n] = '\0';
	if (n == 0 || line[0] == ';' || line[0] == '#')
		return;
	if (line[0] == '[') {
		section_begin(p, p->raw);
		return;
	}
	p->keyline = true;
	memcpy(str, p->raw, n);
	str[n] = '\n';
	str[n + 1] = '\0';
}

/* inih's fgets: see the top of the file for why it is ours. */
static char *
ini_read(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *line, *nl;
	size_t n;

	line_done(p);
	if (p->pos >= p->len || num < 3)
		return NULL;
	line = p->text + p->pos;
	nl = memchr(line, '\n', p->len - p->pos);
	n = nl != NULL ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += n + (nl != NULL);
	p->lineno++;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line_take(p, line, n, (size_t)num - 2, str);
	return str;
}

/* --- loading ---------------------------------------------------------- */

static int
parse_init(struct parse *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	if ((p->cfg = calloc(1, sizeof(*p->cfg))) == NULL ||
	    (p->cfg->path = strdup(name)) == NULL) {
		free(p->cfg);
		return -1;
	}
	engine_defaults(&p->cfg->engine);
	return 0;
}

static bool
error_at(const struct parse *p, int line)
{
	int i;

	for (i = 0; i < p->nerrs; i++)
		if (p->errs[i].line == line)
			return true;
	return false;
}

static void
parse_text(struct parse *p, const char *text, size_t len)
{
	int rc;

	p->text = text;
	p->len = len;
	rc = ini_parse_stream(ini_read, p, ini_handler_cb, p);
	section_end(p);
	activities_check_engine(p);
	counts_check_engine(p);
	if (rc == -2)
		p->oom = true;
	else if (rc > 0 && !error_at(p, rc))	/* ours should catch all */
		perr(p, rc, "syntax error");
}

static struct config *
parse_finish(struct parse *p, FILE *errs, int *nerrors)
{
	struct config *cfg = p->cfg;
	int i, n = p->nerrors + (p->oom ? 1 : 0);

	errors_print(p, errs);
	for (i = 0; i < p->nerrs; i++)
		free(p->errs[i].msg);
	free(p->errs);
	if (n > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	if (nerrors != NULL)
		*nerrors = n;
	return cfg;
}

/* The file names commands that run as root: only root may change it. */
static void
owner_check(struct parse *p, const struct stat *st)
{
	if (st->st_uid != 0)
		perr(p, 0, "owned by uid %u, not root; it names commands that "
		    "run as root", (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		perr(p, 0, "writable by %s (mode %04o); it names commands "
		    "that run as root: chmod go-w %s",
		    (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ?
		    "group and others" : st->st_mode & S_IWGRP ? "group" :
		    "others", (unsigned)(st->st_mode & 07777), p->name);
}

static char *
fd_read(struct parse *p, int fd, size_t size, size_t *lenp)
{
	char *buf;
	size_t len = 0;
	ssize_t r;

	if ((buf = malloc(size + 1)) == NULL) {
		p->oom = true;
		return NULL;
	}
	while (len < size) {
		r = read(fd, buf + len, size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			perr(p, 0, "read: %s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static char *
file_read(struct parse *p, bool check_owner, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	int fd;

	/* O_NONBLOCK: a FIFO in the config's place must not hang us. */
	if ((fd = open(p->name, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		perr(p, 0, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		perr(p, 0, "fstat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		perr(p, 0, "not a regular file");
	else if (st.st_size > CONFIG_FILE_MAX)
		perr(p, 0, "larger than %d bytes", CONFIG_FILE_MAX);
	else {
		if (check_owner)
			owner_check(p, &st);
		buf = fd_read(p, fd, (size_t)st.st_size, lenp);
	}
	close(fd);
	return buf;
}

/* A NUL byte ends a C string; in the file it would hide the rest. */
static void
nul_check(struct parse *p, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len), *s;
	int line = 1;

	if (nul == NULL)
		return;
	for (s = text; s < nul; s++)
		line += *s == '\n';
	perr(p, line, "NUL byte in the file");
}

struct config *
config_load(const char *path, bool check_owner, FILE *errs, int *nerrors)
{
	struct parse p;
	char *text;
	size_t len = 0;

	if (parse_init(&p, path) == -1) {
		if (errs != NULL)
			fprintf(errs, "%s: out of memory\n", path);
		if (nerrors != NULL)
			*nerrors = 1;
		return NULL;
	}
	p.check_owner = check_owner;
	if ((text = file_read(&p, check_owner, &len)) != NULL) {
		nul_check(&p, text, len);
		parse_text(&p, text, strnlen(text, len));
	}
	free(text);
	return parse_finish(&p, errs, nerrors);
}

struct config *
config_load_string(const char *name, const char *text, FILE *errs,
    int *nerrors)
{
	struct parse p;

	if (name == NULL)
		name = "(string)";
	if (parse_init(&p, name) == -1) {
		if (errs != NULL)
			fprintf(errs, "%s: out of memory\n", name);
		if (nerrors != NULL)
			*nerrors = 1;
		return NULL;
	}
	parse_text(&p, text != NULL ? text : "", text != NULL ? strlen(text) : 0);
	return parse_finish(&p, errs, nerrors);
}

void
config_free(struct config *cfg)
{
	int i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nknocks; i++) {
		hook_clear(&cfg->knocks[i].exec);
		hook_clear(&cfg->knocks[i].exec_stop);
		sodium_memzero(cfg->knocks[i].key, sizeof(cfg->knocks[i].key));
	}
	free(cfg->knocks);
	for (i = 0; i < cfg->nactivities; i++) {
		hook_clear(&cfg->activities[i].start);
		hook_clear(&cfg->activities[i].stop);
	}
	free(cfg->activities);
	for (i = 0; i < cfg->ncounts; i++)
		hook_clear(&cfg->counts[i].exec);
	free(cfg->counts);
	free(cfg->rotates);
	free(cfg->path);
	free(cfg);
}

/* --- printing --------------------------------------------------------- */

/* A word as argv_split() would read it back. */
static void
word_print(const char *w, FILE *out)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%+,-./:=@_";

	if (*w != '\0' && w[strspn(w, plain)] == '\0') {
		fputs(w, out);
		return;
	}
	fputc('\'', out);
	for (; *w != '\0'; w++) {
		if (*w == '\'')
			fputs("'\\''", out);
		else
			fputc(*w, out);
	}
	fputc('\'', out);
}

static void
hook_print(const char *key, const struct config_hook *h, FILE *out)
{
	int i;

	if (h->argv == NULL)
		return;
	fprintf(out, "  %-15s", key);
	for (i = 0; i < h->argc; i++) {
		fputc(' ', out);
		word_print(h->argv[i], out);
	}
	fputc('\n', out);
}

static void
engine_print(const struct config_engine *e, FILE *out)
{
	char d[32];

	fprintf(out, "engine\n");
	if (e->queue_first == e->queue_last)
		fprintf(out, "  %-15s %u\n", "queue", e->queue_first);
	else
		fprintf(out, "  %-15s %u-%u\n", "queue", e->queue_first,
		    e->queue_last);
	if (e->nflog_group < 0)
		fprintf(out, "  %-15s none\n", "nflog_group");
	else
		fprintf(out, "  %-15s %d\n", "nflog_group", e->nflog_group);
	fprintf(out, "  %-15s %s\n", "fail_open", e->fail_open ? "yes" : "no");
	fprintf(out, "  %-15s %s\n", "queue_bypass",
	    e->queue_bypass ? "yes" : "no");
	fprintf(out, "  %-15s %u\n", "queue_maxlen", e->queue_maxlen);
	fprintf(out, "  %-15s %u\n", "copy_range", e->copy_range);
	fprintf(out, "  %-15s %s\n", "table", e->table);
	fprintf(out, "  %-15s %s\n", "manage_rules",
	    e->manage_rules ? "yes" : "no");
	fprintf(out, "  %-15s %u\n", "max_sources", e->max_sources);
	fprintf(out, "  %-15s %s\n", "hook_timeout",
	    config_duration_str(e->hook_timeout_ms, d, sizeof(d)));
}

static void
knock_print(const struct config_knock *k, FILE *out)
{
	char buf[32];
	int i;

	fprintf(out, "knock %s:", k->name);
	if (k->derive != CONFIG_DERIVE_NONE)
		fprintf(out, " %d frames in %s:%u-%u derived from the %s",
		    k->nframes, k->ports.proto == IPPROTO_TCP ? "tcp" : "udp",
		    k->ports.lo, k->ports.hi, k->derive == CONFIG_DERIVE_TIME ?
		    "time" : "counter");
	for (i = 0; k->derive == CONFIG_DERIVE_NONE && i < k->nframes; i++)
		fprintf(out, "%s%s", i ? " -> " : " ",
		    config_frame_str(&k->frames[i], buf, sizeof(buf)));
	fprintf(out, " within %s opens",
	    config_duration_str(k->window_ms, buf, sizeof(buf)));
	for (i = 0; i < k->nopen; i++)
		fprintf(out, " %s:%u", k->open[i].proto == IPPROTO_TCP ?
		    "tcp" : "udp", k->open[i].port);
	fprintf(out, " for %s\n",
	    config_duration_str(k->allow_timeout_ms, buf, sizeof(buf)));
	if (k->derive != CONFIG_DERIVE_NONE)
		fprintf(out, "  %-15s %s\n", "key", k->key_path);
	if (k->derive == CONFIG_DERIVE_TIME)
		fprintf(out, "  %-15s %s\n", "step",
		    config_duration_str(k->step_ms, buf, sizeof(buf)));
	if (k->derive == CONFIG_DERIVE_COUNTER)
		fprintf(out, "  %-15s %u\n  %-15s %s\n", "lookahead",
		    k->lookahead, "state", k->state_path);
	fprintf(out, "  %-15s %s\n", "reset_on_wrong",
	    k->reset_on_wrong ? "yes" : "no");
	hook_print("exec", &k->exec, out);
	hook_print("exec_stop", &k->exec_stop, out);
	if (k->exec_stop.argv != NULL)
		fprintf(out, "  %-15s %s\n", "exec_stop_delay",
		    config_duration_str(k->exec_stop_delay_ms, buf, sizeof(buf)));
}

static void
activity_print(const struct config_activity *a, FILE *out)
{
	char buf[32], m[512];

	fprintf(out, "activity %s: %s through %s, stop after %s idle\n", a->name,
	    match_str(&a->match, m, sizeof(m)),
	    a->source == CONFIG_SOURCE_QUEUE ? "the queue" : "the nflog group",
	    config_duration_str(a->ttl_ms, buf, sizeof(buf)));
	hook_print("start", &a->start, out);
	hook_print("stop", &a->stop, out);
	if (a->source == CONFIG_SOURCE_QUEUE) {
		fprintf(out, "  %-15s %u\n", "hold_packets", a->hold_packets);
		fprintf(out, "  %-15s %u\n", "hold_bytes", a->hold_bytes);
		fprintf(out, "  %-15s %s\n", "start_failure",
		    a->start_failure_accept ? "accept" : "drop");
	}
	fprintf(out, "  %-15s %s\n", "retry_after",
	    config_duration_str(a->retry_after_ms, buf, sizeof(buf)));
}

static void
count_print(const struct config_count *c, FILE *out)
{
	char buf[32], m[512], a[INET6_ADDRSTRLEN];
	int i;

	fprintf(out, "count %s: %s: ", c->name, match_str(&c->match, m, sizeof(m)));
	if (c->kind == CONFIG_COUNT_EVERY)
		fprintf(out, "exec every %u packets, through the %s\n", c->every,
		    c->source == CONFIG_SOURCE_QUEUE ? "queue" : "nflog group");
	else
		fprintf(out, "a source over %u packets per %s is blocked for %s, "
		    "counted by the %s\n", c->threshold,
		    config_duration_str(c->period_ms, buf, sizeof(buf)),
		    config_duration_str(c->block_timeout_ms, m, sizeof(m)),
		    c->path == CONFIG_PATH_KERNEL ? "kernel" : "engine");
	if (c->nallow > 0)
		fprintf(out, "  %-15s", "allow");
	for (i = 0; i < c->nallow; i++)
		fprintf(out, " %s/%u%s", inet_ntop(c->allow[i].family,
		    c->allow[i].p.addr, a, sizeof(a)), c->allow[i].p.len,
		    i == c->nallow - 1 ? "\n" : "");
	hook_print("exec", &c->exec, out);
}

static void
rotate_print(const struct config_rotate *r, FILE *out)
{
	char m[512], a[INET6_ADDRSTRLEN];
	const struct config_pool *pool;
	int f, i;

	fprintf(out, "rotate %s: %s: %s\n", r->name,
	    match_str(&r->match, m, sizeof(m)), r->mode == CONFIG_PASSTHROUGH ?
	    "passthrough" : r->policy == CONFIG_RANDOM ? "random" : "round-robin");
	for (f = 0; f < 2; f++) {
		pool = &r->pool[f];
		if (pool->n == 0)
			continue;
		fprintf(out, "  %-15s", f ? "pool (IPv6)" : "pool (IPv4)");
		for (i = 0; i < pool->n; i++)
			fprintf(out, " %s", inet_ntop(f ? AF_INET6 : AF_INET,
			    pool->addr[i], a, sizeof(a)));
		if (pool->prefix)
			fprintf(out, "/%u", pool->prefix_len);
		fputc('\n', out);
	}
}

void
config_print(const struct config *cfg, FILE *out)
{
	int i;

	engine_print(&cfg->engine, out);
	for (i = 0; i < cfg->nknocks; i++)
		knock_print(&cfg->knocks[i], out);
	for (i = 0; i < cfg->nactivities; i++)
		activity_print(&cfg->activities[i], out);
	for (i = 0; i < cfg->ncounts; i++)
		count_print(&cfg->counts[i], out);
	for (i = 0; i < cfg->nrotates; i++)
		rotate_print(&cfg->rotates[i], out);
}
