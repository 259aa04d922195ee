# Only the kernel speaks on the queue socket (docs/design.md, decision 16):
# a local root process sends the engine's NFQUEUE socket (a) forged "queued
# packets" that make up a whole knock sequence: nothing opens, and the
# datagrams are counted as forged; (b) datagrams with lengths over INT_MAX, zero, shorter
# than a header, longer than the datagram, or a partial trailing header: the
# engine keeps running and still takes a real knock.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

FORGE=${NL_FORGE:-$top/$O/tools/nl_forge}
if [ ! -x "$FORGE" ]; then
	not_ok "nl_forge_built (make $O/tools/nl_forge)"
	exit 1
fi
cfg=$(write_config forged.ini <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 udp:8000 udp:9000
window = 5s
open = tcp:2222
allow_timeout = 30s
INI
)
start_engine "$cfg" -v || exit 1

# The queue's owner: peer_portid of queue 0 in this namespace's queue table.
portid=$(awk '$1 == 0 { print $2 }' /proc/net/netfilter/nfnetlink_queue)
check forged_queue_port_found test -n "$portid"
# It is a NETLINK_NETFILTER (12) socket of the engine's own.
inodes=$(ls -l /proc/"$engine_pid"/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]/\1/p')
owner=$(awk -v p="$portid" '$2 == 12 && $3 == p { print $NF }' /proc/net/netlink)
check forged_queue_port_is_the_engines sh -c "echo '$inodes' | grep -qx '$owner'"

# (a) The three frames of the sequence, from 127.0.0.1 to 127.0.0.1.
id=1000
for port in 7000 8000 9000; do
	id=$((id + 1))
	"$FORGE" packet "$portid" 0 "$id" 127.0.0.1 127.0.0.1 "$port"
done
sleep 0.5
expect_eq forged_knock_opens_nothing "" "$(allow_members ssh_allow4)"
line=$(engine_counters 'queue 0: .* packets')
expect_eq forged_packets_not_parsed 0 "$(counter_of "$line" packets)"
expect_eq forged_datagrams_counted 3 "$(counter_of "$line" forged)"
check forged_datagram_logged grep -q 'queue 0: dropped a datagram from port id' "$work/engine.log"

# (b) Malformed lengths, a burst of each.
for kind in huge zero short over trailing; do
	for _ in 1 2 3 4; do
		"$FORGE" badlen "$portid" "$kind"
	done
done
sleep 0.3
check forged_lengths_engine_alive kill -0 "$engine_pid"
line=$(engine_counters 'queue 0: .* packets')
expect_eq forged_lengths_counted 23 "$(counter_of "$line" forged)"
# One report per interval, however many arrive.
expect_eq forged_logged_at_a_limited_rate 1 \
    "$(grep -c 'queue 0: dropped a datagram' "$work/engine.log")"

# A real knock still gets through the same socket and opens the port.
for port in 7000 8000 9000; do
	$UDP send 127.0.0.1 "$port" 1
	sleep 0.05
done
sleep 0.3
expect_eq forged_real_knock_still_opens 127.0.0.1 "$(allow_members ssh_allow4)"
line=$(engine_counters 'queue 0: .* packets')
expect_eq forged_real_frames_verdicted 3 "$(counter_of "$line" dropped)"
check forged_engine_still_running kill -0 "$engine_pid"
