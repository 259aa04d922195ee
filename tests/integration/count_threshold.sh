# Count triggers with a threshold, counted by the kernel (the default path):
# a source over 5 datagrams per 10 s lands in the block set with its sixth,
# and the kernel drops all its packets from then on, with no packet of it
# reaching the engine; another source passes; an allow-listed one is never
# blocked; the same for IPv6; exec hears of each block through NFLOG.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/count_net.inc"
count_net

recording_hook

cfg=$(write_config count.ini <<INI
[engine]
queue = 0
nflog_group = 7

[count flood]
match = udp dport 7777
threshold = 5/10s
block_timeout = 30s
allow = 192.168.72.0/24 fd72::1
exec = $work/hook.sh %EVENT% %NAME% %IP%
INI
)
start_engine "$cfg" || exit 1

sent 10.72.0.2 8
expect_eq count_kernel_first_5_pass 5 "$(got 10.72.0.2)"
expect_eq count_kernel_source_in_block_set 10.72.0.2 "$(blocked flood_block4)"
check count_kernel_block_has_timeout sh -c \
    "nft list set inet nfq_trigger flood_block4 | grep -q 'timeout 30s expires'"
expect_eq count_kernel_blocked_source_tcp_dropped closed "$(tcp_probe 10.72.0.1 2222 10.72.0.2)"
sent 10.72.0.2 3
expect_eq count_kernel_blocked_source_stays_dropped 5 "$(got 10.72.0.2)"

sent 10.72.0.3 5
expect_eq count_kernel_other_source_passes 5 "$(got 10.72.0.3)"
expect_eq count_kernel_other_source_tcp_open open "$(tcp_probe 10.72.0.1 2222 10.72.0.3)"

sent 192.168.72.2 40
expect_eq count_kernel_allow_listed_never_blocked 40 "$(got 192.168.72.2)"
expect_eq count_kernel_allow_listed_not_in_set 10.72.0.2 "$(blocked flood_block4)"

sent fd72::2 8 fd72::1
expect_eq count_kernel_ipv6_first_5_pass 5 "$(got fd72::2)"
expect_eq count_kernel_ipv6_in_block_set fd72::2 "$(blocked flood_block6)"
# fd72::1 talking to itself is allow-listed.
sent fd72::1 20 fd72::1
expect_eq count_kernel_ipv6_allow_listed 20 "$(got fd72::1)"

# The engine saw no datagram: it heard of the two blocks, one NFLOG packet each.
engine_log_wait 'count flood: fd72::2 blocked by the kernel' 3
expect_eq count_kernel_exec_per_block "count flood 10.72.0.2
count flood fd72::2" "$(cat "$work/hook.log" 2>/dev/null)"
kill -USR1 "$engine_pid"
engine_log_wait 'queue 0: ' 3
check count_kernel_nothing_queued grep -q 'queue 0: 0 packets' "$work/engine.log"
check count_kernel_engine_heard_two_blocks grep -q 'count flood: 2 packets, 2 hooks, 2 blocks' "$work/engine.log"

# The block set outlives the engine (docs/design.md, decision 1): still
# dropped after it stops.
stop_engine
sent 10.72.0.2 3
expect_eq count_kernel_block_survives_engine_exit 5 "$(got 10.72.0.2)"
