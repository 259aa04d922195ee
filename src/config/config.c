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
 *
 * This file is the frame and [engine]; each kind of trigger section is in
 * config_<kind>.c, and config_parse.h holds what they share.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>
#include <sys/capability.h>

#include "core/argv.h"
#include "config/config.h"
#include "config/config_parse.h"
#include "config/config_test.h"
#include "config/config_files.h"

#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes; a bigger config is a mistake */
#define ERRORS_STORED_MAX	1000		/* more are counted, not printed */

struct cfg_error {
	int line;			/* 0: about the file as a whole */
	int seq;			/* keeps one line's messages in order */
	char *msg;
};

/* --- messages --------------------------------------------------------- */

void
cfg_perr(struct parse *p, int line, const char *fmt, ...)
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
void
cfg_verr(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_perr(p, p->lineno, "%s: %s: %s", p->ctx, p->key, msg);
}

/* The user's text made safe for a terminal and short: \xNN, "...". */
const char *
cfg_show(const char *in, char *buf, size_t len)
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

int
cfg_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Digits only (no sign, no blank) that fit in 64 bits; false otherwise. */
bool
cfg_u64_parse(const char *s, size_t n, uint64_t *out)
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

bool
cfg_u16_parse(const char *s, size_t n, uint16_t *out)
{
	uint64_t v;

	if (!cfg_u64_parse(s, n, &v) || v > UINT16_MAX)
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
const char *
cfg_duration_parse(const char *text, uint64_t *ms)
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
	if (!cfg_u64_parse(text, (size_t)(u - text), &n) ||
	    n > CONFIG_DURATION_MAX_MS / duration_units[i].ms)
		return "is too long (at most 3650d)";
	*ms = n * duration_units[i].ms;
	return NULL;
}

int
config_parse_duration(const char *text, uint64_t *ms)
{
	return cfg_duration_parse(text, ms) == NULL ? 0 : -1;
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
bool
cfg_port_parse(const char *s, size_t n, struct config_port *out, char *why)
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
		    cfg_show(tmp, sb, sizeof(sb)));
		return false;
	}
	plen = n - (size_t)(colon + 1 - s);
	if (plen > 5 || !cfg_u16_parse(colon + 1, plen, &out->port) ||
	    out->port == 0) {
		snprintf(tmp, sizeof(tmp), "%.*s", (int)plen, colon + 1);
		snprintf(why, WHY_MAX, "port '%s' is not a number 1-65535",
		    cfg_show(tmp, sb, sizeof(sb)));
		return false;
	}
	return true;
}

int
config_parse_port(const char *text, struct config_port *out)
{
	char why[WHY_MAX];

	return cfg_port_parse(text, strlen(text), out, why) ? 0 : -1;
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

bool
cfg_set_uint(struct parse *p, const char *v, uint64_t min, uint64_t max,
    uint64_t *out)
{
	char sb[SHOW_BUF];

	if (!cfg_u64_parse(v, strlen(v), out) || *out < min || *out > max) {
		cfg_verr(p, "'%s' is not a number from %" PRIu64 " to %" PRIu64,
		    cfg_show(v, sb, sizeof(sb)), min, max);
		return false;
	}
	return true;
}

void
cfg_set_bool(struct parse *p, const char *v, bool *out)
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
	cfg_verr(p, "'%s' is not yes/no, true/false, on/off or 1/0",
	    cfg_show(v, sb, sizeof(sb)));
}

/* A duration in [min, max] milliseconds. */
void
cfg_set_duration(struct parse *p, const char *v, uint64_t min, uint64_t max,
    uint64_t *out)
{
	const char *why;
	char sb[SHOW_BUF], d[32];
	uint64_t ms;

	cfg_show(v, sb, sizeof(sb));
	if ((why = cfg_duration_parse(v, &ms)) != NULL &&
	    v[strspn(v, "0123456789")] == '\0')
		cfg_verr(p, "'%s' needs a unit (ms, s, m, h or d), as in %ss", sb, sb);
	else if (why != NULL)
		cfg_verr(p, "'%s' %s", sb, why);
	else if (ms < min)
		cfg_verr(p, "must be longer than 0");
	else if (ms > max)
		cfg_verr(p, "'%s' is too long (at most %s)", sb,
		    config_duration_str(max, d, sizeof(d)));
	else
		*out = ms;
}

void
cfg_set_hook(struct parse *p, const char *v, struct config_hook *h)
{
	const char *why;
	char sb[SHOW_BUF];
	char **argv;
	int argc;

	if (argv_split(v, &argv, &argc, &why) == -1) {
		if (errno == ENOMEM)
			p->oom = true;
		cfg_verr(p, "%s", why);
		return;
	}
	if (argc == 0 || argv[0][0] != '/') {
		if (argc == 0)
			cfg_verr(p, "no command");
		else
			cfg_verr(p, "'%s' is not an absolute path (hooks run "
			    "without a shell or PATH)", cfg_show(argv[0], sb,
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
	h->lineno = p->lineno;
}

/* A user name as useradd(8) takes it; whether it exists is checked later. */
void
cfg_set_user(struct parse *p, const char *v, char *out, int *line)
{
	char sb[SHOW_BUF];
	size_t i, n = strlen(v);
	bool ok = n > 0 && n <= CONFIG_USER_MAX && v[0] != '-';

	for (i = 0; ok && i < n; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-' ||
		    v[i] == '.';
	if (!ok) {
		cfg_verr(p, "'%s' is not a user name", cfg_show(v, sb, sizeof(sb)));
		return;
	}
	snprintf(out, CONFIG_USER_MAX + 1, "%s", v);
	*line = p->lineno;
}

static void
cfg_cap_word(struct parse *p, const char *w, int i, void *arg)
{
	struct config_run_as *ra = arg;
	char name[64], sb[SHOW_BUF];
	cap_value_t cap;

	(void)i;
	if (strcmp(w, "none") == 0)
		return;
	snprintf(name, sizeof(name), "%s%s", strncmp(w, "cap_", 4) == 0 ? "" : "cap_", w);
	if (cap_from_name(name, &cap) != 0 || cap < 0 || cap > 63) {
		cfg_verr(p, "'%s' is not a capability (net_admin, net_raw, ...: "
		    "capabilities(7))", cfg_show(w, sb, sizeof(sb)));
		return;
	}
	ra->caps |= 1ULL << cap;
}

/* hook_caps = net_admin net_raw: capabilities(7) names, cap_ optional. */
void
cfg_set_caps(struct parse *p, const char *v, struct config_run_as *ra)
{
	ra->caps = 0;
	cfg_words_each(p, v, cfg_cap_word, ra);
	ra->caps_line = p->lineno;
}

const char *
config_engine_user(const struct config_engine *e)
{
	return e->user[0] != '\0' ? e->user : CONFIG_ENGINE_USER;
}

const char *
config_run_as_user(const struct config_run_as *ra)
{
	return ra->user[0] != '\0' ? ra->user : "root";
}

static const struct config_hook *
find_knock_hook(const struct config *cfg, const char *trigger, bool stop,
    const struct config_run_as **ra)
{
	int i;

	for (i = 0; i < cfg->nknocks; i++)
		if (strcmp(cfg->knocks[i].name, trigger) == 0) {
			*ra = &cfg->knocks[i].run_as;
			return stop ? &cfg->knocks[i].exec_stop : &cfg->knocks[i].exec;
		}
	return NULL;
}

static const struct config_hook *
find_activity_hook(const struct config *cfg, const char *trigger, bool stop,
    const struct config_run_as **ra)
{
	int i;

	for (i = 0; i < cfg->nactivities; i++)
		if (strcmp(cfg->activities[i].name, trigger) == 0) {
			*ra = &cfg->activities[i].run_as;
			return stop ? &cfg->activities[i].stop : &cfg->activities[i].start;
		}
	return NULL;
}

static const struct config_hook *
find_count_hook(const struct config *cfg, const char *trigger,
    const struct config_run_as **ra)
{
	int i;

	for (i = 0; i < cfg->ncounts; i++)
		if (strcmp(cfg->counts[i].name, trigger) == 0) {
			*ra = &cfg->counts[i].run_as;
			return &cfg->counts[i].exec;
		}
	return NULL;
}

const struct config_hook *
config_find_hook(const struct config *cfg, const char *trigger, const char *event,
    const struct config_run_as **ra)
{
	const struct config_hook *h = NULL;

	if (strcmp(event, "open") == 0 || strcmp(event, "close") == 0)
		h = find_knock_hook(cfg, trigger, event[0] == 'c', ra);
	else if (strcmp(event, "start") == 0 || strcmp(event, "stop") == 0)
		h = find_activity_hook(cfg, trigger, strcmp(event, "stop") == 0, ra);
	else if (strcmp(event, "count") == 0)
		h = find_count_hook(cfg, trigger, ra);
	return h != NULL && h->argv != NULL ? h : NULL;
}

uint64_t
config_hook_caps(const struct config *cfg)
{
	uint64_t caps = 0;
	int i;

	for (i = 0; i < cfg->nknocks; i++)
		caps |= cfg->knocks[i].run_as.caps;
	for (i = 0; i < cfg->nactivities; i++)
		caps |= cfg->activities[i].run_as.caps;
	for (i = 0; i < cfg->ncounts; i++)
		caps |= cfg->counts[i].run_as.caps;
	return caps;
}

/* A match in nft's syntax: match.h. */
void
cfg_set_match(struct parse *p, const char *v, struct match *out)
{
	char why[MATCH_WHY_MAX];

	if (match_parse(v, out, why, sizeof(why)) == -1)
		cfg_verr(p, "%s", why);
}

/* How packets reach the engine: the queue, or the nflog group. */
void
cfg_set_source(struct parse *p, const char *v, enum config_source *out)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "queue") == 0)
		*out = CONFIG_SOURCE_QUEUE;
	else if (strcmp(v, "nflog") == 0)
		*out = CONFIG_SOURCE_NFLOG;
	else
		cfg_verr(p, "'%s' is not queue or nflog", cfg_show(v, sb, sizeof(sb)));
}

void
cfg_hook_clear(struct config_hook *h)
{
	argv_free(h->argv);
	free(h->line);
	memset(h, 0, sizeof(*h));
}

int
cfg_words_each(struct parse *p, const char *v, cfg_word_fn *fn, void *arg)
{
	char tok[CONFIG_LINE_MAX + 1];
	size_t n;
	int count = 0;

	for (;;) {
		while (cfg_is_blank(*v))
			v++;
		if (*v == '\0')
			return count;
		for (n = 0; v[n] != '\0' && !cfg_is_blank(v[n]); n++)
			;
		if (n >= sizeof(tok))
			n = sizeof(tok) - 1;	/* inih's line is shorter */
		memcpy(tok, v, n);
		tok[n] = '\0';
		fn(p, tok, count++, arg);
		v += n;
		while (*v != '\0' && !cfg_is_blank(*v))
			v++;
	}
}

void
cfg_words_list(struct parse *p, const char *v, cfg_word_fn *fn, void *arg, int max,
    const char *what, int *n)
{
	int count = cfg_words_each(p, v, fn, arg);

	if (count == 0)
		cfg_verr(p, "no %s", what);
	else if (count > max)
		cfg_verr(p, "%d %s, at most %d", count, what, max);
	else
		*n = count;
}

/* An absolute path for key and state: the daemon's directory is "/". */
bool
cfg_set_path(struct parse *p, const char *v, char *out)
{
	char sb[SHOW_BUF];

	if (v[0] != '/') {
		cfg_verr(p, "'%s' is not an absolute path", cfg_show(v, sb, sizeof(sb)));
		return false;
	}
	snprintf(out, CONFIG_PATH_MAX, "%s", v);
	return true;
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
	snprintf(e->pidfile, sizeof(e->pidfile), "%s", CONFIG_PIDFILE_DEFAULT);
	snprintf(e->control, sizeof(e->control), "%s", CONFIG_CONTROL_DEFAULT);
}

static void
engine_queue(struct parse *p, const char *v)
{
	const char *dash = strchr(v, '-');
	char sb[SHOW_BUF];
	uint16_t a = 0, b = 0;

	if (dash == NULL ? !cfg_u16_parse(v, strlen(v), &a) :
	    !cfg_u16_parse(v, (size_t)(dash - v), &a) ||
	    !cfg_u16_parse(dash + 1, strlen(dash + 1), &b)) {
		cfg_verr(p, "'%s' is not a queue number 0-65535 or a range such "
		    "as 0-3", cfg_show(v, sb, sizeof(sb)));
		return;
	}
	if (dash == NULL)
		b = a;
	if (a > b) {
		cfg_verr(p, "'%s' goes backwards", cfg_show(v, sb, sizeof(sb)));
		return;
	}
	/*
	 * What start-up would refuse: the engine binds each queue, and the
	 * kernel counts a range in 16 bits (65536 queues are 0: EINVAL).
	 */
	if ((unsigned)b - a + 1 > CONFIG_QUEUES_MAX) {
		cfg_verr(p, "'%s' is %u queues, at most %d", cfg_show(v, sb,
		    sizeof(sb)), (unsigned)b - a + 1, CONFIG_QUEUES_MAX);
		return;
	}
	p->engine->queue_first = a;
	p->engine->queue_last = b;
}

static void
engine_nflog_group(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 0, UINT16_MAX, &n))
		p->engine->nflog_group = (int)n;
}

static void
engine_fail_open(struct parse *p, const char *v)
{
	cfg_set_bool(p, v, &p->engine->fail_open);
}

static void
engine_queue_bypass(struct parse *p, const char *v)
{
	cfg_set_bool(p, v, &p->engine->queue_bypass);
}

static void
engine_manage_rules(struct parse *p, const char *v)
{
	cfg_set_bool(p, v, &p->engine->manage_rules);
}

static void
engine_queue_maxlen(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 1, UINT32_MAX, &n))
		p->engine->queue_maxlen = (uint32_t)n;
}

static void
engine_copy_range(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, CONFIG_COPY_RANGE_MIN, CONFIG_COPY_RANGE_MAX, &n))
		p->engine->copy_range = (uint32_t)n;
}

static void
engine_max_sources(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, CONFIG_MAX_SOURCES_MIN, CONFIG_MAX_SOURCES_MAX, &n))
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
		cfg_verr(p, "'%s' %s", cfg_show(v, sb, sizeof(sb)), why);
	else
		snprintf(p->engine->table, sizeof(p->engine->table), "%s", v);
}

static void
engine_hook_timeout(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 1, CONFIG_HOOK_TIMEOUT_MAX_MS,
	    &p->engine->hook_timeout_ms);
}

static void
engine_pidfile(struct parse *p, const char *v)
{
	if (strcmp(v, "none") == 0)
		p->engine->pidfile[0] = '\0';
	else
		cfg_set_path(p, v, p->engine->pidfile);
}

static void
engine_control(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "none") == 0) {
		p->engine->control[0] = '\0';
		return;
	}
	if (strlen(v) > CONFIG_SOCKET_PATH_MAX) {
		cfg_verr(p, "'%s' is longer than a socket path can be (%d bytes)",
		    cfg_show(v, sb, sizeof(sb)), CONFIG_SOCKET_PATH_MAX);
		return;
	}
	if (v[0] != '/') {
		cfg_verr(p, "'%s' is not an absolute path", cfg_show(v, sb, sizeof(sb)));
		return;
	}
	snprintf(p->engine->control, sizeof(p->engine->control), "%s", v);
}

/* "127.0.0.1:9100" or "[::1]:9100": a local address, never a wildcard by accident. */
static void
engine_metrics_listen(struct parse *p, const char *v)
{
	char host[INET6_ADDRSTRLEN + 2], sb[SHOW_BUF];
	const char *colon = strrchr(v, ':');
	struct config_engine *e = p->engine;
	size_t hlen;
	uint64_t port;
	char *end;

	if (strcmp(v, "none") == 0) {
		e->metrics_family = 0;
		return;
	}
	if (colon == NULL || (hlen = (size_t)(colon - v)) == 0 ||
	    hlen >= sizeof(host))
		goto bad;
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoull(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    port == 0 || port > 65535)
		goto bad;
	if (host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, e->metrics_addr) != 1)
			goto bad;
		e->metrics_family = AF_INET6;
	} else if (inet_pton(AF_INET, host, e->metrics_addr) == 1)
		e->metrics_family = AF_INET;
	else
		goto bad;
	e->metrics_port = (uint16_t)port;
	return;
bad:
	cfg_verr(p, "'%s' is not ADDRESS:PORT (127.0.0.1:9100, [::1]:9100) "
	    "or none", cfg_show(v, sb, sizeof(sb)));
}

static void
engine_user(struct parse *p, const char *v)
{
	cfg_set_user(p, v, p->engine->user, &p->engine->user_line);
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
	{ "pidfile", engine_pidfile, false },
	{ "control", engine_control, false },
	{ "metrics_listen", engine_metrics_listen, false },
	{ "user", engine_user, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(engine_keys) / sizeof(engine_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [engine]");

/* --- sections --------------------------------------------------------- */

/* The name and line of trigger i of kind k. */
static const char *
trigger_name(const struct cfg_kind *k, const struct config *cfg, int i)
{
	return (const char *)k->at(cfg, i) + k->name_off;
}

static int
trigger_line(const struct cfg_kind *k, const struct config *cfg, int i)
{
	int line;

	memcpy(&line, (const char *)k->at(cfg, i) + k->line_off, sizeof(line));
	return line;
}

/* The trigger being read: its own checks, then a scratch one is dropped. */
static void
trigger_end(struct parse *p)
{
	p->kind->check(p);
	if (p->scratch) {
		p->kind->clear(p->trigger);
		free(p->trigger);
	}
	p->trigger = NULL;
	p->kind = NULL;
}

static void
section_end(struct parse *p)
{
	int i;

	if (p->section == SECTION_ENGINE || p->section == SECTION_TRIGGER)
		for (i = 0; p->keys[i].name != NULL; i++)
			if (p->keys[i].required && !p->seen_line[i] &&
			    (p->kind == NULL || p->kind->key_waived == NULL ||
			    !p->kind->key_waived(p, i)))
				cfg_perr(p, p->section_line, "%s: missing required "
				    "key '%s'", p->ctx, p->keys[i].name);
	if (p->section == SECTION_TRIGGER)
		trigger_end(p);
	p->section = SECTION_NONE;
}

static void
engine_begin(struct parse *p, const char *name)
{
	p->section = SECTION_ENGINE;
	p->keys = engine_keys;
	snprintf(p->ctx, sizeof(p->ctx), "engine");
	if (name != NULL)
		cfg_perr(p, p->lineno, "[engine] takes no name");
	if (p->engine_line != 0) {
		cfg_perr(p, p->lineno, "duplicate section [engine] (first at line "
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
	const struct cfg_kind *k;
	const char *bad;
	char buf[WHY_MAX];
	int i, j, total = 0;

	if ((bad = name_check(name, CONFIG_NAME_MAX, true, buf)) != NULL) {
		snprintf(why, WHY_MAX, "trigger name %s", bad);
		return why;
	}
	for (j = 0; j < cfg_nkinds; j++) {
		k = cfg_kinds[j];
		for (i = 0; i < k->count(p->cfg); i++)
			if (strcmp(trigger_name(k, p->cfg, i), name) == 0) {
				snprintf(why, WHY_MAX, "duplicate trigger name "
				    "(first at line %d)", trigger_line(k, p->cfg, i));
				return why;
			}
		total += k->count(p->cfg);
	}
	if (total >= CONFIG_TRIGGERS_MAX) {
		snprintf(why, WHY_MAX, "more than %d triggers",
		    CONFIG_TRIGGERS_MAX);
		return why;
	}
	return NULL;
}

/*
 * Whether NAME may become a new trigger of its kind (false: reported, or
 * no name; the section's keys are then still checked, into scratch).
 */
static bool
trigger_named(struct parse *p, const char *kind, const char *name)
{
	char why[WHY_MAX], sb[SHOW_BUF];
	const char *bad;

	snprintf(p->ctx, sizeof(p->ctx), "%s %s", kind,
	    name ? cfg_show(name, sb, sizeof(sb)) : "");
	if (name == NULL) {
		cfg_perr(p, p->lineno, "[%s] needs a name: [%s NAME]", kind, kind);
		snprintf(p->ctx, sizeof(p->ctx), "%s", kind);
		return false;
	}
	if ((bad = trigger_name_problem(p, name, why)) != NULL) {
		cfg_perr(p, p->lineno, "%s: %s", p->ctx, bad);
		return false;
	}
	return true;
}

/* Starts [KIND NAME]: a new trigger in p->cfg, or scratch. */
static void
trigger_begin(struct parse *p, const struct cfg_kind *k, const char *name)
{
	bool named;
	void *t = NULL;

	p->section = SECTION_TRIGGER;
	p->kind = k;
	p->keys = k->keys;
	named = trigger_named(p, k->section, name);
	if (named && (t = k->append(p->cfg)) == NULL)
		p->oom = true;
	if ((p->scratch = t == NULL) && (t = malloc(k->size)) == NULL) {
		p->oom = true;
		p->kind = NULL;
		p->section = SECTION_SKIP;
		return;
	}
	k->defaults(t);
	memcpy((char *)t + k->line_off, &p->lineno, sizeof(p->lineno));
	if (named)
		snprintf((char *)t + k->name_off, CONFIG_NAME_MAX + 1, "%s", name);
	p->trigger = t;
}

/* "expected [engine], [knock NAME], ... or [rotate NAME]" */
static void
section_unknown(struct parse *p, const char *line)
{
	char list[256], sb[SHOW_BUF];
	size_t o;
	int i;

	o = (size_t)snprintf(list, sizeof(list), "[engine]");
	for (i = 0; i < cfg_nkinds && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s[%s NAME]",
		    i == cfg_nkinds - 1 ? " or " : ", ", cfg_kinds[i]->section);
	cfg_perr(p, p->lineno, "unknown section '%s': expected %s",
	    cfg_show(line, sb, sizeof(sb)), list);
}

/* Splits the inside of [...] into at most three blank-separated words. */
static int
header_words(char *in, char *w[3])
{
	int n = 0;

	for (;;) {
		while (cfg_is_blank(*in))
			*in++ = '\0';
		if (*in == '\0' || n == 3)
			return n + (*in != '\0');
		w[n++] = in;
		while (*in != '\0' && !cfg_is_blank(*in))
			in++;
	}
}

/* line is trimmed and starts with '['. */
static void
section_begin(struct parse *p, const char *line)
{
	char inside[CONFIG_LINE_MAX + 1], sb[SHOW_BUF], *w[3];
	const char *close = strchr(line, ']'), *rest;
	int n, i;

	section_end(p);
	memset(p->seen_line, 0, sizeof(p->seen_line));
	p->section = SECTION_SKIP;
	p->section_line = p->lineno;
	if (close == NULL) {
		cfg_perr(p, p->lineno, "section header without ']'");
		return;
	}
	for (rest = close + 1; cfg_is_blank(*rest); rest++)
		;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		cfg_perr(p, p->lineno, "text after the section header: '%s'",
		    cfg_show(rest, sb, sizeof(sb)));
		return;
	}
	snprintf(inside, sizeof(inside), "%.*s", (int)(close - line - 1),
	    line + 1);
	n = header_words(inside, w);
	if (n == 0)
		cfg_perr(p, p->lineno, "empty section header");
	else if (n > 2)
		cfg_perr(p, p->lineno, "section header '%s' has more than a type "
		    "and a name", cfg_show(line, sb, sizeof(sb)));
	else if (strcmp(w[0], "engine") == 0)
		engine_begin(p, n == 2 ? w[1] : NULL);
	else {
		for (i = 0; i < cfg_nkinds; i++)
			if (strcmp(w[0], cfg_kinds[i]->section) == 0)
				break;
		if (i < cfg_nkinds)
			trigger_begin(p, cfg_kinds[i], n == 2 ? w[1] : NULL);
		else
			section_unknown(p, line);
	}
}

/* --- inih's reader and handler ---------------------------------------- */

static void
key_apply(struct parse *p, const char *name, const char *value)
{
	char sb[SHOW_BUF];
	int i;

	if (*name == '\0') {
		cfg_perr(p, p->lineno, "no key name before '='");
		return;
	}
	for (i = 0; p->keys[i].name != NULL; i++)
		if (strcmp(p->keys[i].name, name) == 0)
			break;
	if (p->keys[i].name == NULL) {
		cfg_perr(p, p->lineno, "%s: unknown key '%s'", p->ctx,
		    cfg_show(name, sb, sizeof(sb)));
		return;
	}
	if (p->seen_line[i] != 0) {
		cfg_perr(p, p->lineno, "%s: duplicate key '%s' (first at line %d)",
		    p->ctx, name, p->seen_line[i]);
		return;
	}
	p->seen_line[i] = p->lineno;
	p->key = p->keys[i].name;
	if (*value == '\0')
		cfg_verr(p, "no value");
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
		for (sep = p->raw + n; cfg_is_blank(*sep); sep++)
			;
	/* inih also splits "key: value"; here ':' belongs to values. */
	if (*sep != '=') {
		cfg_perr(p, p->lineno, "expected 'key = value', got '%s'",
		    cfg_show(p->raw, sb, sizeof(sb)));
		return 1;
	}
	if (p->section == SECTION_NONE)
		cfg_perr(p, p->lineno, "'%s' outside any section: put it under "
		    "[engine] or [knock NAME]", cfg_show(name, sb, sizeof(sb)));
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
		cfg_perr(p, p->lineno, "expected 'key = value' or '[section]', got "
		    "'%s'", cfg_show(p->raw, sb, sizeof(sb)));
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
		cfg_perr(p, p->lineno, "control character 0x%02x in column %zu",
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
		cfg_perr(p, p->lineno, "line is %zu bytes long, at most %zu are "
		    "allowed", n, limit);
		return;
	}
	if (!line_chars_ok(p, line, n))
		return;
	if (p->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	for (; n > 0 && cfg_is_blank(*line); n--)
		line++;
	while (n > 0 && cfg_is_blank(line[n - 1]))
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
	int rc, i;

	p->text = text;
	p->len = len;
	rc = ini_parse_stream(ini_read, p, ini_handler_cb, p);
	section_end(p);
	for (i = 0; i < cfg_nkinds; i++)
		if (cfg_kinds[i]->check_engine != NULL)
			cfg_kinds[i]->check_engine(p);
	if (rc == -2)
		p->oom = true;
	else if (rc > 0 && !error_at(p, rc))	/* ours should catch all */
		cfg_perr(p, rc, "syntax error");
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
		cfg_perr(p, 0, "owned by uid %u, not root; it names commands that "
		    "run as root", (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		cfg_perr(p, 0, "writable by %s (mode %04o); it names commands "
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
			cfg_perr(p, 0, "read: %s", strerror(errno));
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
	char *buf = NULL, why[512];
	size_t n = strlen(p->name);
	int fd;

	if ((fd = config_file_open(CONFIG_FILE_CONFIG, p->name, check_owner, why,
	    sizeof(why))) == -1) {
		/* Messages about the file already start with its name. */
		cfg_perr(p, 0, "%s", strncmp(why, p->name, n) == 0 &&
		    strncmp(why + n, ": ", 2) == 0 ? why + n + 2 : why);
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		cfg_perr(p, 0, "fstat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		cfg_perr(p, 0, "not a regular file");
	else if (st.st_size > CONFIG_FILE_MAX)
		cfg_perr(p, 0, "larger than %d bytes", CONFIG_FILE_MAX);
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
	cfg_perr(p, line, "NUL byte in the file");
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
	const struct cfg_kind *k;
	int i, j;

	if (cfg == NULL)
		return;
	for (j = 0; j < cfg_nkinds; j++) {
		k = cfg_kinds[j];
		for (i = 0; i < k->count(cfg); i++)
			k->clear(k->at(cfg, i));
		k->release(cfg);
	}
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

void
cfg_hook_print(const char *key, const struct config_hook *h, FILE *out)
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
	char d[32], addr[INET6_ADDRSTRLEN];

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
	fprintf(out, "  %-15s %s\n", "pidfile", e->pidfile[0] ? e->pidfile : "none");
	fprintf(out, "  %-15s %s\n", "control", e->control[0] ? e->control : "none");
	if (e->metrics_family == 0)
		fprintf(out, "  %-15s none\n", "metrics_listen");
	else {
		inet_ntop(e->metrics_family, e->metrics_addr, addr, sizeof(addr));
		fprintf(out, e->metrics_family == AF_INET6 ? "  %-15s [%s]:%u\n" :
		    "  %-15s %s:%u\n", "metrics_listen", addr, e->metrics_port);
	}

	if (e->user_line != 0)
		fprintf(out, "  %-15s %s\n", "user", config_engine_user(e));
}

/* hook_user and hook_caps, when the trigger has hooks. */
void
cfg_run_as_print(const struct config_run_as *ra, FILE *out)
{
	char name[64], *s;
	int cap;

	if (ra->user_line == 0 && ra->caps_line == 0)
		return;
	fprintf(out, "  %-15s %s\n", "hook_user", config_run_as_user(ra));
	fprintf(out, "  %-15s", "hook_caps");
	if (ra->caps == 0)
		fprintf(out, " none");
	for (cap = 0; cap < 64; cap++) {
		if (!(ra->caps & (1ULL << cap)))
			continue;
		s = cap_to_name(cap);
		snprintf(name, sizeof(name), "%s", s != NULL ? s : "?");
		cap_free(s);
		fprintf(out, " %s", strncmp(name, "cap_", 4) == 0 ? name + 4 : name);
	}
	fputc('\n', out);
}

void
config_print(const struct config *cfg, FILE *out)
{
	const struct cfg_kind *k;
	int i, j;

	engine_print(&cfg->engine, out);
	for (j = 0; j < cfg_nkinds; j++) {
		k = cfg_kinds[j];
		for (i = 0; i < k->count(cfg); i++)
			k->print(k->at(cfg, i), out);
	}
}
