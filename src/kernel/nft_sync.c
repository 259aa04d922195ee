/*
 * Table reconciliation: read what the engine's table holds, then one batch
 * that brings it to the plan's shape; and deleting a table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "util/log.h"
#include "builders/build.h"
#include "kernel/nft_priv.h"

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
	CHAIN_GUARD, CHAIN_DIVERT, CHAIN_ACTIVITY, CHAIN_COUNT_PRE, CHAIN_COUNT,
	CHAIN_ROTATE
};

static const struct {
	const char *name;
	uint32_t hook;
	int32_t prio;
	uint8_t kind;		/* enum chain_kind */
	const char *type;
} sync_chains[] = {
	{ NFT_CHAIN_GUARD_IN, NF_INET_LOCAL_IN, NFT_PRIO_GUARD, CHAIN_GUARD, "filter" },
	{ NFT_CHAIN_GUARD_FWD, NF_INET_FORWARD, NFT_PRIO_GUARD, CHAIN_GUARD, "filter" },
	{ NFT_CHAIN_DIVERT, NF_INET_LOCAL_IN, NFT_PRIO_DIVERT, CHAIN_DIVERT, "filter" },
	/* Before routing: a held packet is routed when it is let go (Decision 4). */
	{ NFT_CHAIN_ACTIVITY, NF_INET_PRE_ROUTING, NFT_PRIO_ACTIVITY, CHAIN_ACTIVITY,
	    "filter" },
	/* Blocked sources go before anything else sees them, local or forwarded. */
	{ NFT_CHAIN_COUNT_PRE, NF_INET_PRE_ROUTING, NFT_PRIO_GUARD, CHAIN_COUNT_PRE,
	    "filter" },
	/* Input and forward: a packet passes one of them once (docs/count.md). */
	{ NFT_CHAIN_COUNT_IN, NF_INET_LOCAL_IN, NFT_PRIO_COUNT, CHAIN_COUNT, "filter" },
	{ NFT_CHAIN_COUNT_FWD, NF_INET_FORWARD, NFT_PRIO_COUNT, CHAIN_COUNT, "filter" },
	{ NFT_CHAIN_ROTATE, NF_INET_POST_ROUTING, NFT_PRIO_SRCNAT, CHAIN_ROTATE, "nat" },
};
#define SYNC_NCHAINS	(int)(sizeof(sync_chains) / sizeof(sync_chains[0]))

static bool
plan_has_guards(const struct plan *p)
{
	int i;

	for (i = 0; i < p->ntriggers; i++)
		if (p->triggers[i].nopen > 0)
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
	case CHAIN_COUNT_PRE:
		return plan_has_counts(p, true);
	case CHAIN_COUNT:
		return plan_has_counts(p, false);
	case CHAIN_ROTATE:
		return plan_has_rotates(p);
	default:
		return plan_has_guards(p);
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

/* Whether an existing set has the shape the plan wants for it. */
static bool
set_fits(struct nftnl_set *s, const struct plan_set *ps)
{
	uint32_t kind = NFT_SET_MAP | NFT_SET_INTERVAL | NFT_SET_OBJECT |
	    NFT_SET_CONCAT | NFT_SET_TIMEOUT;
	uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	uint32_t klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	uint32_t alen = ps->family == AF_INET ? 4 : 16;

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
		return klen == sizeof(uint32_t) && (flags & kind) == NFT_SET_MAP &&
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

static int
table_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sync *s = data;
	struct nftnl_table *t;

	if ((t = nftnl_table_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), s->table) == 0)
		s->table_found = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int
set_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sync *s = data;
	struct nftnl_set *set;

	if ((set = nftnl_set_alloc()) == NULL)
		return MNL_CB_ERROR;
	/* Anonymous sets belong to rules and go with them. */
	if (nftnl_set_nlmsg_parse(nlh, set) == 0 &&
	    strcmp(nftnl_set_get_str(set, NFTNL_SET_TABLE), s->table) == 0 &&
	    !(nftnl_set_get_u32(set, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS)) {
		nftnl_set_list_add_tail(set, s->sets);
		return MNL_CB_OK;
	}
	nftnl_set_free(set);
	return MNL_CB_OK;
}

static int
chain_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sync *s = data;
	struct nftnl_chain *c;

	if ((c = nftnl_chain_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), s->table) == 0) {
		nftnl_chain_list_add_tail(c, s->chains);
		return MNL_CB_OK;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int
sync_read(struct nft *n, struct sync *s)
{
	uint32_t req[NFT_MSG_ROOM / 4];
	struct nlmsghdr *nlh;
	struct nftnl_set *filter;
	int r;

	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETTABLE, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	if (nft_dump(n, nlh, table_dump_cb, s) < 0)
		return -1;
	if (!s->table_found)
		return 0;
	if ((filter = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(filter, NFTNL_SET_TABLE, s->table);
	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETSET, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_set_nlmsg_build_payload(nlh, filter);
	nftnl_set_free(filter);
	if ((r = nft_dump(n, nlh, set_dump_cb, s)) < 0 || !n->plan.manage_rules)
		return r;
	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETCHAIN, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	return nft_dump(n, nlh, chain_dump_cb, s);
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
sync_ops_set(struct sync *s, const struct plan_set *ps)
{
	struct nftnl_set *set = nftnl_set_list_lookup_byname(s->sets, ps->name);
	bool fits = set != NULL && set_fits(set, ps);
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
		log_warnx("nft: set %s has another type: recreating it (its "
		    "elements are lost)", ps->name);
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
		if (sync_ops_set(s, &ps[i]) < 0)
			return -1;
	return 0;
}

/* Per activity trigger, family, combination of its match and rule kind. */
static int
sync_ops_activity(struct nft *n, struct sync *s)
{
	const struct plan_activity *a;
	struct sync_op *op;
	int i, f, c, v, fam;

	for (i = 0; i < n->plan.nactivities; i++) {
		a = &n->plan.activities[i];
		for (f = 0; f < 2; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (!match_has_family(&a->match, fam))
				continue;
			for (c = 0; c < match_combos(&a->match); c++)
				for (v = a->nflog ? 1 : 0; v < 2; v++) {
					op = op_add(s, SYNC_RULE_ACTIVITY, true,
					    NFT_CHAIN_ACTIVITY);
					if (op == NULL)
						return -1;
					op->trigger = i;
					op->family = fam;
					op->port = c;
					op->sampled = v == 1;
				}
		}
	}
	return 0;
}

/* One rule op per family the trigger's match covers and per combination. */
static int
rule_ops(struct sync *s, uint8_t kind, const char *chain, int trigger,
    const struct match *m, bool combos)
{
	struct sync_op *op;
	int f, c, fam;

	for (f = 0; f < 2; f++) {
		fam = f ? AF_INET6 : AF_INET;
		if (!match_has_family(m, fam))
			continue;
		for (c = 0; c < (combos ? match_combos(m) : 1); c++) {
			if ((op = op_add(s, kind, true, chain)) == NULL)
				return -1;
			op->trigger = trigger;
			op->family = fam;
			op->port = c;
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
		    false) < 0)
			return -1;
	}
	for (i = 0; i < n->plan.ncounts; i++) {
		c = &n->plan.counts[i];
		if (c->kind == CONFIG_COUNT_THRESHOLD &&
		    c->path == CONFIG_PATH_KERNEL && rule_ops(s,
		    SYNC_RULE_COUNT_METER, NFT_CHAIN_COUNT_PRE, i, &c->match,
		    true) < 0)
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
			    &c->match, true) < 0)
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
	int i, j, f;

	switch (sync_chains[chain].kind) {
	case CHAIN_ACTIVITY:
		return sync_ops_activity(n, s);
	case CHAIN_COUNT_PRE:
		return sync_ops_count_pre(n, s);
	case CHAIN_COUNT:
		return sync_ops_count(n, s, sync_chains[chain].name);
	case CHAIN_ROTATE:
		return sync_ops_rotate(n, s);
	}
	if (sync_chains[chain].kind == CHAIN_DIVERT) {
		for (j = 0; j < p->ndivert; j++) {
			if ((op = op_add(s, SYNC_RULE_DIVERT, true, NFT_CHAIN_DIVERT)) == NULL)
				return -1;
			op->port = j;
		}
		return 0;
	}
	for (i = 0; i < p->ntriggers; i++)
		for (j = 0; j < p->triggers[i].nopen; j++)
			for (f = 0; f < 2; f++) {
				op = op_add(s, SYNC_RULE_GUARD, true, sync_chains[chain].name);
				if (op == NULL)
					return -1;
				op->trigger = i;
				op->port = j;
				op->family = f ? AF_INET6 : AF_INET;
			}
	return 0;
}

static int
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

static const char *
family_str(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* A rule op as the log says it. */
static void
op_rule_str(const struct nft *n, const struct sync_op *op, char *buf, size_t len)
{
	const struct plan_trigger *t = &n->plan.triggers[op->trigger];
	const struct config_port_range *pr;
	const struct config_port *pt;

	switch (op->kind) {
	case SYNC_RULE_GUARD:
		pt = &t->open[op->port];
		snprintf(buf, len, "add rule %s: guard %s:%u of %s (%s)", op->name,
		    pt->proto == IPPROTO_TCP ? "tcp" : "udp", pt->port, t->name,
		    family_str(op->family));
		break;
	case SYNC_RULE_ACTIVITY:
		snprintf(buf, len, "add rule activity: %s (%s) combination %d, %s",
		    n->plan.activities[op->trigger].name, family_str(op->family),
		    op->port + 1, op->sampled ? "sampled" : "all while not active");
		break;
	case SYNC_RULE_COUNT_BLOCK:
	case SYNC_RULE_COUNT_METER:
	case SYNC_RULE_COUNT_DIVERT:
		snprintf(buf, len, "add rule %s: %s %s (%s) combination %d",
		    op->name, op->kind == SYNC_RULE_COUNT_BLOCK ? "block set of" :
		    op->kind == SYNC_RULE_COUNT_METER ? "threshold of" :
		    "packets of", n->plan.counts[op->trigger].name,
		    family_str(op->family), op->port + 1);
		break;
	case SYNC_RULE_ROTATE:
		snprintf(buf, len, "add rule rotate: %s (%s) combination %d",
		    n->plan.rotates[op->trigger].name, family_str(op->family),
		    op->port + 1);
		break;
	default:
		pr = &n->plan.divert[op->port];
		if (pr->lo == pr->hi)
			snprintf(buf, len, "add rule divert: %s:%u to queue %u",
			    pr->proto == IPPROTO_TCP ? "tcp" : "udp", pr->lo,
			    n->plan.queue_first);
		else
			snprintf(buf, len, "add rule divert: %s:%u-%u to queue %u",
			    pr->proto == IPPROTO_TCP ? "tcp" : "udp", pr->lo, pr->hi,
			    n->plan.queue_first);
		break;
	}
}

static const char *
op_str(const struct nft *n, const struct sync_op *op, char *buf, size_t len)
{
	static const char *const verb[] = {
		[SYNC_TABLE_ADD] = "add table inet",
		[SYNC_CHAIN_FLUSH] = "flush chain",
		[SYNC_CHAIN_DEL] = "delete chain",
		[SYNC_SET_DEL] = "delete set",
		[SYNC_SET_ADD] = "add set",
		[SYNC_SET_FLUSH] = "flush set",
		[SYNC_CHAIN_ADD] = "add chain",
		[SYNC_POOL_FILL] = "fill map",
	};

	if (op->kind < sizeof(verb) / sizeof(verb[0]) && verb[op->kind] != NULL)
		snprintf(buf, len, "%s %s", verb[op->kind], op->name);
	else
		op_rule_str(n, op, buf, len);
	return buf;
}

/* The set of a SYNC_SET_ADD step, by what it is for. */
static struct nftnl_set *
op_set_new(const struct nft *n, const struct sync_op *op, int idx)
{
	const struct plan *p = &n->plan;
	uint32_t id = (uint32_t)idx + 1;

	switch (op->set_kind) {
	case SET_ALLOW:
		return build_set(p->table, op->name, op->family, p->set_size, id);
	case SET_BLOCK:
		return build_set_block(p->table, op->name, op->family,
		    p->set_size, 0, id);
	case SET_RATE:
		return build_set_block(p->table, op->name, op->family,
		    p->set_size, p->counts[op->trigger].period_ms, id);
	case SET_POOL:
		return build_set_pool(p->table, op->name, op->family, id);
	default:
		return build_set_activity(p->table, op->name, op->family,
		    p->set_size, id);
	}
}

/* Build the libnftnl object of one step: what it is and which message. */
/* A delete or flush of a chain or set: the object names it, nothing more. */
static void *
op_del_object(const struct plan *p, const struct sync_op *op, uint16_t *type)
{
	struct nftnl_rule *r;
	struct nftnl_chain *c;
	struct nftnl_set *s;

	switch (op->kind) {
	case SYNC_CHAIN_FLUSH:
		/* A rule delete without a handle flushes the chain. */
		*type = NFT_MSG_DELRULE;
		if ((r = nftnl_rule_alloc()) == NULL)
			return NULL;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, p->table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, op->name);
		return r;
	case SYNC_CHAIN_DEL:
		*type = NFT_MSG_DELCHAIN;
		if ((c = nftnl_chain_alloc()) == NULL)
			return NULL;
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, p->table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, op->name);
		return c;
	default:
		/* An element delete without elements flushes the set. */
		*type = op->kind == SYNC_SET_DEL ? NFT_MSG_DELSET : NFT_MSG_DELSETELEM;
		if ((s = nftnl_set_alloc()) == NULL)
			return NULL;
		nftnl_set_set_str(s, NFTNL_SET_TABLE, p->table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, op->name);
		return s;
	}
}

static struct nftnl_rule *
op_rule(const struct nft *n, const struct sync_op *op)
{
	const struct plan *p = &n->plan;
	const struct plan_trigger *t = &p->triggers[op->trigger];

	switch (op->kind) {
	case SYNC_RULE_COUNT_BLOCK:
		return build_rule_count_block(p, &p->counts[op->trigger], op->family);
	case SYNC_RULE_COUNT_METER:
		return build_rule_count_meter(p, &p->counts[op->trigger], op->family,
		    op->port);
	case SYNC_RULE_COUNT_DIVERT:
		return build_rule_count_divert(p, &p->counts[op->trigger], op->name,
		    op->family, op->port, n->native_queue);
	case SYNC_RULE_ROTATE:
		return build_rule_rotate(p, &p->rotates[op->trigger], op->family,
		    op->port);
	case SYNC_RULE_GUARD:
		return build_rule_guard(p, op->name, t, &t->open[op->port], op->family);
	case SYNC_RULE_ACTIVITY:
		return build_rule_activity(p, &p->activities[op->trigger], op->family,
		    op->port, op->sampled, n->native_queue);
	default:
		return build_rule_divert(p, &p->divert[op->port], n->native_queue);
	}
}

static void *
op_object(const struct nft *n, const struct sync_op *op, int idx,
    uint16_t *type, uint16_t *flags)
{
	const struct plan *p = &n->plan;
	struct nftnl_chain *c;

	*flags = NLM_F_CREATE;
	switch (op->kind) {
	case SYNC_TABLE_ADD:
		*type = NFT_MSG_NEWTABLE;
		return build_table(p->table);
	case SYNC_CHAIN_FLUSH:
	case SYNC_CHAIN_DEL:
	case SYNC_SET_DEL:
	case SYNC_SET_FLUSH:
		*flags = 0;
		return op_del_object(p, op, type);
	case SYNC_SET_ADD:
		*type = NFT_MSG_NEWSET;
		return op_set_new(n, op, idx);
	case SYNC_POOL_FILL:
		*type = NFT_MSG_NEWSETELEM;
		return build_set_pool_elems(p->table, op->name, op->family,
		    &p->rotates[op->trigger].pool[op->family == AF_INET6]);
	case SYNC_CHAIN_ADD:
		*type = NFT_MSG_NEWCHAIN;
		if ((c = build_chain(p->table, op->name, sync_chains[op->chain].hook,
		    sync_chains[op->chain].prio)) != NULL)
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE,
			    sync_chains[op->chain].type);
		return c;
	default:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return op_rule(n, op);
	}
}

static int
op_emit(struct nft *n, const struct sync_op *op, int idx)
{
	struct nlmsghdr *nlh;
	uint16_t type, flags;
	void *obj;

	if ((obj = op_object(n, op, idx, &type, &flags)) == NULL)
		return -1;
	if ((nlh = nft_tx_msg(n, type, flags, OP_SYNC, idx)) != NULL) {
		switch (type) {
		case NFT_MSG_NEWTABLE:
			nftnl_table_nlmsg_build_payload(nlh, obj);
			break;
		case NFT_MSG_NEWCHAIN:
		case NFT_MSG_DELCHAIN:
			nftnl_chain_nlmsg_build_payload(nlh, obj);
			break;
		case NFT_MSG_NEWSET:
		case NFT_MSG_DELSET:
			nftnl_set_nlmsg_build_payload(nlh, obj);
			break;
		case NFT_MSG_NEWSETELEM:
		case NFT_MSG_DELSETELEM:
			nftnl_set_elems_nlmsg_build_payload(nlh, obj);
			break;
		default:
			nftnl_rule_nlmsg_build_payload(nlh, obj);
			break;
		}
		nft_tx_put(n, nlh);
	}
	switch (type) {
	case NFT_MSG_NEWTABLE:
		nftnl_table_free(obj);
		break;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		nftnl_chain_free(obj);
		break;
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		nftnl_set_free(obj);
		break;
	default:
		nftnl_rule_free(obj);
		break;
	}
	return nlh == NULL ? -1 : 0;
}

static void
sync_ack(struct nft *n, const struct nft_msg *m, const char *why, void *arg)
{
	struct sync *s = arg;
	struct sync_op *op = &s->ops[m->ref];
	char what[160];

	op->failed = true;
	log_warnx("nft: %s: %s%s%s", op_str(n, op, what, sizeof(what)),
	    strerror(m->err), *why ? ": " : "", why);
}

/* Send the steps; a refused one is logged and left out of the next round. */
static int
sync_send(struct nft *n, struct sync *s)
{
	int round, i, rc;

	for (round = 0; round < NFT_ROUNDS; round++) {
		if (nft_tx_begin(n) < 0)
			return -1;
		for (i = 0; i < s->nops; i++)
			if (!s->ops[i].failed && op_emit(n, &s->ops[i], i) < 0)
				return -1;
		if (n->nmsgs == 0)
			return 0;
		if ((rc = nft_tx_send(n, sync_ack, s)) <= 0)
			return rc;
	}
	log_warnx("nft: table inet %s: still refused after %d rounds",
	    n->plan.table, NFT_ROUNDS);
	return -1;
}

static int
sync_result(struct nft *n, const struct sync *s)
{
	int i, bad = 0;

	for (i = 0; i < s->nops; i++)
		bad += s->ops[i].failed && s->ops[i].essential;
	if (!s->ops[0].failed) {
		if (!s->table_found && n->synced) {
			n->c.table_recreated++;
			log_warnx("nft: table inet %s was gone: recreated",
			    n->plan.table);
		}
		n->synced = true;
	}
	if (bad > 0)
		log_warnx("nft: table inet %s: %d changes refused", n->plan.table, bad);
	return bad > 0 ? -1 : 0;
}

int
nft_sync_plan(struct nft *n)
{
	struct sync s = { .table = n->plan.table };
	int rc = -1;

	s.sets = nftnl_set_list_alloc();
	s.chains = nftnl_chain_list_alloc();
	if (s.sets == NULL || s.chains == NULL)
		log_warnx("nft: out of memory");
	else if (sync_read(n, &s) < 0)
		log_warn("nft: reading table inet %s", n->plan.table);
	else if (sync_ops(n, &s) < 0)
		log_warnx("nft: out of memory");
	else if (sync_send(n, &s) == 0)
		rc = sync_result(n, &s);
	if (n->synced)
		nft_sampling_apply(n);
	if (s.sets != NULL)
		nftnl_set_list_free(s.sets);
	if (s.chains != NULL)
		nftnl_chain_list_free(s.chains);
	free(s.ops);
	return rc;
}

/*
 * The count and rotate arrays of a plan are sized for the most triggers
 * there may be; only the entries in use are copied, so the pages of the
 * rest are never touched and cost no memory (about 250 KiB).
 */
static void
plan_copy(struct plan *to, const struct plan *from)
{
	_Static_assert(offsetof(struct plan, counts) <
	    offsetof(struct plan, rotates), "counts, then rotates, last");
	memcpy(to, from, offsetof(struct plan, counts));
	memcpy(to->counts, from->counts, sizeof(from->counts[0]) *
	    (size_t)from->ncounts);
	to->ncounts = from->ncounts;
	memcpy(to->rotates, from->rotates, sizeof(from->rotates[0]) *
	    (size_t)from->nrotates);
	to->nrotates = from->nrotates;
}

int
nft_table_sync(struct nft *n, const struct config *cfg)
{
	struct plan *p;
	int rc;

	if ((p = malloc(sizeof(*p))) == NULL || plan_build(p, cfg) < 0) {
		free(p);
		return -1;
	}
	if (n->npending > 0)
		nft_batch_flush(n);
	if (n->have_plan && strcmp(n->plan.table, p->table) != 0)
		log_info("nft: table inet %s is kept; delete it by hand if it is "
		    "no longer wanted", n->plan.table);
	if (!n->have_plan || strcmp(n->plan.table, p->table) != 0)
		n->synced = false;
	plan_copy(&n->plan, p);
	free(p);
	n->have_plan = true;
	/* Triggers start in standby: every switch off (a kept table may have one on). */
	memset(n->sampling, 0, sizeof(n->sampling));
	if (nft_esets_build(n) < 0) {
		log_warnx("nft: out of memory");
		n->have_plan = false;
		return -1;
	}
	rc = nft_sync_plan(n);
	if (n->plan.manage_rules)
		log_info("nft: table inet %s: %d triggers, divert through %s",
		    n->plan.table, n->plan.ntriggers + n->plan.nactivities +
		    n->plan.ncounts + n->plan.nrotates,
		    n->native_queue ? "the nft queue expression" :
		    "the xtables NFQUEUE target");
	else
		log_info("nft: table inet %s: %d triggers, sets only "
		    "(manage_rules = no)", n->plan.table,
		    n->plan.ntriggers + n->plan.nactivities + n->plan.ncounts +
		    n->plan.nrotates);
	return rc;
}

int
nft_table_delete(struct nft *n, const char *table)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	int rc;

	if (n->have_plan && strcmp(n->plan.table, table) == 0) {
		n->have_plan = false;
		n->synced = false;
		n->npending = 0;
	}
	if (nft_tx_begin(n) < 0 || (t = build_table(table)) == NULL)
		return -1;
	if ((nlh = nft_tx_msg(n, NFT_MSG_DELTABLE, 0, OP_SYNC, 0)) == NULL) {
		nftnl_table_free(t);
		return -1;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	nft_tx_put(n, nlh);
	if ((rc = nft_tx_send(n, NULL, NULL)) < 0)
		return -1;
	if (rc > 0 && n->msgs[0].err != ENOENT) {
		errno = n->msgs[0].err;
		log_warn("nft: delete table inet %s", table);
		return -1;
	}
	log_info("nft: table inet %s %s", table, rc > 0 ? "was not there" : "deleted");
	return 0;
}
