/*
 * The control socket (docs/control.md): a unix stream socket, owner-only,
 * that takes one request line per connection ("status --json", "list ssh",
 * "bypass on", ...) and answers "ok" or "error MESSAGE" on its first line,
 * then the body, then closes. Optionally the same metrics over HTTP on a
 * local TCP address (metrics_listen).
 *
 * Nothing here blocks the loop: sockets are non-blocking, a request is
 * size-checked, replies are bounded, clients are limited in number and
 * time. Complete requests are answered in the loop pass (control_run()),
 * never inside a packet callback, so a command may wait on the kernel.
 */
#ifndef NFQT_CONTROL_H
#define NFQT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_REQUEST_MAX	512		/* one request line, newline included */
#define CONTROL_HTTP_MAX	2048		/* an HTTP request's head */
#define CONTROL_ARGS_MAX	8		/* words of a request */
#define CONTROL_CLIENTS_MAX	16		/* connections at a time, both kinds */
#define CONTROL_REQUEST_MS	5000		/* to send the request after connecting */
#define CONTROL_REPLY_MS	30000		/* to read the whole reply */
#define CONTROL_REPLY_MAX	(64U << 20)	/* a reply is cut (and says so) beyond this */

struct config_engine;
struct control;
struct control_reply;
struct loop;

/* Runs one request (argv[0] the command); writes the reply into r. */
typedef void (*control_fn)(void *arg, int argc, char **argv,
    struct control_reply *r);

/*
 * Listen on ce->control (when set) and ce->metrics_listen (when set). A
 * socket that a running engine answers on is left alone (logged: no control
 * socket); a stale one is replaced. NULL only on ENOMEM.
 */
struct control *control_open(struct loop *l, const struct config_engine *ce,
    control_fn fn, void *arg);
/*
 * After a reload: listen where ce says, keeping what did not move, each
 * old socket closed only once its new one listens. unix_fd: -1, or the new
 * control socket already listening (the privileged side made it), which c
 * then owns. false (logged) when something could not move: it stays put.
 */
bool control_move(struct control *c, const struct config_engine *ce, int unix_fd);
/* Closes every client and removes the socket file. */
void control_close(struct control *c);
/* Whether ce's control socket is elsewhere than c's. */
bool control_path_differs(const struct control *c, const struct config_engine *ce);
/* Whether ce would listen elsewhere than c does (a reload then moves). */
bool control_differs(const struct control *c, const struct config_engine *ce);

/* Answer the requests that are complete (the loop pass). */
void control_run(struct control *c);
/* When control_expire() has a client to time out; UINT64_MAX if never. */
uint64_t control_next_deadline(const struct control *c);
void control_expire(struct control *c, uint64_t now);
/* Clients served, and refused (over the limit, too long, too slow). */
void control_counters(const struct control *c, uint64_t *served, uint64_t *refused);

/* Append to the reply body (cut at CONTROL_REPLY_MAX). */
void control_printf(struct control_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The request failed: the first line says why; the body is dropped. */
void control_fail(struct control_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Whether the reply goes out as HTTP (metrics_listen). */
bool control_reply_http(const struct control_reply *r);

/*
 * The client side: send "command args..." to the engine that config_path
 * names, print the body on stdout (or the error on stderr). Returns the
 * exit status: 0, 1 (the engine said no, or cannot be reached), 2 (usage).
 */
int control_command(const char *config_path, const char *command, int argc,
    char **argv);

#endif
