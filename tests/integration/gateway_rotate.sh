# Rotation on a gateway survives what administrators do with rulesets:
# `nft list ruleset > f; nft -f f` (issue 15). The LAN's connections leave
# wan0 with a source from a listed pool (a map, printed by nft as
# `typeof numgen inc mod 4 : ip saddr`, which nft reads back faithfully) or
# a random address of a /48 (built from numgen words in registers, which
# nft cannot print: it lists `snat ip6 to <prefix>`). For the prefix the
# engine notices the changed rules (the nftables monitor) and rebuilds its
# table, and a start-up reconciles it: the repair is what is tested here.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/gateway.inc"
gw_net
PEER="python3 $top/tests/tools/rotate_peer.py"
for a in 10 11 12 13; do ip addr add "10.72.2.$a/24" dev wan0; done
srv ip -6 route add fd72:9::/48 via fd72:2::1 dev eth0
srv $PEER serve tcp "$SERVER" 8000 120 "$work/tcp4" &
servers="$servers $!"
srv $PEER serve tcp fd72:2::2 8000 120 "$work/tcp6" &
servers="$servers $!"
sleep 0.5

cfg=$(write_config rotate.ini <<'INI'
[engine]
queue = 0

[rotate lan]
match = oif wan0 ip saddr 10.72.1.0/24 tcp dport 8000
pool = 10.72.2.10 10.72.2.11 10.72.2.12 10.72.2.13

[rotate lan6]
match = oif wan0 ip6 saddr fd72:1::/64 tcp dport 8000
pool = fd72:9::/48
policy = random
INI
)
T="inet nfq_trigger"
# distinct4, distinct6: addresses that 8 IPv4 / 30 IPv6 new connections got.
distinct() {
	: >"$work/$1"
	cli $PEER open tcp "$2" 8000 "$3" 1
	sleep 0.3
	$PEER check "$work/$1" | sed -n 's/.* addresses \([0-9]*\) .*/\1/p'
}
distinct4() { distinct tcp4 "$SERVER" 8; }
distinct6() { distinct tcp6 fd72:2::2 30; }
rotate_rules() { nft list chain $T rotate 2>/dev/null | grep -c 'comment "nfq-trigger'; }

start_engine "$cfg" || exit 1
expect_eq gw_rotate_listed_pool_round_robin 4 "$(distinct4)"
n=$(distinct6)
echo "before any restore: $n of 30 IPv6 connections on distinct addresses"
check gw_rotate_prefix_random_per_connection test "${n:-0}" -ge 25
rules=$(rotate_rules)
nft list ruleset >"$work/saved.nft" 2>/dev/null
check gw_rotate_pool_listed_as_typeof grep -q 'typeof numgen inc mod 4 : ip saddr' "$work/saved.nft"

# 1. Restored onto the live table: its rules are added again; the engine
# sees another process change its table and rebuilds it.
check gw_rotate_restore_onto_live_table_loads nft -f "$work/saved.nft"
check gw_rotate_engine_notices_the_changed_rules engine_log_wait 'changed by another process: rebuilding' 3
sleep 0.5
expect_eq gw_rotate_rebuilt_without_duplicates "$rules" "$(rotate_rules)"
n=$(distinct6)
echo "after nft -f onto the live table: $n of 30 distinct"
check gw_rotate_prefix_random_after_restore test "${n:-0}" -ge 25
expect_eq gw_rotate_listed_pool_after_restore 4 "$(distinct4)"

# 2. Flushed and restored with the engine running: rebuilt too.
nft flush ruleset
check gw_rotate_flush_and_restore_loads nft -f "$work/saved.nft"
sleep 1
n=$(distinct6)
echo "after flush ruleset; nft -f: $n of 30 distinct"
check gw_rotate_prefix_random_after_flush_restore test "${n:-0}" -ge 25

# 3. Restored while the engine is stopped: the listed pool is faithful;
# the prefix rule is what nft printed (one address) until the engine's
# start-up reconciles the table.
stop_engine
nft flush ruleset
check gw_rotate_restore_without_engine_loads nft -f "$work/saved.nft"
expect_eq gw_rotate_listed_pool_restored_faithfully 4 "$(distinct4)"
n=$(distinct6)
echo "restored with the engine stopped: $n of 30 distinct (nft's listing of the prefix rule)"
check gw_rotate_prefix_as_nft_prints_it_is_one_address test "${n:-0}" -le 1
start_engine "$cfg" || exit 1
n=$(distinct6)
echo "after the engine started again: $n of 30 distinct"
check gw_rotate_startup_repairs_prefix_rule test "${n:-0}" -ge 25
