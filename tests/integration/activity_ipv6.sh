# Two activity triggers on one queue, IPv4 and IPv6: an IPv6 connect wakes
# only the IPv6 trigger, its SYN is held and the connect completes without a
# retransmit; its pairs (ip6 saddr . ip6 daddr) are sampled once a second;
# idle past the TTL runs its stop.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/activity_net.inc"
act_net
# The link is up from the start and only the route comes and goes: a link
# that has just come up takes IPv6 a second or two (duplicate address
# detection on both ends), which would be the stand-in's delay, not ours.
ip link set tun0 up
ip -6 addr add fd71:2::1/64 dev tun0 nodad
sleep 2

cfg=$(write_config activity.ini <<INI
[engine]
queue = 0
hook_timeout = 5s

[activity vpn]
match = ip daddr 10.71.9.0/24
ttl = 2s
start = $work/tunnel up
stop = $work/tunnel down
hook_caps = net_admin

[activity vpn6]
match = ip6 daddr fd71:9::/64 meta l4proto { tcp, udp }
ttl = 2s
start = $work/tunnel up6
stop = $work/tunnel down6
hook_caps = net_admin
INI
)
check act6_no_path_before_start sh -c '! ip -6 route get fd71:9::9 >/dev/null 2>&1'
start_engine "$cfg" -v || exit 1

ms=$(connect_ms 3 "$SERVER6")
echo "first IPv6 connect through a cold tunnel, holding on: ${ms} ms"
check act6_first_connect_without_syn_retransmit test "${ms:-9999}" -lt 900 2>/dev/null
expect_eq act6_only_the_ipv6_trigger_started "up6" "$(cat "$work/events")"
counters
expect_eq act6_syn_held_by_vpn6 1 "$(act_counter held vpn6)"
expect_eq act6_ipv4_trigger_saw_nothing 0 "$(act_counter packets vpn)"
check act6_ipv4_trigger_in_standby grep -q 'activity vpn: standby, ' "$work/engine.log"

before=$(act_counter packets vpn6)
ip netns exec "$ACT_CLI" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"nfqt", ("fd71:9::9", 9001))
    time.sleep(0.005)'
counters
seen=$(( $(act_counter packets vpn6) - before ))
echo "IPv6: 300 datagrams in about 1.5 s, $seen reached the engine"
check act6_sampled_fast_flow_few_packets test "$seen" -ge 1 -a "$seen" -le 4

sleep 2.6
check act6_idle_runs_stop grep -q '^down6$' "$work/events"
check act6_path_gone_after_stop sh -c '! ip -6 route get fd71:9::9 >/dev/null 2>&1'
stop_engine
expect_eq act6_engine_exit_status 0 "$engine_status"
