/*
 * [activity NAME] sections (docs/activity.md): hooks on traffic
 * appearing and going idle.
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_parse.h"

/* The trigger whose section is being read: in p->cfg or scratch. */
static struct config_activity *
activity_of(const struct parse *p)
{
	return p->trigger;
}

enum activity_key {
	A_MATCH, A_SOURCE, A_TTL, A_START, A_STOP, A_HOLD_PACKETS, A_HOLD_BYTES,
	A_START_FAILURE, A_RETRY_AFTER
};

static void
activity_defaults(void *t)
{
	struct config_activity *a = t;

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
	cfg_set_match(p, v, &activity_of(p)->match);
}

static void
activity_source(struct parse *p, const char *v)
{
	cfg_set_source(p, v, &activity_of(p)->source);
}

static void
activity_ttl(struct parse *p, const char *v)
{
	uint64_t ms = 0;

	cfg_set_duration(p, v, 1, CONFIG_DURATION_MAX_MS, &ms);
	if (ms != 0 && ms < CONFIG_TTL_MIN_MS)
		cfg_verr(p, "must be at least 2s (live flows are sampled once a second)");
	else if (ms != 0)
		activity_of(p)->ttl_ms = ms;
}

static void
activity_start(struct parse *p, const char *v)
{
	cfg_set_hook(p, v, &activity_of(p)->start);
}

static void
activity_stop(struct parse *p, const char *v)
{
	cfg_set_hook(p, v, &activity_of(p)->stop);
}

static void
activity_hold_packets(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 0, CONFIG_HOLD_PACKETS_MAX, &n))
		activity_of(p)->hold_packets = (uint32_t)n;
}

static void
activity_hold_bytes(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, 0, CONFIG_HOLD_BYTES_MAX, &n))
		activity_of(p)->hold_bytes = (uint32_t)n;
}

static void
activity_start_failure(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "accept") == 0)
		activity_of(p)->start_failure_accept = true;
	else if (strcmp(v, "drop") == 0)
		activity_of(p)->start_failure_accept = false;
	else
		cfg_verr(p, "'%s' is not accept or drop", cfg_show(v, sb, sizeof(sb)));
}

static void
activity_retry_after(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 0, CONFIG_DURATION_MAX_MS, &activity_of(p)->retry_after_ms);
}

static void
activity_hook_user(struct parse *p, const char *v)
{
	cfg_set_user(p, v, activity_of(p)->run_as.user, &activity_of(p)->run_as.user_line);
}

static void
activity_hook_caps(struct parse *p, const char *v)
{
	cfg_set_caps(p, v, &activity_of(p)->run_as);
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
	{ "hook_user", activity_hook_user, false },
	{ "hook_caps", activity_hook_caps, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(activity_keys) / sizeof(activity_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [activity]");

/*
 * The section's keys together. It diverts in prerouting (docs/design.md,
 * decision 4: a held packet is routed after start), where no output interface
 * is known yet; and NFLOG packets are never held.
 */
static void
activity_check(struct parse *p)
{
	static const enum activity_key queue_only[] = {
		A_HOLD_PACKETS, A_HOLD_BYTES, A_START_FAILURE
	};
	const struct config_activity *a = activity_of(p);
	size_t i;

	if (p->seen_line[A_MATCH] && match_uses_ifs(&a->match, MATCH_OIF))
		cfg_perr(p, p->seen_line[A_MATCH], "%s: match: oif: an activity "
		    "trigger sees packets in prerouting, before routing has "
		    "chosen an output interface", p->ctx);
	if (a->source != CONFIG_SOURCE_NFLOG)
		return;
	for (i = 0; i < sizeof(queue_only) / sizeof(queue_only[0]); i++)
		if (p->seen_line[queue_only[i]])
			cfg_perr(p, p->seen_line[queue_only[i]], "%s: %s only applies "
			    "with source = queue (NFLOG packets are not held)",
			    p->ctx, activity_keys[queue_only[i]].name);
}

/* What an activity trigger needs from [engine], wherever that section is. */
static void
activity_check_engine(struct parse *p)
{
	const struct config_engine *e = &p->cfg->engine;
	const struct config_activity *a;
	int i;

	for (i = 0; i < p->cfg->nactivities; i++) {
		a = &p->cfg->activities[i];
		if (a->source == CONFIG_SOURCE_NFLOG && e->nflog_group < 0)
			cfg_perr(p, a->line, "activity %s: source = nflog needs "
			    "nflog_group in [engine]", a->name);
		if (a->source == CONFIG_SOURCE_QUEUE &&
		    a->hold_packets >= e->queue_maxlen)
			cfg_perr(p, a->line, "activity %s: hold_packets = %u leaves no "
			    "room in the kernel queue (queue_maxlen = %u)", a->name,
			    a->hold_packets, e->queue_maxlen);
	}
}


static void
activity_print(const void *t, FILE *out)
{
	const struct config_activity *a = t;
	char buf[32], m[512];

	fprintf(out, "activity %s: %s through %s, stop after %s idle\n", a->name,
	    match_str(&a->match, m, sizeof(m)),
	    a->source == CONFIG_SOURCE_QUEUE ? "the queue" : "the nflog group",
	    config_duration_str(a->ttl_ms, buf, sizeof(buf)));
	cfg_hook_print("start", &a->start, out);
	cfg_hook_print("stop", &a->stop, out);
	cfg_run_as_print(&a->run_as, out);
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
activity_clear(void *t)
{
	struct config_activity *a = t;

	cfg_hook_clear(&a->start);
	cfg_hook_clear(&a->stop);
}

CFG_KIND_ARRAY(activity, struct config_activity, activities, nactivities)

const struct cfg_kind cfg_kind_activity = {
	.section = "activity",
	.keys = activity_keys,
	.defaults = activity_defaults,
	.check = activity_check,
	.check_engine = activity_check_engine,
	.print = activity_print,
	.clear = activity_clear,
	CFG_KIND_FIELDS(activity, struct config_activity),
};
