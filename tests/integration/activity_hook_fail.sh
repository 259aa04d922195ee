# The activity trigger when start fails: a hanging start is killed at the
# hook timeout while the engine keeps giving verdicts; its held packets get
# the start_failure verdict (drop, then accept after a reload); packets in
# the back-off get it too; after the back-off the next packet starts again.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/activity_net.inc"
act_net

write_cfg() {
	write_config activity.ini <<INI
[engine]
queue = 0
hook_timeout = 1s
control = $work/control.sock

[activity vpn]
match = ip daddr 10.71.9.0/24 tcp dport 8080
ttl = 2s
start = $work/tunnel up
stop = $work/tunnel down
hook_caps = net_admin
retry_after = 1500ms
start_failure = $1
INI
}
cfg=$(write_cfg drop)
# Connects to the gateway itself go through the same queue: they show the
# engine still gives verdicts while a start hangs.
iptables-nft -A INPUT -p tcp --dport 2222 -j NFQUEUE --queue-num 0
tcp_server 10.71.1.1 2222
start_engine "$cfg" -v || exit 1

touch "$work/hang"
ip netns exec "$ACT_CLI" python3 -c '
import socket
s = socket.socket()
s.setblocking(False)
try:
    s.connect(("10.71.9.9", 8080))
except BlockingIOError:
    pass
import time; time.sleep(2.5)' &
sleeper=$!
sleep 0.2
probes=$(for _ in 1 2 3; do ip netns exec "$ACT_CLI" $TCP probe 10.71.1.1 2222; done | grep -c open)
expect_eq act_engine_verdicts_while_start_hangs 3 "$probes"
check act_hanging_start_killed engine_log_wait 'hook vpn start: .* still running after 1000 ms, killed' 3
check act_start_failure_drops_held engine_log_wait 'activity vpn: start failed; [12] held packets dropped, next start in 1500ms' 2
# [/]: the pattern must not match this check's own command line.
check act_hanging_hook_gone sh -c "sleep 1.2; ! pgrep -f '$work[/]tunnel up' >/dev/null"
wait "$sleeper"
rm -f "$work/hang"
expect_eq act_failed_start_brought_nothing_up 0 "$(events_count up)"

# In the back-off packets get the start_failure verdict at once; after it,
# a SYN retransmit starts again and the connect completes.
touch "$work/backoff-mark"
# A fresh state: standby, nothing held.
check act_reset_to_standby quiet "$NFQT" -c "$work/activity.ini" reset vpn
touch "$work/fail"
expect_eq act_failed_start_connect_times_out timeout "$(connect_outcome 0.5)"
rm -f "$work/fail"
ms=$(connect_ms 5)
echo "connect after a failed start and a 1500ms back-off: ${ms} ms"
check act_start_again_after_backoff test "$ms" != fail
counters
check act_backoff_refused_packets test "$(act_counter 'in back-off')" -ge 1
check act_start_failures_counted grep -q 'starts ([1-9][0-9]* failed)' "$work/engine.log"
expect_eq act_up_after_backoff 1 "$(events_count up)"

# start_failure = accept: held packets go on as if there were no trigger;
# with no route the gateway answers unreachable at once.
"$NFQT" -c "$work/activity.ini" reset vpn
sleep 0.5
write_cfg accept >/dev/null
kill -HUP "$engine_pid"
check act_reload_with_accept engine_log_wait 'reload: .* loaded' 3
sleep 0.5
touch "$work/fail"
expect_eq act_start_failure_accept_lets_held_through unreachable "$(connect_outcome 2)"
check act_start_failure_accept_logged grep -q 'held packets accepted, next start' "$work/engine.log"
rm -f "$work/fail"
stop_engine
expect_eq act_fail_engine_exit_status 0 "$engine_status"
