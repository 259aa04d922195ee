# knockd's two options on a gateway with several addresses and interfaces:
# `target` (the one address knock frames must be sent to) and `interface`
# (the one they must arrive on). Frames that miss either pass on untouched
# and open nothing (Decision 13).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/gateway.inc"
gw_net

cfg=$(write_config knockd.ini <<INI
[engine]
queue = 0

[knock tgt]
sequence = udp:7300 udp:7301
open = tcp:2200
target = $GW_LAN

[knock ifc]
sequence = udp:7400 tcp:7401
open = tcp:2201
interface = lan0
INI
)
check gw_check_prints_target_and_interface sh -c \
    "'$NFQT' -C '$cfg' | grep -q 'target  *$GW_LAN' && '$NFQT' -C '$cfg' | grep -q 'interface  *lan0'"
serve_on gw 0.0.0.0 2200
serve_on gw 0.0.0.0 2201
sleep 0.3
start_engine "$cfg" -v || exit 1

# target: the gateway's other LAN address is not it.
knock_from_client "$CLIENT" "$GW_LAN2" udp:7300 udp:7301
expect_eq gw_target_other_address_opens_nothing closed "$(from_client "$GW_LAN" 2200)"
expect_eq gw_target_other_address_set_empty 0 "$(set_count tgt_allow4)"
knock_from_client "$CLIENT" "$GW_LAN" udp:7300 udp:7301
expect_eq gw_target_address_opens open "$(from_client "$GW_LAN" 2200)"
expect_eq gw_target_opens_the_service_on_every_address open "$(from_client "$GW_LAN2" 2200)"

# interface: the same knock from the server's side (wan0) opens nothing.
knock_from_server "$GW_WAN" udp:7400 tcp:7401
expect_eq gw_interface_other_side_opens_nothing closed "$(srv $TCP probe "$GW_WAN" 2201)"
expect_eq gw_interface_other_side_set_empty 0 "$(set_count ifc_allow4)"
knock_from_client "$CLIENT" "$GW_LAN" udp:7400 tcp:7401
expect_eq gw_interface_lan_side_opens open "$(from_client "$GW_LAN" 2201)"
expect_eq gw_interface_knock_for_the_knocker_only closed "$(srv $TCP probe "$GW_WAN" 2201)"
line=$(engine_counters 'knock ifc: ')
check gw_interface_counts_frames_not_addressed sh -c "echo '$line' | grep -q 'knock ifc: 2 frames, 2 not addressed to it'"
