# kill -9 while the queue is busy: the table stays (docs/design.md,
# decision 1), so a member stays allowed and everyone else stays out; the
# divert's queue bypass lets queued ports through with no engine; a new
# engine takes the table over and opens for the next knock.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
ip addr add 127.0.0.2/8 dev lo 2>/dev/null

cfg=$(write_config kill.ini <<'INI'
[engine]
queue = 0

[knock k]
sequence = udp:7300 udp:7301
open = tcp:2226
allow_timeout = 60s
INI
)
udp_frame() { timeout 0.3 hping3 -q -2 -c 1 -p "$2" -a "${3:-127.0.0.1}" "$1" >/dev/null 2>&1; true; }

tcp_server 127.0.0.1 2226
start_engine "$cfg" || exit 1
udp_frame 127.0.0.1 7300
udp_frame 127.0.0.1 7301
sleep 0.3
expect_eq kill_load_member_allowed_before open "$(tcp_probe 127.0.0.1 2226)"

# Load: knock frames from many sources keep the queue busy.
python3 - <<'PY' &
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 3
while time.time() < end:
    for p in (7300, 7301):
        try:
            s.sendto(b"load", ("127.0.0.1", p))
        except OSError:
            pass
PY
load=$!
sleep 1
before=$(awk '$1 == 0 { print $8 }' /proc/net/netfilter/nfnetlink_queue)
kill -KILL "$engine_pid"; wait "$engine_pid" 2>/dev/null; engine_pid=
check kill_load_queue_was_busy [ "${before:-0}" -gt 1000 ]
wait "$load"

check kill_load_table_kept quiet nft list chain inet nfq_trigger guard_in
expect_eq kill_load_member_still_allowed open "$(tcp_probe 127.0.0.1 2226)"
expect_eq kill_load_others_still_out closed "$(tcp_probe 127.0.0.1 2226 127.0.0.2)"
expect_eq kill_load_diverted_port_bypassed 5 "$(udp_roundtrip 127.0.0.1 7301 5)"

start_engine "$cfg" || exit 1
expect_eq kill_load_restart_keeps_member open "$(tcp_probe 127.0.0.1 2226)"
udp_frame 127.0.0.1 7300 127.0.0.2
udp_frame 127.0.0.1 7301 127.0.0.2
sleep 0.3
expect_eq kill_load_restart_next_knock_opens open "$(tcp_probe 127.0.0.1 2226 127.0.0.2)"
stop_engine
expect_eq kill_load_restart_exits_zero 0 "$engine_status"
