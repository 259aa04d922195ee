/*
 * The element queue: allow and block set changes wait here until the loop
 * pass flushes them in one batch. A refused element is logged with the
 * kernel's reason and the rest resent without it; a missing table or set is
 * rebuilt from the plan and the batch resent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/netfilter/nf_tables.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>

#include "util/log.h"
#include "kernel/nft_priv.h"

/*
 * Elements.
 */
static const char *
elem_str(const struct nft_elem *el, char *buf, size_t len)
{
	if (inet_ntop(el->family, el->addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* The set of element target i: a knock's allow set, or a count's block set. */
static const char *
esets_name(const struct nft *n, int i, int family)
{
	const struct plan_trigger *t;
	const struct plan_count *c;

	if (i < n->plan.ntriggers) {
		t = &n->plan.triggers[i];
		return family == AF_INET ? t->set4 : t->set6;
	}
	c = &n->plan.counts[i - n->plan.ntriggers];
	return family == AF_INET ? c->block4 : c->block6;
}

static const char *
elem_set(const struct nft *n, const struct nft_elem *el)
{
	return esets_name(n, el->trigger, el->family);
}

static int
elem_emit(struct nft *n, int idx, uint8_t op)
{
	struct nft_elem *el = &n->pending[idx];
	int f = el->family == AF_INET6;
	struct nftnl_set_elem *e = n->eelems[el->trigger][f];
	struct nlmsghdr *nlh;
	bool add = op == OP_ELEM_ADD;

	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->addr, f ? 16 : 4);
	if (add && el->timeout_ms > 0)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, el->timeout_ms);
	else
		nftnl_set_elem_unset(e, NFTNL_SET_ELEM_TIMEOUT);
	/* No NLM_F_EXCL: adding an element that is there refreshes it (6.12+). */
	nlh = nft_tx_msg(n, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
	    add ? NLM_F_CREATE : 0, op, idx);
	if (nlh == NULL)
		return -1;
	nftnl_set_elems_nlmsg_build_payload(nlh, n->esets[el->trigger][f]);
	nft_tx_put(n, nlh);
	return 0;
}

static bool
elem_groups(const struct nft_elem *el, const struct nft_elem *first)
{
	return el->state == ELEM_PENDING && !el->del && !el->refresh_del &&
	    !el->alone && el->trigger == first->trigger &&
	    el->family == first->family;
}

/*
 * Adds from pending[first] on, to the same set, into one message: up to
 * NFT_ELEMS_PER_MSG of them, ending before the first that does not fit the
 * group. *next is where the caller goes on.
 */
static int
elem_emit_many(struct nft *n, int first, int to, int *next)
{
	struct nft_elem *head = &n->pending[first], *el;
	int f = head->family == AF_INET6, i, k = 0;
	struct nftnl_set_elem *e = n->eelems[head->trigger][f];
	struct nlattr *list, *one;
	struct nlmsghdr *nlh;

	/* No NLM_F_EXCL: adding an element that is there refreshes it (6.12+). */
	nlh = nft_tx_msg(n, NFT_MSG_NEWSETELEM, NLM_F_CREATE, OP_ELEM_ADD_MANY,
	    first);
	if (nlh == NULL)
		return -1;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, n->plan.table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET,
	    esets_name(n, head->trigger, head->family));
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (i = first; i < to && k < NFT_ELEMS_PER_MSG; i++) {
		el = &n->pending[i];
		if (el->state != ELEM_PENDING)
			continue;
		if (!elem_groups(el, head))
			break;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->addr, f ? 16 : 4);
		if (el->timeout_ms > 0)
			nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, el->timeout_ms);
		else
			nftnl_set_elem_unset(e, NFTNL_SET_ELEM_TIMEOUT);
		one = mnl_attr_nest_start(nlh, (uint16_t)++k);
		nftnl_set_elem_nlmsg_build_payload(nlh, e);
		mnl_attr_nest_end(nlh, one);
	}
	mnl_attr_nest_end(nlh, list);
	n->msgs[n->nmsgs - 1].nref = i - first;
	nft_tx_put(n, nlh);
	*next = i;
	return 0;
}

static void
elem_fail(struct nft *n, struct nft_elem *el, int err, const char *why)
{
	char a[INET6_ADDRSTRLEN];

	el->state = ELEM_FAILED;
	n->c.elems_failed++;
	if (!el->del && (err == ENFILE || err == ENOSPC || err == E2BIG)) {
		n->c.set_full++;
		log_warnx("nft: add %s to set inet %s %s refused: the set is "
		    "full (%u elements, max_sources)", elem_str(el, a, sizeof(a)),
		    n->plan.table, elem_set(n, el), n->plan.set_size);
		return;
	}
	log_warnx("nft: %s %s %s set inet %s %s refused: %s%s%s",
	    el->del ? "delete" : "add", elem_str(el, a, sizeof(a)),
	    el->del ? "from" : "to", n->plan.table, elem_set(n, el),
	    strerror(err), *why ? ": " : "", why);
}

struct flush_ctx {
	bool resynced;		/* the table was rebuilt once for this chunk */
	bool need_resync;
};

/* docs/design.md, decision 3: sort each refusal out; the rest is sent again. */
static void
elem_ack(struct nft *n, const struct nft_msg *m, const char *why, void *arg)
{
	struct flush_ctx *fc = arg;
	struct nft_elem *el = &n->pending[m->ref];
	int i;

	if (m->op == OP_ELEM_ADD_MANY && m->err == ENOENT && !fc->resynced) {
		fc->need_resync = true;		/* table or set gone: rebuild */
		return;
	}
	if (m->op == OP_ELEM_ADD_MANY) {
		/* Which one? Each is sent in a message of its own next round. */
		for (i = m->ref; i < m->ref + m->nref; i++)
			n->pending[i].alone = 1;
		return;
	}
	if (el->state != ELEM_PENDING)
		return;
	if (m->op == OP_ELEM_DEL && m->err == ENOENT) {
		el->state = ELEM_DONE;		/* expired or never there: done */
		n->c.elems_deleted++;
	} else if (m->op == OP_ELEM_REFRESH_DEL && m->err == ENOENT) {
		el->refresh_del = 0;		/* not there: a plain add will do */
	} else if (m->op == OP_ELEM_ADD && m->err == ENOENT && !fc->resynced) {
		fc->need_resync = true;		/* table or set gone: rebuild */
	} else {
		elem_fail(n, el, m->err, why);
	}
}

static int
flush_build(struct nft *n, int from, int to)
{
	struct nft_elem *el;
	int i, r = 0;

	if (nft_tx_begin(n) < 0)
		return -1;
	for (i = from; i < to && r == 0; i++) {
		el = &n->pending[i];
		if (el->state != ELEM_PENDING)
			continue;
		if (elem_groups(el, el)) {
			if ((r = elem_emit_many(n, i, to, &i)) == 0)
				i--;		/* the loop's i++ goes to *next */
			continue;
		}
		if (el->del)
			r = elem_emit(n, i, OP_ELEM_DEL);
		else if (el->refresh_del && (r = elem_emit(n, i, OP_ELEM_REFRESH_DEL)) == 0)
			r = elem_emit(n, i, OP_ELEM_ADD);
		else if (!el->refresh_del)
			r = elem_emit(n, i, OP_ELEM_ADD);
	}
	return r;
}

static void
flush_settle(struct nft *n, int from, int to, enum elem_state state)
{
	struct nft_elem *el;
	int i;

	for (i = from; i < to; i++) {
		el = &n->pending[i];
		if (el->state != ELEM_PENDING)
			continue;
		el->state = state;
		if (state == ELEM_DONE && el->del)
			n->c.elems_deleted++;
		else if (state == ELEM_DONE)
			n->c.elems_added++;
		else
			n->c.elems_failed++;
	}
}

/*
 * Send pending[from, to) until the kernel commits what it accepts. -1 when
 * the socket failed: what is not settled stays pending, for a retry.
 */
static int
flush_chunk(struct nft *n, int from, int to)
{
	struct flush_ctx fc = { 0 };
	int round, rc;

	for (round = 0; round < NFT_ROUNDS; round++) {
		if (flush_build(n, from, to) < 0) {
			log_warnx("nft: out of memory building a batch");
			return -1;
		}
		if (n->nmsgs == 0)
			return 0;
		fc.need_resync = false;
		n->c.batches_sent++;
		if ((rc = nft_tx_send(n, elem_ack, &fc)) == 0) {
			flush_settle(n, from, to, ELEM_DONE);
			return 0;
		}
		/* ENOBUFS lost acks: adds and deletes are safe to resend at once. */
		if (rc < 0 && errno != ENOBUFS)
			return -1;
		n->c.batches_aborted++;
		if (fc.need_resync) {
			fc.resynced = true;
			log_warnx("nft: set or table inet %s missing: rebuilding",
			    n->plan.table);
			n->c.resyncs++;
			nft_sync_plan(n);
		}
	}
	if (rc < 0)
		return -1;
	/* Refused NFT_ROUNDS times over: no use sending it again. */
	log_warnx("nft: giving up on a batch of %d messages", n->nmsgs);
	flush_settle(n, from, to, ELEM_FAILED);
	return 0;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Keep the pending elements, in order; drop what is settled. */
static int
pending_compact(struct nft *n)
{
	int i, k = 0;

	for (i = 0; i < n->npending; i++)
		if (n->pending[i].state == ELEM_PENDING)
			n->pending[k++] = n->pending[i];
	n->npending = k;
	return k;
}

/* Retries exhausted: each element left is logged and counted lost. */
static void
pending_lose(struct nft *n)
{
	char a[INET6_ADDRSTRLEN];
	struct nft_elem *el;
	int i;

	for (i = 0; i < n->npending; i++) {
		el = &n->pending[i];
		n->c.elems_lost++;
		log_warnx("nft: lost: %s %s %s set inet %s %s (not sent after "
		    "%d tries)", el->del ? "delete" : "add",
		    elem_str(el, a, sizeof(a)), el->del ? "from" : "to",
		    n->plan.table, elem_set(n, el), NFT_RETRIES_MAX + 1);
	}
	n->npending = 0;
}

int
nft_batch_flush(struct nft *n)
{
	/* With delete + add, an element takes two messages. */
	int step = n->elem_refresh ? NFT_SEND_MSGS : NFT_SEND_MSGS / 2;
	int from, to, failed = 0, i;
	bool sockfail = false;
	uint64_t wait;

	for (from = 0; from < n->npending && !sockfail; from += step) {
		to = from + step < n->npending ? from + step : n->npending;
		if (flush_chunk(n, from, to) < 0)
			sockfail = true;
	}
	for (i = 0; i < n->npending; i++)
		failed += n->pending[i].state == ELEM_FAILED;
	if (pending_compact(n) == 0) {
		if (n->retries > 0)
			log_info("nft: elements sent after %d failed tries",
			    n->retries);
		n->retries = 0;
		n->retry_at_ms = 0;
		return sockfail ? -1 : failed;
	}
	if (n->retries >= NFT_RETRIES_MAX) {
		pending_lose(n);
		n->retries = 0;
		n->retry_at_ms = 0;
		return -1;
	}
	wait = (uint64_t)NFT_RETRY_FIRST_MS << n->retries;
	n->retries++;
	n->c.flush_retries++;
	n->retry_at_ms = mono_ms() + wait;
	log_warnx("nft: %d element%s kept, sent again in %llu ms (try %d of %d)",
	    n->npending, n->npending == 1 ? "" : "s", (unsigned long long)wait,
	    n->retries + 1, NFT_RETRIES_MAX + 1);
	return -1;
}

bool
nft_batch_full(const struct nft *n)
{
	return n->npending >= NFT_PENDING_MAX;
}

uint64_t
nft_batch_due_ms(const struct nft *n)
{
	return n->npending > 0 ? n->retry_at_ms : 0;
}

/*
 * target: element target (esets_name()); -1 when the trigger has no allow
 * set, -2 when it has no block set.
 */
static int
elem_queue(struct nft *n, int target, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms, bool del)
{
	struct nft_elem *el;

	if (target < 0) {
		log_warnx("nft: no %s set for trigger '%s'", target == -1 ?
		    "allow" : "block", trigger);
		errno = ENOENT;
		return -1;
	}
	if (family != AF_INET && family != AF_INET6) {
		log_warnx("nft: address family %d for trigger %s", family, trigger);
		errno = EAFNOSUPPORT;
		return -1;
	}
	/*
	 * Past the slack too: only a caller off the packet path (a reload
	 * carrying thousands of addresses over) gets here; it may wait.
	 */
	if (n->npending == NFT_PENDING_MAX + NFT_PENDING_SLACK)
		nft_batch_flush(n);
	if (n->npending == NFT_PENDING_MAX + NFT_PENDING_SLACK) {
		n->c.elems_lost++;
		log_warnx("nft: lost: %s for trigger %s (%d changes wait for a "
		    "kernel that does not take them)", del ? "delete" : "add",
		    trigger, n->npending);
		errno = ENOBUFS;
		return -1;
	}
	el = &n->pending[n->npending++];
	memset(el, 0, sizeof(*el));
	memcpy(el->addr, addr, family == AF_INET ? 4 : 16);
	el->family = (uint8_t)family;
	el->del = del;
	el->timeout_ms = timeout_ms;
	el->refresh_del = !del && !n->elem_refresh;
	el->trigger = (int16_t)target;
	el->state = ELEM_PENDING;
	return 0;
}

static int
allow_target(const struct nft *n, const char *trigger)
{
	const struct plan_trigger *t;

	if (!n->have_plan || (t = plan_trigger_find(&n->plan, trigger)) == NULL)
		return -1;
	return (int)(t - n->plan.triggers);
}

int
nft_allow_add(struct nft *n, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms)
{
	return elem_queue(n, allow_target(n, trigger), trigger, family, addr,
	    timeout_ms, false);
}

int
nft_allow_del(struct nft *n, const char *trigger, int family,
    const uint8_t *addr)
{
	return elem_queue(n, allow_target(n, trigger), trigger, family, addr, 0,
	    true);
}

static int
block_target(const struct nft *n, const char *trigger)
{
	const struct plan_count *c;

	if (n->have_plan && (c = plan_count_find(&n->plan, trigger)) != NULL &&
	    c->kind == CONFIG_COUNT_THRESHOLD)
		return n->plan.ntriggers + (int)(c - n->plan.counts);
	return -2;
}

int
nft_block_add(struct nft *n, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms)
{
	return elem_queue(n, block_target(n, trigger), trigger, family, addr,
	    timeout_ms, false);
}

int
nft_block_del(struct nft *n, const char *trigger, int family,
    const uint8_t *addr)
{
	return elem_queue(n, block_target(n, trigger), trigger, family, addr, 0,
	    true);
}

int
nft_batch_pending(const struct nft *n)
{
	return n->npending;
}

void
nft_esets_free(struct nft *n)
{
	int i, f;

	/* Freeing a set frees the element attached to it. */
	for (i = 0; i < CONFIG_TRIGGERS_MAX; i++)
		for (f = 0; f < 2; f++) {
			if (n->esets[i][f] != NULL)
				nftnl_set_free(n->esets[i][f]);
			n->esets[i][f] = NULL;
			n->eelems[i][f] = NULL;
		}
}

/* Element messages name their set: one libnftnl set object per set we add to. */
int
nft_esets_build(struct nft *n)
{
	int i, f;

	nft_esets_free(n);
	for (i = 0; i < n->plan.ntriggers + n->plan.ncounts; i++) {
		for (f = 0; f < 2; f++) {
			n->esets[i][f] = nftnl_set_alloc();
			n->eelems[i][f] = nftnl_set_elem_alloc();
			if (n->esets[i][f] == NULL || n->eelems[i][f] == NULL) {
				if (n->eelems[i][f] != NULL)
					nftnl_set_elem_free(n->eelems[i][f]);
				n->eelems[i][f] = NULL;
				return -1;
			}
			nftnl_set_set_str(n->esets[i][f], NFTNL_SET_TABLE,
			    n->plan.table);
			nftnl_set_set_str(n->esets[i][f], NFTNL_SET_NAME,
			    esets_name(n, i, f ? AF_INET6 : AF_INET));
			nftnl_set_elem_add(n->esets[i][f], n->eelems[i][f]);
		}
	}
	return 0;
}
