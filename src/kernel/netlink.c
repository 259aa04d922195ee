#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include "util/log.h"
#include "kernel/netlink.h"

struct mnl_socket *
nl_open_netfilter(size_t rcvbuf)
{
	struct mnl_socket *nl;
	int fd, size = (int)rcvbuf, on = 1;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (nl == NULL)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	fd = mnl_socket_get_fd(nl);
	/* FORCE needs CAP_NET_ADMIN, which we have; fall back to the capped size. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	/* Let the kernel say which attribute it refused. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on));
	return nl;
}

struct ack_wait {
	uint32_t seq;
	int done;
	int error;
	nl_dispatch_fn dispatch;
	void *arg;
};

static int
ack_wait_msg(const struct nlmsghdr *nlh, struct ack_wait *w)
{
	const struct nlmsgerr *err;

	if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq != w->seq) {
		if (w->dispatch != NULL)
			w->dispatch(nlh, w->arg);
		return 0;
	}
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		w->error = EBADMSG;
	} else {
		err = mnl_nlmsg_get_payload(nlh);
		w->error = -err->error;
	}
	w->done = 1;
	return 0;
}

static int
ack_wait_datagram(void *buf, ssize_t len, struct ack_wait *w)
{
	const struct nlmsghdr *nlh = buf;
	int rem = (int)len;

	for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem))
		ack_wait_msg(nlh, w);
	return 0;
}

int
nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, void *buf,
    size_t buflen, nl_dispatch_fn dispatch, void *arg)
{
	struct ack_wait w = { 0 };
	struct pollfd pfd;
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)nlh;
	w.seq = nlh->nlmsg_seq;
	w.dispatch = dispatch;
	w.arg = arg;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;

	pfd.fd = mnl_socket_get_fd(nl);
	pfd.events = POLLIN;
	while (!w.done) {
		if (poll(&pfd, 1, 1000) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = mnl_socket_recvfrom(nl, buf, buflen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				log_warnx("netlink: receive buffer overrun while waiting for an ack");
				continue;
			}
			return -1;
		}
		ack_wait_datagram(buf, n, &w);
	}
	if (w.error != 0) {
		errno = w.error;
		return -1;
	}
	return 0;
}
