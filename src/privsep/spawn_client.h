/*
 * The engine's side of the hook protocol (spawn_proto.h, docs/design.md
 * Decision 2): send requests, read replies, without blocking. The other
 * end is a spawner of our own (spawn_start(), unit tests) or the
 * privileged side, which relays to its spawner (spawn_attach()). hook.c is
 * its only user once the engine runs.
 */
#ifndef NFQT_SPAWN_CLIENT_H
#define NFQT_SPAWN_CLIENT_H

#include <sys/types.h>

#include "privsep/spawn_proto.h"

struct spawn;

/* What the spawner reports about one request. */
enum spawn_event {
	SPAWN_EV_STARTED = SPAWN_MSG_STARTED,	/* value: pid */
	SPAWN_EV_EXITED = SPAWN_MSG_EXITED,	/* value: wait status */
	SPAWN_EV_KILLED = SPAWN_MSG_KILLED,	/* timed out, killed; value: wait status */
	SPAWN_EV_LOST = SPAWN_MSG_LOST,		/* the spawner died with it */
	SPAWN_EV_FAILED = SPAWN_MSG_FAILED,	/* not run; value: errno (EBUSY: too
						 * many running, EBADMSG/EINVAL/E2BIG:
						 * refused request) */
};

struct spawn_reply {
	uint32_t id;
	enum spawn_event event;
	int value;
};

/*
 * Fork the spawner. Call it early in start-up: before the privilege drop
 * (the spawner keeps what the engine gives up), before loop_set_signals()
 * and before secrets are loaded (the child is a copy of the engine's
 * memory). The spawner closes every inherited descriptor but stdin, stdout,
 * stderr and its end of the socketpair, and logs like the engine did at
 * the fork (log_init); see spawn_set_log(). Returns NULL with errno set
 * when the socketpair or the fork failed. Only the engine returns.
 */
struct spawn *spawn_start(void);

/*
 * A client on fd, a non-blocking SOCK_SEQPACKET socket to something that
 * speaks spawn_proto.h (the privileged side's hook channel); pid is reaped
 * when it has gone. NULL on ENOMEM.
 */
struct spawn *spawn_attach(int fd, pid_t pid);

/* The engine's end of the socketpair (non-blocking): poll it for replies. */
int spawn_fd(const struct spawn *sp);

/*
 * Tell the spawner where to log, e.g. after daemon(): with to_syslog it
 * opens syslog and points its stdin, stdout and stderr at /dev/null.
 * Returns 0, or -1 with errno.
 */
int spawn_set_log(struct spawn *sp, int to_syslog, int verbosity);

/*
 * Send a request without blocking. Returns 0, or -1 with errno: E2BIG or
 * EINVAL when the request breaks a limit of spawn_proto.h (*errp says
 * which; nothing was sent), EAGAIN when the socket is full (try again after
 * reading replies), EPIPE when the spawner is gone.
 */
int spawn_send(struct spawn *sp, const struct spawn_run *run, const char **errp);

/*
 * Read one reply without blocking. Returns 1 with *r filled, 0 when none is
 * waiting, -1 when the spawner has gone (errno EPIPE; logged, and reaped if
 * it already exited) or the socket failed. Malformed replies are logged and
 * skipped.
 */
int spawn_receive(struct spawn *sp, struct spawn_reply *r);

/*
 * Close the engine's end and free sp; does not wait. The spawner then lets
 * running hooks finish (each up to its timeout) and exits.
 */
void spawn_close(struct spawn *sp);

#endif
