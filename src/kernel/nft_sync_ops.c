/*
 * What a reconciliation batch holds: from the plan and what the table has,
 * the ops (add, flush, delete) that bring the table to the plan's shape.
 * Sets that exist with the right type are left alone, so their elements
 * survive an engine restart; chains are flushed and refilled in the same
 * transaction, so no packet sees them empty.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/set.h>

#include "util/log.h"
#include "builders/build.h"
#include "kernel/nft_sync.h"

/* Sized by its initializer: a count that differs from SYNC_NCHAINS fails to build. */
const struct sync_chain sync_chains[] = {
	/* This host's services, those behind it (docs/design.md, decision 13). */
	{ NFT_CHAIN_GUARD_IN, NF_INET_LOCAL_IN, NFT_PRIO_GUARD, CHAIN_GUARD_IN, "filter" },
	{ NFT_CHAIN_GUARD_FWD, NF_INET_FORWARD, NFT_PRIO_GUARD, CHAIN_GUARD_FWD, "filter" },
	{ NFT_CHAIN_DIVERT, NF_INET_LOCAL_IN, NFT_PRIO_DIVERT, CHAIN_DIVERT, "filter" },
	/* Before routing: a held packet is routed when it is let go
	 * (docs/design.md, decision 4). */
	{ NFT_CHAIN_ACTIVITY, NF_INET_PRE_ROUTING, NFT_PRIO_ACTIVITY, CHAIN_ACTIVITY,
	    "filter" },
	/* The host's own traffic: held on the route it had (docs/activity.md). */
	{ NFT_CHAIN_ACTIVITY_OUT, NF_INET_LOCAL_OUT, NFT_PRIO_ACTIVITY,
	    CHAIN_ACTIVITY_OUT, "filter" },
	/* Blocked sources go before anything else sees them, local or forwarded. */
	{ NFT_CHAIN_COUNT_PRE, NF_INET_PRE_ROUTING, NFT_PRIO_GUARD, CHAIN_COUNT_PRE,
	    "filter" },
	/* Input and forward: a packet passes one of them once (docs/count.md). */
	{ NFT_CHAIN_COUNT_IN, NF_INET_LOCAL_IN, NFT_PRIO_COUNT, CHAIN_COUNT, "filter" },
	{ NFT_CHAIN_COUNT_FWD, NF_INET_FORWARD, NFT_PRIO_COUNT, CHAIN_COUNT, "filter" },
	{ NFT_CHAIN_ROTATE, NF_INET_POST_ROUTING, NFT_PRIO_SRCNAT, CHAIN_ROTATE, "nat" },
};

static bool
plan_has_guards(const struct plan *p, bool fwd)
{
	int i;

	for (i = 0; i < p->nguards; i++)
		if ((p->guards[i].dst.family != 0) == fwd)
			return true;
	return false;
}

/* Count triggers with rules in count_pre (threshold) or count_in/count_fwd. */
static bool
plan_has_counts(const struct plan *p, bool threshold)
{
	const struct plan_count *c;
	int i;

	for (i = 0; i < p->ncounts; i++) {
		c = &p->counts[i];
		if (threshold ? c->kind == CONFIG_COUNT_THRESHOLD :
		    c->kind == CONFIG_COUNT_EVERY || c->path == CONFIG_PATH_ENGINE)
			return true;
	}
	return false;
}

/*
 * An activity trigger whose match names an input interface cannot match
 * the host's own traffic, which has none: it has no output rules.
 */
static bool
activity_sees_own(const struct plan_activity *a)
{
	return !match_uses_ifs(&a->match, MATCH_IIF);
}

static bool
plan_has_own_activity(const struct plan *p)
{
	int i;

	for (i = 0; i < p->nactivities; i++)
		if (activity_sees_own(&p->activities[i]))
			return true;
	return false;
}

static bool
plan_has_rotates(const struct plan *p)
{
	int i;

	for (i = 0; i < p->nrotates; i++)
		if (plan_rotate_has_family(&p->rotates[i], AF_INET) ||
		    plan_rotate_has_family(&p->rotates[i], AF_INET6))
			return true;
	return false;
}

/* A chain is in the plan when it would hold at least one rule. */
static bool
chain_planned(const struct plan *p, int i)
{
	switch (sync_chains[i].kind) {
	case CHAIN_DIVERT:
		return p->ndivert > 0;
	case CHAIN_ACTIVITY:
		return p->nactivities > 0;
	case CHAIN_ACTIVITY_OUT:
		return plan_has_own_activity(p);
	case CHAIN_COUNT_PRE:
		return plan_has_counts(p, true);
	case CHAIN_COUNT:
		return plan_has_counts(p, false);
	case CHAIN_ROTATE:
		return plan_has_rotates(p);
	case CHAIN_GUARD_FWD:
		return plan_has_guards(p, true);
	default:
		return plan_has_guards(p, false);
	}
}

/* Index of the planned chain an existing one is, -1 if it is none or differs. */
static int
chain_match(const struct plan *p, struct nftnl_chain *c)
{
	const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	const char *type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
	int i;

	for (i = 0; i < SYNC_NCHAINS; i++) {
		if (strcmp(name, sync_chains[i].name) != 0 || !chain_planned(p, i))
			continue;
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) &&
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == sync_chains[i].hook &&
		    nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) == sync_chains[i].prio &&
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT &&
		    type != NULL && strcmp(type, sync_chains[i].type) == 0)
			return i;
		return -1;
	}
	return -1;
}

static bool
set_ours(const char *name)
{
	static const char *suffixes[] = {
		NFT_SET_ALLOW4, NFT_SET_ALLOW6, NFT_SET_ACTIVE, NFT_SET_FLOWS4,
		NFT_SET_FLOWS6, NFT_SET_BLOCK4, NFT_SET_BLOCK6, NFT_SET_RATE4,
		NFT_SET_RATE6, NFT_SET_POOL4, NFT_SET_POOL6, NULL
	};
	size_t len = strlen(name), sl;
	int i;

	for (i = 0; suffixes[i] != NULL; i++) {
		sl = strlen(suffixes[i]);
		if (len > sl && strcmp(name + len - sl, suffixes[i]) == 0)
			return true;
	}
	return false;
}

/* A set the plan needs. */
struct plan_set {
	const char *name;
	uint8_t kind;		/* enum set_kind */
	int trigger;		/* in plan.triggers (SET_ALLOW), plan.activities,
				 * plan.counts or plan.rotates, by kind */
	int family;		/* AF_INET, AF_INET6; 0 for SET_ACTIVE */
	uint64_t timeout_ms;	/* SET_RATE: the default element timeout */
};
#define PLAN_SETS_MAX	(CONFIG_TRIGGERS_MAX * 4)

/* Sets of count triggers (block, bucket) and rotate triggers (pool maps). */
static int
plan_sets_count_rotate(const struct plan *p, struct plan_set *out, int n)
{
	const struct plan_count *c;
	const struct plan_rotate *r;
	int i, f, fam;

	for (i = 0; i < p->ncounts; i++) {
		c = &p->counts[i];
		for (f = 0; f < 2 && c->kind == CONFIG_COUNT_THRESHOLD; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (!match_has_family(&c->match, fam))
				continue;
			out[n++] = (struct plan_set){ f ? c->block6 : c->block4,
			    SET_BLOCK, i, fam, 0 };
			if (c->path == CONFIG_PATH_KERNEL)
				out[n++] = (struct plan_set){ f ? c->rate6 :
				    c->rate4, SET_RATE, i, fam, c->period_ms };
		}
	}
	for (i = 0; i < p->nrotates; i++) {
		r = &p->rotates[i];
		for (f = 0; f < 2; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (r->mode == CONFIG_ROTATE && !r->pool[f].prefix &&
			    plan_rotate_has_family(r, fam))
				out[n++] = (struct plan_set){ f ? r->pool6 :
				    r->pool4, SET_POOL, i, fam, 0 };
		}
	}
	return n;
}

/* Every set of the plan into out (PLAN_SETS_MAX); returns how many. */
static int
plan_sets(const struct plan *p, struct plan_set *out)
{
	const struct plan_activity *a;
	int i, f, fam, n = 0;

	for (i = 0; i < p->ntriggers; i++)
		for (f = 0; f < 2; f++)
			out[n++] = (struct plan_set){ f ? p->triggers[i].set6 :
			    p->triggers[i].set4, SET_ALLOW, i, f ? AF_INET6 :
			    AF_INET, 0 };
	for (i = 0; i < p->nactivities; i++) {
		a = &p->activities[i];
		if (!a->nflog)
			out[n++] = (struct plan_set){ a->active, SET_ACTIVE, i, 0,
			    0 };
		for (f = 0; f < 2; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (match_has_family(&a->match, fam))
				out[n++] = (struct plan_set){ f ? a->flows6 :
				    a->flows4, SET_FLOWS, i, fam, 0 };
		}
	}
	return plan_sets_count_rotate(p, out, n);
}

static bool
set_planned(const struct plan *p, const char *name)
{
	struct plan_set ps[PLAN_SETS_MAX];
	int i, n = plan_sets(p, ps);

	for (i = 0; i < n; i++)
		if (strcmp(name, ps[i].name) == 0)
			return true;
	return false;
}

/* A bounded set keeps its bound: a new max_sources needs a new set. */
static bool
set_size_fits(struct nftnl_set *s, const struct plan_set *ps, uint32_t size)
{
	uint32_t have = nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE) ?
	    nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE) : 0;

	if (ps->kind == SET_ACTIVE || ps->kind == SET_POOL)
		return true;
	return have == size;
}

/* Whether an existing set has the shape the plan wants for it. */
static bool
set_fits(struct nftnl_set *s, const struct plan_set *ps, uint32_t size)
{
	uint32_t kind = NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_OBJECT |
	    NFT_SET_CONCAT | NFT_SET_TIMEOUT;
	uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	uint32_t klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	uint32_t alen = ps->family == AF_INET ? 4 : 16;

	if (!set_size_fits(s, ps, size))
		return false;
	switch (ps->kind) {
	case SET_ACTIVE:
		return klen == sizeof(uint32_t) && (flags & kind) == 0;
	case SET_FLOWS:
		return klen == alen * 2 && (flags & (kind | NFT_SET_EVAL)) ==
		    (NFT_SET_TIMEOUT | NFT_SET_EVAL);
	case SET_BLOCK:
		return klen == alen && (flags & (kind | NFT_SET_EVAL)) ==
		    (NFT_SET_TIMEOUT | NFT_SET_EVAL);
	case SET_RATE:
		/* A new period needs new buckets: the old ones count another rate. */
		return klen == alen && (flags & (kind | NFT_SET_EVAL)) ==
		    (NFT_SET_TIMEOUT | NFT_SET_EVAL) &&
		    nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT) == ps->timeout_ms;
	case SET_POOL:
		/* A mark key (older versions) does not survive nft -f: redo it. */
		return klen == sizeof(uint32_t) && (flags & kind) == NFT_SET_MAP &&
		    nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE) == NFT_POOL_KEY_TYPE &&
		    nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN) == alen;
	default:
		return klen == alen && (flags & kind) == NFT_SET_TIMEOUT;
	}
}

static struct sync_op *
op_add(struct sync *s, uint8_t kind, bool essential, const char *name)
{
	struct sync_op *ops;
	size_t cap;

	if (s->nops == s->cap) {
		cap = s->cap ? (size_t)s->cap * 2 : 64;
		if ((ops = reallocarray(s->ops, cap, sizeof(*ops))) == NULL)
			return NULL;
		s->ops = ops;
		s->cap = (int)cap;
	}
	ops = &s->ops[s->nops++];
	memset(ops, 0, sizeof(*ops));
	ops->kind = kind;
	ops->essential = essential;
	ops->name = name;
	return ops;
}

/* Existing chains: flush every one, delete those that are not planned. */
static int
sync_ops_chains(struct nft *n, struct sync *s, bool keep[SYNC_NCHAINS])
{
	struct nftnl_chain_list_iter *it;
	struct nftnl_chain *c;
	const char *name;
	int i, r = 0;

	if ((it = nftnl_chain_list_iter_create(s->chains)) == NULL)
		return -1;
	while (r == 0 && (c = nftnl_chain_list_iter_next(it)) != NULL) {
		name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		if (op_add(s, SYNC_CHAIN_FLUSH, true, name) == NULL)
			r = -1;
		else if ((i = chain_match(&n->plan, c)) >= 0)
			keep[i] = true;
		else if (op_add(s, SYNC_CHAIN_DEL, false, name) == NULL)
			r = -1;
	}
	nftnl_chain_list_iter_destroy(it);
	return r;
}

/* Sets of triggers that are gone are deleted; a set of the wrong type is recreated. */
/* An op for a planned set, with the set's trigger and family. */
static struct sync_op *
op_add_set(struct sync *s, uint8_t kind, bool essential,
    const struct plan_set *ps)
{
	struct sync_op *op;

	if ((op = op_add(s, kind, essential, ps->name)) == NULL)
		return NULL;
	op->trigger = ps->trigger;
	op->family = ps->family;
	return op;
}

/* Sets of ours that the plan no longer has are deleted. */
static int
sync_ops_sets_unplanned(struct nft *n, struct sync *s)
{
	struct nftnl_set_list_iter *it;
	struct nftnl_set *set;
	const char *name;

	if ((it = nftnl_set_list_iter_create(s->sets)) == NULL)
		return -1;
	while ((set = nftnl_set_list_iter_next(it)) != NULL) {
		name = nftnl_set_get_str(set, NFTNL_SET_NAME);
		if (set_ours(name) && !set_planned(&n->plan, name) &&
		    op_add(s, SYNC_SET_DEL, false, name) == NULL)
			break;
	}
	nftnl_set_list_iter_destroy(it);
	return set != NULL ? -1 : 0;
}

/* What one planned set needs, by what the table holds of that name. */
static int
sync_ops_set(struct sync *s, const struct plan_set *ps, uint32_t size)
{
	struct nftnl_set *set = nftnl_set_list_lookup_byname(s->sets, ps->name);
	bool fits = set != NULL && set_fits(set, ps, size);
	struct sync_op *op;

	/*
	 * Pairs sampled by an earlier run must not hide the first packet
	 * from triggers that start in standby.
	 */
	if (fits && (ps->kind == SET_FLOWS || ps->kind == SET_POOL) &&
	    op_add(s, SYNC_SET_FLUSH, false, ps->name) == NULL)
		return -1;
	if (fits) {
		/* A pool is refilled on every sync: it may have changed. */
		if (ps->kind == SET_POOL &&
		    op_add_set(s, SYNC_POOL_FILL, true, ps) == NULL)
			return -1;
		return 0;
	}
	if (set != NULL) {
		log_warnx("nft: set %s has another type or size: recreating it "
		    "(its elements are lost)", ps->name);
		if (op_add(s, SYNC_SET_DEL, true, ps->name) == NULL)
			return -1;
	}
	if ((op = op_add_set(s, SYNC_SET_ADD, true, ps)) == NULL)
		return -1;
	op->set_kind = ps->kind;
	if (ps->kind == SET_POOL && op_add_set(s, SYNC_POOL_FILL, true, ps) == NULL)
		return -1;
	return 0;
}

static int
sync_ops_sets(struct nft *n, struct sync *s)
{
	struct plan_set ps[PLAN_SETS_MAX];
	int i, nps;

	if (sync_ops_sets_unplanned(n, s) < 0)
		return -1;
	nps = plan_sets(&n->plan, ps);
	for (i = 0; i < nps; i++)
		if (sync_ops_set(s, &ps[i], n->plan.set_size) < 0)
			return -1;
	return 0;
}

/* Per activity trigger, family, combination of its match and rule kind. */
static int
sync_ops_activity(struct nft *n, struct sync *s, const char *chain)
{
	const struct plan_activity *a;
	struct sync_op *op;
	int i, f, c, v, q, fam;
	int shards = build_queue_shards(&n->plan, n->native_queue);

	for (i = 0; i < n->plan.nactivities; i++) {
		a = &n->plan.activities[i];
		if (strcmp(chain, NFT_CHAIN_ACTIVITY_OUT) == 0 && !activity_sees_own(a))
			continue;
		for (f = 0; f < 2; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (!match_has_family(&a->match, fam))
				continue;
			for (c = 0; c < match_combos(&a->match); c++)
				for (v = a->nflog ? 1 : 0; v < 2; v++)
					for (q = 0; q < (a->nflog ? 1 : shards); q++) {
						op = op_add(s, SYNC_RULE_ACTIVITY,
						    true, chain);
						if (op == NULL)
							return -1;
						op->trigger = i;
						op->family = fam;
						op->port = c;
						op->sampled = v == 1;
						op->shard = q;
					}
		}
	}
	return 0;
}

/* One rule op per family the trigger's match covers and per combination. */
static int
rule_ops(struct sync *s, uint8_t kind, const char *chain, int trigger,
    const struct match *m, bool combos, int shards)
{
	struct sync_op *op;
	int f, c, q, fam;

	for (f = 0; f < 2; f++) {
		fam = f ? AF_INET6 : AF_INET;
		if (!match_has_family(m, fam))
			continue;
		for (c = 0; c < (combos ? match_combos(m) : 1); c++)
			for (q = 0; q < shards; q++) {
				if ((op = op_add(s, kind, true, chain)) == NULL)
					return -1;
				op->trigger = trigger;
				op->family = fam;
				op->port = c;
				op->shard = q;
			}
	}
	return 0;
}

/*
 * count_pre: every block rule first, so a source one trigger blocked fills
 * no other trigger's buckets; then the kernel-path buckets.
 */
static int
sync_ops_count_pre(struct nft *n, struct sync *s)
{
	const struct plan_count *c;
	int i;

	for (i = 0; i < n->plan.ncounts; i++) {
		c = &n->plan.counts[i];
		if (c->kind == CONFIG_COUNT_THRESHOLD && rule_ops(s,
		    SYNC_RULE_COUNT_BLOCK, NFT_CHAIN_COUNT_PRE, i, &c->match,
		    false, 1) < 0)
			return -1;
	}
	for (i = 0; i < n->plan.ncounts; i++) {
		c = &n->plan.counts[i];
		if (c->kind == CONFIG_COUNT_THRESHOLD &&
		    c->path == CONFIG_PATH_KERNEL && rule_ops(s,
		    SYNC_RULE_COUNT_METER, NFT_CHAIN_COUNT_PRE, i, &c->match,
		    true, 1) < 0)
			return -1;
	}
	return 0;
}

/*
 * count_in, count_fwd: logging rules first, since a queue verdict ends the
 * chain and a log does not; then the queued ones, which the engine
 * dispatches to every queue-fed trigger that matches.
 */
static int
sync_ops_count(struct nft *n, struct sync *s, const char *chain)
{
	const struct plan_count *c;
	int i, pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n->plan.ncounts; i++) {
			c = &n->plan.counts[i];
			if (c->kind == CONFIG_COUNT_THRESHOLD &&
			    c->path != CONFIG_PATH_ENGINE)
				continue;
			if (c->nflog != (pass == 0))
				continue;
			if (rule_ops(s, SYNC_RULE_COUNT_DIVERT, chain, i,
			    &c->match, true, c->nflog ? 1 :
			    build_queue_shards(&n->plan, n->native_queue)) < 0)
				return -1;
		}
	return 0;
}

/* rotate: in file order, the first rule that matches translates. */
static int
sync_ops_rotate(struct nft *n, struct sync *s)
{
	const struct plan_rotate *r;
	struct sync_op *op;
	int i, f, c, fam;

	for (i = 0; i < n->plan.nrotates; i++) {
		r = &n->plan.rotates[i];
		for (f = 0; f < 2; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (!plan_rotate_has_family(r, fam))
				continue;
			for (c = 0; c < match_combos(&r->match); c++) {
				op = op_add(s, SYNC_RULE_ROTATE, true, NFT_CHAIN_ROTATE);
				if (op == NULL)
					return -1;
				op->trigger = i;
				op->family = fam;
				op->port = c;
			}
		}
	}
	return 0;
}

static int
sync_ops_rules(struct nft *n, struct sync *s, int chain)
{
	const struct plan *p = &n->plan;
	struct sync_op *op;
	int i, j, f, q;
	bool one;

	switch (sync_chains[chain].kind) {
	case CHAIN_ACTIVITY:
	case CHAIN_ACTIVITY_OUT:
		return sync_ops_activity(n, s, sync_chains[chain].name);
	case CHAIN_COUNT_PRE:
		return sync_ops_count_pre(n, s);
	case CHAIN_COUNT:
		return sync_ops_count(n, s, sync_chains[chain].name);
	case CHAIN_ROTATE:
		return sync_ops_rotate(n, s);
	}
	if (sync_chains[chain].kind == CHAIN_DIVERT) {
		/* Several queues: per family, the source address picks one. */
		one = p->queue_first == p->queue_last;
		for (j = 0; j < p->ndivert; j++)
			for (f = one ? 2 : 0; f < (one ? 3 : 2); f++)
				for (q = 0; q < build_queue_shards(p, n->native_queue); q++) {
					op = op_add(s, SYNC_RULE_DIVERT, true,
					    NFT_CHAIN_DIVERT);
					if (op == NULL)
						return -1;
					op->port = j;
					op->family = f == 0 ? AF_INET : f == 1 ?
					    AF_INET6 : 0;
					op->shard = q;
				}
		return 0;
	}
	/* One rule per guarded service and family, in its chain. */
	for (i = 0; i < p->nguards; i++)
		for (f = 0; f < 2; f++) {
			if (strcmp(plan_guard_chain(&p->guards[i]),
			    sync_chains[chain].name) != 0 ||
			    !plan_guard_has_family(&p->guards[i], f ? AF_INET6 : AF_INET))
				continue;
			op = op_add(s, SYNC_RULE_GUARD, true, sync_chains[chain].name);
			if (op == NULL)
				return -1;
			op->port = i;
			op->family = f ? AF_INET6 : AF_INET;
		}
	return 0;
}

int
sync_ops(struct nft *n, struct sync *s)
{
	bool keep[SYNC_NCHAINS] = { false };
	struct sync_op *op;
	int i;

	if (op_add(s, SYNC_TABLE_ADD, true, n->plan.table) == NULL)
		return -1;
	if (n->plan.manage_rules && sync_ops_chains(n, s, keep) < 0)
		return -1;
	if (sync_ops_sets(n, s) < 0)
		return -1;
	if (!n->plan.manage_rules)
		return 0;
	for (i = 0; i < SYNC_NCHAINS; i++) {
		if (!chain_planned(&n->plan, i))
			continue;
		if (!keep[i]) {
			if ((op = op_add(s, SYNC_CHAIN_ADD, true, sync_chains[i].name)) == NULL)
				return -1;
			op->chain = i;
		}
		if (sync_ops_rules(n, s, i) < 0)
			return -1;
	}
	return 0;
}
