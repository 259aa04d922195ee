/*
 * The privileged side (priv.h): the config, key and state files for the
 * engine, and a spawner it keeps alive and relays hook requests to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <syslog.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_files.h"
#include "config/config_system.h"
#include "config/statefile.h"
#include "core/argv.h"
#include "engine/control.h"
#include "engine/loop.h"
#include "privsep/priv.h"
#include "privsep/priv_proto.h"
#include "privsep/sandbox.h"
#include "privsep/spawn_proto.h"
#include "privsep/spawner.h"
#include "util/daemon.h"
#include "util/log.h"
#include "util/unixsock.h"

/* A request waiting for a spawner, encoded with its credentials. */
struct priv_held {
	uint32_t id;
	uint64_t since_ms;
	size_t len;
	uint8_t *msg;
	char name[SPAWN_NAME_MAX + 1];
};

struct priv {
	struct loop *loop;
	const char *path;
	struct config *cfg;		/* in force */
	struct config *pending;		/* a reload the engine has not committed */
	int ctl;			/* to the engine: requests */
	int hooks;			/* to the engine: hook requests and replies */
	int sp_fd;			/* to the spawner; -1 while it is down */
	pid_t sp_pid;
	uint64_t sp_started_ms;
	uint64_t restart_at_ms;		/* 0: no restart due */
	uint64_t backoff_ms;
	struct priv_held held[PRIV_QUEUE_MAX];
	int nheld;
	uint32_t inflight[SPAWN_RUNNING_MAX * 2]; /* ids at the spawner */
	int ninflight;
	struct spawn_msg_log log;	/* where the engine said to log; each new spawner gets it */
	bool have_log;
	uint64_t caps;			/* kept at the first config (0: not yet), 1 << CAP_X */
	char moved_from[CONFIG_SOCKET_PATH_MAX + 1]; /* a reload's old control socket */
};

/* What the spawner needs to run a hook as its user with its own capabilities. */
#define PRIV_CAPS_SPAWN	(1ULL << CAP_SETUID | 1ULL << CAP_SETGID | 1ULL << CAP_SETPCAP | \
	    1ULL << CAP_KILL)

static void priv_spawner_readable(void *arg);

/* ---------------------------------------------------------------------- */
/* Replies to the engine's hook channel */

static void
priv_hook_reply(struct priv *pv, uint32_t type, uint32_t id, int value)
{
	struct spawn_msg_reply m;

	if (pv->hooks < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.len = sizeof(m);
	m.hdr.id = id;
	m.value = value;
	if (send(pv->hooks, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("priv: reply to hook request %u lost", id);
}

static void
priv_inflight_add(struct priv *pv, uint32_t id)
{
	if (pv->ninflight < (int)(sizeof(pv->inflight) / sizeof(pv->inflight[0])))
		pv->inflight[pv->ninflight++] = id;
}

static void
priv_inflight_del(struct priv *pv, uint32_t id)
{
	int i;

	for (i = 0; i < pv->ninflight; i++)
		if (pv->inflight[i] == id) {
			pv->inflight[i] = pv->inflight[--pv->ninflight];
			return;
		}
}

/* ---------------------------------------------------------------------- */
/* The spawner: started, watched, restarted */

static void
priv_arm_timer(struct priv *pv)
{
	uint64_t next = pv->restart_at_ms;
	int i;

	for (i = 0; i < pv->nheld; i++) {
		uint64_t t = pv->held[i].since_ms + PRIV_QUEUE_WAIT_MS;

		if (next == 0 || t < next)
			next = t;
	}
	loop_timer_at(pv->loop, next);
}

static int
priv_spawner_send(struct priv *pv, const void *msg, size_t len)
{
	if (pv->sp_fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	return send(pv->sp_fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -1 : 0;
}

static void
priv_held_drop(struct priv *pv, int i)
{
	free(pv->held[i].msg);
	pv->held[i] = pv->held[--pv->nheld];
}

/* What waited for the spawner goes to it now, oldest first. */
static void
priv_held_flush(struct priv *pv)
{
	int i, oldest;

	while (pv->nheld > 0 && pv->sp_fd >= 0) {
		for (oldest = 0, i = 1; i < pv->nheld; i++)
			if (pv->held[i].since_ms < pv->held[oldest].since_ms)
				oldest = i;
		if (priv_spawner_send(pv, pv->held[oldest].msg, pv->held[oldest].len) < 0) {
			if (errno == EAGAIN)
				return;
			break;
		}
		log_info("priv: hook %s: sent to the new spawner after %llu ms",
		    pv->held[oldest].name, (unsigned long long)(loop_now_ms() -
		    pv->held[oldest].since_ms));
		priv_inflight_add(pv, pv->held[oldest].id);
		priv_held_drop(pv, oldest);
	}
}

/* The spawner holds no secret: what we hold is wiped in its copy. */
static _Noreturn void
priv_spawner_child(struct priv *pv, int fd)
{
	config_free(pv->cfg);
	config_free(pv->pending);
	close(pv->ctl);
	close(pv->hooks);
	prctl(PR_SET_NAME, "nfqt-spawner", 0, 0, 0);
	spawner_main(fd);
}

static int
priv_spawner_start(struct priv *pv)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		priv_spawner_child(pv, sv[1]);
	}
	close(sv[1]);
	if (loop_add_fd(pv->loop, sv[0], priv_spawner_readable, pv) < 0) {
		close(sv[0]);
		kill(pid, SIGKILL);
		return -1;
	}
	pv->sp_fd = sv[0];
	pv->sp_pid = pid;
	pv->sp_started_ms = loop_now_ms();
	log_info("priv: spawner started, pid %d", (int)pid);
	if (pv->have_log && priv_spawner_send(pv, &pv->log, sizeof(pv->log)) < 0)
		log_warn("priv: log settings to the new spawner");
	return 0;
}

/* The spawner died: its requests are lost, a new one comes after a while. */
static void
priv_spawner_down(struct priv *pv, const char *how)
{
	uint64_t now = loop_now_ms();
	int i;

	if (pv->sp_fd < 0)
		return;
	loop_del_fd(pv->loop, pv->sp_fd);
	close(pv->sp_fd);
	pv->sp_fd = -1;
	if (now - pv->sp_started_ms >= PRIV_RESTART_RESET_MS || pv->backoff_ms == 0)
		pv->backoff_ms = PRIV_RESTART_MIN_MS;
	pv->restart_at_ms = now + pv->backoff_ms;
	log_warnx("priv: spawner (pid %d) %s, %d hook%s lost; restarting it in %llu ms",
	    (int)pv->sp_pid, how, pv->ninflight, pv->ninflight == 1 ? "" : "s",
	    (unsigned long long)pv->backoff_ms);
	pv->backoff_ms = pv->backoff_ms * 2 > PRIV_RESTART_MAX_MS ? PRIV_RESTART_MAX_MS :
	    pv->backoff_ms * 2;
	for (i = 0; i < pv->ninflight; i++)
		priv_hook_reply(pv, SPAWN_MSG_LOST, pv->inflight[i], 0);
	pv->ninflight = 0;
	priv_arm_timer(pv);
}

static void
priv_spawner_ended(struct priv *pv, int status)
{
	char how[64];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	priv_spawner_down(pv, how);
	pv->sp_pid = 0;
}

static void
priv_reap(struct priv *pv)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == pv->sp_pid)
			priv_spawner_ended(pv, status);
}

/*
 * Its socket closed: the spawner is exiting (it never closes it before).
 * Wait for it a moment, so the log says how it ended.
 */
static void
priv_spawner_closed(struct priv *pv)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	int i, status;

	for (i = 0; i < 50 && pv->sp_pid > 0; i++) {
		if (waitpid(pv->sp_pid, &status, WNOHANG) == pv->sp_pid) {
			priv_spawner_ended(pv, status);
			return;
		}
		nanosleep(&ts, NULL);
	}
	priv_spawner_down(pv, "has gone");
}

static void
priv_spawner_readable(void *arg)
{
	struct priv *pv = arg;
	struct spawn_msg_reply m;
	ssize_t n;
	int i;

	for (i = 0; i < 64 && pv->sp_fd >= 0; i++) {
		n = recv(pv->sp_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 || (n == 0 && spawn_peer_closed(pv->sp_fd))) {
			priv_spawner_closed(pv);
			return;
		}
		if (n != (ssize_t)sizeof(m) || m.hdr.len != sizeof(m) ||
		    m.hdr.type < SPAWN_MSG_STARTED || m.hdr.type > SPAWN_MSG_FAILED) {
			log_warnx("priv: malformed spawner reply (%zd bytes) dropped", n);
			continue;
		}
		if (m.hdr.type != SPAWN_MSG_STARTED)
			priv_inflight_del(pv, m.hdr.id);
		priv_hook_reply(pv, m.hdr.type, m.hdr.id, m.value);
	}
}

static void
priv_on_timer(void *arg, uint64_t now)
{
	struct priv *pv = arg;
	int i;

	if (pv->restart_at_ms != 0 && pv->restart_at_ms <= now) {
		pv->restart_at_ms = 0;
		if (priv_spawner_start(pv) < 0) {
			log_warn("priv: cannot restart the spawner");
			pv->restart_at_ms = now + pv->backoff_ms;
		}
	}
	priv_held_flush(pv);
	for (i = pv->nheld - 1; i >= 0; i--) {
		if (pv->held[i].since_ms + PRIV_QUEUE_WAIT_MS > now)
			continue;
		log_warnx("priv: hook %s refused: no spawner for %d s", pv->held[i].name,
		    PRIV_QUEUE_WAIT_MS / 1000);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, pv->held[i].id, ENOTCONN);
		priv_held_drop(pv, i);
	}
	priv_arm_timer(pv);
}

/* ---------------------------------------------------------------------- */
/* Hook requests: checked against our config, given their credentials */

/* The value of NFQT_key in run's environment; "" when absent. */
static const char *
priv_run_var(const struct spawn_run *run, const char *key)
{
	size_t n = strlen(key);
	int i;

	for (i = 0; i < run->envc; i++)
		if (strncmp(run->env[i], "NFQT_", 5) == 0 &&
		    strncmp(run->env[i] + 5, key, n) == 0 && run->env[i][5 + n] == '=')
			return run->env[i] + 6 + n;
	return "";
}

static bool
priv_word_ok(const char *s, const char *chars)
{
	for (; *s != '\0'; s++)
		if (strchr(chars, *s) == NULL)
			return false;
	return true;
}

/* Placeholder values are what the engine could have seen in a packet. */
static const char *
priv_vars_problem(const struct argv_vars *v)
{
	uint8_t addr[16];

	if (v->ip[0] != '\0' && (strcmp(v->family, "4") != 0 ||
	    inet_pton(AF_INET, v->ip, addr) != 1) && (strcmp(v->family, "6") != 0 ||
	    inet_pton(AF_INET6, v->ip, addr) != 1))
		return "not an address of its family";
	if (strlen(v->port) > 5 || !priv_word_ok(v->port, "0123456789") ||
	    atoi(v->port) > 65535)
		return "not a port";
	if (strlen(v->proto) > 15 || !priv_word_ok(v->proto, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		return "not a protocol";
	return NULL;
}

/*
 * Whether run is a hook of our config: the configured argv with the
 * request's placeholder values, word for word. On success ra is whom it
 * runs as.
 */
static const char *
priv_hook_problem(const struct priv *pv, const struct spawn_run *run,
    const struct config_run_as **ra)
{
	static char word[SPAWN_ARGV_BYTES];
	const struct config_hook *h;
	struct argv_vars v = {
		.name = priv_run_var(run, "NAME"), .event = priv_run_var(run, "EVENT"),
		.ip = priv_run_var(run, "IP"), .family = priv_run_var(run, "FAMILY"),
		.proto = priv_run_var(run, "PROTO"), .port = priv_run_var(run, "PORT"),
	};
	const char *why;
	int i;

	if ((h = config_find_hook(pv->cfg, v.name, v.event, ra)) == NULL)
		return "no such trigger and hook in the config";
	if ((why = priv_vars_problem(&v)) != NULL)
		return why;
	if (h->argc != run->argc)
		return "not the configured command";
	for (i = 0; i < h->argc; i++)
		if (argv_expand_word(h->argv[i], &v, word, sizeof(word)) < 0 ||
		    strcmp(word, run->argv[i]) != 0)
			return "not the configured command";
	return NULL;
}

static void
priv_hook_hold(struct priv *pv, const struct spawn_run *run, const void *msg, size_t len)
{
	struct priv_held *hd;

	if (pv->nheld == PRIV_QUEUE_MAX || (hd = &pv->held[pv->nheld],
	    (hd->msg = malloc(len)) == NULL)) {
		log_warnx("priv: hook %s refused: %d wait for a spawner already",
		    run->name, pv->nheld);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, run->id, EBUSY);
		return;
	}
	memcpy(hd->msg, msg, len);
	hd->len = len;
	hd->id = run->id;
	hd->since_ms = loop_now_ms();
	snprintf(hd->name, sizeof(hd->name), "%s", run->name);
	pv->nheld++;
	log_info("priv: hook %s waits for the spawner to be restarted", run->name);
	priv_arm_timer(pv);
}

static void
priv_hook_request(struct priv *pv, const uint8_t *buf, size_t n)
{
	static struct spawn_run_buf rb;		/* 9 kB: not on the stack */
	static uint8_t out[SPAWN_MSG_MAX];
	const struct config_run_as *ra = NULL;
	const char *why;
	uid_t uid;
	gid_t gid;
	ssize_t len;

	struct spawn_msg_hdr hdr;

	memcpy(&hdr, buf, sizeof(hdr));
	if (pv->cfg == NULL) {
		log_warnx("priv: hook request %u before any config: refused", hdr.id);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, hdr.id, EPERM);
		return;
	}
	if (spawn_run_decode(buf, n, &rb, &why) < 0) {
		log_warnx("priv: hook request %u dropped: %s", hdr.id, why);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, hdr.id, errno);
		return;
	}
	char unsafe[512];

	if ((why = priv_hook_problem(pv, &rb.run, &ra)) == NULL &&
	    config_exec_check(rb.run.argv[0], unsafe, sizeof(unsafe)) < 0)
		why = unsafe;
	if (why != NULL ||
	    (config_user_ids(config_run_as_user(ra), &uid, &gid) < 0 &&
	    (why = "its hook_user does not exist") != NULL)) {
		log_warnx("priv: hook %s (%s) refused: %s", rb.run.name, rb.run.argv[0], why);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, rb.run.id, EPERM);
		return;
	}
	rb.run.flags = SPAWN_RUN_CREDS;
	rb.run.uid = (uint32_t)uid;
	rb.run.gid = (uint32_t)gid;
	rb.run.caps = ra->caps;
	if ((len = spawn_run_encode(&rb.run, out, sizeof(out), &why)) < 0) {
		log_warnx("priv: hook %s refused: %s", rb.run.name, why);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, rb.run.id, errno);
		return;
	}
	if (pv->sp_fd < 0 || pv->nheld > 0) {
		priv_hook_hold(pv, &rb.run, out, (size_t)len);
		return;
	}
	if (priv_spawner_send(pv, out, (size_t)len) < 0) {
		log_warn("priv: hook %s: to the spawner", rb.run.name);
		priv_hook_reply(pv, SPAWN_MSG_FAILED, rb.run.id, errno == EAGAIN ? EBUSY : errno);
		return;
	}
	priv_inflight_add(pv, rb.run.id);
}

static void
priv_set_log(struct priv *pv, const uint8_t *buf, size_t n)
{
	struct spawn_msg_log lm;
	int fd;

	if (n != sizeof(lm)) {
		log_warnx("priv: log message of %zu bytes dropped", n);
		return;
	}
	memcpy(&lm, buf, sizeof(lm));
	pv->log = lm;
	pv->have_log = true;
	if (lm.to_syslog && (fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_init(lm.to_syslog != 0, lm.verbosity);
	if (pv->sp_fd >= 0 && priv_spawner_send(pv, buf, n) < 0)
		log_warn("priv: log settings to the spawner");
}

static void
priv_engine_gone(struct priv *pv)
{
	log_debug("priv: the engine has gone");
	loop_stop(pv->loop);
}

static void
priv_hooks_readable(void *arg)
{
	struct priv *pv = arg;
	static uint8_t buf[SPAWN_MSG_MAX];
	struct spawn_msg_hdr hdr;
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		n = recv(pv->hooks, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 || (n == 0 && spawn_peer_closed(pv->hooks))) {
			priv_engine_gone(pv);
			return;
		}
		if ((size_t)n > sizeof(buf) || (size_t)n < sizeof(hdr)) {
			log_warnx("priv: hook message of %zd bytes dropped", n);
			continue;
		}
		memcpy(&hdr, buf, sizeof(hdr));
		if (hdr.len != (size_t)n)
			log_warnx("priv: hook message dropped: its header says %u bytes, %zd came",
			    hdr.len, n);
		else if (hdr.type == SPAWN_MSG_RUN)
			priv_hook_request(pv, buf, (size_t)n);
		else if (hdr.type == SPAWN_MSG_LOG)
			priv_set_log(pv, buf, (size_t)n);
		else
			log_warnx("priv: hook message of unknown type %u dropped", hdr.type);
	}
}

/* ---------------------------------------------------------------------- */
/* Control requests */

static int priv_err(struct priv_msg *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
priv_err(struct priv_msg *r, int nerrors, const char *fmt, ...)
{
	va_list ap;

	priv_msg_init(r, PRIV_MSG_ERR, NULL);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	r->arg = (uint32_t)nerrors;
	return -1;
}

/*
 * The first config decides what we and every spawner keep: what hooks
 * need to change user, and the union of the hook_caps of its triggers.
 * A later config cannot name more; the first also starts the spawner.
 */
static int
priv_caps(struct priv *pv, const struct config *cfg, struct priv_msg *r)
{
	uint64_t want = config_hook_caps(cfg), more;
	char why[PRIV_TEXT_MAX], *name;
	int cap;

	if (pv->caps == 0) {
		if (sandbox_keep_caps(PRIV_CAPS_SPAWN | want, why, sizeof(why)) < 0)
			return priv_err(r, 1, "privileged side: %s", why);
		pv->caps = PRIV_CAPS_SPAWN | want;
		if (pv->sp_fd < 0 && priv_spawner_start(pv) < 0)
			return priv_err(r, 1, "cannot start the spawner: %s", strerror(errno));
		return 0;
	}
	if ((more = want & ~pv->caps) == 0)
		return 0;
	for (cap = 0; !(more & (1ULL << cap)); cap++)
		;
	name = cap_to_name((cap_value_t)cap);
	priv_err(r, 1, "hook_caps %s: not among the capabilities nfq-trigger kept "
	    "when it started; restart it to give hooks a new one", name != NULL ? name : "?");
	cap_free(name);
	return -1;
}

static void
priv_config(struct priv *pv, bool reload, struct priv_msg *r)
{
	struct config *cfg, *old, **slot;
	const char *user;
	uid_t uid;
	gid_t gid;
	int n = 0;

	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *errs;

	/* A reload's errors go to the log, line by line, the first to the engine. */
	errs = reload ? open_memstream(&text, &len) : NULL;
	cfg = config_load(pv->path, true, errs != NULL ? errs : stderr, &n);
	if (cfg != NULL)
		n += config_check_system(cfg, errs != NULL ? errs : stderr);
	if (errs != NULL)
		fclose(errs);
	if (cfg == NULL || n > 0) {
		config_free(cfg);
		priv_err(r, n, "%d error%s in %s", n, n == 1 ? "" : "s", pv->path);
		for (line = text == NULL ? NULL : strtok_r(text, "\n", &save);
		    line != NULL; line = strtok_r(NULL, "\n", &save)) {
			log_warnx("reload: %s", line);
			if (line == text)
				priv_err(r, n, "%d error%s, the first: %s", n,
				    n == 1 ? "" : "s", line);
		}
		free(text);
		return;
	}
	free(text);
	user = config_engine_user(&cfg->engine);
	if (config_user_ids(user, &uid, &gid) < 0) {
		priv_err(r, 1, "no user %s", user);
		config_free(cfg);
		return;
	}
	/* In place before priv_caps(): a spawner it starts wipes its copy. */
	slot = reload ? &pv->pending : &pv->cfg;
	old = *slot;
	*slot = cfg;
	if (priv_caps(pv, cfg, r) < 0) {
		*slot = old;
		if (!reload)	/* a reload's refusal the engine logs */
			log_warnx("%s", r->text);
		config_free(cfg);
		return;
	}
	config_free(old);
	priv_msg_init(r, PRIV_MSG_OK, user);
	r->uid = (uint32_t)uid;
	r->gid = (uint32_t)gid;
}

/* Whether cfg names path as a key file (state: as a state file). */
static bool
priv_names(const struct config *cfg, const char *path, bool state)
{
	int i;

	for (i = 0; cfg != NULL && i < cfg->nknocks; i++)
		if (strcmp(state ? cfg->knocks[i].state_path : cfg->knocks[i].key_path,
		    path) == 0)
			return true;
	for (i = 0; cfg != NULL && !state && i < cfg->nspas; i++)
		if (strcmp(cfg->spas[i].key_path, path) == 0)
			return true;
	return false;
}

static int
priv_open(struct priv *pv, const struct priv_msg *m, struct priv_msg *r)
{
	enum config_file_kind kind = (enum config_file_kind)m->arg;
	char why[PRIV_TEXT_MAX];
	int fd;

	if (!(kind == CONFIG_FILE_CONFIG && strcmp(m->text, pv->path) == 0) &&
	    !(kind == CONFIG_FILE_KEY && (priv_names(pv->pending, m->text, false) ||
	    priv_names(pv->cfg, m->text, false))))
		return priv_err(r, 1, "%s: not a file the config names", m->text);
	if (config_file_check(m->text, kind, why, sizeof(why)) < 0)
		return priv_err(r, 1, "%s", why);
	fd = open(m->text, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return priv_err(r, 1, "%s: %s", m->text, strerror(errno));
	priv_msg_init(r, PRIV_MSG_OK, NULL);
	return fd;
}

static void
priv_state(struct priv *pv, const struct priv_msg *m, struct priv_msg *r)
{
	char why[PRIV_TEXT_MAX];
	uint64_t value = m->value;
	int rc;

	if (!priv_names(pv->pending, m->text, true) && !priv_names(pv->cfg, m->text, true)) {
		priv_err(r, 1, "%s: not a state file the config names", m->text);
		return;
	}
	if (config_file_check(m->text, CONFIG_FILE_STATE, why, sizeof(why)) < 0) {
		priv_err(r, 1, "%s", why);
		return;
	}
	if (m->type == PRIV_MSG_STATE_LOAD)
		rc = statefile_load(m->text, &value, why, sizeof(why));
	else
		rc = statefile_save(m->text, value, why, sizeof(why));
	if (rc < 0) {
		priv_err(r, 1, "%s", why);
		return;
	}
	priv_msg_init(r, PRIV_MSG_OK, NULL);
	r->value = value;
	r->arg = (uint32_t)rc;
}

/*
 * The control socket the config in force names, made as root after a
 * reload moved it; the old one's file goes (the engine listens on it
 * until it has the new one, and can no longer unlink it).
 */
static int
priv_listen(struct priv *pv, const struct priv_msg *m, struct priv_msg *r)
{
	int fd;

	if (pv->cfg == NULL || pv->cfg->engine.control[0] == '\0' ||
	    strcmp(m->text, pv->cfg->engine.control) != 0)
		return priv_err(r, 1, "%s: not the control socket the config names",
		    m->text);
	if ((fd = unixsock_listen(m->text, CONTROL_CLIENTS_MAX)) < 0)
		return priv_err(r, 1, "the privileged side could not listen there");
	if (pv->moved_from[0] != '\0' && strcmp(pv->moved_from, m->text) != 0 &&
	    unlink(pv->moved_from) < 0 && errno != ENOENT)
		log_warn("priv: %s", pv->moved_from);
	pv->moved_from[0] = '\0';
	priv_msg_init(r, PRIV_MSG_OK, NULL);
	return fd;
}

static int
priv_ctl_handle(struct priv *pv, const struct priv_msg *m, struct priv_msg *r)
{
	priv_msg_init(r, PRIV_MSG_OK, NULL);
	switch (m->type) {
	case PRIV_MSG_CONFIG:
		priv_config(pv, m->arg != 0, r);
		break;
	case PRIV_MSG_COMMIT:
		if (pv->pending != NULL) {
			/*
			 * A socket made as root that the engine cannot remove:
			 * it goes once the new one listens (priv_listen()), at
			 * once when there is no new one.
			 */
			if (pv->cfg != NULL && strcmp(pv->cfg->engine.control,
			    pv->pending->engine.control) != 0)
				snprintf(pv->moved_from, sizeof(pv->moved_from), "%s",
				    pv->cfg->engine.control);
			if (pv->pending->engine.control[0] == '\0' &&
			    pv->moved_from[0] != '\0') {
				unlink(pv->moved_from);
				pv->moved_from[0] = '\0';
			}
			config_free(pv->cfg);
			pv->cfg = pv->pending;
			pv->pending = NULL;
		}
		break;
	case PRIV_MSG_ABORT:
		config_free(pv->pending);
		pv->pending = NULL;
		break;
	case PRIV_MSG_OPEN:
		return priv_open(pv, m, r);
	case PRIV_MSG_LISTEN:
		return priv_listen(pv, m, r);
	case PRIV_MSG_STATE_LOAD:
	case PRIV_MSG_STATE_SAVE:
		priv_state(pv, m, r);
		break;
	default:
		priv_err(r, 1, "request of type %u not understood", m->type);
		break;
	}
	return -1;
}

static void
priv_ctl_readable(void *arg)
{
	struct priv *pv = arg;
	struct priv_msg m, r;
	int rc, fd;

	for (;;) {
		rc = priv_msg_recv(pv->ctl, &m, NULL);
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc < 0 && errno == EBADMSG) {
			log_warnx("priv: malformed control request dropped");
			priv_err(&r, 1, "malformed request");
			priv_msg_send(pv->ctl, &r, -1);
			continue;
		}
		if (rc <= 0) {
			priv_engine_gone(pv);
			return;
		}
		fd = priv_ctl_handle(pv, &m, &r);
		if (priv_msg_send(pv->ctl, &r, fd) < 0)
			log_warn("priv: control reply");
		if (fd >= 0)
			close(fd);
	}
}

/* ---------------------------------------------------------------------- */
/* The process */

/* Whether pid is gone (or a zombie waiting for its parent). */
static bool
priv_pid_gone(long pid)
{
	char path[64], line[128];
	bool zombie = false;
	FILE *f;

	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	int i;

	/* Its sockets close a moment before it is a zombie: wait up to 1 s. */
	for (i = 0; i < 100; i++, nanosleep(&ts, NULL)) {
		if (pid <= 0 || kill((pid_t)pid, 0) < 0)
			return true;
		snprintf(path, sizeof(path), "/proc/%ld/status", pid);
		if ((f = fopen(path, "re")) == NULL)
			return true;
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "State:", 6) == 0)
				zombie = strchr(line, 'Z') != NULL;
		fclose(f);
		if (zombie)
			return true;
	}
	return false;
}

/* Remove the unix socket at path ("": none) when nobody answers there any more. */
static void
priv_unlink_dead_socket(const char *path)
{
	struct stat st;

	if (path[0] != '\0' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unixsock_dead(path))
		unlink(path);
}

/*
 * The engine has gone: what it made in root's directories before it
 * dropped its privileges (pidfile, control socket) and can no longer
 * remove, goes; but only when no engine uses it (an engine that could not
 * start next to a running one must not remove that one's).
 */
static void
priv_cleanup(const struct priv *pv)
{
	const struct config_engine *ce;
	struct stat st;
	char buf[32];
	ssize_t n;
	int fd;

	if (pv->cfg == NULL)
		return;
	ce = &pv->cfg->engine;
	if (ce->pidfile[0] != '\0' && lstat(ce->pidfile, &st) == 0 && S_ISREG(st.st_mode) &&
	    (fd = open(ce->pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (n > 0 && priv_pid_gone(strtol(buf, NULL, 10)))
			unlink(ce->pidfile);
	}
	priv_unlink_dead_socket(ce->control);
	priv_unlink_dead_socket(pv->moved_from);
}

static void
priv_on_signal(void *arg, int signo)
{
	struct priv *pv = arg;

	if (signo == SIGCHLD)
		priv_reap(pv);
	else if (signo == SIGTERM)
		priv_engine_gone(pv);
}

/* Our two sockets at 3 and 4, everything else the engine had closed. */
static void
priv_detach(int *ctl, int *hooks)
{
	int c, h;

	daemon_shed_signals();
	if ((c = fcntl(*ctl, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (h = fcntl(*hooks, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup3(c, 3, O_CLOEXEC) < 0 || dup3(h, 4, O_CLOEXEC) < 0)
		fatal("priv: descriptors");
	if (close_range(5, ~0U, 0) < 0)
		fatal("priv: close_range");
	*ctl = 3;
	*hooks = 4;
	if (fcntl(3, F_SETFL, O_NONBLOCK) < 0 || fcntl(4, F_SETFL, O_NONBLOCK) < 0)
		fatal("priv: non-blocking sockets");
	setsid();
	clearenv();
	if (chdir("/") < 0)
		fatal("priv: chdir /");
	umask(077);
	prctl(PR_SET_NAME, "nfqt-priv", 0, 0, 0);
}

_Noreturn void
priv_main(const char *path, int ctl, int hooks, int verbosity)
{
	static const int signals[] = { SIGCHLD, SIGTERM, 0 };
	static struct priv pv;

	closelog();
	priv_detach(&ctl, &hooks);
	log_init(0, verbosity);
	pv.path = path;
	pv.ctl = ctl;
	pv.hooks = hooks;
	pv.sp_fd = -1;
	if ((pv.loop = loop_new()) == NULL ||
	    loop_set_signals(pv.loop, signals, priv_on_signal, &pv) < 0 ||
	    loop_set_timer_fn(pv.loop, priv_on_timer, &pv) < 0 ||
	    loop_add_fd(pv.loop, ctl, priv_ctl_readable, &pv) < 0 ||
	    loop_add_fd(pv.loop, hooks, priv_hooks_readable, &pv) < 0)
		fatal("priv: start-up");
	/* The spawner comes with the first config (priv_caps()). */
	log_debug("priv: running as pid %d", (int)getpid());
	loop_run(pv.loop);
	/* The spawner lets running hooks finish, then exits by itself. */
	if (pv.sp_fd >= 0)
		close(pv.sp_fd);
	priv_cleanup(&pv);
	config_free(pv.cfg);
	config_free(pv.pending);
	_exit(0);
}
