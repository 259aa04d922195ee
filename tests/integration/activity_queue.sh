# The activity trigger inline (NFQUEUE): the first connect through a cold
# tunnel is held while start brings the tunnel up and completes without a
# SYN retransmit; a live flow keeps it up (sampled once a second); idle past
# the TTL runs stop; traffic starts it again; SIGHUP with the trigger
# unchanged keeps it up (no stop), `reset vpn` and a changed trigger take it
# back to standby (stop runs).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/activity_net.inc"
act_net

cfg=$(write_config activity.ini <<INI
[engine]
queue = 0
hook_timeout = 5s
control = $work/control.sock

[activity vpn]
match = ip daddr 10.71.9.0/24
ttl = 2s
start = $work/tunnel up
stop = $work/tunnel down
hook_caps = net_admin
INI
)
check act_no_path_before_start sh -c '! ip route get 10.71.9.9 >/dev/null 2>&1'
start_engine "$cfg" -v || exit 1

ms=$(connect_ms 3)
echo "first connect through a cold tunnel, holding on: ${ms} ms"
check act_first_connect_completes test "$ms" != fail
check act_first_connect_without_syn_retransmit test "${ms:-9999}" -lt 900 2>/dev/null
expect_eq act_start_ran_once 1 "$(events_count up)"
counters
expect_eq act_first_syn_was_held 1 "$(act_counter held)"
expect_eq act_held_syn_released 1 "$(act_counter released)"
check act_log_says_up grep -q 'activity vpn: up, start took' "$work/engine.log"
check act_path_up_after_start quiet ip route get 10.71.9.9
check act_sampling_switch_on sh -c "nft list set inet nfq_trigger vpn_active | grep -q 'elements = '"

# Active: a fast flow reaches the engine about once a second, not per packet,
# and every packet gets through.
ip netns exec "$ACT_SRV" $UDP listen "$SERVER" 9001 3 >"$work/udp.count" 2>/dev/null &
sleep 0.3
before=$(act_counter packets)
ip netns exec "$ACT_CLI" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"nfqt", ("10.71.9.9", 9001))
    time.sleep(0.005)'
counters
seen=$(( $(act_counter packets) - before ))
echo "300 datagrams in about 1.5 s: $seen reached the engine"
check act_sampled_fast_flow_few_packets test "$seen" -ge 1 -a "$seen" -le 4

# A slow flow (one datagram every 0.6 s, 3 s, TTL 2 s) keeps the tunnel up.
for _ in 1 2 3 4 5; do
	ip netns exec "$ACT_CLI" $UDP send "$SERVER" 9000 1
	sleep 0.6
done
expect_eq act_slow_flow_keeps_it_up 0 "$(events_count down)"
wait $!
expect_eq act_sampled_fast_flow_all_delivered 300 "$(cat "$work/udp.count")"

# Idle past the TTL: stop runs, the path is gone, sampling is off.
sleep 2.6
expect_eq act_idle_runs_stop 1 "$(events_count down)"
check act_log_says_idle grep -q 'activity vpn: idle for 2s: stopping' "$work/engine.log"
check act_path_gone_after_stop sh -c '! ip route get 10.71.9.9 >/dev/null 2>&1'
check act_sampling_switch_off sh -c "! nft list set inet nfq_trigger vpn_active | grep -q 'elements = '"

# Traffic again: start again, and again the connect is held, not lost.
ms=$(connect_ms 3)
check act_second_cold_connect_without_retransmit test "${ms:-9999}" -lt 900 2>/dev/null
expect_eq act_second_start 2 "$(events_count up)"

# SIGHUP with the trigger unchanged: the tunnel stays up, stop does not run.
kill -HUP "$engine_pid"
check act_sighup_unchanged_keeps_state engine_log_wait \
    'reload: .* loaded (.*, 0 activity triggers in standby)'
expect_eq act_sighup_unchanged_no_stop 1 "$(events_count down)"
check act_sighup_unchanged_path_up quiet ip route get 10.71.9.9
check act_sighup_unchanged_sampling_on sh -c "nft list set inet nfq_trigger vpn_active | grep -q 'elements = '"

# reset NAME (tuninetd's "SIGHUP resets to standby"): stop runs.
check act_reset_command quiet "$NFQT" -c "$cfg" reset vpn
check act_reset_runs_stop engine_log_wait 'activity vpn: reset from active to standby: stopping'
sleep 0.5
expect_eq act_reset_stop_ran 2 "$(events_count down)"
check act_reset_path_gone sh -c '! ip route get 10.71.9.9 >/dev/null 2>&1'
ms=$(connect_ms 3)
check act_start_after_reset test "${ms:-9999}" -lt 900 2>/dev/null
expect_eq act_third_start 3 "$(events_count up)"

# A changed trigger is rebuilt: back to standby, stop runs.
sed -i 's/^ttl = 2s/ttl = 3s/' "$cfg"
kill -HUP "$engine_pid"
check act_sighup_changed_reloads engine_log_wait 'reload: .* loaded (.*, 1 activity trigger in standby)'
sleep 0.5
expect_eq act_sighup_changed_runs_stop 3 "$(events_count down)"
counters
check act_queue_nothing_left_held grep -q 'queue 0: .* (0 still held)' "$work/engine.log"
stop_engine
expect_eq act_engine_exit_status 0 "$engine_status"
