/*
 * The engine: binds the configured queues and log groups, runs each packet
 * through the parser and the triggers, returns verdicts, reloads on SIGHUP
 * and stops cleanly on SIGTERM/SIGINT. Owns all trigger state.
 */
#ifndef NFQT_ENGINE_H
#define NFQT_ENGINE_H

struct config;
struct engine;

/* Start-up: bind everything the config names; NULL (logged) on failure. */
struct engine *engine_open(struct config *cfg);

/* Run the event loop until SIGTERM or SIGINT. Returns the exit status. */
int engine_run(struct engine *e);

/* Log counters, release sockets; netfilter state owned by the kernel stays. */
void engine_close(struct engine *e);

#endif
