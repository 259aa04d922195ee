/*
 * [spa NAME] sections: every key, the key file of each format refused with
 * its line when missing, too short or open to others (at start and by -C,
 * both through config_load), and the ports a trigger may not share.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "config/config.h"

#define HEX64	"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f\n"
#define FKO_OK	"KEY_BASE64: dzUNhL41gMQsFsUpfQLxp6y0iRewEnJXVPzTNxZ9tQg=\n" \
		"HMAC_KEY_BASE64: poFpVpMyFwMQWY+cFxILnrB3G7Nf5SxRS2o+Oj+m4pRwuJ7z/" \
		"iLDSr0PW0F2OFU1JdfCjCfNs/8p+do2x/WZCQ==\n"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nfqt-test-spa.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *
put(const char *name, const char *text, mode_t mode)
{
	static char path[4][128];
	static int next;
	char *p = path[next++ % 4];
	FILE *f;

	snprintf(p, 128, "%s/%s", dir, name);
	unlink(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

/* Load text as a file with the ownership checks; errors with dir as "D". */
static struct config *
load(const char *text, char *errs, size_t size)
{
	const char *path = put("t.ini", text, 0600);
	char raw[2048] = "", *s, *o;
	struct config *cfg;
	FILE *f;
	int n;

	f = fmemopen(raw, sizeof(raw) - 1, "w");
	assert_non_null(f);
	cfg = config_load(path, true, f, &n);
	fclose(f);
	for (s = raw, o = errs; *s != '\0' && o < errs + size - 2; ) {
		if (strncmp(s, dir, strlen(dir)) == 0) {
			*o++ = 'D';
			s += strlen(dir);
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return cfg;
}

static char *
spa_ini(const char *extra, const char *keyname)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "[spa ssh]\nport = udp:62201\nkey = %s/%s\n"
	    "open = tcp:22\n%s", dir, keyname, extra);
	return buf;
}

static void
test_spa_every_key_is_read(void **state)
{
	char errs[2048], text[2048];
	struct config *cfg;

	(void)state;
	put("ssh.key", HEX64, 0600);
	snprintf(text, sizeof(text), "%s", spa_ini("allow_timeout = 1m\n"
	    "max_age = 10s\nallow_address = yes\nreplay_cache = 100\n"
	    "format = nfq-trigger\n", "ssh.key"));
	cfg = load(text, errs, sizeof(errs));
	assert_string_equal(errs, "");
	assert_non_null(cfg);
	assert_int_equal(cfg->nspas, 1);
	assert_string_equal(cfg->spas[0].name, "ssh");
	assert_int_equal(cfg->spas[0].format, CONFIG_SPA_NATIVE);
	assert_int_equal(cfg->spas[0].port.port, 62201);
	assert_int_equal(cfg->spas[0].nopen, 1);
	assert_int_equal(cfg->spas[0].open[0].port, 22);
	assert_int_equal(cfg->spas[0].allow_timeout_ms, 60000);
	assert_int_equal(cfg->spas[0].max_age_ms, 10000);
	assert_true(cfg->spas[0].allow_address);
	assert_int_equal(cfg->spas[0].replay_cache, 100);
	assert_int_equal(cfg->spas[0].key[1], 1);
	assert_int_equal(cfg->spas[0].key[31], 0x1f);
	config_free(cfg);
}

static void
test_spa_defaults(void **state)
{
	char errs[2048];
	struct config *cfg;

	(void)state;
	put("ssh.key", HEX64, 0600);
	cfg = load(spa_ini("", "ssh.key"), errs, sizeof(errs));
	assert_non_null(cfg);
	assert_int_equal(cfg->spas[0].allow_timeout_ms, 30000);
	assert_int_equal(cfg->spas[0].max_age_ms, 30000);
	assert_false(cfg->spas[0].allow_address);
	assert_int_equal(cfg->spas[0].replay_cache, 4096);
	config_free(cfg);
}

static void
test_spa_missing_required_keys(void **state)
{
	(void)state;
	assert_string_equal(unit_config_errors("[spa ssh]\nmax_age = 5s\n"),
	    "t.ini:1: spa ssh: missing required key 'port'\n"
	    "t.ini:1: spa ssh: missing required key 'key'\n"
	    "t.ini:1: spa ssh: missing required key 'open'\n");
}

static void
test_spa_key_missing_short_or_open_refused_with_line(void **state)
{
	char errs[2048];

	(void)state;
	assert_null(load(spa_ini("", "none.key"), errs, sizeof(errs)));
	assert_string_equal(errs, "D/t.ini:3: spa ssh: key: D/none.key: No such "
	    "file or directory\n");
	put("short.key", "0001020304\n", 0600);
	assert_null(load(spa_ini("", "short.key"), errs, sizeof(errs)));
	assert_string_equal(errs, "D/t.ini:3: spa ssh: key: D/short.key is too "
	    "short: 10 hexadecimal digits, a key has 64 (32 bytes)\n");
	put("open.key", HEX64, 0604);
	assert_null(load(spa_ini("", "open.key"), errs, sizeof(errs)));
	assert_string_equal(errs, "D/t.ini:3: spa ssh: key: D/open.key is open "
	    "to others (mode 0604): a key must be for its owner only: chmod 600 "
	    "D/open.key\n");
}

static void
test_spa_fwknop_key_file(void **state)
{
	char errs[2048], text[2048];
	struct config *cfg;

	(void)state;
	put("fw.key", "# from fwknop --key-gen\n" FKO_OK, 0600);
	snprintf(text, sizeof(text), "[engine]\ncopy_range = 1500\n%s",
	    spa_ini("format = fwknop\n", "fw.key"));
	cfg = load(text, errs, sizeof(errs));
	assert_string_equal(errs, "");
	assert_non_null(cfg);
	assert_int_equal(cfg->spas[0].format, CONFIG_SPA_FWKNOP);
	assert_int_equal(cfg->spas[0].fko_key_len, 32);
	assert_int_equal(cfg->spas[0].fko_hmac_len, 64);
	config_free(cfg);

	put("half.key", "KEY_BASE64: dzUNhL41gMQsFsUpfQLxp6y0iRewEnJXVPzTNxZ9tQg=\n",
	    0600);
	snprintf(text, sizeof(text), "[engine]\ncopy_range = 1500\n%s",
	    spa_ini("format = fwknop\n", "half.key"));
	assert_null(load(text, errs, sizeof(errs)));
	assert_string_equal(errs, "D/t.ini:5: spa ssh: key: D/half.key has no "
	    "HMAC_KEY_BASE64 line (what fwknop --key-gen prints)\n");
	put("tiny.key", "KEY_BASE64: YWJj\nHMAC_KEY_BASE64: YWJj\n", 0600);
	snprintf(text, sizeof(text), "[engine]\ncopy_range = 1500\n%s",
	    spa_ini("format = fwknop\n", "tiny.key"));
	assert_null(load(text, errs, sizeof(errs)));
	assert_string_equal(errs, "D/t.ini:5: spa ssh: key: D/tiny.key:1: too "
	    "short: 3 bytes, at least 16 (make one with fwknop --key-gen)\n");
	/* Our key in a fwknop trigger: not what fwknop prints. */
	put("ours.key", HEX64, 0600);
	snprintf(text, sizeof(text), "[engine]\ncopy_range = 1500\n%s",
	    spa_ini("format = fwknop\n", "ours.key"));
	assert_null(load(text, errs, sizeof(errs)));
	assert_non_null(strstr(errs, "want KEY_BASE64 and HMAC_KEY_BASE64"));
}

static void
test_spa_fwknop_needs_copy_range(void **state)
{
	char errs[2048];

	(void)state;
	put("fw.key", FKO_OK, 0600);
	assert_null(load(spa_ini("format = fwknop\n", "fw.key"), errs,
	    sizeof(errs)));
	assert_string_equal(errs, "D/t.ini:1: spa ssh: needs [engine] copy_range "
	    "= 1500 at least (now 256): the queue must copy the whole datagram\n");
}

static void
test_spa_ports_not_shared(void **state)
{
	char errs[2048], text[2048];

	(void)state;
	put("ssh.key", HEX64, 0600);
	snprintf(text, sizeof(text), "[knock k]\nsequence = udp:62201 udp:7000\n"
	    "open = tcp:23\n%s[spa web]\nport = udp:62201\nkey = %s/ssh.key\n"
	    "open = udp:62201\n", spa_ini("", "ssh.key"), dir);
	assert_null(load(text, errs, sizeof(errs)));
	assert_string_equal(errs,
	    "D/t.ini:5: spa ssh: port udp:62201 is a knock port of [knock k] "
	    "(line 1)\n"
	    "D/t.ini:9: spa web: port udp:62201 is already [spa ssh]'s (line 4)\n"
	    "D/t.ini:9: spa web: port udp:62201 is a knock port of [knock k] "
	    "(line 1)\n"
	    "D/t.ini:11: spa web: open: udp:62201 is the SPA port itself\n");
}

static void
test_spa_bad_values(void **state)
{
	char errs[2048], text[2048];

	(void)state;
	put("ssh.key", HEX64, 0600);
	snprintf(text, sizeof(text), "[spa ssh]\nport = tcp:62201\nkey = %s/"
	    "ssh.key\nopen = tcp:22\nformat = knockd\nmax_age = 500ms\n"
	    "replay_cache = 3\n", dir);
	assert_null(load(text, errs, sizeof(errs)));
	assert_string_equal(errs,
	    "D/t.ini:2: spa ssh: port: 'tcp:62201': SPA packets are UDP "
	    "datagrams (udp:62201)\n"
	    "D/t.ini:5: spa ssh: format: 'knockd' is not nfq-trigger or fwknop\n"
	    "D/t.ini:6: spa ssh: max_age: at least 1s (a client's clock and the "
	    "network need that much)\n"
	    "D/t.ini:7: spa ssh: replay_cache: '3' is not a number from 16 to "
	    "1048576\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spa_every_key_is_read),
		cmocka_unit_test(test_spa_defaults),
		cmocka_unit_test(test_spa_missing_required_keys),
		cmocka_unit_test(test_spa_key_missing_short_or_open_refused_with_line),
		cmocka_unit_test(test_spa_fwknop_key_file),
		cmocka_unit_test(test_spa_fwknop_needs_copy_range),
		cmocka_unit_test(test_spa_ports_not_shared),
		cmocka_unit_test(test_spa_bad_values),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
