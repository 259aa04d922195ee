/*
 * The engine's client of the spawner (spawn_client.h): start it, send
 * requests, read replies. Never blocks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "privsep/spawn_client.h"
#include "privsep/spawn_client_test.h"
#include "privsep/spawner.h"

struct spawn {
	int fd;
	pid_t pid;
	bool gone;
};

struct spawn *
spawn_start(void)
{
	struct spawn *sp;
	int sv[2], saved;
	pid_t pid;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		saved = errno;
		free(sp);
		errno = saved;
		return NULL;
	}
	if ((pid = fork()) < 0) {
		saved = errno;
		close(sv[0]);
		close(sv[1]);
		free(sp);
		errno = saved;
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		spawner_main(sv[1]);
	}
	close(sv[1]);
	sp->fd = sv[0];
	sp->pid = pid;
	log_debug("spawner started, pid %d", (int)pid);
	return sp;
}

struct spawn *
spawn_attach(int fd, pid_t pid)
{
	struct spawn *sp;

	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return NULL;
	sp->fd = fd;
	sp->pid = pid;
	return sp;
}

int
spawn_fd(const struct spawn *sp)
{
	return sp->fd;
}

pid_t
spawn_pid(const struct spawn *sp)
{
	return sp->pid;
}

static int
spawn_write(struct spawn *sp, const void *msg, size_t len)
{
	if (sp->gone) {
		errno = EPIPE;
		return -1;
	}
	if (send(sp->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == ECONNRESET || errno == ENOTCONN)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

int
spawn_set_log(struct spawn *sp, int to_syslog, int verbosity)
{
	struct spawn_msg_log m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = SPAWN_MSG_LOG;
	m.hdr.len = sizeof(m);
	m.to_syslog = to_syslog;
	m.verbosity = verbosity;
	return spawn_write(sp, &m, sizeof(m));
}

int
spawn_send(struct spawn *sp, const struct spawn_run *run, const char **errp)
{
	uint8_t buf[SPAWN_MSG_MAX];
	ssize_t len;

	if ((len = spawn_run_encode(run, buf, sizeof(buf), errp)) < 0)
		return -1;
	if (spawn_write(sp, buf, (size_t)len) < 0) {
		if (errp != NULL)
			*errp = strerror(errno);
		return -1;
	}
	return 0;
}

/* Reap the spawner if it has exited already, and say how it ended. */
static void
spawn_reap(struct spawn *sp)
{
	int status;

	if (sp->pid <= 0 || waitpid(sp->pid, &status, WNOHANG) != sp->pid)
		return;
	if (WIFEXITED(status))
		log_info("spawner (pid %d) exited with status %d", (int)sp->pid,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("spawner (pid %d) killed by signal %d", (int)sp->pid,
		    WTERMSIG(status));
	sp->pid = 0;
}

static int
spawn_gone(struct spawn *sp)
{
	if (!sp->gone)
		log_warnx("spawner (pid %d) has gone: hooks cannot run any more", (int)sp->pid);
	sp->gone = true;
	spawn_reap(sp);
	errno = EPIPE;
	return -1;
}

static bool
spawn_reply_ok(const struct spawn_msg_reply *m, ssize_t n, int flags)
{
	if (n != (ssize_t)sizeof(*m) || (flags & MSG_TRUNC) || m->hdr.len != sizeof(*m))
		return false;
	return m->hdr.type >= SPAWN_MSG_STARTED && m->hdr.type <= SPAWN_MSG_LOST;
}

int
spawn_receive(struct spawn *sp, struct spawn_reply *r)
{
	struct spawn_msg_reply m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (sp->gone)
		return spawn_gone(sp);
	for (;;) {
		mh.msg_flags = 0;
		n = recvmsg(sp->fd, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno != ECONNRESET) {
			log_warn("spawner: receive");
			return -1;
		}
		if (n < 0 || (n == 0 && spawn_peer_closed(sp->fd)))
			return spawn_gone(sp);
		if (!spawn_reply_ok(&m, n, mh.msg_flags)) {
			log_warnx("spawner: malformed reply (%zd bytes) dropped", n);
			continue;
		}
		r->id = m.hdr.id;
		r->event = (enum spawn_event)m.hdr.type;
		r->value = m.value;
		return 1;
	}
}

void
spawn_close(struct spawn *sp)
{
	if (sp == NULL)
		return;
	close(sp->fd);
	spawn_reap(sp);
	free(sp);
}
