/*
 * The count trigger's rules and sets: the block set, the kernel-path
 * threshold meter, and the packets the engine counts (memory only).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/set.h>

#include "core/trigger_count.h"
#include "builders/build_priv.h"

/*
 * Count triggers (docs/count.md). A threshold counted by the kernel is one
 * rule per combination in count_pre: its dynamic set holds a token bucket
 * per source (the `limit` expression of each element) and the bucket that
 * runs over puts the source into the block set, in the same rule.
 */
struct nftnl_set *
build_set_block(const char *table, const char *name, int family,
    uint32_t size, uint64_t timeout_ms, uint32_t id)
{
	struct nftnl_set *s;

	if ((s = build_set(table, name, family, size, id)) == NULL)
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
rule_not_allowed(struct nftnl_rule *r, const struct plan_count *c,
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

	if ((e = build_expr_log_group(group)) != NULL)
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

struct nftnl_rule *
build_rule_count_block(const struct plan *p, const struct plan_count *c,
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
build_rule_count_meter(const struct plan *p, const struct plan_count *c,
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

/*
 * every = N counted by the kernel: numgen's counter of this rule, 0, 1, ...,
 * lets the Nth packet, the 2Nth, ... through to the engine, which runs the
 * hook for each one it gets. The counter is the rule's: a match that makes
 * several rules (both families, sets of values) counts in each apart.
 */
static bool
rule_every(struct nftnl_rule *r, uint32_t every)
{
	uint32_t last = every - 1;	/* host order, as numgen writes it */

	if (every <= 1)
		return true;
	return rule_add(r, expr_numgen(NFT_REG_1, NFT_NG_INCREMENTAL, every)) &&
	    rule_add(r, expr_cmp_eq(&last, sizeof(last)));
}

struct nftnl_rule *
build_rule_count_divert(const struct plan *p, const struct plan_count *c,
    const char *chain, int family, int combo, int shard, bool native_queue)
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
	if (c->every > 1)
		snprintf(comment, sizeof(comment), "nfq-trigger %s: every %uth "
		    "counted", c->name, c->every);
	else
		snprintf(comment, sizeof(comment), "nfq-trigger %s: %s", c->name,
		    c->kind == CONFIG_COUNT_EVERY ? "counted" : "counted per source");
	snprintf(prefix, sizeof(prefix), "%s%s", COUNT_LOG_PREFIX, c->name);
	ok = rule_match_combo(r, &c->match, family, &mc) &&
	    rule_not_allowed(r, c, family) &&
	    /* Every matching packet counted, then 1 in every sampled. */
	    rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_every(r, c->every);
	if (ok && c->nflog)
		ok = rule_add(r, expr_log_prefix(prefix, p->nflog_group));
	else if (ok)
		ok = rule_queue(r, p, family, shard, native_queue, true);
	return rule_done(r, ok && rule_comment(r, comment));
}
