/*
 * The rotate trigger's maps and SNAT rules (memory only).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include "builders/build_priv.h"

/*
 * Rotate triggers (docs/rotate.md): rules of a nat chain see the first
 * packet of a connection only, and conntrack applies the same translation
 * to all of its packets after that, so each connection keeps the address
 * its first packet was given.
 */
/*
 * nft's own description of a map's key and data (`typeof numgen inc mod 2
 * : ip saddr`), in the set's user data, as nft 1.0 writes it: without it
 * `nft list` prints the key as `type mark`, and `nft -f` of that listing
 * refuses the rule (a numgen is an integer, not a mark), so a saved and
 * restored ruleset would fail to load. The numbers are nft's: expression
 * kinds (numgen 23, payload 7) and, for the payload, the protocol
 * description and field (ip 12 / saddr 11, ip6 13 / saddr 8). Keys in host
 * byte order, as numgen writes them.
 */
#define NFT_UDATA_EXPR_NUMGEN	23
#define NFT_UDATA_EXPR_PAYLOAD	7
#define NFT_BYTEORDER_BIG	2

static bool
udata_typeof(struct nftnl_udata_buf *u, uint8_t type, uint32_t expr,
    const uint32_t *v, int nv)
{
	struct nftnl_udata *outer, *inner;
	int i;

	if ((outer = nftnl_udata_nest_start(u, type)) == NULL ||
	    !nftnl_udata_put_u32(u, NFTNL_UDATA_SET_TYPEOF_EXPR, expr) ||
	    (inner = nftnl_udata_nest_start(u, NFTNL_UDATA_SET_TYPEOF_DATA)) == NULL)
		return false;
	for (i = 0; i < nv; i++)
		if (!nftnl_udata_put_u32(u, (uint8_t)i, v[i]))
			return false;
	nftnl_udata_nest_end(u, inner);
	nftnl_udata_nest_end(u, outer);
	return true;
}

static bool
set_pool_typeof(struct nftnl_set *s, int family, uint32_t modulus, bool random)
{
	const uint32_t numgen[3] = {
		random ? NFT_NG_RANDOM : NFT_NG_INCREMENTAL, modulus, 0
	};
	const uint32_t saddr4[2] = { 12, 11 }, saddr6[2] = { 13, 8 };
	struct nftnl_udata_buf *u;
	bool ok;

	if ((u = nftnl_udata_buf_alloc(NFT_COMMENT_MAX)) == NULL)
		return false;
	ok = nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER,
	    NFT_BYTEORDER_HOST) &&
	    nftnl_udata_put_u32(u, NFTNL_UDATA_SET_DATABYTEORDER,
	    NFT_BYTEORDER_BIG) &&
	    udata_typeof(u, NFTNL_UDATA_SET_KEY_TYPEOF, NFT_UDATA_EXPR_NUMGEN,
	    numgen, 3) &&
	    udata_typeof(u, NFTNL_UDATA_SET_DATA_TYPEOF, NFT_UDATA_EXPR_PAYLOAD,
	    family == AF_INET ? saddr4 : saddr6, 2) &&
	    nftnl_udata_put_u32(u, NFTNL_UDATA_SET_DATA_INTERVAL, 0);
	if (ok)
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
		    nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	return ok;
}

struct nftnl_set *
build_set_pool(const char *table, const char *name, int family,
    uint32_t modulus, bool random, uint32_t id)
{
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_POOL_KEY_TYPE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sizeof(uint32_t));
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, family == AF_INET ?
	    NFT_DATATYPE_IPADDR : NFT_DATATYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, (uint32_t)family_alen(family));
	/* No size: a reload refills it with a pool that may have grown. */
	if (!set_pool_typeof(s, family, modulus, random)) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

/* Slot i (numgen's number, host order like a mark) maps to address i. */
struct nftnl_set *
build_set_pool_elems(const char *table, const char *name, int family,
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
build_rule_rotate(const struct plan *p, const struct plan_rotate *rt,
    int family, int combo)
{
	const struct config_pool *pool = &rt->pool[family == AF_INET6];
	char comment[NFT_COMMENT_MAX], a[INET6_ADDRSTRLEN];
	struct match_combo mc;
	struct nftnl_rule *r;
	bool ok;

	if (!plan_rotate_has_family(rt, family) || combo < 0 ||
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
