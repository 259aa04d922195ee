# Count triggers with every = N: the hook runs exactly once per N matching
# packets, with the Nth packet's source, through the queue (inline, every
# packet accepted) and through NFLOG (logged with the trigger's prefix);
# packets that do not match are not counted. The kernel counts (its rule
# lets only each Nth packet reach the engine), or with path = engine the
# engine counts every packet.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

recording_hook

cfg=$(write_config count.ini <<INI
[engine]
queue = 0
nflog_group = 6

[count camera]
match = udp dport 5554
every = 5
exec = $work/hook.sh %EVENT% %NAME% %IP% %PORT%

[count doorbell]
match = udp dport 5555
every = 3
source = nflog
exec = $work/hook.sh %EVENT% %NAME% %IP% %PORT%

[count lamp]
match = udp dport 5557
every = 4
path = engine
exec = $work/hook.sh %EVENT% %NAME% %IP% %PORT%
INI
)
start_engine "$cfg" || exit 1

# hook_lines NAME: how many times NAME's hook ran, once the runs settle.
hook_lines() {
	last=-1
	for _ in $(seq 20); do
		n=$(grep -c " $1 " "$work/hook.log" 2>/dev/null)
		[ "${n:-0}" = "$last" ] && break
		last=${n:-0}
		sleep 0.2
	done
	echo "${n:-0}"
}

# 23 datagrams: hooks at the 5th, 10th, 15th and 20th; every one delivered.
expect_eq count_every_queue_all_delivered 23 "$(udp_roundtrip 127.0.0.1 5554 23)"
expect_eq count_every_queue_hook_once_per_5 4 "$(hook_lines camera)"
expect_eq count_every_hook_words "count camera 127.0.0.1 5554" \
    "$(grep ' camera ' "$work/hook.log" | head -1)"
# Two more make 25: the fifth hook, not earlier and not twice.
udp_roundtrip 127.0.0.1 5554 2 >/dev/null
expect_eq count_every_queue_25th_packet_fires 5 "$(hook_lines camera)"
# A burst of 40 without a pause: 8 more runs, as many as may be in flight
# (docs/count.md), none merged into another.
python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    s.sendto(b"nfqt", ("127.0.0.1", 5554))'
expect_eq count_every_burst_hook_once_per_5 13 "$(hook_lines camera)"
# Other ports are not counted.
udp_roundtrip 127.0.0.1 5556 20 >/dev/null
expect_eq count_every_other_port_not_counted 13 "$(hook_lines camera)"

# Through NFLOG: 10 datagrams, a hook at the 3rd, 6th and 9th.
expect_eq count_every_nflog_all_delivered 10 "$(udp_roundtrip 127.0.0.1 5555 10)"
expect_eq count_every_nflog_hook_once_per_3 3 "$(hook_lines doorbell)"

# Counted by the engine: 10 datagrams, each one queued, a hook at the 4th and 8th.
expect_eq count_every_engine_path_all_delivered 10 "$(udp_roundtrip 127.0.0.1 5557 10)"
expect_eq count_every_engine_path_hook_once_per_4 2 "$(hook_lines lamp)"

# The kernel counted camera's 65 and passed the engine 13 of them; the
# engine got all of lamp's 10.
kill -USR1 "$engine_pid"
engine_log_wait 'count lamp: 10 packets, 2 hooks' 3
check count_every_counters grep -q 'count camera: 13 packets, 13 hooks' "$work/engine.log"
check count_every_engine_path_counters grep -q 'count lamp: 10 packets, 2 hooks' "$work/engine.log"
check count_every_kernel_counted_all sh -c "nft list chain inet nfq_trigger count_in |
    grep 'every 5th' | grep -q 'counter packets 65 '"
check count_every_kernel_passes_each_5th sh -c \
    "nft list chain inet nfq_trigger count_in | grep -q 'numgen inc mod 5 4'"
check count_every_rules_in_input_chain sh -c \
    "nft list chain inet nfq_trigger count_in | grep -q 'log prefix \"nfqt-count doorbell\" group 6'"
stop_engine
