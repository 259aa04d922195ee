#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/daemon.h"
#include "util/log.h"

static int pidfile_fd = -1;
static char pidfile_path[PATH_MAX];

int
daemon_detach(void)
{
	int p[2];
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		/* The parent: its exit status says whether the engine started. */
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	if (chdir("/") < 0)
		fatal("chdir /");
	return p[1];
}

void
daemon_ready(int fd)
{
	int null;

	if ((null = open("/dev/null", O_RDWR)) < 0)
		fatal("/dev/null");
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
	if (write(fd, "1", 1) != 1)
		log_warn("telling the parent that start-up is done");
	close(fd);
}

/* The pid of a running engine that holds the lock on path, or 0. */
static long
pidfile_holder(int fd)
{
	char buf[32];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int
pidfile_write(const char *path)
{
	char buf[32];
	int fd, len;

	if (strlen(path) >= sizeof(pidfile_path)) {
		log_warnx("pidfile %s: path too long", path);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		log_warn("pidfile %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_warnx("pidfile %s: another engine runs (pid %ld)", path,
			    pidfile_holder(fd));
		else
			log_warn("pidfile %s: lock", path);
		close(fd);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		log_warn("pidfile %s: write", path);
		close(fd);
		return -1;
	}
	pidfile_fd = fd;
	snprintf(pidfile_path, sizeof(pidfile_path), "%s", path);
	/* A start-up that fails later (fatal()) leaves no pidfile behind. */
	atexit(pidfile_remove);
	return 0;
}

void
pidfile_remove(void)
{
	if (pidfile_fd < 0)
		return;
	/* Still ours: the lock keeps another engine from having written it. */
	if (unlink(pidfile_path) < 0 && errno != ENOENT)
		log_warn("pidfile %s: remove", pidfile_path);
	close(pidfile_fd);
	pidfile_fd = -1;
}

void
daemon_shed_signals(void)
{
	static const int ignored[] = { SIGPIPE, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0 };
	struct sigaction sa;
	sigset_t none;
	int i;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (i = 0; ignored[i] != 0; i++)
		sigaction(ignored[i], &sa, NULL);
}
