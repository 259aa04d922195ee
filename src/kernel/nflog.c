#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "util/log.h"
#include "kernel/netlink.h"
#include "kernel/nflog.h"
#include "kernel/nflog_test.h"

#define NFLOG_RECEIVE_BUDGET	256
/* The kernel batches log messages into one skb of up to this many bytes. */
#define NFLOG_NLBUFSIZ		(64 * 1024)

struct nflog_source {
	struct mnl_socket *nl;
	uint16_t group;
	nflog_packet_fn fn;
	void *arg;
	char *rxbuf;			/* one kernel batch: NFLOG_NLBUFSIZ bytes */
	bool (*backlog)(void *);	/* true: read no more now */
	void *backlog_arg;
	struct nflog_counters counters;
};

static struct nlmsghdr *
nflog_msg_put(char *buf, uint16_t type, uint8_t family, uint16_t group)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(group);
	return nlh;
}

/* Every attribute we read has its length checked before use. */
static int
nflog_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFULA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case NFULA_MARK:
	case NFULA_IFINDEX_INDEV:
	case NFULA_IFINDEX_OUTDEV:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case NFULA_PACKET_HDR:
		if (mnl_attr_validate2(a, MNL_TYPE_UNSPEC,
		    sizeof(struct nfulnl_msg_packet_hdr)) < 0)
			return MNL_CB_OK;
		break;
	case NFULA_PREFIX:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_OK;
		break;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static int
nflog_dispatch(const struct nlmsghdr *nlh, void *arg)
{
	struct nflog_source *s = arg;
	const struct nlattr *tb[NFULA_MAX + 1] = { NULL };
	const struct nfulnl_msg_packet_hdr *ph;
	struct nflog_packet p = { .prefix = "" };

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET)
		return NL_CB_OK;
	s->counters.packets++;
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), nflog_attr_cb, tb);
	if (tb[NFULA_PACKET_HDR] == NULL || tb[NFULA_PAYLOAD] == NULL) {
		s->counters.bad_messages++;
		return NL_CB_OK;
	}
	ph = mnl_attr_get_payload(tb[NFULA_PACKET_HDR]);
	p.hw_protocol = ntohs(ph->hw_protocol);
	p.hook = ph->hook;
	p.payload = mnl_attr_get_payload(tb[NFULA_PAYLOAD]);
	p.payload_len = mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]);
	if (tb[NFULA_PREFIX])
		p.prefix = mnl_attr_get_str(tb[NFULA_PREFIX]);
	if (tb[NFULA_IFINDEX_INDEV])
		p.indev = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_INDEV]));
	if (tb[NFULA_IFINDEX_OUTDEV])
		p.outdev = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_OUTDEV]));
	if (tb[NFULA_MARK])
		p.mark = ntohl(mnl_attr_get_u32(tb[NFULA_MARK]));
	s->fn(s->arg, s->group, &p);
	return NL_CB_OK;
}

static int
nflog_configure(struct nflog_source *s, uint32_t copy_range)
{
	char buf[NL_REQUEST_BUFSIZE];
	struct nlmsghdr *nlh;
	struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = {
		.copy_range = htonl(copy_range),
		.copy_mode = NFULNL_COPY_PACKET,
	};

	nlh = nflog_msg_put(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, s->group);
	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(NFLOG_NLBUFSIZ));
	/* Deliver within 10 ms even when the batch is not full: triggers react fast. */
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(1));
	return nl_request(s->nl, nlh, s->rxbuf, NFLOG_NLBUFSIZ, nflog_dispatch, s,
	    &s->counters.nl);
}

struct nflog_source *
nflog_source_open(uint16_t group, uint32_t copy_range, nflog_packet_fn fn, void *arg)
{
	struct nflog_source *s;

	if ((s = nflog_source_detached(group, fn, arg)) == NULL ||
	    (s->rxbuf = malloc(NFLOG_NLBUFSIZ)) == NULL) {
		log_warnx("nflog group %u: out of memory", group);
		goto fail;
	}
	s->nl = nl_open_netfilter(4 * 1024 * 1024);
	if (s->nl == NULL) {
		log_warn("nflog group %u: netlink socket", group);
		goto fail;
	}
	if (nflog_configure(s, copy_range) < 0) {
		/* The kernel answers EPERM when another socket owns it. */
		if (errno == EPERM || errno == EBUSY)
			log_warnx("nflog group %u: cannot bind: already bound by another "
			    "process, or no CAP_NET_ADMIN", group);
		else
			log_warn("nflog group %u: bind", group);
		goto fail;
	}
	return s;
fail:
	nflog_source_close(s);
	return NULL;
}

void
nflog_source_close(struct nflog_source *s)
{
	if (s == NULL)
		return;
	if (s->nl != NULL)
		mnl_socket_close(s->nl);
	free(s->rxbuf);
	free(s);
}

int
nflog_source_fd(const struct nflog_source *s)
{
	return mnl_socket_get_fd(s->nl);
}

uint16_t
nflog_source_group(const struct nflog_source *s)
{
	return s->group;
}

int
nflog_source_receive(struct nflog_source *s)
{
	char what[24];
	struct nl_rx rx = { .what = what, .fn = nflog_dispatch, .arg = s,
	    .c = &s->counters.nl };
	int fd = mnl_socket_get_fd(s->nl), handled = 0, n;

	snprintf(what, sizeof(what), "nflog group %u", s->group);
	while (handled < NFLOG_RECEIVE_BUDGET) {
		if (s->backlog != NULL && s->backlog(s->backlog_arg))
			break;
		if ((n = nl_receive(fd, s->rxbuf, NFLOG_NLBUFSIZ, &rx)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				s->counters.enobufs++;
				continue;
			}
			return -1;
		}
		/* A refused datagram costs a turn too: a flood of them yields. */
		handled += n > 0 ? n : 1;
	}
	return handled;
}

void
nflog_source_set_backlog(struct nflog_source *s, bool (*full)(void *),
    void *arg)
{
	s->backlog = full;
	s->backlog_arg = arg;
}

const struct nflog_counters *
nflog_source_counters(const struct nflog_source *s)
{
	return &s->counters;
}

struct nflog_source *
nflog_source_detached(uint16_t group, nflog_packet_fn fn, void *arg)
{
	struct nflog_source *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->group = group;
	s->fn = fn;
	s->arg = arg;
	return s;
}

int
nflog_source_datagram(struct nflog_source *s, const void *buf, size_t len,
    uint32_t sender)
{
	struct nl_rx rx = { .what = "nflog group", .fn = nflog_dispatch,
	    .arg = s, .c = &s->counters.nl };

	return nl_datagram_run(buf, len, sender, false, &rx);
}
