/*
 * nftables through libnftnl over one libmnl socket: the engine-owned table
 * (sets with timeouts, divert and guard chains generated from the config),
 * and batched element updates. Never runs the nft binary.
 *
 * Layer naming: nft_* calls that touch the kernel say so in their comment;
 * element calls only append to the pending batch until nft_batch_flush().
 *
 * Layout of table inet <engine.table> (docs/nftables.md):
 *   set   <trigger>_allow4, <trigger>_allow6   flags timeout, size max_sources
 *   chain guard_in   hook input   priority filter - 10   drop to open ports
 *   chain guard_fwd  hook forward priority filter - 10   from non-members
 *   chain divert     hook input   priority filter - 5    knock frames to NFQUEUE
 *   set   <trigger>_active                   activity: sampling on (queue mode)
 *   set   <trigger>_flows4, <trigger>_flows6 activity: pairs seen in the last second
 *   chain activity   hook prerouting priority filter - 5  activity to NFQUEUE / NFLOG
 *   set   <trigger>_block4, <trigger>_block6  count threshold: blocked sources
 *   set   <trigger>_rate4, <trigger>_rate6    count threshold, kernel path: buckets
 *   chain count_pre  hook prerouting priority filter - 10  blocked sources dropped,
 *                                                  kernel-path buckets
 *   chain count_in   hook input   priority filter - 4  count packets to NFQUEUE / NFLOG
 *   chain count_fwd  hook forward priority filter - 4  the same for forwarded ones
 *   map   <trigger>_pool4, <trigger>_pool6   rotate: slot -> source address
 *   chain rotate     type nat hook postrouting priority srcnat  SNAT of new connections
 */
#ifndef NFQT_NFT_H
#define NFQT_NFT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct nft;

struct nft_counters {
	uint64_t batches_sent;		/* element batches sent (a resend counts again) */
	uint64_t batches_aborted;	/* the kernel refused a message: resent without it */
	uint64_t elems_added;		/* committed adds (a refresh counts too) */
	uint64_t elems_deleted;		/* committed deletes, ENOENT included */
	uint64_t elems_failed;		/* rejected by the kernel, logged with reason */
	uint64_t set_full;		/* ENFILE / ENOSPC / E2BIG on add (also in elems_failed) */
	uint64_t table_recreated;	/* the table vanished under us and was rebuilt */
	uint64_t resyncs;		/* run-time reconciliations (ENOENT, monitor) */
	uint64_t monitor_overruns;	/* ENOBUFS on the monitor socket */
};

/*
 * Open the socket and probe the kernel (kernel): whether it has the native
 * queue expression, and whether re-adding an element refreshes its timeout
 * (Linux 6.12+; older kernels get a delete + add). Logs and returns NULL on
 * failure (start-up).
 */
struct nft *nft_open(void);
/* Flushes what is pending (kernel); the table stays (docs/design.md,
 * decision 1). */
void nft_close(struct nft *n);
bool nft_native_queue(const struct nft *n);
bool nft_elem_refresh(const struct nft *n);

/*
 * Append "add addr to count trigger's block set with a timeout" to the
 * pending batch, as nft_allow_add() does for a knock's allow set.
 */
int nft_block_add(struct nft *n, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms);

/* Tests only: take the other code path than the probes chose. */
void nft_features_force(struct nft *n, bool native_queue, bool elem_refresh);

/*
 * Create or reconcile the engine's table to the config's shape in one batch
 * (kernel): sets that still exist keep their elements; with manage_rules =
 * no only sets are created. Pending elements are flushed first. The shape
 * is copied: cfg need not outlive the call. Returns 0 or -1 with the reason
 * logged (parts that the kernel accepted are in place).
 */
int nft_table_sync(struct nft *n, const struct config *cfg);

/*
 * Delete a table (kernel); an absent table is not an error. Deleting the
 * synced table also forgets its shape, so nothing recreates it.
 */
int nft_table_delete(struct nft *n, const char *table);

/*
 * Append "add addr to trigger's allow set with a timeout" to the pending
 * batch (memory only; when NFT_PENDING_MAX are pending it flushes first).
 * family is AF_INET or AF_INET6, addr in network order. Adding an element
 * that is in the set already refreshes its timeout. timeout_ms 0: none.
 */
int nft_allow_add(struct nft *n, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms);

/* The same for a delete; an element that is not there counts as deleted. */
int nft_allow_del(struct nft *n, const char *trigger, int family,
    const uint8_t *addr);

/*
 * Switch an activity trigger's sampling (kernel, at once: one small batch).
 * On while the trigger is active: a source/destination pair then reaches
 * the queue once a second at most. Off: every matching packet does, so
 * none gets past while start runs. The state is kept and put back after
 * the table is rebuilt; nft_table_sync() turns every trigger off. Returns
 * 0, or -1: ENOENT, no such queue-mode activity trigger (not logged), or
 * the kernel refused (logged).
 */
int nft_activity_sampling(struct nft *n, const char *trigger, bool on);

int nft_batch_pending(const struct nft *n);

/*
 * Send the pending batch, read every ack, log each refused element with the
 * kernel's reason and resend the rest (kernel). A missing table or set is
 * recreated from the synced shape and the batch resent. Returns the number
 * of elements refused, or -1 when the socket failed.
 */
int nft_batch_flush(struct nft *n);

/*
 * A socket subscribed to nftables events: poll it for reading and call
 * nft_monitor_handle(), which rebuilds the table (kernel) when another
 * process deleted it, or one of its sets, chains or rules. Returns 0, or -1
 * when a needed rebuild failed (logged).
 */
int nft_monitor_fd(const struct nft *n);
int nft_monitor_handle(struct nft *n);

const struct nft_counters *nft_counters(const struct nft *n);

/*
 * The shape of the table, derived from the config, and the libnftnl objects
 * that make it (src/builders/rules.c; memory only, used by nft.c and the tests).
 */
#define NFT_PENDING_MAX		4096	/* elements waiting for a flush */
#define NFT_SET_NAME_MAX	(CONFIG_NAME_MAX + 7)	/* "<trigger>_allow4" */
#define NFT_SET_ALLOW4		"_allow4"
#define NFT_SET_ALLOW6		"_allow6"
#define NFT_CHAIN_GUARD_IN	"guard_in"
#define NFT_CHAIN_GUARD_FWD	"guard_fwd"
#define NFT_CHAIN_DIVERT	"divert"
#define NFT_PRIO_GUARD		(-10)	/* filter - 10: before the host's filter chains */
#define NFT_PRIO_DIVERT		(-5)	/* after our guards */
#define NFT_DIVERT_MAX		(CONFIG_TRIGGERS_MAX * CONFIG_KNOCK_FRAMES_MAX)
#define NFT_SET_ACTIVE		"_active"
#define NFT_SET_FLOWS4		"_flows4"
#define NFT_SET_FLOWS6		"_flows6"
#define NFT_CHAIN_ACTIVITY	"activity"
#define NFT_PRIO_ACTIVITY	(-5)	/* prerouting, after conntrack and DNAT */
#define NFT_SAMPLE_MS		1000	/* a live pair reaches the engine this often */
#define NFT_ACTIVE_KEY		1u	/* the one element of <trigger>_active */
#define NFT_SET_BLOCK4		"_block4"
#define NFT_SET_BLOCK6		"_block6"
#define NFT_SET_RATE4		"_rate4"
#define NFT_SET_RATE6		"_rate6"
#define NFT_SET_POOL4		"_pool4"
#define NFT_SET_POOL6		"_pool6"
#define NFT_CHAIN_COUNT_PRE	"count_pre"
#define NFT_CHAIN_COUNT_IN	"count_in"
#define NFT_CHAIN_COUNT_FWD	"count_fwd"
#define NFT_CHAIN_ROTATE	"rotate"
/* After the knock divert chain: a knock frame is dropped before it is counted. */
#define NFT_PRIO_COUNT		(-4)
#define NFT_PRIO_SRCNAT		100	/* NF_IP_PRI_NAT_SRC */

struct nft_plan_trigger {
	char name[CONFIG_NAME_MAX + 1];
	char set4[NFT_SET_NAME_MAX + 1];
	char set6[NFT_SET_NAME_MAX + 1];
	struct config_port open[CONFIG_OPEN_MAX];
	int nopen;
	uint8_t prefix4;		/* open_prefix: guard on saddr & /prefix */
	uint8_t prefix6;		/* 0: the whole address */
};

/* An activity trigger: diverted in prerouting (docs/design.md, decision 4). */
struct nft_plan_activity {
	char name[CONFIG_NAME_MAX + 1];
	char active[NFT_SET_NAME_MAX + 1];
	char flows4[NFT_SET_NAME_MAX + 1];
	char flows6[NFT_SET_NAME_MAX + 1];
	struct match match;
	bool nflog;			/* log group instead of the queue; no _active */
};

/* A count trigger (docs/count.md). */
struct nft_plan_count {
	char name[CONFIG_NAME_MAX + 1];
	char block4[NFT_SET_NAME_MAX + 1];
	char block6[NFT_SET_NAME_MAX + 1];
	char rate4[NFT_SET_NAME_MAX + 1];
	char rate6[NFT_SET_NAME_MAX + 1];
	struct match match;
	uint8_t kind;			/* enum config_count_kind */
	uint8_t path;			/* enum config_count_path */
	bool nflog;			/* every: log group instead of the queue */
	bool log_blocks;		/* kernel threshold with exec: blocks are logged */
	uint32_t threshold;
	uint64_t period_ms;
	uint64_t block_timeout_ms;
	struct config_prefix allow[CONFIG_ALLOW_MAX];
	int nallow;
};

/* A rotate trigger (docs/rotate.md), in file order: the first match wins. */
struct nft_plan_rotate {
	char name[CONFIG_NAME_MAX + 1];
	char pool4[NFT_SET_NAME_MAX + 1];
	char pool6[NFT_SET_NAME_MAX + 1];
	struct match match;
	uint8_t mode;			/* enum config_rotate_mode */
	uint8_t policy;			/* enum config_rotate_policy */
	struct config_pool pool[2];	/* IPv4, IPv6 */
};

struct nft_plan {
	char table[CONFIG_TABLE_MAX + 1];
	bool manage_rules;
	uint16_t queue_first;
	uint16_t queue_last;
	bool queue_bypass;
	uint32_t set_size;		/* 0: unbounded */
	struct nft_plan_trigger triggers[CONFIG_TRIGGERS_MAX];
	int ntriggers;
	struct config_port_range divert[NFT_DIVERT_MAX]; /* distinct knock ports or derived ranges */
	int ndivert;
	uint16_t nflog_group;
	struct nft_plan_activity activities[CONFIG_TRIGGERS_MAX];
	int nactivities;
	struct nft_plan_count counts[CONFIG_TRIGGERS_MAX];
	int ncounts;
	struct nft_plan_rotate rotates[CONFIG_TRIGGERS_MAX];
	int nrotates;
};

/* Returns 0, or -1 with the reason logged (a name that does not fit). */
int nft_plan_build(struct nft_plan *p, const struct config *cfg);
const struct nft_plan_trigger *nft_plan_trigger(const struct nft_plan *p,
    const char *name);
const struct nft_plan_activity *nft_plan_activity(const struct nft_plan *p,
    const char *name);
const struct nft_plan_count *nft_plan_count(const struct nft_plan *p,
    const char *name);

struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_rule;
struct nftnl_expr;

/* Each returns NULL when out of memory. */
struct nftnl_table *nft_table_new(const char *table);
struct nftnl_chain *nft_chain_new(const char *table, const char *chain,
    uint32_t hook, int32_t prio);
/* id: unique within the batch (the kernel requires one; we refer by name). */
struct nftnl_set *nft_set_new(const char *table, const char *name, int family,
    uint32_t size, uint32_t id);
struct nftnl_rule *nft_rule_guard(const struct nft_plan *p, const char *chain,
    const struct nft_plan_trigger *t, const struct config_port *port,
    int family);
struct nftnl_rule *nft_rule_divert(const struct nft_plan *p,
    const struct config_port_range *ports, bool native_queue);

/* Sets of an activity trigger: the pair set of family, or the switch (0). */
struct nftnl_set *nft_set_activity_new(const char *table, const char *name,
    int family, uint32_t size, uint32_t id);

/*
 * Rules of an activity trigger, per family its match covers and per
 * combination of its match (match_combos()): in queue mode the unsampled
 * rule diverts every packet while sampling is off, the sampled one a packet
 * per pair and second while it is on; in NFLOG mode there is the sampled
 * rule only (NULL for the other).
 */
struct nftnl_rule *nft_rule_activity(const struct nft_plan *p,
    const struct nft_plan_activity *a, int family, int combo, bool sampled,
    bool native_queue);

/*
 * Count triggers (docs/count.md). Sets: a threshold's block set of family
 * (flags timeout, dynamic), or its kernel-path buckets (the same, with a
 * default timeout of one period).
 */
struct nftnl_set *nft_set_block_new(const char *table, const char *name,
    int family, uint32_t size, uint64_t timeout_ms, uint32_t id);

/* ip saddr @<trigger>_block4 counter drop (count_pre). */
struct nftnl_rule *nft_rule_count_block(const struct nft_plan *p,
    const struct nft_plan_count *c, int family);

/*
 * Kernel-path threshold, per family and combination (count_pre):
 *   <match> ip saddr != <allow>... counter update @<trigger>_rate4 { ip
 *   saddr limit rate over N/T burst N packets } add @<trigger>_block4 {
 *   ip saddr timeout B } [log prefix "nfqt-count <trigger>" group G]
 *   counter drop
 * The first counter counts the packets the rule counts, the second those
 * that went over.
 */
struct nftnl_rule *nft_rule_count_meter(const struct nft_plan *p,
    const struct nft_plan_count *c, int family, int combo);

/*
 * The packets the engine counts, per family and combination, in chain
 * (count_in or count_fwd): <match> [ip saddr != <allow>...] counter, then
 * log prefix "nfqt-count <trigger>" group G, or queue.
 */
struct nftnl_rule *nft_rule_count_divert(const struct nft_plan *p,
    const struct nft_plan_count *c, const char *chain, int family, int combo,
    bool native_queue);

/*
 * Rotate triggers (docs/rotate.md). A listed pool is a map from the slot
 * numgen picks to the address: <trigger>_pool4, type mark : ipv4_addr.
 * nft_set_pool_elems() gives the set with its elements, for the message
 * that fills it.
 */
struct nftnl_set *nft_set_pool_new(const char *table, const char *name,
    int family, uint32_t id);
struct nftnl_set *nft_set_pool_elems(const char *table, const char *name,
    int family, const struct config_pool *pool);

/*
 * Per family and combination (chain rotate, type nat):
 *   <match> counter snat ip to numgen inc|random mod N map @<trigger>_pool4
 *   <match> counter snat ip6 to <prefix> | numgen random ...  (a prefix pool)
 *   <match> counter accept                                    (passthrough)
 */
struct nftnl_rule *nft_rule_rotate(const struct nft_plan *p,
    const struct nft_plan_rotate *r, int family, int combo);

/* Whether a rotate trigger has rules for family: its match and pool cover it. */
bool nft_rotate_has_family(const struct nft_plan_rotate *r, int family);

/* queue num first[-last] [bypass]: native expression or xtables NFQUEUE v3. */
struct nftnl_expr *nft_expr_queue(uint16_t first, uint16_t last, bool bypass,
    bool native);
/* log group N (NFLOG), for passive triggers. */
struct nftnl_expr *nft_expr_log_group(uint16_t group);

#endif
