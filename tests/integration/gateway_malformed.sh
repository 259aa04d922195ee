# A packet the parser calls malformed gets the verdict of the path it was
# queued on, counted either way (issue 15): dropped on a fail-closed path
# (an activity trigger whose start failed, with start_failure = drop; the
# knock divert at the input hook), let through where the path is open
# (start_failure = accept). The malformed packet is a UDP datagram whose
# length field claims more than the IP packet holds; IP forwards it and the
# receiver's raw socket sees it, so only our verdict stops it.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/gateway.inc"
gw_net
RAW="python3 $top/tests/tools/rawpkt.py"

config() {	# config START_FAILURE
	write_config "malformed-$1.ini" <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 udp:7001
open = tcp:22

[activity cam]
match = ip daddr $SERVER udp dport 9100
start = /bin/false
start_failure = $1
retry_after = 60s
INI
}
sniff_srv() { srv $RAW sniff "$SERVER" 9100 "$1" >"$work/$2" 2>/dev/null & servers="$servers $!"; }
got() { c=$(tail -1 "$work/$1"); echo "${c:-0}"; }

# Fail closed: the start fails, and the path stays closed to malformed packets.
sniff_srv 6 drop.srv
$RAW sniff "$GW_LAN" 7000 6 >"$work/drop.gw" 2>/dev/null &
servers="$servers $!"
sleep 0.3
start_engine "$(config drop)" -v || exit 1
cli $UDP send "$SERVER" 9100 1
engine_log_wait 'activity cam: start failed' 3
cli $RAW badudp "$CLIENT" "$SERVER" 9100
cli $RAW badudp "$CLIENT" "$GW_LAN" 7000
sleep 0.5
expect_eq gw_malformed_dropped_on_failed_start_path 0 "$(got drop.srv)"
expect_eq gw_malformed_dropped_on_knock_path 0 "$(got drop.gw)"
check gw_malformed_logged grep -q 'malformed packet .*UDP length beyond the IP packet' "$work/engine.log"
line=$(engine_counters 'parser: ')
check gw_malformed_counted_and_dropped sh -c "echo '$line' | grep -q ' 2 malformed (2 dropped'"
line=$(grep 'activity cam: [a-z]*, ' "$work/engine.log" | tail -1)
check gw_malformed_counted_by_its_trigger sh -c "echo '$line' | grep -q '1 malformed (1 dropped)'"
check gw_malformed_starts_nothing sh -c "echo '$line' | grep -q '1 starts (1 failed)'"
stop_engine

# The same path open (start_failure = accept): the packet goes on, counted.
sniff_srv 4 accept.srv
sleep 0.3
start_engine "$(config accept)" -v || exit 1
cli $RAW badudp "$CLIENT" "$SERVER" 9100
sleep 0.5
expect_eq gw_malformed_passes_an_open_path 1 "$(got accept.srv)"
line=$(engine_counters 'parser: ')
check gw_malformed_counted_when_passed sh -c "echo '$line' | grep -q ' 1 malformed (0 dropped'"
