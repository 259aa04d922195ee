#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include "util/log.h"
#include "kernel/netlink.h"

/* A refused datagram is logged at most this often per socket (seconds). */
#define NL_REFUSAL_LOG_INTERVAL	10

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

/*
 * A flood of forged datagrams must not become a flood of log lines: one
 * line per interval, with the number left unsaid since the last one.
 */
static void __attribute__((format(printf, 2, 3)))
nl_refusal_log(struct nl_rx *rx, const char *fmt, ...)
{
	struct nl_rx_counters *c = rx->c;
	struct timespec now;
	char text[160];
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((c->logged.tv_sec != 0 || c->logged.tv_nsec != 0) &&
	    now.tv_sec - c->logged.tv_sec < NL_REFUSAL_LOG_INTERVAL) {
		c->unlogged++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->unlogged > 0)
		log_warnx("%s: %s (%llu more refused since the last report)",
		    rx->what, text, (unsigned long long)c->unlogged);
	else
		log_warnx("%s: %s", rx->what, text);
	c->logged = now;
	c->unlogged = 0;
}

/* A reply must answer us: our port id, a sequence number we sent. */
static bool
nl_reply_expected(const struct nl_rx *rx, const struct nlmsghdr *nlh)
{
	if (rx->portid == 0)
		return true;
	return nlh->nlmsg_pid == rx->portid &&
	    nlh->nlmsg_seq - rx->seq_first <= rx->seq_last - rx->seq_first;
}

int
nl_datagram_run(const void *buf, size_t len, uint32_t sender, bool truncated,
    struct nl_rx *rx)
{
	const struct nlmsghdr *nlh;
	size_t off = 0, mlen, alen;
	int n = 0, r;

	rx->stopped = rx->failed = false;
	if (sender != 0) {
		rx->c->forged++;
		nl_refusal_log(rx, "dropped a datagram from port id %u: only the "
		    "kernel speaks here", sender);
		return 0;
	}
	while (len - off >= sizeof(*nlh)) {
		nlh = (const struct nlmsghdr *)((const char *)buf + off);
		/*
		 * Bounded here, as an unsigned size: mnl_nlmsg_ok() casts to
		 * int. The kernel does not pad a datagram's last message (a
		 * queued packet's payload ends it), while libmnl parses
		 * attributes up to the aligned end: the caller's buffer has
		 * that padding, zeroed (nl_receive()). Aligned with a size_t
		 * mask: NLMSG_ALIGN()'s is 32 bits and turns 0xffffffff into 0.
		 */
		mlen = nlh->nlmsg_len;
		alen = (mlen + NLMSG_ALIGNTO - 1) & ~(size_t)(NLMSG_ALIGNTO - 1);
		if (mlen < sizeof(*nlh) || mlen > len - off) {
			rx->c->malformed++;
			nl_refusal_log(rx, "dropped a message of %zu bytes at "
			    "offset %zu of a %zu-byte datagram", mlen, off, len);
			return n;
		}
		off += alen < len - off ? alen : len - off;
		if (nlh->nlmsg_type == NLMSG_NOOP)
			continue;
		if (!nl_reply_expected(rx, nlh)) {
			rx->c->unexpected++;
			log_debug("%s: skipped a reply to port %u, sequence %u",
			    rx->what, nlh->nlmsg_pid, nlh->nlmsg_seq);
			continue;
		}
		n++;
		if ((r = rx->fn(nlh, rx->arg)) == NL_CB_ERROR) {
			rx->failed = true;
			return -1;
		}
		if (r == NL_CB_STOP) {
			rx->stopped = true;
			return n;
		}
	}
	if (len - off >= NLMSG_ALIGNTO || truncated) {
		rx->c->malformed++;
		nl_refusal_log(rx, "dropped %zu trailing bytes of a %zu-byte "
		    "datagram%s", len - off, len, truncated ? " (truncated)" : "");
	}
	return n;
}

int
nl_receive(int fd, void *buf, size_t len, struct nl_rx *rx)
{
	struct sockaddr_nl from = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = &from, .msg_namelen = sizeof(from),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t r;

	/* Room kept for the padding of an unpadded last message, zeroed. */
	if (len <= NLMSG_ALIGNTO) {
		errno = EINVAL;
		return -1;
	}
	iov.iov_len = len - NLMSG_ALIGNTO;
	if ((r = recvmsg(fd, &msg, MSG_DONTWAIT)) < 0)
		return -1;
	memset((char *)buf + r, 0, NLMSG_ALIGNTO);
	if (msg.msg_namelen != sizeof(from) || from.nl_family != AF_NETLINK) {
		rx->c->forged++;
		nl_refusal_log(rx, "dropped a datagram without a netlink source");
		return 0;
	}
	return nl_datagram_run(buf, (size_t)r, from.nl_pid,
	    (msg.msg_flags & MSG_TRUNC) != 0, rx);
}

int
nl_errno(int error)
{
	/* The kernel's errnos are below 4096 (MAX_ERRNO). */
	if (error > 0 || error < -4095)
		return EPROTO;
	return -error;
}

int
nl_wait(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

struct ack_wait {
	uint32_t seq;
	uint32_t portid;
	int done;
	int error;
	nl_msg_fn dispatch;
	void *arg;
};

static int
ack_wait_msg(const struct nlmsghdr *nlh, void *arg)
{
	struct ack_wait *w = arg;
	const struct nlmsgerr *err;

	if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq != w->seq ||
	    nlh->nlmsg_pid != w->portid) {
		if (w->dispatch != NULL)
			w->dispatch(nlh, w->arg);
		return NL_CB_OK;
	}
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		w->error = EBADMSG;
	} else {
		err = mnl_nlmsg_get_payload(nlh);
		w->error = nl_errno(err->error);
	}
	w->done = 1;
	/* Packets may follow in the same datagram: read on. */
	return NL_CB_OK;
}

int
nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, void *buf,
    size_t buflen, nl_msg_fn dispatch, void *arg, struct nl_rx_counters *c)
{
	struct ack_wait w = { 0 };
	struct nl_rx rx = { .what = "netlink request", .fn = ack_wait_msg,
	    .arg = &w, .c = c };
	int fd = mnl_socket_get_fd(nl), r;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)nlh;
	w.seq = nlh->nlmsg_seq;
	w.portid = mnl_socket_get_portid(nl);
	w.dispatch = dispatch;
	w.arg = arg;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while (!w.done) {
		if ((r = nl_wait(fd, 1000)) <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
		if (nl_receive(fd, buf, buflen, &rx) >= 0)
			continue;
		if (errno == EAGAIN || errno == EINTR)
			continue;
		if (errno == ENOBUFS) {
			log_warnx("netlink: receive buffer overrun while waiting for an ack");
			continue;
		}
		return -1;
	}
	if (w.error != 0) {
		errno = w.error;
		return -1;
	}
	return 0;
}
