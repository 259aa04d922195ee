/*
 * [count NAME] sections (docs/count.md): a hook every N packets, or a
 * source over a threshold blocked.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_parse.h"

/* The trigger whose section is being read: in p->cfg or scratch. */
static struct config_count *
count_of(const struct parse *p)
{
	return p->trigger;
}

enum count_key {
	C_MATCH, C_SOURCE, C_EVERY, C_THRESHOLD, C_BLOCK_TIMEOUT, C_ALLOW,
	C_PATH, C_EXEC
};

static void
count_defaults(void *t)
{
	struct config_count *c = t;

	memset(c, 0, sizeof(*c));
	c->source = CONFIG_SOURCE_QUEUE;
	c->every = 1;
	c->block_timeout_ms = 10 * 60 * 1000;	/* fail2ban's bantime */
	c->path = CONFIG_PATH_KERNEL;
}

static void
count_match(struct parse *p, const char *v)
{
	cfg_set_match(p, v, &count_of(p)->match);
}

static void
count_source(struct parse *p, const char *v)
{
	cfg_set_source(p, v, &count_of(p)->source);
}

static void
count_every(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 1, CONFIG_EVERY_MAX, &n))
		count_of(p)->every = (uint32_t)n;
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

	cfg_show(v, sb, sizeof(sb));
	for (len = slash != NULL ? (size_t)(slash - v) : 0; len > 0 &&
	    cfg_is_blank(v[len - 1]); len--)
		;
	if (slash == NULL || len == 0 || len >= sizeof(num)) {
		cfg_verr(p, "'%s' is not PACKETS/PERIOD, as in 10/60s or 10/minute", sb);
		return;
	}
	snprintf(num, sizeof(num), "%.*s", (int)len, v);
	for (per = slash + 1; cfg_is_blank(*per); per++)
		;
	if (!cfg_u64_parse(num, len, &n) || n < 1 || n > CONFIG_THRESHOLD_MAX) {
		cfg_verr(p, "'%s': the packets are not a number from 1 to %u", sb,
		    CONFIG_THRESHOLD_MAX);
		return;
	}
	for (i = 0; rate_units[i].name != NULL; i++)
		if (strcmp(per, rate_units[i].name) == 0)
			ms = rate_units[i].ms;
	if (ms == 0 && cfg_duration_parse(per, &ms) != NULL) {
		cfg_verr(p, "'%s': the period is not a duration (60s, 1h) or second, "
		    "minute, hour, day, week", sb);
		return;
	}
	if (ms < 1000 || ms % 1000 != 0) {
		cfg_verr(p, "'%s': the period must be whole seconds (nftables counts "
		    "rates per second)", sb);
		return;
	}
	count_of(p)->threshold = (uint32_t)n;
	count_of(p)->period_ms = ms;
}

static void
count_block_timeout(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 1, CONFIG_DURATION_MAX_MS, &count_of(p)->block_timeout_ms);
}

static void
count_allow_one(struct parse *p, const char *tok, int i, void *arg)
{
	struct config_count *c = count_of(p);
	struct config_prefix px = { 0 };
	char why[MATCH_WHY_MAX];
	int family = 0, j;

	(void)arg;
	if (i >= CONFIG_ALLOW_MAX) {
		if (i == CONFIG_ALLOW_MAX)
			cfg_verr(p, "more than %d prefixes", CONFIG_ALLOW_MAX);
		return;
	}
	if (match_prefix_parse(tok, &family, &px.p, why, sizeof(why)) == -1) {
		cfg_verr(p, "%s", why);
		return;
	}
	px.family = (uint8_t)family;
	for (j = 0; j < c->nallow; j++)
		if (c->allow[j].family == px.family &&
		    c->allow[j].p.len == px.p.len &&
		    memcmp(c->allow[j].p.addr, px.p.addr, 16) == 0) {
			cfg_verr(p, "'%s' is listed twice", tok);
			return;
		}
	c->allow[c->nallow++] = px;
}

static void
count_allow(struct parse *p, const char *v)
{
	cfg_words_each(p, v, count_allow_one, NULL);
}

static void
count_path(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "kernel") == 0)
		count_of(p)->path = CONFIG_PATH_KERNEL;
	else if (strcmp(v, "engine") == 0)
		count_of(p)->path = CONFIG_PATH_ENGINE;
	else
		cfg_verr(p, "'%s' is not kernel or engine", cfg_show(v, sb, sizeof(sb)));
}

static void
count_exec(struct parse *p, const char *v)
{
	cfg_set_hook(p, v, &count_of(p)->exec);
}

static void
count_hook_user(struct parse *p, const char *v)
{
	cfg_set_user(p, v, count_of(p)->run_as.user, &count_of(p)->run_as.user_line);
}

static void
count_hook_caps(struct parse *p, const char *v)
{
	cfg_set_caps(p, v, &count_of(p)->run_as);
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
	{ "hook_user", count_hook_user, false },
	{ "hook_caps", count_hook_caps, false },
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
		C_BLOCK_TIMEOUT, C_ALLOW
	};
	struct config_count *c = count_of(p);
	const int *seen = p->seen_line;
	size_t i;

	if (seen[C_EVERY] && seen[C_THRESHOLD]) {
		cfg_perr(p, seen[C_EVERY], "%s: every and threshold are two kinds "
		    "of count trigger: use a section for each", p->ctx);
		return;
	}
	if (seen[C_THRESHOLD]) {
		c->kind = CONFIG_COUNT_THRESHOLD;
		if (seen[C_MATCH] && c->path == CONFIG_PATH_KERNEL &&
		    match_uses_ifs(&c->match, MATCH_OIF))
			cfg_perr(p, seen[C_MATCH], "%s: match: oif: the kernel counts a "
			    "threshold in prerouting, before routing has chosen an "
			    "output interface (path = engine counts after it)",
			    p->ctx);
		if (seen[C_SOURCE])
			cfg_perr(p, seen[C_SOURCE], "%s: source only applies with "
			    "every (a threshold is counted by the kernel, or "
			    "through the queue with path = engine)", p->ctx);
		return;
	}
	c->kind = CONFIG_COUNT_EVERY;
	if (!seen[C_EXEC])
		cfg_perr(p, p->section_line, "%s: needs exec (what to run every N "
		    "packets) or threshold (sources to block)", p->ctx);
	for (i = 0; i < sizeof(threshold_only) / sizeof(threshold_only[0]); i++)
		if (seen[threshold_only[i]])
			cfg_perr(p, seen[threshold_only[i]], "%s: %s only applies "
			    "with threshold", p->ctx,
			    count_keys[threshold_only[i]].name);
}

/* What a count trigger needs from [engine], wherever that section is. */
static void
count_check_engine(struct parse *p)
{
	const struct config_count *c;
	int i;

	for (i = 0; i < p->cfg->ncounts; i++) {
		c = &p->cfg->counts[i];
		if (p->cfg->engine.nflog_group >= 0)
			continue;
		if (c->kind == CONFIG_COUNT_EVERY && c->source == CONFIG_SOURCE_NFLOG)
			cfg_perr(p, c->line, "count %s: source = nflog needs "
			    "nflog_group in [engine]", c->name);
		if (c->kind == CONFIG_COUNT_THRESHOLD &&
		    c->path == CONFIG_PATH_KERNEL && c->exec.argv != NULL)
			cfg_perr(p, c->line, "count %s: exec with a threshold counted "
			    "by the kernel needs nflog_group in [engine] (the "
			    "kernel reports each block through it)", c->name);
	}
}


static void
count_print(const void *t, FILE *out)
{
	const struct config_count *c = t;
	char buf[32], m[512], a[INET6_ADDRSTRLEN];
	int i;

	fprintf(out, "count %s: %s: ", c->name, match_str(&c->match, m, sizeof(m)));
	if (c->kind == CONFIG_COUNT_EVERY)
		fprintf(out, "exec every %u packets, counted by the %s, through "
		    "the %s\n", c->every, c->path == CONFIG_PATH_KERNEL ? "kernel" :
		    "engine", c->source == CONFIG_SOURCE_QUEUE ? "queue" : "nflog group");
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
	cfg_hook_print("exec", &c->exec, out);
	if (c->exec.argv != NULL)
		cfg_run_as_print(&c->run_as, out);
}

static void
count_clear(void *t)
{
	struct config_count *c = t;

	cfg_hook_clear(&c->exec);
}

CFG_KIND_ARRAY(count, struct config_count, counts, ncounts)

const struct cfg_kind cfg_kind_count = {
	.section = "count",
	.keys = count_keys,
	.defaults = count_defaults,
	.check = count_check,
	.check_engine = count_check_engine,
	.print = count_print,
	.clear = count_clear,
	CFG_KIND_FIELDS(count, struct config_count),
};
