# The knock trigger end to end: a guarded port is closed, a knock opens it to
# the knocking source alone, the allow timeout closes it again; wrong order,
# a late frame and wrong TCP flags open nothing; IPv6; a stopped engine keeps
# the guard (docs/design.md, decision 1).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
ip addr add 127.0.0.2/8 dev lo 2>/dev/null

recording_hook
cfg=$(write_config knock.ini <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 tcp:8000:s tcp:9000:fa
window = 2s
open = tcp:2222
allow_timeout = 3s

[knock six]
sequence = udp:7100 tcp:8100 udp:7101
window = 5s
open = tcp:2223
allow_timeout = 30s

[knock hooked]
sequence = udp:7300 udp:7301
open = tcp:2226
exec = $work/hook.sh %EVENT% %IP% %NAME%
exec_stop = $work/hook.sh %EVENT% %IP% %NAME%
exec_stop_delay = 1s
INI
)
# One packet each: udp, or tcp with hping3's flag options. hping3 waits a
# second for a reply that a dropped frame never gets: cut that short.
udp_frame() { timeout 0.3 hping3 -q -2 -c 1 -p "$2" "$1" >/dev/null 2>&1; true; }
tcp_frame() {
	addr=$1 port=$2; shift 2
	timeout 0.3 hping3 -q -c 1 -p "$port" "$@" "$addr" >/dev/null 2>&1; true
}
knock_ssh() {
	udp_frame 127.0.0.1 7000
	tcp_frame 127.0.0.1 8000 -S
	tcp_frame 127.0.0.1 9000 -F -A
	sleep 0.2
}

tcp_server 127.0.0.1 2222
tcp_server ::1 2223
start_engine "$cfg" -v || exit 1

expect_eq knock_port_closed_before closed "$(tcp_probe 127.0.0.1 2222)"
knock_ssh
expect_eq knock_opens_port open "$(tcp_probe 127.0.0.1 2222)"
expect_eq knock_opens_for_knocker_only closed "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
expect_eq knock_source_in_allow_set 127.0.0.1 "$(allow_members ssh_allow4)"
check knock_frames_dropped grep -q 'tcp 127.0.0.1:[0-9]* -> 127.0.0.1:9000 len 40: knock frame, drop' "$work/engine.log"
sleep 3.2
expect_eq knock_closed_after_allow_timeout closed "$(tcp_probe 127.0.0.1 2222)"
expect_eq knock_allow_set_empty_after_timeout "" "$(allow_members ssh_allow4)"

# Wrong order resets; a frame after the window is late.
udp_frame 127.0.0.1 7000
tcp_frame 127.0.0.1 9000 -F -A
tcp_frame 127.0.0.1 8000 -S
sleep 0.2
expect_eq knock_wrong_order_does_not_open closed "$(tcp_probe 127.0.0.1 2222)"
udp_frame 127.0.0.1 7000
tcp_frame 127.0.0.1 8000 -S
sleep 2.2
tcp_frame 127.0.0.1 9000 -F -A
sleep 0.2
expect_eq knock_late_frame_does_not_open closed "$(tcp_probe 127.0.0.1 2222)"

# Flags: FIN+ACK is the last frame; FIN alone, or FIN+ACK+PSH, is not.
for wrong in "-F" "-F -A -P" "-A" "-S"; do
	udp_frame 127.0.0.1 7000
	tcp_frame 127.0.0.1 8000 -S
	tcp_frame 127.0.0.1 9000 $wrong
	sleep 0.2
	expect_eq "knock_flags_$(echo "$wrong" | tr -d ' -')_instead_of_fa_do_not_open" closed \
	    "$(tcp_probe 127.0.0.1 2222)"
done
# An ECN-capable SYN (SYN+ECE+CWR) still counts as SYN: ECN bits are not looked at.
udp_frame 127.0.0.1 7000
tcp_frame 127.0.0.1 8000 -S -X -Y
tcp_frame 127.0.0.1 9000 -F -A
sleep 0.2
expect_eq knock_ecn_syn_counts_as_syn open "$(tcp_probe 127.0.0.1 2222)"

# The table deleted under the running engine comes back at once; its
# members went with it, and the next knock adds the knocker again.
nft delete table inet nfq_trigger
sleep 0.5
check table_deleted_under_engine_is_rebuilt quiet nft list chain inet nfq_trigger guard_in
expect_eq table_rebuilt_guard_closed closed "$(tcp_probe 127.0.0.1 2222)"
knock_ssh
expect_eq table_rebuilt_knock_opens open "$(tcp_probe 127.0.0.1 2222)"

# IPv6, with plain sockets only: a UDP datagram and a connect() are frames.
$UDP send ::1 7100 1
$TCP syn ::1 8100
$UDP send ::1 7101 1
sleep 0.2
expect_eq knock_ipv6_opens open "$(tcp_probe ::1 2223)"
expect_eq knock_ipv6_source_in_allow_set ::1 "$(allow_members six_allow6)"

# Hooks: exec at once, exec_stop after its delay, placeholders substituted.
$UDP send 127.0.0.1 7300 1
$UDP send 127.0.0.1 7301 1
sleep 0.5
expect_eq knock_exec_runs_on_open "open 127.0.0.1 hooked" "$(cat "$work/hook.log" 2>/dev/null)"
sleep 1
expect_eq knock_exec_stop_runs_after_delay "close 127.0.0.1 hooked" "$(tail -1 "$work/hook.log" 2>/dev/null)"

# docs/design.md, decision 1: the table outlives the engine; the guard stays
# closed to others.
stop_engine
expect_eq engine_stopped_member_still_allowed open "$(tcp_probe ::1 2223)"
expect_eq engine_stopped_guard_still_closed closed "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
check engine_stopped_table_kept quiet nft list table inet nfq_trigger
"$NFQT" -c "$cfg" remove-table >/dev/null 2>&1
check remove_table_removes_it sh -c '! nft list table inet nfq_trigger >/dev/null 2>&1'
