/*
 * The control socket's commands (docs/control.md): each runs in the loop
 * pass (control_run()), so one that needs the kernel (a set dump, a flush
 * whose result it reports) may wait for it.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "builders/plan.h"
#include "config/config.h"
#include "core/trigger_count.h"
#include "core/trigger_knock.h"
#include "engine/control.h"
#include "engine/engine_priv.h"
#include "engine/event.h"
#include "engine/hook.h"
#include "engine/loop.h"
#include "kernel/nft.h"
#include "kernel/nft_list.h"
#include "util/log.h"

enum trigger_kind { KIND_NONE, KIND_KNOCK, KIND_ACTIVITY, KIND_COUNT, KIND_ROTATE };

/* Which kind of trigger name is, and its index in the config's array of it. */
static enum trigger_kind
engine_trigger_kind(const struct config *cfg, const char *name, int *index)
{
	int i;

	for (i = 0; i < cfg->nknocks; i++)
		if (strcmp(cfg->knocks[i].name, name) == 0) {
			*index = i;
			return KIND_KNOCK;
		}
	for (i = 0; i < cfg->nactivities; i++)
		if (strcmp(cfg->activities[i].name, name) == 0) {
			*index = i;
			return KIND_ACTIVITY;
		}
	for (i = 0; i < cfg->ncounts; i++)
		if (strcmp(cfg->counts[i].name, name) == 0) {
			*index = i;
			return KIND_COUNT;
		}
	for (i = 0; i < cfg->nrotates; i++)
		if (strcmp(cfg->rotates[i].name, name) == 0) {
			*index = i;
			return KIND_ROTATE;
		}
	return KIND_NONE;
}

static struct engine_hookstat *
engine_hookstat(struct engine *e, const char *name)
{
	struct engine_hookstat *hs;
	int i;

	for (i = 0; i < e->nhookstats; i++)
		if (strcmp(e->hookstats[i].name, name) == 0)
			return &e->hookstats[i];
	if (e->nhookstats == ENGINE_HOOKSTATS)
		return NULL;	/* names of triggers long gone fill it: stop counting */
	hs = &e->hookstats[e->nhookstats++];
	memset(hs, 0, sizeof(*hs));
	snprintf(hs->name, sizeof(hs->name), "%s", name);
	return hs;
}

static const char *
engine_hook_kind(enum hook_event event)
{
	switch (event) {
	case HOOK_EV_START:
	case HOOK_EV_STOP:
		return "activity";
	case HOOK_EV_OPEN:
	case HOOK_EV_CLOSE:
		return "knock";
	default:
		return "count";
	}
}

static const char *
engine_hook_status_word(enum hook_status status)
{
	switch (status) {
	case HOOK_OK:
		return "ok";
	case HOOK_FAILED:
		return "exit-status";
	case HOOK_SIGNALED:
		return "signal";
	case HOOK_TIMEOUT:
		return "timeout";
	case HOOK_SPAWN_FAILED:
		return "spawn-failed";
	default:
		return "spawner-lost";
	}
}

/* Every hook's outcome: one event line, and its trigger's counts. */
void
engine_hook_observed(void *arg, const char *trigger, enum hook_event event,
    int family, const uint8_t *addr, const struct hook_result *r)
{
	struct engine *e = arg;
	struct engine_hookstat *hs = engine_hookstat(e, trigger);
	enum event_what what;
	char reason[EVENT_WORD_MAX];

	if (r == NULL) {
		/* hook_run() refused it; errno says why. */
		what = EVENT_HOOK_REFUSED;
		snprintf(reason, sizeof(reason), "%s-%s", hook_event_name(event),
		    hook_refusal_reason(errno));
		if (hs != NULL)
			hs->refused++;
	} else if (r->status == HOOK_OK) {
		what = EVENT_HOOK_RAN;
		snprintf(reason, sizeof(reason), "%s", hook_event_name(event));
		if (hs != NULL)
			hs->runs++;
	} else {
		what = EVENT_HOOK_FAILED;
		snprintf(reason, sizeof(reason), "%s-%s", hook_event_name(event),
		    engine_hook_status_word(r->status));
		if (hs != NULL) {
			hs->runs++;
			hs->failures++;
		}
	}
	event_log(e->events, loop_now_ms(), what, engine_hook_kind(event), trigger,
	    family, addr, reason);
}

static bool
engine_parse_addr(const char *text, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

/* Send what the command queued now, so the reply says what the kernel did. */
static bool
engine_flush_now(struct engine *e, struct control_reply *r)
{
	int rc = nft_batch_flush(e->nft);

	if (rc == 0)
		return true;
	control_fail(r, rc < 0 ? "nftables: the batch could not be sent" :
	    "nftables: the kernel refused the element (the log says why)");
	return false;
}

/* --- list ------------------------------------------------------------------ */

struct list_ctx {
	struct control_reply *r;
	const char *what;	/* "allowed", "blocked" */
};

static void
engine_list_elem(void *arg, const struct nft_list_elem *el)
{
	struct list_ctx *lc = arg;
	char ip[INET6_ADDRSTRLEN], of[32];

	inet_ntop(el->family, el->addr, ip, sizeof(ip));
	if (el->timeout_ms == 0)
		control_printf(lc->r, "%s %s no-timeout\n", ip, lc->what);
	else
		control_printf(lc->r, "%s %s %.1fs left of %s\n", ip, lc->what,
		    (double)el->expires_ms / 1000.0,
		    config_duration_str(el->timeout_ms, of, sizeof(of)));
}

static void
engine_list_sets(struct engine *e, const char *name, const char *suffix4,
    const char *suffix6, const char *what, struct control_reply *r)
{
	struct list_ctx lc = { .r = r, .what = what };
	char set[NFT_SET_NAME_MAX + 1];

	snprintf(set, sizeof(set), "%s%s", name, suffix4);
	if (nft_list_set(e->cfg->engine.table, set, AF_INET, engine_list_elem, &lc) < 0) {
		control_fail(r, "cannot read set %s of table inet %s: %s", set,
		    e->cfg->engine.table, strerror(errno));
		return;
	}
	snprintf(set, sizeof(set), "%s%s", name, suffix6);
	if (nft_list_set(e->cfg->engine.table, set, AF_INET6, engine_list_elem, &lc) < 0)
		control_fail(r, "cannot read set %s of table inet %s: %s", set,
		    e->cfg->engine.table, strerror(errno));
}

static void
engine_cmd_list(struct engine *e, int argc, char **argv, struct control_reply *r)
{
	enum trigger_kind kind;
	int i;

	if (argc != 2) {
		control_fail(r, "usage: list NAME");
		return;
	}
	kind = engine_trigger_kind(e->cfg, argv[1], &i);
	if (kind == KIND_KNOCK)
		engine_list_sets(e, argv[1], NFT_SET_ALLOW4, NFT_SET_ALLOW6,
		    "allowed", r);
	else if (kind == KIND_COUNT && e->cfg->counts[i].kind == CONFIG_COUNT_THRESHOLD)
		engine_list_sets(e, argv[1], NFT_SET_BLOCK4, NFT_SET_BLOCK6,
		    "blocked", r);
	else if (kind == KIND_NONE)
		control_fail(r, "no trigger named '%s'", argv[1]);
	else
		control_fail(r, "trigger '%s' has no allow or block set", argv[1]);
}

/* --- allow, revoke ---------------------------------------------------------- */

static void
engine_cmd_allow(struct engine *e, int argc, char **argv, struct control_reply *r)
{
	const struct config_knock *k;
	uint64_t timeout;
	uint8_t addr[16];
	char d[32];
	int family, i;

	if (argc < 3 || argc > 4) {
		control_fail(r, "usage: allow NAME ADDR [TIMEOUT]");
		return;
	}
	if (engine_trigger_kind(e->cfg, argv[1], &i) != KIND_KNOCK) {
		control_fail(r, "no knock trigger named '%s'", argv[1]);
		return;
	}
	k = &e->cfg->knocks[i];
	if (!engine_parse_addr(argv[2], &family, addr)) {
		control_fail(r, "'%s' is not an IPv4 or IPv6 address", argv[2]);
		return;
	}
	timeout = k->allow_timeout_ms;
	if (argc == 4 && (config_parse_duration(argv[3], &timeout) < 0 ||
	    timeout == 0 || timeout > CONFIG_DURATION_MAX_MS)) {
		control_fail(r, "'%s' is not a duration such as 30s or 2h", argv[3]);
		return;
	}
	if (nft_allow_add(e->nft, k->name, family, addr, timeout) < 0) {
		control_fail(r, "trigger '%s' has no allow set", k->name);
		return;
	}
	if (!engine_flush_now(e, r))
		return;
	log_info("control: %s allowed by knock %s for %s", argv[2], k->name,
	    config_duration_str(timeout, d, sizeof(d)));
	event_log(e->events, loop_now_ms(), EVENT_OPENED, "knock", k->name, family,
	    addr, "control");
	control_printf(r, "%s allowed by %s for %s\n", argv[2], k->name, d);
}

static void
engine_cmd_revoke(struct engine *e, int argc, char **argv, struct control_reply *r)
{
	enum trigger_kind kind;
	uint8_t addr[16];
	int family, i, rc;

	if (argc != 3) {
		control_fail(r, "usage: revoke NAME ADDR");
		return;
	}
	kind = engine_trigger_kind(e->cfg, argv[1], &i);
	if (!engine_parse_addr(argv[2], &family, addr)) {
		control_fail(r, "'%s' is not an IPv4 or IPv6 address", argv[2]);
		return;
	}
	if (kind == KIND_KNOCK)
		rc = nft_allow_del(e->nft, argv[1], family, addr);
	else if (kind == KIND_COUNT && e->cfg->counts[i].kind == CONFIG_COUNT_THRESHOLD)
		rc = nft_block_del(e->nft, argv[1], family, addr);
	else {
		control_fail(r, kind == KIND_NONE ? "no trigger named '%s'" :
		    "trigger '%s' has no allow or block set", argv[1]);
		return;
	}
	if (rc < 0) {
		control_fail(r, "trigger '%s' has no set in the table", argv[1]);
		return;
	}
	if (!engine_flush_now(e, r))
		return;
	log_info("control: %s revoked from %s %s", argv[2], kind == KIND_KNOCK ?
	    "knock" : "count", argv[1]);
	event_log(e->events, loop_now_ms(), EVENT_CLOSED, kind == KIND_KNOCK ?
	    "knock" : "count", argv[1], family, addr, "revoked");
	control_printf(r, "%s %s by %s\n", argv[2], kind == KIND_KNOCK ?
	    "no longer allowed" : "no longer blocked", argv[1]);
}

/* flush NAME: every address out of the trigger's allow or block set. */
struct flush_ctx {
	struct engine *e;
	const char *name;
	bool block;
	int n;
};

static void
engine_flush_elem(void *arg, const struct nft_list_elem *el)
{
	struct flush_ctx *fc = arg;
	int rc;

	rc = fc->block ? nft_block_del(fc->e->nft, fc->name, el->family, el->addr) :
	    nft_allow_del(fc->e->nft, fc->name, el->family, el->addr);
	if (rc == 0)
		fc->n++;
}

static void
engine_cmd_flush(struct engine *e, int argc, char **argv, struct control_reply *r)
{
	struct flush_ctx fc = { .e = e };
	char set[NFT_SET_NAME_MAX + 1];
	enum trigger_kind kind;
	int i, f;

	if (argc != 2) {
		control_fail(r, "usage: flush NAME");
		return;
	}
	kind = engine_trigger_kind(e->cfg, argv[1], &i);
	if (kind != KIND_KNOCK && (kind != KIND_COUNT ||
	    e->cfg->counts[i].kind != CONFIG_COUNT_THRESHOLD)) {
		control_fail(r, kind == KIND_NONE ? "no trigger named '%s'" :
		    "trigger '%s' has no allow or block set", argv[1]);
		return;
	}
	fc.name = argv[1];
	fc.block = kind == KIND_COUNT;
	for (f = 0; f < 2; f++) {
		snprintf(set, sizeof(set), "%s%s", argv[1], fc.block ?
		    (f ? NFT_SET_BLOCK6 : NFT_SET_BLOCK4) :
		    (f ? NFT_SET_ALLOW6 : NFT_SET_ALLOW4));
		if (nft_list_set(e->cfg->engine.table, set, f ? AF_INET6 : AF_INET,
		    engine_flush_elem, &fc) < 0) {
			control_fail(r, "cannot read set %s: %s", set, strerror(errno));
			return;
		}
	}
	if (!engine_flush_now(e, r))
		return;
	log_info("control: %s flushed, %d address%s removed", argv[1], fc.n,
	    fc.n == 1 ? "" : "es");
	control_printf(r, "%s: %d address%s removed\n", argv[1], fc.n,
	    fc.n == 1 ? "" : "es");
}

/* --- bypass, reset, reload --------------------------------------------------- */

static void
engine_cmd_bypass(struct engine *e, int argc, char **argv, struct control_reply *r)
{
	if (argc == 1) {
		control_printf(r, "bypass %s\n", e->bypass ? "on" : "off");
		return;
	}
	if (argc != 2 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0)) {
		control_fail(r, "usage: bypass on|off");
		return;
	}
	e->bypass = strcmp(argv[1], "on") == 0;
	if (e->bypass)
		log_warnx("control: bypass on: every queued packet is accepted "
		    "without inspection (guards still drop non-members)");
	else
		log_info("control: bypass off: queued packets are inspected again");
	control_printf(r, "bypass %s\n", e->bypass ? "on" : "off");
}

static void
engine_cmd_reset(struct engine *e, int argc, char **argv, struct control_reply *r)
{
	enum trigger_kind kind;
	int i, n = 0;

	if (argc != 2) {
		control_fail(r, "usage: reset NAME");
		return;
	}
	kind = engine_trigger_kind(e->cfg, argv[1], &i);
	switch (kind) {
	case KIND_KNOCK:
		n = knock_set_reset(e->knocks, argv[1]);
		break;
	case KIND_COUNT:
		n = count_set_reset(e->counts, argv[1]);
		break;
	case KIND_ACTIVITY:
		n = engine_act_reset_one(e, argv[1]);
		break;
	case KIND_ROTATE:
		control_fail(r, "rotate '%s' keeps no state to reset", argv[1]);
		return;
	default:
		control_fail(r, "no trigger named '%s'", argv[1]);
		return;
	}
	if (n < 0) {
		control_fail(r, "trigger '%s' is not running", argv[1]);
		return;
	}
	log_info("control: %s reset%s", argv[1], kind == KIND_ACTIVITY ?
	    " to standby" : "");
	if (kind == KIND_ACTIVITY)
		control_printf(r, "%s: standby\n", argv[1]);
	else
		control_printf(r, "%s: %d tracked source%s forgotten\n", argv[1], n,
		    n == 1 ? "" : "s");
}

static void
engine_cmd_reload(struct engine *e, int argc, struct control_reply *r)
{
	char why[512];

	if (argc != 1) {
		control_fail(r, "usage: reload");
		return;
	}
	/* A SIGHUP waiting for this pass is this reload too. */
	e->reload_pending = false;
	if (engine_reload(e, why, sizeof(why)) < 0)
		control_fail(r, "reload refused: %s", why);
	else
		control_printf(r, "%s\n", why);
}

void
engine_control(void *arg, int argc, char **argv, struct control_reply *r)
{
	struct engine *e = arg;
	const char *cmd = argv[0];

	if (control_reply_http(r) || strcmp(cmd, "metrics") == 0) {
		if (argc != 1)
			control_fail(r, "usage: metrics");
		else
			engine_metrics(e, r);
	} else if (strcmp(cmd, "status") == 0) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0))
			control_fail(r, "usage: status [--json]");
		else
			engine_status(e, argc == 2, r);
	} else if (strcmp(cmd, "list") == 0)
		engine_cmd_list(e, argc, argv, r);
	else if (strcmp(cmd, "allow") == 0)
		engine_cmd_allow(e, argc, argv, r);
	else if (strcmp(cmd, "revoke") == 0)
		engine_cmd_revoke(e, argc, argv, r);
	else if (strcmp(cmd, "flush") == 0)
		engine_cmd_flush(e, argc, argv, r);
	else if (strcmp(cmd, "bypass") == 0)
		engine_cmd_bypass(e, argc, argv, r);
	else if (strcmp(cmd, "reset") == 0)
		engine_cmd_reset(e, argc, argv, r);
	else if (strcmp(cmd, "reload") == 0)
		engine_cmd_reload(e, argc, r);
	else
		control_fail(r, "unknown command '%.40s' (status, list, allow, "
		    "revoke, flush, bypass, reset, reload, metrics)", cmd);
}
