/*
 * The engine's side of the privileged process (priv.h): start it, ask it
 * for the config, and let the config layer open key and state files
 * through it (config_files.h). Calls block until the answer comes, at most
 * PRIV_TIMEOUT_MS; they are made at start-up and reload and when a knock
 * counter is recorded, never for a packet's verdict.
 */
#ifndef NFQT_PRIV_CLIENT_H
#define NFQT_PRIV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct priv_client;

/*
 * Fork the privileged side for the config at path (absolute). Call it
 * first: before the config is read, before daemon() and signalfd. NULL
 * with errno when the socketpairs or the fork failed.
 */
struct priv_client *priv_start(const char *path, int verbosity);

/*
 * Have the config (re)read and checked there. 0 with the engine's user,
 * uid and gid; -1 when it has errors (*nerrors of them, printed by the
 * privileged side) or the privileged side has gone (*nerrors 0, logged).
 * A reload takes effect there at priv_reload_done().
 */
int priv_load_config(struct priv_client *pc, bool reload, char *user, size_t userlen,
    uid_t *uid, gid_t *gid, int *nerrors);

/* Why the last priv_load_config() was refused ("" when it was not). */
const char *priv_last_refusal(const struct priv_client *pc);

/* The engine applied the reload (or did not): the privileged side follows. */
void priv_reload_done(struct priv_client *pc, bool applied);

/*
 * The control socket at path (the one the config in force names),
 * listening, made by the privileged side; -1 (logged) when it cannot.
 */
int priv_listen(struct priv_client *pc, const char *path);

/* From now on the config layer opens its files through pc. */
void priv_use_for_files(struct priv_client *pc);

/* The hook channel (spawn_proto.h), non-blocking, and the process. */
int priv_hook_fd(const struct priv_client *pc);
pid_t priv_pid(const struct priv_client *pc);

/* Close the control channel; the hook channel is the spawn client's. */
void priv_close(struct priv_client *pc);

#endif
