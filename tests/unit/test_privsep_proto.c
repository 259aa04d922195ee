/*
 * The two privsep protocols' codecs: control messages are exactly one
 * struct priv_msg of a known type with its text terminated, and carry a
 * descriptor; hook requests keep their credentials and refuse unknown
 * flags. Over real socketpairs.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

#include "privsep/priv_proto.h"
#include "privsep/spawn_proto.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void
test_priv_msg_round_trip_with_descriptor(void **state)
{
	struct priv_msg m, r;
	int sv[2], fd = -1;
	char buf[8];

	(void)state;
	pair(sv);
	priv_msg_init(&m, PRIV_MSG_OPEN, "/etc/nfq-trigger/k");
	m.arg = 1;
	assert_int_equal(priv_msg_send(sv[0], &m, STDIN_FILENO), 0);
	assert_int_equal(priv_msg_recv(sv[1], &r, &fd), 1);
	assert_int_equal(r.type, PRIV_MSG_OPEN);
	assert_int_equal(r.arg, 1);
	assert_string_equal(r.text, "/etc/nfq-trigger/k");
	assert_true(fd >= 0);
	assert_true(read(fd, buf, 0) == 0);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* Raw bytes that are not a message: dropped with EBADMSG, no descriptor kept. */
static void
expect_refused(const void *bytes, size_t len)
{
	struct priv_msg r;
	int sv[2], fd = 7;

	pair(sv);
	assert_int_equal(send(sv[0], bytes, len, 0), (ssize_t)len);
	assert_int_equal(priv_msg_recv(sv[1], &r, &fd), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(fd, -1);
	close(sv[0]);
	close(sv[1]);
}

static void
test_priv_msg_wrong_size_type_or_text_refused(void **state)
{
	struct priv_msg m;
	char big[sizeof(m) + 16];

	(void)state;
	priv_msg_init(&m, PRIV_MSG_CONFIG, NULL);
	expect_refused(&m, sizeof(m) - 1);		/* short */
	memset(big, 0, sizeof(big));
	memcpy(big, &m, sizeof(m));
	expect_refused(big, sizeof(big));		/* long: truncated */
	m.type = 99;
	expect_refused(&m, sizeof(m));			/* unknown type */
	priv_msg_init(&m, PRIV_MSG_OPEN, NULL);
	memset(m.text, 'a', sizeof(m.text));
	expect_refused(&m, sizeof(m));			/* text not terminated */
	priv_msg_init(&m, PRIV_MSG_OPEN, "/x");
	m.len = sizeof(m) + 1;
	expect_refused(&m, sizeof(m));			/* header disagrees */
}

static void
test_priv_msg_peer_closed_reads_zero(void **state)
{
	struct priv_msg r;
	int sv[2];

	(void)state;
	pair(sv);
	close(sv[0]);
	assert_int_equal(priv_msg_recv(sv[1], &r, NULL), 0);
	close(sv[1]);
}

static void
test_spawn_run_keeps_credentials(void **state)
{
	static struct spawn_run_buf rb;
	char *argv[] = { "/bin/true", NULL };
	struct spawn_run run = {
		.id = 5, .timeout_ms = 1000, .flags = SPAWN_RUN_CREDS, .uid = 999,
		.gid = 995, .caps = 1ULL << 12, .name = "ssh open", .argc = 1,
		.argv = argv,
	};
	uint8_t buf[SPAWN_MSG_MAX];
	ssize_t len;

	(void)state;
	len = spawn_run_encode(&run, buf, sizeof(buf), NULL);
	assert_true(len > 0);
	assert_int_equal(spawn_run_decode(buf, (size_t)len, &rb, NULL), 0);
	assert_int_equal(rb.run.flags, SPAWN_RUN_CREDS);
	assert_int_equal(rb.run.uid, 999);
	assert_int_equal(rb.run.gid, 995);
	assert_true(rb.run.caps == 1ULL << 12);
}

static void
test_spawn_run_unknown_flags_refused(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	struct spawn_run run = {
		.id = 5, .timeout_ms = 1000, .flags = 0x80, .name = "x", .argc = 1,
		.argv = argv,
	};
	uint8_t buf[SPAWN_MSG_MAX];
	const char *why = NULL;

	(void)state;
	assert_int_equal(spawn_run_encode(&run, buf, sizeof(buf), &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(why, "unknown flags");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priv_msg_round_trip_with_descriptor),
		cmocka_unit_test(test_priv_msg_wrong_size_type_or_text_refused),
		cmocka_unit_test(test_priv_msg_peer_closed_reads_zero),
		cmocka_unit_test(test_spawn_run_keeps_credentials),
		cmocka_unit_test(test_spawn_run_unknown_flags_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
