# Guards and knocks on a gateway (issue 15; Decisions 13 and 14): a guard
# without an address is the gateway's own service (input hook only), so
# forwarded SSH passes it; `open = ADDRESS proto:port` guards that server at
# the forward hook, matched on its address; knock datagrams to a server
# behind the gateway (queued in prerouting by an activity rule) reach it and
# open nothing; a knock to the gateway opens it; two triggers that open one
# service share one guard and either one lets a source in.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/gateway.inc"
gw_net
COUNT_UDP="python3 $top/tests/tools/count_udp.py"

cfg=$(write_config gateway.ini <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 udp:7001
open = tcp:22
allow_timeout = 60s

[knock ssh2]
sequence = tcp:7100 udp:7101
open = tcp:22
allow_timeout = 60s

[knock srv]
sequence = udp:7200 udp:7201
open = $SERVER tcp:22
allow_timeout = 60s

[knock srv6]
sequence = udp:7600 udp:7601
open = fd72:2::/64 tcp:2222

# Watches the LAN's traffic to the servers: its rule queues, in prerouting,
# the very datagrams a server's own knock daemon listens for.
[activity lanwatch]
match = ip daddr 10.72.2.0/24 udp dport { 7000, 7001 }
ttl = 60s
start = /bin/true
INI
)
serve_on gw "$GW_LAN" 22
serve_on srv "$SERVER" 22
serve_on srv "$SERVER2" 22
serve_on srv fd72:2::2 2222
serve_on srv fd72:2::2 22
srv $COUNT_UDP listen "$SERVER" 7000 60 "$work/srv7000" &
servers="$servers $!"
srv $COUNT_UDP listen "$SERVER" 7001 60 "$work/srv7001" &
servers="$servers $!"
sleep 0.3
start_engine "$cfg" -v || exit 1

T="inet nfq_trigger"
# Decision 13: no address, no forward rule; the forwarded service's rule
# names the destination.
check gw_local_guard_is_input_only sh -c "nft list chain $T guard_in | grep -q 'tcp dport 22 ct state ! established,related ip saddr != @ssh_allow4 ip saddr != @ssh2_allow4 counter'"
check gw_forwarded_guard_matches_destination sh -c "nft list chain $T guard_fwd | grep -q 'ip daddr $SERVER tcp dport 22 ct state ! established,related ip saddr != @srv_allow4 counter'"
expect_eq gw_forward_chain_one_rule_per_destination_family 2 "$(nft list chain $T guard_fwd | grep -c 'drop comment')"
# Decision 14: one guard per service and family, not one per trigger.
expect_eq gw_one_guard_per_service 2 "$(nft list chain $T guard_in | grep -c 'drop comment')"
nft list table $T >"$work/table.nft" 2>/dev/null

expect_eq gw_forwarded_ssh_unaffected_by_local_guard open "$(from_client "$SERVER2" 22)"
expect_eq gw_own_ssh_guarded closed "$(from_client "$GW_LAN" 22)"
expect_eq gw_forwarded_guard_closes_its_server closed "$(from_client "$SERVER" 22)"

# Knock datagrams addressed to the server: delivered, and nothing opens.
knock_from_client "$CLIENT" "$SERVER" udp:7000 udp:7001
sleep 0.5
expect_eq gw_knock_datagrams_to_server_delivered "1 1" \
    "$(grep -c . "$work/srv7000") $(grep -c . "$work/srv7001")"
expect_eq gw_knock_to_server_opens_nothing_on_gateway closed "$(from_client "$GW_LAN" 22 "$CLIENT")"
expect_eq gw_knock_to_server_allow_set_empty 0 "$(set_count ssh_allow4)"
check gw_knock_to_server_was_queued grep -q "udp $CLIENT:[0-9]* -> $SERVER:700[01] .*: \(held\|accept\)" "$work/engine.log"

# A knock to the gateway opens it, to the knocker alone.
knock_from_client "$CLIENT" "$GW_LAN" udp:7000 udp:7001
expect_eq gw_knock_to_gateway_opens_it open "$(from_client "$GW_LAN" 22 "$CLIENT")"
expect_eq gw_knock_to_gateway_for_knocker_only closed "$(from_client "$GW_LAN" 22 10.72.1.4)"

# Either trigger opens the shared service: 10.72.1.4 knocks ssh2 only.
knock_from_client 10.72.1.4 "$GW_LAN" tcp:7100 udp:7101
expect_eq gw_second_trigger_opens_shared_service open "$(from_client "$GW_LAN" 22 10.72.1.4)"
expect_eq gw_second_trigger_set_holds_it 10.72.1.4 "$(allow_members ssh2_allow4)"
expect_eq gw_shared_service_first_trigger_still_open open "$(from_client "$GW_LAN" 22 "$CLIENT")"
expect_eq gw_shared_service_closed_to_others closed "$(from_client "$GW_LAN" 22 10.72.1.5)"

# The forwarded guard: srv's knock (to the gateway) opens the server.
knock_from_client 10.72.1.5 "$GW_LAN" udp:7200 udp:7201
expect_eq gw_forwarded_guard_opens_for_knocker open "$(from_client "$SERVER" 22 10.72.1.5)"
expect_eq gw_forwarded_guard_closed_to_others closed "$(from_client "$SERVER" 22 10.72.1.4)"
expect_eq gw_forwarded_knock_leaves_gateway_closed closed "$(from_client "$GW_LAN" 22 10.72.1.5)"

# IPv6: a forwarded prefix, and forwarded SSH untouched by the local guard.
check gw_forwarded_ipv6_guard_on_prefix sh -c "nft list chain $T guard_fwd | grep -q 'ip6 daddr fd72:2::/64 tcp dport 2222 '"
expect_eq gw_forwarded_ipv6_ssh_unaffected_by_local_guard open "$(from_client fd72:2::2 22)"
expect_eq gw_forwarded_ipv6_guard_closes closed "$(from_client fd72:2::2 2222)"
cli $UDP send fd72:1::1 7600 1
cli $UDP send fd72:1::1 7601 1
sleep 0.3
expect_eq gw_forwarded_ipv6_guard_opens_for_knocker open "$(from_client fd72:2::2 2222)"
expect_eq gw_forwarded_ipv6_knocker_in_set fd72:1::2 "$(allow_members srv6_allow6)"

line=$(engine_counters 'knock ssh: ')
check gw_counts_frames_not_addressed sh -c "echo '$line' | grep -q 'knock ssh: [0-9]* frames, [1-9][0-9]* not addressed to it'"
