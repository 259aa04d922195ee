/*
 * The system side of a config (config_system.h): users and hook files.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_files.h"
#include "config/config_system.h"

int
config_user_ids(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int
user_check(const struct config *cfg, const char *user, int line, const char *key,
    const char *hint, FILE *errs)
{
	uid_t uid;
	gid_t gid;

	if (config_user_ids(user, &uid, &gid) == 0)
		return 0;
	fprintf(errs, "%s:%d: %s: no user '%s' on this system%s\n", cfg->path, line,
	    key, user, hint);
	return 1;
}

static int
hook_check(const struct config *cfg, const char *ctx, const char *key,
    const struct config_hook *h, FILE *errs)
{
	char why[512];

	if (h->argv == NULL || config_exec_check(h->argv[0], why, sizeof(why)) == 0)
		return 0;
	/*
	 * Not installed yet is not unsafe: it is checked again before each
	 * run (priv.c), and refused then if it is missing or unsafe.
	 */
	if (errno == ENOENT) {
		fprintf(errs, "%s:%d: warning: %s: %s: %s\n", cfg->path, h->lineno, ctx,
		    key, why);
		return 0;
	}
	fprintf(errs, "%s:%d: %s: %s: %s\n", cfg->path, h->lineno, ctx, key, why);
	return 1;
}

static int
run_as_check(const struct config *cfg, const char *kind, const char *name, int line,
    const struct config_run_as *ra, FILE *errs)
{
	char ctx[64];

	if (ra->user[0] == '\0')
		return 0;
	snprintf(ctx, sizeof(ctx), "%s %s: hook_user", kind, name);
	return user_check(cfg, ra->user, ra->user_line != 0 ? ra->user_line : line,
	    ctx, "", errs);
}

int
config_check_system(const struct config *cfg, FILE *errs)
{
	const struct config_engine *e = &cfg->engine;
	char ctx[64];
	int i, n = 0;

	n += user_check(cfg, config_engine_user(e), e->user_line, "engine: user",
	    e->user[0] == '\0' ? " (the default; `make install` creates it, or "
	    "set user = root)" : "", errs);
	for (i = 0; i < cfg->nknocks; i++) {
		snprintf(ctx, sizeof(ctx), "knock %s", cfg->knocks[i].name);
		n += hook_check(cfg, ctx, "exec", &cfg->knocks[i].exec, errs);
		n += hook_check(cfg, ctx, "exec_stop", &cfg->knocks[i].exec_stop, errs);
		n += run_as_check(cfg, "knock", cfg->knocks[i].name, cfg->knocks[i].line,
		    &cfg->knocks[i].run_as, errs);
	}
	for (i = 0; i < cfg->nactivities; i++) {
		snprintf(ctx, sizeof(ctx), "activity %s", cfg->activities[i].name);
		n += hook_check(cfg, ctx, "start", &cfg->activities[i].start, errs);
		n += hook_check(cfg, ctx, "stop", &cfg->activities[i].stop, errs);
		n += run_as_check(cfg, "activity", cfg->activities[i].name,
		    cfg->activities[i].line, &cfg->activities[i].run_as, errs);
	}
	for (i = 0; i < cfg->ncounts; i++) {
		snprintf(ctx, sizeof(ctx), "count %s", cfg->counts[i].name);
		n += hook_check(cfg, ctx, "exec", &cfg->counts[i].exec, errs);
		n += run_as_check(cfg, "count", cfg->counts[i].name, cfg->counts[i].line,
		    &cfg->counts[i].run_as, errs);
	}
	return n;
}
