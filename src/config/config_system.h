/*
 * What a config names on this system, checked where it will be used: at
 * start and reload by the privileged side, and by -C. The parser itself
 * (config.c) touches no user database and no hook file.
 */
#ifndef NFQT_CONFIG_SYSTEM_H
#define NFQT_CONFIG_SYSTEM_H

#include <stdio.h>
#include <sys/types.h>

struct config;

/*
 * Every user ([engine] user, hook_user) exists; every hook executable is
 * safe to run as root (config_exec_check()). Prints each problem to errs
 * as "path:line: message"; returns how many there were.
 */
int config_check_system(const struct config *cfg, FILE *errs);

/* A user's uid and primary gid: 0, or -1 when there is no such user. */
int config_user_ids(const char *user, uid_t *uid, gid_t *gid);

#endif
