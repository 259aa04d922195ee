#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sdnotify.h"

static int notify_fd = -1;
static bool notify_connected;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t watchdog_usec;

/* WATCHDOG_USEC, when WATCHDOG_PID is unset or names us. */
static void
sdnotify_read_watchdog(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (usec == NULL)
		return;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno == 0 && *end == '\0' && v > 0)
		watchdog_usec = v;
}

bool
sdnotify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (path == NULL || path[0] == '\0')
		return false;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(notify_addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET '%s' is not a unix socket path; not notifying", path);
		unsetenv("NOTIFY_SOCKET");
		return false;
	}
	sdnotify_read_watchdog();
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';	/* abstract: no terminating NUL */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '@' ? 0 : 1));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0)
		log_warn("NOTIFY_SOCKET: socket");
	/*
	 * Connected while still root: the engine drops its privileges later
	 * and may no longer reach the socket's directory by name.
	 */
	else if (connect(notify_fd, (const struct sockaddr *)&notify_addr, notify_len) == 0)
		notify_connected = true;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return true;
}

void
sdnotify_send(const char *msg)
{
	if (notify_fd < 0)
		return;
	if ((notify_connected ? send(notify_fd, msg, strlen(msg), MSG_NOSIGNAL) :
	    sendto(notify_fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (const struct sockaddr *)&notify_addr, notify_len)) < 0)
		log_warn("NOTIFY_SOCKET: sending %.20s", msg);
}

void
sdnotify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	sdnotify_send(msg);
}

uint64_t
sdnotify_watchdog_usec(void)
{
	return notify_fd < 0 ? 0 : watchdog_usec;
}
