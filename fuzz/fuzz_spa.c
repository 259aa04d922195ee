/*
 * libFuzzer target for our SPA format (core/spa.h). Any bytes must parse
 * and verify without reading out of bounds; what parses must re-encode to
 * the same header bytes; and, so that the checks after the MAC are reached
 * too, the input also drives a validly signed packet (fields, clock, source
 * taken from the bytes) through a trigger set with a small replay cache:
 * the set's answer must agree with what the fields say.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "core/packet.h"
#include "core/spa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_spa: invariant broken: %s\n", #cond); \
		abort();						\
	}								\
} while (0)

#define OFF	48			/* room for an IPv6 + UDP header */
#define T0	1764590400000ULL

static struct config cfg;
static struct config_spa spa;
static struct spa_set *set;
static uint64_t clock_ms = T0;

static void
setup(void)
{
	int i;

	if (sodium_init() < 0)
		abort();
	snprintf(spa.name, sizeof(spa.name), "ssh");
	spa.port.proto = IPPROTO_UDP;
	spa.port.port = 62201;
	for (i = 0; i < CONFIG_KEY_LEN; i++)
		spa.key[i] = (uint8_t)i;	/* the corpus's key */
	spa.max_age_ms = 30000;
	spa.replay_cache = CONFIG_SPA_CACHE_MIN;
	cfg.spas = &spa;
	cfg.nspas = 1;
	set = spa_set_new(&cfg, T0, NULL);
	if (set == NULL)
		abort();
}

static void
datagram(struct pkt *p, size_t len, int v6, uint8_t last)
{
	memset(p, 0, sizeof(*p));
	p->family = v6 ? AF_INET6 : AF_INET;
	p->proto = IPPROTO_UDP;
	p->flags = PKT_F_PORTS;
	p->dport = 62201;
	p->src[0] = 10;
	p->src[15] = last;
	p->src[3] = last;
	p->payload_offset = OFF;
	p->payload_len = (uint16_t)len;
	p->ip_len = (uint16_t)(OFF + len);
}

/* The raw bytes: parse, verify, and the set, which must never open. */
static void
raw(const uint8_t *data, size_t size)
{
	uint8_t buf[OFF + 2048], enc[SPA_LEN_MAX];
	struct spa_result r;
	struct spa_msg m;
	struct pkt p;
	size_t n;

	if (spa_parse(data, size, &m) == SPA_OK) {
		n = spa_encode(spa.key, &m, enc);
		CHECK(n == size);
		CHECK(memcmp(enc, data, n - SPA_MAC_LEN) == 0);
	}
	(void)spa_verify(spa.key, "ssh", data, size, &m);
	if (size > sizeof(buf) - OFF)
		return;
	memcpy(buf + OFF, data, size);
	datagram(&p, size, 0, 1);
	spa_set_packet(set, &p, buf, clock_ms, &r);
	CHECK(r.mine);
	/* Forging a MAC by chance: only a copy of a signed packet opens. */
	if (r.reason == SPA_OK)
		CHECK(spa_verify(spa.key, "ssh", data, size, &m) == SPA_OK);
}

/* A signed packet from the bytes' fields: the set must agree with them. */
static void
signed_packet(const uint8_t *data, size_t size)
{
	uint8_t buf[OFF + SPA_LEN_MAX];
	struct spa_result r;
	struct spa_msg m;
	struct pkt p;
	int64_t skew;
	size_t n;

	if (size < 8)
		return;
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", data[0] & 1 ? "ssh" : "web");
	/* Age from -8 s to +56 s, against a clock that only moves forward. */
	skew = (int64_t)((data[1] << 8 | data[2]) % 64000) - 8000;
	clock_ms += data[3] % 4 == 0 ? (uint64_t)data[4] * 1000 : 0;
	m.ts_ms = (uint64_t)((int64_t)clock_ms - skew);
	memcpy(m.nonce, data + 5, size - 5 < SPA_NONCE_LEN ? size - 5 :
	    SPA_NONCE_LEN);
	if (data[3] & 0x10) {
		m.family = data[3] & 0x20 ? AF_INET6 : AF_INET;
		m.addr[0] = 10;
		m.addr[3] = data[4] & 3;
		m.addr[15] = data[4] & 3;
	}
	n = spa_encode(spa.key, &m, buf + OFF);
	CHECK(n > 0);
	datagram(&p, n, (data[3] & 0x20) != 0, data[4] & 3);
	spa_set_packet(set, &p, buf, clock_ms, &r);
	CHECK(r.mine);
	if (!(data[0] & 1)) {
		CHECK(r.reason == SPA_WRONG_TRIGGER);
		return;
	}
	if (skew > 30000 || m.ts_ms < T0)
		CHECK(r.reason == SPA_TOO_OLD || r.reason == SPA_BEFORE_START);
	if (skew < -SPA_SKEW_MS)
		CHECK(r.reason == SPA_FROM_FUTURE);
	if (r.reason == SPA_OK) {
		CHECK(r.open_family == (m.family ? m.family : p.family));
		CHECK(memcmp(r.open_addr, m.family ? m.addr : p.src,
		    r.open_family == AF_INET ? 4 : 16) == 0);
		/*
		 * The very same bytes again are a replay, whoever sends them
		 * (one that names an address is refused for that first).
		 */
		if (m.family == 0)
			p.src[3] ^= 0x40;
		spa_set_packet(set, &p, buf, clock_ms, &r);
		CHECK(r.reason == SPA_REPLAY);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (set == NULL)
		setup();
	raw(data, size);
	signed_packet(data, size);
	return 0;
}
