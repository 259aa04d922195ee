/*
 * The one netlink receive path (src/kernel/netlink.c): what it hands on and
 * what it refuses, on datagrams built in memory (no socket, no root).
 */
#include "unit.h"

#include <errno.h>
#include <limits.h>

#include <linux/netlink.h>

#include "kernel/netlink.h"

#define MSGS_MAX	8

struct seen {
	int n;
	uint32_t seq[MSGS_MAX];
	int ret;		/* what the callback answers */
};

struct fixture {
	uint32_t buf[256];	/* the datagram, aligned as the kernel's are */
	size_t len;
	struct seen seen;
	struct nl_rx_counters c;
	struct nl_rx rx;
};

static struct fixture fx;

static int
record(const struct nlmsghdr *nlh, void *arg)
{
	struct seen *s = arg;

	if (s->n < MSGS_MAX)
		s->seq[s->n] = nlh->nlmsg_seq;
	s->n++;
	if (s->ret == NL_CB_ERROR)
		errno = EPROTO;
	return s->ret;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.seen.ret = NL_CB_OK;
	fx.rx.what = "test";
	fx.rx.fn = record;
	fx.rx.arg = &fx.seen;
	fx.rx.c = &fx.c;
	return 0;
}

/* Append a message of len bytes (header included) to the datagram. */
static struct nlmsghdr *
msg_add(uint32_t len, uint16_t type, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)fx.buf + fx.len);

	nlh->nlmsg_len = len;
	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	/* A length that does not fit the buffer advances by a header only. */
	if (len < sizeof(*nlh) || len > sizeof(fx.buf) - fx.len)
		fx.len += sizeof(*nlh);
	else
		fx.len += NLMSG_ALIGN(len);
	return nlh;
}

static int
run(uint32_t sender)
{
	return nl_datagram_run(fx.buf, fx.len, sender, false, &fx.rx);
}

static void
test_nl_every_message_of_a_kernel_datagram_dispatched(void **state)
{
	(void)state;
	msg_add(20, 100, 1, 0);
	msg_add(17, 100, 2, 0);		/* unaligned length: padded */
	msg_add(16, 100, 3, 0);
	assert_int_equal(run(0), 3);
	assert_int_equal(fx.seen.n, 3);
	assert_int_equal(fx.seen.seq[2], 3);
	assert_int_equal(fx.c.malformed + fx.c.forged, 0);
}

static void
test_nl_datagram_not_from_the_kernel_dropped_unread(void **state)
{
	(void)state;
	msg_add(20, 100, 1, 0);
	assert_int_equal(run(4242), 0);
	assert_int_equal(fx.seen.n, 0);
	assert_int_equal(fx.c.forged, 1);
}

static void
test_nl_length_over_int_max_refused(void **state)
{
	(void)state;
	msg_add(20, 100, 1, 0);
	msg_add(0x80000010u, 100, 2, 0);
	fx.len += 32;
	assert_true(0x80000010u > (uint32_t)INT_MAX);
	assert_int_equal(run(0), 1);
	assert_int_equal(fx.seen.n, 1);
	assert_int_equal(fx.c.malformed, 1);
}

static void
test_nl_length_under_a_header_refused(void **state)
{
	uint32_t lens[] = { 0, 1, 8, 15 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		setup(NULL);
		msg_add(lens[i], 100, 1, 0);
		fx.len += 16;
		assert_int_equal(run(0), 0);
		assert_int_equal(fx.seen.n, 0);
		assert_int_equal(fx.c.malformed, 1);
	}
}

static void
test_nl_length_past_the_datagram_refused(void **state)
{
	(void)state;
	msg_add(64, 100, 1, 0);
	fx.len = 32;			/* the datagram ends inside the message */
	assert_int_equal(run(0), 0);
	assert_int_equal(fx.c.malformed, 1);
}

/* The kernel ends a queued packet's datagram without padding: not an error. */
static void
test_nl_unpadded_last_message_dispatched(void **state)
{
	(void)state;
	msg_add(16, 100, 1, 0);
	msg_add(21, 100, 2, 0);
	fx.len -= 3;			/* 21 bytes, not the 24 of the padding */
	assert_int_equal(run(0), 2);
	assert_int_equal(fx.seen.n, 2);
	assert_int_equal(fx.c.malformed, 0);
}

/* NLMSG_ALIGN() of 0xffffffff is 0 (a 32-bit mask): it must not loop. */
static void
test_nl_length_that_aligns_to_zero_refused(void **state)
{
	(void)state;
	msg_add(0xffffffffu, 100, 1, 0);
	fx.len += 16;
	assert_int_equal(run(0), 0);
	assert_int_equal(fx.c.malformed, 1);
}

static void
test_nl_partial_trailing_header_counted(void **state)
{
	(void)state;
	msg_add(16, 100, 1, 0);
	fx.len += 8;
	assert_int_equal(run(0), 1);
	assert_int_equal(fx.c.malformed, 1);
}

static void
test_nl_truncated_datagram_counted_after_its_whole_messages(void **state)
{
	(void)state;
	msg_add(16, 100, 1, 0);
	assert_int_equal(nl_datagram_run(fx.buf, fx.len, 0, true, &fx.rx), 1);
	assert_int_equal(fx.c.malformed, 1);
}

static void
test_nl_reply_to_another_port_or_sequence_skipped(void **state)
{
	(void)state;
	fx.rx.portid = 77;
	fx.rx.seq_first = 10;
	fx.rx.seq_last = 12;
	msg_add(16, NLMSG_ERROR, 11, 78);	/* another port */
	msg_add(16, NLMSG_ERROR, 9, 77);	/* an earlier batch */
	msg_add(16, NLMSG_ERROR, 13, 77);
	msg_add(16, NLMSG_ERROR, 12, 77);
	assert_int_equal(run(0), 1);
	assert_int_equal(fx.seen.seq[0], 12);
	assert_int_equal(fx.c.unexpected, 3);
}

static void
test_nl_reply_sequence_range_wraps(void **state)
{
	(void)state;
	fx.rx.portid = 77;
	fx.rx.seq_first = 0xfffffffeu;
	fx.rx.seq_last = 1;
	msg_add(16, NLMSG_ERROR, 0xffffffffu, 77);
	msg_add(16, NLMSG_ERROR, 1, 77);
	msg_add(16, NLMSG_ERROR, 2, 77);
	assert_int_equal(run(0), 2);
	assert_int_equal(fx.c.unexpected, 1);
}

static void
test_nl_stop_ends_the_datagram(void **state)
{
	(void)state;
	fx.seen.ret = NL_CB_STOP;
	msg_add(16, 100, 1, 0);
	msg_add(16, 100, 2, 0);
	assert_int_equal(run(0), 1);
	assert_true(fx.rx.stopped);
	assert_false(fx.rx.failed);
}

static void
test_nl_callback_error_returned(void **state)
{
	(void)state;
	fx.seen.ret = NL_CB_ERROR;
	msg_add(16, 100, 1, 0);
	msg_add(16, 100, 2, 0);
	errno = 0;
	assert_int_equal(run(0), -1);
	assert_int_equal(fx.seen.n, 1);
	assert_true(fx.rx.failed);
	assert_int_equal(errno, EPROTO);
}

static void
test_nl_noop_skipped(void **state)
{
	(void)state;
	msg_add(16, NLMSG_NOOP, 1, 0);
	msg_add(16, 100, 2, 0);
	assert_int_equal(run(0), 1);
	assert_int_equal(fx.seen.seq[0], 2);
}

static void
test_nl_refusals_logged_at_a_limited_rate(void **state)
{
	int i;

	(void)state;
	msg_add(16, 100, 1, 0);
	for (i = 0; i < 5; i++)
		run(99);
	assert_int_equal(fx.c.forged, 5);
	assert_int_equal(fx.c.unlogged, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_nl_every_message_of_a_kernel_datagram_dispatched, setup),
		cmocka_unit_test_setup(test_nl_datagram_not_from_the_kernel_dropped_unread, setup),
		cmocka_unit_test_setup(test_nl_length_over_int_max_refused, setup),
		cmocka_unit_test_setup(test_nl_length_under_a_header_refused, setup),
		cmocka_unit_test_setup(test_nl_length_past_the_datagram_refused, setup),
		cmocka_unit_test_setup(test_nl_unpadded_last_message_dispatched, setup),
		cmocka_unit_test_setup(test_nl_length_that_aligns_to_zero_refused, setup),
		cmocka_unit_test_setup(test_nl_partial_trailing_header_counted, setup),
		cmocka_unit_test_setup(test_nl_truncated_datagram_counted_after_its_whole_messages, setup),
		cmocka_unit_test_setup(test_nl_reply_to_another_port_or_sequence_skipped, setup),
		cmocka_unit_test_setup(test_nl_reply_sequence_range_wraps, setup),
		cmocka_unit_test_setup(test_nl_stop_ends_the_datagram, setup),
		cmocka_unit_test_setup(test_nl_callback_error_returned, setup),
		cmocka_unit_test_setup(test_nl_noop_skipped, setup),
		cmocka_unit_test_setup(test_nl_refusals_logged_at_a_limited_rate, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
