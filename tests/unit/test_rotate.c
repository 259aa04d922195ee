/*
 * Rotate triggers: the [rotate NAME] section (pools, prefixes, policies,
 * passthrough) and the nat rules and pool maps it becomes
 * (src/builders/build*.c), as libnftnl prints them.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "config/config.h"
#include "builders/build.h"
#include "config/config_test.h"

static struct plan plan;
static char text[8192];

static struct config *
load(const char *ini)
{
	struct config *cfg;
	int n = 0;

	cfg = config_load_string("t.ini", ini, stderr, &n);
	if (cfg == NULL)
		fail_msg("config has %d errors", n);
	assert_int_equal(plan_build(&plan, cfg), 0);
	return cfg;
}

static const char *
rule_text(struct nftnl_rule *r)
{
	assert_non_null(r);
	nftnl_rule_snprintf(text, sizeof(text), r, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_rule_free(r);
	return text;
}

static const char *
addr_str(const struct config_pool *pool, int i, int family)
{
	static char buf[INET6_ADDRSTRLEN];

	return inet_ntop(family, pool->addr[i], buf, sizeof(buf));
}

static void
test_rotate_pool_lists_addresses_and_small_prefixes(void **state)
{
	struct config *cfg = load("[rotate egress]\nmatch = oif eth0\n"
	    "pool = 203.0.113.10 203.0.113.12/31 2001:db8::7\n");
	const struct config_rotate *r = &cfg->rotates[0];

	(void)state;
	assert_int_equal(r->mode, CONFIG_ROTATE);
	assert_int_equal(r->policy, CONFIG_ROUND_ROBIN);
	assert_int_equal(r->pool[0].n, 3);
	assert_false(r->pool[0].prefix);
	assert_string_equal(addr_str(&r->pool[0], 0, AF_INET), "203.0.113.10");
	assert_string_equal(addr_str(&r->pool[0], 1, AF_INET), "203.0.113.12");
	assert_string_equal(addr_str(&r->pool[0], 2, AF_INET), "203.0.113.13");
	assert_int_equal(r->pool[1].n, 1);
	assert_string_equal(addr_str(&r->pool[1], 0, AF_INET6), "2001:db8::7");
	config_free(cfg);
	/* 64 addresses are listed; 65 or more make a prefix. */
	cfg = load("[rotate a]\nmatch = oif eth0\npool = 10.0.0.0/26\n");
	assert_int_equal(cfg->rotates[0].pool[0].n, CONFIG_POOL_MAX);
	assert_false(cfg->rotates[0].pool[0].prefix);
	config_free(cfg);
	cfg = load("[rotate a]\nmatch = oif eth0\npool = 10.0.0.0/25\n"
	    "policy = random\n");
	assert_true(cfg->rotates[0].pool[0].prefix);
	assert_int_equal(cfg->rotates[0].pool[0].prefix_len, 25);
	config_free(cfg);
}

static void
test_rotate_config_errors_say_what_is_wrong(void **state)
{
	(void)state;
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = oif eth0\n"),
	    "t.ini:1: rotate a: needs pool (the source addresses to spread "
	    "connections over) or mode = passthrough\n");
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = oif eth0\n"
	    "pool = 2001:db8::/48\n"),
	    "t.ini:3: rotate a: a pool prefix of more than 64 addresses takes "
	    "policy = random (round-robin needs a list)\n");
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = oif eth0\n"
	    "pool = 10.0.0.1 10.0.0.0/16\npolicy = random\n"),
	    "t.ini:3: rotate a: pool: '10.0.0.0/16' holds more than 64 "
	    "addresses: such a prefix stands alone in its family's pool\n");
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = oif eth0\n"
	    "pool = 10.0.0.1 10.0.0.0/31\n"),
	    "t.ini:3: rotate a: pool: '10.0.0.0/31': an address of it is listed "
	    "twice\n");
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = ip daddr 10.0.0.0/8\n"
	    "pool = 2001:db8::1\n"),
	    "t.ini:3: rotate a: pool: no address of the family the match is "
	    "for\n");
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = oif eth0\n"
	    "mode = passthrough\npool = 10.0.0.1\n"),
	    "t.ini:4: rotate a: pool: not with mode = passthrough (connections "
	    "keep their address)\n");
	assert_string_equal(unit_config_errors("[rotate a]\nmatch = oif eth0\n"
	    "pool = 10.0.0.1\npolicy = sticky\n"),
	    "t.ini:4: rotate a: policy: 'sticky' is not round-robin or random\n");
}

static void
test_rotate_round_robin_rule_maps_numgen_slot_to_address(void **state)
{
	struct config *cfg = load("[rotate egress]\n"
	    "match = oif eth0 meta l4proto { tcp, udp }\n"
	    "pool = 203.0.113.10 203.0.113.11 203.0.113.12\n");
	const char *t;

	(void)state;
	assert_int_equal(match_combos(&plan.rotates[0].match), 2);
	t = rule_text(build_rule_rotate(&plan, &plan.rotates[0], AF_INET, 1));
	assert_non_null(strstr(t, "inet nfq_trigger rotate"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000011 ]"));	/* udp */
	assert_non_null(strstr(t, "[ numgen reg 1 = inc mod 3 ]\n"
	    "  [ lookup reg 1 set egress_pool4 dreg 1 0x0 ]\n"
	    "  [ nat snat ip addr_min reg 1 ]"));
	/* No IPv6 address in the pool: no IPv6 rule. */
	assert_false(plan_rotate_has_family(&plan.rotates[0], AF_INET6));
	assert_null(build_rule_rotate(&plan, &plan.rotates[0], AF_INET6, 0));
	config_free(cfg);
}

static void
test_rotate_pool_map_slots_are_host_order_marks(void **state)
{
	struct config *cfg = load("[rotate e]\nmatch = oif eth0\n"
	    "pool = 10.0.0.1 10.0.0.2\n");
	struct nftnl_set *s;

	(void)state;
	s = build_set_pool_elems("nfq_trigger", "e_pool4", AF_INET,
	    &plan.rotates[0].pool[0]);
	assert_non_null(s);
	nftnl_set_snprintf(text, sizeof(text), s, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_set_free(s);
	/* numgen writes 1 as a host-order word: the key of slot 1 is that word. */
	assert_non_null(strstr(text, "element 00000000  : 0100000a"));
	assert_non_null(strstr(text, "element 00000001  : 0200000a"));
	config_free(cfg);
}

static void
test_rotate_prefix_rule_computes_a_random_address_in_it(void **state)
{
	struct config *cfg = load("[rotate v6]\nmatch = oif he0\n"
	    "pool = 2001:db8:abc::/48\npolicy = random\n");
	const char *t;

	(void)state;
	t = rule_text(build_rule_rotate(&plan, &plan.rotates[0], AF_INET6, 0));
	/* The prefix, then the 80 host bits from numgen: word 1 half, 2 and 3 whole. */
	assert_non_null(strstr(t, "[ immediate reg 1 0xb80d0120 0x0000bc0a "
	    "0x00000000 0x00000000 ]"));
	assert_null(strstr(t, "numgen reg 8 "));	/* word 0: prefix only */
	assert_non_null(strstr(t, "[ numgen reg 9 = random mod 4294967295 ]\n"
	    "  [ bitwise reg 9 = ( reg 9 & 0xffff0000 ) ^ 0x0000bc0a ]"));
	assert_non_null(strstr(t, "[ bitwise reg 11 = ( reg 11 & 0xffffffff ) ^ "
	    "0x00000000 ]\n  [ nat snat ip6 addr_min reg 1 ]"));
	assert_non_null(strstr(t, "random source in 2001:db8:abc::/48"));
	config_free(cfg);
}

static void
test_rotate_passthrough_accepts_in_the_nat_chain(void **state)
{
	struct config *cfg = load("[rotate keep]\nmatch = oif eth0 tcp dport 22\n"
	    "mode = passthrough\n");
	const char *t;

	(void)state;
	assert_true(plan_rotate_has_family(&plan.rotates[0], AF_INET6));
	t = rule_text(build_rule_rotate(&plan, &plan.rotates[0], AF_INET6, 0));
	assert_non_null(strstr(t, "[ immediate reg 0 accept ]"));
	assert_null(strstr(t, "nat"));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotate_pool_lists_addresses_and_small_prefixes),
		cmocka_unit_test(test_rotate_config_errors_say_what_is_wrong),
		cmocka_unit_test(test_rotate_round_robin_rule_maps_numgen_slot_to_address),
		cmocka_unit_test(test_rotate_pool_map_slots_are_host_order_marks),
		cmocka_unit_test(test_rotate_prefix_rule_computes_a_random_address_in_it),
		cmocka_unit_test(test_rotate_passthrough_accepts_in_the_nat_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
