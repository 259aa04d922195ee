/*
 * The plan: the shape of the engine's table derived from the config (which
 * sets, chains and rules; memory only). The kernel layer reconciles the
 * table to it; build.c makes its libnftnl objects.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"
#include "builders/plan.h"
#include "core/knock_frame.h"
#include "core/trigger_count.h"

static int
plan_add_divert(struct plan *p, const struct config_port_range *ports)
{
	int i;

	/* Two triggers may share a knock port: one rule queues it for both. */
	for (i = 0; i < p->ndivert; i++)
		if (p->divert[i].proto == ports->proto &&
		    p->divert[i].lo == ports->lo && p->divert[i].hi == ports->hi)
			return 0;
	if (p->ndivert == NFT_DIVERT_MAX)
		return -1;
	p->divert[p->ndivert++] = *ports;
	return 0;
}

static bool
dest_same(const struct config_dest *a, const struct config_dest *b)
{
	return a->family == b->family && (a->family == 0 ||
	    (a->p.len == b->p.len && memcmp(a->p.addr, b->p.addr,
	    a->family == AF_INET ? 4 : 16) == 0));
}

/* Trigger t opens port at dst: the service's one guard lets its set in too. */
static int
plan_add_guard(struct plan *p, int t, const struct config_port *port,
    const struct config_dest *dst)
{
	struct plan_guard *g;
	int i;

	for (i = 0; i < p->nguards; i++) {
		g = &p->guards[i];
		if (g->port.proto == port->proto && g->port.port == port->port &&
		    dest_same(&g->dst, dst))
			break;
	}
	if (i == p->nguards) {
		if (p->nguards == NFT_GUARDS_MAX)
			return -1;
		g = &p->guards[p->nguards++];
		memset(g, 0, sizeof(*g));
		g->port = *port;
		g->dst = *dst;
	}
	g = &p->guards[i];
	if (g->ntriggers == NFT_GUARD_TRIGGERS_MAX) {
		log_warnx("nft: %s:%u is opened by more than %d triggers",
		    port->proto == IPPROTO_TCP ? "tcp" : "udp", port->port,
		    NFT_GUARD_TRIGGERS_MAX);
		return -1;
	}
	g->triggers[g->ntriggers++] = (uint8_t)t;
	return 0;
}

const char *
plan_guard_chain(const struct plan_guard *g)
{
	return g->dst.family == 0 ? NFT_CHAIN_GUARD_IN : NFT_CHAIN_GUARD_FWD;
}

bool
plan_guard_has_family(const struct plan_guard *g, int family)
{
	return g->dst.family == 0 || g->dst.family == family;
}

static int
plan_add_trigger(struct plan *p, const struct config_knock *k)
{
	struct plan_trigger *t = &p->triggers[p->ntriggers];
	struct config_port_range ports[CONFIG_KNOCK_PORTS_MAX];
	int i, n;

	if (strlen(k->name) > CONFIG_NAME_MAX || k->nopen > CONFIG_OPEN_MAX ||
	    k->nframes > CONFIG_KNOCK_FRAMES_MAX) {
		log_warnx("nft: trigger %.40s does not fit the table layout",
		    k->name);
		return -1;
	}
	snprintf(t->name, sizeof(t->name), "%s", k->name);
	snprintf(t->set4, sizeof(t->set4), "%s%s", k->name, NFT_SET_ALLOW4);
	snprintf(t->set6, sizeof(t->set6), "%s%s", k->name, NFT_SET_ALLOW6);
	memcpy(t->open, k->open, sizeof(k->open[0]) * (size_t)k->nopen);
	memcpy(t->open_dst, k->open_dst, sizeof(k->open_dst[0]) * (size_t)k->nopen);
	t->nopen = k->nopen;
	t->prefix4 = k->open_prefix4;
	t->prefix6 = k->open_prefix6;
	for (i = 0; i < k->nopen; i++)
		if (plan_add_guard(p, p->ntriggers, &k->open[i], &k->open_dst[i]) < 0)
			return -1;
	/* Listed frames give their ports, derived ones their range. */
	n = knock_divert_ports(k, ports, CONFIG_KNOCK_PORTS_MAX);
	for (i = 0; i < n; i++)
		if (plan_add_divert(p, &ports[i]) < 0)
			return -1;
	p->ntriggers++;
	return 0;
}

/*
 * An SPA trigger is a knock trigger to the table: an allow set, guards on
 * what it opens, and one port diverted to the queue (where every datagram
 * is dropped after its check).
 */
static int
plan_add_spa(struct plan *p, const struct config_spa *s)
{
	struct plan_trigger *t = &p->triggers[p->ntriggers];
	struct config_port_range port = { .proto = s->port.proto,
	    .lo = s->port.port, .hi = s->port.port };
	static const struct config_dest no_dst;
	int i;

	if (strlen(s->name) > CONFIG_NAME_MAX || s->nopen > CONFIG_OPEN_MAX) {
		log_warnx("nft: trigger %.40s does not fit the table layout",
		    s->name);
		return -1;
	}
	snprintf(t->name, sizeof(t->name), "%s", s->name);
	snprintf(t->set4, sizeof(t->set4), "%s%s", s->name, NFT_SET_ALLOW4);
	snprintf(t->set6, sizeof(t->set6), "%s%s", s->name, NFT_SET_ALLOW6);
	memcpy(t->open, s->open, sizeof(s->open[0]) * (size_t)s->nopen);
	t->nopen = s->nopen;
	/* This host's own service: an SPA trigger opens no forwarded one. */
	for (i = 0; i < s->nopen; i++)
		if (plan_add_guard(p, p->ntriggers, &s->open[i], &no_dst) < 0)
			return -1;
	if (plan_add_divert(p, &port) < 0)
		return -1;
	p->ntriggers++;
	return 0;
}

static int
plan_add_activity(struct plan *p, const struct config_activity *c)
{
	struct plan_activity *a = &p->activities[p->nactivities];

	if (strlen(c->name) > CONFIG_NAME_MAX) {
		log_warnx("nft: trigger %.40s does not fit the table layout",
		    c->name);
		return -1;
	}
	snprintf(a->name, sizeof(a->name), "%s", c->name);
	snprintf(a->active, sizeof(a->active), "%s%s", c->name, NFT_SET_ACTIVE);
	snprintf(a->flows4, sizeof(a->flows4), "%s%s", c->name, NFT_SET_FLOWS4);
	snprintf(a->flows6, sizeof(a->flows6), "%s%s", c->name, NFT_SET_FLOWS6);
	a->match = c->match;
	a->nflog = c->source == CONFIG_SOURCE_NFLOG;
	p->nactivities++;
	return 0;
}

static int
plan_add_count(struct plan *p, const struct config_count *c)
{
	struct plan_count *pc = &p->counts[p->ncounts];

	if (strlen(c->name) > CONFIG_NAME_MAX || c->nallow > CONFIG_ALLOW_MAX) {
		log_warnx("nft: trigger %.40s does not fit the table layout",
		    c->name);
		return -1;
	}
	snprintf(pc->name, sizeof(pc->name), "%s", c->name);
	snprintf(pc->block4, sizeof(pc->block4), "%s%s", c->name, NFT_SET_BLOCK4);
	snprintf(pc->block6, sizeof(pc->block6), "%s%s", c->name, NFT_SET_BLOCK6);
	snprintf(pc->rate4, sizeof(pc->rate4), "%s%s", c->name, NFT_SET_RATE4);
	snprintf(pc->rate6, sizeof(pc->rate6), "%s%s", c->name, NFT_SET_RATE6);
	pc->match = c->match;
	pc->kind = (uint8_t)c->kind;
	pc->path = (uint8_t)c->path;
	pc->nflog = c->kind == CONFIG_COUNT_EVERY && c->source == CONFIG_SOURCE_NFLOG;
	pc->log_blocks = c->kind == CONFIG_COUNT_THRESHOLD &&
	    c->path == CONFIG_PATH_KERNEL && c->exec.argv != NULL;
	pc->every = c->kind == CONFIG_COUNT_EVERY && c->path == CONFIG_PATH_KERNEL ?
	    c->every : 1;
	pc->threshold = c->threshold;
	pc->period_ms = c->period_ms;
	pc->block_timeout_ms = c->block_timeout_ms;
	memcpy(pc->allow, c->allow, sizeof(c->allow[0]) * (size_t)c->nallow);
	pc->nallow = c->nallow;
	p->ncounts++;
	return 0;
}

static int
plan_add_rotate(struct plan *p, const struct config_rotate *r)
{
	struct plan_rotate *pr = &p->rotates[p->nrotates];

	if (strlen(r->name) > CONFIG_NAME_MAX) {
		log_warnx("nft: trigger %.40s does not fit the table layout",
		    r->name);
		return -1;
	}
	snprintf(pr->name, sizeof(pr->name), "%s", r->name);
	snprintf(pr->pool4, sizeof(pr->pool4), "%s%s", r->name, NFT_SET_POOL4);
	snprintf(pr->pool6, sizeof(pr->pool6), "%s%s", r->name, NFT_SET_POOL6);
	pr->match = r->match;
	pr->mode = (uint8_t)r->mode;
	pr->policy = (uint8_t)r->policy;
	memcpy(pr->pool, r->pool, sizeof(pr->pool));
	p->nrotates++;
	return 0;
}

int
plan_build(struct plan *p, const struct config *cfg)
{
	const struct config_engine *e = &cfg->engine;
	int i;

	memset(p, 0, sizeof(*p));
	if (e->table[0] == '\0' || strlen(e->table) > CONFIG_TABLE_MAX) {
		log_warnx("nft: table name '%.40s' is empty or too long", e->table);
		return -1;
	}
	if (cfg->nknocks < 0 || cfg->nactivities < 0 || cfg->ncounts < 0 ||
	    cfg->nrotates < 0 || cfg->nspas < 0 || cfg->nknocks +
	    cfg->nactivities + cfg->ncounts + cfg->nrotates + cfg->nspas >
	    CONFIG_TRIGGERS_MAX ||
	    e->queue_last < e->queue_first) {
		log_warnx("nft: %d triggers, queues %u-%u: out of range",
		    cfg->nknocks + cfg->nactivities + cfg->ncounts +
		    cfg->nrotates + cfg->nspas,
		    e->queue_first, e->queue_last);
		return -1;
	}
	snprintf(p->table, sizeof(p->table), "%s", e->table);
	p->manage_rules = e->manage_rules;
	p->queue_first = e->queue_first;
	p->queue_last = e->queue_last;
	p->queue_bypass = e->queue_bypass;
	p->set_size = e->max_sources;
	p->nflog_group = e->nflog_group >= 0 ? (uint16_t)e->nflog_group : 0;
	for (i = 0; i < cfg->nknocks; i++)
		if (plan_add_trigger(p, &cfg->knocks[i]) < 0)
			return -1;
	for (i = 0; i < cfg->nspas; i++)
		if (plan_add_spa(p, &cfg->spas[i]) < 0)
			return -1;
	for (i = 0; i < cfg->nactivities; i++)
		if (plan_add_activity(p, &cfg->activities[i]) < 0)
			return -1;
	for (i = 0; i < cfg->ncounts; i++)
		if (plan_add_count(p, &cfg->counts[i]) < 0)
			return -1;
	for (i = 0; i < cfg->nrotates; i++)
		if (plan_add_rotate(p, &cfg->rotates[i]) < 0)
			return -1;
	return 0;
}

const struct plan_count *
plan_count_find(const struct plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->ncounts; i++)
		if (strcmp(p->counts[i].name, name) == 0)
			return &p->counts[i];
	return NULL;
}

const struct plan_activity *
plan_activity_find(const struct plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->nactivities; i++)
		if (strcmp(p->activities[i].name, name) == 0)
			return &p->activities[i];
	return NULL;
}

const struct plan_trigger *
plan_trigger_find(const struct plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->ntriggers; i++)
		if (strcmp(p->triggers[i].name, name) == 0)
			return &p->triggers[i];
	return NULL;
}

bool
plan_rotate_has_family(const struct plan_rotate *r, int family)
{
	return match_has_family(&r->match, family) &&
	    (r->mode == CONFIG_PASSTHROUGH || r->pool[family == AF_INET6].n > 0);
}
