/*
 * Transport of the nf_tables socket: a batch is built, sent in one sendmsg
 * (one transaction in the kernel, all or nothing: docs/design.md, decision
 * 3), and every
 * ack read back through the one receive path and mapped to its message by
 * sequence number. Dumps are read the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/netfilter.h>

#include <libnftnl/batch.h>
#include <libnftnl/common.h>

#include "util/log.h"
#include "kernel/nft_priv.h"

/*
 * Socket buffers: the send buffer must hold the whole batch (the kernel
 * refuses a datagram larger than it), the receive buffer every ack. FORCE
 * needs CAP_NET_ADMIN, which nftables needs anyway; fall back to the cap.
 */
void
nft_sock_grow(int fd, int opt_force, int opt, int *cur, size_t want)
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

/* Room to record one more message of the batch. */
static int
msgs_reserve(struct nft *n)
{
	struct nft_msg *m;
	size_t cap;

	if (n->nmsgs < n->msgcap)
		return 0;
	cap = n->msgcap ? (size_t)n->msgcap * 2 : 256;
	if ((m = reallocarray(n->msgs, cap, sizeof(*m))) == NULL)
		return -1;
	n->msgs = m;
	n->msgcap = (int)cap;
	return 0;
}

void
nft_tx_put(struct nft *n, struct nlmsghdr *nlh)
{
	n->txlen += NLMSG_ALIGN(nlh->nlmsg_len);
	if (nftnl_batch_update(n->batch) < 0)
		n->tx_nomem = true;
}

int
nft_tx_begin(struct nft *n)
{
	n->txlen = 0;
	n->nmsgs = 0;
	n->tx_nomem = false;
	/* libnftnl has no reset: one batch per transaction, as nft does. */
	if (n->batch != NULL)
		nftnl_batch_free(n->batch);
	if ((n->batch = nftnl_batch_alloc(NFT_BATCH_PAGE, NFT_MSG_ROOM)) == NULL ||
	    msgs_reserve(n) < 0)
		return -1;
	n->seq_begin = n->seq;
	nft_tx_put(n, nftnl_batch_begin(nftnl_batch_buffer(n->batch), n->seq++));
	return 0;
}

/* Start one message of the batch; the caller builds its payload and nft_tx_put()s it. */
struct nlmsghdr *
nft_tx_msg(struct nft *n, uint16_t type, uint16_t flags, uint8_t op, int ref)
{
	struct nft_msg *m;

	if (msgs_reserve(n) < 0)
		return NULL;
	m = &n->msgs[n->nmsgs++];
	m->seq = n->seq;
	m->ref = ref;
	m->nref = 1;
	m->err = -1;
	m->op = op;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(n->batch), type,
	    NFPROTO_INET, flags | NLM_F_ACK, n->seq++);
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
		errno = nl_errno(err->error);
		log_warn("nft: the kernel refused the batch%s%s",
		    *ack_why(nlh) ? ": " : "", ack_why(nlh));
		errno = nl_errno(err->error);
		return -1;
	}
	idx = nlh->nlmsg_seq - (n->seq_begin + 1);
	if (idx >= (uint32_t)n->nmsgs || n->msgs[idx].err != -1)
		return 0;
	m = &n->msgs[idx];
	m->err = nl_errno(err->error);
	if (m->err != 0 && fn != NULL)
		fn(n, m, ack_why(nlh), arg);
	return 1;
}

/*
 * One datagram of answers, waiting NFT_ACK_WAIT_MS at most for it. Returns
 * as nl_receive() does, never EAGAIN.
 */
static int
nft_recv(struct nft *n, struct nl_rx *rx)
{
	int fd = mnl_socket_get_fd(n->nl), r;

	for (;;) {
		if ((r = nl_receive(fd, n->rx, NFT_RX_BYTES, rx)) >= 0 || rx->failed)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if ((r = nl_wait(fd, NFT_ACK_WAIT_MS)) <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
}

struct ack_read {
	struct nft *n;
	ack_fn fn;
	void *arg;
	int missing;
};

static int
ack_msg(const struct nlmsghdr *nlh, void *arg)
{
	struct ack_read *a = arg;
	int r;

	if ((r = ack_one(a->n, nlh, a->fn, a->arg)) < 0)
		return NL_CB_ERROR;
	a->missing -= r;
	return a->missing > 0 ? NL_CB_OK : NL_CB_STOP;
}

/* Read until every message of the batch is acked. */
static int
acks_read(struct nft *n, ack_fn fn, void *arg)
{
	struct ack_read a = { .n = n, .fn = fn, .arg = arg, .missing = n->nmsgs };
	struct nl_rx rx = { .what = "nft", .portid = n->portid,
	    .seq_first = n->seq_begin, .seq_last = n->seq - 1, .fn = ack_msg,
	    .arg = &a, .c = &n->c.nl };
	int e;

	while (a.missing > 0) {
		if (nft_recv(n, &rx) >= 0)
			continue;
		if (rx.failed)		/* the batch was refused: logged */
			return -1;
		e = errno;
		log_warn("nft: reading acks (%d of %d missing)", a.missing,
		    n->nmsgs);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * End and send the batch, read every ack. Returns 0 when the kernel
 * committed it, 1 when it refused some message (then it committed nothing:
 * fn was called for each refused one), -1 when the socket failed.
 */
/* The pages of the batch in one sendmsg: one datagram, one transaction. */
static int
tx_sendmsg(struct nft *n)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof(kernel) };
	struct iovec *iov;
	int pages = nftnl_batch_iovec_len(n->batch);

	if (pages > n->iovcap) {
		if ((iov = reallocarray(n->iov, (size_t)pages, sizeof(*iov))) == NULL)
			return -1;
		n->iov = iov;
		n->iovcap = pages;
	}
	nftnl_batch_iovec(n->batch, n->iov, (uint32_t)pages);
	msg.msg_iov = n->iov;
	msg.msg_iovlen = (size_t)pages;
	return sendmsg(mnl_socket_get_fd(n->nl), &msg, 0) < 0 ? -1 : 0;
}

int
nft_tx_send(struct nft *n, ack_fn fn, void *arg)
{
	int fd = mnl_socket_get_fd(n->nl), i;

	nft_tx_put(n, nftnl_batch_end(nftnl_batch_buffer(n->batch), n->seq++));
	if (n->tx_nomem) {
		log_warnx("nft: out of memory building a batch of %d messages",
		    n->nmsgs);
		return -1;
	}
	nft_sock_grow(fd, SO_SNDBUFFORCE, SO_SNDBUF, &n->sndbuf, n->txlen + 4096);
	nft_sock_grow(fd, SO_RCVBUFFORCE, SO_RCVBUF, &n->rcvbuf,
	    (size_t)n->nmsgs * NFT_ACK_TRUESIZE + NFT_RX_BYTES);
	if (tx_sendmsg(n) < 0) {
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

struct dump {
	mnl_cb_t cb;
	void *data;
};

/* One message of a dump: libmnl's control message handling, then cb. */
static int
dump_msg(const struct nlmsghdr *nlh, void *arg)
{
	const struct dump *d = arg;
	const struct nlmsgerr *err;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
		errno = EINTR;		/* the table changed while dumped */
		return NL_CB_ERROR;
	}
	if (nlh->nlmsg_type == NLMSG_DONE)
		return NL_CB_STOP;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
			errno = EBADMSG;
			return NL_CB_ERROR;
		}
		err = mnl_nlmsg_get_payload(nlh);
		if (err->error == 0)
			return NL_CB_STOP;
		errno = nl_errno(err->error);
		return NL_CB_ERROR;
	}
	if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return NL_CB_OK;
	return d->cb(nlh, d->data);
}

/*
 * Send a dump request and feed every answer to cb until NLMSG_DONE. Acks a
 * failed batch left behind carry older sequence numbers: skipped.
 */
int
nft_dump(struct nft *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct dump d = { .cb = cb, .data = data };
	struct nl_rx rx = { .what = "nftables dump", .portid = n->portid,
	    .seq_first = nlh->nlmsg_seq, .seq_last = nlh->nlmsg_seq,
	    .fn = dump_msg, .arg = &d, .c = &n->c.nl };

	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		if (nft_recv(n, &rx) < 0)
			return -1;
	} while (!rx.stopped);
	return 0;
}
