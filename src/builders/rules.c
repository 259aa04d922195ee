/*
 * The shape of the engine's table and the libnftnl objects that build it:
 * memory only, no socket. nft.c puts these objects into batches; the unit
 * test prints them.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "util/log.h"
#include "core/match.h"
#include "core/knock_frame.h"
#include "kernel/nft.h"
#include "core/trigger_count.h"

/* nft's datatype numbers, so that `nft list` prints ipv4_addr / ipv6_addr. */
#define NFT_DATATYPE_IPADDR	7
#define NFT_DATATYPE_IP6ADDR	8
#define NFT_DATATYPE_MARK	19
/* nft's byte orders, for a set's key in its user data. */
#define NFT_BYTEORDER_HOST	1
/* A concatenation's type: each member's type in 6 bits, the first highest. */
#define NFT_DATATYPE_CONCAT2(a, b)	(((a) << 6) | (b))

#define NFT_COMMENT_MAX		128

static int
plan_add_divert(struct nft_plan *p, const struct config_port_range *ports)
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

static int
plan_add_trigger(struct nft_plan *p, const struct config_knock *k)
{
	struct nft_plan_trigger *t = &p->triggers[p->ntriggers];
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
	t->nopen = k->nopen;
	t->prefix4 = k->open_prefix4;
	t->prefix6 = k->open_prefix6;
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
plan_add_spa(struct nft_plan *p, const struct config_spa *s)
{
	struct nft_plan_trigger *t = &p->triggers[p->ntriggers];
	struct config_port_range port = { .proto = s->port.proto,
	    .lo = s->port.port, .hi = s->port.port };

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
	if (plan_add_divert(p, &port) < 0)
		return -1;
	p->ntriggers++;
	return 0;
}

static int
plan_add_activity(struct nft_plan *p, const struct config_activity *c)
{
	struct nft_plan_activity *a = &p->activities[p->nactivities];

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
plan_add_count(struct nft_plan *p, const struct config_count *c)
{
	struct nft_plan_count *pc = &p->counts[p->ncounts];

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
	pc->threshold = c->threshold;
	pc->period_ms = c->period_ms;
	pc->block_timeout_ms = c->block_timeout_ms;
	memcpy(pc->allow, c->allow, sizeof(c->allow[0]) * (size_t)c->nallow);
	pc->nallow = c->nallow;
	p->ncounts++;
	return 0;
}

static int
plan_add_rotate(struct nft_plan *p, const struct config_rotate *r)
{
	struct nft_plan_rotate *pr = &p->rotates[p->nrotates];

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
nft_plan_build(struct nft_plan *p, const struct config *cfg)
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

const struct nft_plan_count *
nft_plan_count(const struct nft_plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->ncounts; i++)
		if (strcmp(p->counts[i].name, name) == 0)
			return &p->counts[i];
	return NULL;
}

const struct nft_plan_activity *
nft_plan_activity(const struct nft_plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->nactivities; i++)
		if (strcmp(p->activities[i].name, name) == 0)
			return &p->activities[i];
	return NULL;
}

const struct nft_plan_trigger *
nft_plan_trigger(const struct nft_plan *p, const char *name)
{
	int i;

	for (i = 0; i < p->ntriggers; i++)
		if (strcmp(p->triggers[i].name, name) == 0)
			return &p->triggers[i];
	return NULL;
}

struct nftnl_table *
nft_table_new(const char *table)
{
	struct nftnl_table *t;

	if ((t = nftnl_table_alloc()) == NULL)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	/* Explicit 0 wakes a table someone made dormant. */
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	return t;
}

struct nftnl_chain *
nft_chain_new(const char *table, const char *chain, uint32_t hook, int32_t prio)
{
	struct nftnl_chain *c;

	if ((c = nftnl_chain_alloc()) == NULL)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return c;
}

struct nftnl_set *
nft_set_new(const char *table, const char *name, int family, uint32_t size,
    uint32_t id)
{
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, family == AF_INET ?
	    NFT_DATATYPE_IPADDR : NFT_DATATYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, family == AF_INET ? 4 : 16);
	/* A bound: a full set refuses adds (ENFILE) instead of growing. */
	if (size > 0)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
	return s;
}

/*
 * Expressions. Each returns NULL when out of memory; rule_add() frees the
 * rule's state on the first NULL so that builders read top to bottom.
 */
static struct nftnl_expr *
expr_meta(uint32_t key)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("meta")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *
expr_cmp_eq(const void *data, uint32_t len)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("cmp")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return e;
}

static struct nftnl_expr *
expr_payload(uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("payload")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *
expr_ct_state(void)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("ct")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *
expr_and(uint32_t mask)
{
	struct nftnl_expr *e;
	uint32_t zero = 0;

	if ((e = nftnl_expr_alloc("bitwise")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	return e;
}

/* reg1 &= the first len bits set of a len-byte field (address prefixes). */
static struct nftnl_expr *
expr_prefix_mask(uint32_t bytes, uint8_t bits)
{
	uint8_t mask[16] = { 0 }, zero[16] = { 0 };
	struct nftnl_expr *e;
	uint32_t i;

	for (i = 0; i < bytes; i++)
		mask[i] = bits >= 8 * (i + 1) ? 0xff : bits <= 8 * i ? 0 :
		    (uint8_t)(0xff << (8 - (bits - 8 * i)));
	if ((e = nftnl_expr_alloc("bitwise")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, bytes);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, bytes);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, bytes);
	return e;
}

static struct nftnl_expr *
expr_lookup_not(const char *set)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("lookup")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	return e;
}

static struct nftnl_expr *
expr_verdict(int verdict)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("immediate")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	return e;
}

/*
 * The xtables NFQUEUE target, revision 3, through nft_compat: what
 * `iptables-nft -j NFQUEUE --queue-num N [--queue-balance A:B]
 * [--queue-bypass]` generates, for kernels without CONFIG_NFT_QUEUE.
 */
static struct nftnl_expr *
expr_nfqueue_target(uint16_t first, uint16_t last, bool bypass)
{
	struct xt_NFQ_info_v3 *info;
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("target")) == NULL)
		return NULL;
	/* libnftnl 1.2 keeps this pointer and frees it with the expression. */
	if ((info = calloc(1, sizeof(*info))) == NULL) {
		nftnl_expr_free(e);
		return NULL;
	}
	info->queuenum = first;
	info->queues_total = (uint16_t)(last - first + 1);
	info->flags = bypass ? NFQ_FLAG_BYPASS : 0;
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
	return e;
}

struct nftnl_expr *
nft_expr_queue(uint16_t first, uint16_t last, bool bypass, bool native)
{
	struct nftnl_expr *e;

	if (!native)
		return expr_nfqueue_target(first, last, bypass);
	if ((e = nftnl_expr_alloc("queue")) == NULL)
		return NULL;
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, first);
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, (uint16_t)(last - first + 1));
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
	    bypass ? NFT_QUEUE_FLAG_BYPASS : 0);
	return e;
}

struct nftnl_expr *
nft_expr_log_group(uint16_t group)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("log")) == NULL)
		return NULL;
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	return e;
}

static bool
rule_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e == NULL)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

/* `comment "..."` as nft writes it, so `nft list` says who made a rule. */
static bool
rule_comment(struct nftnl_rule *r, const char *text)
{
	struct nftnl_udata_buf *u;
	bool ok;

	if ((u = nftnl_udata_buf_alloc(NFT_COMMENT_MAX + 8)) == NULL)
		return false;
	ok = nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, text);
	if (ok)
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA,
		    nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	return ok;
}

static struct nftnl_rule *
rule_new(const char *table, const char *chain)
{
	struct nftnl_rule *r;

	if ((r = nftnl_rule_alloc()) == NULL)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

/* meta l4proto P th dport N */
static bool
rule_match_port(struct nftnl_rule *r, const struct config_port *port)
{
	uint16_t dport = htons(port->port);

	return rule_add(r, expr_meta(NFT_META_L4PROTO)) &&
	    rule_add(r, expr_cmp_eq(&port->proto, sizeof(port->proto))) &&
	    rule_add(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) &&
	    rule_add(r, expr_cmp_eq(&dport, sizeof(dport)));
}

static const char *
proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

/*
 * The guard (docs/design.md, decision 1): in the inet family,
 *   meta nfproto ipv4 meta l4proto tcp th dport 22
 *   ct state & (established | related) == 0
 *   ip saddr != @ssh_allow4 counter drop
 * Anything that is not part of an opened connection (new, invalid,
 * untracked) from a non-member is dropped: the guard fails closed.
 */
struct nftnl_rule *
nft_rule_guard(const struct nft_plan *p, const char *chain,
    const struct nft_plan_trigger *t, const struct config_port *port,
    int family)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint32_t opened = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
	    NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;
	/* open_prefix: the set holds networks, the source is masked to match. */
	uint8_t prefix = family == AF_INET ? t->prefix4 : t->prefix6;
	char comment[NFT_COMMENT_MAX];
	struct nftnl_rule *r;
	bool ok;

	if ((r = rule_new(p->table, chain)) == NULL)
		return NULL;
	snprintf(comment, sizeof(comment), "nfq-trigger %s: guard %s:%u",
	    t->name, proto_name(port->proto), port->port);
	ok = rule_add(r, expr_meta(NFT_META_NFPROTO)) &&
	    rule_add(r, expr_cmp_eq(&nfproto, sizeof(nfproto))) &&
	    rule_match_port(r, port) &&
	    rule_add(r, expr_ct_state()) &&
	    rule_add(r, expr_and(opened)) &&
	    rule_add(r, expr_cmp_eq(&zero, sizeof(zero))) &&
	    rule_add(r, family == AF_INET ?
		expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4) :
		expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16)) &&
	    (prefix == 0 || rule_add(r, expr_prefix_mask(family == AF_INET ?
		4 : 16, prefix))) &&
	    rule_add(r, expr_lookup_not(family == AF_INET ? t->set4 : t->set6)) &&
	    rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, expr_verdict(NF_DROP)) &&
	    rule_comment(r, comment);
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static struct nftnl_expr *expr_cmp(uint32_t op, const void *data, uint32_t len);

/* meta l4proto udp th dport 20000-29999: the range of derived knock frames. */
static bool
rule_match_port_range(struct nftnl_rule *r, const struct config_port_range *ports)
{
	struct config_port one = { .proto = ports->proto, .port = ports->lo };
	uint16_t lo = htons(ports->lo), hi = htons(ports->hi);

	if (ports->lo == ports->hi)
		return rule_match_port(r, &one);
	return rule_add(r, expr_meta(NFT_META_L4PROTO)) &&
	    rule_add(r, expr_cmp_eq(&ports->proto, sizeof(ports->proto))) &&
	    rule_add(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) &&
	    rule_add(r, expr_cmp(NFT_CMP_GTE, &lo, sizeof(lo))) &&
	    rule_add(r, expr_cmp(NFT_CMP_LTE, &hi, sizeof(hi)));
}

/* meta l4proto udp th dport 7000[-7999] counter queue num 0[-N] [bypass] */
struct nftnl_rule *
nft_rule_divert(const struct nft_plan *p, const struct config_port_range *ports,
    bool native_queue)
{
	char comment[NFT_COMMENT_MAX];
	struct nftnl_rule *r;
	bool ok;

	if ((r = rule_new(p->table, NFT_CHAIN_DIVERT)) == NULL)
		return NULL;
	if (ports->lo == ports->hi)
		snprintf(comment, sizeof(comment), "nfq-trigger: knock frames %s:%u",
		    proto_name(ports->proto), ports->lo);
	else
		snprintf(comment, sizeof(comment), "nfq-trigger: derived knock frames %s:%u-%u",
		    proto_name(ports->proto), ports->lo, ports->hi);
	ok = rule_match_port_range(r, ports) &&
	    rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, nft_expr_queue(p->queue_first, p->queue_last,
		p->queue_bypass, native_queue)) &&
	    rule_comment(r, comment);
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/*
 * Activity triggers (docs/activity.md). The match comes from the same
 * struct match that the engine dispatches with (src/core/match.c); a match with
 * { } sets becomes one rule per combination of their values.
 */
static struct nftnl_expr *
expr_cmp(uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e;

	if ((e = expr_cmp_eq(data, len)) != NULL)
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	return e;
}

static struct nftnl_expr *
expr_mask(const uint8_t *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("bitwise")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	return e;
}

/* lo <= reg <= hi (or outside), compared as big-endian bytes. */
static struct nftnl_expr *
expr_range(uint32_t op, uint16_t lo, uint16_t hi)
{
	uint16_t from = htons(lo), to = htons(hi);
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("range")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &from, sizeof(from));
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &to, sizeof(to));
	return e;
}

static struct nftnl_expr *
expr_payload_to(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e;

	if ((e = expr_payload(base, offset, len)) != NULL)
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	return e;
}

static struct nftnl_expr *
expr_lookup(const char *set, uint32_t sreg, bool inverted)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("lookup")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS,
	    inverted ? NFT_LOOKUP_F_INV : 0);
	return e;
}

/* The constant key of <trigger>_active, so a lookup asks "is it on?". */
static struct nftnl_expr *
expr_active_key(void)
{
	uint32_t key = NFT_ACTIVE_KEY;
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("immediate")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG32_00);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &key, sizeof(key));
	return e;
}

/* add @set { key } timeout NFT_SAMPLE_MS: an element that is there stays as it is. */
static struct nftnl_expr *
expr_dynset_add(const char *set, uint32_t sreg)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("dynset")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
	nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, NFT_SAMPLE_MS);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	return e;
}

static int
family_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* ip saddr 10.0.0.0/8: load, mask what is past the prefix, compare. */
static bool
rule_prefix(struct nftnl_rule *r, int family, int dir,
    const struct match_prefix *px, uint32_t op)
{
	uint8_t mask[16] = { 0 };
	int alen = family_alen(family), i;
	uint32_t off = family == AF_INET ? (dir ? 16 : 12) : (dir ? 24 : 8);

	for (i = 0; i < alen; i++) {
		int bits = px->len - i * 8;

		mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 :
		    (uint8_t)(0xff << (8 - bits));
	}
	if (!rule_add(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER, off,
	    (uint32_t)alen)))
		return false;
	if (px->len < alen * 8 && !rule_add(r, expr_mask(mask, (uint32_t)alen)))
		return false;
	return rule_add(r, expr_cmp(op, px->addr, (uint32_t)alen));
}

static bool
rule_port(struct nftnl_rule *r, int dir, const struct match_range *pr,
    bool neg)
{
	uint16_t port = htons(pr->lo);

	if (!rule_add(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER,
	    dir ? 2 : 0, 2)))
		return false;
	if (pr->lo == pr->hi)
		return rule_add(r, expr_cmp(neg ? NFT_CMP_NEQ : NFT_CMP_EQ,
		    &port, sizeof(port)));
	return rule_add(r, expr_range(neg ? NFT_RANGE_NEQ : NFT_RANGE_EQ,
	    pr->lo, pr->hi));
}

/* iifname "eth0" compares the whole name; "eth*" only its first bytes. */
static bool
rule_ifname(struct nftnl_rule *r, int which, const struct match_ifname *f)
{
	char name[MATCH_IFNAME_MAX] = { 0 };
	uint32_t len = f->wildcard ? (uint32_t)strlen(f->name) : sizeof(name);

	if (len == 0)
		return true;		/* "*": any interface */
	memcpy(name, f->name, strlen(f->name));
	return rule_add(r, expr_meta(which == MATCH_IIF ? NFT_META_IIFNAME :
	    NFT_META_OIFNAME)) && rule_add(r, expr_cmp_eq(name, len));
}

/* tcp flags syn / syn,ack: byte 13 of the TCP header, masked, compared. */
static bool
rule_tcp_flags(struct nftnl_rule *r, const struct match_tcp_flags *f)
{
	uint8_t zero = 0;

	if (!rule_add(r, expr_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1)))
		return false;
	if (f->mask != 0xff && !rule_add(r, expr_mask(&f->mask, 1)))
		return false;
	if (f->op == MATCH_FLAGS_ANY)
		return rule_add(r, expr_cmp(NFT_CMP_NEQ, &zero, 1));
	return rule_add(r, expr_cmp(f->op == MATCH_FLAGS_NE ? NFT_CMP_NEQ :
	    NFT_CMP_EQ, &f->value, 1));
}

static bool
rule_match_combo(struct nftnl_rule *r, const struct match *m, int family,
    const struct match_combo *c)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	int d, i;

	if (!rule_add(r, expr_meta(NFT_META_NFPROTO)) ||
	    !rule_add(r, expr_cmp_eq(&nfproto, sizeof(nfproto))))
		return false;
	if (c->proto != 0 && (!rule_add(r, expr_meta(NFT_META_L4PROTO)) ||
	    !rule_add(r, expr_cmp_eq(&c->proto, sizeof(c->proto)))))
		return false;
	for (d = 0; d < 2; d++) {
		if (c->ifs[d] != NULL && !rule_ifname(r, d, c->ifs[d]))
			return false;
		if (c->addr[d] != NULL && !rule_prefix(r, family, d, c->addr[d],
		    NFT_CMP_EQ))
			return false;
		for (i = 0; m->addr[d].neg && i < m->addr[d].n; i++)
			if (!rule_prefix(r, family, d, &m->addr[d].v[i], NFT_CMP_NEQ))
				return false;
		if (c->port[d] != NULL && !rule_port(r, d, c->port[d], false))
			return false;
		for (i = 0; m->port[d].neg && i < m->port[d].n; i++)
			if (!rule_port(r, d, &m->port[d].v[i], true))
				return false;
	}
	if (m->tcp_flags.op != MATCH_FLAGS_NONE && !rule_tcp_flags(r, &m->tcp_flags))
		return false;
	return true;
}

/*
 * One packet per source/destination pair and second: the pair goes into
 * the set for NFT_SAMPLE_MS when its packet is diverted, and packets of a
 * pair in the set are not. A live flow thus reaches the engine at least
 * once a second however slow or fast it is.
 */
static bool
rule_sample(struct nftnl_rule *r, int family, const char *set)
{
	uint32_t off = family == AF_INET ? 12 : 8;
	uint32_t len = (uint32_t)family_alen(family) * 2;

	/* saddr and daddr are adjacent in both headers: one load is the pair. */
	return rule_add(r, expr_payload_to(NFT_PAYLOAD_NETWORK_HEADER, off, len,
	    NFT_REG32_00)) &&
	    rule_add(r, expr_lookup(set, NFT_REG32_00, true)) &&
	    rule_add(r, expr_dynset_add(set, NFT_REG32_00));
}

/*
 * Queue mode, per combination:
 *   rule 0: <match> 1 != @vpn_active counter queue ...
 *   rule 1: <match> 1 == @vpn_active ip saddr . ip daddr != @vpn_flows4
 *           add @vpn_flows4 { ip saddr . ip daddr timeout 1s } counter queue ...
 * NFLOG mode: rule 1 without the switch, ending in log group N.
 */
struct nftnl_rule *
nft_rule_activity(const struct nft_plan *p, const struct nft_plan_activity *a,
    int family, int combo, bool sampled, bool native_queue)
{
	char comment[NFT_COMMENT_MAX];
	struct match_combo c;
	struct nftnl_rule *r;
	bool ok;

	if (!match_has_family(&a->match, family) || combo < 0 ||
	    combo >= match_combos(&a->match) || (a->nflog && !sampled))
		return NULL;
	if ((r = rule_new(p->table, NFT_CHAIN_ACTIVITY)) == NULL)
		return NULL;
	match_combo(&a->match, combo, &c);
	snprintf(comment, sizeof(comment), "nfq-trigger %s: activity%s", a->name,
	    a->nflog ? "" : sampled ? ", sampled while active" :
	    ", all while not active");
	ok = rule_match_combo(r, &a->match, family, &c);
	if (ok && !a->nflog)
		ok = rule_add(r, expr_active_key()) &&
		    rule_add(r, expr_lookup(a->active, NFT_REG32_00, !sampled));
	if (ok && sampled)
		ok = rule_sample(r, family, family == AF_INET ? a->flows4 :
		    a->flows6);
	ok = ok && rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, a->nflog ? nft_expr_log_group(p->nflog_group) :
		nft_expr_queue(p->queue_first, p->queue_last, p->queue_bypass,
		native_queue)) &&
	    rule_comment(r, comment);
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/*
 * <trigger>_flows4: type ipv4_addr . ipv4_addr, flags dynamic, timeout;
 * <trigger>_active (family 0): type mark, one element while sampling is on.
 */
struct nftnl_set *
nft_set_activity_new(const char *table, const char *name, int family,
    uint32_t size, uint32_t id)
{
	struct nftnl_set *s;
	uint32_t type;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	if (family == 0) {
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_DATATYPE_MARK);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sizeof(uint32_t));
		return s;
	}
	type = family == AF_INET ?
	    NFT_DATATYPE_CONCAT2(NFT_DATATYPE_IPADDR, NFT_DATATYPE_IPADDR) :
	    NFT_DATATYPE_CONCAT2(NFT_DATATYPE_IP6ADDR, NFT_DATATYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)family_alen(family) * 2);
	nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, NFT_SAMPLE_MS);
	/* Full: a new pair is not added, its packet is not diverted (counted by the rule). */
	if (size > 0)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
	return s;
}

/*
 * Count triggers (docs/count.md). A threshold counted by the kernel is one
 * rule per combination in count_pre: its dynamic set holds a token bucket
 * per source (the `limit` expression of each element) and the bucket that
 * runs over puts the source into the block set, in the same rule.
 */
struct nftnl_set *
nft_set_block_new(const char *table, const char *name, int family,
    uint32_t size, uint64_t timeout_ms, uint32_t id)
{
	struct nftnl_set *s;

	if ((s = nft_set_new(table, name, family, size, id)) == NULL)
		return NULL;
	/* Dynamic: rules add to it from the packet path. */
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
	if (timeout_ms > 0)
		nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, timeout_ms);
	return s;
}

static uint32_t
saddr_offset(int family)
{
	return family == AF_INET ? 12 : 8;
}

/* meta nfproto ipv4: a payload offset means something only for its family. */
static bool
rule_nfproto(struct nftnl_rule *r, int family)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	return rule_add(r, expr_meta(NFT_META_NFPROTO)) &&
	    rule_add(r, expr_cmp_eq(&nfproto, sizeof(nfproto)));
}

/* ip saddr into register 1. */
static bool
rule_saddr(struct nftnl_rule *r, int family)
{
	return rule_add(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER,
	    saddr_offset(family), (uint32_t)family_alen(family)));
}

/* ip saddr != 192.168.0.0/16 ...: the allow list of the trigger's family. */
static bool
rule_not_allowed(struct nftnl_rule *r, const struct nft_plan_count *c,
    int family)
{
	int i;

	for (i = 0; i < c->nallow; i++)
		if (c->allow[i].family == family &&
		    !rule_prefix(r, family, MATCH_SRC, &c->allow[i].p, NFT_CMP_NEQ))
			return false;
	return true;
}

static struct nftnl_expr *
expr_log_prefix(const char *prefix, uint16_t group)
{
	struct nftnl_expr *e;

	if ((e = nft_expr_log_group(group)) != NULL)
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	return e;
}

/* limit rate over N/T burst N packets: the bucket holds N, refills N per T. */
static struct nftnl_expr *
expr_limit_over(uint32_t packets, uint64_t period_ms)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("limit")) == NULL)
		return NULL;
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, packets);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, period_ms / 1000);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, packets);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	return e;
}

/* update @set { reg 1 <limit> }: the dynset owns limit (freed with it). */
static struct nftnl_expr *
expr_dynset_update(const char *set, struct nftnl_expr *limit)
{
	struct nftnl_expr *e;

	if (limit == NULL || (e = nftnl_expr_alloc("dynset")) == NULL) {
		if (limit != NULL)
			nftnl_expr_free(limit);
		return NULL;
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, limit, 0);
	return e;
}

/* add @set { reg 1 timeout T }. */
static struct nftnl_expr *
expr_dynset_add_timeout(const char *set, uint64_t timeout_ms)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("dynset")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
	nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, timeout_ms);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	return e;
}

static struct nftnl_rule *
rule_done(struct nftnl_rule *r, bool ok)
{
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

struct nftnl_rule *
nft_rule_count_block(const struct nft_plan *p, const struct nft_plan_count *c,
    int family)
{
	char comment[NFT_COMMENT_MAX];
	struct nftnl_rule *r;

	if (c->kind != CONFIG_COUNT_THRESHOLD || !match_has_family(&c->match,
	    family) || (r = rule_new(p->table, NFT_CHAIN_COUNT_PRE)) == NULL)
		return NULL;
	snprintf(comment, sizeof(comment), "nfq-trigger %s: blocked sources",
	    c->name);
	return rule_done(r, rule_nfproto(r, family) && rule_saddr(r, family) &&
	    rule_add(r, expr_lookup(family == AF_INET ? c->block4 : c->block6,
		NFT_REG_1, false)) &&
	    rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, expr_verdict(NF_DROP)) &&
	    rule_comment(r, comment));
}

struct nftnl_rule *
nft_rule_count_meter(const struct nft_plan *p, const struct nft_plan_count *c,
    int family, int combo)
{
	char comment[NFT_COMMENT_MAX], prefix[NFT_COMMENT_MAX];
	struct match_combo mc;
	struct nftnl_rule *r;
	bool ok;

	if (c->kind != CONFIG_COUNT_THRESHOLD || c->path != CONFIG_PATH_KERNEL ||
	    !match_has_family(&c->match, family) || combo < 0 ||
	    combo >= match_combos(&c->match) ||
	    (r = rule_new(p->table, NFT_CHAIN_COUNT_PRE)) == NULL)
		return NULL;
	match_combo(&c->match, combo, &mc);
	snprintf(comment, sizeof(comment), "nfq-trigger %s: over %u per %llus: "
	    "blocked", c->name, c->threshold,
	    (unsigned long long)(c->period_ms / 1000));
	snprintf(prefix, sizeof(prefix), "%s%s", COUNT_LOG_PREFIX, c->name);
	/* Two counters: packets counted, and (at the end) packets over. */
	ok = rule_match_combo(r, &c->match, family, &mc) &&
	    rule_not_allowed(r, c, family) &&
	    rule_add(r, nftnl_expr_alloc("counter")) && rule_saddr(r, family) &&
	    rule_add(r, expr_dynset_update(family == AF_INET ? c->rate4 : c->rate6,
		expr_limit_over(c->threshold, c->period_ms))) &&
	    rule_add(r, expr_dynset_add_timeout(family == AF_INET ? c->block4 :
		c->block6, c->block_timeout_ms));
	if (ok && c->log_blocks)
		ok = rule_add(r, expr_log_prefix(prefix, p->nflog_group));
	return rule_done(r, ok && rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, expr_verdict(NF_DROP)) && rule_comment(r, comment));
}

struct nftnl_rule *
nft_rule_count_divert(const struct nft_plan *p, const struct nft_plan_count *c,
    const char *chain, int family, int combo, bool native_queue)
{
	char comment[NFT_COMMENT_MAX], prefix[NFT_COMMENT_MAX];
	struct match_combo mc;
	struct nftnl_rule *r;
	bool ok;

	if ((c->kind == CONFIG_COUNT_THRESHOLD && c->path != CONFIG_PATH_ENGINE) ||
	    !match_has_family(&c->match, family) || combo < 0 ||
	    combo >= match_combos(&c->match) ||
	    (r = rule_new(p->table, chain)) == NULL)
		return NULL;
	match_combo(&c->match, combo, &mc);
	snprintf(comment, sizeof(comment), "nfq-trigger %s: %s", c->name,
	    c->kind == CONFIG_COUNT_EVERY ? "counted" : "counted per source");
	snprintf(prefix, sizeof(prefix), "%s%s", COUNT_LOG_PREFIX, c->name);
	ok = rule_match_combo(r, &c->match, family, &mc) &&
	    rule_not_allowed(r, c, family) &&
	    rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, c->nflog ? expr_log_prefix(prefix, p->nflog_group) :
		nft_expr_queue(p->queue_first, p->queue_last, p->queue_bypass,
		native_queue));
	return rule_done(r, ok && rule_comment(r, comment));
}

/*
 * Rotate triggers (docs/rotate.md): rules of a nat chain see the first
 * packet of a connection only, and conntrack applies the same translation
 * to all of its packets after that, so each connection keeps the address
 * its first packet was given.
 */
/*
 * Keys in host byte order, as numgen writes them: the set's user data says
 * so, or `nft list` shows slot 1 as 0x01000000.
 */
static bool
set_key_host_order(struct nftnl_set *s)
{
	struct nftnl_udata_buf *u;
	bool ok;

	if ((u = nftnl_udata_buf_alloc(NFT_COMMENT_MAX)) == NULL)
		return false;
	ok = nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER,
	    NFT_BYTEORDER_HOST);
	if (ok)
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
		    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	return ok;
}

struct nftnl_set *
nft_set_pool_new(const char *table, const char *name, int family,
    uint32_t id)
{
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_DATATYPE_MARK);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sizeof(uint32_t));
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, family == AF_INET ?
	    NFT_DATATYPE_IPADDR : NFT_DATATYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, (uint32_t)family_alen(family));
	/* No size: a reload refills it with a pool that may have grown. */
	if (!set_key_host_order(s)) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

/* Slot i (numgen's number, host order like a mark) maps to address i. */
struct nftnl_set *
nft_set_pool_elems(const char *table, const char *name, int family,
    const struct config_pool *pool)
{
	struct nftnl_set_elem *e;
	struct nftnl_set *s;
	uint32_t slot;
	int i;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	for (i = 0; i < pool->n && !pool->prefix; i++) {
		if ((e = nftnl_set_elem_alloc()) == NULL) {
			nftnl_set_free(s);
			return NULL;
		}
		slot = (uint32_t)i;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &slot, sizeof(slot));
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, pool->addr[i],
		    (uint32_t)family_alen(family));
		nftnl_set_elem_add(s, e);
	}
	return s;
}

bool
nft_rotate_has_family(const struct nft_plan_rotate *r, int family)
{
	return match_has_family(&r->match, family) &&
	    (r->mode == CONFIG_PASSTHROUGH || r->pool[family == AF_INET6].n > 0);
}

static struct nftnl_expr *
expr_numgen(uint32_t dreg, uint32_t type, uint32_t modulus)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("numgen")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, modulus);
	return e;
}

/* reg 1 = map[reg 1]: the slot numgen picked becomes the address. */
static struct nftnl_expr *
expr_map(const char *set)
{
	struct nftnl_expr *e;

	if ((e = expr_lookup(set, NFT_REG_1, false)) != NULL)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *
expr_snat(int family)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("nat")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family == AF_INET ?
	    NFPROTO_IPV4 : NFPROTO_IPV6);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	return e;
}

static struct nftnl_expr *
expr_immediate_data(uint32_t dreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("immediate")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	return e;
}

/* reg = (reg & mask) ^ xor, over the 4 bytes of one 32-bit register. */
static struct nftnl_expr *
expr_mask_xor(uint32_t reg, const uint8_t *mask, const uint8_t *xor)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("bitwise")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, 4);
	return e;
}

/*
 * A random address in a prefix, computed in the kernel: the prefix into
 * register 1 (the four 32-bit registers 8-11), then each 32-bit word that
 * has host bits gets a random number with the prefix's bits put back
 * ((random & host mask) ^ prefix). Every byte of numgen's 32-bit number
 * is random, whatever the byte order.
 */
static bool
rule_random_in_prefix(struct nftnl_rule *r, int family,
    const struct config_pool *pool)
{
	uint8_t mask[16] = { 0 }, net[16];
	int alen = family_alen(family), i, w;

	for (i = 0; i < alen; i++) {
		int bits = pool->prefix_len - i * 8;

		mask[i] = bits >= 8 ? 0 : bits <= 0 ? 0xff :
		    (uint8_t)(0xff >> bits);
		net[i] = pool->addr[0][i] & (uint8_t)~mask[i];
	}
	if (!rule_add(r, expr_immediate_data(NFT_REG_1, net, (uint32_t)alen)))
		return false;
	for (w = 0; w < alen / 4; w++) {
		if ((mask[w * 4] | mask[w * 4 + 1] | mask[w * 4 + 2] |
		    mask[w * 4 + 3]) == 0)
			continue;
		if (!rule_add(r, expr_numgen(NFT_REG32_00 + (uint32_t)w,
		    NFT_NG_RANDOM, UINT32_MAX)) ||
		    !rule_add(r, expr_mask_xor(NFT_REG32_00 + (uint32_t)w,
		    mask + w * 4, net + w * 4)))
			return false;
	}
	return true;
}

struct nftnl_rule *
nft_rule_rotate(const struct nft_plan *p, const struct nft_plan_rotate *rt,
    int family, int combo)
{
	const struct config_pool *pool = &rt->pool[family == AF_INET6];
	char comment[NFT_COMMENT_MAX], a[INET6_ADDRSTRLEN];
	struct match_combo mc;
	struct nftnl_rule *r;
	bool ok;

	if (!nft_rotate_has_family(rt, family) || combo < 0 ||
	    combo >= match_combos(&rt->match) ||
	    (r = rule_new(p->table, NFT_CHAIN_ROTATE)) == NULL)
		return NULL;
	match_combo(&rt->match, combo, &mc);
	if (pool->prefix)
		snprintf(comment, sizeof(comment), "nfq-trigger %s: random source "
		    "in %s/%u", rt->name, inet_ntop(family, pool->addr[0], a,
		    sizeof(a)), pool->prefix_len);
	else
		snprintf(comment, sizeof(comment), "nfq-trigger %s: %s", rt->name,
		    rt->mode == CONFIG_PASSTHROUGH ? "passthrough" :
		    rt->policy == CONFIG_RANDOM ? "random source" :
		    "round-robin source");
	ok = rule_match_combo(r, &rt->match, family, &mc) &&
	    rule_add(r, nftnl_expr_alloc("counter"));
	if (ok && rt->mode == CONFIG_PASSTHROUGH)
		ok = rule_add(r, expr_verdict(NF_ACCEPT));
	else if (ok && pool->prefix)
		ok = rule_random_in_prefix(r, family, pool) &&
		    rule_add(r, expr_snat(family));
	else if (ok)
		ok = rule_add(r, expr_numgen(NFT_REG_1, rt->policy == CONFIG_RANDOM ?
		    NFT_NG_RANDOM : NFT_NG_INCREMENTAL, (uint32_t)pool->n)) &&
		    rule_add(r, expr_map(family == AF_INET ? rt->pool4 : rt->pool6)) &&
		    rule_add(r, expr_snat(family));
	return rule_done(r, ok && rule_comment(r, comment));
}
