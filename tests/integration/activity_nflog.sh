# The activity trigger passive (NFLOG): traffic runs start and the TTL runs
# stop as in queue mode, but nothing is held: the standby route drops (a
# blackhole, docs/design.md, decision 4), so the first SYN is lost and the
# connect waits for its retransmit. The divert rule logs a pair once a second
# at most. SIGHUP with the trigger unchanged keeps it up; reset stops it.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/activity_net.inc"
act_net blackhole

cfg=$(write_config activity.ini <<INI
[engine]
queue = 0
nflog_group = 5
hook_timeout = 5s
control = $work/control.sock

[activity vpn]
source = nflog
match = ip daddr 10.71.9.0/24
ttl = 2s
start = $work/tunnel up
stop = $work/tunnel down
hook_caps = net_admin
INI
)
start_engine "$cfg" -v || exit 1
check act_nflog_divert_logs sh -c "nft list chain inet nfq_trigger activity 2>/dev/null | grep -q 'log group 5'"
check act_nflog_no_switch_set sh -c '! nft list set inet nfq_trigger vpn_active >/dev/null 2>&1'

ms=$(connect_ms 4)
echo "first connect through a cold tunnel, NFLOG (nothing held): ${ms} ms"
check act_nflog_first_connect_completes test "$ms" != fail
check act_nflog_first_connect_needs_retransmit test "${ms:-0}" -ge 900 2>/dev/null
expect_eq act_nflog_start_ran_once 1 "$(events_count up)"
counters
expect_eq act_nflog_nothing_held 0 "$(act_counter held)"
check act_nflog_queue_untouched grep -q 'queue 0: 0 packets' "$work/engine.log"
check act_nflog_group_saw_packets grep -q 'nflog group 5: [1-9][0-9]* packets' "$work/engine.log"

# Sampling: 300 datagrams in about 1.5 s are logged a few times only.
before=$(act_counter packets)
ip netns exec "$ACT_CLI" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"nfqt", ("10.71.9.9", 9000))
    time.sleep(0.005)'
counters
seen=$(( $(act_counter packets) - before ))
echo "NFLOG: 300 datagrams in about 1.5 s, $seen logged"
check act_nflog_sampled test "$seen" -ge 1 -a "$seen" -le 4

sleep 2.8
expect_eq act_nflog_idle_runs_stop 1 "$(events_count down)"
check act_nflog_blackhole_back sh -c 'ip route show 10.71.9.0/24 | grep -q blackhole'

# SIGHUP while active, nothing changed: still up. reset: stop, standby.
ms=$(connect_ms 4)
check act_nflog_restarts test "$ms" != fail
kill -HUP "$engine_pid"
check act_nflog_sighup_keeps_it_up engine_log_wait 'reload: .* loaded (.*, 0 activity triggers in standby)'
expect_eq act_nflog_sighup_no_stop 1 "$(events_count down)"
check act_nflog_reset quiet "$NFQT" -c "$cfg" reset vpn
check act_nflog_reset_stops engine_log_wait 'activity vpn: reset from active to standby: stopping'
sleep 0.5
expect_eq act_nflog_reset_stop_ran 2 "$(events_count down)"
stop_engine
expect_eq act_nflog_engine_exit_status 0 "$engine_status"
