/*
 * The engine's client of the privileged side (priv_client.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config_files.h"
#include "privsep/priv.h"
#include "privsep/priv_client.h"
#include "privsep/priv_proto.h"
#include "util/log.h"

struct priv_client {
	int ctl;
	int hooks;
	pid_t pid;
	bool gone;
	struct config_files files;
	char why[PRIV_TEXT_MAX];	/* the last refusal of a config */
};

const char *
priv_last_refusal(const struct priv_client *pc)
{
	return pc->why;
}

struct priv_client *
priv_start(const char *path, int verbosity)
{
	struct priv_client *pc;
	int ctl[2], hooks[2];
	pid_t pid;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		free(pc);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, hooks) < 0)
		goto fail;
	if ((pid = fork()) < 0) {
		close(hooks[0]);
		close(hooks[1]);
		goto fail;
	}
	if (pid == 0) {
		close(ctl[0]);
		close(hooks[0]);
		priv_main(path, ctl[1], hooks[1], verbosity);
	}
	close(ctl[1]);
	close(hooks[1]);
	pc->ctl = ctl[0];
	pc->hooks = hooks[0];
	pc->pid = pid;
	log_debug("privileged side started, pid %d", (int)pid);
	return pc;
fail:
	close(ctl[0]);
	close(ctl[1]);
	free(pc);
	return NULL;
}

/* One request, one answer; -1 (logged) when the privileged side has gone. */
static int
priv_call(struct priv_client *pc, const struct priv_msg *m, struct priv_msg *r, int *fdp)
{
	struct pollfd pfd = { .fd = pc->ctl, .events = POLLIN };
	int rc;

	if (fdp != NULL)
		*fdp = -1;
	if (pc->gone) {
		errno = ENOTCONN;
		return -1;
	}
	if (priv_msg_send(pc->ctl, m, -1) < 0) {
		log_warn("privileged side: request");
		goto gone;
	}
	do
		rc = poll(&pfd, 1, PRIV_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		log_warnx("privileged side: no answer within %d ms", PRIV_TIMEOUT_MS);
		errno = ETIMEDOUT;
		return -1;
	}
	if ((rc = priv_msg_recv(pc->ctl, r, fdp)) == 1)
		return 0;
	if (rc < 0 && errno == EBADMSG) {
		log_warnx("privileged side: malformed answer");
		return -1;
	}
	log_warnx("privileged side (pid %d) has gone", (int)pc->pid);
gone:
	pc->gone = true;
	errno = ENOTCONN;
	return -1;
}

int
priv_load_config(struct priv_client *pc, bool reload, char *user, size_t userlen,
    uid_t *uid, gid_t *gid, int *nerrors)
{
	struct priv_msg m, r;

	*nerrors = 0;
	pc->why[0] = '\0';
	priv_msg_init(&m, PRIV_MSG_CONFIG, NULL);
	m.arg = reload;
	if (priv_call(pc, &m, &r, NULL) < 0)
		return -1;
	if (r.type != PRIV_MSG_OK) {
		*nerrors = r.arg > 0 ? (int)r.arg : 1;
		snprintf(pc->why, sizeof(pc->why), "%s", r.text);
		return -1;
	}
	snprintf(user, userlen, "%s", r.text);
	*uid = (uid_t)r.uid;
	*gid = (gid_t)r.gid;
	return 0;
}

void
priv_reload_done(struct priv_client *pc, bool applied)
{
	struct priv_msg m, r;

	priv_msg_init(&m, applied ? PRIV_MSG_COMMIT : PRIV_MSG_ABORT, NULL);
	if (priv_call(pc, &m, &r, NULL) < 0)
		log_warnx("reload: the privileged side did not follow");
}

int
priv_listen(struct priv_client *pc, const char *path)
{
	struct priv_msg m, r;
	int fd;

	if (strlen(path) >= sizeof(m.text))
		return -1;
	priv_msg_init(&m, PRIV_MSG_LISTEN, path);
	if (priv_call(pc, &m, &r, &fd) < 0) {
		log_warnx("control: %s: the privileged side did not answer", path);
		return -1;
	}
	if (r.type == PRIV_MSG_OK && fd >= 0)
		return fd;
	if (fd >= 0)
		close(fd);
	log_warnx("control: %s: %s", path, r.type == PRIV_MSG_ERR ? r.text :
	    "no descriptor came");
	return -1;
}

static int
priv_files_open(void *arg, enum config_file_kind kind, const char *path, char *why,
    size_t whylen)
{
	struct priv_client *pc = arg;
	struct priv_msg m, r;
	int fd;

	priv_msg_init(&m, PRIV_MSG_OPEN, path);
	m.arg = (uint32_t)kind;
	if (strlen(path) >= sizeof(m.text)) {
		snprintf(why, whylen, "%s: path too long", path);
		return -1;
	}
	if (priv_call(pc, &m, &r, &fd) < 0) {
		snprintf(why, whylen, "%s: the privileged side did not answer", path);
		return -1;
	}
	if (r.type == PRIV_MSG_OK && fd >= 0)
		return fd;
	if (fd >= 0)
		close(fd);
	snprintf(why, whylen, "%s", r.type == PRIV_MSG_ERR ? r.text : "no descriptor came");
	return -1;
}

static int
priv_files_state(struct priv_client *pc, enum priv_msg_type type, const char *path,
    uint64_t *value, char *why, size_t whylen)
{
	struct priv_msg m, r;

	priv_msg_init(&m, type, path);
	m.value = *value;
	if (strlen(path) >= sizeof(m.text)) {
		snprintf(why, whylen, "%s: path too long", path);
		return -1;
	}
	if (priv_call(pc, &m, &r, NULL) < 0) {
		snprintf(why, whylen, "%s: the privileged side did not answer", path);
		return -1;
	}
	if (r.type != PRIV_MSG_OK) {
		snprintf(why, whylen, "%s", r.text);
		return -1;
	}
	if (type == PRIV_MSG_STATE_LOAD && r.arg == 0)
		*value = r.value;
	return (int)r.arg;
}

static int
priv_files_state_load(void *arg, const char *path, uint64_t *value, char *why,
    size_t whylen)
{
	uint64_t v = 0;
	int rc;

	rc = priv_files_state(arg, PRIV_MSG_STATE_LOAD, path, &v, why, whylen);
	if (rc == 0)
		*value = v;
	return rc;
}

static int
priv_files_state_save(void *arg, const char *path, uint64_t value, char *why,
    size_t whylen)
{
	return priv_files_state(arg, PRIV_MSG_STATE_SAVE, path, &value, why, whylen);
}

void
priv_use_for_files(struct priv_client *pc)
{
	pc->files.open = priv_files_open;
	pc->files.state_load = priv_files_state_load;
	pc->files.state_save = priv_files_state_save;
	pc->files.arg = pc;
	config_files_set(&pc->files);
}

int
priv_hook_fd(const struct priv_client *pc)
{
	return pc->hooks;
}

pid_t
priv_pid(const struct priv_client *pc)
{
	return pc->pid;
}

void
priv_close(struct priv_client *pc)
{
	if (pc == NULL)
		return;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000 };
	int i, status;

	if (config_files_get() == &pc->files)
		config_files_set(NULL);
	close(pc->ctl);
	/*
	 * It removes what we cannot (the control socket in root's directory)
	 * once our sockets are closed: give it a second, so that nothing of
	 * ours is left when we are gone. Not our child after daemon(): no wait.
	 */
	for (i = 0; i < 100 && waitpid(pc->pid, &status, WNOHANG) == 0; i++)
		nanosleep(&ts, NULL);
	free(pc);
}
