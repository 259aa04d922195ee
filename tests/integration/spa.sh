# Single-packet authorization, our format, end to end: a valid datagram
# from nfq-knock opens the guarded port over IPv4 and IPv6; the same bytes
# again, from the same or another address, open nothing; old, spoiled,
# foreign, wrongly keyed and truncated datagrams open nothing and are logged
# with their reason; no SPA datagram reaches a socket on the SPA port; a
# flood of random datagrams keeps memory bounded while a valid one opens;
# a packet made before a restart opens nothing after it.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
NFQK=${NFQK:-$top/$O/nfq-knock}
SPA=$top/$O/tools/spa_packet

"$NFQK" --gen-key "$work/ssh.key" || exit 1
"$NFQK" --gen-key "$work/other.key" || exit 1
cfg=$(write_config spa.ini <<INI
[engine]
queue = 0

[spa ssh]
port = udp:62201
key = $work/ssh.key
open = tcp:2222
allow_timeout = 30s
max_age = 5s

[spa other]
port = udp:62202
key = $work/other.key
open = tcp:2223
INI
)
tcp_server 127.0.0.1 2222
tcp_server ::1 2222
start_engine "$cfg" -v || exit 1

# event REASON SRC: the event log has the line (3 s at most).
event() { engine_log_wait "event=$1 kind=spa trigger=ssh src=$2 reason=$3" 3; }
send() { $UDP sendfile "$1" 62201 "$2" "${3:-}"; sleep 0.2; }

expect_eq spa_port_closed_before closed "$(tcp_probe 127.0.0.1 2222)"
"$NFQK" --spa ssh --key "$work/ssh.key" --port udp:62201 127.0.0.1
sleep 0.2
expect_eq spa_opens_port_ipv4 open "$(tcp_probe 127.0.0.1 2222)"
expect_eq spa_opens_for_sender_only closed "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
check spa_open_is_logged engine_log_wait "event=opened kind=spa trigger=ssh src=127.0.0.1" 1

expect_eq spa_port_closed_before_ipv6 closed "$(tcp_probe ::1 2222)"
"$NFQK" --spa ssh -c "$cfg" ::1
sleep 0.2
expect_eq spa_opens_port_ipv6 open "$(tcp_probe ::1 2222)"

# The same bytes twice: from 127.0.0.3 (opens), again from there and from .4.
"$SPA" "$work/ssh.key" ssh >"$work/once"
send 127.0.0.1 "$work/once" 127.0.0.3
expect_eq spa_valid_bytes_open open "$(tcp_probe 127.0.0.1 2222 127.0.0.3)"
send 127.0.0.1 "$work/once" 127.0.0.3
check spa_replay_same_address_refused event refused 127.0.0.3 replay
send 127.0.0.1 "$work/once" 127.0.0.4
check spa_replay_other_address_refused event refused 127.0.0.4 replay
expect_eq spa_replay_other_address_opens_nothing closed "$(tcp_probe 127.0.0.1 2222 127.0.0.4)"

# Each spoiled datagram from an address of its own, which stays closed.
spoiled() {	# spoiled NAME SRC REASON SPA_PACKET-ARGS...
	what=$1 src=$2 reason=$3; shift 3
	"$SPA" "$@" >"$work/$what" || { not_ok "spa_${what}_made"; return; }
	send 127.0.0.1 "$work/$what" "$src"
	check "spa_${what}_logged_${reason}" event failed "$src" "$reason"
	expect_eq "spa_${what}_opens_nothing" closed "$(tcp_probe 127.0.0.1 2222 "$src")"
}
spoiled too_old 127.0.0.5 too-old "$work/ssh.key" ssh -o 10000
spoiled bit_flipped 127.0.0.6 bad-mac "$work/ssh.key" ssh -f 20
spoiled other_trigger 127.0.0.7 wrong-trigger "$work/other.key" other
spoiled wrong_key 127.0.0.8 bad-mac "$work/other.key" ssh
spoiled truncated 127.0.0.9 truncated "$work/ssh.key" ssh -t 50
spoiled from_future 127.0.0.10 from-future "$work/ssh.key" ssh -o -60000
spoiled other_address 127.0.0.11 address-refused "$work/ssh.key" ssh -a 127.0.0.12
expect_eq spa_named_address_not_opened closed "$(tcp_probe 127.0.0.1 2222 127.0.0.12)"

# Nothing sent to the SPA port reaches a socket bound there.
$UDP listen 127.0.0.1 62201 2 >"$work/heard" 2>/dev/null &
listener=$!
sleep 0.3
"$SPA" "$work/ssh.key" ssh >"$work/heard1"
send 127.0.0.1 "$work/heard1" 127.0.0.13
send 127.0.0.1 "$work/too_old" 127.0.0.13
wait "$listener"
expect_eq spa_datagrams_never_reach_a_socket 0 "$(cat "$work/heard")"
expect_eq spa_valid_datagram_still_opened open "$(tcp_probe 127.0.0.1 2222 127.0.0.13)"

# A flood of random datagrams from random sources; a valid one during it.
flood() {
	timeout "$1" hping3 -q -2 -p 62201 -d 80 --rand-source --flood 127.0.0.1 \
	    >/dev/null 2>&1
}
flood 3
rss_first=$(engine_rss)
flood 6 &
flooder=$!
sleep 1
# A flood faster than the engine overruns the kernel's queue, and an
# overrun datagram never reaches the engine (fail_open passes it to the
# empty port): a client sends a new packet when the port stays shut, as
# here, each with a nonce of its own.
tries=0 state=closed
while [ "$tries" -lt 10 ] && [ "$state" = closed ]; do
	tries=$((tries + 1))
	"$SPA" "$work/ssh.key" ssh >"$work/during"
	send 127.0.0.1 "$work/during" 127.0.0.14
	state=$(tcp_probe 127.0.0.1 2222 127.0.0.14)
done
echo "a valid packet during the flood opened after $tries tries"
expect_eq spa_valid_during_flood_opens open "$state"
wait "$flooder"
rss_second=$(engine_rss)
line=$(engine_counters 'spa ssh: .* packets')
echo "engine RSS after a 3 s flood: $rss_first kB; after 6 s more: $rss_second kB ($line)"
check spa_flood_memory_bounded [ $((rss_second - rss_first)) -lt 1024 ]
check spa_flood_was_a_flood [ "$(counter_of "$line" packets)" -gt 10000 ]
stop_engine

# Decision 9: after a restart the replay cache is empty, yet a packet made
# before the start opens nothing.
"$SPA" "$work/ssh.key" ssh >"$work/before"
sleep 0.1
start_engine "$cfg" -v || exit 1
send 127.0.0.1 "$work/before" 127.0.0.15
check spa_packet_from_before_restart_refused event failed 127.0.0.15 before-start
expect_eq spa_packet_from_before_restart_opens_nothing closed \
    "$(tcp_probe 127.0.0.1 2222 127.0.0.15)"
stop_engine
