/*
 * The control socket's listening end (unixsock.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unixsock.h"

void
unixsock_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
}

/* 0 when something accepts a connection on path, else why not (an errno). */
static int
unixsock_try(const char *path)
{
	struct sockaddr_un sun;
	int fd, err = 0;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
	unixsock_addr(&sun, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		err = errno;
	close(fd);
	return err;
}

bool
unixsock_answers(const char *path)
{
	return unixsock_try(path) == 0;
}

bool
unixsock_dead(const char *path)
{
	return unixsock_try(path) == ECONNREFUSED;
}

/* The socket's directory, made owner-only when it is missing. */
static void
unixsock_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("control: mkdir %s", dir);
}

int
unixsock_listen(const char *path, int backlog)
{
	struct sockaddr_un sun;
	mode_t mask;
	int fd;

	if (unixsock_answers(path)) {
		log_warnx("control: %s: another engine answers there; running "
		    "without a control socket", path);
		return -1;
	}
	unixsock_dir(path);
	if (unlink(path) < 0 && errno != ENOENT) {
		log_warn("control: %s", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("control: socket");
		return -1;
	}
	unixsock_addr(&sun, path);
	/* Owner-only from the start: no window in which others may connect. */
	mask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, backlog) < 0) {
		umask(mask);
		log_warn("control: %s", path);
		close(fd);
		return -1;
	}
	umask(mask);
	return fd;
}
