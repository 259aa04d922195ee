/*
 * Packet parser: bytes of an IPv4 or IPv6 packet (as NFQUEUE and NFLOG hand
 * them over, starting at the network header) to a summary the triggers use.
 * Pure: no I/O, no allocation, never reads outside [buf, buf + len).
 */
#ifndef NFQT_PACKET_H
#define NFQT_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* TCP flag bits as on the wire (byte 13 of the TCP header). */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20
#define PKT_TCP_ECE 0x40
#define PKT_TCP_CWR 0x80

enum pkt_status {
	PKT_OK = 0,
	PKT_MALFORMED,		/* truncated or lying header: see pkt.error */
};

/* Bits of pkt.flags. */
#define PKT_F_PORTS	0x01	/* sport/dport are valid (TCP, UDP, UDP-Lite, SCTP, DCCP) */
#define PKT_F_FRAGMENT	0x02	/* part of a fragmented datagram */
#define PKT_F_LATER_FRAG 0x04	/* a non-first fragment: no transport header here */
#define PKT_F_ICMP	0x08	/* icmp_type/icmp_code are valid (ICMP or ICMPv6) */
#define PKT_F_L4_TRUNC	0x10	/* capture ends inside the transport header */
#define PKT_F_LEN_UNKNOWN 0x20	/* IP length field 0 (GSO, BIG TCP, jumbogram) */

struct pkt {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t proto;		/* transport protocol after any IPv6 extension headers */
	uint8_t flags;		/* PKT_F_* */
	uint8_t tcp_flags;	/* PKT_TCP_* bits, TCP only */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t ttl;		/* TTL or hop limit */
	uint16_t sport;		/* host byte order */
	uint16_t dport;		/* host byte order */
	uint16_t ip_len;	/* length the IP header claims for the whole packet
				 * (IPv6 over 65535 bytes reads 65535) */
	uint16_t l4_offset;	/* offset of the transport header in buf */
	uint16_t payload_offset; /* offset of the transport payload in buf */
	uint16_t payload_len;	/* payload bytes present in buf (capture may be short) */
	/* Addresses in network byte order; IPv4 uses the first 4 bytes. */
	uint8_t src[16];
	uint8_t dst[16];
	const char *error;	/* static text when PKT_MALFORMED, else NULL */
};

/*
 * Parse buf (len captured bytes; the capture may be shorter than the packet,
 * NFQUEUE copies only what we asked for). Returns PKT_OK or PKT_MALFORMED
 * with p->error set. Fields not present in the packet are zero.
 *
 * The IP header and IPv6 extension headers must be within the capture, or
 * the packet is PKT_MALFORMED. A capture that ends inside the transport
 * header is PKT_OK with PKT_F_L4_TRUNC: ports, TCP flags and ICMP type are
 * set when the fixed part holding them was captured (only TCP/DCCP options
 * missing), else left out. A header that claims more than the IP length
 * allows is PKT_MALFORMED. Only the first 65535 bytes are looked at (the
 * most a netlink attribute carries). On PKT_MALFORMED only family, ttl,
 * ip_len, proto and the addresses are kept, as far as they were read.
 *
 * A later fragment has l4_offset 0 (no transport header) and its data as
 * payload. With PKT_F_LEN_UNKNOWN, ip_len is 0 and only the capture bounds
 * the packet. The first fragment of a UDP datagram may carry a UDP length
 * longer than the fragment: that is accepted.
 */
enum pkt_status pkt_parse(const void *buf, size_t len, struct pkt *p);

/*
 * "192.0.2.1" or "2001:db8::1" into out (at least INET6_ADDRSTRLEN bytes).
 * Returns out, or the static "?" when out is too small or the family unknown.
 */
const char *pkt_addr_str(const struct pkt *p, const uint8_t *addr, char *out, size_t outlen);

/*
 * Protocol name for a transport protocol number: a static "tcp", "udp", ...,
 * or the number written into buf (at least 4 bytes, else "?").
 */
const char *pkt_proto_name(uint8_t proto, char *buf, size_t buflen);

#endif
