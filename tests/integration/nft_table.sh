# The engine's table through src/kernel/nft*.c (driven by tests/tools/nft_ctl):
# layout after a sync, reconciliation keeps elements, manage_rules = no,
# the kernel probes, and a refused rule does not lose the rest.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

need_nft_ctl
T="inet nfq_trigger"

cfg=$(write_config two.ini <<'INI'
[engine]
queue = 0
[knock ssh]
sequence = udp:7000 tcp:8000:s tcp:9000:fa
open = tcp:22
[knock web]
sequence = udp:7001 tcp:8000:s
open = tcp:443 tcp:8443 192.0.2.80 tcp:8443
INI
)
one=$(write_config one.ini <<'INI'
[engine]
queue = 2-3
queue_bypass = no
[knock ssh]
sequence = udp:7000 tcp:8000:s tcp:9000:fa
open = tcp:22
INI
)
sets_only=$(write_config sets-only.ini <<'INI'
[engine]
manage_rules = no
[knock ssh]
sequence = udp:7000
open = tcp:22
INI
)

listing() { nft list table $T 2>/dev/null; }
rules() { listing | grep -c 'comment "nfq-trigger'; }

"$CTL" "$cfg" probes sync >"$work/sync.out" 2>&1
check nft_sync_succeeds grep -q '^done sync' "$work/sync.out"
check nft_sync_creates_ipv4_allow_set sh -c "nft list set $T ssh_allow4 | grep -q 'type ipv4_addr'"
check nft_sync_creates_ipv6_allow_set sh -c "nft list set $T ssh_allow6 | grep -q 'type ipv6_addr'"
check nft_allow_sets_have_timeouts sh -c "nft list set $T web_allow6 | grep -q 'flags timeout'"
check nft_allow_sets_bounded_by_max_sources sh -c "nft list set $T web_allow4 | grep -q 'size 65536'"
check nft_guard_in_at_filter_minus_10 sh -c "nft list chain $T guard_in | grep -q 'type filter hook input priority filter - 10; policy accept;'"
check nft_guard_fwd_at_filter_minus_10 sh -c "nft list chain $T guard_fwd | grep -q 'type filter hook forward priority filter - 10; policy accept;'"
check nft_guard_drops_new_ipv4_non_members sh -c "nft list chain $T guard_in | grep -q 'tcp dport 22 ct state ! established,related ip saddr != @ssh_allow4 counter packets 0 bytes 0 drop'"
check nft_guard_drops_new_ipv6_non_members sh -c "nft list chain $T guard_in | grep -q 'tcp dport 8443 ct state ! established,related ip6 saddr != @web_allow6 counter packets 0 bytes 0 drop'"
# Decision 13: a port without an address is this host's (input only); one
# with an address is guarded where it is forwarded, on that destination.
check nft_guard_fwd_matches_the_destination sh -c "nft list chain $T guard_fwd | grep -q 'ip daddr 192.0.2.80 tcp dport 8443 ct state ! established,related ip saddr != @web_allow4 counter packets 0 bytes 0 drop'"
expect_eq nft_guard_fwd_has_only_the_forwarded_service 1 "$(nft list chain $T guard_fwd | grep -c 'drop comment')"
expect_eq nft_guard_rule_per_service_and_family 7 "$(listing | grep -c 'drop comment')"
check nft_divert_queues_knock_port sh -c "nft list chain $T divert | grep -q 'udp dport 7001 counter packets 0 bytes 0 queue num 0 bypass'"
expect_eq nft_divert_shared_knock_port_once 1 "$(listing | grep -c 'tcp dport 8000 counter')"

# The probe must agree with what the kernel does with `queue` in a rule.
nft add table inet nfqt_scratch
nft add chain inet nfqt_scratch c
if nft add rule inet nfqt_scratch c queue num 0 2>/dev/null; then want=1; else want=0; fi
nft delete table inet nfqt_scratch
expect_eq nft_probe_native_queue_matches_kernel "probe native_queue $want" "$(grep '^probe native_queue' "$work/sync.out")"
if [ $want = 0 ]; then
	check nft_logs_compat_divert_path grep -q 'divert with the xtables NFQUEUE target' "$work/sync.out"
else
	check nft_logs_native_divert_path grep -q 'divert with the nft queue expression' "$work/sync.out"
fi
check nft_probe_leaves_no_table sh -c "! nft list tables | grep -q nfqt_probe"

# A second sync (an engine restart) keeps elements and does not duplicate rules.
before=$(rules)
"$CTL" "$cfg" sync add ssh 192.0.2.7 600000 add web 2001:db8::7 600000 flush >/dev/null 2>&1
"$CTL" "$cfg" sync >/dev/null 2>&1
check nft_resync_keeps_ipv4_element sh -c "nft list set $T ssh_allow4 | grep -q 192.0.2.7"
check nft_resync_keeps_ipv6_element sh -c "nft list set $T web_allow6 | grep -q 2001:db8::7"
expect_eq nft_resync_does_not_duplicate_rules "$before" "$(rules)"

# Reconciliation to another config: a gone trigger's sets go, chains are rebuilt.
nft add chain $T stray
nft add rule $T stray counter
"$CTL" "$one" sync >"$work/one.out" 2>&1
check nft_resync_deletes_sets_of_gone_trigger sh -c "! nft list set $T web_allow4 >/dev/null 2>&1"
check nft_resync_keeps_sets_of_kept_trigger sh -c "nft list set $T ssh_allow4 | grep -q 192.0.2.7"
check nft_resync_deletes_stray_chain sh -c "! nft list chain $T stray >/dev/null 2>&1"
# 2 guards; 3 knock ports x 2 families x 2 queues (compat) or x 1 (native).
if [ "$want" = 1 ]; then shards=1; else shards=2; fi
expect_eq nft_resync_rebuilds_rules_for_new_shape $((2 + 6 * shards)) "$(rules)"
# Decision 19: the source address alone picks the queue.
if [ "$want" = 1 ]; then
	check nft_queue_range_hashes_the_source sh -c "nft list chain $T divert | grep -q 'udp dport 7000 counter packets 0 bytes 0 queue .*to jhash ip saddr mod 2'"
else
	check nft_queue_range_one_rule_per_queue_on_the_source_hash sh -c "nft list chain $T divert | grep -q 'udp dport 7000 jhash ip saddr mod 2 seed 0x6e667174 1 counter packets 0 bytes 0 queue num 3 comment'"
	check nft_queue_range_ipv6_hashes_ip6_saddr sh -c "nft list chain $T divert | grep -q 'tcp dport 9000 jhash ip6 saddr mod 2 seed 0x6e667174 0 counter packets 0 bytes 0 queue num 2 comment'"
fi
check nft_queue_bypass_no_has_no_bypass sh -c "! nft list chain $T divert | grep -q bypass"

# A set of the wrong type is recreated (its elements cannot be kept).
nft delete rule $T guard_in handle "$(nft -a list chain $T guard_in | sed -n 's/.*ip saddr != @ssh_allow4.*# handle \([0-9]*\)/\1/p')"
nft delete set $T ssh_allow4
nft add set $T ssh_allow4 '{ type ipv4_addr; }'
"$CTL" "$one" sync >"$work/retype.out" 2>&1
check nft_resync_recreates_set_of_wrong_type sh -c "nft list set $T ssh_allow4 | grep -q 'flags timeout'"
check nft_resync_says_set_recreated grep -q 'set ssh_allow4 has another type or size: recreating' "$work/retype.out"

# manage_rules = no: sets are created and filled, chains never touched.
nft add chain $T mine '{ type filter hook input priority 0; }'
nft add rule $T mine tcp dport 2222 counter accept
chains_before=$(nft list chains inet | grep -c chain)
guard_before=$(nft list chain $T guard_in 2>/dev/null)
"$CTL" "$sets_only" sync add ssh 198.51.100.1 600000 flush >"$work/no.out" 2>&1
check nft_manage_rules_no_syncs grep -q '^done sync' "$work/no.out"
check nft_manage_rules_no_fills_sets sh -c "nft list set $T ssh_allow4 | grep -q 198.51.100.1"
expect_eq nft_manage_rules_no_leaves_chains "$chains_before" "$(nft list chains inet | grep -c chain)"
check nft_manage_rules_no_leaves_user_rule sh -c "nft list chain $T mine | grep -q 'tcp dport 2222 counter packets 0 bytes 0 accept'"
expect_eq nft_manage_rules_no_leaves_guard_rules "$guard_before" "$(nft list chain $T guard_in 2>/dev/null)"
nft delete table $T
"$CTL" "$sets_only" sync >/dev/null 2>&1
check nft_manage_rules_no_fresh_table_has_sets sh -c "nft list set $T ssh_allow6 >/dev/null"
expect_eq nft_manage_rules_no_fresh_table_has_no_chains 0 "$(listing | grep -c 'chain ')"

# docs/design.md, decision 3, for the table itself: a refused rule is logged
# and the rest is in place. On a kernel without the queue expression, forcing
# it shows it.
if [ $want = 0 ]; then
	nft delete table $T
	"$CTL" "$cfg" force native refresh sync >"$work/native.out" 2>&1
	check nft_refused_rule_fails_sync grep -q '^failed sync' "$work/native.out"
	check nft_refused_rule_is_logged_with_reason grep -q 'add rule divert: udp:7000 to queue 0: No such file or directory' "$work/native.out"
	check nft_refused_rule_keeps_guards sh -c "nft list chain $T guard_in | grep -q 'ip saddr != @ssh_allow4'"
	check nft_refused_rule_keeps_sets sh -c "nft list set $T web_allow6 >/dev/null"
else
	ok "nft_refused_rule_fails_sync # skip: kernel has the queue expression"
fi

# An explicit delete removes the table; deleting it again is not an error.
"$CTL" "$cfg" delete nfq_trigger >"$work/del.out" 2>&1
check nft_delete_removes_table sh -c "! nft list table $T >/dev/null 2>&1"
"$CTL" "$cfg" delete nfq_trigger >"$work/del2.out" 2>&1
check nft_delete_absent_table_is_ok grep -q '^done delete' "$work/del2.out"
