# Count triggers with a threshold counted by the engine (path = engine):
# the packets come through the queue and are counted per source in a
# bounded tracker. A source over 5 per 10 s is dropped by the engine and put
# into the block set (one nftables batch per loop pass), exec runs with its
# address, the kernel drops it from then on; other and allow-listed sources
# pass. Under a flood of spoofed sources the tracker stays within
# max_sources and a source that sends more than once is still blocked
# (docs/design.md, decision 8).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/count_net.inc"
count_net

recording_hook

cfg=$(write_config count.ini <<INI
[engine]
queue = 0
max_sources = 1024

[count flood]
match = udp dport 7777
threshold = 5/10s
block_timeout = 30s
path = engine
allow = 192.168.72.0/24
exec = $work/hook.sh %EVENT% %NAME% %IP%
INI
)
start_engine "$cfg" || exit 1

sent 10.72.0.2 8
expect_eq count_engine_first_5_pass 5 "$(got 10.72.0.2)"
expect_eq count_engine_source_in_block_set 10.72.0.2 "$(blocked flood_block4)"
expect_eq count_engine_blocked_source_tcp_dropped closed "$(tcp_probe 10.72.0.1 2222 10.72.0.2)"
engine_log_wait 'count flood: 10.72.0.2 sent over 5 packets per 10s: blocked for 30s' 3
check count_engine_logs_block grep -q 'count flood: 10.72.0.2 sent over 5 packets per 10s: blocked for 30s' "$work/engine.log"
expect_eq count_engine_exec_with_source "count flood 10.72.0.2" "$(cat "$work/hook.log" 2>/dev/null)"

sent 10.72.0.3 5
expect_eq count_engine_other_source_passes 5 "$(got 10.72.0.3)"
sent 192.168.72.2 40
expect_eq count_engine_allow_listed_never_blocked 40 "$(got 192.168.72.2)"
expect_eq count_engine_allow_listed_not_in_set 10.72.0.2 "$(blocked flood_block4)"

flood() {	# flood SECONDS: spoofed sources, one datagram each
	timeout "$1" hping3 -q -2 -p 7777 --rand-source --flood 10.72.0.1 >/dev/null 2>&1
}
flood 3
rss_first=$(engine_rss)
line=$(engine_counters 'count flood: .* tracked')
tracked=$(counter_of "$line" tracked)
evicted=$(counter_of "$line" evicted)
check count_engine_flood_tracked_within_max_sources [ "${tracked:-99999}" -le 1024 ]
check count_engine_flood_evicted_spoofed_sources [ "${evicted:-0}" -gt 5000 ]

# During a flood, a source that keeps sending is promoted and blocked.
flood 5 &
flooder=$!
sleep 1
for _ in 1 2 3 4; do sent 10.72.0.4 3; done
wait "$flooder"
rss_second=$(engine_rss)
echo "engine RSS after a 3 s flood: ${rss_first} kB; after 5 s more: ${rss_second} kB ($line)"
expect_eq count_engine_blocked_during_flood yes \
    "$(blocked flood_block4 | grep -qw 10.72.0.4 && echo yes || echo no)"
check count_engine_flood_memory_does_not_grow [ $((rss_second - rss_first)) -lt 1024 ]
stop_engine
