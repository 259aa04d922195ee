# Rotate triggers: new connections leaving through rot0 get their source
# address from a pool by SNAT in the kernel, and conntrack keeps each
# connection on its address. The test's namespace is the client (it runs the
# engine); a server namespace records the peer address of every message.
#
#   client rot0 10.73.0.1, pool 10.73.0.10-13 --veth-- 10.73.0.2 eth0 server
#   client rot0 fd73::1, pool fd73:9::/48     --veth-- fd73::2 (routes fd73:9::/48 back)
#
# 100 TCP connections are spread round-robin, 25 on each pool address; 40
# UDP flows of 5 datagrams each keep one address each; a /48 gives a random
# address per connection, computed by the kernel; a passthrough section
# before them keeps its connections on the client's own address; the engine
# sees none of these packets; a reload refills the pool, and rotation goes
# on after the engine stops.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

SRV=nfqt-cnt-$$-srv
PEER="python3 $top/tests/tools/rotate_peer.py"
trap 'kill ${servers:-} 2>/dev/null; stop_engine; ip netns del "$SRV" 2>/dev/null; rm -rf "$work"' EXIT
ip netns add "$SRV" || exit 1
ip -n "$SRV" link set lo up
ip link add rot0 type veth peer name eth0 netns "$SRV"
ip addr add 10.73.0.1/24 dev rot0
for a in 10 11 12 13; do ip addr add "10.73.0.$a/24" dev rot0; done
ip addr add fd73::1/64 dev rot0 nodad
ip link set rot0 up
ip -n "$SRV" addr add 10.73.0.2/24 dev eth0
ip -n "$SRV" addr add fd73::2/64 dev eth0 nodad
ip -n "$SRV" link set eth0 up
ip -n "$SRV" route add fd73:9::/48 via fd73::1 dev eth0
serve() {	# serve tcp|udp ADDR PORT FILE
	ip netns exec "$SRV" $PEER serve "$1" "$2" "$3" 60 "$work/$4" &
	servers="${servers:-} $!"
}
serve tcp 10.73.0.2 8000 tcp4
serve udp 10.73.0.2 8000 udp4
serve tcp 10.73.0.2 9999 keep4
serve tcp fd73::2 8000 tcp6
serve udp fd73::2 8000 udp6
sleep 0.5

cfg=$(write_config rotate.ini <<'INI'
[engine]
queue = 0

[rotate keep]
match = oif rot0 tcp dport 9999
mode = passthrough

[rotate egress]
match = oif rot0 meta l4proto { tcp, udp }
pool = 10.73.0.10 10.73.0.11 10.73.0.12/31

[rotate egress6]
match = oif rot0 meta l4proto { tcp, udp }
pool = fd73:9::/48
policy = random
INI
)
start_engine "$cfg" || exit 1

summary() { $PEER check "$work/$1" | sed -n 1p; }
per_address() { $PEER check "$work/$1" | tail -n +2 | tr '\n' ' ' | sed 's/ $//'; }

$PEER open tcp 10.73.0.2 8000 100 3
expect_eq rotate_tcp_100_connections_each_kept_one_address \
    "messages 300 flows 100 addresses 4 switched 0" "$(summary tcp4)"
expect_eq rotate_tcp_round_robin_25_each \
    "10.73.0.10 25 10.73.0.11 25 10.73.0.12 25 10.73.0.13 25" "$(per_address tcp4)"

$PEER open udp 10.73.0.2 8000 40 5
expect_eq rotate_udp_flows_each_kept_one_address \
    "messages 200 flows 40 addresses 4 switched 0" "$(summary udp4)"

$PEER open tcp 10.73.0.2 9999 5 2
expect_eq rotate_passthrough_keeps_own_address "10.73.0.1 5" "$(per_address keep4)"

$PEER open tcp fd73::2 8000 30 3
line=$(summary tcp6)
distinct=$(echo "$line" | sed -n 's/.* addresses \([0-9]*\) .*/\1/p')
echo "30 IPv6 connections through a /48: $line"
check rotate_prefix_random_address_per_connection [ "${distinct:-0}" -ge 28 ]
check rotate_prefix_connections_kept_their_address sh -c "echo '$line' | grep -q 'flows 30 .* switched 0'"
check rotate_prefix_addresses_in_the_48 sh -c \
    "$PEER check '$work/tcp6' | tail -n +2 | grep -v '^fd73:9:0:' | wc -l | grep -qx 0"
$PEER open udp fd73::2 8000 20 4
expect_eq rotate_prefix_udp_flows_kept "flows 20 switched 0" \
    "$(summary udp6 | sed -n 's/.* \(flows [0-9]*\) addresses [0-9]* \(switched [0-9]*\)/\1 \2/p')"

# A reload refills the pool: two other addresses now.
sed -i 's|^pool = 10.73.0.10 10.73.0.11 10.73.0.12/31$|pool = 10.73.0.12 10.73.0.13|' "$cfg"
kill -HUP "$engine_pid"
engine_log_wait 'reload: .* loaded' 3
: >"$work/tcp4"
$PEER open tcp 10.73.0.2 8000 6 1
expect_eq rotate_reload_refills_the_pool "10.73.0.12 3 10.73.0.13 3" "$(per_address tcp4)"

kill -USR1 "$engine_pid"
engine_log_wait 'queue 0: ' 3
check rotate_engine_not_on_the_path grep -q 'queue 0: 0 packets' "$work/engine.log"

# The rules are the kernel's: rotation goes on with the engine stopped.
stop_engine
: >"$work/tcp4"
$PEER open tcp 10.73.0.2 8000 8 1
expect_eq rotate_goes_on_after_engine_exit "10.73.0.12 4 10.73.0.13 4" \
    "$(per_address tcp4)"
