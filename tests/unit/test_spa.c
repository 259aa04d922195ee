/*
 * Single-packet authorization, our format (core/spa.h): the bytes as
 * docs/spa.md documents them (a vector from Python's hmac module), every
 * reason a packet is refused for, in the documented order, and the replay
 * cache: replays from any address, expiry, and a full cache that refuses.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "unit.h"
#include "config/config.h"
#include "core/packet.h"
#include "core/spa.h"

#define T0		1764590400000ULL	/* a wall-clock ms */
#define PAYLOAD_OFF	28			/* IPv4 + UDP headers */

static void
key_counting(uint8_t key[CONFIG_KEY_LEN])
{
	int i;

	for (i = 0; i < CONFIG_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

static void
msg_fill(struct spa_msg *m, const char *name, uint64_t ts_ms)
{
	int i;

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->ts_ms = ts_ms;
	for (i = 0; i < SPA_NONCE_LEN; i++)
		m->nonce[i] = (uint8_t)(0xa0 + i);
}

/*
 * python3: hdr = bytes([1, 4, 3, 0]) + ts.to_bytes(8, "big") + nonce +
 * b"ssh" + bytes([192, 0, 2, 7]); mac = hmac.new(key, b"nfq-trigger spa
 * v1\0" + hdr, "sha512").digest()[:32]
 */
static void
test_spa_encode_matches_documented_bytes(void **state)
{
	static const char want[] = "010403000000019ad9c8b200a0a1a2a3a4a5a6a7a8a9"
	    "aaabacadaeaf737368c000020781d1a7d79c3f65796b22cbe131608c3f61707c8a"
	    "451b2d0e9f9d41e25a59cd17";
	uint8_t key[CONFIG_KEY_LEN], pkt[SPA_LEN_MAX];
	char hex[2 * SPA_LEN_MAX + 1];
	struct spa_msg m, back;
	size_t len;

	(void)state;
	key_counting(key);
	msg_fill(&m, "ssh", T0);
	m.family = AF_INET;
	m.addr[0] = 192; m.addr[2] = 2; m.addr[3] = 7;
	len = spa_encode(key, &m, pkt);
	assert_int_equal(len, 67);
	sodium_bin2hex(hex, sizeof(hex), pkt, len);
	assert_string_equal(hex, want);
	assert_int_equal(spa_verify(key, "ssh", pkt, len, &back), SPA_OK);
	assert_int_equal(back.ts_ms, T0);
	assert_int_equal(back.family, AF_INET);
	assert_memory_equal(back.addr, m.addr, 4);
}

static void
test_spa_verify_refuses_each_spoiled_packet(void **state)
{
	uint8_t key[CONFIG_KEY_LEN], other[CONFIG_KEY_LEN], pkt[SPA_LEN_MAX],
	    bad[SPA_LEN_MAX + 8];
	struct spa_msg m;
	size_t len, i;

	(void)state;
	key_counting(key);
	memset(other, 7, sizeof(other));
	msg_fill(&m, "ssh", T0);
	len = spa_encode(key, &m, pkt);
	assert_int_equal(len, SPA_HEAD_LEN + 3 + SPA_MAC_LEN);
	assert_int_equal(spa_verify(key, "ssh", pkt, len, &m), SPA_OK);
	assert_int_equal(spa_verify(other, "ssh", pkt, len, &m), SPA_BAD_MAC);
	assert_int_equal(spa_verify(key, "web", pkt, len, &m), SPA_WRONG_TRIGGER);
	assert_int_equal(spa_verify(key, "ssh", pkt, 3, &m), SPA_BAD_SIZE);
	assert_int_equal(spa_verify(key, "ssh", pkt, len - 1, &m), SPA_TRUNCATED);
	assert_int_equal(spa_verify(key, "ssh", pkt, 40, &m), SPA_TRUNCATED);
	memcpy(bad, pkt, len);
	bad[len] = 0;
	assert_int_equal(spa_verify(key, "ssh", bad, len + 1, &m), SPA_BAD_SIZE);
	/* Any single bit flipped anywhere is refused. */
	for (i = 0; i < len * 8; i++) {
		memcpy(bad, pkt, len);
		bad[i / 8] ^= (uint8_t)(1U << (i % 8));
		assert_int_not_equal(spa_verify(key, "ssh", bad, len, &m), SPA_OK);
	}
	memcpy(bad, pkt, len);
	bad[0] = 2;
	assert_int_equal(spa_verify(key, "ssh", bad, len, &m), SPA_BAD_VERSION);
	memcpy(bad, pkt, len);
	bad[3] = 1;
	assert_int_equal(spa_verify(key, "ssh", bad, len, &m), SPA_MALFORMED);
	memcpy(bad, pkt, len);
	bad[1] = 5;
	assert_int_equal(spa_verify(key, "ssh", bad, len, &m), SPA_MALFORMED);
	memcpy(bad, pkt, len);
	bad[SPA_HEAD_LEN] = '/';
	assert_int_equal(spa_verify(key, "ssh", bad, len, &m), SPA_MALFORMED);
}

static void
test_spa_encode_refuses_bad_names(void **state)
{
	uint8_t key[CONFIG_KEY_LEN], pkt[SPA_LEN_MAX];
	struct spa_msg m;

	(void)state;
	key_counting(key);
	msg_fill(&m, "", T0);
	assert_int_equal(spa_encode(key, &m, pkt), 0);
	msg_fill(&m, "a b", T0);
	assert_int_equal(spa_encode(key, &m, pkt), 0);
	msg_fill(&m, "ssh", T0);
	m.family = 99;
	assert_int_equal(spa_encode(key, &m, pkt), 0);
}

/* --- the set ------------------------------------------------------------ */

struct fixture {
	struct config cfg;
	struct config_spa spa[2];
	struct spa_set *set;
	uint8_t buf[PAYLOAD_OFF + SPA_LEN_MAX];
	struct pkt p;
};

static struct fixture *
fixture_new(uint32_t cache, uint64_t start_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->spa[0].name, sizeof(f->spa[0].name), "ssh");
	f->spa[0].port.proto = IPPROTO_UDP;
	f->spa[0].port.port = 62201;
	key_counting(f->spa[0].key);
	f->spa[0].max_age_ms = 30000;
	f->spa[0].replay_cache = cache;
	f->spa[0].open[0].proto = IPPROTO_TCP;
	f->spa[0].open[0].port = 22;
	f->spa[0].nopen = 1;
	f->spa[1] = f->spa[0];
	snprintf(f->spa[1].name, sizeof(f->spa[1].name), "lax");
	f->spa[1].port.port = 62202;
	f->spa[1].allow_address = true;
	f->cfg.spas = f->spa;
	f->cfg.nspas = 2;
	f->set = spa_set_new(&f->cfg, start_ms, NULL);
	assert_non_null(f->set);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	spa_set_free(f->set);
	free(f);
}

/* A datagram from 198.51.100.last to port, carrying m under key. */
static void
datagram(struct fixture *f, const struct spa_msg *m, const uint8_t *key,
    uint16_t port, uint8_t last)
{
	size_t len = spa_encode(key, m, f->buf + PAYLOAD_OFF);

	assert_int_not_equal(len, 0);
	memset(&f->p, 0, sizeof(f->p));
	f->p.family = AF_INET;
	f->p.proto = IPPROTO_UDP;
	f->p.flags = PKT_F_PORTS;
	f->p.dport = port;
	f->p.sport = 40000;
	f->p.src[0] = 198; f->p.src[1] = 51; f->p.src[2] = 100; f->p.src[3] = last;
	f->p.payload_offset = PAYLOAD_OFF;
	f->p.payload_len = (uint16_t)len;
	f->p.ip_len = (uint16_t)(PAYLOAD_OFF + len);
}

static enum spa_reason
check_at(struct fixture *f, uint64_t now_ms)
{
	struct spa_result r;

	spa_set_packet(f->set, &f->p, f->buf, now_ms, &r);
	assert_true(r.mine);
	return r.reason;
}

static void
test_spa_set_opens_the_source_and_ignores_other_ports(void **state)
{
	struct fixture *f = fixture_new(64, T0 - 1000);
	struct spa_result r;
	struct spa_msg m;

	(void)state;
	msg_fill(&m, "ssh", T0);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	spa_set_packet(f->set, &f->p, f->buf, T0 + 10, &r);
	assert_true(r.mine);
	assert_int_equal(r.reason, SPA_OK);
	assert_ptr_equal(r.trigger, &f->spa[0]);
	assert_int_equal(r.open_family, AF_INET);
	assert_memory_equal(r.open_addr, f->p.src, 4);
	f->p.dport = 62203;
	spa_set_packet(f->set, &f->p, f->buf, T0 + 10, &r);
	assert_false(r.mine);
	f->p.dport = 62201;
	f->p.proto = IPPROTO_TCP;
	spa_set_packet(f->set, &f->p, f->buf, T0 + 10, &r);
	assert_false(r.mine);
	fixture_free(f);
}

static void
test_spa_set_refuses_replays_from_any_address(void **state)
{
	struct fixture *f = fixture_new(64, T0 - 1000);
	struct spa_counters c;
	struct spa_msg m;

	(void)state;
	msg_fill(&m, "ssh", T0);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0 + 10), SPA_OK);
	assert_int_equal(check_at(f, T0 + 20), SPA_REPLAY);
	f->p.src[3] = 8;
	assert_int_equal(check_at(f, T0 + 30), SPA_REPLAY);
	/* Another nonce is another packet. */
	m.nonce[0] ^= 1;
	datagram(f, &m, f->spa[0].key, 62201, 8);
	assert_int_equal(check_at(f, T0 + 40), SPA_OK);
	spa_set_counters(f->set, 0, &c);
	assert_int_equal(c.opened, 2);
	assert_int_equal(c.replays, 2);
	assert_int_equal(c.cached, 2);
	fixture_free(f);
}

static void
test_spa_set_age_skew_and_engine_start(void **state)
{
	struct fixture *f = fixture_new(64, T0);
	struct spa_msg m;

	(void)state;
	/* Made before the engine started: refused even though it is young. */
	msg_fill(&m, "ssh", T0 - 1);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0 + 100), SPA_BEFORE_START);
	/* max_age 30s: exactly 30 s old passes, a millisecond more does not. */
	msg_fill(&m, "ssh", T0 + 1000);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0 + 31001), SPA_TOO_OLD);
	assert_int_equal(check_at(f, T0 + 31000), SPA_OK);
	/* SPA_SKEW_MS ahead passes, more does not. */
	msg_fill(&m, "ssh", T0 + 10000 + SPA_SKEW_MS + 1);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0 + 10000), SPA_FROM_FUTURE);
	msg_fill(&m, "ssh", T0 + 10000 + SPA_SKEW_MS);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0 + 10000), SPA_OK);
	fixture_free(f);
}

static void
test_spa_set_address_only_where_allowed(void **state)
{
	struct fixture *f = fixture_new(64, T0 - 1000);
	struct spa_result r;
	struct spa_msg m;

	(void)state;
	msg_fill(&m, "ssh", T0);
	m.family = AF_INET;
	m.addr[0] = 203; m.addr[3] = 9;
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0), SPA_ADDRESS_REFUSED);
	/* Naming its own source is fine anywhere. */
	memcpy(m.addr, f->p.src, 4);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0), SPA_OK);
	/* The lax trigger opens the address named. */
	msg_fill(&m, "lax", T0);
	m.family = AF_INET;
	m.addr[0] = 203; m.addr[3] = 9;
	datagram(f, &m, f->spa[1].key, 62202, 7);
	spa_set_packet(f->set, &f->p, f->buf, T0, &r);
	assert_int_equal(r.reason, SPA_OK);
	assert_memory_equal(r.open_addr, m.addr, 4);
	fixture_free(f);
}

static void
test_spa_set_refuses_short_captures_and_fragments(void **state)
{
	struct fixture *f = fixture_new(64, T0 - 1000);
	struct spa_msg m;

	(void)state;
	msg_fill(&m, "ssh", T0);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	f->p.payload_len -= 10;
	assert_int_equal(check_at(f, T0), SPA_CAPTURE_SHORT);
	f->p.payload_len += 10;
	f->p.flags |= PKT_F_FRAGMENT;
	assert_int_equal(check_at(f, T0), SPA_FRAGMENT);
	f->p.flags &= (uint8_t)~PKT_F_FRAGMENT;
	assert_int_equal(check_at(f, T0), SPA_OK);
	fixture_free(f);
}

/* A full cache of fresh packets refuses (fails closed), and recovers. */
static void
test_spa_replay_cache_full_fails_closed(void **state)
{
	struct fixture *f = fixture_new(CONFIG_SPA_CACHE_MIN, T0 - 1000);
	struct spa_counters c;
	struct spa_msg m;
	int i;

	(void)state;
	for (i = 0; i < CONFIG_SPA_CACHE_MIN; i++) {
		msg_fill(&m, "ssh", T0 + (uint64_t)i);
		datagram(f, &m, f->spa[0].key, 62201, 7);
		assert_int_equal(check_at(f, T0 + 100), SPA_OK);
	}
	msg_fill(&m, "ssh", T0 + 500);
	datagram(f, &m, f->spa[0].key, 62201, 7);
	assert_int_equal(check_at(f, T0 + 600), SPA_CACHE_FULL);
	spa_set_counters(f->set, 0, &c);
	assert_int_equal(c.cache_full, 1);
	assert_int_equal(c.cached, CONFIG_SPA_CACHE_MIN);
	/* Once the first ones are too old to replay, there is room again. */
	assert_int_equal(check_at(f, T0 + 30000 + CONFIG_SPA_CACHE_MIN), SPA_OK);
	assert_int_equal(check_at(f, T0 + 30000 + CONFIG_SPA_CACHE_MIN + 1),
	    SPA_REPLAY);
	fixture_free(f);
}

static void
test_spa_replay_cache_many_entries_stay_found(void **state)
{
	struct spa_replay *rc = spa_replay_new(1000, NULL);
	uint8_t d[32];
	uint32_t i;

	(void)state;
	assert_non_null(rc);
	for (i = 0; i < 1000; i++) {
		memset(d, 0, sizeof(d));
		memcpy(d, &i, sizeof(i));
		assert_int_equal(spa_replay_add(rc, d, sizeof(d), 101 + i, 0),
		    SPA_OK);
	}
	for (i = 0; i < 1000; i++) {
		memset(d, 0, sizeof(d));
		memcpy(d, &i, sizeof(i));
		assert_int_equal(spa_replay_add(rc, d, sizeof(d), 5000, 50),
		    SPA_REPLAY);
	}
	/* At 600 the first 500 (expiring at 101..600) are gone: 500 new fit. */
	for (i = 1000; i < 1500; i++) {
		memset(d, 0, sizeof(d));
		memcpy(d, &i, sizeof(i));
		assert_int_equal(spa_replay_add(rc, d, sizeof(d), 9000, 600),
		    SPA_OK);
	}
	memset(d, 0xff, sizeof(d));
	assert_int_equal(spa_replay_add(rc, d, sizeof(d), 9000, 600),
	    SPA_CACHE_FULL);
	for (i = 500; i < 1000; i++) {
		memset(d, 0, sizeof(d));
		memcpy(d, &i, sizeof(i));
		assert_int_equal(spa_replay_add(rc, d, sizeof(d), 9000, 600),
		    SPA_REPLAY);
	}
	spa_replay_free(rc);
}

static void
test_spa_reason_names_are_event_words(void **state)
{
	const char *w;
	int r;
	size_t i;

	(void)state;
	for (r = 0; r < SPA_REASON_MAX; r++) {
		w = spa_reason_name((enum spa_reason)r);
		assert_string_not_equal(w, "unknown");
		for (i = 0; w[i] != '\0'; i++)
			assert_true((w[i] >= 'a' && w[i] <= 'z') || w[i] == '-');
	}
	assert_string_equal(spa_reason_name(SPA_REASON_MAX), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spa_encode_matches_documented_bytes),
		cmocka_unit_test(test_spa_verify_refuses_each_spoiled_packet),
		cmocka_unit_test(test_spa_encode_refuses_bad_names),
		cmocka_unit_test(test_spa_set_opens_the_source_and_ignores_other_ports),
		cmocka_unit_test(test_spa_set_refuses_replays_from_any_address),
		cmocka_unit_test(test_spa_set_age_skew_and_engine_start),
		cmocka_unit_test(test_spa_set_address_only_where_allowed),
		cmocka_unit_test(test_spa_set_refuses_short_captures_and_fragments),
		cmocka_unit_test(test_spa_replay_cache_full_fails_closed),
		cmocka_unit_test(test_spa_replay_cache_many_entries_stay_found),
		cmocka_unit_test(test_spa_reason_names_are_event_words),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
