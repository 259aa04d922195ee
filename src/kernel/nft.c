/*
 * nftables through libnftnl over one libmnl socket (docs/nftables.md, and
 * docs/design.md, decisions 1, 3). Everything the engine changes goes out as a
 * batch: one transaction in the kernel, all or nothing. Every message asks
 * for an ack; a refused message is mapped back to what it was by its
 * sequence number, logged, and the batch is sent again without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "util/log.h"
#include "core/match.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"

/*
 * The largest nf_tables message the kernel sends is a set element dump: its
 * element list is one attribute with a 16-bit length, so a bit over 64 KiB;
 * a page more covers the headers. One receive buffer of that size reads any
 * datagram on either socket.
 */
#define NFT_RX_BYTES		(65536 + 4096)
/*
 * Room guaranteed before building one message: libnftnl writes without a
 * bound. Our largest, a guard rule (13 expressions, a comment, names of at
 * most 256 bytes from a dump) stays under 2 KiB.
 */
#define NFT_MSG_ROOM		8192
/*
 * The kernel runs a batch in our sendmsg and queues one ack per message
 * before it returns. An ack is a small skb whose truesize stays under 1 KiB,
 * so the receive buffer is raised to messages * 1 KiB before a send (as nft
 * does), and element batches are cut at 1024 messages (1 MiB).
 */
#define NFT_ACK_TRUESIZE	1024
#define NFT_SEND_MSGS		1024
/* Events of a 10000-element burst of ours still fit (they are skipped). */
#define NFT_MONITOR_RCVBUF	(4 * 1024 * 1024)
/* A batch is sent at most this often: each resend drops what was refused. */
#define NFT_ROUNDS		4
/* Acks are queued before sendmsg returns: this only guards against a bug. */
#define NFT_ACK_WAIT_MS		2000

enum msg_op {
	OP_ELEM_ADD,
	OP_ELEM_DEL,
	OP_ELEM_REFRESH_DEL,	/* delete before re-add: kernels before 6.12 */
	OP_SYNC,
	OP_PROBE,
	OP_SAMPLING,
};

/* One message of the batch being sent. */
struct nft_msg {
	uint32_t seq;
	int ref;		/* pending element or sync step it was built from */
	int err;		/* errno from its ack, 0, or -1 while unacked */
	uint8_t op;		/* enum msg_op */
};

/* Called for each refused message, with the kernel's text when it gave one. */
typedef void (*ack_fn)(struct nft *n, const struct nft_msg *m, const char *why,
    void *arg);

enum elem_state { ELEM_PENDING, ELEM_DONE, ELEM_FAILED };

struct nft_elem {
	uint64_t timeout_ms;
	uint8_t addr[16];
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t del;
	uint8_t state;		/* enum elem_state */
	uint8_t refresh_del;	/* send a delete first; cleared on ENOENT */
	int16_t trigger;	/* element target: esets_name() */
};

struct nft {
	struct mnl_socket *nl;
	struct mnl_socket *mon;
	uint32_t portid;
	uint32_t seq;
	uint32_t seq_begin;
	char *tx;			/* the batch being built */
	size_t txlen, txcap;
	struct nft_msg *msgs;
	int nmsgs, msgcap;
	char *rx;			/* NFT_RX_BYTES */
	int sndbuf, rcvbuf;		/* what we last set */
	bool native_queue;
	bool elem_refresh;
	bool have_plan;
	bool synced;			/* the table was built once */
	struct nft_plan plan;
	/*
	 * One libnftnl set per set the engine adds to, with one element reused
	 * per message: knock allow sets first, then count block sets.
	 */
	struct nftnl_set *esets[CONFIG_TRIGGERS_MAX][2];
	struct nftnl_set_elem *eelems[CONFIG_TRIGGERS_MAX][2];
	struct nft_elem pending[NFT_PENDING_MAX];
	int npending;
	/* Activity triggers of the plan whose sampling is on (put back after a rebuild). */
	bool sampling[CONFIG_TRIGGERS_MAX];
	struct nft_counters c;
};

static int sync_plan(struct nft *n);

/*
 * Socket buffers: the send buffer must hold the whole batch (the kernel
 * refuses a datagram larger than it), the receive buffer every ack. FORCE
 * needs CAP_NET_ADMIN, which nftables needs anyway; fall back to the cap.
 */
static void
sock_grow(int fd, int opt_force, int opt, int *cur, size_t want)
{
	int size;

	/* A bound, so that a miscount cannot ask for gigabytes. */
	if (want > (size_t)(64 << 20))
		want = (size_t)64 << 20;
	size = (int)want;
	if (size <= *cur)
		return;
	if (setsockopt(fd, SOL_SOCKET, opt_force, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) < 0) {
		log_warn("nft: socket buffer of %d bytes", size);
		return;
	}
	*cur = size;
}

static int
tx_reserve(struct nft *n)
{
	struct nft_msg *m;
	size_t cap;
	char *b;

	if (n->txcap - n->txlen < NFT_MSG_ROOM) {
		cap = n->txcap ? n->txcap * 2 : 64 * 1024;
		if ((b = realloc(n->tx, cap)) == NULL)
			return -1;
		n->tx = b;
		n->txcap = cap;
	}
	if (n->nmsgs == n->msgcap) {
		cap = n->msgcap ? (size_t)n->msgcap * 2 : 256;
		if ((m = reallocarray(n->msgs, cap, sizeof(*m))) == NULL)
			return -1;
		n->msgs = m;
		n->msgcap = (int)cap;
	}
	return 0;
}

static void
tx_put(struct nft *n, struct nlmsghdr *nlh)
{
	n->txlen += NLMSG_ALIGN(nlh->nlmsg_len);
}

static int
tx_begin(struct nft *n)
{
	n->txlen = 0;
	n->nmsgs = 0;
	if (tx_reserve(n) < 0)
		return -1;
	n->seq_begin = n->seq;
	tx_put(n, nftnl_batch_begin(n->tx, n->seq++));
	return 0;
}

/* Start one message of the batch; the caller builds its payload and tx_put()s it. */
static struct nlmsghdr *
tx_msg(struct nft *n, uint16_t type, uint16_t flags, uint8_t op, int ref)
{
	struct nft_msg *m;

	if (tx_reserve(n) < 0)
		return NULL;
	m = &n->msgs[n->nmsgs++];
	m->seq = n->seq;
	m->ref = ref;
	m->err = -1;
	m->op = op;
	return nftnl_nlmsg_build_hdr(n->tx + n->txlen, type, NFPROTO_INET,
	    flags | NLM_F_ACK, n->seq++);
}

static int
ack_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, NLMSGERR_ATTR_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

/* The kernel's words for a refusal (NETLINK_EXT_ACK), or "". */
static const char *
ack_why(const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	size_t hlen = sizeof(*err);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return "";
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += mnl_nlmsg_get_payload_len(&err->msg);
	if (mnl_attr_parse(nlh, (unsigned int)hlen, ack_attr_cb, tb) < 0 ||
	    tb[NLMSGERR_ATTR_MSG] == NULL ||
	    mnl_attr_validate(tb[NLMSGERR_ATTR_MSG], MNL_TYPE_NUL_STRING) < 0)
		return "";
	return mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]);
}

/*
 * One ack. Returns 1 when it acked one of our messages, 0 when it is not
 * ours (a stale ack of an earlier batch), -1 when the kernel refused the
 * batch as a whole (an error on the begin message: no permission, ...).
 */
static int
ack_one(struct nft *n, const struct nlmsghdr *nlh, ack_fn fn, void *arg)
{
	const struct nlmsgerr *err;
	struct nft_msg *m;
	uint32_t idx;

	if (nlh->nlmsg_type != NLMSG_ERROR ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
		return 0;
	err = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_seq == n->seq_begin && err->error != 0) {
		errno = -err->error;
		log_warn("nft: the kernel refused the batch%s%s",
		    *ack_why(nlh) ? ": " : "", ack_why(nlh));
		errno = -err->error;
		return -1;
	}
	idx = nlh->nlmsg_seq - (n->seq_begin + 1);
	if (idx >= (uint32_t)n->nmsgs || n->msgs[idx].err != -1)
		return 0;
	m = &n->msgs[idx];
	m->err = -err->error;
	if (m->err != 0 && fn != NULL)
		fn(n, m, ack_why(nlh), arg);
	return 1;
}

static ssize_t
recv_wait(struct mnl_socket *nl, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
	ssize_t r;

	for (;;) {
		r = recv(pfd.fd, buf, len, MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EINTR))
			return r;
		if (errno == EAGAIN && poll(&pfd, 1, NFT_ACK_WAIT_MS) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* Read until every message of the batch is acked. */
static int
acks_read(struct nft *n, ack_fn fn, void *arg)
{
	const struct nlmsghdr *nlh;
	int missing = n->nmsgs, r, rem;
	ssize_t len;

	while (missing > 0) {
		if ((len = recv_wait(n->nl, n->rx, NFT_RX_BYTES)) < 0) {
			r = errno;
			log_warn("nft: reading acks (%d of %d missing)", missing,
			    n->nmsgs);
			errno = r;
			return -1;
		}
		rem = (int)len;
		for (nlh = (const struct nlmsghdr *)n->rx; mnl_nlmsg_ok(nlh, rem);
		    nlh = mnl_nlmsg_next(nlh, &rem)) {
			if ((r = ack_one(n, nlh, fn, arg)) < 0)
				return -1;
			missing -= r;
		}
	}
	return 0;
}

/*
 * End and send the batch, read every ack. Returns 0 when the kernel
 * committed it, 1 when it refused some message (then it committed nothing:
 * fn was called for each refused one), -1 when the socket failed.
 */
static int
tx_send(struct nft *n, ack_fn fn, void *arg)
{
	int fd = mnl_socket_get_fd(n->nl), i;

	if (tx_reserve(n) < 0)
		return -1;
	tx_put(n, nftnl_batch_end(n->tx + n->txlen, n->seq++));
	sock_grow(fd, SO_SNDBUFFORCE, SO_SNDBUF, &n->sndbuf, n->txlen + 4096);
	sock_grow(fd, SO_RCVBUFFORCE, SO_RCVBUF, &n->rcvbuf,
	    (size_t)n->nmsgs * NFT_ACK_TRUESIZE + NFT_RX_BYTES);
	if (mnl_socket_sendto(n->nl, n->tx, n->txlen) < 0) {
		log_warn("nft: sending a batch of %d messages", n->nmsgs);
		return -1;
	}
	if (acks_read(n, fn, arg) < 0)
		return -1;
	for (i = 0; i < n->nmsgs; i++)
		if (n->msgs[i].err != 0)
			return 1;
	return 0;
}

/* Acks a failed batch left behind must not be read as a dump's answer. */
static void
rx_drain(struct mnl_socket *nl, char *buf)
{
	while (recv(mnl_socket_get_fd(nl), buf, NFT_RX_BYTES, MSG_DONTWAIT) > 0)
		;
}

/* Send a dump request and feed every answer to cb until NLMSG_DONE. */
static int
nft_dump(struct nft *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t len;
	int r;

	rx_drain(n->nl, n->rx);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		if ((len = recv_wait(n->nl, n->rx, NFT_RX_BYTES)) < 0)
			return -1;
		r = mnl_cb_run(n->rx, (size_t)len, seq, n->portid, cb, data);
	} while (r > 0);
	return r < 0 ? -1 : 0;
}

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
	const struct nft_plan_trigger *t;
	const struct nft_plan_count *c;

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
	nlh = tx_msg(n, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
	    add ? NLM_F_CREATE : 0, op, idx);
	if (nlh == NULL)
		return -1;
	nftnl_set_elems_nlmsg_build_payload(nlh, n->esets[el->trigger][f]);
	tx_put(n, nlh);
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

	if (tx_begin(n) < 0)
		return -1;
	for (i = from; i < to && r == 0; i++) {
		el = &n->pending[i];
		if (el->state != ELEM_PENDING)
			continue;
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

/* Send pending[from, to) until the kernel commits what it accepts. */
static int
flush_chunk(struct nft *n, int from, int to)
{
	struct flush_ctx fc = { 0 };
	int round, rc;

	for (round = 0; round < NFT_ROUNDS; round++) {
		if (flush_build(n, from, to) < 0) {
			log_warnx("nft: out of memory building a batch");
			break;
		}
		if (n->nmsgs == 0)
			return 0;
		fc.need_resync = false;
		n->c.batches_sent++;
		if ((rc = tx_send(n, elem_ack, &fc)) == 0) {
			flush_settle(n, from, to, ELEM_DONE);
			return 0;
		}
		if (rc < 0 && errno != ENOBUFS)
			break;		/* ENOBUFS lost acks: adds are safe to resend */
		n->c.batches_aborted++;
		if (fc.need_resync) {
			fc.resynced = true;
			log_warnx("nft: set or table inet %s missing: rebuilding",
			    n->plan.table);
			n->c.resyncs++;
			sync_plan(n);
		}
	}
	log_warnx("nft: giving up on a batch of %d messages", n->nmsgs);
	flush_settle(n, from, to, ELEM_FAILED);
	return -1;
}

int
nft_batch_flush(struct nft *n)
{
	/* With delete + add, an element takes two messages. */
	int step = n->elem_refresh ? NFT_SEND_MSGS : NFT_SEND_MSGS / 2;
	int from, to, failed = 0, i;
	bool sockfail = false;

	for (from = 0; from < n->npending; from += step) {
		to = from + step < n->npending ? from + step : n->npending;
		if (flush_chunk(n, from, to) < 0)
			sockfail = true;
	}
	for (i = 0; i < n->npending; i++)
		failed += n->pending[i].state == ELEM_FAILED;
	n->npending = 0;
	return sockfail ? -1 : failed;
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
	if (n->npending == NFT_PENDING_MAX)
		nft_batch_flush(n);
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
	const struct nft_plan_trigger *t;

	if (!n->have_plan || (t = nft_plan_trigger(&n->plan, trigger)) == NULL)
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
	const struct nft_plan_count *c;

	if (n->have_plan && (c = nft_plan_count(&n->plan, trigger)) != NULL &&
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

static void
esets_free(struct nft *n)
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
static int
esets_build(struct nft *n)
{
	int i, f;

	esets_free(n);
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
	bool sampled;		/* activity rule 1 (nft_rule_activity()) */
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
	/* Before routing: a held packet is routed when it is let go
	 * (docs/design.md, decision 4). */
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
plan_has_guards(const struct nft_plan *p)
{
	int i;

	for (i = 0; i < p->ntriggers; i++)
		if (p->triggers[i].nopen > 0)
			return true;
	return false;
}

/* Count triggers with rules in count_pre (threshold) or count_in/count_fwd. */
static bool
plan_has_counts(const struct nft_plan *p, bool threshold)
{
	const struct nft_plan_count *c;
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
plan_has_rotates(const struct nft_plan *p)
{
	int i;

	for (i = 0; i < p->nrotates; i++)
		if (nft_rotate_has_family(&p->rotates[i], AF_INET) ||
		    nft_rotate_has_family(&p->rotates[i], AF_INET6))
			return true;
	return false;
}

/* A chain is in the plan when it would hold at least one rule. */
static bool
chain_planned(const struct nft_plan *p, int i)
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
chain_match(const struct nft_plan *p, struct nftnl_chain *c)
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
plan_sets_count_rotate(const struct nft_plan *p, struct plan_set *out, int n)
{
	const struct nft_plan_count *c;
	const struct nft_plan_rotate *r;
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
			    nft_rotate_has_family(r, fam))
				out[n++] = (struct plan_set){ f ? r->pool6 :
				    r->pool4, SET_POOL, i, fam, 0 };
		}
	}
	return n;
}

/* Every set of the plan into out (PLAN_SETS_MAX); returns how many. */
static int
plan_sets(const struct nft_plan *p, struct plan_set *out)
{
	const struct nft_plan_activity *a;
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
set_planned(const struct nft_plan *p, const char *name)
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
static int
sync_ops_sets(struct nft *n, struct sync *s)
{
	struct plan_set ps[PLAN_SETS_MAX];
	struct nftnl_set_list_iter *it;
	struct nftnl_set *set;
	struct sync_op *op;
	const char *name;
	int i, nps;

	if ((it = nftnl_set_list_iter_create(s->sets)) == NULL)
		return -1;
	while ((set = nftnl_set_list_iter_next(it)) != NULL) {
		name = nftnl_set_get_str(set, NFTNL_SET_NAME);
		if (set_ours(name) && !set_planned(&n->plan, name) &&
		    op_add(s, SYNC_SET_DEL, false, name) == NULL)
			break;
	}
	nftnl_set_list_iter_destroy(it);
	if (set != NULL)
		return -1;
	nps = plan_sets(&n->plan, ps);
	for (i = 0; i < nps; i++) {
		name = ps[i].name;
		set = nftnl_set_list_lookup_byname(s->sets, name);
		/*
		 * Pairs sampled by an earlier run must not hide the first
		 * packet from triggers that start in standby.
		 */
		if (set != NULL && set_fits(set, &ps[i], n->plan.set_size) && (ps[i].kind ==
		    SET_FLOWS || ps[i].kind == SET_POOL) &&
		    op_add(s, SYNC_SET_FLUSH, false, name) == NULL)
			return -1;
		if (set != NULL && set_fits(set, &ps[i], n->plan.set_size) && ps[i].kind != SET_POOL)
			continue;
		if (set != NULL && set_fits(set, &ps[i], n->plan.set_size)) {
			/* A pool is refilled on every sync: it may have changed. */
			if ((op = op_add(s, SYNC_POOL_FILL, true, name)) == NULL)
				return -1;
			op->trigger = ps[i].trigger;
			op->family = ps[i].family;
			continue;
		}
		if (set != NULL) {
			log_warnx("nft: set %s has another type or size: "
			    "recreating it (its elements are lost)", name);
			if (op_add(s, SYNC_SET_DEL, true, name) == NULL)
				return -1;
		}
		if ((op = op_add(s, SYNC_SET_ADD, true, name)) == NULL)
			return -1;
		op->trigger = ps[i].trigger;
		op->family = ps[i].family;
		op->set_kind = ps[i].kind;
		if (ps[i].kind != SET_POOL)
			continue;
		if ((op = op_add(s, SYNC_POOL_FILL, true, name)) == NULL)
			return -1;
		op->trigger = ps[i].trigger;
		op->family = ps[i].family;
	}
	return 0;
}

/* Per activity trigger, family, combination of its match and rule kind. */
static int
sync_ops_activity(struct nft *n, struct sync *s)
{
	const struct nft_plan_activity *a;
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
	const struct nft_plan_count *c;
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
	const struct nft_plan_count *c;
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
	const struct nft_plan_rotate *r;
	struct sync_op *op;
	int i, f, c, fam;

	for (i = 0; i < n->plan.nrotates; i++) {
		r = &n->plan.rotates[i];
		for (f = 0; f < 2; f++) {
			fam = f ? AF_INET6 : AF_INET;
			if (!nft_rotate_has_family(r, fam))
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
	const struct nft_plan *p = &n->plan;
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
op_str(const struct nft *n, const struct sync_op *op, char *buf, size_t len)
{
	const struct nft_plan_trigger *t = &n->plan.triggers[op->trigger];
	const struct config_port_range *pr;
	const struct config_port *pt;

	switch (op->kind) {
	case SYNC_TABLE_ADD:
		snprintf(buf, len, "add table inet %s", op->name);
		break;
	case SYNC_CHAIN_FLUSH:
		snprintf(buf, len, "flush chain %s", op->name);
		break;
	case SYNC_CHAIN_DEL:
		snprintf(buf, len, "delete chain %s", op->name);
		break;
	case SYNC_SET_DEL:
		snprintf(buf, len, "delete set %s", op->name);
		break;
	case SYNC_SET_ADD:
		snprintf(buf, len, "add set %s", op->name);
		break;
	case SYNC_SET_FLUSH:
		snprintf(buf, len, "flush set %s", op->name);
		break;
	case SYNC_CHAIN_ADD:
		snprintf(buf, len, "add chain %s", op->name);
		break;
	case SYNC_RULE_GUARD:
		pt = &t->open[op->port];
		snprintf(buf, len, "add rule %s: guard %s:%u of %s (%s)", op->name,
		    pt->proto == IPPROTO_TCP ? "tcp" : "udp", pt->port, t->name,
		    op->family == AF_INET ? "IPv4" : "IPv6");
		break;
	case SYNC_RULE_ACTIVITY:
		snprintf(buf, len, "add rule activity: %s (%s) combination %d, %s",
		    n->plan.activities[op->trigger].name,
		    op->family == AF_INET ? "IPv4" : "IPv6", op->port + 1,
		    op->sampled ? "sampled" : "all while not active");
		break;
	case SYNC_POOL_FILL:
		snprintf(buf, len, "fill map %s", op->name);
		break;
	case SYNC_RULE_COUNT_BLOCK:
	case SYNC_RULE_COUNT_METER:
	case SYNC_RULE_COUNT_DIVERT:
		snprintf(buf, len, "add rule %s: %s %s (%s) combination %d",
		    op->name, op->kind == SYNC_RULE_COUNT_BLOCK ? "block set of" :
		    op->kind == SYNC_RULE_COUNT_METER ? "threshold of" :
		    "packets of", n->plan.counts[op->trigger].name,
		    op->family == AF_INET ? "IPv4" : "IPv6", op->port + 1);
		break;
	case SYNC_RULE_ROTATE:
		snprintf(buf, len, "add rule rotate: %s (%s) combination %d",
		    n->plan.rotates[op->trigger].name,
		    op->family == AF_INET ? "IPv4" : "IPv6", op->port + 1);
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
	return buf;
}

/* The set of a SYNC_SET_ADD step, by what it is for. */
static struct nftnl_set *
op_set_new(const struct nft *n, const struct sync_op *op, int idx)
{
	const struct nft_plan *p = &n->plan;
	uint32_t id = (uint32_t)idx + 1;

	switch (op->set_kind) {
	case SET_ALLOW:
		return nft_set_new(p->table, op->name, op->family, p->set_size, id);
	case SET_BLOCK:
		return nft_set_block_new(p->table, op->name, op->family,
		    p->set_size, 0, id);
	case SET_RATE:
		return nft_set_block_new(p->table, op->name, op->family,
		    p->set_size, p->counts[op->trigger].period_ms, id);
	case SET_POOL:
		return nft_set_pool_new(p->table, op->name, op->family, id);
	default:
		return nft_set_activity_new(p->table, op->name, op->family,
		    p->set_size, id);
	}
}

/* Build the libnftnl object of one step: what it is and which message. */
static void *
op_object(const struct nft *n, const struct sync_op *op, int idx,
    uint16_t *type, uint16_t *flags)
{
	const struct nft_plan *p = &n->plan;
	const struct nft_plan_trigger *t = &p->triggers[op->trigger];
	struct nftnl_rule *r;
	struct nftnl_chain *c;
	struct nftnl_set *s;

	*flags = NLM_F_CREATE;
	switch (op->kind) {
	case SYNC_TABLE_ADD:
		*type = NFT_MSG_NEWTABLE;
		return nft_table_new(p->table);
	case SYNC_CHAIN_FLUSH:
		/* A rule delete without a handle flushes the chain. */
		*type = NFT_MSG_DELRULE;
		*flags = 0;
		if ((r = nftnl_rule_alloc()) == NULL)
			return NULL;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, p->table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, op->name);
		return r;
	case SYNC_CHAIN_DEL:
		*type = NFT_MSG_DELCHAIN;
		*flags = 0;
		if ((c = nftnl_chain_alloc()) == NULL)
			return NULL;
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, p->table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, op->name);
		return c;
	case SYNC_SET_DEL:
	case SYNC_SET_FLUSH:
		/* An element delete without elements flushes the set. */
		*type = op->kind == SYNC_SET_DEL ? NFT_MSG_DELSET : NFT_MSG_DELSETELEM;
		*flags = 0;
		if ((s = nftnl_set_alloc()) == NULL)
			return NULL;
		nftnl_set_set_str(s, NFTNL_SET_TABLE, p->table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, op->name);
		return s;
	case SYNC_SET_ADD:
		*type = NFT_MSG_NEWSET;
		return op_set_new(n, op, idx);
	case SYNC_POOL_FILL:
		*type = NFT_MSG_NEWSETELEM;
		return nft_set_pool_elems(p->table, op->name, op->family,
		    &p->rotates[op->trigger].pool[op->family == AF_INET6]);
	case SYNC_CHAIN_ADD:
		*type = NFT_MSG_NEWCHAIN;
		if ((c = nft_chain_new(p->table, op->name, sync_chains[op->chain].hook,
		    sync_chains[op->chain].prio)) != NULL)
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE,
			    sync_chains[op->chain].type);
		return c;
	case SYNC_RULE_COUNT_BLOCK:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_count_block(p, &p->counts[op->trigger], op->family);
	case SYNC_RULE_COUNT_METER:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_count_meter(p, &p->counts[op->trigger], op->family,
		    op->port);
	case SYNC_RULE_COUNT_DIVERT:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_count_divert(p, &p->counts[op->trigger], op->name,
		    op->family, op->port, n->native_queue);
	case SYNC_RULE_ROTATE:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_rotate(p, &p->rotates[op->trigger], op->family,
		    op->port);
	case SYNC_RULE_GUARD:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_guard(p, op->name, t, &t->open[op->port], op->family);
	case SYNC_RULE_ACTIVITY:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_activity(p, &p->activities[op->trigger], op->family,
		    op->port, op->sampled, n->native_queue);
	default:
		*type = NFT_MSG_NEWRULE;
		*flags = NLM_F_CREATE | NLM_F_APPEND;
		return nft_rule_divert(p, &p->divert[op->port], n->native_queue);
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
	if ((nlh = tx_msg(n, type, flags, OP_SYNC, idx)) != NULL) {
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
		tx_put(n, nlh);
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
		if (tx_begin(n) < 0)
			return -1;
		for (i = 0; i < s->nops; i++)
			if (!s->ops[i].failed && op_emit(n, &s->ops[i], i) < 0)
				return -1;
		if (n->nmsgs == 0)
			return 0;
		if ((rc = tx_send(n, sync_ack, s)) <= 0)
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

/*
 * Sampling switches of activity triggers: the one element of
 * <trigger>_active. One message per batch, since a batch is all or nothing
 * and switching off an element that is not there is refused (ENOENT), which
 * is fine.
 */
static void
sampling_ack(struct nft *n, const struct nft_msg *m, const char *why, void *arg)
{
	const struct nft_plan_activity *a = &n->plan.activities[m->ref];

	(void)arg;
	if (!n->sampling[m->ref] && m->err == ENOENT)
		return;
	log_warnx("nft: sampling %s for activity %s (set inet %s %s): %s%s%s",
	    n->sampling[m->ref] ? "on" : "off", a->name, n->plan.table, a->active,
	    strerror(m->err), *why ? ": " : "", why);
}

/* 0, or the errno of the refusal (ENOENT off is 0), or -1: socket. */
static int
sampling_send(struct nft *n, int i)
{
	const struct nft_plan_activity *a = &n->plan.activities[i];
	uint32_t key = NFT_ACTIVE_KEY;
	bool on = n->sampling[i];
	struct nftnl_set_elem *e;
	struct nftnl_set *set;
	struct nlmsghdr *nlh;
	int rc;

	if ((set = nftnl_set_alloc()) == NULL || (e = nftnl_set_elem_alloc()) == NULL) {
		if (set != NULL)
			nftnl_set_free(set);
		return -1;
	}
	nftnl_set_set_str(set, NFTNL_SET_TABLE, n->plan.table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, a->active);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
	nftnl_set_elem_add(set, e);
	rc = tx_begin(n);
	nlh = rc < 0 ? NULL : tx_msg(n, on ? NFT_MSG_NEWSETELEM :
	    NFT_MSG_DELSETELEM, on ? NLM_F_CREATE : 0, OP_SAMPLING, i);
	if (nlh != NULL) {
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
		tx_put(n, nlh);
	}
	nftnl_set_free(set);
	if (nlh == NULL || (rc = tx_send(n, sampling_ack, NULL)) < 0)
		return -1;
	if (rc == 0 || (!on && n->msgs[0].err == ENOENT))
		return 0;
	return n->msgs[0].err;
}

/* Put every queue-mode trigger's switch where the engine wants it. */
static void
sampling_apply(struct nft *n)
{
	int i;

	for (i = 0; i < n->plan.nactivities; i++)
		if (!n->plan.activities[i].nflog)
			sampling_send(n, i);
}

int
nft_activity_sampling(struct nft *n, const char *trigger, bool on)
{
	const struct nft_plan_activity *a;
	int i, rc;

	if (!n->have_plan || (a = nft_plan_activity(&n->plan, trigger)) == NULL ||
	    a->nflog) {
		errno = ENOENT;
		return -1;
	}
	i = (int)(a - n->plan.activities);
	n->sampling[i] = on;
	if ((rc = sampling_send(n, i)) == ENOENT) {
		/* The set is gone: rebuild the table, which puts switches back. */
		log_warnx("nft: set %s missing: rebuilding table inet %s",
		    a->active, n->plan.table);
		n->c.resyncs++;
		return sync_plan(n);
	}
	return rc == 0 ? 0 : -1;
}

static int
sync_plan(struct nft *n)
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
		sampling_apply(n);
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
plan_copy(struct nft_plan *to, const struct nft_plan *from)
{
	_Static_assert(offsetof(struct nft_plan, counts) <
	    offsetof(struct nft_plan, rotates), "counts, then rotates, last");
	memcpy(to, from, offsetof(struct nft_plan, counts));
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
	struct nft_plan *p;
	int rc;

	if ((p = malloc(sizeof(*p))) == NULL || nft_plan_build(p, cfg) < 0) {
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
	if (esets_build(n) < 0) {
		log_warnx("nft: out of memory");
		n->have_plan = false;
		return -1;
	}
	rc = sync_plan(n);
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
	if (tx_begin(n) < 0 || (t = nft_table_new(table)) == NULL)
		return -1;
	if ((nlh = tx_msg(n, NFT_MSG_DELTABLE, 0, OP_SYNC, 0)) == NULL) {
		nftnl_table_free(t);
		return -1;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	tx_put(n, nlh);
	if ((rc = tx_send(n, NULL, NULL)) < 0)
		return -1;
	if (rc > 0 && n->msgs[0].err != ENOENT) {
		errno = n->msgs[0].err;
		log_warn("nft: delete table inet %s", table);
		return -1;
	}
	log_info("nft: table inet %s %s", table, rc > 0 ? "was not there" : "deleted");
	return 0;
}

/*
 * Probes, in a throwaway table of our own.
 */
static int
probe_put_table(struct nft *n, const char *table, uint16_t type)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;

	if ((t = nft_table_new(table)) == NULL)
		return -1;
	nlh = tx_msg(n, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
	    OP_PROBE, 0);
	if (nlh != NULL) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		tx_put(n, nlh);
	}
	nftnl_table_free(t);
	return nlh == NULL ? -1 : 0;
}

/* add element inet TABLE SET { 127.0.0.1 timeout T } */
static int
probe_put_elem(struct nft *n, const char *table, const char *set,
    uint64_t timeout_ms)
{
	uint8_t key[4] = { 127, 0, 0, 1 };
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	if ((e = nftnl_set_elem_alloc()) == NULL) {
		nftnl_set_free(s);
		return -1;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	nftnl_set_elem_add(s, e);
	if ((nlh = tx_msg(n, NFT_MSG_NEWSETELEM, NLM_F_CREATE, OP_PROBE, 0)) != NULL) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		tx_put(n, nlh);
	}
	nftnl_set_free(s);
	return nlh == NULL ? -1 : 0;
}

static int
probe_put_queue_rule(struct nft *n, const char *table)
{
	struct nftnl_chain *c;
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	int rc = -1;

	c = nftnl_chain_alloc();
	r = nftnl_rule_alloc();
	e = nft_expr_queue(0, 0, true, true);
	if (c == NULL || r == NULL || e == NULL)
		goto out;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "probe");
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "probe");
	nftnl_rule_add_expr(r, e);
	e = NULL;
	if ((nlh = tx_msg(n, NFT_MSG_NEWCHAIN, NLM_F_CREATE, OP_PROBE, 0)) == NULL)
		goto out;
	nftnl_chain_nlmsg_build_payload(nlh, c);
	tx_put(n, nlh);
	if ((nlh = tx_msg(n, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
	    OP_PROBE, 0)) == NULL)
		goto out;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	tx_put(n, nlh);
	rc = 0;
out:
	if (c != NULL)
		nftnl_chain_free(c);
	if (r != NULL)
		nftnl_rule_free(r);
	if (e != NULL)
		nftnl_expr_free(e);
	return rc;
}

/*
 * Does the kernel know the queue expression? Offer a rule with one in a
 * batch that ends with a message that must fail (an element for a set that
 * does not exist), so that the kernel aborts it and nothing is created;
 * the rule's own ack says whether the expression exists (ENOENT: no).
 */
static int
probe_native_queue(struct nft *n, const char *table)
{
	int rule;

	if (tx_begin(n) < 0 || probe_put_table(n, table, NFT_MSG_NEWTABLE) < 0 ||
	    probe_put_queue_rule(n, table) < 0)
		return -1;
	rule = n->nmsgs - 1;
	if (probe_put_elem(n, table, "absent", 1000) < 0 ||
	    tx_send(n, NULL, NULL) < 0)
		return -1;
	if (n->msgs[n->nmsgs - 1].err == 0) {
		/* Cannot happen; if it did, the table exists now: remove it. */
		if (tx_begin(n) == 0 && probe_put_table(n, table, NFT_MSG_DELTABLE) == 0)
			tx_send(n, NULL, NULL);
	}
	if (n->msgs[rule].err != 0 && n->msgs[rule].err != ENOENT)
		log_warnx("nft: probing the queue expression: %s",
		    strerror(n->msgs[rule].err));
	n->native_queue = n->msgs[rule].err == 0;
	return 0;
}

static int
probe_elem_cb(struct nftnl_set_elem *e, void *data)
{
	uint64_t *timeout = data;

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		*timeout = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	return 0;
}

static int
probe_elems_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = data;

	nftnl_set_elems_nlmsg_parse(nlh, s);
	return MNL_CB_OK;
}

static uint64_t
probe_elem_timeout(struct nft *n, const char *table)
{
	uint32_t req[NFT_MSG_ROOM / 4];
	struct nlmsghdr *nlh;
	struct nftnl_set *s;
	uint64_t timeout = 0;

	if ((s = nftnl_set_alloc()) == NULL)
		return 0;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, "s");
	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	if (nft_dump(n, nlh, probe_elems_dump_cb, s) == 0)
		nftnl_set_elem_foreach(s, probe_elem_cb, &timeout);
	nftnl_set_free(s);
	return timeout;
}

/*
 * Does re-adding an element refresh its timeout (Linux 6.12, "set element
 * timeout update")? Older kernels accept the add and change nothing. Add
 * with 1h, re-add with 2h, read it back.
 */
static bool
probe_elem_refresh(struct nft *n, const char *table)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	uint64_t timeout = 0;
	bool ok;

	if (tx_begin(n) < 0 || probe_put_table(n, table, NFT_MSG_NEWTABLE) < 0 ||
	    (s = nft_set_new(table, "s", AF_INET, 0, 1)) == NULL)
		return false;
	if ((nlh = tx_msg(n, NFT_MSG_NEWSET, NLM_F_CREATE, OP_PROBE, 0)) != NULL) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		tx_put(n, nlh);
	}
	nftnl_set_free(s);
	ok = nlh != NULL && probe_put_elem(n, table, "s", 3600000) == 0 &&
	    tx_send(n, NULL, NULL) == 0;
	if (ok && tx_begin(n) == 0 && probe_put_elem(n, table, "s", 7200000) == 0 &&
	    tx_send(n, NULL, NULL) == 0)
		timeout = probe_elem_timeout(n, table);
	if (ok && tx_begin(n) == 0 && probe_put_table(n, table, NFT_MSG_DELTABLE) == 0)
		tx_send(n, NULL, NULL);
	return timeout == 7200000;
}

/*
 * Monitor: another process deleting our table or a set of it, or changing
 * its chains and rules, may take guards away; rebuild at once. Events
 * caused by our own socket carry its port id and are skipped.
 */
_Static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 &&
    NFTA_SET_TABLE == 1 && NFTA_RULE_TABLE == 1,
    "the table name is attribute 1 of every event we watch");

static int
event_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **table = data;

	if (mnl_attr_get_type(attr) == 1 &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*table = attr;
	return MNL_CB_OK;
}

static bool
event_hits_us(const struct nft *n, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *table = NULL;
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_pid == n->portid ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)) ||
	    g->nfgen_family != NFPROTO_INET)
		return false;
	/*
	 * Sets are ours in any case; chains and rules only when we manage
	 * them (then the table is the engine's: changes are undone).
	 */
	switch (type) {
	case NFT_MSG_DELTABLE:
	case NFT_MSG_DELSET:
		break;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		if (!n->plan.manage_rules)
			return false;
		break;
	default:
		return false;
	}
	mnl_attr_parse(nlh, sizeof(*g), event_attr_cb, &table);
	return table != NULL && strcmp(mnl_attr_get_str(table), n->plan.table) == 0;
}

int
nft_monitor_fd(const struct nft *n)
{
	return n->mon != NULL ? mnl_socket_get_fd(n->mon) : -1;
}

int
nft_monitor_handle(struct nft *n)
{
	const struct nlmsghdr *nlh;
	bool rebuild = false;
	ssize_t len;
	int rem;

	if (n->mon == NULL)
		return 0;
	for (;;) {
		len = recv(mnl_socket_get_fd(n->mon), n->rx, NFT_RX_BYTES, MSG_DONTWAIT);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			/* Events were lost: one of them may have been a delete. */
			n->c.monitor_overruns++;
			rebuild = true;
			continue;
		}
		if (len <= 0)
			break;
		rem = (int)len;
		for (nlh = (const struct nlmsghdr *)n->rx; mnl_nlmsg_ok(nlh, rem);
		    nlh = mnl_nlmsg_next(nlh, &rem))
			rebuild |= n->have_plan && event_hits_us(n, nlh);
	}
	if (!rebuild || !n->have_plan || !n->synced)
		return 0;
	log_warnx("nft: table inet %s changed by another process: rebuilding",
	    n->plan.table);
	n->c.resyncs++;
	return sync_plan(n);
}

static struct mnl_socket *
monitor_open(void)
{
	struct mnl_socket *mon;
	int group = NFNLGRP_NFTABLES;

	if ((mon = nl_open_netfilter(NFT_MONITOR_RCVBUF)) == NULL)
		return NULL;
	if (mnl_socket_setsockopt(mon, NETLINK_ADD_MEMBERSHIP, &group,
	    sizeof(group)) < 0) {
		mnl_socket_close(mon);
		return NULL;
	}
	return mon;
}

/*
 * Open, probe.
 */
struct nft *
nft_open(void)
{
	char probe[32];
	struct nft *n;
	int on = 1;

	if ((n = calloc(1, sizeof(*n))) == NULL || (n->rx = malloc(NFT_RX_BYTES)) == NULL) {
		log_warnx("nft: out of memory");
		free(n);
		return NULL;
	}
	if ((n->nl = nl_open_netfilter(NFT_RX_BYTES)) == NULL) {
		log_warn("nft: netlink socket");
		nft_close(n);
		return NULL;
	}
	/* Refusals carry the kernel's words but not a copy of our message. */
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &on, sizeof(on));
	/*
	 * Sized now for a full element batch, so that the event loop never
	 * needs setsockopt (only a larger reconciliation batch grows them).
	 */
	n->rcvbuf = NFT_RX_BYTES;
	sock_grow(mnl_socket_get_fd(n->nl), SO_SNDBUFFORCE, SO_SNDBUF, &n->sndbuf,
	    (size_t)NFT_SEND_MSGS * 256);
	sock_grow(mnl_socket_get_fd(n->nl), SO_RCVBUFFORCE, SO_RCVBUF, &n->rcvbuf,
	    (size_t)NFT_SEND_MSGS * NFT_ACK_TRUESIZE + NFT_RX_BYTES);
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	snprintf(probe, sizeof(probe), "nfqt_probe_%ld", (long)getpid());
	if (probe_native_queue(n, probe) < 0) {
		log_warnx("nft: the kernel refused a probe batch in table "
		    "inet %s", probe);
		nft_close(n);
		return NULL;
	}
	n->elem_refresh = probe_elem_refresh(n, probe);
	if ((n->mon = monitor_open()) == NULL)
		log_warn("nft: monitor socket: a deleted table is rebuilt only "
		    "on the next element batch");
	log_info("nft: divert with %s; element timeouts refreshed by %s",
	    n->native_queue ? "the nft queue expression" :
	    "the xtables NFQUEUE target (no nft queue expression in this kernel)",
	    n->elem_refresh ? "re-adding" : "delete and add (kernel before 6.12)");
	return n;
}

void
nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	if (n->nl != NULL && n->npending > 0)
		nft_batch_flush(n);
	esets_free(n);
	if (n->mon != NULL)
		mnl_socket_close(n->mon);
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	free(n->tx);
	free(n->msgs);
	free(n->rx);
	free(n);
}

bool
nft_native_queue(const struct nft *n)
{
	return n->native_queue;
}

bool
nft_elem_refresh(const struct nft *n)
{
	return n->elem_refresh;
}

void
nft_features_force(struct nft *n, bool native_queue, bool elem_refresh)
{
	n->native_queue = native_queue;
	n->elem_refresh = elem_refresh;
}

const struct nft_counters *
nft_counters(const struct nft *n)
{
	return &n->c;
}
