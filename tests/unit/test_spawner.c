/*
 * The spawner with real processes: requests over the socketpair, hooks run
 * by posix_spawn, exit statuses, timeouts, output, environment, limits and
 * malformed messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#include "util/log.h"
#include "engine/loop.h"
#include "privsep/spawn_client.h"
#include "privsep/spawn_client_test.h"

static char tmpdir[] = "/tmp/nfqt-spawner.XXXXXX";
static char logpath[PATH_MAX];

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A spawner whose stderr (its log) goes to logpath, truncated first. */
static struct spawn *
start_logged(void)
{
	struct spawn *sp;
	int fd, saved;

	snprintf(logpath, sizeof(logpath), "%s/spawner.log", tmpdir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	sp = spawn_start();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_non_null(sp);
	return sp;
}

/* 1: a reply, 0: none within timeout_ms, -1: the spawner has gone. */
static int
wait_reply(struct spawn *sp, struct spawn_reply *r, int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = { .fd = spawn_fd(sp), .events = POLLIN };
	int rc;

	for (;;) {
		if ((rc = spawn_receive(sp, r)) != 0)
			return rc;
		if (loop_now_ms() >= end)
			return 0;
		poll(&pfd, 1, 20);
	}
}

/*
 * Exit status of pid, waiting up to timeout_ms; -1 if it did not exit.
 * spawn_close() reaps a spawner that is already gone: ECHILD means exited.
 */
static int
wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)timeout_ms;
	int status;
	pid_t r;

	while (loop_now_ms() < end) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno == ECHILD)
			return 0;
		sleep_ms(10);
	}
	return -1;
}

static void
finish(struct spawn *sp)
{
	pid_t pid = spawn_pid(sp);

	spawn_close(sp);
	if (pid > 0)
		assert_int_not_equal(wait_exit(pid, 3000), -1);
}

static int
send_argv(struct spawn *sp, uint32_t id, uint32_t timeout_ms, const char *name,
    char **argv, char **env)
{
	struct spawn_run run = { .id = id, .timeout_ms = timeout_ms, .name = name,
	    .argv = argv, .env = env };
	const char *err = NULL;

	while (argv[run.argc] != NULL)
		run.argc++;
	while (env != NULL && env[run.envc] != NULL)
		run.envc++;
	return spawn_send(sp, &run, &err);
}

/* The next reply must be event for id; returns its value. */
static int
expect_reply(struct spawn *sp, uint32_t id, enum spawn_event event, int timeout_ms)
{
	struct spawn_reply r;

	assert_int_equal(wait_reply(sp, &r, timeout_ms), 1);
	assert_int_equal(r.id, id);
	assert_int_equal(r.event, event);
	return r.value;
}

static void
test_spawner_true_reports_started_then_exit_zero(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	struct spawn *sp = spawn_start();
	int st;

	(void)state;
	assert_non_null(sp);
	assert_int_equal(send_argv(sp, 1, 5000, "true", argv, NULL), 0);
	assert_true(expect_reply(sp, 1, SPAWN_EV_STARTED, 2000) > 0);
	st = expect_reply(sp, 1, SPAWN_EV_EXITED, 2000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	finish(sp);
}

static void
test_spawner_exit_status_comes_back(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "exit 7", NULL };
	struct spawn *sp = spawn_start();
	int st;

	(void)state;
	assert_int_equal(send_argv(sp, 2, 5000, "exit7", argv, NULL), 0);
	expect_reply(sp, 2, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 2, SPAWN_EV_EXITED, 2000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	finish(sp);
}

static void
test_spawner_missing_binary_reports_enoent(void **state)
{
	char *abs[] = { "/nonexistent/nfqt-hook", NULL };
	char *notexec[] = { "/etc/passwd", NULL };
	char *bare[] = { "true", NULL };
	struct spawn_reply r;
	struct spawn *sp = spawn_start();

	(void)state;
	assert_int_equal(send_argv(sp, 3, 5000, "abs", abs, NULL), 0);
	assert_int_equal(expect_reply(sp, 3, SPAWN_EV_FAILED, 2000), ENOENT);
	assert_int_equal(send_argv(sp, 4, 5000, "notexec", notexec, NULL), 0);
	assert_int_equal(expect_reply(sp, 4, SPAWN_EV_FAILED, 2000), EACCES);
	/* No PATH search: a bare name is refused before it is sent. */
	assert_int_equal(send_argv(sp, 5, 5000, "bare", bare, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(wait_reply(sp, &r, 100), 0);
	finish(sp);
}

static void
test_spawner_hanging_hook_killed_after_timeout(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct spawn *sp = spawn_start();
	uint64_t t0, dt;
	int st;

	(void)state;
	t0 = loop_now_ms();
	assert_int_equal(send_argv(sp, 6, 300, "sleepy", argv, NULL), 0);
	expect_reply(sp, 6, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 6, SPAWN_EV_KILLED, 3000);
	dt = loop_now_ms() - t0;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_true(dt >= 280 && dt < 1500);
	finish(sp);
}

static void
test_spawner_hook_ignoring_sigterm_gets_sigkill(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "trap '' TERM; /bin/sleep 30; exit 0", NULL };
	struct spawn *sp = spawn_start();
	uint64_t t0, dt;
	int st;

	(void)state;
	t0 = loop_now_ms();
	assert_int_equal(send_argv(sp, 7, 200, "stubborn", argv, NULL), 0);
	expect_reply(sp, 7, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 7, SPAWN_EV_KILLED, 4000);
	dt = loop_now_ms() - t0;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(dt >= 200 + SPAWN_KILL_GRACE_MS - 50 && dt < 2500);
	finish(sp);
}

/* The lines the hook called name wrote, as the spawner logged them. */
static int
logged_lines(const char *name, char lines[][256], int max)
{
	static char log[65536];
	char prefix[128], *p, *nl, *body;
	int n = 0;

	unit_read_file(logpath, log, sizeof(log));
	snprintf(prefix, sizeof(prefix), "hook %s[", name);
	for (p = log; *p != '\0' && n < max; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		if (strstr(p, prefix) != NULL && (body = strstr(p, "]: ")) != NULL)
			snprintf(lines[n++], 256, "%s", body + 3);
	}
	return n;
}

static int
has_line(char lines[][256], int n, const char *want)
{
	int i;

	for (i = 0; i < n; i++) {
		if (strcmp(lines[i], want) == 0)
			return 1;
	}
	return 0;
}

static void
test_spawner_environment_is_clean(void **state)
{
	char *argv[] = { "/usr/bin/env", NULL };
	char *env[] = { "NFQT_IP=192.0.2.1", "NFQT_NAME=vpn", NULL };
	char lines[16][256];
	struct spawn *sp;
	int n;

	(void)state;
	/* What the engine has in its environment must not reach a hook. */
	setenv("NFQT_ENGINE_SECRET", "leaked", 1);
	setenv("LD_LIBRARY_PATH", "/tmp/leaked", 1);
	sp = start_logged();
	unsetenv("NFQT_ENGINE_SECRET");
	unsetenv("LD_LIBRARY_PATH");
	assert_int_equal(send_argv(sp, 8, 5000, "envtest", argv, env), 0);
	expect_reply(sp, 8, SPAWN_EV_STARTED, 2000);
	expect_reply(sp, 8, SPAWN_EV_EXITED, 2000);
	n = logged_lines("envtest", lines, 16);
	assert_int_equal(n, 3);
	assert_true(has_line(lines, n, "PATH=" SPAWN_PATH));
	assert_true(has_line(lines, n, "NFQT_IP=192.0.2.1"));
	assert_true(has_line(lines, n, "NFQT_NAME=vpn"));
	finish(sp);
}

static void
test_spawner_output_logged_line_by_line_with_name(void **state)
{
	char *argv[] = { "/bin/sh", "-c",
	    "echo first; echo second >&2; printf 'tab\\tesc\\033[31m no newline'", NULL };
	char lines[16][256];
	struct spawn *sp = start_logged();
	int n;

	(void)state;
	assert_int_equal(send_argv(sp, 9, 5000, "talker", argv, NULL), 0);
	expect_reply(sp, 9, SPAWN_EV_STARTED, 2000);
	expect_reply(sp, 9, SPAWN_EV_EXITED, 2000);
	n = logged_lines("talker", lines, 16);
	assert_int_equal(n, 3);
	assert_string_equal(lines[0], "first");
	assert_string_equal(lines[1], "second");
	/* Control characters cannot reach the log as they are. */
	assert_string_equal(lines[2], "tab esc?[31m no newline");
	finish(sp);
}

static void
test_spawner_hook_stdin_is_dev_null(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "if read x; then exit 9; fi; exit 4", NULL };
	struct spawn *sp = spawn_start();
	int st;

	(void)state;
	assert_int_equal(send_argv(sp, 10, 2000, "reader", argv, NULL), 0);
	expect_reply(sp, 10, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 10, SPAWN_EV_EXITED, 2000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 4);
	finish(sp);
}

static size_t
raw_hdr(uint8_t *buf, uint32_t type, uint32_t len, uint32_t id)
{
	struct spawn_msg_hdr h = { .type = type, .len = len, .id = id };

	memcpy(buf, &h, sizeof(h));
	return sizeof(h);
}

static void
raw_send(struct spawn *sp, const void *buf, size_t len)
{
	assert_int_equal(send(spawn_fd(sp), buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
test_spawner_drops_malformed_messages_and_keeps_working(void **state)
{
	static uint8_t big[SPAWN_MSG_MAX + 100];
	char *argv[] = { "/bin/true", NULL };
	char *env[] = { "NFQT_AB=1", NULL };
	struct spawn_run run = { .id = 12, .timeout_ms = 1000, .name = "evil", .argc = 1,
	    .argv = argv, .envc = 1, .env = env };
	uint8_t buf[SPAWN_MSG_MAX];
	struct spawn_reply r;
	struct spawn *sp = spawn_start();
	ssize_t len;
	char *p;
	int st;

	(void)state;
	raw_send(sp, "abc", 3);					/* shorter than a header */
	raw_send(sp, buf, raw_hdr(buf, SPAWN_MSG_RUN, 999, 10));	/* lying length */
	raw_send(sp, buf, raw_hdr(buf, 99, sizeof(struct spawn_msg_hdr), 10)); /* unknown type */
	raw_send(sp, buf, 0);					/* empty, not the end */
	memset(big, 'x', sizeof(big));
	raw_send(sp, big, sizeof(big));				/* over the largest message */
	/* A string length that runs past the end: refused with the request's id. */
	len = spawn_run_encode(&run, buf, sizeof(buf), NULL);
	assert_true(len > 0);
	raw_hdr(buf, SPAWN_MSG_RUN, (uint32_t)len - 1, 11);
	raw_send(sp, buf, (size_t)len - 1);
	/* A variable that is not NFQT_*, written past the engine's checks. */
	len = spawn_run_encode(&run, buf, sizeof(buf), NULL);
	p = memmem(buf, (size_t)len, "NFQT_AB=1", 9);
	assert_non_null(p);
	memcpy(p, "LD_AUDIT=", 9);
	raw_send(sp, buf, (size_t)len);

	assert_int_equal(send_argv(sp, 20, 2000, "good", argv, NULL), 0);
	assert_int_equal(expect_reply(sp, 11, SPAWN_EV_FAILED, 2000), EBADMSG);
	assert_int_equal(expect_reply(sp, 12, SPAWN_EV_FAILED, 2000), EINVAL);
	expect_reply(sp, 20, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 20, SPAWN_EV_EXITED, 2000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(wait_reply(sp, &r, 100), 0);
	finish(sp);
}

/* The longest last word of fill_max_argv() that keeps argv at 4096 bytes. */
#define LAST_WORD_FITS	(SPAWN_ARGV_BYTES - 10 - 62 * 64 - 1)

/* argv of 64 words: "/bin/true", 62 of 63 chars, one of last_len chars. */
static void
fill_max_argv(char *argv[], char words[][128], size_t last_len)
{
	int i;

	argv[0] = "/bin/true";			/* 10 bytes */
	for (i = 1; i < SPAWN_ARGV_MAX - 1; i++) {
		memset(words[i], 'a', 63);	/* 62 words of 64 bytes: 3968 */
		words[i][63] = '\0';
		argv[i] = words[i];
	}
	memset(words[i], 'b', last_len);
	words[i][last_len] = '\0';
	argv[i] = words[i];
	argv[SPAWN_ARGV_MAX] = NULL;
}

static void
test_spawner_refuses_over_limit_requests_before_sending(void **state)
{
	static char words[SPAWN_ARGV_MAX + 1][128];
	char *argv[SPAWN_ARGV_MAX + 2];
	char *badenv[] = { "PATH=/tmp/evil", NULL };
	char *ok[] = { "/bin/true", NULL };
	struct spawn_run run = { .id = 30, .timeout_ms = 1000, .name = "big", .argv = argv };
	struct spawn_reply r;
	struct spawn *sp = spawn_start();
	const char *err = NULL;
	int st;

	(void)state;
	/* 65 words. */
	fill_max_argv(argv, words, 1);
	argv[SPAWN_ARGV_MAX] = "one-more";
	argv[SPAWN_ARGV_MAX + 1] = NULL;
	run.argc = SPAWN_ARGV_MAX + 1;
	assert_int_equal(spawn_send(sp, &run, &err), -1);
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(err, "64"));
	/* 4097 bytes. */
	run.argc = SPAWN_ARGV_MAX;
	fill_max_argv(argv, words, LAST_WORD_FITS);
	assert_int_equal(spawn_run_check(&run, &err), 0);
	fill_max_argv(argv, words, LAST_WORD_FITS + 1);
	assert_int_equal(spawn_send(sp, &run, &err), -1);
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(err, "4096"));
	/* Only NFQT_* variables, no control characters in the name. */
	run.argc = 1;
	run.argv = ok;
	run.envc = 1;
	run.env = badenv;
	assert_int_equal(spawn_send(sp, &run, &err), -1);
	assert_int_equal(errno, EINVAL);
	run.envc = 0;
	run.name = "line\nbreak";
	assert_int_equal(spawn_send(sp, &run, &err), -1);
	assert_int_equal(errno, EINVAL);
	/* Nothing of that reached the spawner. */
	assert_int_equal(wait_reply(sp, &r, 100), 0);
	/* The 4096-byte, 64-word request itself runs. */
	fill_max_argv(argv, words, LAST_WORD_FITS);
	run.argv = argv;
	run.argc = SPAWN_ARGV_MAX;
	run.name = "big";
	assert_int_equal(spawn_send(sp, &run, &err), 0);
	expect_reply(sp, 30, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 30, SPAWN_EV_EXITED, 2000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	finish(sp);
}

static void
test_spawner_exits_when_engine_side_closes(void **state)
{
	struct spawn *sp = spawn_start();
	pid_t pid = spawn_pid(sp);
	int st;

	(void)state;
	spawn_close(sp);
	st = wait_exit(pid, 1000);
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_spawner_lets_running_hook_finish_after_engine_closes(void **state)
{
	char out[PATH_MAX], buf[64];
	char *argv[] = { "/bin/sh", "-c", "/bin/sleep 0.3; echo done > \"$0\"", out, NULL };
	struct spawn *sp = spawn_start();
	pid_t pid = spawn_pid(sp);
	uint64_t t0;
	int st;

	(void)state;
	snprintf(out, sizeof(out), "%s/finished", tmpdir);
	assert_int_equal(send_argv(sp, 40, 5000, "slow", argv, NULL), 0);
	expect_reply(sp, 40, SPAWN_EV_STARTED, 2000);
	t0 = loop_now_ms();
	spawn_close(sp);
	st = wait_exit(pid, 3000);
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(loop_now_ms() - t0 >= 250);
	unit_read_file(out, buf, sizeof(buf));
	assert_string_equal(buf, "done\n");
	unlink(out);
}

static void
test_spawner_sigterm_stops_running_hooks_and_exits(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct spawn *sp = spawn_start();
	pid_t pid = spawn_pid(sp);
	uint64_t t0;
	int st;

	(void)state;
	assert_int_equal(send_argv(sp, 45, 20000, "long", argv, NULL), 0);
	expect_reply(sp, 45, SPAWN_EV_STARTED, 2000);
	t0 = loop_now_ms();
	kill(pid, SIGTERM);
	st = wait_exit(pid, 3000);
	assert_int_not_equal(st, -1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(loop_now_ms() - t0 < 1500);
	spawn_close(sp);
}

static void
test_spawner_refuses_hooks_beyond_running_limit(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	char *ok[] = { "/bin/true", NULL };
	struct spawn_reply r;
	struct spawn *sp = spawn_start();
	int i, started = 0, killed = 0;

	(void)state;
	for (i = 0; i < SPAWN_RUNNING_MAX; i++)
		assert_int_equal(send_argv(sp, 100 + (uint32_t)i, 400, "many", argv, NULL), 0);
	assert_int_equal(send_argv(sp, 200, 400, "one-too-many", argv, NULL), 0);
	while (started + killed < 2 * SPAWN_RUNNING_MAX) {
		assert_int_equal(wait_reply(sp, &r, 3000), 1);
		if (r.id == 200) {
			assert_int_equal(r.event, SPAWN_EV_FAILED);
			assert_int_equal(r.value, EBUSY);
			continue;
		}
		assert_true(r.id >= 100 && r.id < 100 + SPAWN_RUNNING_MAX);
		if (r.event == SPAWN_EV_STARTED)
			started++;
		else {
			assert_int_equal(r.event, SPAWN_EV_KILLED);
			killed++;
		}
	}
	/* Slots free again. */
	assert_int_equal(send_argv(sp, 201, 2000, "after", ok, NULL), 0);
	expect_reply(sp, 201, SPAWN_EV_STARTED, 2000);
	expect_reply(sp, 201, SPAWN_EV_EXITED, 2000);
	finish(sp);
}

/* The timeout kills the hook's process group, not only the hook. */
static void
test_spawner_timeout_kills_whole_process_group(void **state)
{
	char out[PATH_MAX], buf[64], statpath[64], stat[256];
	char *argv[] = { "/bin/sh", "-c", "/bin/sleep 30 & echo $! > \"$0\"; wait", out, NULL };
	struct spawn *sp = spawn_start();
	char *paren;
	int gone = 0, i;

	(void)state;
	snprintf(out, sizeof(out), "%s/bgpid", tmpdir);
	assert_int_equal(send_argv(sp, 50, 300, "group", argv, NULL), 0);
	expect_reply(sp, 50, SPAWN_EV_STARTED, 2000);
	expect_reply(sp, 50, SPAWN_EV_KILLED, 3000);
	unit_read_file(out, buf, sizeof(buf));
	assert_true(atoi(buf) > 0);
	snprintf(statpath, sizeof(statpath), "/proc/%d/stat", atoi(buf));
	for (i = 0; i < 50 && !gone; i++) {
		/* Dead: gone, or a zombie its new parent has not reaped yet. */
		if (unit_read_file(statpath, stat, sizeof(stat)) == 0)
			gone = 1;
		else if ((paren = strrchr(stat, ')')) != NULL && paren[2] == 'Z')
			gone = 1;
		else
			sleep_ms(10);
	}
	assert_true(gone);
	unlink(out);
	finish(sp);
}

/* A hook that crashes: its exit is reported with the signal that killed it. */
static void
test_spawner_crashing_hook_reports_its_signal(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "kill -SEGV $$", NULL };
	struct spawn *sp = spawn_start();
	int st;

	(void)state;
	assert_int_equal(send_argv(sp, 60, 5000, "crasher", argv, NULL), 0);
	expect_reply(sp, 60, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 60, SPAWN_EV_EXITED, 3000);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	finish(sp);
}

/*
 * A hook that floods its output: SPAWN_LINES_MAX lines are logged, then
 * one line says the rest was not; it still runs to its end, reported.
 */
static void
test_spawner_output_flood_logged_bounded(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do "
	    "echo line $i; i=$((i + 1)); done; exit 3", NULL };
	static char lines[SPAWN_LINES_MAX + 8][256];
	struct spawn *sp = start_logged();
	int n, st;

	(void)state;
	assert_int_equal(send_argv(sp, 61, 20000, "flooder", argv, NULL), 0);
	expect_reply(sp, 61, SPAWN_EV_STARTED, 2000);
	st = expect_reply(sp, 61, SPAWN_EV_EXITED, 20000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	n = logged_lines("flooder", lines, SPAWN_LINES_MAX + 8);
	/* The lines, and the note that more came (logged with the same prefix). */
	assert_int_equal(n, SPAWN_LINES_MAX + 1);
	assert_string_equal(lines[0], "line 0");
	assert_string_equal(lines[SPAWN_LINES_MAX - 1], "line 99");
	assert_string_equal(lines[SPAWN_LINES_MAX], "more output, not logged");
	finish(sp);
}

/*
 * A hook that leaves a grandchild holding its output open: its exit is
 * reported when it exits, not when the grandchild lets the pipe go.
 */
static void
test_spawner_grandchild_holding_output_does_not_delay_exit(void **state)
{
	char out[PATH_MAX], buf[64];
	char *argv[] = { "/bin/sh", "-c", "/bin/sleep 10 & echo $! > \"$0\"; exit 0",
	    out, NULL };
	struct spawn *sp = spawn_start();
	uint64_t t0;

	(void)state;
	snprintf(out, sizeof(out), "%s/grandchild", tmpdir);
	t0 = loop_now_ms();
	assert_int_equal(send_argv(sp, 62, 20000, "leaver", argv, NULL), 0);
	expect_reply(sp, 62, SPAWN_EV_STARTED, 2000);
	assert_int_equal(expect_reply(sp, 62, SPAWN_EV_EXITED, 3000), 0);
	assert_true(loop_now_ms() - t0 < 3000);
	unit_read_file(out, buf, sizeof(buf));
	assert_true(atoi(buf) > 0);
	kill(atoi(buf), SIGKILL);
	unlink(out);
	finish(sp);
}

static void
test_spawner_decode_rejects_malformed_requests(void **state)
{
	static struct spawn_run_buf rb;
	char *argv[] = { "/bin/echo", "a b", "", NULL };
	char *env[] = { "NFQT_IP=192.0.2.1", NULL };
	struct spawn_run run = { .id = 77, .timeout_ms = 1234, .name = "rt", .argc = 3,
	    .argv = argv, .envc = 1, .env = env };
	uint8_t buf[SPAWN_MSG_MAX], bad[SPAWN_MSG_MAX + 1];
	const char *err;
	ssize_t len;
	char *p;

	(void)state;
	len = spawn_run_encode(&run, buf, sizeof(buf), NULL);
	assert_true(len > 0);
	assert_int_equal(spawn_run_decode(buf, (size_t)len, &rb, &err), 0);
	assert_int_equal(rb.run.id, 77);
	assert_int_equal(rb.run.timeout_ms, 1234);
	assert_string_equal(rb.run.name, "rt");
	assert_int_equal(rb.run.argc, 3);
	assert_string_equal(rb.run.argv[1], "a b");
	assert_string_equal(rb.run.argv[2], "");
	assert_null(rb.run.argv[3]);
	assert_int_equal(rb.run.envc, 1);
	assert_string_equal(rb.run.env[0], "NFQT_IP=192.0.2.1");

	/* Cut anywhere: never accepted. */
	for (size_t cut = 0; cut < (size_t)len; cut++) {
		memcpy(bad, buf, cut);
		if (cut >= sizeof(struct spawn_msg_hdr))
			((struct spawn_msg_hdr *)(void *)bad)->len = (uint32_t)cut;
		assert_int_equal(spawn_run_decode(bad, cut, &rb, &err), -1);
	}
	/* One byte too many. */
	memcpy(bad, buf, (size_t)len);
	bad[len] = 'x';
	((struct spawn_msg_hdr *)(void *)bad)->len = (uint32_t)len + 1;
	assert_int_equal(spawn_run_decode(bad, (size_t)len + 1, &rb, &err), -1);
	assert_int_equal(errno, EBADMSG);
	/* A NUL inside a word. */
	memcpy(bad, buf, (size_t)len);
	p = memmem(bad, (size_t)len, "a b", 3);
	p[1] = '\0';
	assert_int_equal(spawn_run_decode(bad, (size_t)len, &rb, &err), -1);
	assert_int_equal(errno, EINVAL);
	/* argc beyond the limit. */
	memcpy(bad, buf, (size_t)len);
	((struct spawn_msg_run *)(void *)(bad + sizeof(struct spawn_msg_hdr)))->argc = 1000;
	assert_int_equal(spawn_run_decode(bad, (size_t)len, &rb, &err), -1);
	assert_int_equal(errno, E2BIG);
	/* A timeout of 0. */
	memcpy(bad, buf, (size_t)len);
	((struct spawn_msg_run *)(void *)(bad + sizeof(struct spawn_msg_hdr)))->timeout_ms = 0;
	assert_int_equal(spawn_run_decode(bad, (size_t)len, &rb, &err), -1);
	assert_int_equal(errno, EINVAL);
}

static int
group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	unlink(logpath);
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawner_true_reports_started_then_exit_zero),
		cmocka_unit_test(test_spawner_exit_status_comes_back),
		cmocka_unit_test(test_spawner_missing_binary_reports_enoent),
		cmocka_unit_test(test_spawner_hanging_hook_killed_after_timeout),
		cmocka_unit_test(test_spawner_hook_ignoring_sigterm_gets_sigkill),
		cmocka_unit_test(test_spawner_environment_is_clean),
		cmocka_unit_test(test_spawner_output_logged_line_by_line_with_name),
		cmocka_unit_test(test_spawner_hook_stdin_is_dev_null),
		cmocka_unit_test(test_spawner_drops_malformed_messages_and_keeps_working),
		cmocka_unit_test(test_spawner_refuses_over_limit_requests_before_sending),
		cmocka_unit_test(test_spawner_exits_when_engine_side_closes),
		cmocka_unit_test(test_spawner_lets_running_hook_finish_after_engine_closes),
		cmocka_unit_test(test_spawner_sigterm_stops_running_hooks_and_exits),
		cmocka_unit_test(test_spawner_refuses_hooks_beyond_running_limit),
		cmocka_unit_test(test_spawner_timeout_kills_whole_process_group),
		cmocka_unit_test(test_spawner_crashing_hook_reports_its_signal),
		cmocka_unit_test(test_spawner_output_flood_logged_bounded),
		cmocka_unit_test(test_spawner_grandchild_holding_output_does_not_delay_exit),
		cmocka_unit_test(test_spawner_decode_rejects_malformed_requests),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
