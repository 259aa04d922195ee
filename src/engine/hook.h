/*
 * Exec hooks as the engine sees them (docs/hooks.md): the configured argv
 * with %IP%-style placeholders substituted inside each word (never a shell,
 * never a new word), sent to the spawner (spawner.h), which runs it and
 * reports. Nothing here blocks: results come back through a callback from
 * hook_readable().
 *
 * Hooks of one owner (any pointer: a trigger), or of one source of an
 * owner (per_source), run one at a time, in the order they were asked
 * for; a request identical to the owner's last pending one (same event,
 * same words after substitution) is coalesced into it. At most
 * SPAWN_RUNNING_MAX hooks are out at the spawner; the others wait here, in
 * request order, at most HOOK_JOBS_MAX in all, HOOK_OWNER_JOBS_MAX per
 * owner (or source) and HOOK_OWNER_SHARE for all sources of one owner, so
 * that a flood of sources on one trigger leaves room for the others.
 *
 * A pair (a knock's exec and its exec_stop) is admitted or refused as one:
 * a request with pair set reserves room for its follow-up, which is then
 * run with reserved set whatever the queues hold (at most
 * HOOK_RESERVED_MAX promises in all) or given back with hook_unreserve().
 */
#ifndef NFQT_HOOK_H
#define NFQT_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOOK_JOBS_MAX		128	/* hooks queued or running, all owners */
#define HOOK_OWNER_JOBS_MAX	8	/* hooks queued or running for one owner */
#define HOOK_OWNER_SHARE	96	/* ... for all sources of one owner */
#define HOOK_RESERVED_MAX	1024	/* follow-ups promised to admitted pairs */

struct config_hook;
struct loop;
struct spawn;
struct hooks;

/* What a hook runs for: %EVENT% and NFQT_EVENT. */
enum hook_event {
	HOOK_EV_START,		/* "start": activity begins */
	HOOK_EV_STOP,		/* "stop": activity ended */
	HOOK_EV_OPEN,		/* "open": a knock opened the service */
	HOOK_EV_CLOSE,		/* "close": exec_stop after a knock */
	HOOK_EV_COUNT,		/* "count": a count trigger fired */
};

enum hook_status {
	HOOK_OK,		/* exited with status 0 */
	HOOK_FAILED,		/* exited with status code (not 0) */
	HOOK_SIGNALED,		/* died of signal code, not sent by us */
	HOOK_TIMEOUT,		/* ran past its timeout and was killed */
	HOOK_SPAWN_FAILED,	/* never ran: code is the errno (EBUSY: too many running) */
	HOOK_LOST,		/* the spawner went away: outcome unknown */
};

struct hook_result {
	enum hook_status status;
	int code;		/* exit status, signal or errno, as status says */
	pid_t pid;		/* 0 when it never started */
	uint64_t elapsed_ms;	/* from sending the request to the report */
};

typedef void (*hook_done_fn)(void *arg, void *owner, enum hook_event event,
    const struct hook_result *r);

struct hook_request {
	void *owner;		/* serialization key; not dereferenced */
	const char *name;	/* trigger name: %NAME%, and logs */
	enum hook_event event;
	const struct config_hook *hook;
	uint32_t timeout_ms;	/* killed after this (SIGTERM, SIGKILL 1 s later) */
	uint8_t family;		/* AF_INET or AF_INET6 for %IP%; 0: no address */
	uint8_t addr[16];	/* network byte order; IPv4 in the first 4 bytes */
	uint8_t proto;		/* %PROTO%; 0: none */
	uint16_t port;		/* %PORT%; 0: none */
	bool coalesce;		/* merge into an identical request of the owner
				   not yet finished (repeated activity starts);
				   false: every request runs (count, knock) */
	bool per_source;	/* serialise and bound per family/addr of owner */
	bool pair;		/* admit only with room for a follow-up, and keep it */
	bool reserved;		/* the follow-up of a pair: room is kept for it */
	hook_done_fn done;	/* may be NULL */
	void *arg;
};

/*
 * Told what every hook came to (the event log, status): r is NULL when the
 * hook was refused and never ran. trigger is the request's name.
 */
typedef void (*hook_observe_fn)(void *arg, const char *trigger,
    enum hook_event event, int family, const uint8_t *addr,
    const struct hook_result *r);

/*
 * Hooks through the spawner sp (borrowed: spawn_close() it after
 * hook_close()). With a loop, hook_open() registers hook_readable() on
 * spawn_fd(sp) itself and removes it when the spawner goes; with NULL (tests)
 * the caller polls hook_fd() and calls hook_readable() (hook_test.h).
 * NULL on ENOMEM.
 */
struct hooks *hook_open(struct spawn *sp, struct loop *l);

void hook_set_observer(struct hooks *h, hook_observe_fn fn, void *arg);

/* Forget every job without calling back; hooks already running go on. */
void hook_close(struct hooks *h);

/*
 * Run req->hook for req->owner. Returns 0 when it is sent or queued (the
 * callback reports it), 1 when req->coalesce merged it into an identical
 * pending request of the owner (whose callback reports it; none for this call),
 * -1 when refused, logged, no callback: E2BIG over a spawn_proto.h limit
 * after substitution, EBUSY queues full, EINVAL no command, ENOTCONN the
 * spawner is gone, ENOMEM.
 */
int hook_run(struct hooks *h, const struct hook_request *req);

/* Why hook_run() refused (its errno), as the event log's one word. */
const char *hook_refusal_reason(int err);

/* A follow-up promised to a pair will not be asked for (its trigger went). */
void hook_unreserve(struct hooks *h);

/* "start", "stop", ... */
const char *hook_event_name(enum hook_event ev);

#endif
