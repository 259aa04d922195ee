/*
 * Where the config file, its key files and the knock state files come
 * from, and what makes one of them trustworthy.
 *
 * By default (-C, remove-table, nfq-knock, tests) the file system. The
 * engine runs unprivileged and cannot read root's files: it installs a
 * broker (privsep/priv_client.c) through which the privileged side checks
 * and opens them for it (docs/design.md, Decision 2).
 */
#ifndef NFQT_CONFIG_FILES_H
#define NFQT_CONFIG_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum config_file_kind {
	CONFIG_FILE_CONFIG,	/* root's, not writable by group or others */
	CONFIG_FILE_KEY,	/* root's, mode 0600 or stricter */
	CONFIG_FILE_STATE,	/* root's, mode 0600 or stricter; may not exist yet */
};

struct config_files {
	/* An open read-only descriptor of path, or -1 with why. */
	int (*open)(void *arg, enum config_file_kind kind, const char *path,
	    char *why, size_t whylen);
	/* As statefile_load() and statefile_save(). */
	int (*state_load)(void *arg, const char *path, uint64_t *value,
	    char *why, size_t whylen);
	int (*state_save)(void *arg, const char *path, uint64_t value,
	    char *why, size_t whylen);
	void *arg;
};

/* Install a broker (NULL: the file system again); f must outlive its use. */
void config_files_set(const struct config_files *f);
const struct config_files *config_files_get(void);

/*
 * Whether path may be trusted as kind: no symbolic link, a regular file
 * owned by root with the kind's mode, in a directory owned by root that
 * nobody else can write, under directories that are root's and not
 * writable by others (or sticky, like /tmp). A missing state file is fine
 * (its directory is still checked). 0, or -1 with the reason in why.
 */
int config_file_check(const char *path, enum config_file_kind kind, char *why,
    size_t whylen);

/*
 * The same for a hook's executable (docs/hooks.md): a regular file owned
 * by root, executable, not writable by group or others, in directories
 * that are root's and not writable by group or others (sticky ancestors
 * above its own directory excepted).
 */
int config_exec_check(const char *path, char *why, size_t whylen);

/* open(2) for kind: through the broker when one is set, else with checks. */
int config_file_open(enum config_file_kind kind, const char *path, bool check,
    char *why, size_t whylen);

#endif
