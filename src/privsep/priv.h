/*
 * The privileged side (docs/design.md, Decision 2; OpenBSD ntpd's parent):
 * forked by nfq-trigger before any config or key is read, it stays root and
 * does for the unprivileged engine the few things that need root:
 *
 *  - reads the root-only config (and checks the users and hook files it
 *    names), and opens its key files for the engine, over the control
 *    socketpair (priv_proto.h);
 *  - reads and writes the knock state files the config names;
 *  - keeps a spawner (spawner.h) running, restarting it with back-off,
 *    and relays the engine's hook requests to it after checking each one
 *    against its own config and giving it its hook_user and hook_caps.
 *
 * It never sees a packet. It exits when the engine has gone.
 */
#ifndef NFQT_PRIV_H
#define NFQT_PRIV_H

#include <stdint.h>

#define PRIV_QUEUE_MAX		64	/* hook requests held while no spawner runs */
#define PRIV_QUEUE_WAIT_MS	10000	/* held longer: refused (ENOTCONN), logged */
#define PRIV_RESTART_MIN_MS	100	/* spawner restart back-off: first wait */
#define PRIV_RESTART_MAX_MS	5000	/* ... doubling up to this */
#define PRIV_RESTART_RESET_MS	30000	/* a spawner that lived this long resets it */

/*
 * Become the privileged side: path is the config (absolute), ctl and hooks
 * our ends of the two socketpairs, verbosity the log level. Never returns.
 */
_Noreturn void priv_main(const char *path, int ctl, int hooks, int verbosity);

#endif
