/*
 * Knock trigger tests. Configs are built by hand the way config.c fills
 * them (a TCP frame's flags as mask/value over f s r p a u), packets as
 * struct pkt the way packet.c fills them, and time is an argument.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config/config.h"
#include "core/knock_otp.h"
#include "core/packet.h"
#include "config/statefile.h"
#include "core/tracker.h"
#include "core/trigger_knock.h"
#include "engine/knock_state.h"

/* The six flags a frame's letters cover; ECE and CWR are never looked at. */
#define F6	(PKT_TCP_FIN | PKT_TCP_SYN | PKT_TCP_RST | PKT_TCP_PSH | \
		 PKT_TCP_ACK | PKT_TCP_URG)
#define SYN	PKT_TCP_SYN
#define ACK	PKT_TCP_ACK
#define FIN	PKT_TCP_FIN

static const uint8_t test_key[TRACKER_HASH_KEY_LEN] = { 7, 7, 7 };

struct cfgbuf {
	struct config cfg;
	struct config_knock knocks[4];
};

static struct cfgbuf C, C2;
static struct knock_result R;

static void
cfg_init(struct cfgbuf *c, uint32_t max_sources)
{
	memset(c, 0, sizeof(*c));
	c->cfg.engine.max_sources = max_sources;
	c->cfg.knocks = c->knocks;
}

static struct config_knock *
knock_add(struct cfgbuf *c, const char *name, uint64_t window_ms, bool reset)
{
	struct config_knock *k = &c->knocks[c->cfg.nknocks++];

	snprintf(k->name, sizeof(k->name), "%s", name);
	k->window_ms = window_ms;
	k->reset_on_wrong = reset;
	k->allow_timeout_ms = 30000;
	return k;
}

/* What config.c makes of "tcp:PORT[:letters]" and "udp:PORT". */
static void
frame_add(struct config_knock *k, uint8_t proto, uint16_t port, uint8_t mask,
    uint8_t value)
{
	struct config_knock_frame *f = &k->frames[k->nframes++];

	f->port.proto = proto;
	f->port.port = port;
	f->flags_mask = mask;
	f->flags_value = value;
	snprintf(f->text, sizeof(f->text), "%s:%u",
	    proto == IPPROTO_TCP ? "tcp" : "udp", port);
}

static void
tcp_frame(struct config_knock *k, uint16_t port)
{
	frame_add(k, IPPROTO_TCP, port, F6, SYN);	/* no letters: exactly SYN */
}

static void
udp_frame(struct config_knock *k, uint16_t port)
{
	frame_add(k, IPPROTO_UDP, port, 0, 0);
}

/* The usual test sequence: udp:7000 tcp:8000 tcp:9000, window 10 s. */
static struct config_knock *
knock_std(struct cfgbuf *c, const char *name, bool reset)
{
	struct config_knock *k = knock_add(c, name, 10000, reset);

	udp_frame(k, 7000);
	tcp_frame(k, 8000);
	tcp_frame(k, 9000);
	return k;
}

static struct knock_set *
set_new(const struct cfgbuf *c)
{
	struct knock_set *ks = knock_set_new_at(&c->cfg, test_key, 0, NULL, 0);

	assert_non_null(ks);
	return ks;
}

static struct pkt
mkpkt(const char *src, uint8_t proto, uint16_t dport, uint8_t tcp_flags)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	if (inet_pton(AF_INET, src, p.src) == 1)
		p.family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, src, p.src), 1);
		p.family = AF_INET6;
	}
	p.proto = proto;
	p.flags = PKT_F_PORTS;
	p.sport = 40000;
	p.dport = dport;
	p.tcp_flags = proto == IPPROTO_TCP ? tcp_flags : 0;
	return p;
}

/* Send a packet; the verdict is returned, the whole result is in R. */
static enum knock_verdict
send_pkt(struct knock_set *ks, const struct pkt *p, uint64_t now)
{
	memset(&R, 0xa5, sizeof(R));
	knock_set_packet_at(ks, p, now, 0, &R);
	knock_state_commit(ks, &R);	/* as the engine's pass does */
	return R.verdict;
}

static enum knock_verdict
tcp(struct knock_set *ks, const char *src, uint16_t port, uint8_t flags,
    uint64_t now)
{
	struct pkt p = mkpkt(src, IPPROTO_TCP, port, flags);

	return send_pkt(ks, &p, now);
}

static enum knock_verdict
udp(struct knock_set *ks, const char *src, uint16_t port, uint64_t now)
{
	struct pkt p = mkpkt(src, IPPROTO_UDP, port, 0);

	return send_pkt(ks, &p, now);
}

static struct knock_counters
counters(const struct knock_set *ks, int i)
{
	struct knock_counters c;

	knock_set_counters(ks, i, &c);
	return c;
}

/* udp:7000 tcp:8000 tcp:9000 from src starting at t; R holds the last result. */
static void
knock_all(struct knock_set *ks, const char *src, uint64_t t)
{
	assert_int_equal(udp(ks, src, 7000, t), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(tcp(ks, src, 8000, SYN, t + 100), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(tcp(ks, src, 9000, SYN, t + 200), KNOCK_DROP);
}

static void
test_knock_correct_order_opens(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	uint8_t want[16] = { 192, 0, 2, 1 };

	(void)state;
	cfg_init(&C, 1024);
	k = knock_std(&C, "ssh", true);
	ks = set_new(&C);
	knock_all(ks, "192.0.2.1", 1000);
	assert_int_equal(R.nopened, 1);
	assert_ptr_equal(R.opened[0], k);
	assert_int_equal(R.family, AF_INET);
	assert_memory_equal(R.addr, want, 16);
	assert_int_equal(counters(ks, 0).tracker.tracked, 0);	/* done: forgotten */
	assert_int_equal(counters(ks, 0).opened, 1);
	knock_set_free(ks);
}

/* A one-frame udp:7000 knock sent with where w to dst; the verdict. */
static enum knock_verdict
udp_to(struct knock_set *ks, const char *src, const char *dst,
    const struct knock_where *w, uint64_t now)
{
	struct pkt p = mkpkt(src, IPPROTO_UDP, 7000, 0);

	assert_int_equal(inet_pton(p.family, dst, p.dst), 1);
	memset(&R, 0xa5, sizeof(R));
	knock_set_packet_to(ks, &p, w, now, 0, &R);
	return R.verdict;
}

/* Decision 13: a frame queued where it is not delivered here is passed on. */
static void
test_knock_frame_not_for_this_host_passes_and_opens_nothing(void **state)
{
	static const struct knock_where fwd = { .local = false, .iif = "gw0" };
	static const struct knock_where here = { .local = true, .iif = "gw0" };
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_add(&C, "ssh", 10000, true);
	udp_frame(k, 7000);
	ks = set_new(&C);
	assert_int_equal(udp_to(ks, "192.0.2.1", "10.71.9.9", &fwd, 1000),
	    KNOCK_NOT_MINE);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(counters(ks, 0).not_addressed, 1);
	assert_int_equal(counters(ks, 0).frames, 0);
	assert_int_equal(udp_to(ks, "192.0.2.1", "10.71.1.1", &here, 1100),
	    KNOCK_DROP);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

/* knockd's target and interface: only frames to that address, through it. */
static void
test_knock_target_and_interface_narrow_the_frames(void **state)
{
	static const struct knock_where lan = { .local = true, .iif = "gw0" };
	static const struct knock_where wan = { .local = true, .iif = "wan0" };
	static const struct knock_where unknown = { .local = true, .iif = NULL };
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_add(&C, "ssh", 10000, true);
	udp_frame(k, 7000);
	k->target.family = AF_INET;
	k->target.p.len = 32;
	assert_int_equal(inet_pton(AF_INET, "10.71.1.1", k->target.p.addr), 1);
	snprintf(k->interface, sizeof(k->interface), "gw0");
	ks = set_new(&C);
	/* Another address of this host, the wrong interface, or none known. */
	assert_int_equal(udp_to(ks, "192.0.2.1", "10.71.3.1", &lan, 1000),
	    KNOCK_NOT_MINE);
	assert_int_equal(udp_to(ks, "192.0.2.1", "10.71.1.1", &wan, 1000),
	    KNOCK_NOT_MINE);
	assert_int_equal(udp_to(ks, "192.0.2.1", "10.71.1.1", &unknown, 1000),
	    KNOCK_NOT_MINE);
	assert_int_equal(udp_to(ks, "2001:db8::1", "fd00::1", &lan, 1000),
	    KNOCK_NOT_MINE);
	assert_int_equal(counters(ks, 0).not_addressed, 4);
	assert_int_equal(udp_to(ks, "192.0.2.1", "10.71.1.1", &lan, 1000),
	    KNOCK_DROP);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_wrong_order_resets(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	assert_int_equal(udp(ks, "192.0.2.1", 7000, 0), KNOCK_DROP);
	assert_int_equal(tcp(ks, "192.0.2.1", 9000, SYN, 10), KNOCK_DROP);
	assert_int_equal(tcp(ks, "192.0.2.1", 8000, SYN, 20), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(tcp(ks, "192.0.2.1", 9000, SYN, 30), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(counters(ks, 0).resets, 1);
	/* Starting over from frame 0 works. */
	knock_all(ks, "192.0.2.1", 100);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_wrong_frame_that_is_frame0_restarts(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	tcp(ks, "192.0.2.1", 8000, SYN, 10);
	udp(ks, "192.0.2.1", 7000, 20);		/* wrong at step 2, but frame 0 */
	assert_int_equal(counters(ks, 0).resets, 1);
	tcp(ks, "192.0.2.1", 8000, SYN, 30);
	tcp(ks, "192.0.2.1", 9000, SYN, 40);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_late_frame_does_not_open(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 1000);
	tcp(ks, "192.0.2.1", 8000, SYN, 5000);
	/* The window runs from the first frame: 1000 + 10000 is already too late. */
	assert_int_equal(tcp(ks, "192.0.2.1", 9000, SYN, 11000), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(counters(ks, 0).tracker.expired, 1);
	assert_int_equal(counters(ks, 0).tracker.tracked, 0);
	knock_set_free(ks);
}

static void
test_knock_frame_inside_window_end_opens(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 1000);
	tcp(ks, "192.0.2.1", 8000, SYN, 5000);
	tcp(ks, "192.0.2.1", 9000, SYN, 10999);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_late_first_frame_starts_new_window(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	tcp(ks, "192.0.2.1", 8000, SYN, 100);
	/* After the window a frame 0 counts as a new first frame. */
	knock_all(ks, "192.0.2.1", 20000);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

/* A source that sends udp:7000 then tcp:8000 with these flags: does it open? */
static bool
flags_open(struct knock_set *ks, uint8_t flags)
{
	static uint32_t n;
	char src[32];

	snprintf(src, sizeof(src), "10.1.%u.%u", (n >> 8) & 0xff, n & 0xff);
	n++;
	assert_int_equal(udp(ks, src, 7000, 0), KNOCK_DROP);
	assert_int_equal(tcp(ks, src, 8000, flags, 10), KNOCK_DROP);
	return R.nopened == 1;
}

static struct knock_set *
flags_set(uint8_t mask, uint8_t value)
{
	struct config_knock *k;

	cfg_init(&C, 1024);
	k = knock_add(&C, "flags", 10000, true);
	udp_frame(k, 7000);
	frame_add(k, IPPROTO_TCP, 8000, mask, value);
	return set_new(&C);
}

static void
test_knock_flag_s_matches_syn_alone(void **state)
{
	struct knock_set *ks = flags_set(F6, SYN);	/* "s", and the default */

	(void)state;
	assert_true(flags_open(ks, SYN));
	assert_true(flags_open(ks, SYN | PKT_TCP_ECE | PKT_TCP_CWR));	/* ECN SYN */
	assert_false(flags_open(ks, SYN | ACK));
	assert_false(flags_open(ks, ACK));
	assert_false(flags_open(ks, FIN));
	assert_false(flags_open(ks, SYN | FIN));
	assert_false(flags_open(ks, 0));
	knock_set_free(ks);
}

static void
test_knock_flag_fa_matches_fin_ack_alone(void **state)
{
	struct knock_set *ks = flags_set(F6, FIN | ACK);

	(void)state;
	assert_true(flags_open(ks, FIN | ACK));
	assert_false(flags_open(ks, FIN));
	assert_false(flags_open(ks, ACK));
	assert_false(flags_open(ks, FIN | ACK | PKT_TCP_PSH));
	assert_false(flags_open(ks, SYN));
	knock_set_free(ks);
}

static void
test_knock_flag_x_matches_all_six(void **state)
{
	struct knock_set *ks = flags_set(F6, F6);

	(void)state;
	assert_true(flags_open(ks, F6));
	assert_true(flags_open(ks, 0xff));
	assert_false(flags_open(ks, F6 & ~PKT_TCP_URG));
	assert_false(flags_open(ks, SYN));
	knock_set_free(ks);
}

static void
test_knock_flag_n_matches_no_flags(void **state)
{
	struct knock_set *ks = flags_set(F6, 0);

	(void)state;
	assert_true(flags_open(ks, 0));
	assert_true(flags_open(ks, PKT_TCP_ECE));
	assert_false(flags_open(ks, SYN));
	assert_false(flags_open(ks, PKT_TCP_URG));
	knock_set_free(ks);
}

static void
test_knock_flag_i_matches_anything(void **state)
{
	struct knock_set *ks = flags_set(0, 0);

	(void)state;
	assert_true(flags_open(ks, 0));
	assert_true(flags_open(ks, SYN));
	assert_true(flags_open(ks, SYN | ACK));
	assert_true(flags_open(ks, 0xff));
	knock_set_free(ks);
}

static void
test_knock_udp_frames_open_and_tcp_same_port_is_not_mine(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_add(&C, "udp", 5000, true);
	udp_frame(k, 1111);
	udp_frame(k, 2222);
	ks = set_new(&C);
	assert_int_equal(udp(ks, "192.0.2.9", 1111, 0), KNOCK_DROP);
	assert_int_equal(tcp(ks, "192.0.2.9", 2222, SYN, 1), KNOCK_NOT_MINE);
	assert_int_equal(udp(ks, "192.0.2.9", 2222, 2), KNOCK_DROP);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_ipv6_source_opens_with_its_address(void **state)
{
	struct knock_set *ks;
	uint8_t want[16];

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	knock_all(ks, "2001:db8::42", 0);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(R.family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::42", want);
	assert_memory_equal(R.addr, want, 16);
	knock_set_free(ks);
}

static void
test_knock_ipv4_and_ipv6_progress_is_separate(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	/* ::ffff:192.0.2.1 is not 192.0.2.1: address bytes differ by family. */
	udp(ks, "192.0.2.1", 7000, 0);
	tcp(ks, "192.0.2.1", 8000, SYN, 10);
	tcp(ks, "::ffff:192.0.2.1", 9000, SYN, 20);
	assert_int_equal(R.nopened, 0);
	udp(ks, "c000:201::", 7000, 30);	/* IPv6 whose first 4 bytes are 192.0.2.1 */
	tcp(ks, "c000:201::", 9000, SYN, 40);
	assert_int_equal(R.nopened, 0);
	tcp(ks, "192.0.2.1", 9000, SYN, 50);	/* IPv4 progress untouched by either */
	assert_int_equal(R.nopened, 1);
	assert_int_equal(R.family, AF_INET);
	knock_set_free(ks);
}

static void
test_knock_two_sources_interleave_independently(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	udp(ks, "192.0.2.2", 7000, 1);
	tcp(ks, "192.0.2.2", 8000, SYN, 2);
	tcp(ks, "192.0.2.1", 8000, SYN, 3);
	tcp(ks, "192.0.2.2", 7000, SYN, 4);	/* tcp:7000 is no frame (udp:7000 is) */
	assert_int_equal(R.verdict, KNOCK_NOT_MINE);
	tcp(ks, "192.0.2.1", 9000, SYN, 5);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(R.addr[3], 1);
	tcp(ks, "192.0.2.2", 9000, SYN, 6);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(R.addr[3], 2);
	knock_set_free(ks);
}

static void
test_knock_repeated_port_in_sequence(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_add(&C, "rep", 10000, true);
	tcp_frame(k, 1000);
	tcp_frame(k, 1000);
	tcp_frame(k, 2000);
	ks = set_new(&C);
	tcp(ks, "192.0.2.1", 1000, SYN, 0);
	tcp(ks, "192.0.2.1", 1000, SYN, 1);
	tcp(ks, "192.0.2.1", 2000, SYN, 2);
	assert_int_equal(R.nopened, 1);
	/* Once is not enough. */
	tcp(ks, "192.0.2.1", 1000, SYN, 10);
	tcp(ks, "192.0.2.1", 2000, SYN, 11);
	assert_int_equal(R.nopened, 0);
	/*
	 * A third 1000 is the frame just accepted, again: a duplicate, which
	 * neither advances nor resets; 2000 still completes.
	 */
	tcp(ks, "192.0.2.3", 1000, SYN, 20);
	tcp(ks, "192.0.2.3", 1000, SYN, 21);
	tcp(ks, "192.0.2.3", 1000, SYN, 22);
	tcp(ks, "192.0.2.3", 2000, SYN, 23);
	assert_int_equal(R.nopened, 1);
	tcp(ks, "192.0.2.4", 1000, SYN, 30);
	tcp(ks, "192.0.2.4", 1000, SYN, 31);
	tcp(ks, "192.0.2.4", 1000, SYN, 32);
	tcp(ks, "192.0.2.4", 1000, SYN, 33);
	tcp(ks, "192.0.2.4", 2000, SYN, 34);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_without_reset_on_wrong_ignores_wrong_frames(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "lenient", false);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	assert_int_equal(tcp(ks, "192.0.2.1", 9000, SYN, 1), KNOCK_DROP);
	assert_int_equal(tcp(ks, "192.0.2.1", 8000, SYN | ACK, 2), KNOCK_DROP);
	tcp(ks, "192.0.2.1", 8000, SYN, 3);
	assert_int_equal(udp(ks, "192.0.2.1", 7000, 4), KNOCK_DROP);
	tcp(ks, "192.0.2.1", 9000, SYN, 5);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(counters(ks, 0).wrong, 3);
	assert_int_equal(counters(ks, 0).resets, 0);
	knock_set_free(ks);
}

static void
test_knock_other_packets_are_not_mine_and_keep_progress(void **state)
{
	struct knock_set *ks;
	struct pkt p;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	assert_int_equal(tcp(ks, "192.0.2.1", 22, SYN, 1), KNOCK_NOT_MINE);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(udp(ks, "192.0.2.1", 8000, 2), KNOCK_NOT_MINE);
	p = mkpkt("192.0.2.1", IPPROTO_ICMP, 0, 0);
	p.flags = PKT_F_ICMP;
	assert_int_equal(send_pkt(ks, &p, 3), KNOCK_NOT_MINE);
	p = mkpkt("192.0.2.1", IPPROTO_SCTP, 8000, 0);	/* ports, wrong protocol */
	assert_int_equal(send_pkt(ks, &p, 4), KNOCK_NOT_MINE);
	/* Source port is not what knocks: a packet from port 8000 to 22. */
	p = mkpkt("192.0.2.1", IPPROTO_TCP, 22, SYN);
	p.sport = 8000;
	assert_int_equal(send_pkt(ks, &p, 5), KNOCK_NOT_MINE);
	assert_int_equal(counters(ks, 0).frames, 1);
	tcp(ks, "192.0.2.1", 8000, SYN, 6);
	tcp(ks, "192.0.2.1", 9000, SYN, 7);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_packets_without_ports_are_not_mine(void **state)
{
	struct knock_set *ks;
	struct pkt p;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	/* A later fragment: no transport header, dport is stale. */
	p = mkpkt("192.0.2.1", IPPROTO_UDP, 7000, 0);
	p.flags = PKT_F_FRAGMENT | PKT_F_LATER_FRAG;
	assert_int_equal(send_pkt(ks, &p, 0), KNOCK_NOT_MINE);
	/* A capture cut before the ports. */
	p.flags = PKT_F_L4_TRUNC;
	assert_int_equal(send_pkt(ks, &p, 1), KNOCK_NOT_MINE);
	assert_int_equal(counters(ks, 0).frames, 0);
	assert_int_equal(counters(ks, 0).tracker.tracked, 0);
	knock_set_free(ks);
}

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * docs/design.md, decision 8: 100000 spoofed first frames from random sources
 * against a tracker of 1024. Memory stays bounded; a knock past its first
 * frame before the flood completes during it; a source that had only sent its
 * first frame loses it (what a flood can do).
 */
static void
test_knock_flood_of_first_frames_never_locks_out_progress(void **state)
{
	struct knock_set *ks;
	struct knock_counters kc;
	struct pkt p;
	uint32_t i, seed = 0x9e3779b9, r;
	uint64_t now;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	tcp(ks, "192.0.2.1", 8000, SYN, 100);		/* in progress */
	udp(ks, "192.0.2.2", 7000, 150);		/* first frame only */
	for (i = 0; i < 100000; i++) {
		now = 200 + i / 20;			/* 5 s: nothing expires */
		r = xorshift(&seed);
		if (i % 4 == 0) {
			p = mkpkt("2001:db8::", IPPROTO_UDP, 7000, 0);
			memcpy(p.src + 12, &r, 4);
		} else {
			p = mkpkt("198.18.0.0", IPPROTO_UDP, 7000, 0);
			p.src[1] = (uint8_t)(18 + (r & 1));
			p.src[2] = (uint8_t)(r >> 8);
			p.src[3] = (uint8_t)(r >> 16);
		}
		assert_int_equal(send_pkt(ks, &p, now), KNOCK_DROP);
		assert_int_equal(R.nopened, 0);
		if (i % 1000 == 0)
			assert_true(counters(ks, 0).tracker.tracked <= 1024);
		if (i == 50000) {
			assert_int_equal(tcp(ks, "192.0.2.1", 9000, SYN, now), KNOCK_DROP);
			assert_int_equal(R.nopened, 1);
		}
	}
	kc = counters(ks, 0);
	assert_true(kc.tracker.tracked <= 1024);
	assert_true(kc.tracker.evicted_fresh >= 100000 - 1024 - 1000);
	assert_int_equal(kc.tracker.evicted_progress, 0);
	assert_int_equal(kc.opened, 1);
	/* The source that had only its first frame in lost it to the flood. */
	tcp(ks, "192.0.2.2", 8000, SYN, 5300);
	tcp(ks, "192.0.2.2", 9000, SYN, 5301);
	assert_int_equal(R.nopened, 0);
	knock_set_free(ks);
}

static void
test_knock_full_progress_tier_evicts_oldest_progress(void **state)
{
	struct knock_set *ks;
	char src[32];
	int i;

	(void)state;
	cfg_init(&C, 8);	/* progress tier: 8 / 4 = 2 */
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	for (i = 1; i <= 3; i++) {
		snprintf(src, sizeof(src), "192.0.2.%d", i);
		udp(ks, src, 7000, (uint64_t)i * 10);
		tcp(ks, src, 8000, SYN, (uint64_t)i * 10 + 1);
	}
	assert_int_equal(counters(ks, 0).tracker.evicted_progress, 1);
	assert_int_equal(counters(ks, 0).tracker.progress, 2);
	tcp(ks, "192.0.2.1", 9000, SYN, 100);
	assert_int_equal(R.nopened, 0);
	tcp(ks, "192.0.2.2", 9000, SYN, 101);
	assert_int_equal(R.nopened, 1);
	tcp(ks, "192.0.2.3", 9000, SYN, 102);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_full_tracker_evicts_oldest_first_frame(void **state)
{
	struct knock_set *ks;
	char src[32];
	int i;

	(void)state;
	cfg_init(&C, 8);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	for (i = 1; i <= 9; i++) {
		snprintf(src, sizeof(src), "192.0.2.%d", i);
		udp(ks, src, 7000, (uint64_t)i);
	}
	assert_int_equal(counters(ks, 0).tracker.tracked, 8);
	assert_int_equal(counters(ks, 0).tracker.evicted_fresh, 1);
	tcp(ks, "192.0.2.1", 8000, SYN, 20);		/* evicted: no longer at frame 1 */
	tcp(ks, "192.0.2.1", 9000, SYN, 21);
	assert_int_equal(R.nopened, 0);
	tcp(ks, "192.0.2.2", 8000, SYN, 22);
	tcp(ks, "192.0.2.2", 9000, SYN, 23);
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_expiry_and_next_deadline(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "long", true);			/* 10 s window */
	k = knock_add(&C, "short", 3000, true);
	udp_frame(k, 6000);
	udp_frame(k, 6001);
	ks = set_new(&C);
	assert_true(knock_set_next_deadline(ks) == TRACKER_NO_DEADLINE);
	udp(ks, "192.0.2.1", 7000, 1000);
	assert_int_equal(knock_set_next_deadline(ks), 11000);
	udp(ks, "192.0.2.1", 6000, 2000);
	assert_int_equal(knock_set_next_deadline(ks), 5000);
	knock_set_expire(ks, 4999);
	assert_int_equal(counters(ks, 1).tracker.tracked, 1);
	knock_set_expire(ks, 5000);
	assert_int_equal(counters(ks, 1).tracker.tracked, 0);
	assert_int_equal(counters(ks, 1).tracker.expired, 1);
	assert_int_equal(knock_set_next_deadline(ks), 11000);
	knock_set_expire(ks, 11000);
	assert_true(knock_set_next_deadline(ks) == TRACKER_NO_DEADLINE);
	assert_int_equal(counters(ks, 0).tracker.expired, 1);
	knock_set_free(ks);
}

static void
test_knock_adopt_keeps_progress_of_unchanged_triggers(void **state)
{
	struct config_knock *k;
	struct knock_set *old, *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "same", true);
	k = knock_add(&C, "changed", 10000, true);
	udp_frame(k, 6000);
	udp_frame(k, 6001);
	old = set_new(&C);
	udp(old, "192.0.2.1", 7000, 0);
	tcp(old, "192.0.2.1", 8000, SYN, 1);
	udp(old, "192.0.2.1", 6000, 2);

	/* The reloaded file: "same" as before (a new open port), "changed" not. */
	cfg_init(&C2, 2048);
	k = knock_add(&C2, "new", 10000, true);
	udp_frame(k, 5000);
	udp_frame(k, 5001);
	k = knock_std(&C2, "same", false);
	k->open[0].proto = IPPROTO_TCP;
	k->open[0].port = 2222;
	k->nopen = 1;
	k = knock_add(&C2, "changed", 10000, true);
	udp_frame(k, 6000);
	udp_frame(k, 6002);
	ks = set_new(&C2);

	assert_int_equal(knock_set_adopt(ks, old), 1);
	assert_int_equal(counters(old, 0).tracker.tracked, 0);
	assert_int_equal(counters(ks, 1).tracker.tracked, 1);
	assert_int_equal(counters(ks, 1).tracker.progress, 1);
	assert_int_equal(counters(ks, 1).frames, 2);
	/* The adopted window still runs from the first frame, sent at 0. */
	assert_int_equal(knock_set_next_deadline(ks), 10000);
	knock_set_free(old);

	tcp(ks, "192.0.2.1", 9000, SYN, 3);
	assert_int_equal(R.nopened, 1);
	assert_ptr_equal(R.opened[0], &C2.knocks[1]);
	assert_int_equal(counters(ks, 1).opened, 1);
	udp(ks, "192.0.2.1", 6002, 4);			/* progress of "changed" is gone */
	assert_int_equal(R.nopened, 0);
	knock_set_free(ks);
}

static void
test_knock_adopt_drops_progress_when_window_changes(void **state)
{
	struct knock_set *old, *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	old = set_new(&C);
	udp(old, "192.0.2.1", 7000, 0);
	cfg_init(&C2, 1024);
	knock_std(&C2, "ssh", true)->window_ms = 20000;
	ks = set_new(&C2);
	assert_int_equal(knock_set_adopt(ks, old), 0);
	assert_int_equal(counters(ks, 0).tracker.tracked, 0);
	knock_set_free(old);
	knock_set_free(ks);
}

static void
test_knock_shared_port_feeds_both_triggers(void **state)
{
	struct config_knock *a, *b;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	a = knock_add(&C, "a", 10000, true);
	tcp_frame(a, 1000);
	tcp_frame(a, 2000);
	b = knock_add(&C, "b", 10000, true);
	tcp_frame(b, 2000);
	tcp_frame(b, 3000);
	ks = set_new(&C);
	tcp(ks, "192.0.2.1", 1000, SYN, 0);
	tcp(ks, "192.0.2.1", 2000, SYN, 1);		/* completes a, starts b */
	assert_int_equal(R.nopened, 1);
	assert_ptr_equal(R.opened[0], a);
	tcp(ks, "192.0.2.1", 3000, SYN, 2);
	assert_int_equal(R.nopened, 1);
	assert_ptr_equal(R.opened[0], b);
	/* A port of "a" only is not a frame for "b": it does not reset b. */
	tcp(ks, "192.0.2.2", 2000, SYN, 10);
	assert_int_equal(tcp(ks, "192.0.2.2", 1000, SYN, 11), KNOCK_DROP);
	tcp(ks, "192.0.2.2", 3000, SYN, 12);
	assert_int_equal(R.nopened, 1);
	assert_ptr_equal(R.opened[0], b);
	knock_set_free(ks);
}

static void
test_knock_one_packet_can_complete_two_triggers(void **state)
{
	struct config_knock *a, *b;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	a = knock_add(&C, "a", 10000, true);
	udp_frame(a, 1);
	tcp_frame(a, 5000);
	b = knock_add(&C, "b", 10000, true);
	udp_frame(b, 2);
	tcp_frame(b, 5000);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 1, 0);
	udp(ks, "192.0.2.1", 2, 1);
	tcp(ks, "192.0.2.1", 5000, SYN, 2);
	assert_int_equal(R.nopened, 2);
	assert_ptr_equal(R.opened[0], a);
	assert_ptr_equal(R.opened[1], b);
	knock_set_free(ks);
}

static void
test_knock_single_frame_sequence_opens_at_once(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_add(&C, "one", 10000, true);
	udp_frame(k, 4444);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 4444, 0);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(counters(ks, 0).tracker.tracked, 0);
	knock_set_free(ks);
}

static void
test_knock_counters_count_each_outcome(void **state)
{
	struct knock_counters kc;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	knock_all(ks, "192.0.2.1", 0);			/* 3 frames, open */
	udp(ks, "192.0.2.2", 7000, 1000);		/* start */
	tcp(ks, "192.0.2.2", 9000, SYN, 1001);		/* wrong, reset */
	tcp(ks, "192.0.2.3", 9000, SYN, 1002);		/* no progress, not frame 0 */
	tcp(ks, "192.0.2.3", 22, SYN, 1003);		/* not mine */
	kc = counters(ks, 0);
	assert_int_equal(kc.frames, 6);
	assert_int_equal(kc.started, 2);
	assert_int_equal(kc.advanced, 2);
	assert_int_equal(kc.wrong, 1);
	assert_int_equal(kc.resets, 1);
	assert_int_equal(kc.opened, 1);
	assert_int_equal(kc.tracker.tracked, 0);
	assert_int_equal(kc.tracker.inserted, 2);
	assert_int_equal(knock_set_count(ks), 1);
	assert_ptr_equal(knock_set_trigger(ks, 0), &C.knocks[0]);
	assert_null(knock_set_trigger(ks, 1));
	knock_set_free(ks);
}

static void
test_knock_set_refuses_too_few_sources(void **state)
{
	char why[256];

	(void)state;
	cfg_init(&C, KNOCK_SOURCES_MIN - 1);
	knock_std(&C, "ssh", true);
	assert_null(knock_set_new_at(&C.cfg, test_key, 0, why, sizeof(why)));
	assert_non_null(strstr(why, "max_sources"));
	cfg_init(&C, KNOCK_SOURCES_MIN);
	knock_std(&C, "ssh", true);
	knock_set_free(set_new(&C));
}

static void
test_knock_set_without_triggers_owns_nothing(void **state)
{
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	ks = knock_set_new_at(&C.cfg, NULL, 0, NULL, 0);	/* random key path too */
	assert_non_null(ks);
	assert_int_equal(udp(ks, "192.0.2.1", 7000, 0), KNOCK_NOT_MINE);
	assert_true(knock_set_next_deadline(ks) == TRACKER_NO_DEADLINE);
	knock_set_free(ks);
}

/* --- derived sequences (derive = time | counter) ------------------------ */

#define STEP_S		30
#define S0		56666666ULL		/* the step the set starts in */
#define T0		((int64_t)S0 * STEP_S + 20)	/* 20 s into S0 */

static char statedir[64];

static int
derived_setup(void **state)
{
	(void)state;
	snprintf(statedir, sizeof(statedir), "/tmp/nfqt-test-knock.XXXXXX");
	return mkdtemp(statedir) == NULL ? -1 : 0;
}

static int
derived_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", statedir);
	return system(cmd);
}

/* What config.c makes of key/derive with the defaults: 4 udp frames in 20000-29999. */
static struct config_knock *
knock_derived(struct cfgbuf *c, const char *name, enum config_derive mode)
{
	struct config_knock *k = knock_add(c, name, 10000, true);
	int i;

	k->derive = mode;
	for (i = 0; i < CONFIG_KEY_LEN; i++)
		k->key[i] = (uint8_t)(i * 7 + 1);
	k->nframes = 4;
	k->ports.proto = IPPROTO_UDP;
	k->ports.lo = 20000;
	k->ports.hi = 29999;
	k->step_ms = STEP_S * 1000;
	k->lookahead = 5;
	snprintf(k->state_path, sizeof(k->state_path), "%s/%s.counter",
	    statedir, name);
	unlink(k->state_path);
	return k;
}

static struct knock_set *
set_new_at(const struct cfgbuf *c, int64_t wall)
{
	struct knock_set *ks = knock_set_new_at(&c->cfg, test_key, wall, NULL, 0);

	assert_non_null(ks);
	assert_int_equal(knock_state_load(ks), 0);	/* as the engine does */
	return ks;
}

static enum knock_verdict
frame_at(struct knock_set *ks, const char *src,
    const struct config_knock_frame *f, uint64_t now, int64_t wall)
{
	struct pkt p = mkpkt(src, f->port.proto, f->port.port, f->flags_value);

	memset(&R, 0xa5, sizeof(R));
	knock_set_packet_at(ks, &p, now, wall, &R);
	knock_state_commit(ks, &R);	/* as the engine's pass does */
	return R.verdict;
}

/*
 * Sequence n of k, frame by frame, 100 ms apart from now (wall seconds
 * from wall); how many triggers the last frame opened.
 */
static int
knock_seq(struct knock_set *ks, const struct config_knock *k, uint64_t n,
    const char *src, uint64_t now, int64_t wall)
{
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	int i;

	knock_otp_frames(k, n, f);
	for (i = 0; i < k->nframes; i++) {
		assert_int_equal(frame_at(ks, src, &f[i], now + 100 * (uint64_t)i,
		    wall), KNOCK_DROP);
		if (i < k->nframes - 1)
			assert_int_equal(R.nopened, 0);
	}
	return R.nopened;
}

static uint64_t
state_of(const struct config_knock *k)
{
	char why[STATEFILE_WHY_MAX];
	uint64_t v = 12345;

	assert_int_equal(statefile_load(k->state_path, &v, why, sizeof(why)), 0);
	return v;
}

static void
test_knock_time_current_step_sequence_opens(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S + 3;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, S0 + 1, "192.0.2.1", 1000, wall), 1);
	assert_ptr_equal(R.opened[0], k);
	assert_int_equal(counters(ks, 0).opened, 1);
	knock_set_free(ks);
}

/* docs/design.md, decision 9, for time steps: the step the engine starts in
 * may have opened before a restart, so its sequence opens nothing. */
static void
test_knock_time_step_of_start_is_refused(void **state)
{
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, S0, "192.0.2.1", 1000, T0 + 1), 0);
	assert_int_equal(counters(ks, 0).replays, 1);
	/* The first frame said why, for the event log. */
	knock_otp_frames(k, S0, f);
	assert_int_equal(frame_at(ks, "192.0.2.2", &f[0], 2000, T0 + 1),
	    KNOCK_DROP);
	assert_int_equal(R.nfailed, 1);
	assert_string_equal(R.failed[0].reason, "start-step");
	assert_int_equal(counters(ks, 0).started, 0);
	knock_set_free(ks);
}

static void
test_knock_time_previous_step_sequence_is_refused(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	int64_t wall = (int64_t)(S0 + 2) * STEP_S;	/* first second of S0+2 */

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, S0 + 1, "192.0.2.1", 1000, wall), 0);
	assert_int_equal(counters(ks, 0).opened, 0);
	/* Nor the step after the current one. */
	assert_int_equal(knock_seq(ks, k, S0 + 3, "192.0.2.1", 5000, wall), 0);
	/* The current one does. */
	assert_int_equal(knock_seq(ks, k, S0 + 2, "192.0.2.1", 9000, wall), 1);
	knock_set_free(ks);
}

static void
test_knock_time_same_step_reused_is_refused_next_step_opens(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S + 1;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, S0 + 1, "192.0.2.1", 1000, wall), 1);
	/* A replay of what was seen on the wire, from anywhere, same step. */
	assert_int_equal(knock_seq(ks, k, S0 + 1, "198.51.100.9", 2000,
	    wall + 5), 0);
	assert_int_equal(knock_seq(ks, k, S0 + 1, "192.0.2.1", 3000,
	    wall + 10), 0);
	assert_int_equal(counters(ks, 0).replays, 2);
	/* The next step has a sequence of its own, unused. */
	assert_int_equal(knock_seq(ks, k, S0 + 2, "192.0.2.1", 40000,
	    wall + STEP_S), 1);
	assert_int_equal(counters(ks, 0).opened, 2);
	knock_set_free(ks);
}

/* The step is fixed at the first frame: a knock may end in the next step. */
static void
test_knock_time_knock_straddling_step_boundary_opens(void **state)
{
	struct config_knock *k;
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	struct knock_set *ks;
	int64_t last = (int64_t)(S0 + 2) * STEP_S - 1;	/* last second of S0+1 */

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	knock_otp_frames(k, S0 + 1, f);
	assert_int_equal(frame_at(ks, "192.0.2.1", &f[0], 1000, last), KNOCK_DROP);
	assert_int_equal(frame_at(ks, "192.0.2.1", &f[1], 1500, last + 1), KNOCK_DROP);
	assert_int_equal(frame_at(ks, "192.0.2.1", &f[2], 2000, last + 1), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(frame_at(ks, "192.0.2.1", &f[3], 2500, last + 2), KNOCK_DROP);
	assert_int_equal(R.nopened, 1);
	/* S0+1 is now used; S0+2 still opens. */
	assert_int_equal(knock_seq(ks, k, S0 + 2, "192.0.2.1", 3000, last + 3), 1);
	knock_set_free(ks);
}

/* Two sources race with one step's sequence: only the first to finish opens. */
static void
test_knock_time_racing_copy_of_a_sequence_is_refused(void **state)
{
	struct config_knock *k;
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	struct knock_set *ks;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S + 2;
	int i;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	knock_otp_frames(k, S0 + 1, f);
	for (i = 0; i < 3; i++) {
		frame_at(ks, "192.0.2.1", &f[i], 1000 + (uint64_t)i, wall);
		frame_at(ks, "203.0.113.5", &f[i], 1000 + (uint64_t)i, wall);
	}
	assert_int_equal(frame_at(ks, "192.0.2.1", &f[3], 1010, wall), KNOCK_DROP);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(frame_at(ks, "203.0.113.5", &f[3], 1011, wall), KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(counters(ks, 0).replays, 1);
	knock_set_free(ks);
}

/* Every port of the range is a knock port: dropped, whatever it carries. */
static void
test_knock_derived_range_is_dropped_rest_is_not_mine(void **state)
{
	struct knock_set *ks;
	struct pkt p;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S;

	(void)state;
	cfg_init(&C, 1024);
	knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	p = mkpkt("192.0.2.1", IPPROTO_UDP, 20000, 0);
	knock_set_packet_at(ks, &p, 1, wall, &R);
	assert_int_equal(R.verdict, KNOCK_DROP);
	p.dport = 29999;
	knock_set_packet_at(ks, &p, 2, wall, &R);
	assert_int_equal(R.verdict, KNOCK_DROP);
	p.dport = 19999;
	knock_set_packet_at(ks, &p, 3, wall, &R);
	assert_int_equal(R.verdict, KNOCK_NOT_MINE);
	p.dport = 30000;
	knock_set_packet_at(ks, &p, 4, wall, &R);
	assert_int_equal(R.verdict, KNOCK_NOT_MINE);
	p = mkpkt("192.0.2.1", IPPROTO_TCP, 25000, SYN);
	knock_set_packet_at(ks, &p, 5, wall, &R);
	assert_int_equal(R.verdict, KNOCK_NOT_MINE);
	assert_int_equal(counters(ks, 0).frames, 2);
	knock_set_free(ks);
}

static void
test_knock_derived_tcp_frames_must_be_exactly_syn(void **state)
{
	struct config_knock *k;
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	struct knock_set *ks;
	struct pkt p;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S;
	int i;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	k->ports.proto = IPPROTO_TCP;
	ks = set_new_at(&C, T0);
	knock_otp_frames(k, S0 + 1, f);
	/* SYN+ACK on the right ports is not the sequence. */
	for (i = 0; i < 4; i++) {
		p = mkpkt("192.0.2.1", IPPROTO_TCP, f[i].port.port, SYN | ACK);
		knock_set_packet_at(ks, &p, 100 + (uint64_t)i, wall, &R);
		assert_int_equal(R.verdict, KNOCK_DROP);
		assert_int_equal(R.nopened, 0);
	}
	/* SYN with ECN bits is still exactly SYN among the six. */
	for (i = 0; i < 4; i++) {
		p = mkpkt("192.0.2.1", IPPROTO_TCP, f[i].port.port,
		    SYN | PKT_TCP_ECE | PKT_TCP_CWR);
		knock_set_packet_at(ks, &p, 200 + (uint64_t)i, wall, &R);
	}
	assert_int_equal(R.nopened, 1);
	knock_set_free(ks);
}

static void
test_knock_derived_wrong_frame_resets_and_restart_opens(void **state)
{
	struct config_knock *k;
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	struct knock_set *ks;
	struct pkt p;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	knock_otp_frames(k, S0 + 1, f);
	frame_at(ks, "192.0.2.1", &f[0], 100, wall);
	frame_at(ks, "192.0.2.1", &f[1], 200, wall);
	p = mkpkt("192.0.2.1", IPPROTO_UDP, f[2].port.port == 20000 ? 20001 :
	    20000, 0);
	knock_set_packet_at(ks, &p, 300, wall, &R);
	assert_int_equal(R.verdict, KNOCK_DROP);
	assert_int_equal(counters(ks, 0).resets, 1);
	/* Going on where it left off does not open. */
	frame_at(ks, "192.0.2.1", &f[2], 400, wall);
	frame_at(ks, "192.0.2.1", &f[3], 500, wall);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(knock_seq(ks, k, S0 + 1, "192.0.2.1", 600, wall), 1);
	knock_set_free(ks);
}

static void
test_knock_counter_sequence_opens_once_and_is_recorded(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	char why[STATEFILE_WHY_MAX];
	uint64_t v;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	ks = set_new_at(&C, T0);	/* no state file yet: counter 0 */
	assert_int_equal(statefile_load(k->state_path, &v, why, sizeof(why)), 1);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 1000, T0), 1);
	assert_int_equal(state_of(k), 1);
	/* Replayed, from the same source or another: refused. */
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 2000, T0), 0);
	assert_int_equal(knock_seq(ks, k, 0, "198.51.100.1", 3000, T0), 0);
	assert_int_equal(knock_seq(ks, k, 1, "192.0.2.1", 4000, T0), 1);
	assert_int_equal(state_of(k), 2);
	assert_int_equal(counters(ks, 0).opened, 2);
	knock_set_free(ks);
}

/* The client's counter may run ahead (knocks lost); it opens, the engine
 * skips to it, and the counters it skipped are dead. */
static void
test_knock_counter_ahead_within_lookahead_opens_and_skips(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, 2, "192.0.2.1", 1000, T0), 1);
	assert_int_equal(state_of(k), 3);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 2000, T0), 0);
	assert_int_equal(knock_seq(ks, k, 1, "192.0.2.1", 3000, T0), 0);
	assert_int_equal(knock_seq(ks, k, 2, "192.0.2.1", 4000, T0), 0);
	/* lookahead 5 from 3: 3..7 */
	assert_int_equal(knock_seq(ks, k, 7, "192.0.2.1", 5000, T0), 1);
	assert_int_equal(state_of(k), 8);
	knock_set_free(ks);
}

static void
test_knock_counter_beyond_lookahead_is_refused(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, 5, "192.0.2.1", 1000, T0), 0);
	assert_int_equal(knock_seq(ks, k, 100, "192.0.2.1", 2000, T0), 0);
	assert_int_equal(counters(ks, 0).opened, 0);
	assert_int_equal(knock_seq(ks, k, 4, "192.0.2.1", 3000, T0), 1);
	/* Now 5..9 are in play. */
	assert_int_equal(knock_seq(ks, k, 5, "192.0.2.1", 4000, T0), 1);
	knock_set_free(ks);
}

/* A source midway through counter N when another source uses N: refused. */
static void
test_knock_counter_racing_copy_is_refused(void **state)
{
	struct config_knock *k;
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	ks = set_new_at(&C, T0);
	knock_otp_frames(k, 0, f);
	frame_at(ks, "203.0.113.5", &f[0], 100, T0);
	frame_at(ks, "203.0.113.5", &f[1], 200, T0);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 300, T0), 1);
	frame_at(ks, "203.0.113.5", &f[2], 800, T0);
	frame_at(ks, "203.0.113.5", &f[3], 900, T0);
	assert_int_equal(R.verdict, KNOCK_DROP);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(state_of(k), 1);
	knock_set_free(ks);
}

/* A restart reads the counter back: what opened before stays used. */
static void
test_knock_counter_state_survives_restart(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 1000, T0), 1);
	assert_int_equal(knock_seq(ks, k, 3, "192.0.2.1", 2000, T0), 1);
	knock_set_free(ks);
	ks = set_new_at(&C, T0 + 3600);
	assert_int_equal(knock_seq(ks, k, 3, "192.0.2.1", 1000, T0 + 3600), 0);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 2000, T0 + 3600), 0);
	assert_int_equal(knock_seq(ks, k, 4, "192.0.2.1", 3000, T0 + 3600), 1);
	knock_set_free(ks);
	/* A state file written by hand (or by an older engine) is honoured. */
	{
		char why[STATEFILE_WHY_MAX];

		assert_int_equal(statefile_save(k->state_path, 1000, why,
		    sizeof(why)), 0);
	}
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, 5, "192.0.2.1", 1000, T0), 0);
	assert_int_equal(knock_seq(ks, k, 1002, "192.0.2.1", 2000, T0), 1);
	assert_int_equal(state_of(k), 1003);
	knock_set_free(ks);
}

/* Not recorded, not opened: a counter that could open again after a
 * restart must not open now. */
static void
test_knock_counter_unwritable_state_refuses_the_knock(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	char dir[160];

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	snprintf(dir, sizeof(dir), "%s/later", statedir);
	snprintf(k->state_path, sizeof(k->state_path), "%s/c.counter", dir);
	ks = set_new_at(&C, T0);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 1000, T0), 0);
	assert_int_equal(counters(ks, 0).state_errors, 1);
	assert_int_equal(counters(ks, 0).opened, 0);
	/* Once it can be written, the same sequence opens. */
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(knock_seq(ks, k, 0, "192.0.2.1", 2000, T0), 1);
	assert_int_equal(state_of(k), 1);
	knock_set_free(ks);
}

static void
test_knock_counter_corrupt_state_file_fails_the_set(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	FILE *f;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	f = fopen(k->state_path, "w");
	assert_non_null(f);
	fputs("seven\n", f);
	fclose(f);
	ks = knock_set_new_at(&C.cfg, test_key, T0, NULL, 0);
	assert_non_null(ks);
	assert_int_equal(knock_state_load(ks), -1);	/* start-up refuses it */
	knock_set_free(ks);
}

/* Reload: the used step and the counter outlive the old set. */
static void
test_knock_adopt_keeps_used_step_and_counter(void **state)
{
	struct config_knock *kt, *kc;
	struct knock_set *old, *ks;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S + 1;

	(void)state;
	cfg_init(&C, 1024);
	kt = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	kc = knock_derived(&C, "c", CONFIG_DERIVE_COUNTER);
	old = set_new_at(&C, T0);
	assert_int_equal(knock_seq(old, kc, 0, "192.0.2.1", 1000, wall), 1);
	/* The new config moves the counter's state file: the counter stays. */
	memcpy(&C2, &C, sizeof(C));
	C2.cfg.knocks = C2.knocks;
	snprintf(C2.knocks[1].state_path, sizeof(C2.knocks[1].state_path),
	    "%s/moved.counter", statedir);
	unlink(C2.knocks[1].state_path);
	/* Reloaded in step S0+1, which opened nothing yet: it may open. */
	ks = set_new_at(&C2, wall);
	assert_int_equal(knock_set_adopt(ks, old), 2);
	knock_set_free(old);
	assert_int_equal(knock_seq(ks, &C2.knocks[1], 0, "192.0.2.1", 2000,
	    wall), 0);
	assert_int_equal(knock_seq(ks, &C2.knocks[0], S0 + 1, "192.0.2.1",
	    3000, wall), 1);
	assert_int_equal(knock_seq(ks, &C2.knocks[1], 1, "192.0.2.1", 4000,
	    wall), 1);
	assert_int_equal(state_of(&C2.knocks[1]), 2);
	/* Reload again: S0+1 has opened, and stays used. */
	old = ks;
	ks = set_new_at(&C2, wall + 1);
	knock_set_adopt(ks, old);
	knock_set_free(old);
	assert_int_equal(knock_seq(ks, &C2.knocks[0], S0 + 1, "192.0.2.1",
	    5000, wall + 1), 0);
	knock_set_free(ks);
	(void)kt;
}

/* A new key makes a new trigger: nothing of the old one carries over. */
static void
test_knock_adopt_new_key_starts_afresh(void **state)
{
	struct knock_set *old, *ks;
	struct config_knock *k;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S + 1;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	old = set_new_at(&C, T0);
	memcpy(&C2, &C, sizeof(C));
	C2.cfg.knocks = C2.knocks;
	C2.knocks[0].key[0] ^= 0xff;
	ks = set_new_at(&C2, wall);
	assert_int_equal(knock_set_adopt(ks, old), 0);
	knock_set_free(old);
	/* Its own start step is refused, like at a start. */
	assert_int_equal(knock_seq(ks, &C2.knocks[0], S0 + 1, "192.0.2.1",
	    1000, wall), 0);
	assert_int_equal(knock_seq(ks, &C2.knocks[0], S0 + 2, "192.0.2.1",
	    2000, wall + STEP_S), 1);
	knock_set_free(ks);
	(void)k;
}

static void
test_knock_derived_and_listed_triggers_side_by_side(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;
	int64_t wall = (int64_t)(S0 + 1) * STEP_S;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	k = knock_derived(&C, "t", CONFIG_DERIVE_TIME);
	ks = set_new_at(&C, T0);
	knock_all(ks, "192.0.2.1", 1000);
	assert_int_equal(R.nopened, 1);
	assert_ptr_equal(R.opened[0], &C.knocks[0]);
	assert_int_equal(knock_seq(ks, k, S0 + 1, "2001:db8::1", 5000, wall), 1);
	assert_ptr_equal(R.opened[0], k);
	assert_int_equal(R.family, AF_INET6);
	assert_int_equal(counters(ks, 0).opened, 1);
	assert_int_equal(counters(ks, 1).opened, 1);
	knock_set_free(ks);
}


/* --- retransmissions, close sequences, failure reasons ------------------ */

static void
test_knock_duplicated_frames_do_not_reset(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_add(&C, "dup", 10000, true);
	udp_frame(k, 7000);
	udp_frame(k, 7001);
	udp_frame(k, 7002);
	ks = set_new(&C);
	/* Every frame twice, as nfq-knock --twice sends it. */
	udp(ks, "192.0.2.1", 7000, 0);
	udp(ks, "192.0.2.1", 7000, 1);
	udp(ks, "192.0.2.1", 7001, 2);
	udp(ks, "192.0.2.1", 7001, 3);
	assert_int_equal(R.nfailed, 0);
	udp(ks, "192.0.2.1", 7002, 4);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(counters(ks, 0).duplicates, 2);
	assert_int_equal(counters(ks, 0).resets, 0);
	/* An older frame than the last one is still wrong. */
	udp(ks, "192.0.2.2", 7000, 10);
	udp(ks, "192.0.2.2", 7001, 11);
	udp(ks, "192.0.2.2", 7000, 12);
	assert_int_equal(R.nfailed, 1);
	assert_string_equal(R.failed[0].reason, "wrong-order");
	assert_ptr_equal(R.failed[0].trigger, k);
	knock_set_free(ks);
}

static void
test_knock_close_sequence_closes_and_leaves_progress(void **state)
{
	struct config_knock *k;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	k = knock_std(&C, "ssh", true);
	k->close_frames[0].port.proto = IPPROTO_UDP;
	k->close_frames[0].port.port = 7100;
	k->close_frames[1].port.proto = IPPROTO_UDP;
	k->close_frames[1].port.port = 7101;
	k->nclose = 2;
	ks = set_new(&C);
	assert_int_equal(udp(ks, "192.0.2.1", 7100, 0), KNOCK_DROP);
	assert_int_equal(R.nclosed, 0);
	udp(ks, "192.0.2.1", 7101, 1);
	assert_int_equal(R.nclosed, 1);
	assert_ptr_equal(R.closed[0], k);
	assert_int_equal(R.nopened, 0);
	assert_int_equal(counters(ks, 0).closed, 1);
	/* Close frames in the middle of a knock neither reset nor advance it. */
	udp(ks, "192.0.2.2", 7000, 10);
	udp(ks, "192.0.2.2", 7100, 11);
	tcp(ks, "192.0.2.2", 8000, SYN, 12);
	tcp(ks, "192.0.2.2", 9000, SYN, 13);
	assert_int_equal(R.nopened, 1);
	assert_int_equal(counters(ks, 0).resets, 0);
	knock_set_free(ks);
}

static void
test_knock_expired_windows_are_reported(void **state)
{
	struct knock_expired x;
	struct knock_set *ks;

	(void)state;
	cfg_init(&C, 1024);
	knock_std(&C, "ssh", true);
	ks = set_new(&C);
	udp(ks, "192.0.2.1", 7000, 0);
	udp(ks, "192.0.2.9", 7000, 5);
	knock_set_expire(ks, 10000);
	assert_true(knock_set_expired_next(ks, &x));
	assert_string_equal(x.trigger->name, "ssh");
	assert_false(x.closing);
	assert_int_equal(x.addr[3], 1);
	assert_false(knock_set_expired_next(ks, &x));
	knock_set_expire(ks, 10005);
	assert_true(knock_set_expired_next(ks, &x));
	assert_int_equal(x.addr[3], 9);
	assert_false(knock_set_expired_next(ks, &x));
	knock_set_free(ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_knock_correct_order_opens),
		cmocka_unit_test(test_knock_wrong_order_resets),
		cmocka_unit_test(test_knock_wrong_frame_that_is_frame0_restarts),
		cmocka_unit_test(test_knock_late_frame_does_not_open),
		cmocka_unit_test(test_knock_frame_inside_window_end_opens),
		cmocka_unit_test(test_knock_late_first_frame_starts_new_window),
		cmocka_unit_test(test_knock_flag_s_matches_syn_alone),
		cmocka_unit_test(test_knock_flag_fa_matches_fin_ack_alone),
		cmocka_unit_test(test_knock_flag_x_matches_all_six),
		cmocka_unit_test(test_knock_flag_n_matches_no_flags),
		cmocka_unit_test(test_knock_flag_i_matches_anything),
		cmocka_unit_test(test_knock_udp_frames_open_and_tcp_same_port_is_not_mine),
		cmocka_unit_test(test_knock_ipv6_source_opens_with_its_address),
		cmocka_unit_test(test_knock_ipv4_and_ipv6_progress_is_separate),
		cmocka_unit_test(test_knock_two_sources_interleave_independently),
		cmocka_unit_test(test_knock_repeated_port_in_sequence),
		cmocka_unit_test(test_knock_without_reset_on_wrong_ignores_wrong_frames),
		cmocka_unit_test(test_knock_other_packets_are_not_mine_and_keep_progress),
		cmocka_unit_test(test_knock_packets_without_ports_are_not_mine),
		cmocka_unit_test(test_knock_flood_of_first_frames_never_locks_out_progress),
		cmocka_unit_test(test_knock_full_progress_tier_evicts_oldest_progress),
		cmocka_unit_test(test_knock_full_tracker_evicts_oldest_first_frame),
		cmocka_unit_test(test_knock_expiry_and_next_deadline),
		cmocka_unit_test(test_knock_adopt_keeps_progress_of_unchanged_triggers),
		cmocka_unit_test(test_knock_adopt_drops_progress_when_window_changes),
		cmocka_unit_test(test_knock_shared_port_feeds_both_triggers),
		cmocka_unit_test(test_knock_one_packet_can_complete_two_triggers),
		cmocka_unit_test(test_knock_single_frame_sequence_opens_at_once),
		cmocka_unit_test(test_knock_counters_count_each_outcome),
		cmocka_unit_test(test_knock_set_refuses_too_few_sources),
		cmocka_unit_test(test_knock_set_without_triggers_owns_nothing),
		cmocka_unit_test(test_knock_time_current_step_sequence_opens),
		cmocka_unit_test(test_knock_time_step_of_start_is_refused),
		cmocka_unit_test(test_knock_time_previous_step_sequence_is_refused),
		cmocka_unit_test(test_knock_time_same_step_reused_is_refused_next_step_opens),
		cmocka_unit_test(test_knock_time_knock_straddling_step_boundary_opens),
		cmocka_unit_test(test_knock_time_racing_copy_of_a_sequence_is_refused),
		cmocka_unit_test(test_knock_derived_range_is_dropped_rest_is_not_mine),
		cmocka_unit_test(test_knock_derived_tcp_frames_must_be_exactly_syn),
		cmocka_unit_test(test_knock_derived_wrong_frame_resets_and_restart_opens),
		cmocka_unit_test(test_knock_counter_sequence_opens_once_and_is_recorded),
		cmocka_unit_test(test_knock_counter_ahead_within_lookahead_opens_and_skips),
		cmocka_unit_test(test_knock_counter_beyond_lookahead_is_refused),
		cmocka_unit_test(test_knock_counter_racing_copy_is_refused),
		cmocka_unit_test(test_knock_counter_state_survives_restart),
		cmocka_unit_test(test_knock_counter_unwritable_state_refuses_the_knock),
		cmocka_unit_test(test_knock_counter_corrupt_state_file_fails_the_set),
		cmocka_unit_test(test_knock_adopt_keeps_used_step_and_counter),
		cmocka_unit_test(test_knock_adopt_new_key_starts_afresh),
		cmocka_unit_test(test_knock_derived_and_listed_triggers_side_by_side),
		cmocka_unit_test(test_knock_duplicated_frames_do_not_reset),
		cmocka_unit_test(test_knock_close_sequence_closes_and_leaves_progress),
		cmocka_unit_test(test_knock_expired_windows_are_reported),
		cmocka_unit_test(test_knock_frame_not_for_this_host_passes_and_opens_nothing),
		cmocka_unit_test(test_knock_target_and_interface_narrow_the_frames),
	};

	return cmocka_run_group_tests(tests, derived_setup, derived_teardown);
}
