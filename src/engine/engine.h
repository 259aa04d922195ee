/*
 * The engine: binds the configured queues and log groups, programs the
 * nftables table, runs each packet through the parser and the triggers,
 * returns verdicts, acts (allow sets, hooks), reloads on SIGHUP and stops
 * cleanly on SIGTERM/SIGINT. Owns all trigger state (docs/design.md,
 * decision 7).
 */
#ifndef NFQT_ENGINE_H
#define NFQT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct engine;
struct spawn;

/*
 * Start-up: program the table, bind everything the config names, and take
 * ownership of cfg. Hooks go to the spawner sp. NULL (logged) on failure.
 */
struct engine *engine_open(struct config *cfg, struct spawn *sp);

/*
 * Around a reload (privsep/priv_client.h): prepare has the privileged side
 * read the new config first (-1: refused, the running one stays); done
 * tells it whether the engine applied it.
 */
struct engine_reload_hooks {
	int (*prepare)(void *arg, char *why, size_t whylen);
	void (*done)(void *arg, bool applied);
	/* The control socket at path, listening, from the privileged side; or -1. */
	int (*listen)(void *arg, const char *path);
	void *arg;
};
void engine_set_reload_hooks(struct engine *e, const struct engine_reload_hooks *h);

/* Run the event loop until SIGTERM or SIGINT. Returns the exit status. */
int engine_run(struct engine *e);

/* Log counters, close sockets; the table stays (docs/design.md, decision 1). */
void engine_close(struct engine *e);

#endif
