/*
 * The spawner process and the engine's handle on it (spawner.h), and the
 * message format they share (spawn_proto.h).
 *
 * The spawner is forked before the engine drops its privileges and keeps
 * them: for now it stays root with every capability, and hooks run as root.
 * docs/design.md, decision 2, wants CAP_SETUID/SETGID/KILL (plus CAP_NET_ADMIN
 * only for hooks configured to get it) and hooks run as a configured user;
 * that is a later step, and the request message is where a user and a
 * capability set would be added.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "util/log.h"
#include "engine/loop.h"
#include "privsep/spawner.h"
#include "privsep/spawner_test.h"

#define STR2(x)	#x
#define STR(x)	STR2(x)

/* Messages read per wakeup, so that a flood cannot starve the children. */
#define SPAWNER_READ_BURST	64

/* ---------------------------------------------------------------------- */
/* Messages */

static int
spawn_fail(int err, const char *msg, const char **errp)
{
	if (errp != NULL)
		*errp = msg;
	errno = err;
	return -1;
}

/* "NFQT_" [A-Z0-9_]+ "=" anything */
static bool
spawn_env_word_ok(const char *w)
{
	const char *p;

	if (strncmp(w, "NFQT_", 5) != 0)
		return false;
	for (p = w + 5; *p != '='; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return p > w + 5;
}

static bool
spawn_name_ok(const char *name)
{
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

static int
spawn_words_size(char *const *words, int n, size_t *total)
{
	int i;

	*total = 0;
	for (i = 0; i < n; i++) {
		if (words[i] == NULL)
			return -1;
		*total += strlen(words[i]) + 1;
	}
	return 0;
}

int
spawn_run_check(const struct spawn_run *run, const char **errp)
{
	size_t total;
	int i;

	if (run->argc < 1 || run->argv == NULL || run->argv[0] == NULL ||
	    run->argv[0][0] == '\0')
		return spawn_fail(EINVAL, "no command", errp);
	/* No PATH search, as the config file promises: what runs is what it names. */
	if (run->argv[0][0] != '/')
		return spawn_fail(EINVAL, "command is not an absolute path", errp);
	if (run->argc > SPAWN_ARGV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ARGV_MAX) " argv words", errp);
	if (spawn_words_size(run->argv, run->argc, &total) < 0)
		return spawn_fail(EINVAL, "argv has fewer words than argc", errp);
	if (total > SPAWN_ARGV_BYTES)
		return spawn_fail(E2BIG, "argv longer than " STR(SPAWN_ARGV_BYTES) " bytes", errp);
	if (run->envc < 0 || (run->envc > 0 && run->env == NULL))
		return spawn_fail(EINVAL, "bad environment count", errp);
	if (run->envc > SPAWN_ENV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ENV_MAX) " variables", errp);
	if (spawn_words_size(run->env, run->envc, &total) < 0)
		return spawn_fail(EINVAL, "environment has fewer words than envc", errp);
	if (total > SPAWN_ENV_BYTES)
		return spawn_fail(E2BIG, "environment longer than " STR(SPAWN_ENV_BYTES) " bytes", errp);
	for (i = 0; i < run->envc; i++) {
		if (!spawn_env_word_ok(run->env[i]))
			return spawn_fail(EINVAL, "a variable that is not NFQT_*=value", errp);
	}
	if (run->name == NULL || !spawn_name_ok(run->name))
		return spawn_fail(EINVAL, "missing name or control characters in it", errp);
	if (strlen(run->name) > SPAWN_NAME_MAX)
		return spawn_fail(E2BIG, "name longer than " STR(SPAWN_NAME_MAX) " bytes", errp);
	if (run->timeout_ms == 0)
		return spawn_fail(EINVAL, "timeout of 0 ms", errp);
	return 0;
}

static bool
spawn_put(uint8_t *buf, size_t buflen, size_t *off, const void *p, size_t n)
{
	if (n > buflen - *off)
		return false;
	memcpy(buf + *off, p, n);
	*off += n;
	return true;
}

static bool
spawn_put_string(uint8_t *buf, size_t buflen, size_t *off, const char *s)
{
	size_t n = strlen(s);
	uint16_t len16;

	if (n > UINT16_MAX)
		return false;
	len16 = (uint16_t)n;
	return spawn_put(buf, buflen, off, &len16, sizeof(len16)) &&
	    spawn_put(buf, buflen, off, s, n);
}

ssize_t
spawn_run_encode(const struct spawn_run *run, void *buf, size_t buflen, const char **errp)
{
	struct spawn_msg_hdr hdr = { .type = SPAWN_MSG_RUN, .id = run->id };
	struct spawn_msg_run body;
	size_t off = sizeof(hdr);
	bool ok;
	int i;

	if (spawn_run_check(run, errp) < 0)
		return -1;
	if (buflen < sizeof(hdr))
		return spawn_fail(E2BIG, "request larger than the buffer", errp);
	memset(&body, 0, sizeof(body));
	body.timeout_ms = run->timeout_ms;
	body.argc = (uint16_t)run->argc;
	body.envc = (uint16_t)run->envc;
	ok = spawn_put(buf, buflen, &off, &body, sizeof(body)) &&
	    spawn_put_string(buf, buflen, &off, run->name);
	for (i = 0; ok && i < run->argc; i++)
		ok = spawn_put_string(buf, buflen, &off, run->argv[i]);
	for (i = 0; ok && i < run->envc; i++)
		ok = spawn_put_string(buf, buflen, &off, run->env[i]);
	if (!ok)
		return spawn_fail(E2BIG, "request larger than the buffer", errp);
	hdr.len = (uint32_t)off;
	memcpy(buf, &hdr, sizeof(hdr));
	return (ssize_t)off;
}

struct spawn_reader {
	const uint8_t *p;
	size_t left;
};

/* One length-prefixed string into dst[0..dstlen), NUL-terminated. */
static int
spawn_get_string(struct spawn_reader *rd, char *dst, size_t dstlen, const char **errp)
{
	uint16_t len;

	if (rd->left < sizeof(len))
		return spawn_fail(EBADMSG, "message ends inside a string length", errp);
	memcpy(&len, rd->p, sizeof(len));
	rd->p += sizeof(len);
	rd->left -= sizeof(len);
	if (len > rd->left)
		return spawn_fail(EBADMSG, "string runs past the end of the message", errp);
	if (memchr(rd->p, '\0', len) != NULL)
		return spawn_fail(EINVAL, "NUL byte inside a string", errp);
	if ((size_t)len + 1 > dstlen)
		return spawn_fail(E2BIG, "strings over the request limits", errp);
	memcpy(dst, rd->p, len);
	dst[len] = '\0';
	rd->p += len;
	rd->left -= len;
	return 0;
}

/* n strings into the pool of out, their pointers into words[]. */
static int
spawn_get_words(struct spawn_reader *rd, struct spawn_run_buf *out, size_t *pool,
    char **words, int n, const char **errp)
{
	int i;

	for (i = 0; i < n; i++) {
		words[i] = out->strings + *pool;
		if (spawn_get_string(rd, words[i], sizeof(out->strings) - *pool, errp) < 0)
			return -1;
		*pool += strlen(words[i]) + 1;
	}
	words[n] = NULL;
	return 0;
}

int
spawn_run_decode(const void *msg, size_t len, struct spawn_run_buf *out, const char **errp)
{
	struct spawn_reader rd = { .p = msg, .left = len };
	struct spawn_msg_hdr hdr;
	struct spawn_msg_run body;
	size_t pool = 0;

	if (len < sizeof(hdr) + sizeof(body))
		return spawn_fail(EBADMSG, "request shorter than its fixed part", errp);
	memcpy(&hdr, rd.p, sizeof(hdr));
	memcpy(&body, rd.p + sizeof(hdr), sizeof(body));
	rd.p += sizeof(hdr) + sizeof(body);
	rd.left -= sizeof(hdr) + sizeof(body);
	if (hdr.type != SPAWN_MSG_RUN || hdr.len != len)
		return spawn_fail(EBADMSG, "header does not match the message", errp);
	if (body.argc > SPAWN_ARGV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ARGV_MAX) " argv words", errp);
	if (body.envc > SPAWN_ENV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ENV_MAX) " variables", errp);
	if (spawn_get_string(&rd, out->name, sizeof(out->name), errp) < 0)
		return -1;
	if (spawn_get_words(&rd, out, &pool, out->argv, body.argc, errp) < 0 ||
	    spawn_get_words(&rd, out, &pool, out->env, body.envc, errp) < 0)
		return -1;
	if (rd.left != 0)
		return spawn_fail(EBADMSG, "bytes after the last string", errp);
	out->run.id = hdr.id;
	out->run.timeout_ms = body.timeout_ms;
	out->run.name = out->name;
	out->run.argc = body.argc;
	out->run.argv = out->argv;
	out->run.envc = body.envc;
	out->run.env = out->env;
	return spawn_run_check(&out->run, errp);
}

/*
 * A SOCK_SEQPACKET read of 0 bytes is either an empty message or the end:
 * only a closed peer also shows POLLHUP/POLLRDHUP.
 */
static bool
spawn_peer_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&pfd, 1, 0) < 0)
		return true;
	return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

/* ---------------------------------------------------------------------- */
/* The spawner process */

enum child_state {
	CHILD_RUNNING,
	CHILD_TERM_SENT,		/* timed out, SIGTERM sent */
	CHILD_KILL_SENT,		/* no exit within the grace period, SIGKILL sent */
};

struct spawner;

struct child {
	struct spawner *sp;
	pid_t pid;			/* 0: a free slot */
	uint32_t id;
	int outfd;			/* read end of its stdout+stderr pipe, -1 when closed */
	enum child_state state;
	uint32_t timeout_ms;
	uint64_t deadline_ms;		/* next step of the timeout; 0: none */
	char name[SPAWN_NAME_MAX + 1];
	char line[SPAWN_LINE_MAX + 1];
	size_t linelen;
	unsigned nlines;
};

struct spawner {
	struct loop *loop;
	int fd;				/* to the engine; -1 once it has gone */
	int nrunning;
	struct child children[SPAWN_RUNNING_MAX];
};

static void
spawner_reply(struct spawner *sp, uint32_t type, uint32_t id, int value)
{
	struct spawn_msg_reply m;

	if (sp->fd < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.len = sizeof(m);
	m.hdr.id = id;
	m.value = value;
	if (send(sp->fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
		log_warn("spawner: reply to request %u lost", id);
}

static void
child_log_line(struct child *c)
{
	c->line[c->linelen] = '\0';
	c->linelen = 0;
	if (c->nlines < SPAWN_LINES_MAX)
		log_info("hook %s[%d]: %s", c->name, (int)c->pid, c->line);
	else if (c->nlines == SPAWN_LINES_MAX)
		log_info("hook %s[%d]: more output, not logged", c->name, (int)c->pid);
	c->nlines++;
}

/* Output is logged line by line; control characters cannot forge log lines. */
static void
child_take_output(struct child *c, const unsigned char *buf, size_t n)
{
	size_t i;
	unsigned char ch;

	for (i = 0; i < n; i++) {
		ch = buf[i];
		if (ch == '\n') {
			child_log_line(c);
			continue;
		}
		if (c->linelen == SPAWN_LINE_MAX)
			child_log_line(c);
		if (ch == '\t')
			ch = ' ';
		else if (ch < 0x20 || ch == 0x7f)
			ch = '?';
		c->line[c->linelen++] = (char)ch;
	}
}

/* Returns false once the pipe is done (end of file or an error). */
static bool
child_read_output(struct child *c)
{
	unsigned char buf[4096];
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 16; rounds++) {
		n = read(c->outfd, buf, sizeof(buf));
		if (n > 0) {
			child_take_output(c, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	return true;
}

static void
child_close_output(struct child *c)
{
	if (c->outfd < 0)
		return;
	if (c->linelen > 0)
		child_log_line(c);
	loop_del_fd(c->sp->loop, c->outfd);
	close(c->outfd);
	c->outfd = -1;
}

static void
child_output_readable(void *arg)
{
	struct child *c = arg;

	if (c->outfd >= 0 && !child_read_output(c))
		child_close_output(c);
}

/* The whole process group: a script's own children go with it. */
static void
child_signal(struct child *c, int signo)
{
	if (kill(-c->pid, signo) < 0 && kill(c->pid, signo) < 0)
		log_warn("spawner: hook %s[%d]: kill", c->name, (int)c->pid);
}

static void
spawner_arm_timer(struct spawner *sp)
{
	uint64_t next = 0;
	int i;

	for (i = 0; i < SPAWN_RUNNING_MAX; i++) {
		if (sp->children[i].pid == 0 || sp->children[i].deadline_ms == 0)
			continue;
		if (next == 0 || sp->children[i].deadline_ms < next)
			next = sp->children[i].deadline_ms;
	}
	loop_timer_at(sp->loop, next);
}

static void
child_timeout_step(struct child *c, uint64_t now)
{
	switch (c->state) {
	case CHILD_RUNNING:
		log_warnx("spawner: hook %s[%d]: still running after %u ms, sending SIGTERM",
		    c->name, (int)c->pid, c->timeout_ms);
		child_signal(c, SIGTERM);
		c->state = CHILD_TERM_SENT;
		c->deadline_ms = now + SPAWN_KILL_GRACE_MS;
		break;
	case CHILD_TERM_SENT:
		log_warnx("spawner: hook %s[%d]: still running %d ms after SIGTERM, sending SIGKILL",
		    c->name, (int)c->pid, SPAWN_KILL_GRACE_MS);
		child_signal(c, SIGKILL);
		c->state = CHILD_KILL_SENT;
		c->deadline_ms = 0;
		break;
	case CHILD_KILL_SENT:
		c->deadline_ms = 0;
		break;
	}
}

static void
spawner_on_timer(void *arg, uint64_t now)
{
	struct spawner *sp = arg;
	struct child *c;
	int i;

	for (i = 0; i < SPAWN_RUNNING_MAX; i++) {
		c = &sp->children[i];
		if (c->pid != 0 && c->deadline_ms != 0 && c->deadline_ms <= now)
			child_timeout_step(c, now);
	}
	spawner_arm_timer(sp);
}

static struct child *
spawner_find(struct spawner *sp, pid_t pid)
{
	int i;

	for (i = 0; i < SPAWN_RUNNING_MAX; i++) {
		if (sp->children[i].pid == pid)
			return &sp->children[i];
	}
	return NULL;
}

static void
spawner_reap(struct spawner *sp)
{
	struct child *c;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = spawner_find(sp, pid)) == NULL)
			continue;
		/*
		 * What it wrote is in the pipe by now. Processes it left behind
		 * are not waited for: they must not keep its output open.
		 */
		if (c->outfd >= 0)
			child_read_output(c);
		child_close_output(c);
		spawner_reply(sp, c->state == CHILD_RUNNING ? SPAWN_MSG_EXITED :
		    SPAWN_MSG_KILLED, c->id, status);
		log_debug("spawner: hook %s[%d]: reaped, wait status %#x", c->name,
		    (int)pid, (unsigned)status);
		c->pid = 0;
		sp->nrunning--;
	}
	if (sp->fd < 0 && sp->nrunning == 0)
		loop_stop(sp->loop);
	spawner_arm_timer(sp);
}

static void
spawner_actions(posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr, int outfd)
{
	sigset_t none, all;

	posix_spawn_file_actions_init(fa);
	posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(fa, outfd, 1);
	posix_spawn_file_actions_adddup2(fa, outfd, 2);
	/* Default dispositions and no blocked signals, whatever the spawner ignores. */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(attr);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &all);
	/* Its own process group: the timeout kills the group. */
	posix_spawnattr_setpgroup(attr, 0);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP);
}

/* Returns 0 or an errno value. */
static int
spawner_exec(struct spawner *sp, struct child *c, const struct spawn_run *run)
{
	static char path_env[] = "PATH=" SPAWN_PATH;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *envp[SPAWN_ENV_MAX + 2];
	int pfd[2], err, i;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return errno;
	envp[0] = path_env;
	for (i = 0; i < run->envc; i++)
		envp[i + 1] = run->env[i];
	envp[run->envc + 1] = NULL;
	spawner_actions(&fa, &attr, pfd[1]);
	err = posix_spawn(&c->pid, run->argv[0], &fa, &attr, run->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (err != 0) {
		close(pfd[0]);
		c->pid = 0;
		return err;
	}
	c->outfd = pfd[0];
	if (fcntl(c->outfd, F_SETFL, O_NONBLOCK) < 0 ||
	    loop_add_fd(sp->loop, c->outfd, child_output_readable, c) < 0) {
		log_warn("spawner: hook %s[%d]: output not captured", c->name, (int)c->pid);
		close(c->outfd);
		c->outfd = -1;
	}
	return 0;
}

static struct child *
spawner_free_slot(struct spawner *sp)
{
	return spawner_find(sp, 0);
}

static void
spawner_run(struct spawner *sp, const struct spawn_run *run)
{
	struct child *c;
	int err;

	if (sp->nrunning >= SPAWN_RUNNING_MAX || (c = spawner_free_slot(sp)) == NULL) {
		log_warnx("spawner: hook %s refused: %d hooks are running already",
		    run->name, SPAWN_RUNNING_MAX);
		spawner_reply(sp, SPAWN_MSG_FAILED, run->id, EBUSY);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->sp = sp;
	c->id = run->id;
	c->outfd = -1;
	c->timeout_ms = run->timeout_ms;
	snprintf(c->name, sizeof(c->name), "%s", run->name);
	if ((err = spawner_exec(sp, c, run)) != 0) {
		log_debug("spawner: hook %s: %s: %s", c->name, run->argv[0], strerror(err));
		spawner_reply(sp, SPAWN_MSG_FAILED, run->id, err);
		return;
	}
	c->state = CHILD_RUNNING;
	c->deadline_ms = loop_now_ms() + run->timeout_ms;
	sp->nrunning++;
	log_debug("spawner: hook %s[%d]: started %s", c->name, (int)c->pid, run->argv[0]);
	spawner_reply(sp, SPAWN_MSG_STARTED, run->id, (int)c->pid);
	spawner_arm_timer(sp);
}

static void
spawner_set_log(int to_syslog, int verbosity)
{
	int fd;

	if (to_syslog && (fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_init(to_syslog, verbosity);
}

static void
spawner_handle(struct spawner *sp, const uint8_t *buf, size_t n)
{
	static struct spawn_run_buf rb;	/* 9 kB: not on the stack */
	struct spawn_msg_hdr hdr;
	struct spawn_msg_log lm;
	const char *err;

	if (n < sizeof(hdr)) {
		log_warnx("spawner: %zu-byte message dropped: shorter than a header", n);
		return;
	}
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.len != n) {
		log_warnx("spawner: message dropped: its header says %u bytes, %zu came",
		    hdr.len, n);
		return;
	}
	switch (hdr.type) {
	case SPAWN_MSG_RUN:
		if (spawn_run_decode(buf, n, &rb, &err) < 0) {
			spawner_reply(sp, SPAWN_MSG_FAILED, hdr.id, errno);
			log_warnx("spawner: request %u dropped: %s", hdr.id, err);
			return;
		}
		spawner_run(sp, &rb.run);
		break;
	case SPAWN_MSG_LOG:
		if (n != sizeof(lm)) {
			log_warnx("spawner: log message of %zu bytes dropped", n);
			return;
		}
		memcpy(&lm, buf, sizeof(lm));
		spawner_set_log(lm.to_syslog != 0, lm.verbosity);
		break;
	default:
		log_warnx("spawner: message of unknown type %u dropped", hdr.type);
		break;
	}
}

/* Running hooks go on up to their timeouts; then the spawner exits. */
static void
spawner_engine_gone(struct spawner *sp)
{
	if (sp->fd < 0)
		return;
	log_debug("spawner: the engine has gone, %d hook%s still running", sp->nrunning,
	    sp->nrunning == 1 ? "" : "s");
	loop_del_fd(sp->loop, sp->fd);
	close(sp->fd);
	sp->fd = -1;
	if (sp->nrunning == 0)
		loop_stop(sp->loop);
}

static void
spawner_readable(void *arg)
{
	struct spawner *sp = arg;
	uint8_t buf[SPAWN_MSG_MAX];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int i;

	for (i = 0; i < SPAWNER_READ_BURST && sp->fd >= 0; i++) {
		mh.msg_flags = 0;
		n = recvmsg(sp->fd, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			log_warn("spawner: receive");
			spawner_engine_gone(sp);
			return;
		}
		if (n == 0 && spawn_peer_closed(sp->fd)) {
			spawner_engine_gone(sp);
			return;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			log_warnx("spawner: message over %zu bytes dropped", sizeof(buf));
			continue;
		}
		spawner_handle(sp, buf, (size_t)n);
	}
}

/* SIGTERM: no more requests, running hooks are stopped now, then exit. */
static void
spawner_terminate(struct spawner *sp)
{
	uint64_t now = loop_now_ms();
	struct child *c;
	int i;

	log_info("spawner: SIGTERM, stopping %d running hook%s", sp->nrunning,
	    sp->nrunning == 1 ? "" : "s");
	for (i = 0; i < SPAWN_RUNNING_MAX; i++) {
		c = &sp->children[i];
		if (c->pid == 0 || c->state != CHILD_RUNNING)
			continue;
		child_signal(c, SIGTERM);
		c->state = CHILD_TERM_SENT;
		c->deadline_ms = now + SPAWN_KILL_GRACE_MS;
	}
	spawner_engine_gone(sp);
	spawner_arm_timer(sp);
}

static void
spawner_on_signal(void *arg, int signo)
{
	struct spawner *sp = arg;

	if (signo == SIGCHLD)
		spawner_reap(sp);
	else if (signo == SIGTERM)
		spawner_terminate(sp);
}

/*
 * Shed what the engine had: blocked signals, the terminal's session (a ^C
 * at the terminal is for the engine), inherited descriptors, environment.
 */
static void
spawner_detach(int fd)
{
	static const int ignored[] = { SIGPIPE, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0 };
	struct sigaction sa;
	sigset_t none;
	int i;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (i = 0; ignored[i] != 0; i++)
		sigaction(ignored[i], &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setsid();
	closelog();
	if (fd < 3) {
		/* The engine ran with stdio closed: fd sits in its place. */
		if (close_range(3, ~0U, 0) < 0)
			log_warn("spawner: close_range");
	} else if ((fd > 3 && close_range(3, (unsigned)fd - 1, 0) < 0) ||
	    close_range((unsigned)fd + 1, ~0U, 0) < 0)
		log_warn("spawner: close_range");
	/* Hooks get an envp of their own; the spawner keeps nothing either. */
	clearenv();
	if (chdir("/") < 0)
		log_warn("spawner: chdir /");
	umask(022);
	log_init(0, log_verbosity());
}

static _Noreturn void
spawner_main(int fd)
{
	static const int signals[] = { SIGCHLD, SIGTERM, 0 };
	static struct spawner sp;
	int status = 1;

	spawner_detach(fd);
	sp.fd = fd;
	if ((sp.loop = loop_new()) == NULL ||
	    loop_set_signals(sp.loop, signals, spawner_on_signal, &sp) < 0 ||
	    loop_set_timer_fn(sp.loop, spawner_on_timer, &sp) < 0 ||
	    loop_add_fd(sp.loop, fd, spawner_readable, &sp) < 0) {
		log_warn("spawner: start-up");
		_exit(1);
	}
	log_debug("spawner: running as pid %d", (int)getpid());
	if (loop_run(sp.loop) == 0)
		status = 0;
	log_debug("spawner: exiting");
	_exit(status);
}

/* ---------------------------------------------------------------------- */
/* The engine's side */

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
	return m->hdr.type >= SPAWN_MSG_STARTED && m->hdr.type <= SPAWN_MSG_FAILED;
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
