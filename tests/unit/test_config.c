/*
 * Config parser: every key and value form, every error with its exact
 * "file:line:" text, the reader's line rules, file ownership, -C output.
 */
#include <sys/stat.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "core/argv.h"
#include "config/config.h"
#include "core/knock_frame.h"
#include "config/config_test.h"

/* Loads text as "t.ini"; returns the messages (malloc'd) and their count. */
static char *
errors_of(const char *text, int *nerrors, struct config **cfgp)
{
	struct config *cfg;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	cfg = config_load_string("t.ini", text, f, nerrors);
	fclose(f);
	if (cfgp != NULL)
		*cfgp = cfg;
	else
		config_free(cfg);
	return buf;
}

/* The text must load; shows the errors when it does not. */
static struct config *
load_ok(const char *text)
{
	struct config *cfg;
	char *errs;
	int n = -1;

	errs = errors_of(text, &n, &cfg);
	if (cfg == NULL)
		fprintf(stderr, "unexpected errors:\n%s", errs);
	assert_non_null(cfg);
	assert_int_equal(n, 0);
	assert_string_equal(errs, "");
	free(errs);
	return cfg;
}

/* The text must fail with exactly these messages. */
static void
expect_errors(const char *text, int count, const char *expected)
{
	struct config *cfg;
	char *errs;
	int n = -1;

	errs = errors_of(text, &n, &cfg);
	assert_null(cfg);
	assert_string_equal(errs, expected);
	assert_int_equal(n, count);
	free(errs);
}

#define KNOCK_OK "[knock ssh]\nsequence = udp:7000\nopen = tcp:22\n"

/* --- engine ----------------------------------------------------------- */

static void
test_empty_file_gives_defaults_and_no_triggers(void **state)
{
	struct config *cfg = load_ok("");

	(void)state;
	assert_int_equal(cfg->engine.queue_first, 0);
	assert_int_equal(cfg->engine.queue_last, 0);
	assert_int_equal(cfg->engine.nflog_group, -1);
	assert_true(cfg->engine.fail_open);
	assert_true(cfg->engine.queue_bypass);
	assert_int_equal(cfg->engine.queue_maxlen, 4096);
	assert_int_equal(cfg->engine.copy_range, 256);
	assert_string_equal(cfg->engine.table, "nfq_trigger");
	assert_true(cfg->engine.manage_rules);
	assert_int_equal(cfg->engine.max_sources, 65536);
	assert_int_equal(cfg->engine.hook_timeout_ms, 30000);
	assert_string_equal(cfg->engine.pidfile, "/run/nfq-trigger.pid");
	assert_string_equal(cfg->engine.control, "/run/nfq-trigger/control.sock");
	assert_int_equal(cfg->engine.metrics_family, 0);
	assert_int_equal(cfg->nknocks, 0);
	assert_string_equal(cfg->path, "t.ini");
	config_free(cfg);
}

static void
test_engine_every_key_is_read(void **state)
{
	struct config *cfg = load_ok("[engine]\n"
	    "queue = 2-5\nnflog_group = 7\nfail_open = no\n"
	    "queue_bypass = off\nqueue_maxlen = 100\ncopy_range = 128\n"
	    "table = fw_1\nmanage_rules = false\nmax_sources = 10\n"
	    "hook_timeout = 2m\n");

	(void)state;
	assert_int_equal(cfg->engine.queue_first, 2);
	assert_int_equal(cfg->engine.queue_last, 5);
	assert_int_equal(cfg->engine.nflog_group, 7);
	assert_false(cfg->engine.fail_open);
	assert_false(cfg->engine.queue_bypass);
	assert_int_equal(cfg->engine.queue_maxlen, 100);
	assert_int_equal(cfg->engine.copy_range, 128);
	assert_string_equal(cfg->engine.table, "fw_1");
	assert_false(cfg->engine.manage_rules);
	assert_int_equal(cfg->engine.max_sources, 10);
	assert_int_equal(cfg->engine.hook_timeout_ms, 120000);
	config_free(cfg);
}

static void
test_queue_single_number_and_range(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[engine]\nqueue = 65535\n");
	assert_int_equal(cfg->engine.queue_first, 65535);
	assert_int_equal(cfg->engine.queue_last, 65535);
	config_free(cfg);
	cfg = load_ok("[engine]\nqueue = 0-3\n");
	assert_int_equal(cfg->engine.queue_first, 0);
	assert_int_equal(cfg->engine.queue_last, 3);
	config_free(cfg);
}

static void
test_queue_bad_values_are_errors(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue = 65536\n", 1, "t.ini:2: engine: queue: "
	    "'65536' is not a queue number 0-65535 or a range such as 0-3\n");
	expect_errors("[engine]\nqueue = 3-1\n", 1,
	    "t.ini:2: engine: queue: '3-1' goes backwards\n");
	expect_errors("[engine]\nqueue = 0 - 3\n", 1, "t.ini:2: engine: queue: "
	    "'0 - 3' is not a queue number 0-65535 or a range such as 0-3\n");
	expect_errors("[engine]\nqueue = -1\n", 1, "t.ini:2: engine: queue: "
	    "'-1' is not a queue number 0-65535 or a range such as 0-3\n");
	expect_errors("[engine]\nqueue = 1-\n", 1, "t.ini:2: engine: queue: "
	    "'1-' is not a queue number 0-65535 or a range such as 0-3\n");
}

static void
test_nflog_group_bounds(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[engine]\nnflog_group = 0\n");
	assert_int_equal(cfg->engine.nflog_group, 0);
	config_free(cfg);
	cfg = load_ok("[engine]\nnflog_group = 65535\n");
	assert_int_equal(cfg->engine.nflog_group, 65535);
	config_free(cfg);
	expect_errors("[engine]\nnflog_group = 65536\n", 1, "t.ini:2: engine: "
	    "nflog_group: '65536' is not a number from 0 to 65535\n");
	expect_errors("[engine]\nnflog_group = -1\n", 1, "t.ini:2: engine: "
	    "nflog_group: '-1' is not a number from 0 to 65535\n");
}

static void
test_boolean_forms(void **state)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	struct config *cfg;
	char text[64];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[engine]\nmanage_rules = %s\n", no[i]);
		cfg = load_ok(text);
		assert_false(cfg->engine.manage_rules);
		config_free(cfg);
		snprintf(text, sizeof(text), "[engine]\nfail_open = %s\n", yes[i]);
		cfg = load_ok(text);
		assert_true(cfg->engine.fail_open);
		config_free(cfg);
	}
	expect_errors("[engine]\nfail_open = maybe\n", 1, "t.ini:2: engine: "
	    "fail_open: 'maybe' is not yes/no, true/false, on/off or 1/0\n");
	expect_errors("[engine]\nfail_open = Yes\n", 1, "t.ini:2: engine: "
	    "fail_open: 'Yes' is not yes/no, true/false, on/off or 1/0\n");
}

static void
test_copy_range_bounds(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[engine]\ncopy_range = 64\n");
	assert_int_equal(cfg->engine.copy_range, 64);
	config_free(cfg);
	cfg = load_ok("[engine]\ncopy_range = 65535\n");
	assert_int_equal(cfg->engine.copy_range, 65535);
	config_free(cfg);
	expect_errors("[engine]\ncopy_range = 63\n", 1, "t.ini:2: engine: "
	    "copy_range: '63' is not a number from 64 to 65535\n");
	expect_errors("[engine]\ncopy_range = 256b\n", 1, "t.ini:2: engine: "
	    "copy_range: '256b' is not a number from 64 to 65535\n");
}

static void
test_queue_maxlen_and_max_sources_bounds(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[engine]\nqueue_maxlen = 4294967295\n"
	    "max_sources = 16777216\n");
	assert_int_equal(cfg->engine.queue_maxlen, 4294967295U);
	assert_int_equal(cfg->engine.max_sources, 16777216);
	config_free(cfg);
	expect_errors("[engine]\nqueue_maxlen = 0\nmax_sources = 16777217\n", 2,
	    "t.ini:2: engine: queue_maxlen: '0' is not a number from 1 to "
	    "4294967295\n"
	    "t.ini:3: engine: max_sources: '16777217' is not a number from 4 "
	    "to 16777216\n");
	expect_errors("[engine]\nmax_sources = 3\n", 1,
	    "t.ini:2: engine: max_sources: '3' is not a number from 4 "
	    "to 16777216\n");
	expect_errors("[engine]\nqueue_maxlen = 99999999999999999999999\n", 1,
	    "t.ini:2: engine: queue_maxlen: '99999999999999999999999' is not "
	    "a number from 1 to 4294967295\n");
}

static void
test_table_name_rules(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[engine]\ntable = abcdefghijklmnopqrstuvwxyz_12345\n");
	assert_string_equal(cfg->engine.table, "abcdefghijklmnopqrstuvwxyz_12345");
	config_free(cfg);
	expect_errors("[engine]\ntable = abcdefghijklmnopqrstuvwxyz_123456\n", 1,
	    "t.ini:2: engine: table: 'abcdefghijklmnopqrstuvwxyz_123456' is "
	    "longer than 32 bytes\n");
	expect_errors("[engine]\ntable = my-table\n", 1, "t.ini:2: engine: table: "
	    "'my-table' may only hold letters, digits and '_'\n");
	expect_errors("[engine]\ntable = 9lives\n", 1, "t.ini:2: engine: table: "
	    "'9lives' must start with a letter\n");
}

static void
test_hook_timeout_needs_unit_and_more_than_zero(void **state)
{
	(void)state;
	expect_errors("[engine]\nhook_timeout = 30\n", 1, "t.ini:2: engine: "
	    "hook_timeout: '30' needs a unit (ms, s, m, h or d), as in 30s\n");
	expect_errors("[engine]\nhook_timeout = 0s\n", 1, "t.ini:2: engine: "
	    "hook_timeout: must be longer than 0\n");
	expect_errors("[engine]\nhook_timeout = 25h\n", 1, "t.ini:2: engine: "
	    "hook_timeout: '25h' is too long (at most 1d)\n");
	config_free(load_ok("[engine]\nhook_timeout = 24h\n"));
}

static void
test_daemon_keys_read_and_none_turns_off(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[engine]\npidfile = /var/run/x.pid\ncontrol = /tmp/c.sock\n"
	    "metrics_listen = 127.0.0.1:9100\n");
	assert_string_equal(cfg->engine.pidfile, "/var/run/x.pid");
	assert_string_equal(cfg->engine.control, "/tmp/c.sock");
	assert_int_equal(cfg->engine.metrics_family, AF_INET);
	assert_int_equal(cfg->engine.metrics_port, 9100);
	assert_memory_equal(cfg->engine.metrics_addr, "\x7f\0\0\1", 4);
	config_free(cfg);
	cfg = load_ok("[engine]\npidfile = none\ncontrol = none\n"
	    "metrics_listen = [::1]:80\n");
	assert_string_equal(cfg->engine.pidfile, "");
	assert_string_equal(cfg->engine.control, "");
	assert_int_equal(cfg->engine.metrics_family, AF_INET6);
	assert_int_equal(cfg->engine.metrics_port, 80);
	config_free(cfg);
}

static void
test_daemon_keys_bad_values_each_reported(void **state)
{
	static const char *bad_listen[] = { "127.0.0.1", "localhost:80",
	    "127.0.0.1:0", "[::1]:65536", "::1:80", "127.0.0.1:+80" };
	char text[128], want[256];
	size_t i;

	(void)state;
	expect_errors("[engine]\npidfile = run/x.pid\ncontrol = c.sock\n", 2,
	    "t.ini:2: engine: pidfile: 'run/x.pid' is not an absolute path\n"
	    "t.ini:3: engine: control: 'c.sock' is not an absolute path\n");
	for (i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		snprintf(text, sizeof(text), "[engine]\nmetrics_listen = %s\n",
		    bad_listen[i]);
		snprintf(want, sizeof(want), "t.ini:2: engine: metrics_listen: '%s' "
		    "is not ADDRESS:PORT (127.0.0.1:9100, [::1]:9100) or none\n",
		    bad_listen[i]);
		expect_errors(text, 1, want);
	}
}

static void
test_control_path_must_fit_a_socket_address(void **state)
{
	char text[256], *errs;
	struct config *cfg;
	int n = -1;

	(void)state;
	/* sun_path holds 108 bytes with the NUL: 107 fit, 108 do not. */
	snprintf(text, sizeof(text), "[engine]\ncontrol = /%0106d\n", 0);
	config_free(load_ok(text));
	snprintf(text, sizeof(text), "[engine]\ncontrol = /%0107d\n", 0);
	errs = errors_of(text, &n, &cfg);
	assert_null(cfg);
	assert_int_equal(n, 1);
	assert_non_null(strstr(errs, "is longer than a socket path can be (107 bytes)"));
	free(errs);
}

/* --- value parsers ---------------------------------------------------- */

static void
test_duration_every_unit(void **state)
{
	uint64_t ms = 1;

	(void)state;
	assert_int_equal(config_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(config_parse_duration("10s", &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(config_parse_duration("5m", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(config_parse_duration("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(config_parse_duration("2d", &ms), 0);
	assert_int_equal(ms, 172800000);
	assert_int_equal(config_parse_duration("0s", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(config_parse_duration("3650d", &ms), 0);
	assert_int_equal(ms, CONFIG_DURATION_MAX_MS);
}

static void
test_duration_bad_forms_are_errors(void **state)
{
	static const char *bad[] = { "10", "", "s", "10 s", "10S", "1.5s",
	    "-1s", "+1s", "10sec", "1h30m", "3651d", "99999999999999999999s",
	    "18446744073709551615ms", NULL };
	uint64_t ms = 42;
	int i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		if (config_parse_duration(bad[i], &ms) != -1)
			fail_msg("'%s' was taken as a duration", bad[i]);
		assert_int_equal(ms, 42);
	}
	expect_errors("[knock k]\nsequence = udp:1\nopen = tcp:2\nwindow = 4000d\n",
	    1, "t.ini:4: knock k: window: '4000d' is too long (at most 3650d)\n");
	expect_errors("[knock k]\nsequence = udp:1\nopen = tcp:2\nwindow = 3w\n",
	    1, "t.ini:4: knock k: window: '3w' has an unknown unit (ms, s, m, h "
	    "or d)\n");
	expect_errors("[knock k]\nsequence = udp:1\nopen = tcp:2\nwindow = s\n",
	    1, "t.ini:4: knock k: window: 's' is not a duration: a number and a "
	    "unit (250ms, 10s, 5m, 1h, 2d)\n");
}

static void
test_duration_printed_in_largest_exact_unit(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(config_duration_str(0, buf, sizeof(buf)), "0s");
	assert_string_equal(config_duration_str(1500, buf, sizeof(buf)), "1500ms");
	assert_string_equal(config_duration_str(30000, buf, sizeof(buf)), "30s");
	assert_string_equal(config_duration_str(90000, buf, sizeof(buf)), "90s");
	assert_string_equal(config_duration_str(300000, buf, sizeof(buf)), "5m");
	assert_string_equal(config_duration_str(7200000, buf, sizeof(buf)), "2h");
	assert_string_equal(config_duration_str(172800000, buf, sizeof(buf)), "2d");
}

static void
test_parse_port_forms(void **state)
{
	struct config_port p;

	(void)state;
	assert_int_equal(config_parse_port("tcp:22", &p), 0);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.port, 22);
	assert_int_equal(config_parse_port("udp:65535", &p), 0);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.port, 65535);
	assert_int_equal(config_parse_port("tcp:0", &p), -1);
	assert_int_equal(config_parse_port("tcp:65536", &p), -1);
	assert_int_equal(config_parse_port("tcp:", &p), -1);
	assert_int_equal(config_parse_port("tcp", &p), -1);
	assert_int_equal(config_parse_port("sctp:22", &p), -1);
	assert_int_equal(config_parse_port("TCP:22", &p), -1);
	assert_int_equal(config_parse_port("tcp:22:s", &p), -1);
	assert_int_equal(config_parse_port("tcp:+22", &p), -1);
	assert_int_equal(config_parse_port("tcp:2 2", &p), -1);
}

/* --- knock ------------------------------------------------------------ */

/* What start-up would refuse, -C refuses with file:line (issue 15). */
static void
test_engine_queue_range_the_engine_cannot_bind_refused(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue = 0-65535\n", 1,
	    "t.ini:2: engine: queue: '0-65535' is 65536 queues, at most 64\n");
	expect_errors("[engine]\nqueue = 100-164\n", 1,
	    "t.ini:2: engine: queue: '100-164' is 65 queues, at most 64\n");
	config_free(load_ok("[engine]\nqueue = 65472-65535\n"));
}

static void
test_rotate_without_scope_or_on_loopback_refused(void **state)
{
	(void)state;
	expect_errors("[rotate r]\nmatch = meta l4proto tcp\npool = 10.0.0.1\n", 1,
	    "t.ini:2: rotate r: match: needs an interface (oif eth0) or an "
	    "address (ip saddr 10.0.0.0/8, ip daddr ...): the rules stay after "
	    "the engine exits and would rotate every connection, loopback "
	    "included\n");
	/* A negated address is no scope. */
	expect_errors("[rotate r]\nmatch = ip daddr != 10.0.0.0/8\npool = 10.0.0.1\n",
	    1, "t.ini:2: rotate r: match: needs an interface (oif eth0) or an "
	    "address (ip saddr 10.0.0.0/8, ip daddr ...): the rules stay after "
	    "the engine exits and would rotate every connection, loopback "
	    "included\n");
	expect_errors("[rotate r]\nmatch = oif { eth0, lo }\npool = 10.0.0.1\n", 1,
	    "t.ini:2: rotate r: match: the loopback interface is not a path to "
	    "rotate (its traffic never leaves this host)\n");
	expect_errors("[rotate r]\nmatch = oif l*\npool = 10.0.0.1\n", 1,
	    "t.ini:2: rotate r: match: the loopback interface is not a path to "
	    "rotate (its traffic never leaves this host)\n");
	expect_errors("[rotate r]\nmatch = ip daddr 64.0.0.0/2\npool = 10.0.0.1\n", 1,
	    "t.ini:2: rotate r: match: daddr takes in loopback addresses, which "
	    "are not a path to rotate\n");
	expect_errors("[rotate r]\nmatch = ip6 saddr ::/64\npool = fd00::1\n", 1,
	    "t.ini:2: rotate r: match: saddr takes in loopback addresses, which "
	    "are not a path to rotate\n");
	config_free(load_ok("[rotate r]\nmatch = ip daddr 128.0.0.0/1\npool = 10.0.0.1\n"));
	config_free(load_ok("[rotate r]\nmatch = oif eth* ip daddr != 127.0.0.0/8\n"
	    "pool = 10.0.0.1\n"));
	config_free(load_ok("[rotate r]\nmatch = ip6 daddr 2000::/3\npool = fd00::1\n"));
}

/* open = ADDRESS|PREFIX ports: the address scopes the ports after it. */
static void
test_knock_open_scopes_ports_to_a_destination(void **state)
{
	struct config *cfg = load_ok("[knock gw]\nsequence = udp:7000\n"
	    "open = tcp:22 10.71.9.9 tcp:22 tcp:80 fd71:9::/64 tcp:22\n"
	    "target = 10.71.1.1\ninterface = gw0\n");
	const struct config_knock *k = &cfg->knocks[0];
	uint8_t want4[4] = { 10, 71, 9, 9 }, t4[4] = { 10, 71, 1, 1 };

	(void)state;
	assert_int_equal(k->nopen, 4);
	assert_int_equal(k->open_dst[0].family, 0);
	assert_int_equal(k->open_dst[1].family, AF_INET);
	assert_int_equal(k->open_dst[1].p.len, 32);
	assert_memory_equal(k->open_dst[1].p.addr, want4, 4);
	assert_int_equal(k->open[2].port, 80);
	assert_int_equal(k->open_dst[2].family, AF_INET);
	assert_int_equal(k->open_dst[3].family, AF_INET6);
	assert_int_equal(k->open_dst[3].p.len, 64);
	assert_int_equal(k->target.family, AF_INET);
	assert_memory_equal(k->target.p.addr, t4, 4);
	assert_string_equal(k->interface, "gw0");
	config_free(cfg);
}

/* One guard holds at most CONFIG_GUARD_TRIGGERS_MAX sets: -C says so. */
static void
test_knock_shared_service_bounded_by_one_guard(void **state)
{
	char text[4096];
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; i <= CONFIG_GUARD_TRIGGERS_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "[knock k%d]\nsequence = udp:%d\nopen = tcp:22\n", i, 7000 + i);
	expect_errors(text, 1, "t.ini:99: knock k32: open: tcp:22 is opened by "
	    "more than 32 triggers (one guard holds at most that many)\n");
	/* Another destination is another service. */
	n -= strlen("open = tcp:22\n");
	snprintf(text + n, sizeof(text) - n, "open = 10.0.0.1 tcp:22\n");
	config_free(load_ok(text));
}

static void
test_knock_open_target_interface_refused(void **state)
{
	(void)state;
	expect_errors("[knock k]\nsequence = udp:1\nopen = tcp:2 10.0.0.1\n"
	    "target = 10.0.0.0/8\ninterface = a/b\n", 3,
	    "t.ini:3: knock k: open: address '10.0.0.1' has no port after it\n"
	    "t.ini:4: knock k: target: '10.0.0.0/8' is not an address (one "
	    "address, no prefix)\n"
	    "t.ini:5: knock k: interface: 'a/b' is not an interface name (1-15 "
	    "characters, no '/', '*' or blanks)\n");
	expect_errors("[knock k]\nsequence = udp:1\nopen = 10.0.0.1/8 tcp:2\n", 1,
	    "t.ini:3: knock k: open: '10.0.0.1/8' is neither proto:port nor an "
	    "address or prefix: '10.0.0.1/8' has bits set after the prefix "
	    "length\n");
	/* The same port on two destinations is two services; twice on one is not. */
	expect_errors("[knock k]\nsequence = udp:1\nopen = 10.0.0.1 tcp:2 tcp:2\n",
	    1, "t.ini:3: knock k: open: 'tcp:2' is listed twice\n");
	config_free(load_ok("[knock k]\nsequence = udp:1\nopen = tcp:2 10.0.0.1 tcp:2\n"));
	/* A forwarded port may be a knock port: the divert is at the input hook. */
	config_free(load_ok("[knock k]\nsequence = udp:1\nopen = 10.0.0.1 udp:1\n"));
}

static void
test_knock_every_key_is_read(void **state)
{
	struct config *cfg = load_ok("[knock ssh]\n"
	    "sequence = udp:7000 tcp:8000:s tcp:9000:fa\n"
	    "window = 5s\nopen = tcp:22 udp:60001\nallow_timeout = 1h\n"
	    "reset_on_wrong = no\nexec = /usr/local/sbin/notify %IP% %NAME%\n"
	    "exec_stop = /usr/local/sbin/notify stop %IP%\n"
	    "exec_stop_delay = 0s\n");
	const struct config_knock *k;

	(void)state;
	assert_int_equal(cfg->nknocks, 1);
	k = &cfg->knocks[0];
	assert_string_equal(k->name, "ssh");
	assert_int_equal(k->line, 1);
	assert_int_equal(k->nframes, 3);
	assert_int_equal(k->window_ms, 5000);
	assert_int_equal(k->nopen, 2);
	assert_int_equal(k->open[0].proto, IPPROTO_TCP);
	assert_int_equal(k->open[0].port, 22);
	assert_int_equal(k->open[1].proto, IPPROTO_UDP);
	assert_int_equal(k->open[1].port, 60001);
	assert_int_equal(k->allow_timeout_ms, 3600000);
	assert_false(k->reset_on_wrong);
	assert_int_equal(k->exec.argc, 3);
	assert_string_equal(k->exec.argv[0], "/usr/local/sbin/notify");
	assert_string_equal(k->exec.argv[1], "%IP%");
	assert_string_equal(k->exec.argv[2], "%NAME%");
	assert_null(k->exec.argv[3]);
	assert_string_equal(k->exec.line, "/usr/local/sbin/notify %IP% %NAME%");
	assert_int_equal(k->exec_stop.argc, 3);
	assert_string_equal(k->exec_stop.argv[1], "stop");
	assert_int_equal(k->exec_stop_delay_ms, 0);
	config_free(cfg);
}

static void
test_knock_defaults(void **state)
{
	struct config *cfg = load_ok(KNOCK_OK);
	const struct config_knock *k = &cfg->knocks[0];

	(void)state;
	assert_int_equal(k->window_ms, 10000);
	assert_int_equal(k->allow_timeout_ms, 30000);
	assert_true(k->reset_on_wrong);
	assert_null(k->exec.argv);
	assert_null(k->exec.line);
	assert_int_equal(k->exec.argc, 0);
	assert_null(k->exec_stop.argv);
	assert_int_equal(k->exec_stop_delay_ms, 0);
	config_free(cfg);
}

static void
test_knock_frame_flag_forms(void **state)
{
	struct config *cfg = load_ok("[knock k]\nsequence = tcp:1 tcp:2:s "
	    "tcp:3:af tcp:4:x tcp:5:n tcp:6:i tcp:7:fsrpau udp:8 tcp:9:u\n"
	    "open = tcp:22\n");
	const struct config_knock_frame *f = cfg->knocks[0].frames;

	(void)state;
	assert_int_equal(cfg->knocks[0].nframes, 9);
	/* No flags on tcp: exactly SYN among the six, what connect() sends. */
	assert_int_equal(f[0].flags_mask, 0x3f);
	assert_int_equal(f[0].flags_value, 0x02);
	assert_int_equal(f[1].flags_mask, 0x3f);
	assert_int_equal(f[1].flags_value, 0x02);
	assert_int_equal(f[2].flags_mask, 0x3f);
	assert_int_equal(f[2].flags_value, 0x11);	/* FIN|ACK */
	assert_int_equal(f[3].flags_mask, 0x3f);
	assert_int_equal(f[3].flags_value, 0x3f);
	assert_int_equal(f[4].flags_mask, 0x3f);
	assert_int_equal(f[4].flags_value, 0);
	assert_int_equal(f[5].flags_mask, 0);
	assert_int_equal(f[5].flags_value, 0);
	assert_int_equal(f[6].flags_value, 0x3f);
	assert_int_equal(f[7].port.proto, IPPROTO_UDP);
	assert_int_equal(f[7].flags_mask, 0);
	assert_int_equal(f[8].flags_value, 0x20);	/* URG */
	assert_int_equal(f[0].port.proto, IPPROTO_TCP);
	assert_int_equal(f[0].port.port, 1);
	config_free(cfg);
}

static void
test_knock_frame_text_kept_as_written(void **state)
{
	struct config *cfg = load_ok("[knock k]\nsequence = tcp:9000:af "
	    "udp:07000 tcp:65535:fsrpau\nopen = tcp:22\n");
	const struct config_knock_frame *f = cfg->knocks[0].frames;
	char buf[32];

	(void)state;
	assert_string_equal(f[0].text, "tcp:9000:af");
	assert_string_equal(f[1].text, "udp:07000");
	assert_int_equal(f[1].port.port, 7000);
	assert_string_equal(f[2].text, "tcp:65535:fsrpau");
	assert_string_equal(knock_frame_str(&f[0], buf, sizeof(buf)), "tcp:9000:fa");
	assert_string_equal(knock_frame_str(&f[1], buf, sizeof(buf)), "udp:7000");
	assert_string_equal(knock_frame_str(&f[2], buf, sizeof(buf)), "tcp:65535:x");
	config_free(cfg);
}

static void
test_knock_frame_errors_name_the_frame(void **state)
{
	(void)state;
	expect_errors("[knock ssh]\nopen = tcp:22\nsequence = tcp:80:q udp:1:s "
	    "tcp:2:ss tcp:3:xs tcp:4: icmp:5 tcp:0 tcp:65536 tcp udp:x\n", 10,
	    "t.ini:3: knock ssh: frame 'tcp:80:q': unknown flag 'q' (f s r p a "
	    "u, or x, n, i alone)\n"
	    "t.ini:3: knock ssh: frame 'udp:1:s': flags only apply to tcp\n"
	    "t.ini:3: knock ssh: frame 'tcp:2:ss': flag 's' given twice\n"
	    "t.ini:3: knock ssh: frame 'tcp:3:xs': flag 'x' stands alone\n"
	    "t.ini:3: knock ssh: frame 'tcp:4:': no flags after ':'\n"
	    "t.ini:3: knock ssh: frame 'icmp:5': unknown protocol 'icmp' (tcp "
	    "or udp)\n"
	    "t.ini:3: knock ssh: frame 'tcp:0': port '0' is not a number 1-65535\n"
	    "t.ini:3: knock ssh: frame 'tcp:65536': port '65536' is not a number "
	    "1-65535\n"
	    "t.ini:3: knock ssh: frame 'tcp': expected proto:port such as tcp:22\n"
	    "t.ini:3: knock ssh: frame 'udp:x': port 'x' is not a number 1-65535\n");
}

static void
test_knock_sequence_length_limits(void **state)
{
	char text[512];
	struct config *cfg;
	int i;

	(void)state;
	snprintf(text, sizeof(text), "[knock k]\nopen = tcp:22\nsequence =");
	for (i = 0; i < CONFIG_KNOCK_FRAMES_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    " udp:%d", 1000 + i);
	strcat(text, "\n");
	cfg = load_ok(text);
	assert_int_equal(cfg->knocks[0].nframes, CONFIG_KNOCK_FRAMES_MAX);
	assert_int_equal(cfg->knocks[0].frames[15].port.port, 1015);
	config_free(cfg);
	text[strlen(text) - 1] = '\0';
	strcat(text, " udp:2000\n");
	expect_errors(text, 1, "t.ini:3: knock k: sequence: 17 frames, at most 16\n");
	expect_errors("[knock k]\nopen = tcp:22\nsequence =\n", 1,
	    "t.ini:3: knock k: sequence: no value\n");
}

static void
test_knock_open_list_and_errors(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[knock k]\nsequence = udp:1\nopen = tcp:1 tcp:2 tcp:3 "
	    "tcp:4 udp:5 udp:6 udp:7 udp:8\n");
	assert_int_equal(cfg->knocks[0].nopen, CONFIG_OPEN_MAX);
	assert_int_equal(cfg->knocks[0].open[7].port, 8);
	config_free(cfg);
	expect_errors("[knock k]\nsequence = udp:1\nopen = tcp:1 tcp:2 tcp:3 "
	    "tcp:4 udp:5 udp:6 udp:7 udp:8 udp:9\n", 1,
	    "t.ini:3: knock k: open: 9 ports, at most 8\n");
	expect_errors("[knock k]\nsequence = udp:1\nopen = tcp:22 tcp:22:s "
	    "tcp:22 tcp:22\n", 3,
	    "t.ini:3: knock k: open: 'tcp:22:s': expected proto:port such as "
	    "tcp:22\n"
	    "t.ini:3: knock k: open: 'tcp:22' is listed twice\n"
	    "t.ini:3: knock k: open: 'tcp:22' is listed twice\n");
}

static void
test_knock_open_port_that_is_also_a_frame_is_error(void **state)
{
	(void)state;
	expect_errors("[knock k]\nsequence = udp:1 tcp:22\nopen = tcp:22\n", 1,
	    "t.ini:3: knock k: open: tcp:22 is also a knock frame\n");
}

static void
test_knock_missing_required_keys_at_header_line(void **state)
{
	(void)state;
	expect_errors("; a knock with nothing\n\n[knock empty]\n", 2,
	    "t.ini:3: knock empty: missing required key 'sequence'\n"
	    "t.ini:3: knock empty: missing required key 'open'\n");
	expect_errors("[knock a]\nwindow = 1s\n\n[knock b]\nsequence = udp:1\n",
	    3,
	    "t.ini:1: knock a: missing required key 'sequence'\n"
	    "t.ini:1: knock a: missing required key 'open'\n"
	    "t.ini:4: knock b: missing required key 'open'\n");
}

static void
test_knock_exec_is_split_without_a_shell(void **state)
{
	struct config *cfg = load_ok(KNOCK_OK
	    "exec = /bin/echo 'two words' \"say \\\"hi\\\"\" $HOME *.c a\\ b\n");
	const struct config_hook *h = &cfg->knocks[0].exec;

	(void)state;
	assert_int_equal(h->argc, 6);
	assert_string_equal(h->argv[1], "two words");
	assert_string_equal(h->argv[2], "say \"hi\"");
	assert_string_equal(h->argv[3], "$HOME");
	assert_string_equal(h->argv[4], "*.c");
	assert_string_equal(h->argv[5], "a b");
	assert_null(h->argv[6]);
	config_free(cfg);
}

static void
test_knock_exec_errors(void **state)
{
	(void)state;
	expect_errors(KNOCK_OK "exec = notify %IP%\n", 1,
	    "t.ini:4: knock ssh: exec: 'notify' is not an absolute path (hooks "
	    "run without a shell or PATH)\n");
	expect_errors(KNOCK_OK "exec = /bin/x 'oops\n", 1,
	    "t.ini:4: knock ssh: exec: unterminated single quote\n");
	expect_errors(KNOCK_OK "exec = ''\n", 1,
	    "t.ini:4: knock ssh: exec: '' is not an absolute path (hooks run "
	    "without a shell or PATH)\n");
}

static void
test_knock_exec_stop_rules(void **state)
{
	struct config *cfg;

	(void)state;
	expect_errors(KNOCK_OK "exec_stop = /bin/stop\nexec_stop_delay = 1m\n",
	    1, "t.ini:4: knock ssh: exec_stop needs exec\n");
	expect_errors(KNOCK_OK "exec = /bin/start\nexec_stop = /bin/stop\n", 1,
	    "t.ini:5: knock ssh: exec_stop needs exec_stop_delay (how long "
	    "after exec it runs)\n");
	expect_errors(KNOCK_OK "exec = /bin/start\nexec_stop_delay = 1m\n", 1,
	    "t.ini:5: knock ssh: exec_stop_delay without exec_stop\n");
	cfg = load_ok(KNOCK_OK "exec = /bin/start\nexec_stop = /bin/stop\n"
	    "exec_stop_delay = 90s\n");
	assert_int_equal(cfg->knocks[0].exec_stop_delay_ms, 90000);
	config_free(cfg);
}

static void
test_knock_window_and_allow_timeout_must_be_positive(void **state)
{
	(void)state;
	expect_errors(KNOCK_OK "window = 0ms\nallow_timeout = 0s\n", 2,
	    "t.ini:4: knock ssh: window: must be longer than 0\n"
	    "t.ini:5: knock ssh: allow_timeout: must be longer than 0\n");
}

static void
test_trigger_name_rules(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[knock a-b_C-01234567890123456789012345]\nsequence = udp:1\n"
	    "open = tcp:2\n");
	assert_string_equal(cfg->knocks[0].name, "a-b_C-01234567890123456789012345");
	config_free(cfg);
	expect_errors("[knock a-b_C-012345678901234567890123456]\nsequence = udp:1\n"
	    "open = tcp:2\n", 1, "t.ini:1: knock a-b_C-012345678901234567890123456: "
	    "trigger name is longer than 32 bytes\n");
	expect_errors("[knock s.sh]\nsequence = udp:1\nopen = tcp:2\n", 1,
	    "t.ini:1: knock s.sh: trigger name may only hold letters, digits, "
	    "'_' and '-'\n");
	expect_errors("[knock]\nsequence = udp:1\nopen = tcp:2\n", 1,
	    "t.ini:1: [knock] needs a name: [knock NAME]\n");
}

static void
test_bad_trigger_name_still_checks_its_keys(void **state)
{
	(void)state;
	expect_errors("[knock a.b]\nsequence = udp:1\nopen = tcp:2\nwindow = 9\n"
	    "exec = rel\n", 3,
	    "t.ini:1: knock a.b: trigger name may only hold letters, digits, "
	    "'_' and '-'\n"
	    "t.ini:4: knock a.b: window: '9' needs a unit (ms, s, m, h or d), "
	    "as in 9s\n"
	    "t.ini:5: knock a.b: exec: 'rel' is not an absolute path (hooks run "
	    "without a shell or PATH)\n");
}

static void
test_duplicate_trigger_name_names_first_line(void **state)
{
	(void)state;
	expect_errors(KNOCK_OK "\n" KNOCK_OK, 1,
	    "t.ini:5: knock ssh: duplicate trigger name (first at line 1)\n");
}

static void
test_too_many_triggers(void **state)
{
	char *text, *p;
	size_t size = 80 * (CONFIG_TRIGGERS_MAX + 1);
	int i;

	(void)state;
	text = p = malloc(size);
	assert_non_null(text);
	/* Each its own service: a guard holds at most 32 triggers. */
	for (i = 0; i <= CONFIG_TRIGGERS_MAX; i++)
		p += sprintf(p, "[knock k%d]\nsequence = udp:1\nopen = tcp:%d\n", i,
		    i + 2);
	expect_errors(text, 1, "t.ini:193: knock k64: more than 64 triggers\n");
	*(p - strlen("[knock k64]\nsequence = udp:1\nopen = tcp:66\n")) = '\0';
	config_free(load_ok(text));
	free(text);
}

/* --- structure -------------------------------------------------------- */

static void
test_unknown_key_is_error(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueues = 1\n", 1,
	    "t.ini:2: engine: unknown key 'queues'\n");
	expect_errors(KNOCK_OK "windows = 1s\n", 1,
	    "t.ini:4: knock ssh: unknown key 'windows'\n");
}

static void
test_duplicate_key_is_error(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue = 1\n\nqueue = 1\n", 1,
	    "t.ini:4: engine: duplicate key 'queue' (first at line 2)\n");
	expect_errors(KNOCK_OK "exec = /bin/a\nexec = /bin/b\n", 1,
	    "t.ini:5: knock ssh: duplicate key 'exec' (first at line 4)\n");
}

static void
test_unknown_section_is_error_and_its_keys_skipped(void **state)
{
	(void)state;
	expect_errors("[tunnel egress]\npool = x\nstart = x\n" KNOCK_OK, 1,
	    "t.ini:1: unknown section '[tunnel egress]': expected [engine], "
	    "[knock NAME], [activity NAME], [count NAME], [rotate NAME] or [spa NAME]\n");
}

static void
test_section_header_errors(void **state)
{
	(void)state;
	expect_errors("[engine\n[]\n[engine] x\n[knock a b]\n[engine foo]\n", 5,
	    "t.ini:1: section header without ']'\n"
	    "t.ini:2: empty section header\n"
	    "t.ini:3: text after the section header: 'x'\n"
	    "t.ini:4: section header '[knock a b]' has more than a type and a "
	    "name\n"
	    "t.ini:5: [engine] takes no name\n");
	config_free(load_ok("  [ engine ]  ; the engine\n[knock\tk] # tab\n"
	    "sequence = udp:1\nopen = tcp:2\n"));
}

static void
test_duplicate_engine_section_is_error(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue = 1\n[engine]\nqueue = 2\ncopy_range = 1\n",
	    2, "t.ini:3: duplicate section [engine] (first at line 1)\n"
	    "t.ini:5: engine: copy_range: '1' is not a number from 64 to 65535\n");
}

static void
test_key_outside_any_section_is_error(void **state)
{
	(void)state;
	expect_errors("queue = 1\n[engine]\n", 1, "t.ini:1: 'queue' outside any "
	    "section: put it under [engine] or [knock NAME]\n");
}

static void
test_lines_that_are_not_key_value(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue\nqueue: 1\n= 1\nfoo ;bar = 1\n", 4,
	    "t.ini:2: expected 'key = value' or '[section]', got 'queue'\n"
	    "t.ini:3: expected 'key = value', got 'queue: 1'\n"
	    "t.ini:4: no key name before '='\n"
	    "t.ini:5: expected 'key = value' or '[section]', got 'foo ;bar = 1'\n");
}

static void
test_empty_value_is_error_not_default(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue =\ntable = ; none\n", 2,
	    "t.ini:2: engine: queue: no value\n"
	    "t.ini:3: engine: table: no value\n");
}

static void
test_several_mistakes_each_reported_with_its_line(void **state)
{
	const char *text =
	    "; several mistakes\n"			/* 1 */
	    "[engine]\n"				/* 2 */
	    "queue = 70000\n"				/* 3 */
	    "fail_open = perhaps\n"			/* 4 */
	    "hook_timeout = 30\n"			/* 5 */
	    "\n"					/* 6 */
	    "[knock ssh]\n"				/* 7 */
	    "sequence = udp:7000 tcp:80:q\n"		/* 8 */
	    "window = 10\n"				/* 9 */
	    "colour = blue\n"				/* 10 */
	    "[knock web]\n"				/* 11 */
	    "sequence = udp:1\n"			/* 12 */
	    "open = tcp:443\n"				/* 13 */
	    "open = tcp:80\n";				/* 14 */

	(void)state;
	expect_errors(text, 8,
	    "t.ini:3: engine: queue: '70000' is not a queue number 0-65535 or a "
	    "range such as 0-3\n"
	    "t.ini:4: engine: fail_open: 'perhaps' is not yes/no, true/false, "
	    "on/off or 1/0\n"
	    "t.ini:5: engine: hook_timeout: '30' needs a unit (ms, s, m, h or "
	    "d), as in 30s\n"
	    "t.ini:7: knock ssh: missing required key 'open'\n"
	    "t.ini:8: knock ssh: frame 'tcp:80:q': unknown flag 'q' (f s r p a "
	    "u, or x, n, i alone)\n"
	    "t.ini:9: knock ssh: window: '10' needs a unit (ms, s, m, h or "
	    "d), as in 10s\n"
	    "t.ini:10: knock ssh: unknown key 'colour'\n"
	    "t.ini:14: knock web: duplicate key 'open' (first at line 13)\n");
}

/* --- lines ------------------------------------------------------------ */

/* Every error is counted; a flood of them is printed up to a bound. */
static void
test_error_flood_is_counted_and_bounded(void **state)
{
	char *text, *errs, *p;
	int n, lines = 0;

	(void)state;
	text = malloc(1500 * 4 + 16);
	assert_non_null(text);
	strcpy(text, "[engine]\n");
	for (p = text + strlen(text), n = 0; n < 1500; n++)
		p += sprintf(p, "xx\n");
	errs = errors_of(text, &n, NULL);
	assert_int_equal(n, 1500);
	for (p = errs; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 1001);
	assert_non_null(strstr(errs, "t.ini:1001: expected 'key = value' or "
	    "'[section]', got 'xx'\nt.ini: 500 more errors not shown\n"));
	free(errs);
	free(text);
}

static void
test_overlong_line_is_refused_not_split(void **state)
{
	char text[1024], value[256];
	struct config *cfg;
	size_t pad;

	(void)state;
	/* Exactly CONFIG_LINE_MAX bytes: taken whole. */
	pad = CONFIG_LINE_MAX - strlen("exec = /bin/x ");
	memset(value, 'a', pad);
	value[pad] = '\0';
	snprintf(text, sizeof(text), KNOCK_OK "exec = /bin/x %s\n", value);
	cfg = load_ok(text);
	assert_int_equal(cfg->knocks[0].exec.argc, 2);
	assert_int_equal(strlen(cfg->knocks[0].exec.argv[1]), pad);
	config_free(cfg);
	/* One byte more: an error, and the next line keeps its number. */
	snprintf(text, sizeof(text), KNOCK_OK "exec = /bin/x %sb\nbogus = 1\n",
	    value);
	expect_errors(text, 2, "t.ini:4: line is 198 bytes long, at most 197 "
	    "are allowed\n"
	    "t.ini:5: knock ssh: unknown key 'bogus'\n");
	/* inih would have split this one into a second "line". */
	memset(value, 'b', 250);
	value[250] = '\0';
	snprintf(text, sizeof(text), "[engine]\n; %s\ntable = x=y\n", value);
	expect_errors(text, 2, "t.ini:2: line is 252 bytes long, at most 197 "
	    "are allowed\n"
	    "t.ini:3: engine: table: 'x=y' may only hold letters, digits and "
	    "'_'\n");
}

static void
test_crlf_line_endings(void **state)
{
	struct config *cfg = load_ok("[engine]\r\nqueue = 1-2\r\n\r\n"
	    "[knock ssh]\r\nsequence = udp:7000 tcp:8000:s\r\nopen = tcp:22\r\n"
	    "exec = /bin/x y\r\n");

	(void)state;
	assert_int_equal(cfg->engine.queue_last, 2);
	assert_int_equal(cfg->knocks[0].nframes, 2);
	assert_string_equal(cfg->knocks[0].frames[1].text, "tcp:8000:s");
	assert_string_equal(cfg->knocks[0].exec.argv[1], "y");
	config_free(cfg);
	expect_errors("[engine]\r\n\r\nqueue = x\r\n", 1, "t.ini:3: engine: "
	    "queue: 'x' is not a queue number 0-65535 or a range such as 0-3\n");
}

static void
test_comments(void **state)
{
	struct config *cfg = load_ok("# hash comment\n; semicolon comment\n"
	    "   ; indented comment\n[engine] ; after a header\n"
	    "queue = 3 ; inline comment\n");

	(void)state;
	assert_int_equal(cfg->engine.queue_first, 3);
	config_free(cfg);
	/* ';' needs a blank before it to start a comment. */
	expect_errors("[engine]\ntable = t;x\n", 1, "t.ini:2: engine: table: "
	    "'t;x' may only hold letters, digits and '_'\n");
	/* '#' only starts a comment at the beginning of a line. */
	expect_errors("[engine]\nqueue = 3 # three\n", 1, "t.ini:2: engine: "
	    "queue: '3 # three' is not a queue number 0-65535 or a range such "
	    "as 0-3\n");
}

static void
test_indented_keys_are_not_continuations(void **state)
{
	struct config *cfg = load_ok("[knock ssh]\n    sequence = udp:1\n"
	    "\topen = tcp:22\n    window = 3s\n");

	(void)state;
	assert_int_equal(cfg->knocks[0].nframes, 1);
	assert_int_equal(cfg->knocks[0].window_ms, 3000);
	config_free(cfg);
	expect_errors("[engine]\nqueue = 1\n   2\n", 1, "t.ini:3: expected 'key "
	    "= value' or '[section]', got '2'\n");
}

static void
test_utf8_bom_and_missing_final_newline(void **state)
{
	struct config *cfg = load_ok("\xef\xbb\xbf[engine]\nqueue = 4");

	(void)state;
	assert_int_equal(cfg->engine.queue_first, 4);
	config_free(cfg);
	/* Only at the very start of the file. */
	expect_errors("[engine]\n\xef\xbb\xbfqueue = 4\n", 1,
	    "t.ini:2: engine: unknown key '\\xef\\xbb\\xbfqueue'\n");
}

static void
test_control_characters_are_errors(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue = 1\x1b[2J\ntable = a\rb\n", 2,
	    "t.ini:2: control character 0x1b in column 10\n"
	    "t.ini:3: control character 0x0d in column 10\n");
}

/* --- files ------------------------------------------------------------ */

static char *
write_temp(const char *text, mode_t mode)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/nfqt-test-config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static char *
file_errors(const char *path, bool check_owner, int *n, struct config **cfgp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*cfgp = config_load(path, check_owner, f, n);
	fclose(f);
	return buf;
}

static void
test_load_file_and_path_recorded(void **state)
{
	const char *path = write_temp(KNOCK_OK, 0600);
	struct config *cfg;
	char *errs;
	int n = -1;

	(void)state;
	errs = file_errors(path, geteuid() == 0, &n, &cfg);
	assert_string_equal(errs, "");
	assert_non_null(cfg);
	assert_int_equal(n, 0);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->nknocks, 1);
	config_free(cfg);
	free(errs);
	unlink(path);
}

static void
test_file_writable_by_group_or_others_is_refused(void **state)
{
	const char *path = write_temp(KNOCK_OK, 0622);
	struct config *cfg;
	char expected[256], *errs;
	int n;

	(void)state;
	if (geteuid() != 0)
		skip();
	errs = file_errors(path, true, &n, &cfg);
	snprintf(expected, sizeof(expected), "%s: writable by group and others "
	    "(mode 0622); it names commands that run as root: chmod go-w %s\n",
	    path, path);
	assert_null(cfg);
	assert_int_equal(n, 1);
	assert_string_equal(errs, expected);
	free(errs);
	/* The same file is fine when ownership is not checked. */
	errs = file_errors(path, false, &n, &cfg);
	assert_non_null(cfg);
	assert_int_equal(n, 0);
	config_free(cfg);
	free(errs);
	unlink(path);
}

static void
test_file_owned_by_non_root_is_refused(void **state)
{
	const char *path = write_temp("[engine]\nqueue = x\n", 0600);
	struct config *cfg;
	char expected[256], *errs;
	uid_t uid = geteuid() == 0 ? 65534 : geteuid();
	int n;

	(void)state;
	if (geteuid() == 0)
		assert_int_equal(chown(path, uid, (gid_t)-1), 0);
	errs = file_errors(path, true, &n, &cfg);
	/* Both: the file problem and the mistakes in it. */
	snprintf(expected, sizeof(expected), "%s: owned by uid %u, not root; it "
	    "names commands that run as root\n%s:2: engine: queue: 'x' is not a "
	    "queue number 0-65535 or a range such as 0-3\n", path, (unsigned)uid,
	    path);
	assert_null(cfg);
	assert_int_equal(n, 2);
	assert_string_equal(errs, expected);
	free(errs);
	unlink(path);
}

static void
test_missing_file_directory_and_nul_byte(void **state)
{
	static const char nul[] = "[engine]\nqueue = 1\0\n";
	struct config *cfg;
	char path[64], *errs;
	int n, fd;

	(void)state;
	errs = file_errors("/nonexistent/nfq-trigger.ini", false, &n, &cfg);
	assert_null(cfg);
	assert_int_equal(n, 1);
	assert_string_equal(errs, "/nonexistent/nfq-trigger.ini: No such file "
	    "or directory\n");
	free(errs);
	errs = file_errors("/tmp", false, &n, &cfg);
	assert_null(cfg);
	assert_string_equal(errs, "/tmp: not a regular file\n");
	free(errs);
	snprintf(path, sizeof(path), "/tmp/nfqt-test-config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, nul, sizeof(nul) - 1), (ssize_t)sizeof(nul) - 1);
	close(fd);
	errs = file_errors(path, false, &n, &cfg);
	assert_null(cfg);
	assert_int_equal(n, 1);
	assert_non_null(strstr(errs, ":2: NUL byte in the file\n"));
	free(errs);
	unlink(path);
}

static void
test_errs_and_nerrors_may_be_null(void **state)
{
	int n = -1;

	(void)state;
	assert_null(config_load_string("t.ini", "[bad\n", NULL, &n));
	assert_int_equal(n, 1);
	assert_null(config_load_string("t.ini", "[bad\n", NULL, NULL));
	assert_null(config_load_string(NULL, "x", NULL, NULL));
	config_free(config_load_string(NULL, NULL, NULL, NULL));
	config_free(NULL);
}

/* The shipped files must load: they are what users start from. */
static void
test_shipped_configs_load(void **state)
{
	static const char *files[] = { "nfq-trigger.ini", "rules/knock-ssh.ini",
	    NULL };
	const char *top = getenv("top");
	struct config *cfg;
	char path[512], *errs;
	int i, n;

	(void)state;
	for (i = 0; files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", top ? top : ".", files[i]);
		errs = file_errors(path, false, &n, &cfg);
		if (cfg == NULL)
			fail_msg("%s", errs);
		assert_int_equal(cfg->nknocks, 1);
		assert_string_equal(cfg->knocks[0].name, "ssh");
		config_free(cfg);
		free(errs);
	}
}

/* --- derived knocks (derive = time | counter) --------------------------- */

#define HEX64	"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f"

static char keydir[64];
static char key_good[128], key_bad[128], key_open[128];

static void
key_put(char *path, const char *name, const char *text, mode_t mode)
{
	FILE *f;

	snprintf(path, 128, "%s/%s", keydir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
keys_setup(void **state)
{
	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/nfqt-test-keys.XXXXXX");
	if (mkdtemp(keydir) == NULL)
		return -1;
	key_put(key_good, "good.key", HEX64 "\n", 0600);
	key_put(key_bad, "bad.key", "not a key\n", 0600);
	key_put(key_open, "open.key", HEX64 "\n", 0644);
	return 0;
}

static int
keys_teardown(void **state)
{
	(void)state;
	unlink(key_good);
	unlink(key_bad);
	unlink(key_open);
	return rmdir(keydir);
}

/* text with @K, @B and @O replaced by the good, bad and open key's paths. */
static char *
subst(const char *text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	for (; *text != '\0'; text++) {
		if (text[0] == '@' && (text[1] == 'K' || text[1] == 'B' ||
		    text[1] == 'O')) {
			fputs(text[1] == 'K' ? key_good : text[1] == 'B' ?
			    key_bad : key_open, f);
			text++;
		} else
			fputc(*text, f);
	}
	fclose(f);
	return buf;
}

static struct config *
load_ok_keys(const char *text)
{
	char *t = subst(text);
	struct config *cfg = load_ok(t);

	free(t);
	return cfg;
}

static void
expect_errors_keys(const char *text, int count, const char *expected)
{
	char *t = subst(text), *e = subst(expected);

	expect_errors(t, count, e);
	free(t);
	free(e);
}

static void
test_derived_time_knock_and_its_defaults(void **state)
{
	struct config *cfg = load_ok_keys("[knock ssh]\nkey = @K\n"
	    "derive = time\nopen = tcp:22\n");
	const struct config_knock *k = &cfg->knocks[0];
	int i;

	(void)state;
	assert_int_equal(k->derive, CONFIG_DERIVE_TIME);
	assert_string_equal(k->key_path, key_good);
	for (i = 0; i < CONFIG_KEY_LEN; i++)
		assert_int_equal(k->key[i], i);
	assert_int_equal(k->nframes, 4);
	assert_int_equal(k->ports.proto, IPPROTO_UDP);
	assert_int_equal(k->ports.lo, 20000);
	assert_int_equal(k->ports.hi, 29999);
	assert_int_equal(k->step_ms, 30000);
	assert_int_equal(k->window_ms, 10000);
	config_free(cfg);
}

static void
test_derived_counter_knock_every_key_is_read(void **state)
{
	struct config *cfg = load_ok_keys("[knock c]\nderive = counter\n"
	    "key = @K\nframes = 6\nports = 40000-40999\nproto = tcp\n"
	    "lookahead = 32\nstate = /var/lib/nfq-trigger/c.counter\n"
	    "open = tcp:22\n");
	const struct config_knock *k = &cfg->knocks[0];

	(void)state;
	assert_int_equal(k->derive, CONFIG_DERIVE_COUNTER);
	assert_int_equal(k->nframes, 6);
	assert_int_equal(k->ports.proto, IPPROTO_TCP);
	assert_int_equal(k->ports.lo, 40000);
	assert_int_equal(k->ports.hi, 40999);
	assert_int_equal(k->lookahead, 32);
	assert_string_equal(k->state_path, "/var/lib/nfq-trigger/c.counter");
	config_free(cfg);
	cfg = load_ok_keys("[knock t]\nderive = time\nkey = @K\nstep = 1h\n"
	    "frames = 16\nopen = tcp:22\n");
	assert_int_equal(cfg->knocks[0].step_ms, 3600000);
	assert_int_equal(cfg->knocks[0].nframes, 16);
	config_free(cfg);
}

static void
test_derived_key_and_derive_need_each_other(void **state)
{
	(void)state;
	expect_errors("[knock k]\nderive = time\nopen = tcp:22\n", 1,
	    "t.ini:2: knock k: derive needs key (the file of the secret the "
	    "sequence is derived from)\n");
	expect_errors_keys("[knock k]\nkey = @K\nopen = tcp:22\n", 1,
	    "t.ini:2: knock k: key needs derive = time or derive = counter\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\n"
	    "sequence = udp:1\nopen = tcp:22\n", 1,
	    "t.ini:4: knock k: sequence: not with key and derive (the sequence "
	    "is derived from the key)\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = counter\n"
	    "open = tcp:22\n", 1,
	    "t.ini:3: knock k: derive = counter needs state (the file where the "
	    "engine keeps the next counter)\n");
}

static void
test_derived_keys_only_with_their_kind(void **state)
{
	(void)state;
	expect_errors(KNOCK_OK "step = 30s\nframes = 4\nports = 1-2\n"
	    "proto = tcp\nlookahead = 3\nstate = /x\n", 6,
	    "t.ini:4: knock ssh: step only applies with derive = time\n"
	    "t.ini:5: knock ssh: frames only applies with derive = time or "
	    "counter\n"
	    "t.ini:6: knock ssh: ports only applies with derive = time or "
	    "counter\n"
	    "t.ini:7: knock ssh: proto only applies with derive = time or "
	    "counter\n"
	    "t.ini:8: knock ssh: lookahead only applies with derive = counter\n"
	    "t.ini:9: knock ssh: state only applies with derive = counter\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\nopen = tcp:22\n"
	    "lookahead = 3\nstate = /x\n", 2,
	    "t.ini:5: knock k: lookahead only applies with derive = counter\n"
	    "t.ini:6: knock k: state only applies with derive = counter\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = counter\n"
	    "state = /x\nopen = tcp:22\nstep = 30s\n", 1,
	    "t.ini:6: knock k: step only applies with derive = time\n");
}

static void
test_derived_bad_values(void **state)
{
	(void)state;
	expect_errors_keys("[knock k]\nkey = @K\nopen = tcp:22\n"
	    "derive = otp\nstep = 1500ms\nframes = 1\nports = 30000-20000\n"
	    "proto = sctp\nlookahead = 33\nstate = var/k.counter\n", 7,
	    "t.ini:4: knock k: derive: 'otp' is not time or counter\n"
	    "t.ini:5: knock k: step: must be whole seconds (the engine counts "
	    "steps from time(2))\n"
	    "t.ini:6: knock k: frames: '1' is not a number from 2 to 16\n"
	    "t.ini:7: knock k: ports: '30000-20000' must go from a lower port "
	    "to a higher one\n"
	    "t.ini:8: knock k: proto: 'sctp' is not udp or tcp\n"
	    "t.ini:9: knock k: lookahead: '33' is not a number from 1 to 32\n"
	    "t.ini:10: knock k: state: 'var/k.counter' is not an absolute "
	    "path\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\nopen = tcp:22\n"
	    "step = 0s\nframes = 17\nports = 20000\n", 3,
	    "t.ini:5: knock k: step: must be longer than 0\n"
	    "t.ini:6: knock k: frames: '17' is not a number from 2 to 16\n"
	    "t.ini:7: knock k: ports: '20000' is not a port range such as "
	    "20000-29999\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\nopen = tcp:22\n"
	    "step = 2d\nports = 0-100\n", 2,
	    "t.ini:5: knock k: step: '2d' is too long (at most 1d)\n"
	    "t.ini:6: knock k: ports: '0-100' is not a port range such as "
	    "20000-29999\n");
}

static void
test_derived_too_few_sequences_is_error(void **state)
{
	struct config *cfg;

	(void)state;
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\nopen = tcp:22\n"
	    "ports = 20000-20009\n", 1,
	    "t.ini:5: knock k: ports 20000-20009 and frames = 4 give 10000 "
	    "sequences, too few to resist guessing: widen ports or add frames "
	    "(at least 1000000000 sequences)\n");
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\nopen = tcp:22\n"
	    "frames = 2\n", 1,
	    "t.ini:5: knock k: ports 20000-29999 and frames = 2 give 100000000 "
	    "sequences, too few to resist guessing: widen ports or add frames "
	    "(at least 1000000000 sequences)\n");
	/* 32000^2 = 1.024e9 is enough. */
	cfg = load_ok_keys("[knock k]\nkey = @K\nderive = time\nopen = tcp:22\n"
	    "frames = 2\nports = 1-32000\n");
	config_free(cfg);
}

static void
test_derived_key_file_errors_at_key_line(void **state)
{
	(void)state;
	expect_errors_keys("[knock k]\nderive = time\nkey = @B\nopen = tcp:22\n",
	    1, "t.ini:3: knock k: key: @B is not a key: want one line of 64 "
	    "hexadecimal digits (32 bytes)\n");
	expect_errors_keys("[knock k]\nderive = time\nkey = @K.none\n"
	    "open = tcp:22\n", 1,
	    "t.ini:3: knock k: key: @K.none: No such file or directory\n");
	expect_errors("[knock k]\nderive = time\nkey = etc/k.key\n"
	    "open = tcp:22\n", 1,
	    "t.ini:3: knock k: key: 'etc/k.key' is not an absolute path\n");
}

/* A key readable by others is refused when the config's owner is checked. */
static void
test_derived_key_open_to_others_is_refused_with_line(void **state)
{
	char text[512], expected[1024], *path, *errs;
	struct config *cfg;
	int n;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(text, sizeof(text), "[knock k]\nderive = time\nkey = %s\n"
	    "open = tcp:22\n", key_open);
	path = write_temp(text, 0600);
	errs = file_errors(path, true, &n, &cfg);
	snprintf(expected, sizeof(expected), "%s:3: knock k: key: %s is open "
	    "to group and others (mode 0644): a key must be for its owner "
	    "only: chmod 600 %s\n", path, key_open, key_open);
	assert_null(cfg);
	assert_int_equal(n, 1);
	assert_string_equal(errs, expected);
	free(errs);
	/* Not checked: loads (tests, nfq-knock, which checks it itself). */
	errs = file_errors(path, false, &n, &cfg);
	assert_non_null(cfg);
	config_free(cfg);
	free(errs);
	unlink(path);
}

static void
test_open_port_in_derived_range_or_other_triggers_knock_is_error(void **state)
{
	(void)state;
	expect_errors_keys("[knock k]\nkey = @K\nderive = time\n"
	    "open = udp:25000 tcp:25000\n", 1,
	    "t.ini:4: knock k: open: udp:25000 is in the knock's ports "
	    "udp:20000-29999\n");
	/* Another trigger's knock ports would swallow this one's service. */
	expect_errors_keys("[knock a]\nkey = @K\nderive = time\nproto = tcp\n"
	    "open = tcp:22\n[knock b]\nsequence = udp:1\nopen = tcp:21000\n", 1,
	    "t.ini:8: knock b: open: tcp:21000 is a knock port of [knock a] "
	    "(line 1)\n");
	expect_errors("[knock a]\nsequence = udp:1\nopen = tcp:22\n"
	    "[knock b]\nsequence = tcp:22 udp:2\nopen = tcp:80\n", 1,
	    "t.ini:5: knock b: knocks on tcp:22, which [knock a] (line 1) "
	    "opens\n");
}

static void
test_knock_divert_ports_listed_and_derived(void **state)
{
	struct config *cfg = load_ok_keys("[knock a]\n"
	    "sequence = udp:7 tcp:8 tcp:8:fa udp:7 tcp:9\nopen = tcp:22\n"
	    "[knock b]\nkey = @K\nderive = time\nproto = tcp\n"
	    "ports = 40000-49999\nopen = tcp:23\n");
	struct config_port_range r[CONFIG_KNOCK_FRAMES_MAX];

	(void)state;
	/* Each proto:port once, in order of first use. */
	assert_int_equal(knock_divert_ports(&cfg->knocks[0], r, 16), 3);
	assert_int_equal(r[0].proto, IPPROTO_UDP);
	assert_int_equal(r[0].lo, 7);
	assert_int_equal(r[0].hi, 7);
	assert_int_equal(r[1].proto, IPPROTO_TCP);
	assert_int_equal(r[1].lo, 8);
	assert_int_equal(r[2].lo, 9);
	assert_int_equal(knock_divert_ports(&cfg->knocks[0], r, 2), 2);
	assert_int_equal(knock_divert_ports(&cfg->knocks[1], r, 16), 1);
	assert_int_equal(r[0].proto, IPPROTO_TCP);
	assert_int_equal(r[0].lo, 40000);
	assert_int_equal(r[0].hi, 49999);
	assert_true(knock_has_port(&cfg->knocks[0], IPPROTO_TCP, 8));
	assert_false(knock_has_port(&cfg->knocks[0], IPPROTO_UDP, 8));
	assert_true(knock_has_port(&cfg->knocks[1], IPPROTO_TCP, 40000));
	assert_true(knock_has_port(&cfg->knocks[1], IPPROTO_TCP, 49999));
	assert_false(knock_has_port(&cfg->knocks[1], IPPROTO_TCP, 50000));
	assert_false(knock_has_port(&cfg->knocks[1], IPPROTO_UDP, 45000));
	config_free(cfg);
}

/* What nfq-knock parses its command line with: the sequence's own parser. */
static void
test_parse_frame_for_clients(void **state)
{
	struct config_knock_frame f;
	char why[128], buf[32];

	(void)state;
	assert_int_equal(config_parse_frame("tcp:9000:af", &f, why, sizeof(why)), 0);
	assert_int_equal(f.port.proto, IPPROTO_TCP);
	assert_int_equal(f.port.port, 9000);
	assert_int_equal(f.flags_mask, 0x3f);
	assert_int_equal(f.flags_value, 0x11);
	assert_string_equal(knock_frame_str(&f, buf, sizeof(buf)), "tcp:9000:fa");
	assert_int_equal(config_parse_frame("tcp:80", &f, why, sizeof(why)), 0);
	assert_int_equal(f.flags_value, 0x02);
	assert_int_equal(config_parse_frame("udp:7000", &f, why, sizeof(why)), 0);
	assert_int_equal(f.flags_mask, 0);
	assert_int_equal(config_parse_frame("udp:7000:s", &f, why, sizeof(why)), -1);
	assert_string_equal(why, "flags only apply to tcp");
	assert_int_equal(config_parse_frame("tcp:70000", &f, why, sizeof(why)), -1);
	assert_string_equal(why, "port '70000' is not a number 1-65535");
	assert_int_equal(config_parse_frame("tcp:1:fsrpauxxxxxxxxxxxxxx", &f, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "too long for a frame");
}

static void
test_print_derived_knocks_never_shows_the_key(void **state)
{
	struct config *cfg = load_ok_keys("[knock t]\nkey = @K\nderive = time\n"
	    "step = 1m\nopen = tcp:22\n[knock c]\nkey = @K\n"
	    "derive = counter\nproto = tcp\nframes = 5\nstate = /s/c.counter\n"
	    "open = tcp:23\n");
	char *buf = NULL, *want;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	for (int i = 0; i < cfg->nknocks; i++)
		config_print(&(struct config){ .knocks = &cfg->knocks[i],
		    .nknocks = 1, .engine = cfg->engine }, f);
	fclose(f);
	assert_null(strstr(buf, "0102030405"));
	want = strstr(buf, "knock t:");
	assert_non_null(want);
	want = subst("knock t: 4 frames in udp:20000-29999 derived from the "
	    "time within 10s opens tcp:22 for 30s\n"
	    "  key             @K\n"
	    "  step            1m\n"
	    "  reset_on_wrong  yes\n");
	assert_non_null(strstr(buf, want));
	free(want);
	want = subst("knock c: 5 frames in tcp:20000-29999 derived from the "
	    "counter within 10s opens tcp:23 for 30s\n"
	    "  key             @K\n"
	    "  lookahead       5\n"
	    "  state           /s/c.counter\n"
	    "  reset_on_wrong  yes\n");
	assert_non_null(strstr(buf, want));
	free(want);
	free(buf);
	config_free(cfg);
}

/* --- -C output -------------------------------------------------------- */

static void
test_print_is_readable_and_stable(void **state)
{
	struct config *cfg = load_ok("[engine]\nqueue = 0-1\nnflog_group = 5\n"
	    "[knock ssh]\nsequence = udp:7000 tcp:8000 tcp:9000:af\n"
	    "open = tcp:22 tcp:2222\nreset_on_wrong = off\n"
	    "exec = /usr/bin/logger -t 'knock ok' it\\'s %IP%\n"
	    "exec_stop = /bin/true\nexec_stop_delay = 1500ms\n"
	    "[knock web]\nsequence = tcp:1:i tcp:2:n tcp:3:x udp:4\n"
	    "open = tcp:443\nwindow = 2m\nallow_timeout = 1d\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	config_print(cfg, f);
	fclose(f);
	assert_string_equal(buf,
	    "engine\n"
	    "  queue           0-1\n"
	    "  nflog_group     5\n"
	    "  fail_open       yes\n"
	    "  queue_bypass    yes\n"
	    "  queue_maxlen    4096\n"
	    "  copy_range      256\n"
	    "  table           nfq_trigger\n"
	    "  manage_rules    yes\n"
	    "  max_sources     65536\n"
	    "  hook_timeout    30s\n"
	    "  pidfile         /run/nfq-trigger.pid\n"
	    "  control         /run/nfq-trigger/control.sock\n"
	    "  metrics_listen  none\n"
	    "knock ssh: udp:7000 -> tcp:8000:s -> tcp:9000:fa within 10s opens "
	    "tcp:22 tcp:2222 for 30s\n"
	    "  reset_on_wrong  no\n"
	    "  exec            /usr/bin/logger -t 'knock ok' 'it'\\''s' %IP%\n"
	    "  exec_stop       /bin/true\n"
	    "  exec_stop_delay 1500ms\n"
	    "knock web: tcp:1:i -> tcp:2:n -> tcp:3:x -> udp:4 within 2m opens "
	    "tcp:443 for 1d\n"
	    "  reset_on_wrong  yes\n");
	free(buf);
	config_free(cfg);
}

/* -C shows hook words quoted so that they split back the same. */
static void
test_printed_hook_splits_back_to_same_words(void **state)
{
	struct config *cfg = load_ok(KNOCK_OK "exec = /bin/x '' \"a b\" "
	    "it\\'s \"q\\\"q\" back\\\\slash tab'\t'x %IP%\n");
	const struct config_hook *h = &cfg->knocks[0].exec;
	char *buf = NULL, *line, **argv;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int argc, i;

	(void)state;
	config_print(cfg, f);
	fclose(f);
	line = strstr(buf, "  exec ");
	assert_non_null(line);
	line += strlen("  exec ");
	*strchr(line, '\n') = '\0';
	assert_int_equal(argv_split(line, &argv, &argc, NULL), 0);
	assert_int_equal(argc, h->argc);
	assert_int_equal(argc, 8);
	for (i = 0; i < argc; i++)
		assert_string_equal(argv[i], h->argv[i]);
	argv_free(argv);
	free(buf);
	config_free(cfg);
}

/* --- [activity NAME] -------------------------------------------------- */

#define ACT_OK "[activity vpn]\nmatch = ip daddr 10.8.0.0/16\nstart = /bin/up\n"

static void
test_activity_defaults(void **state)
{
	struct config *cfg = load_ok(ACT_OK);
	const struct config_activity *a;

	(void)state;
	assert_int_equal(cfg->nactivities, 1);
	a = &cfg->activities[0];
	assert_string_equal(a->name, "vpn");
	assert_int_equal(a->line, 1);
	assert_int_equal(a->source, CONFIG_SOURCE_QUEUE);
	assert_int_equal(a->ttl_ms, 600 * 1000);
	assert_int_equal(a->hold_packets, 64);
	assert_int_equal(a->hold_bytes, 262144);
	assert_false(a->start_failure_accept);
	assert_int_equal(a->retry_after_ms, 10 * 1000);
	assert_string_equal(a->start.argv[0], "/bin/up");
	assert_null(a->stop.argv);
	assert_int_equal(a->match.family, AF_INET);
	assert_int_equal(a->match.addr[MATCH_DST].n, 1);
	assert_int_equal(a->match.addr[MATCH_DST].v[0].len, 16);
	config_free(cfg);
}

static void
test_activity_every_key_is_read(void **state)
{
	struct config *cfg = load_ok("[engine]\nnflog_group = 3\n"
	    "[activity vpn]\nmatch = tcp dport { 80, 443 }\nsource = queue\n"
	    "ttl = 5m\nstart = /sbin/vpn up %NAME%\nstop = /sbin/vpn down\n"
	    "hold_packets = 10\nhold_bytes = 15000\nstart_failure = accept\n"
	    "retry_after = 0s\n"
	    "[activity watch]\nsource = nflog\nmatch = udp dport 53\n"
	    "start = /bin/true\nretry_after = 1m\n");
	const struct config_activity *a = &cfg->activities[0], *w;

	(void)state;
	assert_int_equal(cfg->nactivities, 2);
	assert_int_equal(a->ttl_ms, 300 * 1000);
	assert_int_equal(a->start.argc, 3);
	assert_string_equal(a->start.argv[2], "%NAME%");
	assert_string_equal(a->stop.argv[1], "down");
	assert_int_equal(a->hold_packets, 10);
	assert_int_equal(a->hold_bytes, 15000);
	assert_true(a->start_failure_accept);
	assert_int_equal(a->retry_after_ms, 0);
	assert_int_equal(a->match.port[MATCH_DST].n, 2);
	w = &cfg->activities[1];
	assert_string_equal(w->name, "watch");
	assert_int_equal(w->source, CONFIG_SOURCE_NFLOG);
	assert_int_equal(w->retry_after_ms, 60 * 1000);
	config_free(cfg);
}

static void
test_activity_needs_match_and_start(void **state)
{
	(void)state;
	expect_errors("[activity vpn]\nttl = 10s\n", 2,
	    "t.ini:1: activity vpn: missing required key 'match'\n"
	    "t.ini:1: activity vpn: missing required key 'start'\n");
	expect_errors("[activity]\n" "match = udp dport 1\nstart = /bin/x\n", 1,
	    "t.ini:1: [activity] needs a name: [activity NAME]\n");
}

static void
test_activity_bad_values_each_reported(void **state)
{
	(void)state;
	expect_errors(ACT_OK "source = tap\nttl = 1s\nhold_packets = 5000\n"
	    "hold_bytes = lots\nstart_failure = reject\nretry_after = 10\n"
	    "stop = vpn down\n", 7,
	    "t.ini:4: activity vpn: source: 'tap' is not queue or nflog\n"
	    "t.ini:5: activity vpn: ttl: must be at least 2s (live flows are "
	    "sampled once a second)\n"
	    "t.ini:6: activity vpn: hold_packets: '5000' is not a number from 0 "
	    "to 4096\n"
	    "t.ini:7: activity vpn: hold_bytes: 'lots' is not a number from 0 to "
	    "67108864\n"
	    "t.ini:8: activity vpn: start_failure: 'reject' is not accept or drop\n"
	    "t.ini:9: activity vpn: retry_after: '10' needs a unit (ms, s, m, h or "
	    "d), as in 10s\n"
	    "t.ini:10: activity vpn: stop: 'vpn' is not an absolute path (hooks "
	    "run without a shell or PATH)\n");
	expect_errors(ACT_OK "ttl = 600\n", 1,
	    "t.ini:4: activity vpn: ttl: '600' needs a unit (ms, s, m, h or d), "
	    "as in 600s\n");
}

static void
test_activity_bad_match_names_the_word_at_its_line(void **state)
{
	(void)state;
	expect_errors("[activity vpn]\nstart = /bin/up\n"
	    "match = ip daddr 10.8.0.1/16\n", 1,
	    "t.ini:3: activity vpn: match: '10.8.0.1/16' has bits set after the "
	    "prefix length\n");
	expect_errors("[activity vpn]\nstart = /bin/up\nmatch = ip dst 10.8.0.0/16\n",
	    1, "t.ini:3: activity vpn: match: 'ip' is followed by saddr or daddr, "
	    "not 'dst'\n");
}

static void
test_activity_oif_is_refused_before_routing(void **state)
{
	(void)state;
	expect_errors("[activity vpn]\nstart = /bin/up\nmatch = oif wg0\n", 1,
	    "t.ini:3: activity vpn: match: oif: an activity trigger sees packets "
	    "in prerouting, before routing has chosen an output interface\n");
	config_free(load_ok("[activity vpn]\nstart = /bin/up\nmatch = iif lan0\n"));
}

static void
test_activity_nflog_needs_group_and_holds_nothing(void **state)
{
	(void)state;
	expect_errors("[activity vpn]\nsource = nflog\nmatch = udp dport 1\n"
	    "start = /bin/x\nhold_packets = 8\nstart_failure = accept\n", 3,
	    "t.ini:1: activity vpn: source = nflog needs nflog_group in [engine]\n"
	    "t.ini:5: activity vpn: hold_packets only applies with source = queue "
	    "(NFLOG packets are not held)\n"
	    "t.ini:6: activity vpn: start_failure only applies with source = queue "
	    "(NFLOG packets are not held)\n");
	/* [engine] may come after the trigger. */
	config_free(load_ok("[activity vpn]\nsource = nflog\nmatch = udp dport 1\n"
	    "start = /bin/x\n[engine]\nnflog_group = 2\n"));
}

static void
test_activity_hold_must_leave_room_in_the_queue(void **state)
{
	(void)state;
	expect_errors("[engine]\nqueue_maxlen = 64\n" ACT_OK, 1,
	    "t.ini:3: activity vpn: hold_packets = 64 leaves no room in the "
	    "kernel queue (queue_maxlen = 64)\n");
}

static void
test_trigger_names_unique_across_kinds(void **state)
{
	(void)state;
	expect_errors(KNOCK_OK "[activity ssh]\nmatch = udp dport 1\n"
	    "start = /bin/x\n", 1,
	    "t.ini:4: activity ssh: duplicate trigger name (first at line 1)\n");
	expect_errors(ACT_OK "[knock vpn]\nsequence = udp:7000\nopen = tcp:22\n", 1,
	    "t.ini:4: knock vpn: duplicate trigger name (first at line 1)\n");
	expect_errors(ACT_OK "[activity vpn]\nmatch = udp dport 1\n"
	    "start = /bin/x\n", 1,
	    "t.ini:4: activity vpn: duplicate trigger name (first at line 1)\n");
}

static void
test_activity_print(void **state)
{
	struct config *cfg = load_ok("[engine]\nnflog_group = 1\n"
	    "[activity vpn]\nmatch = ip daddr { 10.8.0.0/16, 10.9.0.1 } "
	    "tcp dport 80-90\nttl = 10m\nstart = /sbin/vpn up\n"
	    "stop = /sbin/vpn down\n"
	    "[activity w]\nsource = nflog\nmatch = meta l4proto { tcp, udp } "
	    "th dport != 53\nstart = /bin/true\n");
	char *buf = NULL, *act;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	config_print(cfg, f);
	fclose(f);
	act = strstr(buf, "activity vpn");
	assert_non_null(act);
	assert_string_equal(act,
	    "activity vpn: ip daddr { 10.8.0.0/16, 10.9.0.1 } tcp dport 80-90 "
	    "through the queue, stop after 10m idle\n"
	    "  start           /sbin/vpn up\n"
	    "  stop            /sbin/vpn down\n"
	    "  hold_packets    64\n"
	    "  hold_bytes      262144\n"
	    "  start_failure   drop\n"
	    "  retry_after     10s\n"
	    "activity w: meta l4proto { tcp, udp } th dport != 53 through the "
	    "nflog group, stop after 10m idle\n"
	    "  start           /bin/true\n"
	    "  retry_after     10s\n");
	free(buf);
	config_free(cfg);
}


static void
test_knock_close_sequence_and_open_prefix(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_ok("[knock ssh]\nsequence = udp:7000 udp:7001\nopen = tcp:22\n"
	    "close_sequence = udp:7002 tcp:7003\nopen_prefix = 24 64\n");
	assert_int_equal(cfg->knocks[0].nclose, 2);
	assert_int_equal(cfg->knocks[0].close_frames[1].port.port, 7003);
	assert_int_equal(cfg->knocks[0].close_frames[1].flags_value, 0x02);
	assert_int_equal(cfg->knocks[0].open_prefix4, 24);
	assert_int_equal(cfg->knocks[0].open_prefix6, 64);
	assert_true(knock_has_port(&cfg->knocks[0], IPPROTO_UDP, 7002));
	config_free(cfg);
	cfg = load_ok("[knock ssh]\nsequence = udp:7000 udp:7001\nopen = tcp:22\n"
	    "open_prefix = 32\n");
	assert_int_equal(cfg->knocks[0].open_prefix4, 0);
	assert_int_equal(cfg->knocks[0].open_prefix6, 0);
	config_free(cfg);
	expect_errors("[knock ssh]\nsequence = udp:7000 udp:7001\nopen = tcp:22\n"
	    "close_sequence = udp:7000 udp:7001\nopen_prefix = 4\n", 2,
	    "t.ini:4: knock ssh: close_sequence is the sequence itself\n"
	    "t.ini:5: knock ssh: open_prefix: '4' is not a prefix length of IPv4, "
	    "8 to 32\n");
	expect_errors("[knock ssh]\nsequence = udp:7000 udp:7001\nopen = tcp:22\n"
	    "close_sequence = udp:22\nopen_prefix = 24 8 9\n", 2,
	    "t.ini:5: knock ssh: open_prefix: '8' is not a prefix length of IPv6, "
	    "16 to 128\n"
	    "t.ini:5: knock ssh: open_prefix: want the IPv4 prefix length, and "
	    "optionally the IPv6 one: 24, or 24 64\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_file_gives_defaults_and_no_triggers),
		cmocka_unit_test(test_engine_every_key_is_read),
		cmocka_unit_test(test_queue_single_number_and_range),
		cmocka_unit_test(test_queue_bad_values_are_errors),
		cmocka_unit_test(test_nflog_group_bounds),
		cmocka_unit_test(test_boolean_forms),
		cmocka_unit_test(test_copy_range_bounds),
		cmocka_unit_test(test_queue_maxlen_and_max_sources_bounds),
		cmocka_unit_test(test_table_name_rules),
		cmocka_unit_test(test_hook_timeout_needs_unit_and_more_than_zero),
		cmocka_unit_test(test_daemon_keys_read_and_none_turns_off),
		cmocka_unit_test(test_daemon_keys_bad_values_each_reported),
		cmocka_unit_test(test_control_path_must_fit_a_socket_address),
		cmocka_unit_test(test_duration_every_unit),
		cmocka_unit_test(test_duration_bad_forms_are_errors),
		cmocka_unit_test(test_duration_printed_in_largest_exact_unit),
		cmocka_unit_test(test_parse_port_forms),
		cmocka_unit_test(test_knock_every_key_is_read),
		cmocka_unit_test(test_knock_open_scopes_ports_to_a_destination),
		cmocka_unit_test(test_engine_queue_range_the_engine_cannot_bind_refused),
		cmocka_unit_test(test_rotate_without_scope_or_on_loopback_refused),
		cmocka_unit_test(test_knock_open_target_interface_refused),
		cmocka_unit_test(test_knock_shared_service_bounded_by_one_guard),
		cmocka_unit_test(test_knock_defaults),
		cmocka_unit_test(test_knock_frame_flag_forms),
		cmocka_unit_test(test_knock_frame_text_kept_as_written),
		cmocka_unit_test(test_knock_frame_errors_name_the_frame),
		cmocka_unit_test(test_knock_sequence_length_limits),
		cmocka_unit_test(test_knock_open_list_and_errors),
		cmocka_unit_test(test_knock_open_port_that_is_also_a_frame_is_error),
		cmocka_unit_test(test_knock_missing_required_keys_at_header_line),
		cmocka_unit_test(test_knock_exec_is_split_without_a_shell),
		cmocka_unit_test(test_knock_exec_errors),
		cmocka_unit_test(test_knock_exec_stop_rules),
		cmocka_unit_test(test_knock_window_and_allow_timeout_must_be_positive),
		cmocka_unit_test(test_trigger_name_rules),
		cmocka_unit_test(test_bad_trigger_name_still_checks_its_keys),
		cmocka_unit_test(test_duplicate_trigger_name_names_first_line),
		cmocka_unit_test(test_too_many_triggers),
		cmocka_unit_test(test_unknown_key_is_error),
		cmocka_unit_test(test_duplicate_key_is_error),
		cmocka_unit_test(test_unknown_section_is_error_and_its_keys_skipped),
		cmocka_unit_test(test_section_header_errors),
		cmocka_unit_test(test_duplicate_engine_section_is_error),
		cmocka_unit_test(test_key_outside_any_section_is_error),
		cmocka_unit_test(test_lines_that_are_not_key_value),
		cmocka_unit_test(test_empty_value_is_error_not_default),
		cmocka_unit_test(test_several_mistakes_each_reported_with_its_line),
		cmocka_unit_test(test_error_flood_is_counted_and_bounded),
		cmocka_unit_test(test_overlong_line_is_refused_not_split),
		cmocka_unit_test(test_crlf_line_endings),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_indented_keys_are_not_continuations),
		cmocka_unit_test(test_utf8_bom_and_missing_final_newline),
		cmocka_unit_test(test_control_characters_are_errors),
		cmocka_unit_test(test_load_file_and_path_recorded),
		cmocka_unit_test(test_file_writable_by_group_or_others_is_refused),
		cmocka_unit_test(test_file_owned_by_non_root_is_refused),
		cmocka_unit_test(test_missing_file_directory_and_nul_byte),
		cmocka_unit_test(test_errs_and_nerrors_may_be_null),
		cmocka_unit_test(test_shipped_configs_load),
		cmocka_unit_test(test_derived_time_knock_and_its_defaults),
		cmocka_unit_test(test_derived_counter_knock_every_key_is_read),
		cmocka_unit_test(test_derived_key_and_derive_need_each_other),
		cmocka_unit_test(test_derived_keys_only_with_their_kind),
		cmocka_unit_test(test_derived_bad_values),
		cmocka_unit_test(test_derived_too_few_sequences_is_error),
		cmocka_unit_test(test_derived_key_file_errors_at_key_line),
		cmocka_unit_test(test_derived_key_open_to_others_is_refused_with_line),
		cmocka_unit_test(test_open_port_in_derived_range_or_other_triggers_knock_is_error),
		cmocka_unit_test(test_knock_divert_ports_listed_and_derived),
		cmocka_unit_test(test_knock_close_sequence_and_open_prefix),
		cmocka_unit_test(test_parse_frame_for_clients),
		cmocka_unit_test(test_print_derived_knocks_never_shows_the_key),
		cmocka_unit_test(test_print_is_readable_and_stable),
		cmocka_unit_test(test_printed_hook_splits_back_to_same_words),
		cmocka_unit_test(test_activity_defaults),
		cmocka_unit_test(test_activity_every_key_is_read),
		cmocka_unit_test(test_activity_needs_match_and_start),
		cmocka_unit_test(test_activity_bad_values_each_reported),
		cmocka_unit_test(test_activity_bad_match_names_the_word_at_its_line),
		cmocka_unit_test(test_activity_oif_is_refused_before_routing),
		cmocka_unit_test(test_activity_nflog_needs_group_and_holds_nothing),
		cmocka_unit_test(test_activity_hold_must_leave_room_in_the_queue),
		cmocka_unit_test(test_trigger_names_unique_across_kinds),
		cmocka_unit_test(test_activity_print),
	};

	return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
