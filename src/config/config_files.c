/*
 * Config, key and state files: the broker switch and the checks that make
 * a file trustworthy (config_files.h). A file that names commands run as
 * root, or holds a secret or a replay counter, must be out of reach of
 * everyone but root: its mode, its owner, and every directory on its way,
 * since whoever can rename an entry can put another file in its place.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_files.h"

static const struct config_files *broker;

void
config_files_set(const struct config_files *f)
{
	broker = f;
}

const struct config_files *
config_files_get(void)
{
	return broker;
}

static const char *
kind_name(enum config_file_kind kind)
{
	switch (kind) {
	case CONFIG_FILE_CONFIG:
		return "config file";
	case CONFIG_FILE_KEY:
		return "key file";
	case CONFIG_FILE_STATE:
		return "state file";
	}
	return "file";
}

/*
 * Each directory from dir up to /: root's, and not writable by group or
 * others; above the first one, a sticky directory (/tmp) is fine, since
 * nobody else may rename root's entries in it.
 */
static int
dirs_check(const char *dir, const char *what, bool sticky_ok, const char *path,
    char *why, size_t whylen)
{
	char buf[PATH_MAX], *d;
	struct stat st;
	bool first = !sticky_ok;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (d = buf;; d = dirname(d), first = false) {
		if (lstat(d, &st) == -1) {
			int saved = errno;

			snprintf(why, whylen, "%s: %s: %s", path, d, strerror(saved));
			errno = saved;
			return -1;
		}
		/*
		 * A link to a directory (/bin on merged-/usr systems) is as safe
		 * as the directory that holds it, checked next; where it leads
		 * is checked by the caller (resolved_check()).
		 */
		if (S_ISLNK(st.st_mode) && st.st_uid == 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, whylen, "%s: %s is not a directory", path, d);
			errno = EPERM;
			return -1;
		}
		if (st.st_uid != 0) {
			snprintf(why, whylen, "%s: the %s's directory %s is owned by "
			    "uid %u, not root", path, what, d, (unsigned)st.st_uid);
			errno = EPERM;
			return -1;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    (first || !(st.st_mode & S_ISVTX))) {
			snprintf(why, whylen, "%s: its directory %s is writable by "
			    "%s (mode %04o): chmod go-w %s", path, d,
			    st.st_mode & S_IWOTH ? "others" : "its group",
			    (unsigned)(st.st_mode & 07777), d);
			errno = EPERM;
			return -1;
		}
		if (strcmp(d, "/") == 0 || strcmp(d, ".") == 0)
			return 0;
	}
}

/*
 * The directories of path as written, and, when links lead elsewhere, the
 * ones it resolves to.
 */
static int
parent_check(const char *path, const char *what, bool sticky_ok, char *why,
    size_t whylen)
{
	char buf[PATH_MAX], real[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	if (dirs_check(dirname(buf), what, sticky_ok, path, why, whylen) == -1)
		return -1;
	snprintf(buf, sizeof(buf), "%s", path);
	if (realpath(dirname(buf), real) == NULL) {
		int saved = errno;

		snprintf(why, whylen, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	if (strcmp(real, dirname(buf)) == 0)
		return 0;
	return dirs_check(real, what, sticky_ok, path, why, whylen);
}

static int
mode_check(const char *path, const struct stat *st, enum config_file_kind kind,
    char *why, size_t whylen)
{
	mode_t bad = kind == CONFIG_FILE_CONFIG ? (S_IWGRP | S_IWOTH) : (S_IRWXG | S_IRWXO);

	if (st->st_uid != 0) {
		snprintf(why, whylen, "%s is owned by uid %u, not root", path,
		    (unsigned)st->st_uid);
		return -1;
	}
	if (st->st_mode & bad) {
		snprintf(why, whylen, "%s is open to %s (mode %04o): a %s must be for "
		    "its owner only: chmod 600 %s", path,
		    (st->st_mode & S_IRWXG) && (st->st_mode & S_IRWXO) ?
		    "group and others" : st->st_mode & S_IRWXG ? "its group" : "others",
		    (unsigned)(st->st_mode & 07777),
		    kind == CONFIG_FILE_KEY ? "key" : "state file", path);
		return -1;
	}
	return 0;
}

int
config_file_check(const char *path, enum config_file_kind kind, char *why, size_t whylen)
{
	struct stat st;

	if (path[0] != '/') {
		/* The daemon's directory is /; only -C and tests read relative paths. */
		char cwd[PATH_MAX], full[PATH_MAX * 2];

		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			snprintf(why, whylen, "%s: getcwd: %s", path, strerror(errno));
			return -1;
		}
		snprintf(full, sizeof(full), "%s/%s", cwd, path);
		return config_file_check(full, kind, why, whylen);
	}
	/*
	 * A secret or a counter needs a directory of root's alone; the
	 * config may sit in a sticky one, where nobody can replace it.
	 */
	if (parent_check(path, kind_name(kind), kind == CONFIG_FILE_CONFIG, why,
	    whylen) == -1)
		return -1;
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT && kind == CONFIG_FILE_STATE)
			return 0;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "%s: the %s is a symbolic link; name the file "
		    "itself", path, kind_name(kind));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		return -1;
	}
	/* The config's owner and mode: config.c reports them, both at once. */
	return kind == CONFIG_FILE_CONFIG ? 0 : mode_check(path, &st, kind, why, whylen);
}

/* A policy refusal: errno EPERM, so that callers tell it from a missing file. */
static int
exec_refuse(void)
{
	errno = EPERM;
	return -1;
}

int
config_exec_check(const char *path, char *why, size_t whylen)
{
	char real[PATH_MAX];
	struct stat st;
	int saved;

	if (parent_check(path, "hook", false, why, whylen) == -1)
		return -1;	/* errno: ENOENT, or EPERM from the check */
	if (stat(path, &st) == -1) {
		saved = errno;
		snprintf(why, whylen, "%s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		return exec_refuse();
	}
	if (st.st_uid != 0) {
		snprintf(why, whylen, "%s: the hook is owned by uid %u, not root: it "
		    "would run as root", path, (unsigned)st.st_uid);
		return exec_refuse();
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "%s: the hook is writable by %s (mode %04o): "
		    "chmod go-w %s", path, st.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777), path);
		return exec_refuse();
	}
	if (!(st.st_mode & S_IXUSR)) {
		snprintf(why, whylen, "%s: the hook is not executable", path);
		return exec_refuse();
	}
	/* A symbolic link is fine as long as where it leads is safe too. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if (realpath(path, real) == NULL) {
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			return exec_refuse();
		}
		return parent_check(real, "hook", false, why, whylen);
	}
	return 0;
}

int
config_file_open(enum config_file_kind kind, const char *path, bool check,
    char *why, size_t whylen)
{
	int fd;

	if (broker != NULL)
		return broker->open(broker->arg, kind, path, why, whylen);
	if (check && config_file_check(path, kind, why, whylen) == -1)
		return -1;
	/* O_NONBLOCK: a FIFO in the file's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	    (check ? O_NOFOLLOW : 0));
	if (fd == -1)
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
	return fd;
}
