/*
 * The knock trigger's rules: a guard that drops new connections to an open
 * port from sources outside the allow set (fails closed), and the divert of
 * knock frames to the queue (memory only).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "builders/build_priv.h"

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
expr_ct_state(void)
{
	struct nftnl_expr *e;

	if ((e = nftnl_expr_alloc("ct")) == NULL)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	return e;
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
 * The guard (docs/design.md, decisions 1, 13, 14): in the inet family,
 * one rule per service and family,
 *   meta nfproto ipv4 [ip daddr 10.71.9.9] meta l4proto tcp th dport 22
 *   ct state & (established | related) == 0
 *   ip saddr != @ssh_allow4 ip saddr != @ssh2_allow4 counter drop
 * Anything that is not part of an opened connection (new, invalid,
 * untracked) from a source in none of the allow sets of the triggers that
 * open the service is dropped: the guard fails closed, and either trigger
 * lets a source in.
 */
struct nftnl_rule *
build_rule_guard(const struct plan *p, const struct plan_guard *g, int family)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint32_t opened = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
	    NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;
	const struct plan_trigger *t;
	char comment[NFT_COMMENT_MAX], a[INET6_ADDRSTRLEN] = "";
	uint8_t prefix;
	struct nftnl_rule *r;
	size_t n;
	bool ok;
	int i;

	if (!plan_guard_has_family(g, family) || g->ntriggers < 1 ||
	    (r = rule_new(p->table, plan_guard_chain(g))) == NULL)
		return NULL;
	if (g->dst.family != 0)
		inet_ntop(g->dst.family, g->dst.p.addr, a, sizeof(a));
	n = (size_t)snprintf(comment, sizeof(comment),
	    "nfq-trigger guard %s%s%s:%u of", a, *a ? " " : "",
	    proto_name(g->port.proto), g->port.port);
	for (i = 0; i < g->ntriggers && n < sizeof(comment); i++)
		n += (size_t)snprintf(comment + n, sizeof(comment) - n, "%s %s",
		    i ? "," : "", p->triggers[g->triggers[i]].name);
	ok = rule_add(r, expr_meta(NFT_META_NFPROTO)) &&
	    rule_add(r, expr_cmp_eq(&nfproto, sizeof(nfproto)));
	if (ok && g->dst.family != 0)
		ok = rule_prefix(r, family, MATCH_DST, &g->dst.p, NFT_CMP_EQ);
	ok = ok && rule_match_port(r, &g->port) &&
	    rule_add(r, expr_ct_state()) &&
	    rule_add(r, expr_and(opened)) &&
	    rule_add(r, expr_cmp_eq(&zero, sizeof(zero)));
	/*
	 * One lookup per trigger that opens the service: a member of any set
	 * gets through. open_prefix: that set holds networks, so the source is
	 * masked before its lookup (loaded again for each set).
	 */
	for (i = 0; ok && i < g->ntriggers; i++) {
		t = &p->triggers[g->triggers[i]];
		prefix = family == AF_INET ? t->prefix4 : t->prefix6;
		ok = rule_add(r, family == AF_INET ?
		    expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4) :
		    expr_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16)) &&
		    (prefix == 0 || rule_add(r, expr_prefix_mask(family ==
		    AF_INET ? 4 : 16, prefix))) &&
		    rule_add(r, expr_lookup_not(family == AF_INET ? t->set4 :
		    t->set6));
	}
	ok = ok && rule_add(r, nftnl_expr_alloc("counter")) &&
	    rule_add(r, expr_verdict(NF_DROP)) &&
	    rule_comment(r, comment);
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

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

/*
 * meta l4proto udp th dport 7000[-7999] counter queue num 0 [bypass];
 * with several queues, per family and (compat) queue: meta nfproto ipv4
 * ... jhash ip saddr mod N ... (rule_queue()).
 */
struct nftnl_rule *
build_rule_divert(const struct plan *p, const struct config_port_range *ports,
    int family, int shard, bool native_queue)
{
	uint8_t nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	char comment[NFT_COMMENT_MAX];
	struct nftnl_rule *r;
	bool ok, one = p->queue_first == p->queue_last;

	if (one != (family == 0) ||
	    (r = rule_new(p->table, NFT_CHAIN_DIVERT)) == NULL)
		return NULL;
	if (ports->lo == ports->hi)
		snprintf(comment, sizeof(comment), "nfq-trigger: knock frames %s:%u",
		    proto_name(ports->proto), ports->lo);
	else
		snprintf(comment, sizeof(comment), "nfq-trigger: derived knock frames %s:%u-%u",
		    proto_name(ports->proto), ports->lo, ports->hi);
	ok = (one || (rule_add(r, expr_meta(NFT_META_NFPROTO)) &&
	    rule_add(r, expr_cmp_eq(&nfproto, sizeof(nfproto))))) &&
	    rule_match_port_range(r, ports) &&
	    rule_queue(r, p, family, shard, native_queue, false) &&
	    rule_comment(r, comment);
	if (!ok) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}
