/*
 * What the two halves of table reconciliation share: nft_sync.c reads the
 * table and sends the batch, nft_sync_ops.c decides what the batch holds.
 * Private to src/kernel.
 */
#ifndef NFQT_NFT_SYNC_H
#define NFQT_NFT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/nft_priv.h"

struct nftnl_set_list;
struct nftnl_chain_list;

/*
 * Reconciliation: read what the table holds, then one batch that brings it
 * to the plan's shape. Sets that exist with the right type are left alone,
 * so their elements survive an engine restart; chains are flushed and
 * refilled in the same transaction, so no packet sees them empty.
 */
enum sync_kind {
	SYNC_TABLE_ADD,
	SYNC_CHAIN_FLUSH,
	SYNC_CHAIN_DEL,
	SYNC_SET_DEL,
	SYNC_SET_ADD,
	SYNC_SET_FLUSH,
	SYNC_CHAIN_ADD,
	SYNC_RULE_GUARD,
	SYNC_RULE_DIVERT,
	SYNC_RULE_ACTIVITY,
	SYNC_POOL_FILL,
	SYNC_RULE_COUNT_BLOCK,
	SYNC_RULE_COUNT_METER,
	SYNC_RULE_COUNT_DIVERT,
	SYNC_RULE_ROTATE,
};

/* What a set of ours is for; each has its own shape. */
enum set_kind { SET_ALLOW, SET_ACTIVE, SET_FLOWS, SET_BLOCK, SET_RATE, SET_POOL };

struct sync_op {
	uint8_t kind;		/* enum sync_kind */
	bool essential;		/* without it the table has the wrong shape */
	bool failed;
	const char *name;	/* chain or set; owned by the plan or a dump */
	int chain;		/* index in sync_chains[] */
	int trigger;
	int port;		/* in the trigger's open ports, or plan's divert ports;
				 * an activity rule's combination */
	int family;
	uint8_t set_kind;	/* enum set_kind of SYNC_SET_ADD */
	bool sampled;		/* activity rule 1 (build_rule_activity()) */
	int shard;		/* queue rules: which of build_queue_shards() */
};

struct sync {
	struct sync_op *ops;
	int nops, cap;
	bool table_found;
	struct nftnl_set_list *sets;		/* what our table holds */
	struct nftnl_chain_list *chains;
	const char *table;
};

enum chain_kind {
	CHAIN_GUARD_IN, CHAIN_GUARD_FWD, CHAIN_DIVERT, CHAIN_ACTIVITY,
	CHAIN_ACTIVITY_OUT, CHAIN_COUNT_PRE, CHAIN_COUNT,
	CHAIN_ROTATE
};

struct sync_chain {
	const char *name;
	uint32_t hook;
	int32_t prio;
	uint8_t kind;		/* enum chain_kind */
	const char *type;
};

/* The chains the engine's table may hold (nft_sync_ops.c). */
#define SYNC_NCHAINS	9
extern const struct sync_chain sync_chains[SYNC_NCHAINS];

/*
 * The ops that bring the table s read to the plan's shape (nft_sync_ops.c).
 * Returns 0, or -1 when out of memory.
 */
int sync_ops(struct nft *n, struct sync *s);

#endif
