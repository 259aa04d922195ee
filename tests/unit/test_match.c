/*
 * The `match` subset of nft syntax (src/core/match.c): what parses and what does
 * not (with the word at fault), which packets match, the canonical text,
 * and the rules the same struct match becomes (src/builders/build*.c), as
 * libnftnl prints them.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>

#include "core/match.h"
#include "builders/build.h"
#include "core/packet.h"

static struct match m;
static char why[MATCH_WHY_MAX];

static void
parse_ok(const char *text)
{
	if (match_parse(text, &m, why, sizeof(why)) != 0)
		fail_msg("'%s': %s", text, why);
}

static void
parse_fails(const char *text, const char *reason)
{
	assert_int_equal(match_parse(text, &m, why, sizeof(why)), -1);
	assert_string_equal(why, reason);
}

/* A TCP/UDP packet from src:sport to dst:dport (IPv4 or IPv6 by the text). */
static struct pkt
packet(uint8_t proto, const char *src, uint16_t sport, const char *dst,
    uint16_t dport)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(src, ':') != NULL ? AF_INET6 : AF_INET;
	p.proto = proto;
	inet_pton(p.family, src, p.src);
	inet_pton(p.family, dst, p.dst);
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		p.flags = PKT_F_PORTS;
		p.sport = sport;
		p.dport = dport;
	}
	return p;
}

static bool
matches(const struct pkt *p)
{
	return match_packet(&m, p, "lan0", NULL);
}

static const char *
text_of(const char *in)
{
	static char buf[512];

	parse_ok(in);
	return match_str(&m, buf, sizeof(buf));
}

/* --- parsing ---------------------------------------------------------- */

static void
test_match_prefix_and_single_address(void **state)
{
	(void)state;
	parse_ok("ip daddr 10.8.0.0/16");
	assert_int_equal(m.family, AF_INET);
	assert_int_equal(m.addr[MATCH_DST].n, 1);
	assert_int_equal(m.addr[MATCH_DST].v[0].len, 16);
	parse_ok("ip6 saddr 2001:db8::1");
	assert_int_equal(m.family, AF_INET6);
	assert_int_equal(m.addr[MATCH_SRC].v[0].len, 128);
}

static void
test_match_sets_ranges_and_negation(void **state)
{
	(void)state;
	parse_ok("ip daddr { 10.8.0.0/16,10.9.0.0/16 } tcp dport != { 22, 8000-8999 }");
	assert_int_equal(m.addr[MATCH_DST].n, 2);
	assert_int_equal(m.port[MATCH_DST].n, 2);
	assert_true(m.port[MATCH_DST].neg);
	assert_int_equal(m.port[MATCH_DST].v[1].lo, 8000);
	assert_int_equal(m.port[MATCH_DST].v[1].hi, 8999);
	assert_int_equal(m.nprotos, 1);
	assert_int_equal(m.protos[0], IPPROTO_TCP);
}

static void
test_match_th_ports_take_protocols_from_l4proto(void **state)
{
	(void)state;
	parse_ok("meta l4proto { tcp, udp } th dport 53");
	assert_int_equal(m.nprotos, 2);
	parse_ok("meta l4proto { tcp, udp } udp dport 53");
	assert_int_equal(m.nprotos, 1);
	assert_int_equal(m.protos[0], IPPROTO_UDP);
	parse_ok("meta l4proto icmp");
	assert_int_equal(m.protos[0], IPPROTO_ICMP);
}

static void
test_match_errors_name_the_word(void **state)
{
	(void)state;
	parse_fails("", "empty: say what to match, as in ip daddr 10.8.0.0/16");
	parse_fails("ip daddr 10.8.0.1/16",
	    "'10.8.0.1/16' has bits set after the prefix length");
	parse_fails("ip daddr 10.8.0.0/33", "'10.8.0.0/33': prefix length is not 0-32");
	parse_fails("ip daddr fd00::/8", "'fd00::/8' is not an IPv4 address");
	parse_fails("ip6 daddr 10.0.0.1", "'10.0.0.1' is not an IPv6 address");
	parse_fails("ip to 10.0.0.1", "'ip' is followed by saddr or daddr, not 'to'");
	parse_fails("tcp dport 70000",
	    "'70000' is not a port 0-65535 or a range such as 8000-8999");
	parse_fails("tcp dport 90-80", "port range '90-80' goes backwards");
	parse_fails("tcp dport http",
	    "'http' is not a port 0-65535 or a range such as 8000-8999");
	parse_fails("ip daddr { 10.0.0.1, }",
	    "ip daddr: '}' where a value belongs");
	parse_fails("ip daddr { 10.0.0.1 10.0.0.2 }",
	    "ip daddr: expected ',' or '}', got '10.0.0.2'");
	parse_fails("ip daddr { 10.0.0.1", "ip daddr: set without '}'");
	parse_fails("ip daddr", "ip daddr: a value is missing at the end");
	parse_fails("ether saddr 00:11:22:33:44:55", "unknown word 'ether' "
	    "(expected ip, ip6, tcp, udp, th, meta, iif or oif)");
	parse_fails("meta mark 1", "'meta mark' is not supported (l4proto, "
	    "nfproto, iifname, oifname)");
	parse_fails("meta l4proto gre", "'gre' is not a protocol (tcp, udp, "
	    "icmp, icmpv6 or a number 0-255)");
	parse_fails("meta l4proto { tcp, tcp }", "meta l4proto: 'tcp' is listed twice");
}

static void
test_match_contradictions_are_errors(void **state)
{
	(void)state;
	parse_fails("ip daddr 10.0.0.1 ip6 saddr ::1",
	    "'ip' and 'ip6' together match nothing (a packet is IPv4 or IPv6)");
	parse_fails("tcp sport 1 udp dport 2",
	    "sport and dport of different protocols match nothing");
	parse_fails("meta l4proto udp tcp dport 22",
	    "tcp ports and meta l4proto without tcp match nothing");
	parse_fails("th dport 53", "th ports need meta l4proto tcp, udp or "
	    "{ tcp, udp }");
	parse_fails("meta l4proto icmp th dport 1",
	    "th ports apply to tcp and udp only, not to meta l4proto 1");
	parse_fails("ip daddr 10.0.0.1 ip daddr 10.0.0.2",
	    "ip daddr is given twice");
	parse_fails("iif a iif b", "iif is given twice");
	parse_fails("iif != a", "iif: '!=' is not supported for interfaces");
}

static void
test_match_limits(void **state)
{
	(void)state;
	parse_fails("tcp dport { 1, 2, 3, 4, 5, 6, 7, 8, 9 }",
	    "tcp dport: more than 8 values in a set");
	/* 8 * 8 * 2 = 128 rules per family: too many. */
	parse_fails("ip daddr { 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, "
	    "10.0.0.6, 10.0.0.7, 10.0.0.8 } meta l4proto { tcp, udp } "
	    "th dport { 1, 2, 3, 4, 5, 6, 7, 8 }",
	    "its sets give 128 combinations, at most 64 (each one is a rule)");
	parse_fails("iif abcdefghijklmnop",
	    "interface name 'abcdefghijklmnop' is longer than 15 bytes");
}

static void
test_match_text_round_trips(void **state)
{
	static const char *forms[] = {
		"ip daddr 10.8.0.0/16",
		"ip saddr != { 192.168.0.0/16, 10.0.0.1 } udp dport 53",
		"ip6 daddr fd00::/8 tcp sport 1024-65535",
		"meta l4proto { tcp, udp } th dport { 53, 853 }",
		"meta nfproto ipv6 meta l4proto icmpv6",
		"iifname { lan0, wlan* }",
	};
	char again[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_string_equal(text_of(forms[i]), forms[i]);
		snprintf(again, sizeof(again), "%s", text_of(forms[i]));
		assert_string_equal(text_of(again), forms[i]);
	}
	/* nft's own spellings come back in one form. */
	assert_string_equal(text_of("iif lan0 meta l4proto tcp tcp dport 22"),
	    "tcp dport 22 iifname lan0");
}

/* --- packets ---------------------------------------------------------- */

static void
test_match_packet_addresses_and_prefixes(void **state)
{
	struct pkt in = packet(IPPROTO_TCP, "192.168.1.5", 40000, "10.8.3.4", 443);
	struct pkt out = packet(IPPROTO_TCP, "192.168.1.5", 40000, "10.9.0.1", 443);
	struct pkt six = packet(IPPROTO_TCP, "fd00::5", 40000, "fd00::1", 443);

	(void)state;
	parse_ok("ip daddr 10.8.0.0/16");
	assert_true(matches(&in));
	assert_false(matches(&out));
	assert_false(matches(&six));
	parse_ok("ip daddr 10.8.0.0/15");	/* 10.8 and 10.9 */
	assert_true(matches(&out));
	parse_ok("ip saddr != { 192.168.0.0/16, 172.16.0.0/12 }");
	assert_false(matches(&in));
	parse_ok("ip6 daddr fd00::/8");
	assert_true(matches(&six));
	assert_false(matches(&in));
}

static void
test_match_packet_ports_protocols_and_fragments(void **state)
{
	struct pkt tcp = packet(IPPROTO_TCP, "10.0.0.1", 5000, "10.0.0.2", 8080);
	struct pkt udp = packet(IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 8080);
	struct pkt icmp = packet(IPPROTO_ICMP, "10.0.0.1", 0, "10.0.0.2", 0);
	struct pkt frag = tcp;

	(void)state;
	frag.flags = PKT_F_FRAGMENT | PKT_F_LATER_FRAG;
	parse_ok("tcp dport 8000-8999");
	assert_true(matches(&tcp));
	assert_false(matches(&udp));
	assert_false(matches(&frag));
	parse_ok("tcp dport != 22");
	assert_true(matches(&tcp));
	assert_false(matches(&frag));	/* no ports to compare: like nft */
	parse_ok("meta l4proto { tcp, udp } th sport 5000");
	assert_true(matches(&tcp));
	assert_true(matches(&udp));
	assert_false(matches(&icmp));
	parse_ok("meta l4proto icmp");
	assert_true(matches(&icmp));
	assert_false(matches(&tcp));
}

/* nft's readings: a bare list is "any of", == and != the whole byte, / a mask. */
static void
test_match_tcp_flags_read_like_nft(void **state)
{
	struct pkt syn = packet(IPPROTO_TCP, "10.0.0.1", 5000, "10.0.0.2", 22);
	struct pkt synack = syn, ack = syn, udp = packet(IPPROTO_UDP, "10.0.0.1",
	    5000, "10.0.0.2", 22);

	(void)state;
	syn.tcp_flags = PKT_TCP_SYN;
	synack.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	ack.tcp_flags = PKT_TCP_ACK;
	parse_ok("tcp flags syn");
	assert_true(matches(&syn));
	assert_true(matches(&synack));
	assert_false(matches(&ack));
	assert_false(matches(&udp));
	parse_ok("tcp flags == syn");
	assert_true(matches(&syn));
	assert_false(matches(&synack));
	parse_ok("tcp dport 22 tcp flags syn / syn,ack");
	assert_true(matches(&syn));
	assert_false(matches(&synack));
	assert_int_equal(m.nprotos, 1);
	parse_ok("tcp flags != syn / syn,ack");
	assert_false(matches(&syn));
	assert_true(matches(&synack));
	assert_true(matches(&ack));
	parse_ok("tcp flags syn|ack");
	assert_true(matches(&ack));
	assert_string_equal(text_of("tcp flags syn / syn , ack"),
	    "tcp flags syn / syn,ack");
	assert_string_equal(text_of("tcp flags == syn,ack"), "tcp flags == syn,ack");
	assert_string_equal(text_of("tcp flags != fin tcp dport 80"),
	    "tcp dport 80 tcp flags != fin");
	assert_string_equal(text_of("meta l4proto tcp tcp flags syn"),
	    "tcp flags syn");
}

static void
test_match_tcp_flags_errors(void **state)
{
	(void)state;
	parse_fails("tcp flags sin", "tcp flags: 'sin' is not a flag (fin, syn, "
	    "rst, psh, ack, urg, ecn, cwr)");
	parse_fails("tcp flags", "tcp flags: a flag is missing at the end");
	parse_fails("tcp flags syn /", "tcp flags: 'syn/' ends without a flag");
	parse_fails("tcp flags ack / syn", "tcp flags ack/syn: flags outside the "
	    "mask match nothing");
	parse_fails("tcp flags == syn / syn", "tcp flags: '==' with a mask: say "
	    "tcp flags syn/syn");
	parse_fails("tcp flags syn tcp flags ack", "tcp flags is given twice");
	parse_fails("udp dport 53 tcp flags syn",
	    "tcp flags and udp ports match nothing");
	parse_fails("meta l4proto udp tcp flags syn",
	    "tcp flags and meta l4proto without tcp match nothing");
	parse_fails("meta l4proto { tcp, udp } tcp flags syn",
	    "tcp flags apply to tcp only: drop the other protocols from meta "
	    "l4proto");
	parse_fails("tcp flags syn ack", "unknown word 'ack' (expected ip, ip6, "
	    "tcp, udp, th, meta, iif or oif)");
}

static void
test_match_packet_interfaces(void **state)
{
	struct pkt p = packet(IPPROTO_UDP, "10.0.0.1", 1, "10.0.0.2", 2);

	(void)state;
	parse_ok("iif { eth0, lan* }");
	assert_true(match_uses_ifs(&m, MATCH_IIF));
	assert_false(match_uses_ifs(&m, MATCH_OIF));
	assert_true(match_packet(&m, &p, "lan0", NULL));
	assert_true(match_packet(&m, &p, "eth0", NULL));
	assert_false(match_packet(&m, &p, "eth01", NULL));
	assert_false(match_packet(&m, &p, NULL, NULL));	/* unknown: no */
}

/* --- expansion and rules ---------------------------------------------- */

static void
test_match_combos_pick_one_value_of_each_set(void **state)
{
	struct match_combo c;
	int i, seen = 0;

	(void)state;
	parse_ok("ip daddr { 10.0.0.1, 10.0.0.2 } meta l4proto { tcp, udp } "
	    "th dport { 1, 2, 3 } ip saddr != 10.9.9.9");
	assert_int_equal(match_combos(&m), 12);
	for (i = 0; i < 12; i++) {
		match_combo(&m, i, &c);
		assert_non_null(c.addr[MATCH_DST]);
		assert_null(c.addr[MATCH_SRC]);	/* negated: in every rule */
		assert_non_null(c.port[MATCH_DST]);
		seen |= 1 << ((c.addr[MATCH_DST] - m.addr[MATCH_DST].v) * 6 +
		    (c.proto == IPPROTO_UDP) * 3 + (c.port[MATCH_DST] -
		    m.port[MATCH_DST].v));
	}
	assert_int_equal(seen, 0xfff);	/* each combination once */
}

static struct plan plan;

static struct plan_activity *
activity(const char *text, bool nflog)
{
	struct plan_activity *a = &plan.activities[0];

	memset(&plan, 0, sizeof(plan));
	snprintf(plan.table, sizeof(plan.table), "nfq_trigger");
	plan.queue_bypass = true;
	plan.nflog_group = 5;
	plan.nactivities = 1;
	snprintf(a->name, sizeof(a->name), "vpn");
	snprintf(a->active, sizeof(a->active), "vpn_active");
	snprintf(a->flows4, sizeof(a->flows4), "vpn_flows4");
	snprintf(a->flows6, sizeof(a->flows6), "vpn_flows6");
	a->nflog = nflog;
	if (match_parse(text, &a->match, why, sizeof(why)) != 0)
		fail_msg("%s", why);
	return a;
}

static const char *
rule_text(struct nftnl_rule *r)
{
	static char buf[8192];

	assert_non_null(r);
	nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_rule_free(r);
	return buf;
}

static void
test_rule_activity_queue_all_while_not_active(void **state)
{
	const char *t;

	(void)state;
	t = rule_text(build_rule_activity(&plan, activity("ip daddr 10.8.0.0/16 "
	    "tcp dport 443", false), NFT_CHAIN_ACTIVITY, AF_INET, 0, false, 0, true));
	assert_non_null(strstr(t, "inet nfq_trigger activity"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000002 ]"));	/* ipv4 */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000006 ]"));	/* tcp */
	assert_non_null(strstr(t, "[ payload load 4b @ network header + 16 => reg 1 ]\n"
	    "  [ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]\n"
	    "  [ cmp eq reg 1 0x0000080a ]"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0000bb01 ]"));	/* 443 */
	/* 1 != @vpn_active: sampling off, every packet to the queue */
	assert_non_null(strstr(t, "[ immediate reg 8 0x00000001 ]\n"
	    "  [ lookup reg 8 set vpn_active 0x1 ]"));
	assert_null(strstr(t, "dynset"));
	assert_non_null(strstr(t, "[ queue num 0 bypass ]"));
}

static void
test_rule_activity_queue_sampled_while_active(void **state)
{
	const char *t;

	(void)state;
	t = rule_text(build_rule_activity(&plan, activity("ip daddr 10.8.0.0/16",
	    false), NFT_CHAIN_ACTIVITY, AF_INET, 0, true, 0, true));
	assert_non_null(strstr(t, "[ lookup reg 8 set vpn_active 0x0 ]"));
	/* saddr . daddr in one load, skipped when seen, else added for 1 s */
	assert_non_null(strstr(t, "[ payload load 8b @ network header + 12 => reg 8 ]\n"
	    "  [ lookup reg 8 set vpn_flows4 0x1 ]\n"
	    "  [ dynset add reg_key 8 set vpn_flows4 timeout 1000ms ]"));
	assert_non_null(strstr(t, "[ queue num 0 bypass ]"));
}

static void
test_rule_activity_nflog_ipv6_pairs_and_negations(void **state)
{
	const char *t;

	(void)state;
	activity("meta l4proto { tcp, udp } th dport != { 53, 5353-5355 }", true);
	assert_null(build_rule_activity(&plan, &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET6, 0,
	    false, 0, true));	/* NFLOG has the sampled rule only */
	t = rule_text(build_rule_activity(&plan, &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET6, 1,
	    true, 0, true));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0000000a ]"));	/* ipv6 */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000011 ]"));	/* udp */
	assert_non_null(strstr(t, "[ cmp neq reg 1 0x00003500 ]"));	/* != 53 */
	assert_non_null(strstr(t, "[ range neq reg 1 0x0000e914 0x0000eb14 ]"));
	assert_non_null(strstr(t, "[ payload load 32b @ network header + 8 => reg 8 ]"));
	assert_non_null(strstr(t, "set vpn_flows6"));
	assert_null(strstr(t, "vpn_active"));
	assert_non_null(strstr(t, "[ log group 5 "));
}

static void
test_rule_activity_refuses_family_and_combo_outside_the_match(void **state)
{
	(void)state;
	activity("ip daddr 10.0.0.0/8 tcp dport { 1, 2 }", false);
	assert_null(build_rule_activity(&plan, &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET6, 0,
	    false, 0, true));
	assert_null(build_rule_activity(&plan, &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET, 2,
	    false, 0, true));
	assert_non_null(strstr(rule_text(build_rule_activity(&plan,
	    &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET, 1, false, 0, true)),
	    "[ cmp eq reg 1 0x00000200 ]"));	/* port 2 */
	assert_non_null(strstr(rule_text(build_rule_activity(&plan,
	    &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET, 0, false, 0, true)),
	    "[ cmp eq reg 1 0x00000100 ]"));	/* port 1 */
}

static void
test_rule_activity_interface_names(void **state)
{
	const char *t;

	(void)state;
	t = rule_text(build_rule_activity(&plan, activity("iifname { lan0, wl* }",
	    false), NFT_CHAIN_ACTIVITY, AF_INET, 1, false, 0, true));
	/* "wl*": the first two bytes only */
	assert_non_null(strstr(t, "[ meta load iifname => reg 1 ]\n"
	    "  [ cmp eq reg 1 0x00006c77 ]"));
	t = rule_text(build_rule_activity(&plan, &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET, 0,
	    false, 0, true));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x306e616c 0x00000000 "
	    "0x00000000 0x00000000 ]"));
}

/* The largest match a rule can get still fits one netlink message of nft.c. */
static void
test_rule_activity_worst_case_fits_a_message(void **state)
{
	char buf[16384];
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;

	(void)state;
	activity("ip saddr != { 10.0.0.0/9, 10.1.0.0/16, 10.2.0.0/17, 10.3.0.0/18, "
	    "10.4.0.0/19, 10.5.0.0/20, 10.6.0.0/21, 10.7.0.0/22 } "
	    "ip daddr != { 11.0.0.0/9, 11.1.0.0/16, 11.2.0.0/17, 11.3.0.0/18, "
	    "11.4.0.0/19, 11.5.0.0/20, 11.6.0.0/21, 11.7.0.0/22 } "
	    "tcp sport != { 1-2, 3-4, 5-6, 7-8, 9-10, 11-12, 13-14, 15-16 } "
	    "tcp dport != { 1-2, 3-4, 5-6, 7-8, 9-10, 11-12, 13-14, 15-16 } "
	    "iifname abcdefghijklmno", false);
	nlh = nftnl_nlmsg_build_hdr(buf, 0, NFPROTO_INET, 0, 1);
	r = build_rule_activity(&plan, &plan.activities[0], NFT_CHAIN_ACTIVITY, AF_INET, 0, true, 0, false);
	assert_non_null(r);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	assert_true(nlh->nlmsg_len < 8192);	/* NFT_MSG_ROOM in src/kernel/nft.c */
}

/* Without a transport header: ports and flags may match, the rest must. */
static void
test_match_header_of_a_malformed_packet(void **state)
{
	struct pkt p = packet(IPPROTO_UDP, "10.8.1.2", 0, "10.72.2.2", 0);

	(void)state;
	p.flags = 0;		/* the parser read no ports */
	parse_ok("ip daddr 10.72.2.0/24 udp dport 9000");
	assert_false(match_packet(&m, &p, NULL, NULL));
	assert_true(match_packet_header(&m, &p, NULL, NULL));
	parse_ok("ip daddr 10.72.3.0/24 udp dport 9000");
	assert_false(match_packet_header(&m, &p, NULL, NULL));
	parse_ok("meta l4proto tcp");
	assert_false(match_packet_header(&m, &p, NULL, NULL));
	p.proto = 0;		/* not even the protocol was read */
	assert_true(match_packet_header(&m, &p, NULL, NULL));
	parse_ok("iifname lan0 ip daddr 10.72.2.2");
	assert_false(match_packet_header(&m, &p, "wan0", NULL));
	assert_true(match_packet_header(&m, &p, "lan0", NULL));
}

/*
 * The dispatch index leaves out only matches that cannot match: by port
 * for tcp/udp dport sets, never for anything else.
 */
static void
test_match_index_rules_out_only_what_cannot_match(void **state)
{
	static const char *texts[] = {
		"udp dport 9000",		/* bit 0 */
		"tcp dport { 22, 8000-8010 }",	/* bit 1 */
		"ip daddr 10.0.0.0/8",		/* bit 2: no port, always */
		"udp dport != 53",		/* bit 3: negated, always */
		"meta l4proto { tcp, udp } th dport 443",	/* bit 4 */
	};
	struct match ms[5];
	struct match_index *ix = match_index_new();
	struct pkt p;
	size_t i;

	(void)state;
	assert_non_null(ix);
	for (i = 0; i < 5; i++) {
		if (match_parse(texts[i], &ms[i], why, sizeof(why)) != 0)
			fail_msg("'%s': %s", texts[i], why);
		match_index_add(ix, &ms[i], (int)i);
	}
	p = packet(IPPROTO_UDP, "1.2.3.4", 1, "10.1.1.1", 9000);
	assert_int_equal(match_index_candidates(ix, &p), 0x1 | 0x4 | 0x8);
	p = packet(IPPROTO_TCP, "1.2.3.4", 1, "10.1.1.1", 8005);
	assert_int_equal(match_index_candidates(ix, &p), 0x2 | 0x4 | 0x8);
	p = packet(IPPROTO_TCP, "1.2.3.4", 1, "10.1.1.1", 443);
	assert_int_equal(match_index_candidates(ix, &p), 0x4 | 0x8 | 0x10);
	p = packet(IPPROTO_UDP, "1.2.3.4", 1, "10.1.1.1", 7);
	assert_int_equal(match_index_candidates(ix, &p), 0x4 | 0x8);
	p = packet(IPPROTO_ICMP, "1.2.3.4", 0, "10.1.1.1", 0);
	assert_int_equal(match_index_candidates(ix, &p), 0x4 | 0x8);
	/* Every match left out really fails on these packets. */
	for (i = 0; i < 5; i++) {
		p = packet(IPPROTO_UDP, "1.2.3.4", 1, "10.1.1.1", 7);
		if (!(match_index_candidates(ix, &p) & (1ULL << i)))
			assert_false(match_packet(&ms[i], &p, NULL, NULL));
	}
	match_index_free(ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_index_rules_out_only_what_cannot_match),
		cmocka_unit_test(test_match_prefix_and_single_address),
		cmocka_unit_test(test_match_sets_ranges_and_negation),
		cmocka_unit_test(test_match_th_ports_take_protocols_from_l4proto),
		cmocka_unit_test(test_match_errors_name_the_word),
		cmocka_unit_test(test_match_contradictions_are_errors),
		cmocka_unit_test(test_match_limits),
		cmocka_unit_test(test_match_text_round_trips),
		cmocka_unit_test(test_match_packet_addresses_and_prefixes),
		cmocka_unit_test(test_match_packet_ports_protocols_and_fragments),
		cmocka_unit_test(test_match_tcp_flags_read_like_nft),
		cmocka_unit_test(test_match_tcp_flags_errors),
		cmocka_unit_test(test_match_packet_interfaces),
		cmocka_unit_test(test_match_combos_pick_one_value_of_each_set),
		cmocka_unit_test(test_rule_activity_queue_all_while_not_active),
		cmocka_unit_test(test_rule_activity_queue_sampled_while_active),
		cmocka_unit_test(test_rule_activity_nflog_ipv6_pairs_and_negations),
		cmocka_unit_test(test_rule_activity_refuses_family_and_combo_outside_the_match),
		cmocka_unit_test(test_rule_activity_interface_names),
		cmocka_unit_test(test_rule_activity_worst_case_fits_a_message),
		cmocka_unit_test(test_match_header_of_a_malformed_packet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
