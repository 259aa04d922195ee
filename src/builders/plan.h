/*
 * The shape of the engine's table, derived from the config: which sets,
 * chains and rules it holds (memory only, no socket). src/kernel/nft*.c
 * reconciles the kernel to a plan; src/builders/build.h makes its objects.
 *
 * Layout of table inet <engine.table> (docs/nftables.md):
 *   set   <trigger>_allow4, <trigger>_allow6   flags timeout, size max_sources
 *   chain guard_in   hook input   priority filter - 10   this host's services
 *   chain guard_fwd  hook forward priority filter - 10   services behind it, by address
 *   chain divert     hook input   priority filter - 5    knock frames to NFQUEUE
 *   set   <trigger>_active                   activity: sampling on (queue mode)
 *   set   <trigger>_flows4, <trigger>_flows6 activity: pairs seen in the last second
 *   chain activity   hook prerouting priority filter - 5  activity to NFQUEUE / NFLOG
 *   chain activity_out hook output priority filter - 5   the same, the host's own
 *   set   <trigger>_block4, <trigger>_block6  count threshold: blocked sources
 *   set   <trigger>_rate4, <trigger>_rate6    count threshold, kernel path: buckets
 *   chain count_pre  hook prerouting priority filter - 10  blocked sources dropped,
 *                                                  kernel-path buckets
 *   chain count_in   hook input   priority filter - 4  count packets to NFQUEUE / NFLOG
 *   chain count_fwd  hook forward priority filter - 4  the same for forwarded ones
 *   map   <trigger>_pool4, <trigger>_pool6   rotate: slot -> source address
 *   chain rotate     type nat hook postrouting priority srcnat  SNAT of new connections
 */
#ifndef NFQT_PLAN_H
#define NFQT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/match.h"

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
#define NFT_CHAIN_ACTIVITY_OUT	"activity_out"	/* the host's own traffic */
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

struct plan_trigger {
	char name[CONFIG_NAME_MAX + 1];
	char set4[NFT_SET_NAME_MAX + 1];
	char set6[NFT_SET_NAME_MAX + 1];
	struct config_port open[CONFIG_OPEN_MAX];
	struct config_dest open_dst[CONFIG_OPEN_MAX];
	int nopen;
	uint8_t prefix4;		/* open_prefix: guard on saddr & /prefix */
	uint8_t prefix6;		/* 0: the whole address */
};

/*
 * One guarded service (docs/design.md, decision 14): its port and where it
 * is, and every knock trigger that opens it. Its one rule drops a source
 * that is in none of their allow sets. This host's own services
 * (dst.family 0) are guarded in guard_in; a destination behind the gateway
 * in guard_fwd, matched on that destination (decision 13).
 */
#define NFT_GUARDS_MAX		(CONFIG_TRIGGERS_MAX * CONFIG_OPEN_MAX)
/* Lookups in one rule: it stays under 4 KiB. */
#define NFT_GUARD_TRIGGERS_MAX	CONFIG_GUARD_TRIGGERS_MAX
struct plan_guard {
	struct config_port port;
	struct config_dest dst;
	uint8_t triggers[NFT_GUARD_TRIGGERS_MAX]; /* in plan.triggers */
	int ntriggers;
};

/* An activity trigger: diverted in prerouting (docs/design.md, decision 4). */
struct plan_activity {
	char name[CONFIG_NAME_MAX + 1];
	char active[NFT_SET_NAME_MAX + 1];
	char flows4[NFT_SET_NAME_MAX + 1];
	char flows6[NFT_SET_NAME_MAX + 1];
	struct match match;
	bool nflog;			/* log group instead of the queue; no _active */
};

/* A count trigger (docs/count.md). */
struct plan_count {
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
	uint32_t every;			/* every, path kernel: numgen passes 1 in every */
	uint32_t threshold;
	uint64_t period_ms;
	uint64_t block_timeout_ms;
	struct config_prefix allow[CONFIG_ALLOW_MAX];
	int nallow;
};

/* A rotate trigger (docs/rotate.md), in file order: the first match wins. */
struct plan_rotate {
	char name[CONFIG_NAME_MAX + 1];
	char pool4[NFT_SET_NAME_MAX + 1];
	char pool6[NFT_SET_NAME_MAX + 1];
	struct match match;
	uint8_t mode;			/* enum config_rotate_mode */
	uint8_t policy;			/* enum config_rotate_policy */
	struct config_pool pool[2];	/* IPv4, IPv6 */
};

struct plan {
	/* Scalars first: nft_sync.c copies them in one piece, then each array's used part. */
	char table[CONFIG_TABLE_MAX + 1];
	bool manage_rules;
	uint16_t queue_first;
	uint16_t queue_last;
	bool queue_bypass;
	uint32_t set_size;		/* 0: unbounded */
	uint16_t nflog_group;
	int ntriggers;
	int nguards;
	int ndivert;
	int nactivities;
	int ncounts;
	int nrotates;
	struct plan_trigger triggers[CONFIG_TRIGGERS_MAX];
	struct plan_guard guards[NFT_GUARDS_MAX];
	struct config_port_range divert[NFT_DIVERT_MAX]; /* distinct knock ports or derived ranges */
	struct plan_activity activities[CONFIG_TRIGGERS_MAX];
	struct plan_count counts[CONFIG_TRIGGERS_MAX];
	struct plan_rotate rotates[CONFIG_TRIGGERS_MAX];
};

/* Returns 0, or -1 with the reason logged (a name that does not fit). */
int plan_build(struct plan *p, const struct config *cfg);
const struct plan_trigger *plan_trigger_find(const struct plan *p,
    const char *name);
const struct plan_activity *plan_activity_find(const struct plan *p,
    const char *name);
const struct plan_count *plan_count_find(const struct plan *p,
    const char *name);

/* The chain of a guard: guard_in for this host's service, else guard_fwd. */
const char *plan_guard_chain(const struct plan_guard *g);
/* Whether a guard has a rule for family: both, or its destination's. */
bool plan_guard_has_family(const struct plan_guard *g, int family);

/* Whether a rotate trigger has rules for family: its match and pool cover it. */
bool plan_rotate_has_family(const struct plan_rotate *r, int family);

#endif
