/*
 * systemd's readiness protocol, spoken directly (docs/design.md: no
 * libsystemd): one datagram of "KEY=VALUE" lines to the unix socket named
 * by $NOTIFY_SOCKET ('@' for the abstract namespace). READY=1 after
 * start-up, RELOADING=1 with MONOTONIC_USEC while a reload runs,
 * STOPPING=1 on the way out, WATCHDOG=1 at least every $WATCHDOG_USEC.
 */
#ifndef NFQT_SDNOTIFY_H
#define NFQT_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Read the environment and open the socket; $NOTIFY_SOCKET and the
 * watchdog variables are removed so hooks never see them. Returns whether
 * a supervisor listens (then the daemon must not fork).
 */
bool sdnotify_open(void);

/* Send msg (several lines allowed); nothing when no supervisor listens. */
void sdnotify_send(const char *msg);

/* RELOADING=1 with the CLOCK_MONOTONIC time systemd wants beside it. */
void sdnotify_reloading(void);

/* Watchdog interval in microseconds, 0 when not asked for (or not for us). */
uint64_t sdnotify_watchdog_usec(void);

#endif
