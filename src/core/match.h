/*
 * A trigger's `match`: a small subset of nft's own expression syntax
 * (docs/nfq-trigger.ini.5, "MATCH"), parsed once into a struct match that
 * drives both the rule the engine generates (src/builders/build.c) and the
 * dispatch of packets inside the engine (match_packet()), so the two can
 * never disagree.
 *
 *   ip saddr|daddr [!=] ADDR[/LEN] | { ADDR[/LEN], ... }
 *   ip6 saddr|daddr [!=] ...
 *   tcp|udp sport|dport [!=] PORT | LO-HI | { PORT, LO-HI, ... }
 *   th sport|dport ...                  (with meta l4proto tcp, udp or both)
 *   tcp flags [==|!=] FLAG[,FLAG...] | tcp flags FLAGS / MASK
 *   meta l4proto tcp|udp|icmp|icmpv6|N | { ... }
 *   meta nfproto ipv4|ipv6
 *   iif|oif|iifname|oifname NAME | NAME* | { NAME, ... }
 *
 * Clauses are ANDed; the values of a set are ORed; `!=` excludes every
 * value of its set. Pure: no I/O, no allocation.
 */
#ifndef NFQT_MATCH_H
#define NFQT_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt;

#define MATCH_SET_MAX		8	/* values in one { } set */
#define MATCH_COMBOS_MAX	64	/* rules one match expands to, per family */
#define MATCH_IFNAME_MAX	16	/* IFNAMSIZ, with the NUL */
#define MATCH_WHY_MAX		160	/* room for match_parse()'s reason */

enum match_dir { MATCH_SRC = 0, MATCH_DST = 1 };	/* saddr/sport, daddr/dport */
enum match_if { MATCH_IIF = 0, MATCH_OIF = 1 };

struct match_prefix {
	uint8_t addr[16];		/* network order, host bits clear */
	uint8_t len;			/* prefix length in bits */
};

struct match_range {
	uint16_t lo, hi;		/* host order, lo <= hi */
};

struct match_ifname {
	char name[MATCH_IFNAME_MAX];
	bool wildcard;			/* "eth*": name is the prefix "eth" */
};

struct match_addrs {
	uint8_t n;			/* 0: no clause */
	bool neg;
	struct match_prefix v[MATCH_SET_MAX];
};

struct match_ports {
	uint8_t n;
	bool neg;
	struct match_range v[MATCH_SET_MAX];
};

struct match_ifs {
	uint8_t n;
	struct match_ifname v[MATCH_SET_MAX];
};

/*
 * tcp flags, as nft reads them: `tcp flags syn` is "any of these set"
 * ((flags & mask) != 0), `tcp flags == syn` and `tcp flags syn / syn,ack`
 * compare (flags & mask) with value, `!=` negates that comparison.
 */
enum match_flags_op {
	MATCH_FLAGS_NONE = 0,		/* no clause */
	MATCH_FLAGS_ANY,		/* (flags & mask) != 0 */
	MATCH_FLAGS_EQ,			/* (flags & mask) == value */
	MATCH_FLAGS_NE,			/* (flags & mask) != value */
};

struct match_tcp_flags {
	uint8_t op;			/* enum match_flags_op */
	uint8_t mask;
	uint8_t value;
};

struct match {
	uint8_t family;			/* 0: IPv4 and IPv6, or AF_INET / AF_INET6 */
	uint8_t nprotos;		/* 0: any transport protocol */
	uint8_t protos[MATCH_SET_MAX];
	struct match_addrs addr[2];	/* enum match_dir */
	struct match_ports port[2];	/* enum match_dir */
	struct match_ifs ifs[2];	/* enum match_if */
	struct match_tcp_flags tcp_flags;
};

/*
 * One rule's worth of a match: a choice of one value from each set that is
 * not negated (NULL or 0: no such clause). Negated sets are not expanded:
 * every rule excludes all of their values.
 */
struct match_combo {
	const struct match_prefix *addr[2];
	uint8_t proto;			/* 0: any */
	const struct match_range *port[2];
	const struct match_ifname *ifs[2];
};

/*
 * Parse text into m. 0, or -1 with the reason in why (MATCH_WHY_MAX bytes
 * at least), naming the word at fault.
 */
int match_parse(const char *text, struct match *m, char *why, size_t whylen);

/* Whether the packet matches; iif/oif are interface names, NULL unknown. */
bool match_packet(const struct match *m, const struct pkt *p, const char *iif,
    const char *oif);

/*
 * The same for a packet whose transport header could not be read (the
 * parser called it malformed): port and TCP flag clauses may match, the
 * rest must. A packet whose protocol is unknown (0) may be any.
 */
bool match_packet_header(const struct match *m, const struct pkt *p,
    const char *iif, const char *oif);

/* Whether matching needs the interface names (the caller resolves them). */
bool match_uses_ifs(const struct match *m, enum match_if which);

/*
 * Dispatch by protocol and destination port: up to MATCH_INDEX_BITS
 * matches, each known by a bit, so that a packet is matched only against
 * the ones its protocol and port leave in play rather than against every
 * one. A match with a dport set (not negated) on tcp or udp alone is
 * indexed by its ports; any other is always in play. Filled once, read per
 * packet; nothing is allocated after match_index_new().
 */
#define MATCH_INDEX_BITS	64
#define MATCH_INDEX_RANGES	(MATCH_INDEX_BITS * MATCH_SET_MAX * 2)

struct match_index;

struct match_index *match_index_new(void);
void match_index_free(struct match_index *ix);

/* Put m in as bit (0 <= bit < MATCH_INDEX_BITS). */
void match_index_add(struct match_index *ix, const struct match *m, int bit);

/*
 * The bits of the matches that p may match: a superset, so each still
 * needs match_packet(); every match left out cannot match p.
 */
uint64_t match_index_candidates(const struct match_index *ix, const struct pkt *p);

/* Rules per family: the product of the sizes of the expanded sets. */
int match_combos(const struct match *m);

/* The i-th choice, 0 <= i < match_combos(m). */
void match_combo(const struct match *m, int i, struct match_combo *c);

/* Whether the match can see packets of family (AF_INET, AF_INET6). */
bool match_has_family(const struct match *m, int family);

/*
 * One address or prefix, "10.0.0.0/8" or "fd00::/8", of family AF_INET or
 * AF_INET6 (0: either, told by the text; stored in *family). 0, or -1 with
 * the reason in why.
 */
int match_prefix_parse(const char *text, int *family, struct match_prefix *out,
    char *why, size_t whylen);

/* Whether addr (network order, of the prefix's family) is in the prefix. */
bool match_prefix_has(const struct match_prefix *px, const uint8_t *addr);

/* The canonical text, as match_parse() reads it back; "" for no clause. */
const char *match_str(const struct match *m, char *buf, size_t len);

#endif
