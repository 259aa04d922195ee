/*
 * Table reconciliation (kernel): read what the engine's table holds (three
 * dumps), then send the one batch nft_sync_ops.c made of it, and log what
 * the kernel refused; and deleting a table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "util/log.h"
#include "builders/build.h"
#include "kernel/nft_sync.h"

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


static const char *
family_str(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* A rule op as the log says it. */
static void
op_rule_str(const struct nft *n, const struct sync_op *op, char *buf, size_t len)
{
	const struct config_port_range *pr;
	const struct config_port *pt;

	switch (op->kind) {
	case SYNC_RULE_GUARD:
		pt = &n->plan.guards[op->port].port;
		snprintf(buf, len, "add rule %s: guard %s:%u of %s%s (%s)", op->name,
		    pt->proto == IPPROTO_TCP ? "tcp" : "udp", pt->port,
		    n->plan.triggers[n->plan.guards[op->port].triggers[0]].name,
		    n->plan.guards[op->port].ntriggers > 1 ? " and others" : "",
		    family_str(op->family));
		break;
	case SYNC_RULE_ACTIVITY:
		snprintf(buf, len, "add rule %s: %s (%s) combination %d, %s",
		    op->name, n->plan.activities[op->trigger].name,
		    family_str(op->family),
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
		return build_set_pool(p->table, op->name, op->family,
		    (uint32_t)p->rotates[op->trigger].pool[op->family == AF_INET6].n,
		    p->rotates[op->trigger].policy == CONFIG_RANDOM, id);
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

	switch (op->kind) {
	case SYNC_RULE_COUNT_BLOCK:
		return build_rule_count_block(p, &p->counts[op->trigger], op->family);
	case SYNC_RULE_COUNT_METER:
		return build_rule_count_meter(p, &p->counts[op->trigger], op->family,
		    op->port);
	case SYNC_RULE_COUNT_DIVERT:
		return build_rule_count_divert(p, &p->counts[op->trigger], op->name,
		    op->family, op->port, op->shard, n->native_queue);
	case SYNC_RULE_ROTATE:
		return build_rule_rotate(p, &p->rotates[op->trigger], op->family,
		    op->port);
	case SYNC_RULE_GUARD:
		return build_rule_guard(p, &p->guards[op->port], op->family);
	case SYNC_RULE_ACTIVITY:
		return build_rule_activity(p, &p->activities[op->trigger], op->name,
		    op->family, op->port, op->sampled, op->shard, n->native_queue);
	default:
		return build_rule_divert(p, &p->divert[op->port], op->family,
		    op->shard, n->native_queue);
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
 * A plan's arrays are sized for the most entries there may be; only the
 * entries in use are copied, so the pages of the rest of the handle's plan
 * are never touched and cost no memory (about 350 KiB).
 */
static void
plan_copy(struct plan *to, const struct plan *from)
{
	memcpy(to, from, offsetof(struct plan, triggers));
#define PLAN_COPY_USED(a, n) \
	memcpy(to->a, from->a, sizeof(from->a[0]) * (size_t)from->n)
	PLAN_COPY_USED(triggers, ntriggers);
	PLAN_COPY_USED(guards, nguards);
	PLAN_COPY_USED(divert, ndivert);
	PLAN_COPY_USED(activities, nactivities);
	PLAN_COPY_USED(counts, ncounts);
	PLAN_COPY_USED(rotates, nrotates);
#undef PLAN_COPY_USED
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
