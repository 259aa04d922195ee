/*
 * Exec hooks, the engine's side (hook.h): substitution, per-owner order,
 * requests to the spawner and its replies. Never blocks: a request that
 * cannot go out now waits in the queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "config/config.h"
#include "core/argv.h"
#include "engine/hook.h"
#include "engine/hook_test.h"
#include "util/log.h"
#include "engine/loop.h"
#include "core/packet.h"
#include "privsep/spawn_client.h"

enum job_state {
	JOB_QUEUED,		/* waiting for its owner's turn or a free slot */
	JOB_SENT,		/* at the spawner */
	JOB_RUNNING,		/* the spawner said it started */
};

struct hook_job {
	TAILQ_ENTRY(hook_job) entry;
	uint32_t id;
	void *owner;
	bool per_source;		/* serialised per family/addr below */
	enum hook_event event;
	enum job_state state;
	bool cancelled;		/* owner gone: no callback, no coalescing */
	hook_done_fn done;
	void *arg;
	pid_t pid;
	uint64_t sent_ms;
	uint32_t timeout_ms;
	char name[SPAWN_NAME_MAX + 1];	/* "trigger event", for logs */
	char trigger[SPAWN_NAME_MAX + 1];	/* for the observer */
	uint8_t family;
	uint8_t addr[16];
	int argc;
	int envc;
	char *argv[SPAWN_ARGV_MAX + 1];
	char *env[SPAWN_ENV_MAX + 1];
	char argbuf[SPAWN_ARGV_BYTES];
	char envbuf[SPAWN_ENV_BYTES];
};

TAILQ_HEAD(hook_jobs, hook_job);

struct hooks {
	struct spawn *sp;
	struct loop *loop;
	struct hook_jobs jobs;	/* in request order */
	int njobs;
	int nactive;		/* JOB_SENT or JOB_RUNNING */
	int reserved;		/* follow-ups promised to pairs */
	uint32_t last_id;
	bool gone;		/* the spawner has gone: nothing runs any more */
	hook_observe_fn observe;
	void *observe_arg;
};

/* Placeholder values of one request, as text. */
struct hook_vars {
	const char *name;
	const char *event;
	char ip[INET6_ADDRSTRLEN];
	char family[2];
	char proto[16];
	char port[6];
};

const char *
hook_event_name(enum hook_event ev)
{
	switch (ev) {
	case HOOK_EV_START:
		return "start";
	case HOOK_EV_STOP:
		return "stop";
	case HOOK_EV_OPEN:
		return "open";
	case HOOK_EV_CLOSE:
		return "close";
	case HOOK_EV_COUNT:
		return "count";
	}
	return "unknown";
}

static void
hook_vars_fill(const struct hook_request *req, struct hook_vars *v)
{
	char number[8];

	memset(v, 0, sizeof(*v));
	v->name = req->name != NULL ? req->name : "";
	v->event = hook_event_name(req->event);
	if ((req->family == AF_INET || req->family == AF_INET6) &&
	    inet_ntop(req->family, req->addr, v->ip, sizeof(v->ip)) != NULL)
		v->family[0] = req->family == AF_INET ? '4' : '6';
	else
		v->ip[0] = '\0';
	/* pkt_proto_name() returns a static name, or the number written to buf. */
	if (req->proto != 0)
		snprintf(v->proto, sizeof(v->proto), "%s",
		    pkt_proto_name(req->proto, number, sizeof(number)));
	if (req->port != 0)
		snprintf(v->port, sizeof(v->port), "%u", req->port);
}

static ssize_t
hook_expand_vars(const char *word, const struct hook_vars *hv, char *out, size_t outlen)
{
	struct argv_vars v = {
		.ip = hv->ip, .name = hv->name, .event = hv->event,
		.proto = hv->proto, .port = hv->port, .family = hv->family,
	};

	return (ssize_t)argv_expand_word(word, &v, out, outlen);
}

ssize_t
hook_expand_word(const char *word, const struct hook_request *req, char *out, size_t outlen)
{
	struct hook_vars v;

	hook_vars_fill(req, &v);
	return hook_expand_vars(word, &v, out, outlen);
}

static int
hook_job_add_env(struct hook_job *job, size_t *off, const char *key, const char *val)
{
	int n;

	if (val[0] == '\0')
		return 0;
	if (job->envc == SPAWN_ENV_MAX)
		return -1;
	n = snprintf(job->envbuf + *off, sizeof(job->envbuf) - *off, "NFQT_%s=%s", key, val);
	if (n < 0 || (size_t)n >= sizeof(job->envbuf) - *off)
		return -1;
	job->env[job->envc++] = job->envbuf + *off;
	*off += (size_t)n + 1;
	return 0;
}

static int
hook_job_fill_env(struct hook_job *job, const struct hook_vars *v)
{
	size_t off = 0;

	if (hook_job_add_env(job, &off, "NAME", v->name) < 0 ||
	    hook_job_add_env(job, &off, "EVENT", v->event) < 0 ||
	    hook_job_add_env(job, &off, "IP", v->ip) < 0 ||
	    hook_job_add_env(job, &off, "FAMILY", v->family) < 0 ||
	    hook_job_add_env(job, &off, "PROTO", v->proto) < 0 ||
	    hook_job_add_env(job, &off, "PORT", v->port) < 0)
		return -1;
	job->env[job->envc] = NULL;
	return 0;
}

static int
hook_job_fill_argv(struct hook_job *job, const struct config_hook *hook,
    const struct hook_vars *v, const char **errp)
{
	size_t off = 0;
	ssize_t n;
	int i;

	if (hook == NULL || hook->argv == NULL || hook->argc < 1) {
		*errp = "no command configured";
		errno = EINVAL;
		return -1;
	}
	if (hook->argc > SPAWN_ARGV_MAX) {
		*errp = "more than 64 words";
		errno = E2BIG;
		return -1;
	}
	for (i = 0; i < hook->argc; i++) {
		n = hook_expand_vars(hook->argv[i], v, job->argbuf + off, sizeof(job->argbuf) - off);
		if (n < 0) {
			*errp = "command longer than 4096 bytes after substitution";
			return -1;
		}
		job->argv[i] = job->argbuf + off;
		off += (size_t)n + 1;
	}
	job->argv[hook->argc] = NULL;
	job->argc = hook->argc;
	return 0;
}

/* "name event" for logs: control characters would forge log lines. */
static void
hook_log_name(char *out, size_t outlen, const char *name, const char *event)
{
	char *p;

	snprintf(out, outlen, "%s %s", name, event);
	for (p = out; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

static struct hook_job *
hook_job_new(const struct hook_request *req, const char **errp)
{
	struct hook_job *job;
	struct hook_vars v;

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		*errp = "out of memory";
		return NULL;
	}
	hook_vars_fill(req, &v);
	hook_log_name(job->name, sizeof(job->name), v.name, v.event);
	job->owner = req->owner;
	job->per_source = req->per_source;
	job->event = req->event;
	snprintf(job->trigger, sizeof(job->trigger), "%s", req->name);
	job->family = req->family;
	memcpy(job->addr, req->addr, sizeof(job->addr));
	job->done = req->done;
	job->arg = req->arg;
	job->timeout_ms = req->timeout_ms;
	if (hook_job_fill_argv(job, req->hook, &v, errp) < 0)
		goto fail;
	if (hook_job_fill_env(job, &v) < 0) {
		*errp = "environment over its limits";
		errno = E2BIG;
		goto fail;
	}
	if (job->timeout_ms == 0) {
		*errp = "a timeout of 0 ms";
		errno = EINVAL;
		goto fail;
	}
	return job;
fail:
	free(job);
	return NULL;
}

static bool
hook_job_same(const struct hook_job *a, const struct hook_job *b)
{
	int i;

	if (a->event != b->event || a->argc != b->argc || a->envc != b->envc)
		return false;
	for (i = 0; i < a->argc; i++) {
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return false;
	}
	for (i = 0; i < a->envc; i++) {
		if (strcmp(a->env[i], b->env[i]) != 0)
			return false;
	}
	return true;
}

/* Whether a and b run one after the other: same owner (and source). */
static bool
hook_same_key(const struct hook_job *a, const struct hook_job *b)
{
	if (a->owner != b->owner || a->per_source != b->per_source)
		return false;
	return !a->per_source || (a->family == b->family &&
	    memcmp(a->addr, b->addr, sizeof(a->addr)) == 0);
}

/* The key's most recent job, how many it has, and how many its owner has. */
static struct hook_job *
hook_owner_last(struct hooks *h, const struct hook_job *like, int *count, int *owned)
{
	struct hook_job *job, *last = NULL;

	*count = *owned = 0;
	TAILQ_FOREACH(job, &h->jobs, entry) {
		if (job->owner == like->owner)
			(*owned)++;
		if (hook_same_key(job, like)) {
			last = job;
			(*count)++;
		}
	}
	return last;
}

/* Whether job is its key's oldest: only that one may run. */
static bool
hook_owner_first(struct hooks *h, const struct hook_job *job)
{
	struct hook_job *j;

	TAILQ_FOREACH(j, &h->jobs, entry) {
		if (j == job)
			return true;
		if (hook_same_key(j, job))
			return false;
	}
	return false;
}

static int
hook_send(struct hooks *h, struct hook_job *job, const char **errp)
{
	struct spawn_run run = {
		.id = job->id,
		.timeout_ms = job->timeout_ms,
		.name = job->name,
		.argc = job->argc,
		.argv = job->argv,
		.envc = job->envc,
		.env = job->env,
	};

	if (spawn_send(h->sp, &run, errp) < 0)
		return -1;
	job->state = JOB_SENT;
	job->sent_ms = loop_now_ms();
	h->nactive++;
	log_debug("hook %s: request %u: %s", job->name, job->id, job->argv[0]);
	return 0;
}

static void
hook_log_result(const struct hook_job *job, const struct hook_result *r)
{
	const char *cmd = job->argv[0];

	switch (r->status) {
	case HOOK_OK:
		log_info("hook %s: %s done in %llu ms", job->name, cmd,
		    (unsigned long long)r->elapsed_ms);
		break;
	case HOOK_FAILED:
		log_warnx("hook %s: %s exited with status %d", job->name, cmd, r->code);
		break;
	case HOOK_SIGNALED:
		log_warnx("hook %s: %s killed by signal %d", job->name, cmd, r->code);
		break;
	case HOOK_TIMEOUT:
		log_warnx("hook %s: %s still running after %u ms, killed", job->name, cmd,
		    job->timeout_ms);
		break;
	case HOOK_SPAWN_FAILED:
		log_warnx("hook %s: cannot run %s: %s", job->name, cmd, strerror(r->code));
		break;
	case HOOK_LOST:
		log_warnx("hook %s: %s: the spawner has gone, outcome unknown", job->name, cmd);
		break;
	}
}

/* Take the job off the list, report it, free it. The caller dispatches. */
static void
hook_finish(struct hooks *h, struct hook_job *job, struct hook_result *r)
{
	TAILQ_REMOVE(&h->jobs, job, entry);
	h->njobs--;
	if (job->state != JOB_QUEUED) {
		h->nactive--;
		r->elapsed_ms = loop_now_ms() - job->sent_ms;
	}
	r->pid = job->pid;
	hook_log_result(job, r);
	if (h->observe != NULL)
		h->observe(h->observe_arg, job->trigger, job->event, job->family,
		    job->addr, r);
	if (job->done != NULL && !job->cancelled)
		job->done(job->arg, job->owner, job->event, r);
	free(job);
}

static void
hook_finish_status(struct hooks *h, struct hook_job *job, enum hook_status status, int code)
{
	struct hook_result r = { .status = status, .code = code };

	hook_finish(h, job, &r);
}

/* Send every queued job whose owner is idle, while slots are free. */
static void
hook_dispatch(struct hooks *h)
{
	struct hook_job *job;
	const char *err;

restart:
	TAILQ_FOREACH(job, &h->jobs, entry) {
		if (h->gone || h->nactive >= SPAWN_RUNNING_MAX)
			return;
		if (job->state != JOB_QUEUED || !hook_owner_first(h, job))
			continue;
		if (hook_send(h, job, &err) == 0)
			continue;
		/* A full socket empties as the spawner replies; we come back then. */
		if (errno == EAGAIN)
			return;
		/* The callback may change the list: start over. */
		hook_finish_status(h, job, errno == EPIPE ? HOOK_LOST : HOOK_SPAWN_FAILED, errno);
		goto restart;
	}
}

static void
hook_spawner_gone(struct hooks *h)
{
	struct hook_job *job;

	if (h->gone)
		return;
	h->gone = true;
	if (h->loop != NULL)
		loop_del_fd(h->loop, spawn_fd(h->sp));
	while ((job = TAILQ_FIRST(&h->jobs)) != NULL)
		hook_finish_status(h, job, HOOK_LOST, EPIPE);
}

static struct hook_job *
hook_find(struct hooks *h, uint32_t id)
{
	struct hook_job *job;

	TAILQ_FOREACH(job, &h->jobs, entry) {
		if (job->id == id && job->state != JOB_QUEUED)
			return job;
	}
	return NULL;
}

static void
hook_result_set(struct hook_result *r, const struct spawn_reply *reply)
{
	int st = reply->value;

	switch (reply->event) {
	case SPAWN_EV_KILLED:
		r->status = HOOK_TIMEOUT;
		r->code = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		break;
	case SPAWN_EV_EXITED:
		if (WIFEXITED(st)) {
			r->status = WEXITSTATUS(st) == 0 ? HOOK_OK : HOOK_FAILED;
			r->code = WEXITSTATUS(st);
		} else {
			r->status = HOOK_SIGNALED;
			r->code = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		}
		break;
	case SPAWN_EV_LOST:
		r->status = HOOK_LOST;
		r->code = 0;
		break;
	case SPAWN_EV_FAILED:
	case SPAWN_EV_STARTED:
		r->status = HOOK_SPAWN_FAILED;
		r->code = reply->value;
		break;
	}
}

static void
hook_reply(struct hooks *h, const struct spawn_reply *reply)
{
	struct hook_result r = { .status = HOOK_OK };
	struct hook_job *job;

	if ((job = hook_find(h, reply->id)) == NULL) {
		log_warnx("spawner: reply for unknown request %u dropped", reply->id);
		return;
	}
	if (reply->event == SPAWN_EV_STARTED) {
		job->state = JOB_RUNNING;
		job->pid = (pid_t)reply->value;
		log_debug("hook %s: started, pid %d", job->name, (int)job->pid);
		return;
	}
	hook_result_set(&r, reply);
	hook_finish(h, job, &r);
}

void
hook_readable(void *arg)
{
	struct hooks *h = arg;
	struct spawn_reply reply;
	int rc;

	if (h->gone)
		return;
	while ((rc = spawn_receive(h->sp, &reply)) == 1)
		hook_reply(h, &reply);
	if (rc < 0)
		hook_spawner_gone(h);
	hook_dispatch(h);
}

static uint32_t
hook_next_id(struct hooks *h)
{
	if (++h->last_id == 0)
		h->last_id = 1;
	return h->last_id;
}

static int hook_submit(struct hooks *, const struct hook_request *);

static void
hook_refused(struct hooks *h, const struct hook_request *req)
{
	int saved = errno;

	if (h->observe != NULL)
		h->observe(h->observe_arg, req->name, req->event, req->family,
		    req->addr, NULL);
	errno = saved;
}

void
hook_set_observer(struct hooks *h, hook_observe_fn fn, void *arg)
{
	h->observe = fn;
	h->observe_arg = arg;
}

/* Whether a new job may wait here; EBUSY (logged) when a bound is reached. */
static int
hook_admit(struct hooks *h, const struct hook_request *req, const struct hook_job *job,
    int count, int owned)
{
	const char *what = NULL;
	int n = 0;

	if (req->reserved)
		return 0;	/* room was kept for it when its pair was admitted */
	if (count >= HOOK_OWNER_JOBS_MAX)
		what = req->per_source ? "for this source" : "for this trigger", n = count;
	else if (req->per_source && owned >= HOOK_OWNER_SHARE)
		what = "for this trigger", n = owned;
	else if (h->njobs >= HOOK_JOBS_MAX)
		what = "in all", n = h->njobs;
	else if (req->pair && h->reserved >= HOOK_RESERVED_MAX)
		what = "promised to earlier pairs", n = h->reserved;
	if (what == NULL)
		return 0;
	log_warnx("hook %s: not run: %d hooks waiting %s already", job->name, n, what);
	errno = EBUSY;
	return -1;
}

int
hook_run(struct hooks *h, const struct hook_request *req)
{
	int rc = hook_submit(h, req);

	if (rc < 0)
		hook_refused(h, req);
	return rc;
}

static int
hook_submit(struct hooks *h, const struct hook_request *req)
{
	struct hook_job *job, *last;
	const char *err = NULL;
	int count, owned, saved;

	if (req->reserved && h->reserved > 0)
		h->reserved--;
	if (h->gone) {
		log_warnx("hook %s %s: not run: the spawner has gone", req->name,
		    hook_event_name(req->event));
		errno = ENOTCONN;
		return -1;
	}
	if ((job = hook_job_new(req, &err)) == NULL) {
		saved = errno;
		log_warnx("hook %s %s: not run: %s", req->name, hook_event_name(req->event), err);
		errno = saved;
		return -1;
	}
	last = hook_owner_last(h, job, &count, &owned);
	if (req->coalesce && last != NULL && !last->cancelled && hook_job_same(last, job)) {
		log_debug("hook %s: same as the pending request %u", job->name, last->id);
		free(job);
		return 1;
	}
	if (hook_admit(h, req, job, count, owned) < 0) {
		free(job);
		return -1;
	}
	job->id = hook_next_id(h);
	if (last == NULL && h->nactive < SPAWN_RUNNING_MAX &&
	    hook_send(h, job, &err) < 0 && errno != EAGAIN) {
		saved = errno == EPIPE ? ENOTCONN : errno;
		log_warnx("hook %s: not run: %s", job->name, err);
		free(job);
		errno = saved;
		return -1;
	}
	TAILQ_INSERT_TAIL(&h->jobs, job, entry);
	h->njobs++;
	if (req->pair)
		h->reserved++;
	return 0;
}

const char *
hook_refusal_reason(int err)
{
	switch (err) {
	case EBUSY:
		return "queue-full";
	case ENOTCONN:
		return "spawner-gone";
	case E2BIG:
		return "too-long";
	default:
		return "refused";
	}
}

void
hook_unreserve(struct hooks *h)
{
	if (h->reserved > 0)
		h->reserved--;
}


void
hook_cancel_owner(struct hooks *h, const void *owner)
{
	struct hook_job *job, *next;

	for (job = TAILQ_FIRST(&h->jobs); job != NULL; job = next) {
		next = TAILQ_NEXT(job, entry);
		if (job->owner != owner)
			continue;
		if (job->state == JOB_QUEUED) {
			TAILQ_REMOVE(&h->jobs, job, entry);
			h->njobs--;
			free(job);
		} else {
			job->cancelled = true;
			job->done = NULL;
		}
	}
}

int
hook_pending(const struct hooks *h)
{
	return h->njobs;
}

int
hook_fd(const struct hooks *h)
{
	return h->gone ? -1 : spawn_fd(h->sp);
}

struct hooks *
hook_open(struct spawn *sp, struct loop *l)
{
	struct hooks *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->sp = sp;
	h->loop = l;
	TAILQ_INIT(&h->jobs);
	if (l != NULL && loop_add_fd(l, spawn_fd(sp), hook_readable, h) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

void
hook_close(struct hooks *h)
{
	struct hook_job *job;

	if (h == NULL)
		return;
	while ((job = TAILQ_FIRST(&h->jobs)) != NULL) {
		TAILQ_REMOVE(&h->jobs, job, entry);
		free(job);
	}
	if (h->loop != NULL && !h->gone)
		loop_del_fd(h->loop, spawn_fd(h->sp));
	free(h);
}
