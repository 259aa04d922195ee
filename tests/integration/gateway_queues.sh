# Several queues shard by the source address alone (Decision 19): with
# queue = 0-3, 300 sources each send a mixed udp/tcp knock back to back,
# with no pause between sources or frames; every one of them opens. (With
# xtables' --queue-balance, which hashes the protocol too, one source's
# udp and tcp frames land on different queues and are read out of order:
# 148 of 300 failed.)
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/gateway.inc"
gw_net
RAW="python3 $top/tests/tools/rawpkt.py"
N=300

cfg=$(write_config queues.ini <<INI
[engine]
queue = 0-3
queue_maxlen = 8192

[knock ssh]
sequence = udp:7000 tcp:8000 udp:7001 tcp:8001
window = 30s
open = tcp:22
allow_timeout = 5m
INI
)
start_engine "$cfg" || exit 1
T="inet nfq_trigger"
if grep -q 'xtables NFQUEUE target' "$work/engine.log"; then
	# 4 ports x 2 families x 4 queues, each rule one queue.
	expect_eq gw_queues_one_compat_rule_per_queue 32 "$(nft list chain $T divert 2>/dev/null | grep -c 'queue num [0-3] ')"
	check gw_queues_compat_hash_source_only sh -c "nft list chain $T divert 2>/dev/null | grep -q 'tcp dport 8000 jhash ip saddr mod 4 seed 0x6e667174 3 counter packets 0 bytes 0 queue num 3'"
else
	check gw_queues_native_hash_source_only sh -c "nft list chain $T divert | grep -q 'tcp dport 8000 .*to jhash ip saddr mod 4'"
fi

t0=$(date +%s%N)
cli $RAW burst "$GW_LAN" $N udp:7000 tcp:8000 udp:7001 tcp:8001
sent=$(( ($(date +%s%N) - t0) / 1000000 ))
for _ in $(seq 50); do
	[ "$(set_count ssh_allow4)" -ge $N ] && break
	sleep 0.1
done
opened=$(set_count ssh_allow4)
echo "queue = 0-3: $N sources x 4 mixed udp/tcp frames sent in ${sent} ms, $opened opened"
expect_eq gw_queues_every_back_to_back_knock_opens $N "$opened"

# Each queue did its share: the hash spread the sources.
kill -USR1 "$engine_pid"
engine_log_wait 'queue 3: [0-9]* packets' 3
for q in 0 1 2 3; do
	n=$(sed -n "s/.*queue $q: \([0-9]*\) packets.*/\1/p" "$work/engine.log" | tail -1)
	echo "queue $q: ${n:-0} packets"
	check gw_queue_${q}_took_a_share test "${n:-0}" -ge $((N * 4 / 10))
done
line=$(grep 'knock ssh: ' "$work/engine.log" | tail -1)
check gw_queues_no_wrong_order_frames sh -c "echo '$line' | grep -q ' 0 resets'"
