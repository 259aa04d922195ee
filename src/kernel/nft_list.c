/*
 * Reading the engine's table back from the kernel for the control socket
 * (nft_list.h): a set's elements with their time left, and the counters of
 * the rules that divert to a queue. Its own short-lived socket, so a dump
 * never mixes with the element batches' acks; called from the loop pass
 * only (docs/design.md: no kernel round trip inside a packet callback).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "kernel/nft_list.h"
#include "util/log.h"

#define LIST_RX_BYTES	65536
#define LIST_WAIT_MS	1000

struct list_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *rx;
};

static int
list_open(struct list_sock *ls)
{
	memset(ls, 0, sizeof(*ls));
	if ((ls->rx = malloc(LIST_RX_BYTES)) == NULL)
		return -1;
	ls->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (ls->nl == NULL || mnl_socket_bind(ls->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		if (ls->nl != NULL)
			mnl_socket_close(ls->nl);
		free(ls->rx);
		return -1;
	}
	ls->portid = mnl_socket_get_portid(ls->nl);
	ls->seq = (uint32_t)time(NULL);
	return 0;
}

static void
list_close(struct list_sock *ls)
{
	mnl_socket_close(ls->nl);
	free(ls->rx);
}

/* One datagram from the kernel (sender port 0: Decision 16), waiting 1 s at most. */
static ssize_t
list_recv(struct list_sock *ls)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(ls->nl), .events = POLLIN };
	struct sockaddr_nl from;
	socklen_t fromlen;
	ssize_t n;

	for (;;) {
		fromlen = sizeof(from);
		n = recvfrom(pfd.fd, ls->rx, LIST_RX_BYTES, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		if (n >= 0) {
			if (fromlen < sizeof(from) || from.nl_pid != 0)
				continue;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (poll(&pfd, 1, LIST_WAIT_MS) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* Send a dump request, run cb over every reply until NLMSG_DONE. */
static int
list_dump(struct list_sock *ls, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	ssize_t len;
	int r;

	if (mnl_socket_sendto(ls->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		if ((len = list_recv(ls)) < 0)
			return -1;
		r = mnl_cb_run(ls->rx, (size_t)len, nlh->nlmsg_seq, ls->portid, cb, data);
	} while (r > 0);
	return r < 0 ? -1 : 0;
}

struct list_elems {
	int family;
	nft_list_fn fn;
	void *arg;
	int count;
};

static int
list_elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct list_elems *le = data;
	struct nft_list_elem el = { .family = le->family };
	const void *key;
	uint32_t klen = 0;

	key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
	if (key == NULL || klen != (le->family == AF_INET ? 4u : 16u))
		return 0;
	memcpy(el.addr, key, klen);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		el.timeout_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
		el.expires_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
	le->count++;
	if (le->fn != NULL)
		le->fn(le->arg, &el);
	return 0;
}

struct list_set_dump {
	struct nftnl_set *s;
	struct list_elems *le;
};

/* Each reply message carries a batch of elements: hand them out, then drop them. */
static int
list_set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_set_dump *d = data;
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		nftnl_set_elem_foreach(s, list_elem_cb, d->le);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

int
nft_list_set(const char *table, const char *set, int family, nft_list_fn fn,
    void *arg)
{
	uint32_t req[256];
	struct list_elems le = { .family = family, .fn = fn, .arg = arg };
	struct list_set_dump d = { .le = &le };
	struct list_sock ls;
	struct nlmsghdr *nlh;
	int rc, saved;

	if (list_open(&ls) < 0)
		return -1;
	if ((d.s = nftnl_set_alloc()) == NULL) {
		list_close(&ls);
		errno = ENOMEM;
		return -1;
	}
	nftnl_set_set_str(d.s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(d.s, NFTNL_SET_NAME, set);
	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP, ls.seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, d.s);
	rc = list_dump(&ls, nlh, list_set_cb, &d);
	saved = errno;
	nftnl_set_free(d.s);
	list_close(&ls);
	errno = saved;
	return rc < 0 ? -1 : le.count;
}

struct list_rules {
	uint64_t packets;
	uint64_t last_counter;
};

/* The counter just before a queue statement counts what that rule diverted. */
static int
list_expr_cb(struct nftnl_expr *e, void *data)
{
	struct list_rules *lr = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const char *target;

	if (name == NULL)
		return 0;
	if (strcmp(name, "counter") == 0)
		lr->last_counter = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	else if (strcmp(name, "queue") == 0)
		lr->packets += lr->last_counter;
	else if (strcmp(name, "target") == 0 &&
	    (target = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME)) != NULL &&
	    strcmp(target, "NFQUEUE") == 0)
		lr->packets += lr->last_counter;
	return 0;
}

static int
list_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_rules *lr = data;
	struct nftnl_rule *r;

	if ((r = nftnl_rule_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		lr->last_counter = 0;
		nftnl_expr_foreach(r, list_expr_cb, lr);
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int
nft_list_queue_packets(const char *table, uint64_t *packets)
{
	uint32_t req[256];
	struct list_rules lr = { 0 };
	struct list_sock ls;
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	int rc, saved;

	if (list_open(&ls) < 0)
		return -1;
	if ((r = nftnl_rule_alloc()) == NULL) {
		list_close(&ls);
		errno = ENOMEM;
		return -1;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETRULE, NFPROTO_INET,
	    NLM_F_DUMP, ls.seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	rc = list_dump(&ls, nlh, list_rule_cb, &lr);
	saved = errno;
	nftnl_rule_free(r);
	list_close(&ls);
	errno = saved;
	*packets = lr.packets;
	return rc;
}
