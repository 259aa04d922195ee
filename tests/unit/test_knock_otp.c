/*
 * Derived knock sequences: the construction documented in knock_otp.h and
 * docs/knock.md, checked against vectors from an independent implementation
 * (Python's hmac module), and the properties the engine relies on.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "unit.h"
#include "config/config.h"
#include "core/knock_otp.h"

/* Key 00 01 02 ... 1f. */
static void
key_counting(uint8_t key[CONFIG_KEY_LEN])
{
	int i;

	for (i = 0; i < CONFIG_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

static void
derived(struct config_knock *k, enum config_derive mode, uint8_t proto,
    uint16_t lo, uint16_t hi, int nframes)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "ssh");
	key_counting(k->key);
	k->derive = mode;
	k->ports.proto = proto;
	k->ports.lo = lo;
	k->ports.hi = hi;
	k->nframes = nframes;
	k->step_ms = 30000;
	k->lookahead = 5;
}

/*
 * python3: msg = b"nfq-trigger knock v1\0" + b"t" + b"ssh\0" + n.to_bytes(8,
 * "big"); out = hmac(key, msg + b"\0") + hmac(key, msg + b"\1");
 * port_i = lo + int.from_bytes(out[4i:4i+4], "big") % (hi - lo + 1).
 */
static void
test_otp_matches_documented_construction(void **state)
{
	static const uint16_t time_vec[4] = { 28581, 28011, 23454, 22190 };
	static const uint16_t ctr0_vec[4] = { 26989, 25302, 24454, 27775 };
	static const uint16_t ctr1_vec[16] = { 22245, 29426, 20166, 25884,
	    23913, 26745, 26212, 25073, 28969, 21528, 24463, 21426, 28962,
	    23442, 28179, 24643 };
	static const uint16_t wide_vec[16] = { 6949, 56463, 6471, 7395, 60237,
	    31086, 26822, 49418, 8745, 31899, 60670, 5332, 4940, 19088, 61492,
	    28544 };
	uint8_t key[CONFIG_KEY_LEN];
	uint16_t ports[CONFIG_KNOCK_FRAMES_MAX];

	(void)state;
	key_counting(key);
	knock_otp_ports(key, CONFIG_DERIVE_TIME, "ssh", 56666666, 20000, 29999,
	    4, ports);
	assert_memory_equal(ports, time_vec, sizeof(time_vec));
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", 0, 20000, 29999, 4,
	    ports);
	assert_memory_equal(ports, ctr0_vec, sizeof(ctr0_vec));
	/* 16 frames use the second HMAC block. */
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", 1, 20000, 29999, 16,
	    ports);
	assert_memory_equal(ports, ctr1_vec, sizeof(ctr1_vec));
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", 7, 1, 65535, 16,
	    ports);
	assert_memory_equal(ports, wide_vec, sizeof(wide_vec));
}

static void
test_otp_ports_stay_in_range_and_cover_it(void **state)
{
	uint8_t key[CONFIG_KEY_LEN];
	uint16_t ports[CONFIG_KNOCK_FRAMES_MAX];
	int seen[3] = { 0, 0, 0 };
	uint64_t n;
	int i;

	(void)state;
	key_counting(key);
	for (n = 0; n < 200; n++) {
		knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "r", n, 100, 102, 16,
		    ports);
		for (i = 0; i < 16; i++) {
			assert_in_range(ports[i], 100, 102);
			seen[ports[i] - 100]++;
		}
	}
	/* 3200 draws over 3 ports: each near 1067, none starved. */
	for (i = 0; i < 3; i++)
		assert_in_range(seen[i], 900, 1250);
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "r", 5, 65535, 65535, 4,
	    ports);
	for (i = 0; i < 4; i++)
		assert_int_equal(ports[i], 65535);
}

/* A change of key, name, kind or number gives another sequence. */
static void
test_otp_depends_on_key_name_kind_and_number(void **state)
{
	uint8_t key[CONFIG_KEY_LEN], other[CONFIG_KEY_LEN];
	uint16_t a[16], b[16];

	(void)state;
	key_counting(key);
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", 9, 1, 65535, 16, a);
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", 9, 1, 65535, 16, b);
	assert_memory_equal(a, b, sizeof(a));
	knock_otp_ports(other, CONFIG_DERIVE_COUNTER, "ssh", 9, 1, 65535, 16, b);
	assert_memory_not_equal(a, b, sizeof(a));
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh2", 9, 1, 65535, 16, b);
	assert_memory_not_equal(a, b, sizeof(a));
	knock_otp_ports(key, CONFIG_DERIVE_TIME, "ssh", 9, 1, 65535, 16, b);
	assert_memory_not_equal(a, b, sizeof(a));
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", 10, 1, 65535, 16, b);
	assert_memory_not_equal(a, b, sizeof(a));
	/* n is 64 bits: 2^32 + 9 is not 9. */
	knock_otp_ports(key, CONFIG_DERIVE_COUNTER, "ssh", (1ULL << 32) + 9, 1,
	    65535, 16, b);
	assert_memory_not_equal(a, b, sizeof(a));
}

/* frames = 4 is the start of frames = 16: a client and an engine agree on
 * a prefix even if one was told more frames. */
static void
test_otp_fewer_frames_are_a_prefix(void **state)
{
	uint8_t key[CONFIG_KEY_LEN];
	uint16_t a[16], b[16];

	(void)state;
	key_counting(key);
	knock_otp_ports(key, CONFIG_DERIVE_TIME, "x", 3, 20000, 29999, 16, a);
	knock_otp_ports(key, CONFIG_DERIVE_TIME, "x", 3, 20000, 29999, 4, b);
	assert_memory_equal(a, b, 4 * sizeof(a[0]));
}

static void
test_otp_frames_tcp_exactly_syn_udp_no_flags(void **state)
{
	struct config_knock k;
	struct config_knock_frame f[CONFIG_KNOCK_FRAMES_MAX];
	char want[24];

	(void)state;
	derived(&k, CONFIG_DERIVE_TIME, IPPROTO_TCP, 20000, 29999, 4);
	knock_otp_frames(&k, 56666666, f);
	assert_int_equal(f[0].port.proto, IPPROTO_TCP);
	assert_int_equal(f[0].port.port, 28581);
	assert_int_equal(f[0].flags_mask, 0x3f);
	assert_int_equal(f[0].flags_value, 0x02);
	assert_string_equal(f[0].text, "tcp:28581:s");
	assert_int_equal(f[3].port.port, 22190);
	derived(&k, CONFIG_DERIVE_COUNTER, IPPROTO_UDP, 20000, 29999, 4);
	knock_otp_frames(&k, 0, f);
	assert_int_equal(f[0].port.proto, IPPROTO_UDP);
	assert_int_equal(f[0].flags_mask, 0);
	assert_int_equal(f[0].flags_value, 0);
	snprintf(want, sizeof(want), "udp:%u", 26989);
	assert_string_equal(f[0].text, want);
}

static void
test_otp_step_is_time_divided_by_step(void **state)
{
	struct config_knock k;

	(void)state;
	derived(&k, CONFIG_DERIVE_TIME, IPPROTO_UDP, 20000, 29999, 4);
	assert_int_equal(knock_otp_step(&k, 0), 0);
	assert_int_equal(knock_otp_step(&k, 29), 0);
	assert_int_equal(knock_otp_step(&k, 30), 1);
	assert_int_equal(knock_otp_step(&k, 1700000000), 56666666);
	assert_int_equal(knock_otp_step(&k, 1700000009), 56666666);
	assert_int_equal(knock_otp_step(&k, 1700000010), 56666667);
	/* A clock before 1970 is not a negative step. */
	assert_int_equal(knock_otp_step(&k, -5), 0);
	k.step_ms = 1000;
	assert_int_equal(knock_otp_step(&k, 1700000009), 1700000009);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_otp_matches_documented_construction),
		cmocka_unit_test(test_otp_ports_stay_in_range_and_cover_it),
		cmocka_unit_test(test_otp_depends_on_key_name_kind_and_number),
		cmocka_unit_test(test_otp_fewer_frames_are_a_prefix),
		cmocka_unit_test(test_otp_frames_tcp_exactly_syn_udp_no_flags),
		cmocka_unit_test(test_otp_step_is_time_divided_by_step),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
