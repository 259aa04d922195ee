/*
 * Hooks as the engine sees them: placeholder substitution (hostile values
 * stay one word), results through callbacks, per-owner order and
 * coalescing, limits, a lost spawner, and the event loop path. Real
 * processes through a real spawner.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

#include "config/config.h"
#include "engine/hook.h"
#include "util/log.h"
#include "engine/loop.h"
#include "privsep/spawn_client.h"
#include "engine/hook_test.h"
#include "privsep/spawn_client_test.h"

struct record {
	void *owner;
	enum hook_event event;
	struct hook_result r;
};

static struct record records[32];
static int nrecords;
static char tmpdir[] = "/tmp/nfqt-hook.XXXXXX";
static char outpath[PATH_MAX];

static void
on_done(void *arg, void *owner, enum hook_event event, const struct hook_result *r)
{
	(void)arg;
	if (nrecords < (int)(sizeof(records) / sizeof(records[0]))) {
		records[nrecords].owner = owner;
		records[nrecords].event = event;
		records[nrecords].r = *r;
	}
	nrecords++;
}

static struct config_hook
mkhook(char **argv)
{
	struct config_hook h = { .argv = argv, .line = "test hook" };

	while (argv[h.argc] != NULL)
		h.argc++;
	return h;
}

static struct hook_request
mkreq(void *owner, enum hook_event event, const struct config_hook *hook)
{
	struct hook_request req = {
		.owner = owner, .name = "vpn", .event = event, .hook = hook,
		.timeout_ms = 5000, .done = on_done,
	};

	return req;
}

static void
set_ipv4(struct hook_request *req, const char *ip)
{
	req->family = AF_INET;
	memset(req->addr, 0, sizeof(req->addr));
	assert_int_equal(inet_pton(AF_INET, ip, req->addr), 1);
}

/* Read replies until want callbacks came, or timeout_ms passed. */
static void
pump(struct hooks *h, int want, int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd;

	while (nrecords < want && loop_now_ms() < end && hook_fd(h) >= 0) {
		pfd.fd = hook_fd(h);
		pfd.events = POLLIN;
		poll(&pfd, 1, 20);
		hook_readable(h);
	}
}

/* Read replies until nothing is pending, or timeout_ms passed. */
static void
pump_idle(struct hooks *h, int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd;

	while (hook_pending(h) > 0 && loop_now_ms() < end && hook_fd(h) >= 0) {
		pfd.fd = hook_fd(h);
		pfd.events = POLLIN;
		poll(&pfd, 1, 20);
		hook_readable(h);
	}
}

struct fixture {
	struct spawn *sp;
	struct hooks *h;
};

static int
setup(void **state)
{
	static struct fixture f;

	nrecords = 0;
	memset(records, 0, sizeof(records));
	snprintf(outpath, sizeof(outpath), "%s/out", tmpdir);
	unlink(outpath);
	if ((f.sp = spawn_start()) == NULL || (f.h = hook_open(f.sp, NULL)) == NULL)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	pid_t pid = spawn_pid(f->sp);
	int status, i;

	pump_idle(f->h, 3000);
	hook_close(f->h);
	spawn_close(f->sp);
	for (i = 0; pid > 0 && i < 300 && waitpid(pid, &status, WNOHANG) == 0; i++)
		poll(NULL, 0, 10);
	unlink(outpath);
	return 0;
}

static void
expand_eq(const struct hook_request *req, const char *word, const char *want)
{
	char out[256];

	assert_true(hook_expand_word(word, req, out, sizeof(out)) >= 0);
	assert_string_equal(out, want);
}

static void
test_hook_expand_substitutes_each_placeholder(void **state)
{
	struct hook_request req = mkreq(NULL, HOOK_EV_START, NULL);

	(void)state;
	set_ipv4(&req, "192.0.2.1");
	req.proto = 6;
	req.port = 22;
	expand_eq(&req, "%IP%", "192.0.2.1");
	expand_eq(&req, "ip=%IP%/%FAMILY%", "ip=192.0.2.1/4");
	expand_eq(&req, "%NAME%-%EVENT%", "vpn-start");
	expand_eq(&req, "%PROTO%:%PORT%", "tcp:22");
	req.proto = 200;
	expand_eq(&req, "%PROTO%", "200");
	req.proto = 6;
	expand_eq(&req, "100%%", "100%");
	expand_eq(&req, "no placeholders", "no placeholders");
	req.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", req.addr), 1);
	req.event = HOOK_EV_STOP;
	req.proto = 17;
	expand_eq(&req, "[%IP%]:%PORT%/%PROTO% v%FAMILY% %EVENT%", "[2001:db8::1]:22/udp v6 stop");
}

static void
test_hook_expand_keeps_unknown_and_lone_percent(void **state)
{
	struct hook_request req = mkreq(NULL, HOOK_EV_OPEN, NULL);

	(void)state;
	set_ipv4(&req, "198.51.100.7");
	expand_eq(&req, "%FOO%", "%FOO%");
	expand_eq(&req, "50%-%IP%", "50%-198.51.100.7");
	expand_eq(&req, "%", "%");
	expand_eq(&req, "%IP", "%IP");
	expand_eq(&req, "%ip%", "%ip%");
	expand_eq(&req, "%%IP%%", "%IP%");
	expand_eq(&req, "%%%IP%", "%198.51.100.7");
	/* Values the request does not have are empty. */
	req.family = 0;
	expand_eq(&req, "<%IP%><%FAMILY%><%PORT%><%PROTO%>", "<><><><>");
}

static void
test_hook_expand_too_long_is_refused(void **state)
{
	struct hook_request req = mkreq(NULL, HOOK_EV_START, NULL);
	char out[16];

	(void)state;
	set_ipv4(&req, "203.0.113.200");
	assert_int_equal(hook_expand_word("%IP%", &req, out, 14), 13);
	assert_int_equal(hook_expand_word("%IP%", &req, out, 13), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(hook_expand_word("123456789012345", &req, out, sizeof(out)), 15);
	assert_int_equal(hook_expand_word("1234567890123456", &req, out, sizeof(out)), -1);
}

/* Packet-derived and configured text never becomes more words or shell syntax. */
static void
test_hook_hostile_value_stays_one_word(void **state)
{
	struct fixture *f = *state;
	char pwned[64], hostile[512], want[1200], got[1200];
	char *argv[] = { "/bin/sh", "-c", "for a; do printf '[%s]\\n' \"$a\"; done > \"$0\"",
	    outpath, "%NAME%", "pre-%NAME%-post", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_START, &hook);

	snprintf(pwned, sizeof(pwned), "%s/pwned", tmpdir);
	snprintf(hostile, sizeof(hostile),
	    "a b\t'c' \"d\" ;touch %s; $(touch %s) `touch %s` | & > x \\ %%IP%% *", pwned,
	    pwned, pwned);
	req.name = hostile;
	set_ipv4(&req, "192.0.2.9");
	assert_int_equal(hook_run(f->h, &req), 0);
	pump(f->h, 1, 3000);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].r.status, HOOK_OK);
	snprintf(want, sizeof(want), "[%s]\n[pre-%s-post]\n", hostile, hostile);
	unit_read_file(outpath, got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(access(pwned, F_OK), -1);
}

static void
test_hook_run_reports_success(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/true", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_START, &hook);

	assert_int_equal(hook_run(f->h, &req), 0);
	pump(f->h, 1, 3000);
	assert_int_equal(nrecords, 1);
	assert_ptr_equal(records[0].owner, f);
	assert_int_equal(records[0].event, HOOK_EV_START);
	assert_int_equal(records[0].r.status, HOOK_OK);
	assert_int_equal(records[0].r.code, 0);
	assert_true(records[0].r.pid > 0);
	assert_int_equal(hook_pending(f->h), 0);
}

static void
test_hook_run_reports_exit_status(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_STOP, &hook);

	assert_int_equal(hook_run(f->h, &req), 0);
	pump(f->h, 1, 3000);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].event, HOOK_EV_STOP);
	assert_int_equal(records[0].r.status, HOOK_FAILED);
	assert_int_equal(records[0].r.code, 3);
}

static void
test_hook_run_missing_binary_reports_spawn_failure(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/nonexistent/nfqt-hook", "%IP%", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_OPEN, &hook);

	assert_int_equal(hook_run(f->h, &req), 0);
	pump(f->h, 1, 3000);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].r.status, HOOK_SPAWN_FAILED);
	assert_int_equal(records[0].r.code, ENOENT);
	assert_int_equal(records[0].r.pid, 0);
}

static void
test_hook_run_timeout_is_reported(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_START, &hook);
	uint64_t t0 = loop_now_ms();

	req.timeout_ms = 300;
	assert_int_equal(hook_run(f->h, &req), 0);
	pump(f->h, 1, 3000);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].r.status, HOOK_TIMEOUT);
	assert_int_equal(records[0].r.code, SIGTERM);
	assert_true(loop_now_ms() - t0 < 1500);
	assert_true(records[0].r.elapsed_ms >= 280);
}

static void
test_hook_start_then_stop_run_in_order(void **state)
{
	struct fixture *f = *state;
	char *start[] = { "/bin/sh", "-c", "/bin/sleep 0.2; echo start >> \"$0\"", outpath, NULL };
	char *stop[] = { "/bin/sh", "-c", "echo stop >> \"$0\"", outpath, NULL };
	struct config_hook hstart = mkhook(start), hstop = mkhook(stop);
	struct hook_request rstart = mkreq(f, HOOK_EV_START, &hstart);
	struct hook_request rstop = mkreq(f, HOOK_EV_STOP, &hstop);
	char got[64];

	assert_int_equal(hook_run(f->h, &rstart), 0);
	assert_int_equal(hook_run(f->h, &rstop), 0);
	assert_int_equal(hook_pending(f->h), 2);
	pump(f->h, 2, 3000);
	assert_int_equal(nrecords, 2);
	assert_int_equal(records[0].event, HOOK_EV_START);
	assert_int_equal(records[1].event, HOOK_EV_STOP);
	assert_int_equal(records[0].r.status, HOOK_OK);
	assert_int_equal(records[1].r.status, HOOK_OK);
	unit_read_file(outpath, got, sizeof(got));
	assert_string_equal(got, "start\nstop\n");
}

static void
test_hook_repeated_start_coalesces(void **state)
{
	struct fixture *f = *state;
	char *start[] = { "/bin/sh", "-c", "/bin/sleep 0.1; echo start %IP% >> \"$0\"", outpath, NULL };
	struct config_hook hook = mkhook(start);
	struct hook_request req = mkreq(f, HOOK_EV_START, &hook);
	char got[128];

	req.coalesce = true;
	set_ipv4(&req, "192.0.2.1");
	assert_int_equal(hook_run(f->h, &req), 0);
	assert_int_equal(hook_run(f->h, &req), 1);
	assert_int_equal(hook_run(f->h, &req), 1);
	/* Another address is other work: it waits its turn. */
	set_ipv4(&req, "192.0.2.2");
	assert_int_equal(hook_run(f->h, &req), 0);
	assert_int_equal(hook_pending(f->h), 2);
	pump(f->h, 2, 3000);
	assert_int_equal(nrecords, 2);
	unit_read_file(outpath, got, sizeof(got));
	assert_string_equal(got, "start 192.0.2.1\nstart 192.0.2.2\n");
}

static void
test_hook_different_owners_run_in_parallel(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sleep", "0.3", NULL };
	struct config_hook hook = mkhook(argv);
	int a, b;
	struct hook_request ra = mkreq(&a, HOOK_EV_START, &hook);
	struct hook_request rb = mkreq(&b, HOOK_EV_START, &hook);
	uint64_t t0 = loop_now_ms();

	assert_int_equal(hook_run(f->h, &ra), 0);
	assert_int_equal(hook_run(f->h, &rb), 0);
	pump(f->h, 2, 3000);
	assert_int_equal(nrecords, 2);
	assert_int_equal(records[0].r.status, HOOK_OK);
	assert_int_equal(records[1].r.status, HOOK_OK);
	assert_true(loop_now_ms() - t0 < 550);
}

static void
test_hook_environment_carries_the_request(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "env | grep ^NFQT_ | sort > \"$0\"", outpath, NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_STOP, &hook);
	char got[512];

	req.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", req.addr), 1);
	req.proto = 17;
	req.port = 53;
	assert_int_equal(hook_run(f->h, &req), 0);
	pump(f->h, 1, 3000);
	assert_int_equal(records[0].r.status, HOOK_OK);
	unit_read_file(outpath, got, sizeof(got));
	assert_string_equal(got,
	    "NFQT_EVENT=stop\nNFQT_FAMILY=6\nNFQT_IP=2001:db8::1\nNFQT_NAME=vpn\n"
	    "NFQT_PORT=53\nNFQT_PROTO=udp\n");
}

static void
test_hook_over_size_request_refused(void **state)
{
	struct fixture *f = *state;
	static char words[SPAWN_ARGV_MAX + 1][128];
	char *argv[SPAWN_ARGV_MAX + 2];
	struct config_hook hook;
	struct hook_request req = mkreq(f, HOOK_EV_START, NULL);
	int i;

	argv[0] = "/bin/true";
	for (i = 1; i <= SPAWN_ARGV_MAX; i++) {
		snprintf(words[i], sizeof(words[i]), "%d", i);
		argv[i] = words[i];
	}
	argv[SPAWN_ARGV_MAX + 1] = NULL;
	hook = mkhook(argv);
	req.hook = &hook;
	assert_int_equal(hook_run(f->h, &req), -1);
	assert_int_equal(errno, E2BIG);
	/* 40 words of 100 bytes fit; substitution pushes them over 4096. */
	for (i = 1; i <= 40; i++) {
		memset(words[i], 'x', 95);
		memcpy(words[i] + 95, "%IP%", 5);
	}
	argv[41] = NULL;
	hook = mkhook(argv);
	req.family = 0;
	assert_int_equal(hook_run(f->h, &req), 0);
	set_ipv4(&req, "192.0.2.1");
	assert_int_equal(hook_run(f->h, &req), -1);
	assert_int_equal(errno, E2BIG);
	/* No command at all. */
	argv[0] = NULL;
	hook = mkhook(argv);
	assert_int_equal(hook_run(f->h, &req), -1);
	assert_int_equal(errno, EINVAL);
	pump(f->h, 1, 3000);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].r.status, HOOK_OK);
}

static void
test_hook_owner_queue_is_bounded_and_fifo(void **state)
{
	struct fixture *f = *state;
	char word[16];
	char *argv[] = { "/bin/sh", "-c", "echo $1 >> \"$0\"", outpath, word, NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_COUNT, &hook);
	char got[128];
	int i;

	for (i = 1; i <= HOOK_OWNER_JOBS_MAX; i++) {
		snprintf(word, sizeof(word), "%d", i);
		assert_int_equal(hook_run(f->h, &req), 0);
	}
	snprintf(word, sizeof(word), "late");
	assert_int_equal(hook_run(f->h, &req), -1);
	assert_int_equal(errno, EBUSY);
	pump(f->h, HOOK_OWNER_JOBS_MAX, 5000);
	assert_int_equal(nrecords, HOOK_OWNER_JOBS_MAX);
	unit_read_file(outpath, got, sizeof(got));
	assert_string_equal(got, "1\n2\n3\n4\n5\n6\n7\n8\n");
}

static void
test_hook_cancel_owner_drops_queued_and_silences_running(void **state)
{
	struct fixture *f = *state;
	char *start[] = { "/bin/sh", "-c", "/bin/sleep 0.2; echo start >> \"$0\"", outpath, NULL };
	char *stop[] = { "/bin/sh", "-c", "echo stop >> \"$0\"", outpath, NULL };
	struct config_hook hstart = mkhook(start), hstop = mkhook(stop);
	struct hook_request rstart = mkreq(f, HOOK_EV_START, &hstart);
	struct hook_request rstop = mkreq(f, HOOK_EV_STOP, &hstop);
	char got[64];

	assert_int_equal(hook_run(f->h, &rstart), 0);
	assert_int_equal(hook_run(f->h, &rstop), 0);
	hook_cancel_owner(f->h, f);
	assert_int_equal(hook_pending(f->h), 1);
	/* A new request of the same owner is not swallowed by the cancelled one. */
	assert_int_equal(hook_run(f->h, &rstart), 0);
	pump_idle(f->h, 3000);
	assert_int_equal(hook_pending(f->h), 0);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].event, HOOK_EV_START);
	unit_read_file(outpath, got, sizeof(got));
	assert_string_equal(got, "start\nstart\n");
}

static void
test_hook_spawner_death_reports_lost_and_refuses_new(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_START, &hook);
	struct hook_request queued = mkreq(f, HOOK_EV_STOP, &hook);

	assert_int_equal(hook_run(f->h, &req), 0);
	assert_int_equal(hook_run(f->h, &queued), 0);
	pump(f->h, 1, 200);		/* the STARTED reply */
	assert_int_equal(nrecords, 0);
	kill(spawn_pid(f->sp), SIGKILL);
	pump(f->h, 2, 3000);
	assert_int_equal(nrecords, 2);
	assert_int_equal(records[0].r.status, HOOK_LOST);
	assert_int_equal(records[1].r.status, HOOK_LOST);
	assert_int_equal(hook_fd(f->h), -1);
	assert_int_equal(hook_pending(f->h), 0);
	assert_int_equal(hook_run(f->h, &req), -1);
	assert_int_equal(errno, ENOTCONN);
	/* The orphaned hook: nobody is left to time it out. */
	assert_true(records[0].r.pid > 0);
	kill(-records[0].r.pid, SIGKILL);
}

static void
loop_done(void *arg, void *owner, enum hook_event event, const struct hook_result *r)
{
	on_done(NULL, owner, event, r);
	loop_stop(arg);
}

static void
loop_timeout(void *arg, uint64_t now)
{
	(void)now;
	loop_stop(arg);
}

/* The engine's way: hook_open() with its loop registers the spawner's fd. */
static void
test_hook_callbacks_arrive_through_the_event_loop(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "exit 5", NULL };
	struct config_hook hook = mkhook(argv);
	struct hook_request req = mkreq(f, HOOK_EV_START, &hook);
	struct loop *l = loop_new();
	struct hooks *h;

	assert_non_null(l);
	assert_int_equal(loop_set_timer_fn(l, loop_timeout, l), 0);
	loop_timer_at(l, loop_now_ms() + 3000);
	h = hook_open(f->sp, l);
	assert_non_null(h);
	req.done = loop_done;
	req.arg = l;
	assert_int_equal(hook_run(h, &req), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(nrecords, 1);
	assert_int_equal(records[0].r.status, HOOK_FAILED);
	assert_int_equal(records[0].r.code, 5);
	hook_close(h);
	loop_free(l);
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
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_expand_substitutes_each_placeholder),
		cmocka_unit_test(test_hook_expand_keeps_unknown_and_lone_percent),
		cmocka_unit_test(test_hook_expand_too_long_is_refused),
		cmocka_unit_test_setup_teardown(test_hook_hostile_value_stays_one_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_run_reports_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_run_reports_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_run_missing_binary_reports_spawn_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_run_timeout_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_start_then_stop_run_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_repeated_start_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_different_owners_run_in_parallel,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_environment_carries_the_request,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_over_size_request_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_owner_queue_is_bounded_and_fifo,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_cancel_owner_drops_queued_and_silences_running,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_spawner_death_reports_lost_and_refuses_new,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_callbacks_arrive_through_the_event_loop,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
