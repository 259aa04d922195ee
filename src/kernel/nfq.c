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

/* Packets handled per nfq_source_receive() call before yielding to the loop. */
#define NFQ_RECEIVE_BUDGET	256

/*
 * A verdict message: nlmsghdr + nfgenmsg + one NFQA_VERDICT_HDR attribute,
 * 32 bytes aligned; the send buffer holds one per packet of a full budget.
 */
#define NFQ_VERDICT_MSG_MAX	64

struct nfq_source {
	struct mnl_socket *nl;
	struct nfq_options opt;
	nfq_packet_fn fn;
	void *arg;
	/* One packet message: headers, attributes and copy_range bytes of payload. */
	char *rxbuf;
	size_t rxlen;
	char txbuf[NFQ_RECEIVE_BUDGET * NFQ_VERDICT_MSG_MAX];
	size_t txused;
	struct nfq_counters counters;
};

static int nfq_flush_verdicts(struct nfq_source *);

static void
nfq_verdict_add(struct nfq_source *s, uint32_t id, int verdict)
{
	struct nlmsghdr *nlh;

	if (s->txused + NFQ_VERDICT_MSG_MAX > sizeof(s->txbuf))
		nfq_flush_verdicts(s);
	nlh = nfq_nlmsg_put(s->txbuf + s->txused, NFQNL_MSG_VERDICT, s->opt.queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	s->txused += MNL_ALIGN(nlh->nlmsg_len);
	if (verdict == NF_DROP)
		s->counters.dropped++;
	else
		s->counters.accepted++;
}

/* The kernel reads every message of one datagram, so a pass costs one send. */
static int
nfq_flush_verdicts(struct nfq_source *s)
{
	ssize_t n;

	if (s->txused == 0)
		return 0;
	n = mnl_socket_sendto(s->nl, s->txbuf, s->txused);
	s->txused = 0;
	if (n < 0) {
		log_warn("queue %u: sending verdicts", s->opt.queue);
		s->counters.verdict_errors++;
		return -1;
	}
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
	    strerror(-err->error));
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

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		fatal("queue %u", opt->queue);
	s->opt = *opt;
	s->fn = fn;
	s->arg = arg;
	/* Message and attribute headers fit in a page beside the copied bytes. */
	s->rxlen = opt->copy_range + 4096;
	s->rxbuf = malloc(s->rxlen);
	if (s->rxbuf == NULL)
		fatal("queue %u", opt->queue);
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

const struct nfq_counters *
nfq_source_counters(const struct nfq_source *s)
{
	return &s->counters;
}
