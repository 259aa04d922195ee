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

#include "log.h"
#include "nft.h"

/* nft's datatype numbers, so that `nft list` prints ipv4_addr / ipv6_addr. */
#define NFT_DATATYPE_IPADDR	7
#define NFT_DATATYPE_IP6ADDR	8

#define NFT_COMMENT_MAX		128

static int
plan_add_divert(struct nft_plan *p, const struct config_port *port)
{
	int i;

	/* Two triggers may share a knock port: one rule queues it for both. */
	for (i = 0; i < p->ndivert; i++)
		if (p->divert[i].proto == port->proto &&
		    p->divert[i].port == port->port)
			return 0;
	if (p->ndivert == NFT_DIVERT_MAX)
		return -1;
	p->divert[p->ndivert++] = *port;
	return 0;
}

static int
plan_add_trigger(struct nft_plan *p, const struct config_knock *k)
{
	struct nft_plan_trigger *t = &p->triggers[p->ntriggers];
	int i;

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
	for (i = 0; i < k->nframes; i++)
		if (plan_add_divert(p, &k->frames[i].port) < 0)
			return -1;
	p->ntriggers++;
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
	if (cfg->nknocks > CONFIG_TRIGGERS_MAX || e->queue_last < e->queue_first) {
		log_warnx("nft: %d triggers, queues %u-%u: out of range",
		    cfg->nknocks, e->queue_first, e->queue_last);
		return -1;
	}
	snprintf(p->table, sizeof(p->table), "%s", e->table);
	p->manage_rules = e->manage_rules;
	p->queue_first = e->queue_first;
	p->queue_last = e->queue_last;
	p->queue_bypass = e->queue_bypass;
	p->set_size = e->max_sources;
	for (i = 0; i < cfg->nknocks; i++)
		if (plan_add_trigger(p, &cfg->knocks[i]) < 0)
			return -1;
	return 0;
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
 * The guard (Decision 1): in the inet family,
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

/* meta l4proto udp th dport 7000 counter queue num 0[-N] [bypass] */
struct nftnl_rule *
nft_rule_divert(const struct nft_plan *p, const struct config_port *port,
    bool native_queue)
{
	char comment[NFT_COMMENT_MAX];
	struct nftnl_rule *r;
	bool ok;

	if ((r = rule_new(p->table, NFT_CHAIN_DIVERT)) == NULL)
		return NULL;
	snprintf(comment, sizeof(comment), "nfq-trigger: knock frames %s:%u",
	    proto_name(port->proto), port->port);
	ok = rule_match_port(r, port) &&
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
