/*
 * Packet parser: IPv4/IPv6 bytes (network header first) to struct pkt.
 *
 * Every read is checked against two ends: the capture (what NFQUEUE or
 * NFLOG copied to us) and the IP packet's own length field. A header that
 * runs past the IP length lies and makes the packet PKT_MALFORMED; a
 * transport header that only runs past the capture is our short copy range,
 * not the sender's fault, and gives PKT_OK with PKT_F_L4_TRUNC.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/packet.h"

#define IPV4_HDR_MIN	20
#define IPV6_HDR_LEN	40
#define TCP_HDR_MIN	20
#define UDP_HDR_LEN	8
#define SCTP_HDR_LEN	12
#define DCCP_HDR_MIN	12	/* generic header with X = 0; 16 with X = 1 */
#define ICMP_HDR_LEN	8	/* ICMP and ICMPv6 alike, as the kernel wants */
#define FRAG6_HDR_LEN	8

#define IPV4_MF		0x2000
#define IPV4_OFFMASK	0x1fff
#define IPV6_FRAG_OFFMASK 0xfff8
#define IPV6_FRAG_MF	0x0001

/* Where a header [off, off + n) lies. */
enum span {
	SPAN_IN,	/* within the capture and the IP packet */
	SPAN_CUT,	/* within the IP packet, past the end of the capture */
	SPAN_LIE,	/* past the end the IP header claims */
};

struct parse {
	const uint8_t *buf;
	size_t cap;		/* bytes captured, at most UINT16_MAX */
	size_t ip_end;		/* end the IP length claims, or SIZE_MAX */
	struct pkt *p;
};

static const char *const ipv4_ihl_error[5] = {
	"IPv4 header length 0 < 5",
	"IPv4 header length 1 < 5",
	"IPv4 header length 2 < 5",
	"IPv4 header length 3 < 5",
	"IPv4 header length 4 < 5",
};

static const char *const tcp_doff_error[5] = {
	"TCP data offset 0 < 5",
	"TCP data offset 1 < 5",
	"TCP data offset 2 < 5",
	"TCP data offset 3 < 5",
	"TCP data offset 4 < 5",
};

static uint16_t
get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static enum span
span_of(const struct parse *ps, size_t off, size_t n)
{
	/* off <= 65535 + 40 and n <= 2048: no overflow. */
	if (off + n > ps->ip_end)
		return SPAN_LIE;
	if (off + n > ps->cap)
		return SPAN_CUT;
	return SPAN_IN;
}

/* The last byte of the IP packet that we hold, plus one. */
static size_t
data_end(const struct parse *ps)
{
	return ps->ip_end < ps->cap ? ps->ip_end : ps->cap;
}

/*
 * Keep what helps a log line about the bad packet (family, addresses,
 * proto, ttl, ip_len); drop everything a trigger could match on.
 */
static enum pkt_status
malformed(struct pkt *p, const char *why)
{
	p->flags = 0;
	p->tcp_flags = 0;
	p->icmp_type = p->icmp_code = 0;
	p->sport = p->dport = 0;
	p->l4_offset = p->payload_offset = p->payload_len = 0;
	p->error = why;
	return PKT_MALFORMED;
}

/* Payload from start to end (a transport length), the IP end or the capture. */
static void
set_payload(struct parse *ps, size_t start, size_t end)
{
	size_t limit = data_end(ps);

	if (end > limit)
		end = limit;
	if (start > end)	/* no caller does; never wrap payload_len */
		end = start;
	ps->p->payload_offset = (uint16_t)start;
	ps->p->payload_len = (uint16_t)(end - start);
}

static enum pkt_status
l4_truncated(struct parse *ps)
{
	ps->p->flags |= PKT_F_L4_TRUNC;
	return PKT_OK;
}

static void
set_ports(struct parse *ps, size_t off)
{
	ps->p->sport = get16(ps->buf + off);
	ps->p->dport = get16(ps->buf + off + 2);
	ps->p->flags |= PKT_F_PORTS;
}

/* A non-first fragment: its data continues a transport header we never see. */
static enum pkt_status
later_fragment(struct parse *ps, size_t off)
{
	ps->p->flags |= PKT_F_FRAGMENT | PKT_F_LATER_FRAG;
	set_payload(ps, off, SIZE_MAX);
	return PKT_OK;
}

static enum pkt_status
parse_tcp(struct parse *ps, size_t off)
{
	const uint8_t *th = ps->buf + off;
	size_t hlen;

	switch (span_of(ps, off, TCP_HDR_MIN)) {
	case SPAN_LIE:
		return malformed(ps->p, "truncated TCP header");
	case SPAN_CUT:
		return l4_truncated(ps);
	case SPAN_IN:
		break;
	}
	hlen = (size_t)(th[12] >> 4) * 4;
	if (hlen < TCP_HDR_MIN)
		return malformed(ps->p, tcp_doff_error[th[12] >> 4]);
	switch (span_of(ps, off, hlen)) {
	case SPAN_LIE:
		return malformed(ps->p, "TCP data offset beyond the IP packet");
	case SPAN_CUT:
		/* Only options are missing: ports and flags are there. */
		ps->p->flags |= PKT_F_L4_TRUNC;
		break;
	case SPAN_IN:
		set_payload(ps, off + hlen, SIZE_MAX);
		break;
	}
	set_ports(ps, off);
	ps->p->tcp_flags = th[13];
	return PKT_OK;
}

/*
 * UDP's length field covers header and data; UDP-Lite's is the checksum
 * coverage instead (0 = all). The first fragment of a datagram carries the
 * whole datagram's length, longer than the fragment itself.
 */
static enum pkt_status
parse_udp(struct parse *ps, size_t off)
{
	struct pkt *p = ps->p;
	size_t ulen, end = SIZE_MAX;
	int lite = p->proto == IPPROTO_UDPLITE;

	switch (span_of(ps, off, UDP_HDR_LEN)) {
	case SPAN_LIE:
		return malformed(p, lite ? "truncated UDP-Lite header" :
		    "truncated UDP header");
	case SPAN_CUT:
		return l4_truncated(ps);
	case SPAN_IN:
		break;
	}
	ulen = get16(ps->buf + off + 4);
	if (lite) {
		if (ulen != 0 && ulen < UDP_HDR_LEN)
			return malformed(p, "UDP-Lite checksum coverage < 8");
		if (!(p->flags & PKT_F_FRAGMENT) && off + ulen > ps->ip_end)
			return malformed(p,
			    "UDP-Lite checksum coverage beyond the IP packet");
	} else if (ulen == 0 && (p->flags & PKT_F_LEN_UNKNOWN)) {
		/* Jumbogram or GSO: the length is the IP layer's business. */
	} else {
		if (ulen < UDP_HDR_LEN)
			return malformed(p, "UDP length < 8");
		if (!(p->flags & PKT_F_FRAGMENT) && off + ulen > ps->ip_end)
			return malformed(p, "UDP length beyond the IP packet");
		end = off + ulen;
	}
	set_ports(ps, off);
	set_payload(ps, off + UDP_HDR_LEN, end);
	return PKT_OK;
}

static enum pkt_status
parse_sctp(struct parse *ps, size_t off)
{
	switch (span_of(ps, off, SCTP_HDR_LEN)) {
	case SPAN_LIE:
		return malformed(ps->p, "truncated SCTP header");
	case SPAN_CUT:
		return l4_truncated(ps);
	case SPAN_IN:
		break;
	}
	set_ports(ps, off);
	set_payload(ps, off + SCTP_HDR_LEN, SIZE_MAX);
	return PKT_OK;
}

static enum pkt_status
parse_dccp(struct parse *ps, size_t off)
{
	const uint8_t *dh = ps->buf + off;
	size_t hlen, min;

	switch (span_of(ps, off, DCCP_HDR_MIN)) {
	case SPAN_LIE:
		return malformed(ps->p, "truncated DCCP header");
	case SPAN_CUT:
		return l4_truncated(ps);
	case SPAN_IN:
		break;
	}
	hlen = (size_t)dh[4] * 4;
	min = (dh[8] & 0x01) ? DCCP_HDR_MIN + 4 : DCCP_HDR_MIN;
	if (hlen < min)
		return malformed(ps->p,
		    "DCCP data offset shorter than its header");
	switch (span_of(ps, off, hlen)) {
	case SPAN_LIE:
		return malformed(ps->p,
		    "DCCP data offset beyond the IP packet");
	case SPAN_CUT:
		ps->p->flags |= PKT_F_L4_TRUNC;
		break;
	case SPAN_IN:
		set_payload(ps, off + hlen, SIZE_MAX);
		break;
	}
	set_ports(ps, off);
	return PKT_OK;
}

static enum pkt_status
parse_icmp(struct parse *ps, size_t off)
{
	switch (span_of(ps, off, ICMP_HDR_LEN)) {
	case SPAN_LIE:
		return malformed(ps->p, ps->p->proto == IPPROTO_ICMP ?
		    "truncated ICMP header" : "truncated ICMPv6 header");
	case SPAN_CUT:
		return l4_truncated(ps);
	case SPAN_IN:
		break;
	}
	ps->p->icmp_type = ps->buf[off];
	ps->p->icmp_code = ps->buf[off + 1];
	ps->p->flags |= PKT_F_ICMP;
	set_payload(ps, off + ICMP_HDR_LEN, SIZE_MAX);
	return PKT_OK;
}

/* The transport header of p->proto starts at off. */
static enum pkt_status
parse_l4(struct parse *ps, size_t off)
{
	ps->p->l4_offset = (uint16_t)off;
	switch (ps->p->proto) {
	case IPPROTO_TCP:
		return parse_tcp(ps, off);
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		return parse_udp(ps, off);
	case IPPROTO_SCTP:
		return parse_sctp(ps, off);
	case IPPROTO_DCCP:
		return parse_dccp(ps, off);
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return parse_icmp(ps, off);
	case IPPROTO_NONE:
		/* RFC 8200: whatever follows "no next header" is ignored. */
		set_payload(ps, off, off);
		return PKT_OK;
	default:
		/* ESP, GRE, tunnels ...: no ports, the rest is payload. */
		set_payload(ps, off, SIZE_MAX);
		return PKT_OK;
	}
}

static enum pkt_status
parse_ipv4(struct parse *ps)
{
	const uint8_t *ip = ps->buf;
	struct pkt *p = ps->p;
	size_t hlen, tot;
	uint16_t frag;

	if (ps->cap < IPV4_HDR_MIN)
		return malformed(p, "truncated IPv4 header");
	p->ttl = ip[8];
	p->proto = ip[9];
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
	tot = get16(ip + 2);
	p->ip_len = (uint16_t)tot;
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	if (hlen < IPV4_HDR_MIN)
		return malformed(p, ipv4_ihl_error[ip[0] & 0x0f]);
	if (tot == 0)
		/* TSO/BIG TCP super-packets leave it 0 (see iph_totlen()). */
		p->flags |= PKT_F_LEN_UNKNOWN;
	else if (tot < hlen)
		return malformed(p,
		    "IPv4 total length shorter than its header");
	else
		ps->ip_end = tot;
	if (hlen > ps->cap)
		return malformed(p, "truncated IPv4 options");

	frag = get16(ip + 6);
	if (frag & (IPV4_MF | IPV4_OFFMASK))
		p->flags |= PKT_F_FRAGMENT;
	if (frag & IPV4_OFFMASK)
		return later_fragment(ps, hlen);
	return parse_l4(ps, hlen);
}

/*
 * Length of the extension header at off, or 0 with *where telling how it
 * fails. Extension headers belong to the IP header: they must be captured.
 */
static size_t
ipv6_ext_len(const struct parse *ps, uint8_t type, size_t off,
    enum span *where)
{
	size_t hlen;

	if ((*where = span_of(ps, off, 2)) != SPAN_IN)
		return 0;
	switch (type) {
	case IPPROTO_FRAGMENT:
		hlen = FRAG6_HDR_LEN;
		break;
	case IPPROTO_AH:
		/* RFC 4302: in 4-byte units, minus 2. */
		hlen = ((size_t)ps->buf[off + 1] + 2) * 4;
		break;
	default:
		/* Hop-by-hop, routing, dest. options: 8-byte units, minus 1. */
		hlen = ((size_t)ps->buf[off + 1] + 1) * 8;
		break;
	}
	if ((*where = span_of(ps, off, hlen)) != SPAN_IN)
		return 0;
	return hlen;
}

static enum pkt_status
parse_ipv6(struct parse *ps)
{
	const uint8_t *ip = ps->buf;
	struct pkt *p = ps->p;
	size_t plen, off, hlen;
	enum span where;
	uint8_t next;
	uint16_t frag;

	if (ps->cap < IPV6_HDR_LEN)
		return malformed(p, "truncated IPv6 header");
	plen = get16(ip + 4);
	next = ip[6];
	p->ttl = ip[7];
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	if (plen == 0) {
		/* Jumbogram (RFC 2675) or a BIG TCP super-packet. */
		p->flags |= PKT_F_LEN_UNKNOWN;
	} else {
		ps->ip_end = IPV6_HDR_LEN + plen;
		p->ip_len = (uint16_t)(ps->ip_end > UINT16_MAX ? UINT16_MAX :
		    ps->ip_end);
	}

	for (off = IPV6_HDR_LEN;; off += hlen) {
		switch (next) {
		case IPPROTO_HOPOPTS:
			/* RFC 8200 4.1: only right after the IPv6 header. */
			if (off != IPV6_HDR_LEN)
				return malformed(p, "IPv6 hop-by-hop options "
				    "not right after the IPv6 header");
			break;
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			break;
		default:
			p->proto = next;
			return parse_l4(ps, off);
		}
		if ((hlen = ipv6_ext_len(ps, next, off, &where)) == 0)
			return malformed(p, where == SPAN_LIE ?
			    "IPv6 extension header beyond the payload length" :
			    "capture ends inside the IPv6 extension headers");
		if (next == IPPROTO_FRAGMENT) {
			frag = get16(ip + off + 2);
			/* Offset 0 without M: an atomic fragment (RFC 6946). */
			if (frag & (IPV6_FRAG_OFFMASK | IPV6_FRAG_MF))
				p->flags |= PKT_F_FRAGMENT;
			if (frag & IPV6_FRAG_OFFMASK) {
				p->proto = ip[off];
				return later_fragment(ps, off + hlen);
			}
		}
		next = ip[off];
	}
}

enum pkt_status
pkt_parse(const void *buf, size_t len, struct pkt *p)
{
	struct parse ps;

	memset(p, 0, sizeof(*p));
	if (len == 0)
		return malformed(p, "empty packet");
	ps.buf = buf;
	ps.cap = len > UINT16_MAX ? UINT16_MAX : len;
	ps.ip_end = SIZE_MAX;
	ps.p = p;
	switch (ps.buf[0] >> 4) {
	case 4:
		p->family = AF_INET;
		return parse_ipv4(&ps);
	case 6:
		p->family = AF_INET6;
		return parse_ipv6(&ps);
	default:
		return malformed(p, "IP version is neither 4 nor 6");
	}
}

const char *
pkt_addr_str(const struct pkt *p, const uint8_t *addr, char *out,
    size_t outlen)
{
	/* inet_ntop() never needs more than INET6_ADDRSTRLEN. */
	socklen_t n = outlen > INET6_ADDRSTRLEN ? INET6_ADDRSTRLEN :
	    (socklen_t)outlen;

	if (out == NULL || inet_ntop(p->family, addr, out, n) == NULL)
		return "?";
	return out;
}

static const struct {
	uint8_t proto;
	const char *name;
} proto_names[] = {
	{ IPPROTO_ICMP, "icmp" },
	{ IPPROTO_IGMP, "igmp" },
	{ IPPROTO_IPIP, "ipip" },
	{ IPPROTO_TCP, "tcp" },
	{ IPPROTO_UDP, "udp" },
	{ IPPROTO_DCCP, "dccp" },
	{ IPPROTO_IPV6, "ipv6" },
	{ IPPROTO_GRE, "gre" },
	{ IPPROTO_ESP, "esp" },
	{ IPPROTO_AH, "ah" },
	{ IPPROTO_ICMPV6, "icmpv6" },
	{ IPPROTO_NONE, "ipv6-nonxt" },
	{ IPPROTO_PIM, "pim" },
	{ IPPROTO_SCTP, "sctp" },
	{ IPPROTO_UDPLITE, "udplite" },
};

const char *
pkt_proto_name(uint8_t proto, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].proto == proto)
			return proto_names[i].name;
	if (buf == NULL || buflen < sizeof("255"))
		return "?";
	snprintf(buf, buflen, "%u", proto);
	return buf;
}
