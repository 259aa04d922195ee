/*
 * The spawner process (spawner.h): runs exec hooks with fork and execve
 * (never a shell), each as its configured user with only its configured
 * capabilities, in a clean environment; logs their output, kills them at
 * their timeout, reaps them and reports over its socketpair
 * (spawn_proto.h). It never sees packets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "util/daemon.h"
#include "util/log.h"
#include "engine/loop.h"
#include "privsep/spawn_proto.h"
#include "privsep/spawner.h"

/* Messages read per wakeup, so that a flood cannot starve the children. */
#define SPAWNER_READ_BURST	64

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

/*
 * The hook's own identity: its user's uid and gid, no supplementary
 * group, and only the capabilities it is configured with, kept across
 * execve as ambient ones (for root, through the bounding set alone).
 */
static int
child_set_creds(const struct spawn_run *run)
{
	gid_t gid = (gid_t)run->gid;
	uid_t uid = (uid_t)run->uid;
	cap_value_t cap, last = (cap_value_t)cap_max_bits() - 1;
	cap_t c;

	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	for (cap = 0; cap <= last && cap < 64; cap++)
		if (!(run->caps & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	if (setresuid(uid, uid, uid) < 0 || (c = cap_init()) == NULL)
		return -1;
	for (cap = 0; cap <= last && cap < 64; cap++) {
		if (!(run->caps & (1ULL << cap)))
			continue;
		if (cap_set_flag(c, CAP_PERMITTED, 1, &cap, CAP_SET) < 0 ||
		    cap_set_flag(c, CAP_EFFECTIVE, 1, &cap, CAP_SET) < 0 ||
		    cap_set_flag(c, CAP_INHERITABLE, 1, &cap, CAP_SET) < 0)
			break;
	}
	if (cap_set_proc(c) < 0) {
		cap_free(c);
		return -1;
	}
	cap_free(c);
	for (cap = 0; cap <= last && cap < 64; cap++)
		if ((run->caps & (1ULL << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -1;
	return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

/*
 * In the forked child: default signals, its own process group (a timeout
 * kills the group), /dev/null for stdin, the pipe for output, its
 * credentials, then the hook. A failure goes back through errfd.
 */
static _Noreturn void
child_exec(const struct spawn_run *run, char *const *envp, int outfd, int errfd)
{
	struct sigaction sa;
	sigset_t none;
	int sig, fd, err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setpgid(0, 0) < 0 || (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    dup2(fd, STDIN_FILENO) < 0 || dup2(outfd, STDOUT_FILENO) < 0 ||
	    dup2(outfd, STDERR_FILENO) < 0)
		goto fail;
	if ((run->flags & SPAWN_RUN_CREDS) && child_set_creds(run) < 0)
		goto fail;
	execve(run->argv[0], run->argv, envp);
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

/* fork and exec; 0 with *pidp, or the errno of what failed (the child is reaped). */
static int
spawner_fork_exec(const struct spawn_run *run, char *const *envp, int outfd, pid_t *pidp)
{
	int efd[2], err = 0, status;
	ssize_t n;
	pid_t pid;

	if (pipe2(efd, O_CLOEXEC) < 0)
		return errno;
	if ((pid = fork()) < 0) {
		err = errno;
		close(efd[0]);
		close(efd[1]);
		return err;
	}
	if (pid == 0) {
		close(efd[0]);
		child_exec(run, envp, outfd, efd[1]);
	}
	close(efd[1]);
	/* Closed on exec: nothing to read means the hook is running. */
	do
		n = read(efd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(efd[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return err != 0 ? err : EIO;
	}
	*pidp = pid;
	return 0;
}

/* Returns 0 or an errno value. */
static int
spawner_exec(struct spawner *sp, struct child *c, const struct spawn_run *run)
{
	static char path_env[] = "PATH=" SPAWN_PATH;
	char *envp[SPAWN_ENV_MAX + 2];
	int pfd[2], err, i;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return errno;
	envp[0] = path_env;
	for (i = 0; i < run->envc; i++)
		envp[i + 1] = run->env[i];
	envp[run->envc + 1] = NULL;
	err = spawner_fork_exec(run, envp, pfd[1], &c->pid);
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
	struct sigaction sa;

	daemon_shed_signals();
	memset(&sa, 0, sizeof(sa));
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

_Noreturn void
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
