/*
 * Count triggers (src/core/trigger_count.c) and their [count NAME] sections:
 * hooks once per N packets, per-source token buckets on the engine path,
 * allow lists, bounded state under a flood of spoofed sources, NFLOG
 * dispatch by prefix, reload.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/rule.h>

#include "builders/plan.h"
#include "config/config.h"
#include "builders/build.h"
#include "core/packet.h"
#include "core/trigger_count.h"
#include "core/trigger_count_test.h"
#include "config/config_test.h"

static const uint8_t hash_key[TRACKER_HASH_KEY_LEN] = { 7 };

static struct config *
load(const char *text)
{
	struct config *cfg;
	int nerrors = 0;

	cfg = config_load_string("test.ini", text, stderr, &nerrors);
	if (cfg == NULL)
		fail_msg("config has %d errors", nerrors);
	return cfg;
}

static struct pkt
tcp_syn(const char *src, uint16_t dport)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(src, ':') != NULL ? AF_INET6 : AF_INET;
	p.proto = IPPROTO_TCP;
	p.flags = PKT_F_PORTS;
	p.tcp_flags = PKT_TCP_SYN;
	p.sport = 40000;
	p.dport = dport;
	inet_pton(p.family, src, p.src);
	inet_pton(p.family, p.family == AF_INET ? "10.0.0.1" : "fd00::1", p.dst);
	return p;
}

/* A source that is 10.X.Y.Z for i = X.Y.Z. */
static struct pkt
spoofed(uint32_t i, uint16_t dport)
{
	struct pkt p = tcp_syn("10.0.0.0", dport);

	p.src[1] = (uint8_t)(i >> 16);
	p.src[2] = (uint8_t)(i >> 8);
	p.src[3] = (uint8_t)i;
	return p;
}

static int
hooks_of(const struct count_result *r)
{
	int i, n = 0;

	for (i = 0; i < r->nfired; i++)
		n += r->fired[i].hook;
	return n;
}

/* --- every = N -------------------------------------------------------- */

static const char every_ini[] =
    "[engine]\nqueue = 0\nnflog_group = 5\n"
    "[count camera]\nmatch = tcp dport 554\nevery = 3\npath = engine\n"
    "exec = /bin/true %IP%\n";

/*
 * Counted by the kernel (the default): its rule lets each Nth packet
 * through, so each one the engine gets runs the hook.
 */
static void
test_count_every_kernel_path_fires_for_each_packet_it_gets(void **state)
{
	struct config *cfg = load("[count camera]\nmatch = tcp dport 554\n"
	    "every = 3\nexec = /bin/true\n");
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt cam = tcp_syn("192.168.1.7", 554);
	struct count_result r;
	struct count_counters c;
	int i;

	(void)state;
	assert_int_equal(cfg->counts[0].path, CONFIG_PATH_KERNEL);
	for (i = 1; i <= 4; i++) {
		count_set_packet(cs, &cam, NULL, NULL, (uint64_t)i, &r);
		assert_int_equal(hooks_of(&r), 1);
		assert_int_equal(r.fired[0].nth, (uint64_t)i);
	}
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.packets, 4);
	assert_int_equal(c.hooks, 4);
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_every_runs_hook_once_per_n_packets(void **state)
{
	struct config *cfg = load(every_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt cam = tcp_syn("192.168.1.7", 554), other = tcp_syn("192.168.1.7", 80);
	struct count_result r;
	struct count_counters c;
	int i, fired = 0;

	(void)state;
	assert_non_null(cs);
	for (i = 1; i <= 10; i++) {
		count_set_packet(cs, &other, NULL, NULL, (uint64_t)i, &r);
		assert_int_equal(r.nfired, 0);
		count_set_packet(cs, &cam, NULL, NULL, (uint64_t)i, &r);
		assert_int_equal(r.verdict, COUNT_PASS);
		if (r.nfired > 0) {
			fired++;
			assert_int_equal(i % 3, 0);
			assert_ptr_equal(r.fired[0].trigger, &cfg->counts[0]);
			assert_true(r.fired[0].hook);
			assert_false(r.fired[0].block);
			assert_int_equal(r.family, AF_INET);
			assert_memory_equal(r.addr, cam.src, 4);
			assert_int_equal(r.dport, 554);
		}
	}
	assert_int_equal(fired, 3);
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.packets, 10);
	assert_int_equal(c.hooks, 3);
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_every_default_is_each_packet(void **state)
{
	struct config *cfg = load("[count cam]\nmatch = udp dport 9\n"
	    "exec = /bin/true\n");
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt p = tcp_syn("10.1.1.1", 9);
	struct count_result r;

	(void)state;
	p.proto = IPPROTO_UDP;
	assert_int_equal(cfg->counts[0].every, 1);
	count_set_packet(cs, &p, NULL, NULL, 1, &r);
	assert_int_equal(hooks_of(&r), 1);
	count_set_packet(cs, &p, NULL, NULL, 2, &r);
	assert_int_equal(hooks_of(&r), 1);
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_nflog_trigger_counts_its_prefix_only(void **state)
{
	struct config *cfg = load("[engine]\nnflog_group = 5\n"
	    "[count cam]\nmatch = tcp dport 554\nevery = 2\nsource = nflog\n"
	    "path = engine\nexec = /bin/true\n");
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt p = tcp_syn("10.1.1.1", 554);
	struct count_result r;

	(void)state;
	/* The queue does not feed it: its packets come logged. */
	count_set_packet(cs, &p, NULL, NULL, 1, &r);
	count_set_packet(cs, &p, NULL, NULL, 1, &r);
	assert_int_equal(r.nfired, 0);
	assert_int_equal(count_set_logged(cs, "", &p, 1, &r), -1);
	assert_int_equal(count_set_logged(cs, "nfqt-count other", &p, 1, &r), 0);
	assert_int_equal(r.nfired, 0);
	assert_int_equal(count_set_logged(cs, "nfqt-count cam", &p, 1, &r), 0);
	assert_int_equal(r.nfired, 0);
	assert_int_equal(count_set_logged(cs, "nfqt-count cam", &p, 2, &r), 0);
	assert_int_equal(hooks_of(&r), 1);
	count_set_free(cs);
	config_free(cfg);
}

/* --- threshold, engine path -------------------------------------------- */

static const char engine_ini[] =
    "[engine]\nqueue = 0\nmax_sources = 16\n"
    "[count ssh]\nmatch = tcp dport 22 tcp flags syn\n"
    "threshold = 5/10s\nblock_timeout = 1m\npath = engine\n"
    "allow = 192.168.0.0/16 fd00::/8\n";

/* Sends n packets of p at now; returns how many were dropped. */
static int
send_n(struct count_set *cs, const struct pkt *p, int n, uint64_t now,
    struct count_result *r)
{
	int i, dropped = 0;

	for (i = 0; i < n; i++) {
		count_set_packet(cs, p, NULL, NULL, now, r);
		dropped += r->verdict == COUNT_DROP;
	}
	return dropped;
}

static void
test_count_engine_blocks_the_packet_over_the_threshold(void **state)
{
	struct config *cfg = load(engine_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt bad = tcp_syn("203.0.113.9", 22), good = tcp_syn("203.0.113.10", 22);
	struct count_result r;
	struct count_counters c;

	(void)state;
	assert_int_equal(send_n(cs, &bad, 5, 1000, &r), 0);
	count_set_packet(cs, &bad, NULL, NULL, 1000, &r);
	assert_int_equal(r.verdict, COUNT_DROP);
	assert_int_equal(r.nfired, 1);
	assert_true(r.fired[0].block);
	assert_false(r.fired[0].hook);		/* no exec */
	assert_memory_equal(r.addr, bad.src, 4);
	/* Its packets queued before the kernel has the block: dropped, once blocked. */
	count_set_packet(cs, &bad, NULL, NULL, 1001, &r);
	assert_int_equal(r.verdict, COUNT_DROP);
	assert_int_equal(r.nfired, 0);
	/* Another source has a bucket of its own. */
	assert_int_equal(send_n(cs, &good, 5, 1000, &r), 0);
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.blocks, 1);
	assert_int_equal(c.dropped, 2);
	assert_int_equal(c.packets, 12);
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_engine_bucket_refills_at_the_rate(void **state)
{
	struct config *cfg = load(engine_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt p = tcp_syn("203.0.113.9", 22);
	struct count_result r;

	(void)state;
	assert_int_equal(send_n(cs, &p, 5, 1000, &r), 0);
	/* 5 per 10 s: one packet's worth every 2 s, and not a bit earlier. */
	assert_int_equal(send_n(cs, &p, 1, 3000, &r), 0);
	assert_int_equal(send_n(cs, &p, 1, 4999, &r), 1);
	/* Steady at the rate: never over. */
	count_set_free(cs);
	cs = count_set_new(cfg, hash_key, NULL, 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(send_n(cs, &p, 1, 1000 + (uint64_t)i * 2000, &r), 0);
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_engine_forgets_a_source_a_period_after_its_last_packet(void **state)
{
	struct config *cfg = load(engine_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt p = tcp_syn("203.0.113.9", 22);
	struct count_result r;
	struct count_counters c;

	(void)state;
	send_n(cs, &p, 3, 1000, &r);
	send_n(cs, &p, 1, 4000, &r);
	assert_int_equal(count_set_next_deadline(cs), 14000);
	count_set_expire(cs, 13999);
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.tracker.tracked, 1);
	count_set_expire(cs, 14000);
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.tracker.tracked, 0);
	assert_int_equal(count_set_next_deadline(cs), TRACKER_NO_DEADLINE);
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_allow_listed_source_is_never_blocked(void **state)
{
	struct config *cfg = load(engine_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt lan = tcp_syn("192.168.44.5", 22), v6 = tcp_syn("fd12::5", 22);
	struct pkt out6 = tcp_syn("2001:db8::5", 22);
	struct count_result r;
	struct count_counters c;

	(void)state;
	assert_true(count_allowed(&cfg->counts[0], AF_INET, lan.src));
	assert_int_equal(send_n(cs, &lan, 100, 1000, &r), 0);
	assert_int_equal(send_n(cs, &v6, 100, 1000, &r), 0);
	assert_int_equal(send_n(cs, &out6, 6, 1000, &r), 1);
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.exempt, 200);
	assert_int_equal(c.tracker.tracked, 1);	/* out6: exempt ones take no entry */
	count_set_free(cs);
	config_free(cfg);
}

static void
test_count_engine_only_counts_what_matches(void **state)
{
	struct config *cfg = load(engine_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt ack = tcp_syn("203.0.113.9", 22), http = tcp_syn("203.0.113.9", 80);
	struct count_result r;

	(void)state;
	ack.tcp_flags = PKT_TCP_ACK;		/* not a new connection */
	assert_int_equal(send_n(cs, &ack, 50, 1000, &r), 0);
	assert_int_equal(send_n(cs, &http, 50, 1000, &r), 0);
	count_set_free(cs);
	config_free(cfg);
}

/*
 * docs/design.md, decision 8: thousands of spoofed one-packet sources fill
 * the fresh tier and evict each other; a source that had sent two packets
 * keeps its bucket and is blocked at its sixth packet all the same.
 */
static void
test_count_flood_keeps_state_bounded_and_a_real_source_counted(void **state)
{
	struct config *cfg = load(engine_ini);
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt real = tcp_syn("203.0.113.9", 22), fake;
	struct count_result r;
	struct count_counters c;
	uint32_t i;

	(void)state;
	assert_int_equal(send_n(cs, &real, 2, 1000, &r), 0);
	for (i = 0; i < 5000; i++) {
		fake = spoofed(i, 22);
		count_set_packet(cs, &fake, NULL, NULL, 1001, &r);
		assert_int_equal(r.verdict, COUNT_PASS);
	}
	count_set_counters(cs, 0, &c);
	assert_true(c.tracker.tracked <= 16);
	assert_true(c.tracker.evicted_fresh >= 5000 - 16);
	assert_int_equal(c.tracker.evicted_progress, 0);
	assert_int_equal(send_n(cs, &real, 3, 1002, &r), 0);
	assert_int_equal(send_n(cs, &real, 1, 1002, &r), 1);
	count_set_free(cs);
	config_free(cfg);
}

/* --- threshold, kernel path -------------------------------------------- */

static void
test_count_kernel_blocks_are_reported_through_nflog(void **state)
{
	struct config *cfg = load("[engine]\nnflog_group = 7\n"
	    "[count ssh]\nmatch = tcp dport 22\nthreshold = 10/minute\n"
	    "exec = /bin/true %IP%\n");
	struct count_set *cs = count_set_new(cfg, hash_key, NULL, 0);
	struct pkt p = tcp_syn("203.0.113.9", 22);
	struct count_result r;
	struct count_counters c;

	(void)state;
	assert_int_equal(cfg->counts[0].kind, CONFIG_COUNT_THRESHOLD);
	assert_int_equal(cfg->counts[0].path, CONFIG_PATH_KERNEL);
	assert_int_equal(cfg->counts[0].period_ms, 60000);
	/* Not queue-fed: the kernel counts. */
	assert_int_equal(send_n(cs, &p, 50, 1000, &r), 0);
	assert_int_equal(r.nfired, 0);
	assert_int_equal(count_set_logged(cs, "nfqt-count ssh", &p, 1, &r), 0);
	assert_int_equal(r.nfired, 1);
	assert_true(r.fired[0].hook);
	assert_false(r.fired[0].block);		/* the kernel did it */
	count_set_counters(cs, 0, &c);
	assert_int_equal(c.blocks, 1);
	count_set_free(cs);
	config_free(cfg);
}

/* --- reload ------------------------------------------------------------ */

static void
test_count_reload_keeps_the_count_of_unchanged_triggers(void **state)
{
	struct config *a = load(every_ini), *b = load(every_ini);
	struct config *c = load("[count camera]\nmatch = tcp dport 554\n"
	    "every = 4\nexec = /bin/true\n");
	struct count_set *sa = count_set_new(a, hash_key, NULL, 0), *sb, *sc;
	struct pkt cam = tcp_syn("192.168.1.7", 554);
	struct count_result r;

	(void)state;
	count_set_packet(sa, &cam, NULL, NULL, 1, &r);
	count_set_packet(sa, &cam, NULL, NULL, 1, &r);
	sb = count_set_new(b, hash_key, NULL, 0);
	assert_int_equal(count_set_adopt(sb, sa), 1);
	count_set_packet(sb, &cam, NULL, NULL, 1, &r);
	assert_int_equal(hooks_of(&r), 1);	/* the third packet, over the reload */
	sc = count_set_new(c, hash_key, NULL, 0);
	assert_int_equal(count_set_adopt(sc, sb), 0);	/* every changed: a new count */
	count_set_free(sa);
	count_set_free(sb);
	count_set_free(sc);
	config_free(a);
	config_free(b);
	config_free(c);
}

/* --- the section ------------------------------------------------------- */

static void
test_count_config_keys_and_defaults(void **state)
{
	struct config *cfg = load(engine_ini);
	const struct config_count *c = &cfg->counts[0];

	(void)state;
	assert_int_equal(cfg->ncounts, 1);
	assert_int_equal(c->kind, CONFIG_COUNT_THRESHOLD);
	assert_int_equal(c->threshold, 5);
	assert_int_equal(c->period_ms, 10000);
	assert_int_equal(c->block_timeout_ms, 60000);
	assert_int_equal(c->path, CONFIG_PATH_ENGINE);
	assert_int_equal(c->nallow, 2);
	assert_int_equal(c->allow[1].family, AF_INET6);
	assert_int_equal(c->allow[1].p.len, 8);
	config_free(cfg);
	cfg = load("[count x]\nmatch = tcp dport 22\nthreshold = 3 / hour\n");
	assert_int_equal(cfg->counts[0].period_ms, 3600 * 1000);
	assert_int_equal(cfg->counts[0].block_timeout_ms, 600 * 1000);
	config_free(cfg);
}

static void
test_count_config_errors_say_what_is_wrong(void **state)
{
	(void)state;
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"),
	    "t.ini:1: count x: needs exec (what to run every N packets) or "
	    "threshold (sources to block)\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "every = 2\nthreshold = 5/1m\n"),
	    "t.ini:3: count x: every and threshold are two kinds of count "
	    "trigger: use a section for each\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "threshold = 5/1500ms\n"),
	    "t.ini:3: count x: threshold: '5/1500ms': the period must be whole "
	    "seconds (nftables counts rates per second)\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "threshold = 0/1m\n"),
	    "t.ini:3: count x: threshold: '0/1m': the packets are not a number "
	    "from 1 to 1000000\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "threshold = 5\n"),
	    "t.ini:3: count x: threshold: '5' is not PACKETS/PERIOD, as in "
	    "10/60s or 10/minute\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "every = 2\nexec = /bin/true\nallow = 10.0.0.0/8\n"),
	    "t.ini:5: count x: allow only applies with threshold\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "threshold = 5/1m\nallow = 10.0.0.0/8 10.0.0.0/8\n"),
	    "t.ini:4: count x: allow: '10.0.0.0/8' is listed twice\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "threshold = 5/1m\nexec = /bin/true\n"),
	    "t.ini:1: count x: exec with a threshold counted by the kernel needs "
	    "nflog_group in [engine] (the kernel reports each block through "
	    "it)\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = oif eth0 tcp dport 22\n"
	    "threshold = 5/1m\n"),
	    "t.ini:2: count x: match: oif: the kernel counts a threshold in "
	    "prerouting, before routing has chosen an output interface (path = "
	    "engine counts after it)\n");
	assert_string_equal(unit_config_errors("[count x]\nmatch = tcp dport 22\n"
	    "every = 2\nexec = /bin/true\nsource = nflog\n"),
	    "t.ini:1: count x: source = nflog needs nflog_group in [engine]\n");
}

static void
test_count_trigger_names_are_unique_across_kinds(void **state)
{
	(void)state;
	assert_string_equal(unit_config_errors("[knock ssh]\nsequence = udp:1 udp:2\n"
	    "open = tcp:22\n[count ssh]\nmatch = tcp dport 22\n"
	    "threshold = 5/1m\n"),
	    "t.ini:4: count ssh: duplicate trigger name (first at line 1)\n");
	assert_string_equal(unit_config_errors("[count a]\nmatch = tcp dport 22\n"
	    "threshold = 5/1m\n[rotate a]\nmatch = oif eth0\n"
	    "mode = passthrough\n"),
	    "t.ini:4: rotate a: duplicate trigger name (first at line 1)\n");
}

/* --- rules ------------------------------------------------------------- */

static struct plan plan;

static const char *
rule_text(struct nftnl_rule *r)
{
	static char buf[8192];

	assert_non_null(r);
	nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_rule_free(r);
	return buf;
}

static const char rules_ini[] =
    "[engine]\nnflog_group = 7\n"
    "[count ssh]\nmatch = tcp dport 22 tcp flags syn / syn,ack\n"
    "threshold = 10/minute\nblock_timeout = 10m\n"
    "allow = 192.168.0.0/16 fd00::/8\nexec = /bin/true\n"
    "[count cam]\nmatch = udp dport 554\nevery = 3\nexec = /bin/true\n"
    "[count eng]\nmatch = udp dport 9\nthreshold = 3/2s\npath = engine\n"
    "allow = 10.1.0.0/16\n";

static void
test_count_kernel_rule_counts_blocks_and_logs_in_one_rule(void **state)
{
	struct config *cfg = load(rules_ini);
	const char *t;

	(void)state;
	assert_int_equal(plan_build(&plan, cfg), 0);
	assert_string_equal(plan.counts[0].rate4, "ssh_rate4");
	t = rule_text(build_rule_count_meter(&plan, &plan.counts[0], AF_INET, 0));
	assert_non_null(strstr(t, "inet nfq_trigger count_pre"));
	/* tcp flags syn / syn,ack */
	assert_non_null(strstr(t, "[ payload load 1b @ transport header + 13 => reg 1 ]\n"
	    "  [ bitwise reg 1 = ( reg 1 & 0x00000012 ) ^ 0x00000000 ]\n"
	    "  [ cmp eq reg 1 0x00000002 ]"));
	/* ip saddr != 192.168.0.0/16: the allow list */
	assert_non_null(strstr(t, "[ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ "
	    "0x00000000 ]\n  [ cmp neq reg 1 0x0000a8c0 ]"));
	assert_non_null(strstr(t, "[ dynset update reg_key 1 set ssh_rate4 expr "
	    "[ limit rate 10/minute burst 10 type packets flags 0x1 ] ]\n"
	    "  [ dynset add reg_key 1 set ssh_block4 timeout 600000ms ]\n"
	    "  [ log prefix nfqt-count ssh group 7 "));
	assert_non_null(strstr(t, "[ immediate reg 0 drop ]"));
	/* The IPv6 rule has the IPv6 allow prefix and sets. */
	t = rule_text(build_rule_count_meter(&plan, &plan.counts[0], AF_INET6, 0));
	assert_non_null(strstr(t, "set ssh_rate6"));
	assert_non_null(strstr(t, "[ cmp neq reg 1 0x000000fd 0x00000000 "
	    "0x00000000 0x00000000 ]"));
	t = rule_text(build_rule_count_block(&plan, &plan.counts[0], AF_INET));
	assert_non_null(strstr(t, "[ payload load 4b @ network header + 12 => reg 1 ]\n"
	    "  [ lookup reg 1 set ssh_block4 0x0 ]\n  [ counter pkts 0 bytes 0 ]\n"
	    "  [ immediate reg 0 drop ]"));
	/* Other kinds have no bucket rule. */
	assert_null(build_rule_count_meter(&plan, &plan.counts[1], AF_INET, 0));
	assert_null(build_rule_count_meter(&plan, &plan.counts[2], AF_INET, 0));
	config_free(cfg);
}

static void
test_count_divert_rules_queue_or_log_what_the_engine_counts(void **state)
{
	struct config *cfg = load(rules_ini);
	const char *t;

	(void)state;
	assert_int_equal(plan_build(&plan, cfg), 0);
	t = rule_text(build_rule_count_divert(&plan, &plan.counts[1],
	    NFT_CHAIN_COUNT_FWD, AF_INET, 0, 0, true));
	assert_non_null(strstr(t, "inet nfq_trigger count_fwd"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00002a02 ]"));	/* 554 */
	/* every = 3 counted by the kernel: the 3rd, 6th, ... packet is queued. */
	assert_non_null(strstr(t, "[ counter pkts 0 bytes 0 ]\n"
	    "  [ numgen reg 1 = inc mod 3 ]\n  [ cmp eq reg 1 0x00000002 ]\n"
	    "  [ queue num 0 bypass ]"));
	/* The engine path leaves allow-listed sources in the kernel. */
	t = rule_text(build_rule_count_divert(&plan, &plan.counts[2],
	    NFT_CHAIN_COUNT_IN, AF_INET, 0, 0, true));
	assert_non_null(strstr(t, "[ cmp neq reg 1 0x0000010a ]"));
	assert_non_null(strstr(t, "[ queue num 0 bypass ]"));
	/* A kernel-path threshold is not diverted at all. */
	assert_null(build_rule_count_divert(&plan, &plan.counts[0],
	    NFT_CHAIN_COUNT_IN, AF_INET, 0, 0, true));
	config_free(cfg);
	cfg = load("[engine]\nnflog_group = 3\n[count cam]\nmatch = udp dport 554\n"
	    "every = 3\nsource = nflog\nexec = /bin/true\n");
	assert_int_equal(plan_build(&plan, cfg), 0);
	t = rule_text(build_rule_count_divert(&plan, &plan.counts[0],
	    NFT_CHAIN_COUNT_IN, AF_INET6, 0, 0, true));
	assert_non_null(strstr(t, "[ log prefix nfqt-count cam group 3 "));
	assert_null(strstr(t, "queue"));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_every_runs_hook_once_per_n_packets),
		cmocka_unit_test(test_count_every_kernel_path_fires_for_each_packet_it_gets),
		cmocka_unit_test(test_count_every_default_is_each_packet),
		cmocka_unit_test(test_count_nflog_trigger_counts_its_prefix_only),
		cmocka_unit_test(test_count_engine_blocks_the_packet_over_the_threshold),
		cmocka_unit_test(test_count_engine_bucket_refills_at_the_rate),
		cmocka_unit_test(test_count_engine_forgets_a_source_a_period_after_its_last_packet),
		cmocka_unit_test(test_count_allow_listed_source_is_never_blocked),
		cmocka_unit_test(test_count_engine_only_counts_what_matches),
		cmocka_unit_test(test_count_flood_keeps_state_bounded_and_a_real_source_counted),
		cmocka_unit_test(test_count_kernel_blocks_are_reported_through_nflog),
		cmocka_unit_test(test_count_reload_keeps_the_count_of_unchanged_triggers),
		cmocka_unit_test(test_count_config_keys_and_defaults),
		cmocka_unit_test(test_count_config_errors_say_what_is_wrong),
		cmocka_unit_test(test_count_trigger_names_are_unique_across_kinds),
		cmocka_unit_test(test_count_kernel_rule_counts_blocks_and_logs_in_one_rule),
		cmocka_unit_test(test_count_divert_rules_queue_or_log_what_the_engine_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
