/*
 * libFuzzer target for the packet parser: any bytes must parse without
 * reading out of bounds (ASan), and the result must hold together: what
 * the parser claims about offsets, ports and flags is checked against the
 * input itself. A broken invariant aborts with the condition's text.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_packet: invariant broken: %s\n", #cond); \
		abort();						\
	}								\
} while (0)

static uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static int
is_port_proto(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP ||
	    proto == IPPROTO_DCCP;
}

static void
check_malformed(const struct pkt *p)
{
	CHECK(p->error != NULL && p->error[0] != '\0');
	CHECK(p->flags == 0);
	CHECK(p->sport == 0 && p->dport == 0 && p->tcp_flags == 0);
	CHECK(p->icmp_type == 0 && p->icmp_code == 0);
	CHECK(p->l4_offset == 0 && p->payload_offset == 0 &&
	    p->payload_len == 0);
}

/* The IP header fields as they are in the input. */
static void
check_ip(const uint8_t *data, size_t cap, const struct pkt *p)
{
	static const uint8_t zero[12];

	if (p->family == AF_INET) {
		CHECK(data[0] >> 4 == 4 && cap >= 20);
		CHECK(p->ttl == data[8] && p->proto == data[9]);
		CHECK(memcmp(p->src, data + 12, 4) == 0);
		CHECK(memcmp(p->dst, data + 16, 4) == 0);
		CHECK(memcmp(p->src + 4, zero, 12) == 0);
		CHECK(p->ip_len == get16(data + 2));
		CHECK(p->flags & PKT_F_LATER_FRAG ?
		    (get16(data + 6) & 0x1fff) != 0 : 1);
	} else {
		CHECK(p->family == AF_INET6);
		CHECK(data[0] >> 4 == 6 && cap >= 40);
		CHECK(p->ttl == data[7]);
		CHECK(memcmp(p->src, data + 8, 16) == 0);
		CHECK(memcmp(p->dst, data + 24, 16) == 0);
	}
	if (p->flags & PKT_F_LEN_UNKNOWN)
		CHECK(p->ip_len == 0);
	else
		CHECK(p->ip_len >= (p->family == AF_INET ? 20 : 41));
}

static void
check_ok(const uint8_t *data, size_t cap, const struct pkt *p)
{
	size_t l4 = p->l4_offset;

	CHECK(p->error == NULL);
	check_ip(data, cap, p);
	CHECK(l4 <= cap);
	CHECK(p->payload_offset <= cap);
	CHECK((size_t)p->payload_offset + p->payload_len <= cap);
	if (!(p->flags & PKT_F_LEN_UNKNOWN) && p->ip_len < UINT16_MAX)
		CHECK((size_t)p->payload_offset + p->payload_len <= p->ip_len);

	if (p->flags & PKT_F_LATER_FRAG) {
		CHECK(p->flags & PKT_F_FRAGMENT);
		CHECK(!(p->flags &
		    (PKT_F_PORTS | PKT_F_ICMP | PKT_F_L4_TRUNC)));
		CHECK(l4 == 0 && p->tcp_flags == 0);
	} else {
		CHECK(l4 >= (p->family == AF_INET ? 20u : 40u));
		if (p->payload_offset != 0)
			CHECK(p->payload_offset >= l4);
	}

	if (p->flags & PKT_F_PORTS) {
		CHECK(is_port_proto(p->proto));
		CHECK(l4 + 4 <= cap);
		CHECK(p->sport == get16(data + l4));
		CHECK(p->dport == get16(data + l4 + 2));
	} else {
		CHECK(p->sport == 0 && p->dport == 0);
	}
	if (p->tcp_flags != 0) {
		CHECK(p->proto == IPPROTO_TCP && (p->flags & PKT_F_PORTS));
		CHECK(p->tcp_flags == data[l4 + 13]);
	}
	if (p->flags & PKT_F_ICMP) {
		CHECK(p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6);
		CHECK(l4 + 8 <= cap);
		CHECK(p->icmp_type == data[l4] && p->icmp_code == data[l4 + 1]);
		CHECK(!(p->flags & PKT_F_PORTS));
	} else {
		CHECK(p->icmp_type == 0 && p->icmp_code == 0);
	}
	if (p->flags & PKT_F_L4_TRUNC) {
		CHECK(p->payload_offset == 0 && p->payload_len == 0);
		/* A fully captured packet is never cut short. */
		CHECK((p->flags & PKT_F_LEN_UNKNOWN) ||
		    p->ip_len == UINT16_MAX || cap < p->ip_len);
	}
}

/*
 * Cut the capture where the transport header starts: the IP headers are
 * all in, so the result must still be OK with the same protocol. The copy
 * is exactly that long, so ASan catches a read past the cut.
 */
static void
check_prefix(const uint8_t *data, const struct pkt *full)
{
	struct pkt p;
	enum pkt_status st;
	uint8_t *copy;
	size_t n = full->l4_offset;

	if (n == 0)
		return;
	copy = malloc(n);
	CHECK(copy != NULL);
	memcpy(copy, data, n);
	st = pkt_parse(copy, n, &p);
	free(copy);
	CHECK(st == PKT_OK);
	CHECK(p.proto == full->proto && p.l4_offset == full->l4_offset);
	CHECK(!(p.flags & (PKT_F_PORTS | PKT_F_ICMP)));
	CHECK(p.payload_len == 0);
}

static void
check_strings(const struct pkt *p)
{
	char a[INET6_ADDRSTRLEN], n[8];
	const char *s;

	s = pkt_addr_str(p, p->src, a, sizeof(a));
	CHECK(s == a && strlen(s) > 0);
	s = pkt_proto_name(p->proto, n, sizeof(n));
	CHECK(s != NULL && strlen(s) > 0 && strcmp(s, "?") != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p, again;
	enum pkt_status st;
	size_t cap = size > UINT16_MAX ? UINT16_MAX : size;

	/* Garbage in p first: the parser must set every field. */
	memset(&p, 0xa5, sizeof(p));
	st = pkt_parse(data, size, &p);
	memset(&again, 0, sizeof(again));
	CHECK(pkt_parse(data, size, &again) == st);
	CHECK(memcmp(&p, &again, sizeof(p)) == 0);

	if (st == PKT_MALFORMED) {
		check_malformed(&p);
		return 0;
	}
	CHECK(st == PKT_OK);
	check_ok(data, cap, &p);
	check_prefix(data, &p);
	check_strings(&p);
	return 0;
}
