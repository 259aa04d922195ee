/*
 * What the builder files share (src/builders/build*.c): nft's type numbers
 * and the expression and rule helpers of every trigger kind. Memory only.
 * Private to src/builders.
 */
#ifndef NFQT_BUILD_PRIV_H
#define NFQT_BUILD_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "builders/build.h"

struct nftnl_expr;
struct nftnl_rule;

/* nft's datatype numbers, so that `nft list` prints ipv4_addr / ipv6_addr. */
#define NFT_DATATYPE_IPADDR	7
#define NFT_DATATYPE_IP6ADDR	8
#define NFT_DATATYPE_MARK	19
/* nft's byte orders, for a set's key in its user data. */
#define NFT_BYTEORDER_HOST	1
/* A concatenation's type: each member's type in 6 bits, the first highest. */
#define NFT_DATATYPE_CONCAT2(a, b)	(((a) << 6) | (b))

#define NFT_COMMENT_MAX		128

struct nftnl_expr *expr_meta(uint32_t key);
struct nftnl_expr *expr_cmp_eq(const void *data, uint32_t len);
struct nftnl_expr *expr_numgen(uint32_t dreg, uint32_t type, uint32_t modulus);
struct nftnl_expr *expr_payload(uint32_t base, uint32_t offset, uint32_t len);
struct nftnl_expr *expr_verdict(int verdict);
bool rule_add(struct nftnl_rule *r, struct nftnl_expr *e);
bool rule_comment(struct nftnl_rule *r, const char *text);
struct nftnl_rule *rule_new(const char *table, const char *chain);
struct nftnl_expr *expr_cmp(uint32_t op, const void *data, uint32_t len);
struct nftnl_expr *expr_lookup(const char *set, uint32_t sreg, bool inverted);
int family_alen(int family);
bool rule_prefix(struct nftnl_rule *r, int family, int dir,
    const struct match_prefix *px, uint32_t op);
bool rule_match_combo(struct nftnl_rule *r, const struct match *m, int family,
    const struct match_combo *c);
struct nftnl_rule *rule_done(struct nftnl_rule *r, bool ok);
/* counter and the queue verdict: one queue, or sharded by source (build.c). */
bool rule_queue(struct nftnl_rule *r, const struct plan *p, int family,
    int shard, bool native, bool counted);

#endif
