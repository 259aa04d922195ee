/*
 * Packet parser tests. Packets are built byte by byte with the b_*()
 * helpers below; every parse of a "capture" runs on a heap copy of exactly
 * that many bytes, so ASan sees any read past the end.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "core/packet.h"

#define TH_FIN PKT_TCP_FIN
#define TH_SYN PKT_TCP_SYN
#define TH_RST PKT_TCP_RST
#define TH_PSH PKT_TCP_PSH
#define TH_ACK PKT_TCP_ACK

/* A packet under construction. */
struct build {
	uint8_t b[70000];
	size_t len;
	size_t udp_off;		/* 0: no UDP header to fix up */
};

static struct build B;

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t *
b_grow(struct build *b, size_t n)
{
	uint8_t *p = b->b + b->len;

	assert_true(b->len + n <= sizeof(b->b));
	memset(p, 0, n);
	b->len += n;
	return p;
}

static void
b_reset(struct build *b)
{
	b->len = 0;
	b->udp_off = 0;
}

/* IPv4 header with optlen bytes of options (NOPs, then EOL). */
static void
b_ipv4(struct build *b, uint8_t proto, size_t optlen)
{
	uint8_t *ip;

	b_reset(b);
	assert_true(optlen % 4 == 0 && optlen <= 40);
	ip = b_grow(b, 20 + optlen);
	ip[0] = (uint8_t)(0x40 | (5 + optlen / 4));
	put16(ip + 4, 0x1234);		/* id */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, "\xc0\x00\x02\x01", 4);	/* 192.0.2.1 */
	memcpy(ip + 16, "\xc6\x33\x64\x07", 4);	/* 198.51.100.7 */
	if (optlen > 0) {
		memset(ip + 20, 1, optlen - 1);		/* NOP */
		ip[20 + optlen - 1] = 0;		/* EOL */
	}
}

static void
b_ipv4_frag(struct build *b, uint16_t offset8, int more)
{
	put16(b->b + 6, (uint16_t)(offset8 | (more ? 0x2000 : 0)));
}

static void
b_ipv6(struct build *b, uint8_t next)
{
	uint8_t *ip;

	b_reset(b);
	ip = b_grow(b, 40);
	ip[0] = 0x60;
	ip[6] = next;
	ip[7] = 255;
	inet_pton(AF_INET6, "2001:db8::1", ip + 8);
	inet_pton(AF_INET6, "2001:db8:ffff::2", ip + 24);
}

/*
 * Hop-by-hop, routing or destination options: len bytes, a multiple of 8,
 * filled with Pad1 options (zero bytes).
 */
static void
b_ext(struct build *b, uint8_t next, size_t len)
{
	uint8_t *h;

	assert_true(len >= 8 && len % 8 == 0 && len <= 2048);
	h = b_grow(b, len);
	h[0] = next;
	h[1] = (uint8_t)(len / 8 - 1);
}

/* Authentication header: len bytes, in 4-byte units minus 2 on the wire. */
static void
b_ah(struct build *b, uint8_t next, size_t len)
{
	uint8_t *h;

	assert_true(len >= 12 && len % 4 == 0);
	h = b_grow(b, len);
	h[0] = next;
	h[1] = (uint8_t)(len / 4 - 2);
	memcpy(h + 4, "\x00\x00\x10\x01", 4);	/* SPI */
}

static void
b_frag6(struct build *b, uint8_t next, uint16_t offset8, int more)
{
	uint8_t *h = b_grow(b, 8);

	h[0] = next;
	put16(h + 2, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
	memcpy(h + 4, "\xca\xfe\xf0\x0d", 4);	/* identification */
}

/* TCP header with optlen bytes of options (NOPs). */
static void
b_tcp(struct build *b, uint16_t sport, uint16_t dport, uint8_t flags,
    size_t optlen)
{
	uint8_t *th;

	assert_true(optlen % 4 == 0 && optlen <= 40);
	th = b_grow(b, 20 + optlen);
	put16(th, sport);
	put16(th + 2, dport);
	th[12] = (uint8_t)((5 + optlen / 4) << 4);
	th[13] = flags;
	put16(th + 14, 65535);
	memset(th + 20, 1, optlen);
}

static void
b_udp(struct build *b, uint16_t sport, uint16_t dport)
{
	uint8_t *uh;

	b->udp_off = b->len;
	uh = b_grow(b, 8);
	put16(uh, sport);
	put16(uh + 2, dport);
}

static void
b_icmp(struct build *b, uint8_t type, uint8_t code)
{
	uint8_t *ih = b_grow(b, 8);

	ih[0] = type;
	ih[1] = code;
	put16(ih + 4, 0x4242);		/* echo id */
	put16(ih + 6, 1);		/* echo seq */
}

static void
b_data(struct build *b, size_t n)
{
	uint8_t *d = b_grow(b, n);
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = (uint8_t)('a' + i % 26);
}

/* Set the IP length field (and UDP's) from what was built. */
static void
b_finish(struct build *b)
{
	if ((b->b[0] >> 4) == 4)
		put16(b->b + 2, (uint16_t)b->len);
	else
		put16(b->b + 4, (uint16_t)(b->len - 40));
	if (b->udp_off != 0)
		put16(b->b + b->udp_off + 4, (uint16_t)(b->len - b->udp_off));
}

/* Parse the first caplen bytes of b from a heap copy of exactly that size. */
static enum pkt_status
parse_cap(const struct build *b, size_t caplen, struct pkt *p)
{
	enum pkt_status st;
	uint8_t *copy;

	copy = malloc(caplen > 0 ? caplen : 1);
	assert_non_null(copy);
	memcpy(copy, b->b, caplen);
	st = pkt_parse(copy, caplen, p);
	free(copy);
	return st;
}

static enum pkt_status
parse_all(const struct build *b, struct pkt *p)
{
	return parse_cap(b, b->len, p);
}

static void
assert_ok(enum pkt_status st, const struct pkt *p)
{
	if (st != PKT_OK)
		fail_msg("expected PKT_OK, got MALFORMED: %s", p->error);
	assert_null(p->error);
}

static void
assert_malformed(enum pkt_status st, const struct pkt *p, const char *why)
{
	assert_int_equal(st, PKT_MALFORMED);
	assert_non_null(p->error);
	assert_string_equal(p->error, why);
	assert_int_equal(p->flags & (PKT_F_PORTS | PKT_F_ICMP), 0);
}

/* IPv4 */

static void
test_ipv4_tcp_syn_gives_ports_and_flags(void **state)
{
	struct pkt p;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 40000, 22, TH_SYN, 0);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 22);
	assert_int_equal(p.tcp_flags, TH_SYN);
	assert_int_equal(p.ttl, 64);
	assert_int_equal(p.ip_len, 40);
	assert_int_equal(p.l4_offset, 20);
	assert_int_equal(p.payload_offset, 40);
	assert_int_equal(p.payload_len, 0);
	assert_string_equal(pkt_addr_str(&p, p.src, a, sizeof(a)), "192.0.2.1");
	assert_string_equal(pkt_addr_str(&p, p.dst, a, sizeof(a)),
	    "198.51.100.7");
}

static void
test_ipv4_udp_gives_ports_and_payload(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_udp(&B, 5353, 7000);
	b_data(&B, 13);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 7000);
	assert_int_equal(p.tcp_flags, 0);
	assert_int_equal(p.payload_offset, 28);
	assert_int_equal(p.payload_len, 13);
	assert_memory_equal(B.b + p.payload_offset, "abcdefghijklm", 13);
}

static void
test_ipv4_icmp_echo_gives_type_and_code(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_ICMP, 0);
	b_icmp(&B, 8, 0);
	b_data(&B, 4);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_ICMP);
	assert_int_equal(p.flags, PKT_F_ICMP);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.payload_offset, 28);
	assert_int_equal(p.payload_len, 4);

	b_ipv4(&B, IPPROTO_ICMP, 0);
	b_icmp(&B, 3, 13);		/* unreachable, admin. prohibited */
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 13);
}

static void
test_ipv4_options_are_skipped(void **state)
{
	struct pkt p;
	size_t opt;

	(void)state;
	for (opt = 4; opt <= 40; opt += 4) {
		b_ipv4(&B, IPPROTO_TCP, opt);
		b_tcp(&B, 1234, 8000, TH_SYN, 0);
		b_finish(&B);
		assert_ok(parse_all(&B, &p), &p);
		assert_int_equal(p.l4_offset, 20 + opt);
		assert_int_equal(p.sport, 1234);
		assert_int_equal(p.dport, 8000);
		assert_int_equal(p.tcp_flags, TH_SYN);
	}
}

static void
test_ipv4_header_length_below_5_is_malformed(void **state)
{
	static const char *const why[] = {
		"IPv4 header length 0 < 5", "IPv4 header length 1 < 5",
		"IPv4 header length 2 < 5", "IPv4 header length 3 < 5",
		"IPv4 header length 4 < 5",
	};
	struct pkt p;
	uint8_t ihl;

	(void)state;
	for (ihl = 0; ihl < 5; ihl++) {
		b_ipv4(&B, IPPROTO_TCP, 0);
		b_tcp(&B, 1, 2, TH_SYN, 0);
		b_finish(&B);
		B.b[0] = (uint8_t)(0x40 | ihl);
		assert_malformed(parse_all(&B, &p), &p, why[ihl]);
	}
}

static void
test_ipv4_header_longer_than_total_length_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 8);
	b_udp(&B, 1, 2);
	b_finish(&B);
	put16(B.b + 2, 24);		/* header alone is 28 */
	assert_malformed(parse_all(&B, &p), &p,
	    "IPv4 total length shorter than its header");
}

static void
test_ipv4_capture_inside_ip_header_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 12);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	assert_malformed(parse_cap(&B, 19, &p), &p, "truncated IPv4 header");
	assert_malformed(parse_cap(&B, 20, &p), &p, "truncated IPv4 options");
	assert_malformed(parse_cap(&B, 31, &p), &p, "truncated IPv4 options");
	assert_ok(parse_cap(&B, 32, &p), &p);
	assert_int_equal(p.flags, PKT_F_L4_TRUNC);
}

static void
test_ipv4_first_fragment_has_ports(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_ipv4_frag(&B, 0, 1);
	b_tcp(&B, 1111, 2222, TH_ACK, 0);
	b_data(&B, 16);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_PORTS);
	assert_int_equal(p.dport, 2222);
}

static void
test_ipv4_later_fragment_has_no_ports(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_ipv4_frag(&B, 185, 1);	/* offset 1480 bytes */
	b_data(&B, 24);			/* looks like a UDP header, is not */
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_LATER_FRAG);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_int_equal(p.payload_offset, 20);
	assert_int_equal(p.payload_len, 24);

	b_ipv4_frag(&B, 185, 0);	/* the last fragment: no MF */
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_LATER_FRAG);
}

static void
test_ipv4_dont_fragment_is_not_a_fragment(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	put16(B.b + 6, 0x4000);		/* DF */
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
}

static void
test_ipv4_first_fragment_udp_length_covers_whole_datagram(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_ipv4_frag(&B, 0, 1);
	b_udp(&B, 53, 33333);
	b_data(&B, 64);
	b_finish(&B);
	put16(B.b + B.udp_off + 4, 3000);	/* the whole datagram */
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_PORTS);
	assert_int_equal(p.payload_len, 64);

	b_ipv4_frag(&B, 0, 0);		/* not a fragment: now it lies */
	assert_malformed(parse_all(&B, &p), &p,
	    "UDP length beyond the IP packet");
}

static void
test_ipv4_total_length_zero_means_unknown(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 443, 50000, TH_ACK | TH_PSH, 0);
	b_data(&B, 100);
	/* no b_finish: total length stays 0 like a BIG TCP super-packet */
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS | PKT_F_LEN_UNKNOWN);
	assert_int_equal(p.ip_len, 0);
	assert_int_equal(p.payload_len, 100);
}

static void
test_capture_longer_than_ip_packet_ignores_trailer(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_udp(&B, 1000, 2000);
	b_data(&B, 6);
	b_finish(&B);
	b_data(&B, 18);			/* Ethernet-style padding */
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.ip_len, 34);
	assert_int_equal(p.payload_len, 6);

	b_ipv4(&B, IPPROTO_ESP, 0);
	b_data(&B, 16);
	b_finish(&B);
	b_data(&B, 10);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.payload_len, 16);
}

/* Capture shorter than the packet */

static void
test_capture_shorter_than_packet_is_fine(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 40000, 443, TH_ACK, 12);
	b_data(&B, 1400);
	b_finish(&B);
	assert_ok(parse_cap(&B, 80, &p), &p);
	assert_int_equal(p.ip_len, 1452);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.payload_offset, 52);
	assert_int_equal(p.payload_len, 28);
	assert_ok(parse_cap(&B, 52, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.payload_len, 0);
}

static void
test_capture_inside_tcp_fixed_header_gives_no_ports(void **state)
{
	struct pkt p;
	size_t cap;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 40000, 22, TH_SYN, 0);
	b_data(&B, 10);
	b_finish(&B);
	for (cap = 20; cap < 40; cap++) {
		assert_ok(parse_cap(&B, cap, &p), &p);
		assert_int_equal(p.flags, PKT_F_L4_TRUNC);
		assert_int_equal(p.proto, IPPROTO_TCP);
		assert_int_equal(p.l4_offset, 20);
		assert_int_equal(p.sport, 0);
		assert_int_equal(p.tcp_flags, 0);
		assert_int_equal(p.payload_len, 0);
	}
}

static void
test_capture_inside_tcp_options_keeps_ports_and_flags(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 40000, 22, TH_SYN, 20);
	b_finish(&B);
	assert_ok(parse_cap(&B, 45, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS | PKT_F_L4_TRUNC);
	assert_int_equal(p.dport, 22);
	assert_int_equal(p.tcp_flags, TH_SYN);
	assert_int_equal(p.payload_offset, 0);
	assert_int_equal(p.payload_len, 0);
}

/* TCP */

static void
test_tcp_data_offset_below_5_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	B.b[20 + 12] = 4 << 4;
	assert_malformed(parse_all(&B, &p), &p, "TCP data offset 4 < 5");
	B.b[20 + 12] = 0;
	assert_malformed(parse_all(&B, &p), &p, "TCP data offset 0 < 5");
}

static void
test_tcp_data_offset_beyond_ip_packet_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 1, 2, TH_SYN, 8);
	b_finish(&B);
	B.b[20 + 12] = 8 << 4;		/* claims 32 bytes, packet has 28 */
	assert_malformed(parse_all(&B, &p), &p,
	    "TCP data offset beyond the IP packet");
	/* The same lie in a capture that is short anyway. */
	assert_malformed(parse_cap(&B, 44, &p), &p,
	    "TCP data offset beyond the IP packet");
}

static void
test_tcp_header_beyond_ip_length_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	put16(B.b + 2, 30);		/* IP says 10 bytes of TCP */
	assert_malformed(parse_all(&B, &p), &p, "truncated TCP header");
	/* The capture holding fewer bytes than the lie changes nothing. */
	assert_malformed(parse_cap(&B, 32, &p), &p, "truncated TCP header");
}

static void
test_tcp_every_flag_combination_is_reported(void **state)
{
	struct pkt p;
	unsigned int f;

	(void)state;
	for (f = 0; f < 256; f++) {
		b_ipv4(&B, IPPROTO_TCP, 0);
		b_tcp(&B, 5000, 6000, (uint8_t)f, 0);
		b_finish(&B);
		assert_ok(parse_all(&B, &p), &p);
		assert_int_equal(p.tcp_flags, f);
	}
	b_ipv6(&B, IPPROTO_TCP);
	b_tcp(&B, 5000, 6000, TH_FIN | TH_ACK, 0);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.tcp_flags, TH_FIN | TH_ACK);
	assert_true((p.tcp_flags & (TH_SYN | TH_RST)) == 0);
}

static void
test_tcp_payload_after_options(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 4);
	b_tcp(&B, 1, 2, TH_PSH | TH_ACK, 40);
	b_data(&B, 7);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.l4_offset, 24);
	assert_int_equal(p.payload_offset, 24 + 60);
	assert_int_equal(p.payload_len, 7);
}

/* UDP */

static void
test_udp_length_below_8_is_malformed(void **state)
{
	struct pkt p;
	uint16_t ulen;

	(void)state;
	for (ulen = 0; ulen < 8; ulen++) {
		b_ipv4(&B, IPPROTO_UDP, 0);
		b_udp(&B, 1, 2);
		b_finish(&B);
		put16(B.b + B.udp_off + 4, ulen);
		assert_malformed(parse_all(&B, &p), &p, "UDP length < 8");
	}
}

static void
test_udp_length_beyond_ip_packet_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_udp(&B, 1, 2);
	b_data(&B, 10);
	b_finish(&B);
	put16(B.b + B.udp_off + 4, 19);
	assert_malformed(parse_all(&B, &p), &p,
	    "UDP length beyond the IP packet");
	/* A short capture does not hide it: the IP length is known. */
	assert_malformed(parse_cap(&B, 28, &p), &p,
	    "UDP length beyond the IP packet");
}

static void
test_udp_length_shorter_than_ip_trims_payload(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_udp(&B, 1, 2);
	b_data(&B, 10);
	b_finish(&B);
	put16(B.b + B.udp_off + 4, 12);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.payload_len, 4);
}

static void
test_udp_header_beyond_ip_length_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_UDP, 0);
	b_udp(&B, 1, 2);
	b_finish(&B);
	put16(B.b + 2, 24);
	assert_malformed(parse_all(&B, &p), &p, "truncated UDP header");
}

static void
test_udplite_sctp_dccp_give_ports(void **state)
{
	struct pkt p;
	uint8_t *h;

	(void)state;
	b_ipv4(&B, IPPROTO_UDPLITE, 0);
	h = b_grow(&B, 8);
	put16(h, 10);
	put16(h + 2, 11);		/* coverage 0: the whole packet */
	b_data(&B, 5);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.dport, 11);
	assert_int_equal(p.payload_len, 5);
	put16(h + 4, 4);
	assert_malformed(parse_all(&B, &p), &p,
	    "UDP-Lite checksum coverage < 8");

	b_ipv6(&B, IPPROTO_SCTP);
	h = b_grow(&B, 12);
	put16(h, 38412);
	put16(h + 2, 2905);
	b_data(&B, 16);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.sport, 38412);
	assert_int_equal(p.dport, 2905);
	assert_int_equal(p.payload_offset, 52);

	b_ipv4(&B, IPPROTO_DCCP, 0);
	h = b_grow(&B, 16);
	put16(h, 5004);
	put16(h + 2, 5005);
	h[4] = 4;			/* data offset: 16 bytes */
	h[8] = 1;			/* X: 48-bit sequence numbers */
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.dport, 5005);
	h[4] = 3;
	assert_malformed(parse_all(&B, &p), &p,
	    "DCCP data offset shorter than its header");
}

static void
test_sctp_dccp_udplite_lies_and_short_captures(void **state)
{
	struct pkt p;
	uint8_t *h;

	(void)state;
	b_ipv4(&B, IPPROTO_SCTP, 0);
	h = b_grow(&B, 12);
	put16(h + 2, 2905);
	b_finish(&B);
	assert_ok(parse_cap(&B, 31, &p), &p);
	assert_int_equal(p.flags, PKT_F_L4_TRUNC);
	put16(B.b + 2, 31);
	assert_malformed(parse_all(&B, &p), &p, "truncated SCTP header");

	b_ipv6(&B, IPPROTO_DCCP);
	h = b_grow(&B, 24);
	put16(h + 2, 5005);
	h[4] = 6;			/* 24 bytes: 12 + 12 of options */
	b_finish(&B);
	assert_ok(parse_cap(&B, 51, &p), &p);
	assert_int_equal(p.flags, PKT_F_L4_TRUNC);
	assert_ok(parse_cap(&B, 60, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS | PKT_F_L4_TRUNC);
	assert_int_equal(p.dport, 5005);
	h[4] = 7;
	assert_malformed(parse_all(&B, &p), &p,
	    "DCCP data offset beyond the IP packet");
	put16(B.b + 4, 11);
	assert_malformed(parse_all(&B, &p), &p, "truncated DCCP header");

	b_ipv4(&B, IPPROTO_UDPLITE, 0);
	h = b_grow(&B, 8);
	put16(h + 4, 12);		/* coverage past the 8-byte packet */
	b_finish(&B);
	assert_malformed(parse_all(&B, &p), &p,
	    "UDP-Lite checksum coverage beyond the IP packet");
	put16(h + 4, 8);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
}

/* IPv6 */

static void
test_ipv6_tcp_gives_ports_and_flags(void **state)
{
	struct pkt p;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	b_ipv6(&B, IPPROTO_TCP);
	b_tcp(&B, 50000, 9000, TH_FIN | TH_ACK, 0);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.sport, 50000);
	assert_int_equal(p.dport, 9000);
	assert_int_equal(p.tcp_flags, TH_FIN | TH_ACK);
	assert_int_equal(p.ttl, 255);
	assert_int_equal(p.ip_len, 60);
	assert_int_equal(p.l4_offset, 40);
	assert_string_equal(pkt_addr_str(&p, p.src, a, sizeof(a)),
	    "2001:db8::1");
	assert_string_equal(pkt_addr_str(&p, p.dst, a, sizeof(a)),
	    "2001:db8:ffff::2");
}

static void
test_ipv6_udp_gives_ports_and_payload(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_UDP);
	b_udp(&B, 7000, 7001);
	b_data(&B, 3);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.dport, 7001);
	assert_int_equal(p.payload_offset, 48);
	assert_int_equal(p.payload_len, 3);
}

static void
test_ipv6_icmpv6_gives_type_and_code(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_ICMPV6);
	b_icmp(&B, 128, 0);		/* echo request */
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_ICMPV6);
	assert_int_equal(p.flags, PKT_F_ICMP);
	assert_int_equal(p.icmp_type, 128);

	b_ipv6(&B, IPPROTO_ICMPV6);
	b_icmp(&B, 1, 4);		/* port unreachable */
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.icmp_type, 1);
	assert_int_equal(p.icmp_code, 4);

	put16(B.b + 4, 4);		/* IP says half the ICMPv6 header */
	assert_malformed(parse_all(&B, &p), &p, "truncated ICMPv6 header");
}

static void
test_ipv6_extension_chain_is_walked(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_HOPOPTS);
	b_ext(&B, IPPROTO_DSTOPTS, 8);
	b_ext(&B, IPPROTO_ROUTING, 24);
	b_ext(&B, IPPROTO_AH, 16);
	b_ah(&B, IPPROTO_DSTOPTS, 24);
	b_ext(&B, IPPROTO_TCP, 2048);
	b_tcp(&B, 6000, 22, TH_SYN, 0);
	b_data(&B, 5);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.l4_offset, 40 + 8 + 24 + 16 + 24 + 2048);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.dport, 22);
	assert_int_equal(p.tcp_flags, TH_SYN);
	assert_int_equal(p.payload_len, 5);
}

static void
test_ipv6_ah_length_is_in_4_byte_units(void **state)
{
	struct pkt p;

	(void)state;
	/* hdrlen 4: (4 + 2) * 4 = 24 bytes; in 8-byte units it would be 40. */
	b_ipv6(&B, IPPROTO_AH);
	b_ah(&B, IPPROTO_UDP, 24);
	b_udp(&B, 4500, 4501);
	b_data(&B, 32);
	b_finish(&B);
	assert_int_equal(B.b[41], 4);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.l4_offset, 64);
	assert_int_equal(p.sport, 4500);
	assert_int_equal(p.dport, 4501);
}

static void
test_ipv6_first_fragment_has_ports(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_FRAGMENT);
	b_frag6(&B, IPPROTO_UDP, 0, 1);
	b_udp(&B, 53, 40000);
	b_data(&B, 16);
	b_finish(&B);
	put16(B.b + B.udp_off + 4, 4000);	/* the whole datagram */
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_PORTS);
	assert_int_equal(p.l4_offset, 48);
	assert_int_equal(p.sport, 53);
}

static void
test_ipv6_later_fragment_has_no_ports(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_HOPOPTS);
	b_ext(&B, IPPROTO_FRAGMENT, 8);
	b_frag6(&B, IPPROTO_TCP, 181, 1);
	b_data(&B, 40);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_LATER_FRAG);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.tcp_flags, 0);
	assert_int_equal(p.payload_offset, 56);
	assert_int_equal(p.payload_len, 40);
}

static void
test_ipv6_atomic_fragment_is_not_a_fragment(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_FRAGMENT);
	b_frag6(&B, IPPROTO_TCP, 0, 0);
	b_tcp(&B, 1, 443, TH_SYN, 0);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS);
	assert_int_equal(p.dport, 443);
}

static void
test_ipv6_no_next_header_is_ok(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_DSTOPTS);
	b_ext(&B, IPPROTO_NONE, 8);
	b_data(&B, 8);			/* ignored after "no next header" */
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_NONE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.l4_offset, 48);
	assert_int_equal(p.payload_len, 0);
}

static void
test_ipv6_extension_beyond_payload_length_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_ROUTING);
	b_ext(&B, IPPROTO_TCP, 16);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	B.b[41] = 200;			/* 1608 bytes in a 36-byte payload */
	assert_malformed(parse_all(&B, &p), &p,
	    "IPv6 extension header beyond the payload length");

	b_ipv6(&B, IPPROTO_AH);
	b_ah(&B, IPPROTO_TCP, 12);
	b_finish(&B);
	B.b[41] = 2;			/* 16 bytes in a 12-byte payload */
	assert_malformed(parse_all(&B, &p), &p,
	    "IPv6 extension header beyond the payload length");
}

static void
test_ipv6_capture_inside_extension_headers_is_malformed(void **state)
{
	struct pkt p;
	size_t cap;

	(void)state;
	b_ipv6(&B, IPPROTO_HOPOPTS);
	b_ext(&B, IPPROTO_FRAGMENT, 16);
	b_frag6(&B, IPPROTO_UDP, 0, 1);
	b_udp(&B, 1, 2);
	b_data(&B, 100);
	b_finish(&B);
	for (cap = 40; cap < 64; cap++)
		assert_malformed(parse_cap(&B, cap, &p), &p,
		    "capture ends inside the IPv6 extension headers");
	assert_ok(parse_cap(&B, 64, &p), &p);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_L4_TRUNC);
	assert_ok(parse_cap(&B, 72, &p), &p);
	assert_int_equal(p.flags, PKT_F_FRAGMENT | PKT_F_PORTS);
}

static void
test_ipv6_hop_by_hop_not_first_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_DSTOPTS);
	b_ext(&B, IPPROTO_HOPOPTS, 8);
	b_ext(&B, IPPROTO_TCP, 8);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	assert_malformed(parse_all(&B, &p), &p,
	    "IPv6 hop-by-hop options not right after the IPv6 header");
}

static void
test_ipv6_payload_length_zero_means_unknown(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_TCP);
	b_tcp(&B, 443, 40000, TH_ACK, 0);
	b_data(&B, 30);
	/* no b_finish: payload length 0 like a BIG TCP super-packet */
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.flags, PKT_F_PORTS | PKT_F_LEN_UNKNOWN);
	assert_int_equal(p.ip_len, 0);
	assert_int_equal(p.payload_len, 30);
	/* Unknown length: a short capture is truncation, not a lie. */
	assert_ok(parse_cap(&B, 50, &p), &p);
	assert_int_equal(p.flags, PKT_F_L4_TRUNC | PKT_F_LEN_UNKNOWN);
}

static void
test_ipv6_truncated_header_is_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_TCP);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	assert_malformed(parse_cap(&B, 39, &p), &p, "truncated IPv6 header");
	assert_int_equal(p.family, AF_INET6);
}

static void
test_ipv6_max_payload_length_saturates_ip_len(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv6(&B, IPPROTO_UDP);
	b_udp(&B, 1, 2);
	b_data(&B, 65535 - 8);
	b_finish(&B);
	assert_int_equal(B.len, 65575);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.ip_len, 65535);
	assert_int_equal(p.flags, PKT_F_PORTS);
	/* Only 65535 bytes are looked at: the payload stops there. */
	assert_int_equal(p.payload_offset, 48);
	assert_int_equal(p.payload_len, 65535 - 48);
}

/* Other protocols and general cases */

static void
test_esp_and_unknown_protocols_are_ok_without_ports(void **state)
{
	static const uint8_t protos[] = { IPPROTO_ESP, IPPROTO_GRE, 4, 41,
	    IPPROTO_AH, 253 };
	struct pkt p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(protos); i++) {
		b_ipv4(&B, protos[i], 0);
		b_data(&B, 24);
		b_finish(&B);
		assert_ok(parse_all(&B, &p), &p);
		assert_int_equal(p.proto, protos[i]);
		assert_int_equal(p.flags, 0);
		assert_int_equal(p.sport, 0);
		assert_int_equal(p.l4_offset, 20);
		assert_int_equal(p.payload_len, 24);
	}
	b_ipv6(&B, IPPROTO_ESP);
	b_data(&B, 24);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_int_equal(p.proto, IPPROTO_ESP);
	assert_int_equal(p.flags, 0);
}

static void
test_bad_version_and_empty_are_malformed(void **state)
{
	struct pkt p;

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	B.b[0] = 0x55;
	assert_malformed(parse_all(&B, &p), &p,
	    "IP version is neither 4 nor 6");
	assert_malformed(pkt_parse(NULL, 0, &p), &p, "empty packet");
}

static void
test_malformed_keeps_addresses_for_logging(void **state)
{
	struct pkt p;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 0);
	b_tcp(&B, 1, 2, TH_SYN, 0);
	b_finish(&B);
	B.b[32] = 0x10;
	assert_int_equal(parse_all(&B, &p), PKT_MALFORMED);
	assert_int_equal(p.family, AF_INET);
	assert_string_equal(pkt_addr_str(&p, p.src, a, sizeof(a)), "192.0.2.1");
	assert_int_equal(p.l4_offset, 0);
	assert_int_equal(p.sport, 0);
}

static void
test_parse_resets_every_field(void **state)
{
	struct pkt p, clean;

	(void)state;
	b_ipv4(&B, IPPROTO_ESP, 0);
	b_finish(&B);
	memset(&clean, 0, sizeof(clean));
	assert_ok(parse_all(&B, &clean), &clean);
	memset(&p, 0xa5, sizeof(p));
	assert_ok(parse_all(&B, &p), &p);
	assert_memory_equal(&p, &clean, sizeof(p));
}

/*
 * Every prefix of a valid packet: MALFORMED while the IP headers are cut,
 * then OK; ports exactly when the fixed transport header is in; never a
 * read past the prefix (heap copy of that size, ASan).
 */
static void
check_prefixes(const struct build *b, size_t ip_hdrs, size_t l4_fixed)
{
	struct pkt full, p;
	enum pkt_status st;
	size_t cap;

	assert_ok(parse_all(b, &full), &full);
	for (cap = 0; cap <= b->len; cap++) {
		st = parse_cap(b, cap, &p);
		if (cap < ip_hdrs) {
			assert_int_equal(st, PKT_MALFORMED);
			assert_non_null(p.error);
			continue;
		}
		assert_ok(st, &p);
		assert_int_equal(p.proto, full.proto);
		assert_int_equal(p.l4_offset, full.l4_offset);
		assert_int_equal(p.ip_len, full.ip_len);
		assert_true(p.payload_offset + p.payload_len <= cap);
		if (cap < ip_hdrs + l4_fixed) {
			assert_true(p.flags & PKT_F_L4_TRUNC);
			assert_false(p.flags & (PKT_F_PORTS | PKT_F_ICMP));
			continue;
		}
		assert_int_equal(p.flags & (PKT_F_PORTS | PKT_F_ICMP),
		    full.flags & (PKT_F_PORTS | PKT_F_ICMP));
		assert_int_equal(p.sport, full.sport);
		assert_int_equal(p.dport, full.dport);
		assert_int_equal(p.tcp_flags, full.tcp_flags);
		assert_int_equal(p.icmp_type, full.icmp_type);
	}
	assert_memory_equal(&p, &full, sizeof(p));
}

static void
test_every_prefix_parses_consistently(void **state)
{
	(void)state;
	b_ipv4(&B, IPPROTO_TCP, 8);
	b_tcp(&B, 1, 22, TH_SYN, 12);
	b_data(&B, 5);
	b_finish(&B);
	check_prefixes(&B, 28, 20);	/* options may be cut: ports stay */

	b_ipv4(&B, IPPROTO_UDP, 0);
	b_udp(&B, 1, 7000);
	b_data(&B, 5);
	b_finish(&B);
	check_prefixes(&B, 20, 8);

	b_ipv4(&B, IPPROTO_ICMP, 0);
	b_icmp(&B, 8, 0);
	b_finish(&B);
	check_prefixes(&B, 20, 8);

	b_ipv6(&B, IPPROTO_HOPOPTS);
	b_ext(&B, IPPROTO_ROUTING, 8);
	b_ext(&B, IPPROTO_FRAGMENT, 24);
	b_frag6(&B, IPPROTO_AH, 0, 1);
	b_ah(&B, IPPROTO_DSTOPTS, 16);
	b_ext(&B, IPPROTO_TCP, 8);
	b_tcp(&B, 1, 22, TH_ACK, 4);
	b_data(&B, 3);
	b_finish(&B);
	check_prefixes(&B, 104, 20);

	b_ipv6(&B, IPPROTO_ICMPV6);
	b_icmp(&B, 135, 0);
	b_data(&B, 16);
	b_finish(&B);
	check_prefixes(&B, 40, 8);

	b_ipv6(&B, IPPROTO_FRAGMENT);
	b_frag6(&B, IPPROTO_UDP, 100, 0);
	b_data(&B, 20);
	b_finish(&B);
	check_prefixes(&B, 48, 0);
}

/* Tiny xorshift: the same "random" packets on every run. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_lying_lengths_never_read_out_of_bounds(void **state)
{
	struct pkt p;
	enum pkt_status st;
	uint32_t seed = 0x2545f491;
	size_t i, n, len;

	(void)state;
	b_ipv6(&B, IPPROTO_HOPOPTS);
	b_ext(&B, IPPROTO_FRAGMENT, 8);
	b_frag6(&B, IPPROTO_TCP, 0, 1);
	b_tcp(&B, 1, 22, TH_SYN, 8);
	b_data(&B, 8);
	b_finish(&B);
	len = B.len;
	for (i = 0; i < 20000; i++) {
		static struct build m;

		memcpy(m.b, B.b, len);
		m.len = len;
		/* Break a few length or type bytes, keep the version nibble. */
		for (n = 0; n < 1 + next_rand(&seed) % 3; n++)
			m.b[4 + next_rand(&seed) % (len - 4)] =
			    (uint8_t)next_rand(&seed);
		st = parse_cap(&m, next_rand(&seed) % (len + 1), &p);
		if (st == PKT_OK) {
			assert_null(p.error);
			assert_true(p.payload_offset + p.payload_len <= m.len);
		} else {
			assert_non_null(p.error);
			assert_int_equal(p.flags, 0);
		}
	}
}

static void
test_addr_str_handles_both_families_and_small_buffers(void **state)
{
	struct pkt p;
	char small[8], a[INET6_ADDRSTRLEN];

	(void)state;
	b_ipv6(&B, IPPROTO_NONE);
	b_finish(&B);
	assert_ok(parse_all(&B, &p), &p);
	assert_string_equal(pkt_addr_str(&p, p.src, small, sizeof(small)), "?");
	assert_string_equal(pkt_addr_str(&p, p.src, a, sizeof(a)),
	    "2001:db8::1");
	memset(&p, 0, sizeof(p));	/* family unknown */
	assert_string_equal(pkt_addr_str(&p, p.src, a, sizeof(a)), "?");
}

static void
test_proto_name_gives_names_or_numbers(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(pkt_proto_name(IPPROTO_TCP, buf, sizeof(buf)),
	    "tcp");
	assert_string_equal(pkt_proto_name(IPPROTO_UDP, buf, sizeof(buf)),
	    "udp");
	assert_string_equal(pkt_proto_name(IPPROTO_ICMPV6, buf, sizeof(buf)),
	    "icmpv6");
	assert_string_equal(pkt_proto_name(IPPROTO_ESP, buf, sizeof(buf)),
	    "esp");
	assert_string_equal(pkt_proto_name(143, buf, sizeof(buf)), "143");
	assert_string_equal(pkt_proto_name(255, buf, sizeof(buf)), "255");
	assert_string_equal(pkt_proto_name(255, buf, 3), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp_syn_gives_ports_and_flags),
		cmocka_unit_test(test_ipv4_udp_gives_ports_and_payload),
		cmocka_unit_test(test_ipv4_icmp_echo_gives_type_and_code),
		cmocka_unit_test(test_ipv4_options_are_skipped),
		cmocka_unit_test(test_ipv4_header_length_below_5_is_malformed),
		cmocka_unit_test(test_ipv4_header_longer_than_total_length_is_malformed),
		cmocka_unit_test(test_ipv4_capture_inside_ip_header_is_malformed),
		cmocka_unit_test(test_ipv4_first_fragment_has_ports),
		cmocka_unit_test(test_ipv4_later_fragment_has_no_ports),
		cmocka_unit_test(test_ipv4_dont_fragment_is_not_a_fragment),
		cmocka_unit_test(test_ipv4_first_fragment_udp_length_covers_whole_datagram),
		cmocka_unit_test(test_ipv4_total_length_zero_means_unknown),
		cmocka_unit_test(test_capture_longer_than_ip_packet_ignores_trailer),
		cmocka_unit_test(test_capture_shorter_than_packet_is_fine),
		cmocka_unit_test(test_capture_inside_tcp_fixed_header_gives_no_ports),
		cmocka_unit_test(test_capture_inside_tcp_options_keeps_ports_and_flags),
		cmocka_unit_test(test_tcp_data_offset_below_5_is_malformed),
		cmocka_unit_test(test_tcp_data_offset_beyond_ip_packet_is_malformed),
		cmocka_unit_test(test_tcp_header_beyond_ip_length_is_malformed),
		cmocka_unit_test(test_tcp_every_flag_combination_is_reported),
		cmocka_unit_test(test_tcp_payload_after_options),
		cmocka_unit_test(test_udp_length_below_8_is_malformed),
		cmocka_unit_test(test_udp_length_beyond_ip_packet_is_malformed),
		cmocka_unit_test(test_udp_length_shorter_than_ip_trims_payload),
		cmocka_unit_test(test_udp_header_beyond_ip_length_is_malformed),
		cmocka_unit_test(test_udplite_sctp_dccp_give_ports),
		cmocka_unit_test(test_sctp_dccp_udplite_lies_and_short_captures),
		cmocka_unit_test(test_ipv6_tcp_gives_ports_and_flags),
		cmocka_unit_test(test_ipv6_udp_gives_ports_and_payload),
		cmocka_unit_test(test_ipv6_icmpv6_gives_type_and_code),
		cmocka_unit_test(test_ipv6_extension_chain_is_walked),
		cmocka_unit_test(test_ipv6_ah_length_is_in_4_byte_units),
		cmocka_unit_test(test_ipv6_first_fragment_has_ports),
		cmocka_unit_test(test_ipv6_later_fragment_has_no_ports),
		cmocka_unit_test(test_ipv6_atomic_fragment_is_not_a_fragment),
		cmocka_unit_test(test_ipv6_no_next_header_is_ok),
		cmocka_unit_test(test_ipv6_extension_beyond_payload_length_is_malformed),
		cmocka_unit_test(test_ipv6_capture_inside_extension_headers_is_malformed),
		cmocka_unit_test(test_ipv6_hop_by_hop_not_first_is_malformed),
		cmocka_unit_test(test_ipv6_payload_length_zero_means_unknown),
		cmocka_unit_test(test_ipv6_truncated_header_is_malformed),
		cmocka_unit_test(test_ipv6_max_payload_length_saturates_ip_len),
		cmocka_unit_test(test_esp_and_unknown_protocols_are_ok_without_ports),
		cmocka_unit_test(test_bad_version_and_empty_are_malformed),
		cmocka_unit_test(test_malformed_keeps_addresses_for_logging),
		cmocka_unit_test(test_parse_resets_every_field),
		cmocka_unit_test(test_every_prefix_parses_consistently),
		cmocka_unit_test(test_lying_lengths_never_read_out_of_bounds),
		cmocka_unit_test(test_addr_str_handles_both_families_and_small_buffers),
		cmocka_unit_test(test_proto_name_gives_names_or_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
