#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "util/log.h"
#include "kernel/netlink.h"
#include "kernel/nfq.h"
#include "kernel/nfq_test.h"

/* Packets handled per nfq_source_receive() call before yielding to the loop. */
#define NFQ_RECEIVE_BUDGET	256

/*
 * A verdict message: nlmsghdr + nfgenmsg + one NFQA_VERDICT_HDR attribute,
 * 32 bytes aligned; room is reserved at this size per verdict.
 */
#define NFQ_VERDICT_MSG_MAX	64
/* Verdicts per datagram: the kernel reads every message of one send. */
#define NFQ_SEND_BYTES		(NFQ_RECEIVE_BUDGET * NFQ_VERDICT_MSG_MAX)

struct nfq_source {
	struct mnl_socket *nl;
	struct nfq_options opt;
	nfq_packet_fn fn;
	void *arg;
	/* One packet message: headers, attributes and copy_range bytes of payload. */
	char *rxbuf;
	size_t rxlen;
	/*
	 * Verdicts not yet taken by the kernel. A failed send keeps them to
	 * send again: a packet left without a verdict stays queued for good.
	 * Each one answers a packet the kernel still queues, so they are at
	 * most queue_maxlen (plus a pass's budget): the buffer grows to that
	 * bound, and only while sends fail.
	 */
	char *txbuf;
	size_t txused, txcap, txmax;
	bool send_failing;		/* logged once per outage */
	bool (*backlog)(void *);	/* true: read no more now */
	void *backlog_arg;
	struct nfq_counters counters;
};

static int nfq_flush_verdicts(struct nfq_source *);

/* Room for one more verdict: a flush first, then a larger buffer. */
static int
nfq_verdict_room(struct nfq_source *s)
{
	size_t cap;
	char *b;

	if (s->txused + NFQ_VERDICT_MSG_MAX <= s->txcap)
		return 0;
	if (nfq_flush_verdicts(s) == 0 && s->txused + NFQ_VERDICT_MSG_MAX <= s->txcap)
		return 0;
	cap = s->txcap * 2 > s->txmax ? s->txmax : s->txcap * 2;
	if (cap < s->txused + NFQ_VERDICT_MSG_MAX || (b = realloc(s->txbuf, cap)) == NULL)
		return -1;
	s->txbuf = b;
	s->txcap = cap;
	return 0;
}

static void
nfq_verdict_add(struct nfq_source *s, uint32_t id, int verdict)
{
	struct nlmsghdr *nlh;

	if (nfq_verdict_room(s) < 0) {
		/* Past the bound: more verdicts than queued packets (a bug). */
		s->counters.verdicts_lost++;
		log_warnx("queue %u: no room for the verdict of packet %u",
		    s->opt.queue, id);
		return;
	}
	nlh = nfq_nlmsg_put(s->txbuf + s->txused, NFQNL_MSG_VERDICT, s->opt.queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	s->txused += MNL_ALIGN(nlh->nlmsg_len);
	if (verdict == NF_DROP)
		s->counters.dropped++;
	else
		s->counters.accepted++;
}

/*
 * The kernel reads every message of one datagram, so a pass costs one send
 * (more only after an outage). What a failed send did not deliver stays for
 * the next flush: the caller retries (nfq_source_unsent()).
 */
static int
nfq_flush_verdicts(struct nfq_source *s)
{
	size_t off = 0, chunk, m;
	const struct nlmsghdr *nlh;
	ssize_t n = 0;

	if (s->nl == NULL)		/* detached (tests): nobody to tell */
		s->txused = 0;
	while (off < s->txused) {
		/* Whole messages, at most NFQ_SEND_BYTES. */
		for (chunk = 0; off + chunk < s->txused; chunk += m) {
			nlh = (const struct nlmsghdr *)(s->txbuf + off + chunk);
			m = MNL_ALIGN(nlh->nlmsg_len);
			if (chunk + m > NFQ_SEND_BYTES)
				break;
		}
		if ((n = mnl_socket_sendto(s->nl, s->txbuf + off, chunk)) < 0)
			break;
		off += chunk;
	}
	if (off > 0) {
		memmove(s->txbuf, s->txbuf + off, s->txused - off);
		s->txused -= off;
	}
	if (n < 0) {
		s->counters.verdict_send_failures++;
		if (!s->send_failing)
			log_warn("queue %u: sending verdicts (kept, sent again)",
			    s->opt.queue);
		s->send_failing = true;
		return -1;
	}
	if (s->send_failing)
		log_info("queue %u: verdicts sent again after %llu failed sends",
		    s->opt.queue,
		    (unsigned long long)s->counters.verdict_send_failures);
	s->send_failing = false;
	return 0;
}

static void
nfq_packet_from_attrs(struct nlattr **attr, struct nfq_packet *p)
{
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);

	memset(p, 0, sizeof(*p));
	p->id = ntohl(ph->packet_id);
	p->hw_protocol = ntohs(ph->hw_protocol);
	p->hook = ph->hook;
	p->payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
	p->payload_len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	p->orig_len = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
	    : (uint32_t)p->payload_len;
	if (attr[NFQA_IFINDEX_INDEV])
		p->indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_IFINDEX_OUTDEV])
		p->outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
	if (attr[NFQA_MARK])
		p->mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
}

static void
nfq_error_msg(struct nfq_source *s, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)) || err->error == 0)
		return;
	s->counters.verdict_errors++;
	log_warnx("queue %u: kernel refused a verdict: %s", s->opt.queue,
	    strerror(nl_errno(err->error)));
}

/* One message read from the socket: a queued packet, or an error report. */
static int
nfq_dispatch(const struct nlmsghdr *nlh, void *arg)
{
	struct nfq_source *s = arg;
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	struct nfq_packet p;
	int verdict;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		nfq_error_msg(s, nlh);
		return NL_CB_OK;
	}
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET)
		return NL_CB_OK;
	s->counters.packets++;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
		/* Without an id there is nothing to verdict; the kernel keeps it. */
		s->counters.bad_messages++;
		log_warnx("queue %u: packet message without a header", s->opt.queue);
		return NL_CB_OK;
	}
	if (attr[NFQA_PAYLOAD] == NULL) {
		ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
		s->counters.bad_messages++;
		nfq_verdict_add(s, ntohl(ph->packet_id), NF_ACCEPT);
		return NL_CB_OK;
	}
	nfq_packet_from_attrs(attr, &p);
	verdict = s->fn(s->arg, s->opt.queue, &p);
	if (verdict == NFQ_HOLD) {
		s->counters.held++;
		return NL_CB_OK;
	}
	nfq_verdict_add(s, p.id, verdict);
	return NL_CB_OK;
}

/* Bind, copy mode and range, queue length and flags in one acked request. */
static int
nfq_configure(struct nfq_source *s)
{
	char buf[NL_REQUEST_BUFSIZE];
	struct nlmsghdr *nlh;
	uint32_t flags = NFQA_CFG_F_GSO;	/* headers only: no need to segment */

	if (s->opt.fail_open)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, s->opt.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)s->opt.copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, s->opt.maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags));
	return nl_request(s->nl, nlh, s->rxbuf, s->rxlen, nfq_dispatch, s,
	    &s->counters.nl);
}

struct nfq_source *
nfq_source_open(const struct nfq_options *opt, nfq_packet_fn fn, void *arg)
{
	struct nfq_source *s;

	if ((s = nfq_source_detached(opt, fn, arg)) == NULL) {
		log_warnx("queue %u: out of memory", opt->queue);
		return NULL;
	}
	/* Message and attribute headers fit in a page beside the copied bytes. */
	s->rxlen = opt->copy_range + 4096;
	if ((s->rxbuf = malloc(s->rxlen)) == NULL) {
		log_warnx("queue %u: out of memory", opt->queue);
		goto fail;
	}
	/* Room for a full kernel queue of copied packets, so bursts are not lost. */
	s->nl = nl_open_netfilter((size_t)opt->maxlen * (opt->copy_range + 512));
	if (s->nl == NULL) {
		log_warn("queue %u: netlink socket", opt->queue);
		goto fail;
	}
	if (nfq_configure(s) < 0) {
		/* The kernel answers EPERM when another socket owns it. */
		if (errno == EPERM || errno == EBUSY)
			log_warnx("queue %u: cannot bind: already bound by another "
			    "process, or no CAP_NET_ADMIN", opt->queue);
		else
			log_warn("queue %u: bind", opt->queue);
		goto fail;
	}
	nfq_flush_verdicts(s);
	return s;
fail:
	nfq_source_close(s);
	return NULL;
}

void
nfq_source_close(struct nfq_source *s)
{
	if (s == NULL)
		return;
	if (s->nl != NULL) {
		nfq_flush_verdicts(s);
		mnl_socket_close(s->nl);
	}
	free(s->rxbuf);
	free(s->txbuf);
	free(s);
}

int
nfq_source_fd(const struct nfq_source *s)
{
	return mnl_socket_get_fd(s->nl);
}

uint16_t
nfq_source_queue(const struct nfq_source *s)
{
	return s->opt.queue;
}

uint32_t
nfq_source_portid(const struct nfq_source *s)
{
	return mnl_socket_get_portid(s->nl);
}

int
nfq_source_receive(struct nfq_source *s)
{
	char what[16];
	struct nl_rx rx = { .what = what, .fn = nfq_dispatch, .arg = s,
	    .c = &s->counters.nl };
	int fd = mnl_socket_get_fd(s->nl), handled = 0, n;

	snprintf(what, sizeof(what), "queue %u", s->opt.queue);
	while (handled < NFQ_RECEIVE_BUDGET) {
		if (s->backlog != NULL && s->backlog(s->backlog_arg))
			break;
		if ((n = nl_receive(fd, s->rxbuf, s->rxlen, &rx)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				/* Messages were lost; with fail_open the kernel accepted them. */
				s->counters.enobufs++;
				continue;
			}
			nfq_flush_verdicts(s);
			return -1;
		}
		/* A refused datagram costs a turn too: a flood of them yields. */
		handled += n > 0 ? n : 1;
	}
	nfq_flush_verdicts(s);
	return handled;
}

void
nfq_source_verdict(struct nfq_source *s, uint32_t id, int verdict)
{
	s->counters.held_verdicts++;
	nfq_verdict_add(s, id, verdict);
}

int
nfq_source_flush(struct nfq_source *s)
{
	return nfq_flush_verdicts(s);
}

void
nfq_source_set_backlog(struct nfq_source *s, bool (*full)(void *), void *arg)
{
	s->backlog = full;
	s->backlog_arg = arg;
}

bool
nfq_source_unsent(const struct nfq_source *s)
{
	return s->txused > 0;
}

const struct nfq_counters *
nfq_source_counters(const struct nfq_source *s)
{
	return &s->counters;
}

struct nfq_source *
nfq_source_detached(const struct nfq_options *opt, nfq_packet_fn fn, void *arg)
{
	struct nfq_source *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->opt = *opt;
	s->fn = fn;
	s->arg = arg;
	s->txcap = NFQ_SEND_BYTES;
	s->txmax = ((size_t)opt->maxlen + NFQ_RECEIVE_BUDGET) * NFQ_VERDICT_MSG_MAX;
	if ((s->txbuf = malloc(s->txcap)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

int
nfq_source_datagram(struct nfq_source *s, const void *buf, size_t len,
    uint32_t sender)
{
	struct nl_rx rx = { .what = "queue", .fn = nfq_dispatch, .arg = s,
	    .c = &s->counters.nl };

	return nl_datagram_run(buf, len, sender, false, &rx);
}
