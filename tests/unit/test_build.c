/*
 * The table's shape and the rules built from a config (src/builders/plan.c, build.c):
 * memory only, so the expressions the kernel will get are checked here
 * as libnftnl prints them, without root.
 */
#include "unit.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "builders/build.h"

struct fixture {
	struct config cfg;
	struct config_knock knocks[3];
	struct plan plan;
	char text[4096];
};

static struct fixture fx;

static void
knock(struct config_knock *k, const char *name, uint16_t first_port,
    uint16_t open_port)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->frames[0].port = (struct config_port){ IPPROTO_UDP, first_port };
	k->frames[1].port = (struct config_port){ IPPROTO_TCP, 8000 };
	k->nframes = 2;
	k->open[0] = (struct config_port){ IPPROTO_TCP, open_port };
	k->nopen = 1;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.cfg.engine.table, sizeof(fx.cfg.engine.table), "nfq_trigger");
	fx.cfg.engine.queue_bypass = true;
	fx.cfg.engine.manage_rules = true;
	fx.cfg.engine.max_sources = 100;
	knock(&fx.knocks[0], "ssh", 7000, 22);
	knock(&fx.knocks[1], "web", 7001, 443);
	fx.cfg.knocks = fx.knocks;
	fx.cfg.nknocks = 2;
	return 0;
}

static const char *
rule_text(struct nftnl_rule *r)
{
	assert_non_null(r);
	nftnl_rule_snprintf(fx.text, sizeof(fx.text), r, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_rule_free(r);
	return fx.text;
}

static void
test_plan_names_allow_sets_after_trigger(void **state)
{
	(void)state;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.ntriggers, 2);
	assert_string_equal(fx.plan.triggers[0].set4, "ssh_allow4");
	assert_string_equal(fx.plan.triggers[0].set6, "ssh_allow6");
	assert_string_equal(fx.plan.triggers[1].set4, "web_allow4");
	assert_non_null(plan_trigger_find(&fx.plan, "web"));
	assert_null(plan_trigger_find(&fx.plan, "nope"));
}

static void
test_plan_diverts_a_shared_knock_port_once(void **state)
{
	(void)state;
	/* Both knocks use tcp:8000: three distinct ports, not four. */
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.ndivert, 3);
	assert_int_equal(fx.plan.divert[0].lo, 7000);
	assert_int_equal(fx.plan.divert[1].lo, 8000);
	assert_int_equal(fx.plan.divert[2].lo, 7001);
}

static void
test_plan_refuses_backwards_queue_range(void **state)
{
	(void)state;
	fx.cfg.engine.queue_first = 3;
	fx.cfg.engine.queue_last = 1;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), -1);
}

static void
test_build_guard_ipv4_drops_new_from_non_members(void **state)
{
	const char *t;

	(void)state;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.nguards, 2);
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[0], AF_INET));
	assert_non_null(strstr(t, "inet nfq_trigger guard_in"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000002 ]"));	/* ipv4 */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000006 ]"));	/* tcp */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00001600 ]"));	/* port 22 */
	/* ct state & (established | related) == 0: new, invalid, untracked */
	assert_non_null(strstr(t, "( reg 1 & 0x00000006 ) ^ 0x00000000"));
	assert_non_null(strstr(t, "@ network header + 12 => reg 1"));
	assert_non_null(strstr(t, "[ lookup reg 1 set ssh_allow4 0x1 ]"));
	assert_non_null(strstr(t, "[ immediate reg 0 drop ]"));
}

static void
test_build_guard_ipv6_looks_up_the_ipv6_set(void **state)
{
	const char *t;

	(void)state;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[1], AF_INET6));
	assert_non_null(strstr(t, "guard_in"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0000000a ]"));	/* ipv6 */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0000bb01 ]"));	/* 443 */
	assert_non_null(strstr(t, "16b @ network header + 8 => reg 1"));
	assert_non_null(strstr(t, "set web_allow6 0x1"));
}

/* Decision 14: two triggers opening one service share one guard. */
static void
test_build_guard_of_a_shared_service_lets_either_set_in(void **state)
{
	const char *t;

	(void)state;
	fx.knocks[1].open[0].port = 22;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.nguards, 1);
	assert_int_equal(fx.plan.guards[0].ntriggers, 2);
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[0], AF_INET));
	/* Dropped only when in neither set: two inverted lookups, one drop. */
	assert_non_null(strstr(t, "[ lookup reg 1 set ssh_allow4 0x1 ]"));
	assert_non_null(strstr(t, "[ lookup reg 1 set web_allow4 0x1 ]"));
	assert_non_null(strstr(t, "drop"));
	assert_null(strstr(strstr(t, "drop") + 1, "drop"));
}

/* Decision 13: a named destination is guarded where it is forwarded. */
static void
test_build_guard_of_a_forwarded_destination_matches_it(void **state)
{
	const char *t;

	(void)state;
	fx.knocks[1].open_dst[0].family = AF_INET;
	fx.knocks[1].open_dst[0].p.len = 24;
	fx.knocks[1].open_dst[0].p.addr[0] = 10;
	fx.knocks[1].open_dst[0].p.addr[1] = 71;
	fx.knocks[1].open_dst[0].p.addr[2] = 9;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.nguards, 2);
	assert_string_equal(plan_guard_chain(&fx.plan.guards[0]), NFT_CHAIN_GUARD_IN);
	assert_string_equal(plan_guard_chain(&fx.plan.guards[1]), NFT_CHAIN_GUARD_FWD);
	/* An IPv4 destination has no IPv6 rule. */
	assert_false(plan_guard_has_family(&fx.plan.guards[1], AF_INET6));
	assert_null(build_rule_guard(&fx.plan, &fx.plan.guards[1], AF_INET6));
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[1], AF_INET));
	assert_non_null(strstr(t, "inet nfq_trigger guard_fwd"));
	/* ip daddr 10.71.9.0/24: offset 16, masked to 24 bits, compared. */
	assert_non_null(strstr(t, "4b @ network header + 16 => reg 1"));
	assert_non_null(strstr(t, "( reg 1 & 0x00ffffff ) ^ 0x00000000"));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0009470a ]"));
	assert_non_null(strstr(t, "set web_allow4 0x1"));
}

/* Decision 19, native: the queue is jhash(ip saddr) mod N + first, per family. */
static void
test_build_divert_native_queue_hashes_the_source_alone(void **state)
{
	const char *t;

	(void)state;
	fx.cfg.engine.queue_first = 2;
	fx.cfg.engine.queue_last = 5;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(build_queue_shards(&fx.plan, true), 1);
	/* Several queues need a family: the hash reads the source address. */
	assert_null(build_rule_divert(&fx.plan, &fx.plan.divert[0], 0, 0, true));
	t = rule_text(build_rule_divert(&fx.plan, &fx.plan.divert[0], AF_INET6, 0,
	    true));
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0000000a ]"));	/* ipv6 */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000011 ]"));	/* udp */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x0000581b ]"));	/* 7000 */
	assert_non_null(strstr(t, "16b @ network header + 8 => reg 1"));
	assert_non_null(strstr(t, "[ hash reg 1 = jhash(reg 1, 16, 0x6e667174) % mod 4 offset 2 ]"));
	assert_non_null(strstr(t, "[ queue sreg_qnum 1 bypass ]"));
	/* Nothing else picks the queue: no protocol, no port in the hash. */
	assert_null(strstr(t, "queue num"));
}

static void
test_build_divert_single_queue_is_one_rule_for_both_families(void **state)
{
	const char *t;

	(void)state;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(build_queue_shards(&fx.plan, false), 1);
	assert_null(build_rule_divert(&fx.plan, &fx.plan.divert[0], AF_INET, 0, true));
	t = rule_text(build_rule_divert(&fx.plan, &fx.plan.divert[0], 0, 0, true));
	assert_null(strstr(t, "hash"));
	assert_non_null(strstr(t, "[ queue num 0 bypass ]"));
}

static int
find_target(struct nftnl_expr *e, void *data)
{
	const struct xt_NFQ_info_v3 **info = data;
	uint32_t len;

	if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "target") == 0) {
		*info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len);
		assert_int_equal(len, sizeof(**info));
		assert_string_equal(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "NFQUEUE");
		assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV), 3);
	}
	return 0;
}

/* Decision 19, compat: one rule per queue, jhash(ip saddr) mod N == i. */
static void
test_build_divert_compat_is_one_nfqueue_v3_rule_per_queue(void **state)
{
	const struct xt_NFQ_info_v3 *info = NULL;
	struct nftnl_rule *r;
	const char *t;
	int i;

	(void)state;
	fx.cfg.engine.queue_first = 4;
	fx.cfg.engine.queue_last = 6;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(build_queue_shards(&fx.plan, false), 3);
	assert_null(build_rule_divert(&fx.plan, &fx.plan.divert[1], AF_INET, 3, false));
	for (i = 0; i < 3; i++) {
		r = build_rule_divert(&fx.plan, &fx.plan.divert[1], AF_INET, i, false);
		assert_non_null(r);
		info = NULL;
		nftnl_expr_foreach(r, find_target, &info);
		assert_non_null(info);
		assert_int_equal(info->queuenum, 4 + i);
		assert_int_equal(info->queues_total, 1);
		assert_int_equal(info->flags, NFQ_FLAG_BYPASS);
		t = rule_text(r);
		assert_non_null(strstr(t, "4b @ network header + 12 => reg 1"));
		assert_non_null(strstr(t, "[ hash reg 1 = jhash(reg 1, 4, 0x6e667174) % mod 3 ]"));
	}
	/* The last rule compares with 2. */
	assert_non_null(strstr(t, "[ cmp eq reg 1 0x00000002 ]"));
}

static void
test_build_divert_without_bypass_has_no_bypass_flag(void **state)
{
	const struct xt_NFQ_info_v3 *info = NULL;
	struct nftnl_rule *r;
	const char *t;

	(void)state;
	fx.cfg.engine.queue_bypass = false;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	t = rule_text(build_rule_divert(&fx.plan, &fx.plan.divert[0], 0, 0, true));
	assert_non_null(strstr(t, "[ queue num 0 ]"));
	r = build_rule_divert(&fx.plan, &fx.plan.divert[0], 0, 0, false);
	nftnl_expr_foreach(r, find_target, &info);
	assert_non_null(info);
	assert_int_equal(info->flags, 0);
	assert_int_equal(info->queues_total, 1);
	nftnl_rule_free(r);
}

static void
test_build_set_has_timeouts_and_the_sources_bound(void **state)
{
	struct nftnl_set *s;

	(void)state;
	s = build_set("nfq_trigger", "ssh_allow6", AF_INET6, 100, 7);
	assert_non_null(s);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 16);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_FLAGS), NFT_SET_TIMEOUT);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE), 100);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_ID), 7);
	nftnl_set_free(s);
}

static void
test_build_log_group_expression(void **state)
{
	struct nftnl_expr *e;

	(void)state;
	e = build_expr_log_group(5);
	assert_non_null(e);
	assert_string_equal(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "log");
	assert_int_equal(nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP), 5);
	nftnl_expr_free(e);
}


/* open_prefix: the source is masked before the lookup, per family. */
static void
test_build_guard_open_prefix_masks_the_source(void **state)
{
	const char *t;

	(void)state;
	fx.knocks[0].open_prefix4 = 24;
	fx.knocks[0].open_prefix6 = 60;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[0], AF_INET));
	assert_non_null(strstr(t, "( reg 1 & 0x00ffffff ) ^ 0x00000000"));
	assert_non_null(strstr(t, "[ lookup reg 1 set ssh_allow4 0x1 ]"));
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[0], AF_INET6));
	assert_non_null(strstr(t, "( reg 1 & 0xffffffff 0xf0ffffff 0x00000000 "
	    "0x00000000 )"));
	/* Without open_prefix, the address is looked up whole. */
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[1], AF_INET));
	assert_null(strstr(t, "0x00ffffff"));
}

/* One guard for two triggers, one with open_prefix: only its lookup is masked. */
static void
test_build_guard_shared_service_masks_only_the_prefix_trigger(void **state)
{
	const char *t, *masked, *whole;

	(void)state;
	fx.knocks[0].open_prefix4 = 24;
	fx.knocks[1].open[0].port = 22;		/* web now opens tcp:22 too */
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.nguards, 1);
	t = rule_text(build_rule_guard(&fx.plan, &fx.plan.guards[0], AF_INET));
	masked = strstr(t, "( reg 1 & 0x00ffffff )");
	assert_non_null(masked);
	assert_non_null(strstr(masked, "[ lookup reg 1 set ssh_allow4 0x1 ]"));
	/* web's lookup reloads the whole source address, unmasked. */
	whole = strstr(t, "[ lookup reg 1 set ssh_allow4 0x1 ]");
	assert_non_null(strstr(whole, "@ network header + 12 => reg 1"));
	assert_non_null(strstr(whole, "[ lookup reg 1 set web_allow4 0x1 ]"));
	assert_null(strstr(strstr(whole, "network header + 12"), "0x00ffffff"));
}

/* An SPA trigger: an allow set, and its one UDP port diverted. */
static void
test_plan_spa_trigger_diverts_its_port(void **state)
{
	struct config_spa spa;

	(void)state;
	memset(&spa, 0, sizeof(spa));
	snprintf(spa.name, sizeof(spa.name), "gate");
	spa.port = (struct config_port){ IPPROTO_UDP, 62201 };
	spa.open[0] = (struct config_port){ IPPROTO_TCP, 2222 };
	spa.nopen = 1;
	fx.cfg.spas = &spa;
	fx.cfg.nspas = 1;
	assert_int_equal(plan_build(&fx.plan, &fx.cfg), 0);
	assert_int_equal(fx.plan.ntriggers, 3);
	assert_string_equal(fx.plan.triggers[2].set4, "gate_allow4");
	assert_int_equal(fx.plan.triggers[2].open[0].port, 2222);
	/* It guards this host's tcp:2222, on its own. */
	assert_int_equal(fx.plan.nguards, 3);
	assert_int_equal(fx.plan.guards[2].port.port, 2222);
	assert_int_equal(fx.plan.guards[2].dst.family, 0);
	assert_int_equal(fx.plan.guards[2].triggers[0], 2);
	assert_int_equal(fx.plan.divert[fx.plan.ndivert - 1].proto, IPPROTO_UDP);
	assert_int_equal(fx.plan.divert[fx.plan.ndivert - 1].lo, 62201);
	assert_int_equal(fx.plan.divert[fx.plan.ndivert - 1].hi, 62201);
	fx.cfg.spas = NULL;
	fx.cfg.nspas = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plan_names_allow_sets_after_trigger, setup),
		cmocka_unit_test_setup(test_plan_diverts_a_shared_knock_port_once, setup),
		cmocka_unit_test_setup(test_plan_refuses_backwards_queue_range, setup),
		cmocka_unit_test_setup(test_build_guard_ipv4_drops_new_from_non_members, setup),
		cmocka_unit_test_setup(test_build_guard_open_prefix_masks_the_source, setup),
		cmocka_unit_test_setup(test_build_guard_shared_service_masks_only_the_prefix_trigger, setup),
		cmocka_unit_test_setup(test_plan_spa_trigger_diverts_its_port, setup),
		cmocka_unit_test_setup(test_build_guard_ipv6_looks_up_the_ipv6_set, setup),
		cmocka_unit_test_setup(test_build_guard_of_a_shared_service_lets_either_set_in, setup),
		cmocka_unit_test_setup(test_build_guard_of_a_forwarded_destination_matches_it, setup),
		cmocka_unit_test_setup(test_build_divert_native_queue_hashes_the_source_alone, setup),
		cmocka_unit_test_setup(test_build_divert_single_queue_is_one_rule_for_both_families, setup),
		cmocka_unit_test_setup(test_build_divert_compat_is_one_nfqueue_v3_rule_per_queue, setup),
		cmocka_unit_test_setup(test_build_divert_without_bypass_has_no_bypass_flag, setup),
		cmocka_unit_test_setup(test_build_set_has_timeouts_and_the_sources_bound, setup),
		cmocka_unit_test_setup(test_build_log_group_expression, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
