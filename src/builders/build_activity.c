/*
 * The activity trigger's rules and sets: its match diverted in prerouting,
 * every packet while sampling is off, a packet per pair and second while it
 * is on (memory only).
 */
#include <arpa/inet.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "builders/build_priv.h"

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

static struct nftnl_expr *
expr_payload_to(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e;

	if ((e = expr_payload(base, offset, len)) != NULL)
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
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

/* meta oiftype != loopback */
static bool
rule_not_loopback(struct nftnl_rule *r)
{
	uint16_t type = ARPHRD_LOOPBACK;

	return rule_add(r, expr_meta(NFT_META_OIFTYPE)) &&
	    rule_add(r, expr_cmp(NFT_CMP_NEQ, &type, sizeof(type)));
}

/*
 * Queue mode, per combination:
 *   rule 0: <match> 1 != @vpn_active counter queue ...
 *   rule 1: <match> 1 == @vpn_active ip saddr . ip daddr != @vpn_flows4
 *           add @vpn_flows4 { ip saddr . ip daddr timeout 1s } counter queue ...
 * NFLOG mode: rule 1 without the switch, ending in log group N.
 */
struct nftnl_rule *
build_rule_activity(const struct plan *p, const struct plan_activity *a,
    const char *chain, int family, int combo, bool sampled, int shard,
    bool native_queue)
{
	char comment[NFT_COMMENT_MAX];
	struct match_combo c;
	struct nftnl_rule *r;
	bool ok;

	if (!match_has_family(&a->match, family) || combo < 0 ||
	    combo >= match_combos(&a->match) || (a->nflog && !sampled))
		return NULL;
	if ((r = rule_new(p->table, chain)) == NULL)
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
	/* The host's own traffic: loopback comes back through prerouting. */
	if (ok && strcmp(chain, NFT_CHAIN_ACTIVITY_OUT) == 0)
		ok = rule_not_loopback(r);
	if (ok && a->nflog)
		ok = rule_add(r, nftnl_expr_alloc("counter")) &&
		    rule_add(r, build_expr_log_group(p->nflog_group));
	else if (ok)
		ok = rule_queue(r, p, family, shard, native_queue, false);
	ok = ok && rule_comment(r, comment);
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
build_set_activity(const char *table, const char *name, int family,
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
