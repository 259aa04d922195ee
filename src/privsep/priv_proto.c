/*
 * The control protocol's codec (priv_proto.h): one fixed-size message,
 * checked whole, and descriptors passed with SCM_RIGHTS.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "privsep/priv_proto.h"
#include "privsep/spawn_proto.h"

void
priv_msg_init(struct priv_msg *m, enum priv_msg_type type, const char *text)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->len = sizeof(*m);
	if (text != NULL)
		snprintf(m->text, sizeof(m->text), "%s", text);
}

int
priv_msg_send(int sock, const struct priv_msg *m, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* Every descriptor that came with the message: the first kept, others closed. */
static int
priv_msg_fds(struct msghdr *mh)
{
	struct cmsghdr *c;
	int fd = -1, f;
	size_t i, n;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = f;
			else
				close(f);
		}
	}
	return fd;
}

static bool
priv_msg_ok(const struct priv_msg *m, ssize_t n, int flags)
{
	if (n != (ssize_t)sizeof(*m) || (flags & (MSG_TRUNC | MSG_CTRUNC)))
		return false;
	if (m->len != sizeof(*m) || m->type < PRIV_MSG_CONFIG || m->type > PRIV_MSG_ERR)
		return false;
	return memchr(m->text, '\0', sizeof(m->text)) != NULL;
}

int
priv_msg_recv(int sock, struct priv_msg *m, int *fdp)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	ssize_t n;
	int fd;

	if (fdp != NULL)
		*fdp = -1;
	while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0) {
		if (errno != EINTR)
			return -1;
	}
	fd = priv_msg_fds(&mh);
	if (n == 0 && spawn_peer_closed(sock)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (!priv_msg_ok(m, n, mh.msg_flags)) {
		if (fd >= 0)
			close(fd);
		errno = EBADMSG;
		return -1;
	}
	if (fdp != NULL)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	return 1;
}
