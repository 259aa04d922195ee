/*
 * libnftnl objects of the engine's table, built from a plan in memory (no
 * socket): src/kernel/nft*.c puts them into batches, the unit tests print
 * them. Each returns NULL when out of memory.
 */
#ifndef NFQT_BUILD_H
#define NFQT_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "builders/plan.h"

struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_rule;
struct nftnl_expr;

struct nftnl_table *build_table(const char *table);
struct nftnl_chain *build_chain(const char *table, const char *chain,
    uint32_t hook, int32_t prio);
/* id: unique within the batch (the kernel requires one; we refer by name). */
struct nftnl_set *build_set(const char *table, const char *name, int family,
    uint32_t size, uint32_t id);
struct nftnl_rule *build_rule_guard(const struct plan *p,
    const struct plan_guard *g, int family);
/*
 * A divert rule: family 0 and shard 0 with one queue; with several, one
 * rule per family (AF_INET, AF_INET6) and per shard, 0 to
 * build_queue_shards() - 1 (docs/design.md, decision 19).
 */
struct nftnl_rule *build_rule_divert(const struct plan *p,
    const struct config_port_range *ports, int family, int shard,
    bool native_queue);
/* Rules per queued match: 1, or (compat target, several queues) one per queue. */
int build_queue_shards(const struct plan *p, bool native);
#define NFT_QUEUE_HASH_SEED	0x6e667174u	/* "nfqt" */

/* Sets of an activity trigger: the pair set of family, or the switch (0). */
struct nftnl_set *build_set_activity(const char *table, const char *name,
    int family, uint32_t size, uint32_t id);

/*
 * Rules of an activity trigger, per family its match covers and per
 * combination of its match (match_combos()): in queue mode the unsampled
 * rule diverts every packet while sampling is off, the sampled one a packet
 * per pair and second while it is on; in NFLOG mode there is the sampled
 * rule only (NULL for the other).
 */
struct nftnl_rule *build_rule_activity(const struct plan *p,
    const struct plan_activity *a, const char *chain, int family, int combo,
    bool sampled, int shard, bool native_queue);

/*
 * Count triggers (docs/count.md). Sets: a threshold's block set of family
 * (flags timeout, dynamic), or its kernel-path buckets (the same, with a
 * default timeout of one period).
 */
struct nftnl_set *build_set_block(const char *table, const char *name,
    int family, uint32_t size, uint64_t timeout_ms, uint32_t id);

/* ip saddr @<trigger>_block4 counter drop (count_pre). */
struct nftnl_rule *build_rule_count_block(const struct plan *p,
    const struct plan_count *c, int family);

/*
 * Kernel-path threshold, per family and combination (count_pre):
 *   <match> ip saddr != <allow>... counter update @<trigger>_rate4 { ip
 *   saddr limit rate over N/T burst N packets } add @<trigger>_block4 {
 *   ip saddr timeout B } [log prefix "nfqt-count <trigger>" group G]
 *   counter drop
 * The first counter counts the packets the rule counts, the second those
 * that went over.
 */
struct nftnl_rule *build_rule_count_meter(const struct plan *p,
    const struct plan_count *c, int family, int combo);

/*
 * The packets the engine counts, per family and combination, in chain
 * (count_in or count_fwd): <match> [ip saddr != <allow>...] counter, then
 * log prefix "nfqt-count <trigger>" group G, or queue.
 */
struct nftnl_rule *build_rule_count_divert(const struct plan *p,
    const struct plan_count *c, const char *chain, int family, int combo,
    int shard, bool native_queue);

/*
 * Rotate triggers (docs/rotate.md). A listed pool is a map from the slot
 * numgen picks to the address: <trigger>_pool4, type mark : ipv4_addr.
 * build_set_pool_elems() gives the set with its elements, for the message
 * that fills it.
 */
struct nftnl_set *build_set_pool(const char *table, const char *name,
    int family, uint32_t modulus, bool random, uint32_t id);
/* The key type of a pool map (an integer, as nft reads numgen's number). */
#define NFT_POOL_KEY_TYPE	4
struct nftnl_set *build_set_pool_elems(const char *table, const char *name,
    int family, const struct config_pool *pool);

/*
 * Per family and combination (chain rotate, type nat):
 *   <match> counter snat ip to numgen inc|random mod N map @<trigger>_pool4
 *   <match> counter snat ip6 to <prefix> | numgen random ...  (a prefix pool)
 *   <match> counter accept                                    (passthrough)
 */
struct nftnl_rule *build_rule_rotate(const struct plan *p,
    const struct plan_rotate *r, int family, int combo);

/* queue num first[-last] [bypass]: native expression or xtables NFQUEUE v3. */
struct nftnl_expr *build_expr_queue(uint16_t first, uint16_t last, bool bypass,
    bool native);
/* log group N (NFLOG), for passive triggers. */
struct nftnl_expr *build_expr_log_group(uint16_t group);

#endif
