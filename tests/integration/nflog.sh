# NFLOG: the engine binds a log group and sees every logged packet; the
# packets themselves are not held (passive).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

cfg=$(write_config engine.ini <<'INI'
[engine]
queue = 4
nflog_group = 7
INI
)
nft -f - <<'NFT'
table inet nfqt_test {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 9997 log group 7
	}
}
NFT
iptables-nft -A INPUT -p udp --dport 9996 -j NFQUEUE --queue-num 4 --queue-bypass

start_engine "$cfg" -v || exit 1
expect_eq nflog_datagrams_delivered 15 "$(udp_roundtrip 127.0.0.1 9997 15)"
# NFLOG delivers in batches: ask for the counters until the last batch is in.
nflog_counted() {
	for _ in 1 2 3 4 5; do
		kill -USR1 "$engine_pid"
		engine_log_wait 'nflog group 7: 15 packets' 1 && return 0
	done
	return 1
}
check nflog_engine_counts_packets nflog_counted
check nflog_engine_parses_packets grep -q 'nflog group 7: udp 127.0.0.1:[0-9]* -> 127.0.0.1:9997' "$work/engine.log"
expect_eq nflog_and_queue_together 5 "$(udp_roundtrip 127.0.0.1 9996 5)"
kill -USR1 "$engine_pid"
check nflog_and_queue_counted_apart engine_log_wait 'queue 4: 5 packets, 5 accepted'
stop_engine
