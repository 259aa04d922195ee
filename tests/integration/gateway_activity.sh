# Activity triggers on the host's own traffic (the output hook): tuninetd's
# single-host case, a tun device with a route and no reader until the VPN
# starts. The gateway itself connects to 10.72.9.9, which the server holds
# behind the "VPN" (tests/tools/tun_vpn.py, started by the start hook).
#   held: the SYN waits in the queue while start runs and leaves on its route
#         once the tun has a reader: the first connect takes the start time;
#   hold_packets = 0: the SYN is lost in the tun, the retransmit (1 s) gets in;
#   a route the start hook changes: the held SYN leaves on the route it had
#         (the kernel re-routes a re-injected output packet only when its
#         addresses, mark or TOS changed), so only the retransmit takes the
#         new one;
#   no route at all: connect() fails before any hook; nothing can be held.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/gateway.inc"
gw_net
VPN_ADDR=10.72.9.9
ip tuntap add dev vpn0 mode tun || { not_ok "gw_tun_device"; exit 1; }
ip addr add 10.72.8.1/24 dev vpn0
ip link set vpn0 up
srv ip addr add "$VPN_ADDR/32" dev lo
serve_on srv "$VPN_ADDR" 8080
trap 'kill ${servers:-} 2>/dev/null; [ -s "$work/vpn.pid" ] && kill "$(cat "$work/vpn.pid")" 2>/dev/null; stop_engine; gw_cleanup; rm -rf "$work"' EXIT

cat >"$work/vpn" <<SH
#!/bin/sh
# vpn up|down|reroute: the VPN stand-in the hooks run.
case "\$1" in
up)
	setsid python3 $top/tests/tools/tun_vpn.py vpn0 wan0 60 </dev/null >/dev/null 2>&1 &
	echo \$! >$work/vpn.pid
	for _ in \$(seq 60); do
		ip link show vpn0 | grep -q LOWER_UP && exit 0
		sleep 0.05
	done
	exit 1 ;;
down)
	[ -s $work/vpn.pid ] && kill "\$(cat $work/vpn.pid)" 2>/dev/null
	: >$work/vpn.pid ;;
reroute)
	ip route replace 10.72.9.0/24 dev wan0 ;;
esac
exit 0
SH
chmod 755 "$work/vpn"

# own_connect_ms: a TCP connect from the gateway itself: ms, or "fail".
own_connect_ms() {
	python3 -c '
import socket, sys, time
s = socket.socket()
s.settimeout(4)
t = time.monotonic()
try:
    s.connect((sys.argv[1], 8080))
    print(int((time.monotonic() - t) * 1000))
except OSError:
    print("fail")' "$VPN_ADDR"
}

# lan_connect_ms: the same from the client, forwarded by the gateway.
lan_connect_ms() {
	cli python3 -c '
import socket, sys, time
s = socket.socket()
s.settimeout(4)
t = time.monotonic()
try:
    s.connect((sys.argv[1], 8080))
    print(int((time.monotonic() - t) * 1000))
except OSError:
    print("fail")' "$VPN_ADDR"
}

# first_connect NAME START EXTRA [FROM]: the engine with the trigger, one
# connect from the gateway itself (own) or the client (lan).
first_connect() {
	cfg=$(write_config "own-$1.ini" <<INI
[engine]
queue = 0
hook_timeout = 5s

[activity vpn]
match = ip daddr 10.72.9.0/24 tcp dport 8080
ttl = 60s
start = $work/vpn $2
stop = $work/vpn down
; the VPN stand-in attaches a tun, changes routes and sends raw packets
hook_caps = net_admin net_raw
$3
INI
)
	start_engine "$cfg" -v >&2 || return 1
	${4:-own}_connect_ms
	kill -USR1 "$engine_pid"
	engine_log_wait 'activity vpn: [a-z]*, ' 3
	cp "$work/engine.log" "$work/engine.$1.log"
	stop_engine
	"$work/vpn" down
}

ip route replace 10.72.9.0/24 dev vpn0
held=$(first_connect held up "")
echo "own traffic, first connect through a cold tun: held ${held} ms"
check gw_own_traffic_queued_at_output grep -q "tcp 10.72.8.1:[0-9]* -> $VPN_ADDR:8080 len [0-9]*: held" "$work/engine.held.log"
check gw_own_traffic_start_ran grep -q 'activity vpn: up, start took [0-9]* ms; 1 held packets accepted' "$work/engine.held.log"
check gw_own_traffic_held_first_connect_fast test "${held:-9999}" -lt 900 2>/dev/null

ip route replace 10.72.9.0/24 dev vpn0
fwd=$(first_connect forwarded up "" lan)
echo "forwarded traffic (prerouting), the same cold tun: held ${fwd} ms"
check gw_forwarded_held_first_connect_fast test "${fwd:-9999}" -lt 900 2>/dev/null

ip route replace 10.72.9.0/24 dev vpn0
nohold=$(first_connect nohold up "hold_packets = 0")
echo "own traffic, hold_packets = 0: ${nohold} ms"
check gw_own_traffic_unheld_waits_for_retransmit test "${nohold:-0}" -ge 900 2>/dev/null

ip route replace 10.72.9.0/24 dev vpn0
reroute=$(first_connect reroute reroute "")
echo "own traffic, start hook changes the route: ${reroute} ms"
check gw_own_traffic_held_keeps_its_old_route test "${reroute:-0}" -ge 900 2>/dev/null
check gw_own_traffic_reroute_connects test "$reroute" != fail

ip route del 10.72.9.0/24 2>/dev/null
noroute=$(first_connect noroute up "")
echo "own traffic, no route at send time: $noroute"
expect_eq gw_own_traffic_without_route_fails_before_any_hook fail "$noroute"
check gw_own_traffic_without_route_starts_nothing sh -c "! grep -q 'traffic on the path' '$work/engine.noroute.log'"
echo "first connects: own held $held ms, forwarded held $fwd ms, own hold_packets = 0 $nohold ms, rerouted by start $reroute ms, no route $noroute"
