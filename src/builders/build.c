/*
 * The libnftnl objects that build the engine's table from a plan: memory
 * only, no socket. The kernel layer puts them into batches; the unit tests
 * print them. This file has the table, chains and the allow set, and the
 * expressions every rule shares (build_priv.h); one file per trigger kind
 * has its rules and sets.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "builders/build_priv.h"

struct nftnl_table *
build_table(const char *table)
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
build_chain(const char *table, const char *chain, uint32_t hook, int32_t prio)
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
build_set(const char *table, const char *name, int family, uint32_t size,
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
struct nftnl_expr *
expr_meta(uint32_t key)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("meta")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return e;
}

/* reg dreg = numgen's number mod modulus: rotate's slot, count's every Nth. */
struct nftnl_expr *
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

struct nftnl_expr *
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

struct nftnl_expr *
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

struct nftnl_expr *
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
build_expr_queue(uint16_t first, uint16_t last, bool bypass, bool native)
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

/* jhash of register 1's len bytes, mod N, + offset, into register 1. */
static struct nftnl_expr *
expr_jhash(uint32_t len, uint32_t modulus, uint32_t offset)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("hash")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_TYPE, NFT_HASH_JENKINS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_MODULUS, modulus);
	/* A fixed seed: the same source keeps its queue across rebuilds. */
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_SEED, NFT_QUEUE_HASH_SEED);
	nftnl_expr_set_u32(e, NFTNL_EXPR_HASH_OFFSET, offset);
	return e;
}

int
build_queue_shards(const struct plan *p, bool native)
{
	return native || p->queue_first == p->queue_last ? 1 :
	    p->queue_last - p->queue_first + 1;
}

/*
 * The queue verdict of a rule (docs/design.md, decision 19). One queue:
 * counter queue num N. Several: the source address alone picks the queue,
 * so one source's frames of any protocol stay in order on one queue and
 * one owner:
 *   native: counter queue num jhash ip saddr mod N offset FIRST
 *   compat: one rule per queue i: jhash ip saddr mod N == i counter,
 *           NFQUEUE num FIRST+i (the xtables target takes no register)
 * family: the rule's (several queues need one), shard: i (compat only).
 */
bool
rule_queue(struct nftnl_rule *r, const struct plan *p, int family, int shard,
    bool native, bool counted)
{
	uint32_t n = (uint32_t)p->queue_last - p->queue_first + 1;
	uint32_t i = (uint32_t)shard;
	uint16_t q = (uint16_t)(p->queue_first + shard);
	struct nftnl_expr *e;

	/* counted: the caller's counter, earlier in the rule, counts already. */
	if (n == 1)
		return (counted || rule_add(r, nftnl_expr_alloc("counter"))) &&
		    rule_add(r, build_expr_queue(p->queue_first, p->queue_last,
		    p->queue_bypass, native));
	if (family != AF_INET && family != AF_INET6)
		return false;
	/* Native: nothing between the hash and the queue that reads it. */
	if (native && !counted && !rule_add(r, nftnl_expr_alloc("counter")))
		return false;
	if (!rule_add(r, expr_payload(NFT_PAYLOAD_NETWORK_HEADER,
	    family == AF_INET ? 12 : 8, family == AF_INET ? 4 : 16)))
		return false;
	if (!native)
		return shard >= 0 && i < n &&
		    rule_add(r, expr_jhash(family == AF_INET ? 4 : 16, n, 0)) &&
		    rule_add(r, expr_cmp_eq(&i, sizeof(i))) &&
		    (counted || rule_add(r, nftnl_expr_alloc("counter"))) &&
		    rule_add(r, build_expr_queue(q, q, p->queue_bypass, false));
	if (!rule_add(r, expr_jhash(family == AF_INET ? 4 : 16, n,
	    p->queue_first)) || (e = nftnl_expr_alloc("queue")) == NULL)
		return false;
	nftnl_expr_set_u32(e, NFTNL_EXPR_QUEUE_SREG_QNUM, NFT_REG_1);
	nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
	    p->queue_bypass ? NFT_QUEUE_FLAG_BYPASS : 0);
	return rule_add(r, e);
}

struct nftnl_expr *
build_expr_log_group(uint16_t group)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("log")) == NULL)
		return NULL;
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	return e;
}

bool
rule_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e == NULL)
		return false;
	nftnl_rule_add_expr(r, e);
	return true;
}

/* `comment "..."` as nft writes it, so `nft list` says who made a rule. */
bool
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

struct nftnl_rule *
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

/*
 * A trigger's match (activity, count, rotate: docs/activity.md). It comes
 * from the same struct match that the engine dispatches with
 * (src/core/match.c); a match with { } sets becomes one rule per
 * combination of their values.
 */
struct nftnl_expr *
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

struct nftnl_expr *
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

int
family_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* ip saddr 10.0.0.0/8: load, mask what is past the prefix, compare. */
bool
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

bool
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

struct nftnl_rule *
rule_done(struct nftnl_rule *r, bool ok)
{
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}
