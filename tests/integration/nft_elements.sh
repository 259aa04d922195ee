# Element batches through src/kernel/nft*.c (driven by tests/tools/nft_ctl):
# timeouts, refresh on re-add, deletes, a full set (docs/design.md, decision
# 3: one refused element never loses the others), and the table rebuilt when
# it vanishes.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

need_nft_ctl
T="inet nfq_trigger"

cfg=$(write_config ssh.ini <<'INI'
[engine]
queue = 0
[knock ssh]
sequence = udp:7000 tcp:8000:s
open = tcp:22
INI
)
small=$(write_config small.ini <<'INI'
[engine]
max_sources = 4
[knock ssh]
sequence = udp:7000
open = tcp:22
INI
)
big=$(write_config big.ini <<'INI'
[engine]
max_sources = 999
[knock ssh]
sequence = udp:7000
open = tcp:22
INI
)

members() { nft list set $T "$1" 2>/dev/null | grep -o '[0-9a-f.:]*[0-9a-f] timeout' | wc -l; }
has() { nft list set $T "$1" 2>/dev/null | grep -q "$2 timeout $3"; }
counter() { sed -n "s/^counter $1 //p" "$2"; }

"$CTL" "$cfg" sync add ssh 192.0.2.1 1500 add ssh 2001:db8::1 600000 flush counters >"$work/add.out" 2>&1
check nft_flush_refuses_nothing grep -q '^flush refused 0' "$work/add.out"
check nft_element_added_with_timeout has ssh_allow4 192.0.2.1 1s500ms
check nft_ipv6_element_added_with_timeout has ssh_allow6 2001:db8::1 10m
expect_eq nft_one_batch_for_one_flush 1 "$(counter batches_sent "$work/add.out")"
expect_eq nft_counts_added_elements 2 "$(counter elems_added "$work/add.out")"
sleep 2.5
check nft_element_expires sh -c "! nft list set $T ssh_allow4 | grep -q 192.0.2.1"
check nft_other_element_stays has ssh_allow6 2001:db8::1 10m

# Re-adding a member refreshes its timeout, on both refresh paths.
"$CTL" "$cfg" probes >"$work/probes.out" 2>&1
kernel=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
if [ "$kernel" -ge 6012 ]; then want=1; else want=0; fi
expect_eq nft_refresh_probe_matches_kernel "probe refresh $want" "$(grep '^probe refresh' "$work/probes.out")"
for path in refresh deladd; do
	"$CTL" "$cfg" force compat $path sync add ssh 192.0.2.2 2000 flush \
	    sleep 1000 add ssh 192.0.2.2 600000 flush >"$work/$path.out" 2>&1
	sleep 1.5
	check "nft_readd_refreshes_timeout_$path" has ssh_allow4 192.0.2.2 10m
	check "nft_readd_refuses_nothing_$path" sh -c "! grep -q 'refused [1-9]' '$work/$path.out'"
	"$CTL" "$cfg" force compat $path sync add ssh 192.0.2.2 5000 flush >/dev/null 2>&1
	check "nft_readd_shortens_timeout_$path" has ssh_allow4 192.0.2.2 5s
done

# Deletes: an element that is not there is deleted already.
"$CTL" "$cfg" sync add ssh 192.0.2.3 600000 flush del ssh 192.0.2.3 del ssh 192.0.2.99 \
    flush counters >"$work/del.out" 2>&1
check nft_delete_removes_element sh -c "! nft list set $T ssh_allow4 | grep -q 192.0.2.3"
check nft_delete_of_absent_element_is_done grep -q '^flush refused 0' "$work/del.out"
expect_eq nft_counts_deleted_elements 2 "$(counter elems_deleted "$work/del.out")"

# A full set refuses the extra elements, logged with the reason, and the
# rest of the same batch is committed.
nft delete table $T
"$CTL" "$small" sync bulk ssh 10.0.0.1 6 600000 flush counters >"$work/full.out" 2>&1
check nft_full_set_refuses_extra grep -q '^flush refused 2' "$work/full.out"
expect_eq nft_full_set_keeps_the_others 4 "$(members ssh_allow4)"
expect_eq nft_full_set_counted 2 "$(counter set_full "$work/full.out")"
check nft_full_set_logged_with_reason grep -q 'add 10.0.0.6 to set inet nfq_trigger ssh_allow4 refused: the set is full' "$work/full.out"
# Adds to a set go many to a message: the refused message is sent again an
# element to a message, which names the two at fault, then without them.
expect_eq nft_refused_batch_split_then_resent_once 3 "$(counter batches_sent "$work/full.out")"
"$CTL" "$small" sync add ssh 10.0.0.1 900000 flush >"$work/full2.out" 2>&1
check nft_full_set_still_refreshes_member has ssh_allow4 10.0.0.1 15m

nft delete table $T
"$CTL" "$big" sync bulk ssh 10.1.0.1 1000 600000 flush counters >"$work/big.out" 2>&1
check nft_one_bad_element_of_1000_refused grep -q '^flush refused 1' "$work/big.out"
expect_eq nft_one_bad_element_of_1000_keeps_999 999 "$(members ssh_allow4)"

# Batches are cut so that every ack fits the socket: 10000 elements.
nft delete table $T
"$CTL" "$cfg" sync bulk ssh 10.2.0.1 10000 600000 flush counters >"$work/10k.out" 2>&1
check nft_10000_elements_refuse_nothing grep -q '^flush refused 0' "$work/10k.out"
expect_eq nft_10000_elements_all_in_set 10000 "$(members ssh_allow4)"
# 1024 elements a batch (in messages of 128); a delete + add refresh takes
# two messages per element, 512 elements a batch.
expect_eq nft_10000_elements_in_1024_message_batches $((want ? 10 : 20)) "$(counter batches_sent "$work/10k.out")"

# The table deleted under a running engine: the next flush rebuilds it.
nft delete table $T
"$CTL" "$cfg" sync add ssh 192.0.2.4 600000 flush run "nft delete table $T" \
    add ssh 192.0.2.5 600000 flush counters >"$work/gone.out" 2>&1
check nft_flush_after_table_deleted_refuses_nothing sh -c "grep '^flush refused' '$work/gone.out' | tail -1 | grep -q 'refused 0'"
check nft_flush_after_table_deleted_adds_element has ssh_allow4 192.0.2.5 10m
check nft_flush_after_table_deleted_rebuilds_guard sh -c "nft list chain $T guard_in | grep -q 'ip saddr != @ssh_allow4'"
expect_eq nft_table_recreated_counted 1 "$(counter table_recreated "$work/gone.out")"
check nft_table_recreated_logged grep -q 'table inet nfq_trigger was gone: recreated' "$work/gone.out"

# ... and the monitor rebuilds it at once, without waiting for an element.
"$CTL" "$cfg" sync run "nft delete table $T" monitor 1000 counters >"$work/mon.out" 2>&1
check nft_monitor_rebuilds_deleted_table sh -c "nft list chain $T guard_in | grep -q 'ip saddr != @ssh_allow4'"
expect_eq nft_monitor_rebuild_counted 1 "$(counter resyncs "$work/mon.out")"
"$CTL" "$cfg" sync run "nft flush chain $T guard_in" monitor 1000 >"$work/mon2.out" 2>&1
check nft_monitor_rebuilds_flushed_chain sh -c "nft list chain $T guard_in | grep -q 'ip6 saddr != @ssh_allow6'"
"$CTL" "$cfg" sync add ssh 192.0.2.6 600000 flush monitor 500 counters >"$work/mon3.out" 2>&1
expect_eq nft_monitor_ignores_own_changes 0 "$(counter resyncs "$work/mon3.out")"
"$CTL" "$cfg" sync run "nft add element $T ssh_allow4 { 192.0.2.8 timeout 1m }" monitor 500 counters >"$work/mon4.out" 2>&1
expect_eq nft_monitor_ignores_element_changes 0 "$(counter resyncs "$work/mon4.out")"

# With manage_rules = no the chains are the user's: a change to them is
# not undone, but a deleted allow set is brought back.
sets_only=$(write_config sets-only.ini <<'INI'
[engine]
manage_rules = no
[knock ssh]
sequence = udp:7000
open = tcp:22
INI
)
nft delete table $T
"$CTL" "$sets_only" sync run "nft add chain $T mine" run "nft add rule $T mine counter" \
    run "nft flush chain $T mine" monitor 500 counters >"$work/mon5.out" 2>&1
expect_eq nft_monitor_leaves_user_chains_when_rules_unmanaged 0 "$(counter resyncs "$work/mon5.out")"
"$CTL" "$sets_only" sync run "nft delete set $T ssh_allow6" monitor 1000 counters >"$work/mon6.out" 2>&1
check nft_monitor_restores_deleted_set sh -c "nft list set $T ssh_allow6 >/dev/null 2>&1"
expect_eq nft_monitor_restores_deleted_set_counted 1 "$(counter resyncs "$work/mon6.out")"
