/*
 * Daemon mode: detach from the terminal before the loop is built
 * (docs/design.md: a signalfd made before the fork reports the parent's
 * signals), and tell the waiting parent whether start-up worked, so that
 * `nfq-trigger -d` exits non-zero when the engine could not start. The
 * pidfile names the engine and is locked while it runs.
 */
#ifndef NFQT_DAEMON_H
#define NFQT_DAEMON_H

/*
 * Fork; the parent waits until the child calls daemon_ready() and exits 0,
 * or 1 when the child died first. In the child: a new session, "/" as the
 * working directory. Returns the descriptor daemon_ready() takes.
 */
int daemon_detach(void);

/* Start-up is over: stdio to /dev/null, the parent exits. */
void daemon_ready(int fd);

/*
 * Write our pid to path, locked, so a second engine refuses to start
 * while this one runs. 0, or -1 (logged).
 */
int pidfile_write(const char *path);

/*
 * In a process forked from the engine to stay (the privileged side, the
 * spawner): no signal blocked, and the engine's own (a ^C at the terminal,
 * HUP, QUIT, USR1, USR2) and SIGPIPE ignored.
 */
void daemon_shed_signals(void);

/* Remove the pidfile written by pidfile_write(); nothing when none was. */
void pidfile_remove(void);

#endif
