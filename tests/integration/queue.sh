# NFQUEUE end to end: verdicts with the engine running, queue bypass and
# fail-closed without it, reload on SIGHUP, clean exit on SIGTERM.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

cfg=$(write_config engine.ini <<'INI'
[engine]
queue = 3
fail_open = yes
INI
)

# This kernel may lack the native nft queue expression: the xtables compat
# target (what iptables-nft generates) works on every kernel we support.
iptables-nft -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 3
iptables-nft -A INPUT -p udp --dport 9998 -j NFQUEUE --queue-num 3 --queue-bypass

start_engine "$cfg" -v || exit 1
expect_eq queue_engine_running_datagrams_delivered 20 "$(udp_roundtrip 127.0.0.1 9999 20)"
kill -USR1 "$engine_pid"
check queue_engine_counts_every_verdict engine_log_wait 'queue 3: 20 packets, 20 accepted, 0 dropped'
check queue_engine_logs_each_packet grep -q 'queue 3: udp 127.0.0.1:[0-9]* -> 127.0.0.1:9999 len 34: accept' "$work/engine.log"

# A config with an error is refused on reload; the engine keeps verdicting.
cp "$cfg" "$work/good.ini"
printf '[engine]\nqueue = 3\nbogus = 1\n' >"$cfg"
kill -HUP "$engine_pid"
check reload_bad_config_is_refused engine_log_wait 'keeping the running configuration'
check reload_bad_config_reports_line grep -q "engine.ini:3: " "$work/engine.log"
expect_eq reload_bad_config_still_verdicts 5 "$(udp_roundtrip 127.0.0.1 9999 5)"
cp "$work/good.ini" "$cfg"
kill -HUP "$engine_pid"
check reload_good_config_is_loaded engine_log_wait 'reload: .* loaded'
expect_eq reload_good_config_still_verdicts 5 "$(udp_roundtrip 127.0.0.1 9999 5)"

stop_engine
expect_eq engine_sigterm_exits_zero 0 "$engine_status"
check engine_sigterm_logs_counters grep -q 'queue 3: 30 packets, 30 accepted' "$work/engine.log"

expect_eq queue_bypass_without_engine_delivers 10 "$(udp_roundtrip 127.0.0.1 9998 10)"
expect_eq queue_without_bypass_or_engine_drops 0 "$(udp_roundtrip 127.0.0.1 9999 10)"

# A killed engine is a dead engine: the bypass rule keeps traffic flowing.
start_engine "$cfg" || exit 1
kill -KILL "$engine_pid"; wait "$engine_pid" 2>/dev/null; engine_pid=
expect_eq queue_bypass_after_engine_killed_delivers 10 "$(udp_roundtrip 127.0.0.1 9998 10)"

# IPv6 through the same queue.
ip6tables-nft -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 3
start_engine "$cfg" -v || exit 1
expect_eq queue_ipv6_datagrams_delivered 10 "$(udp_roundtrip ::1 9999 10)"
check queue_ipv6_packets_parsed grep -q 'queue 3: udp ::1:[0-9]* -> ::1:9999' "$work/engine.log"
stop_engine

# Two engines cannot share a queue: the second says so and exits non-zero.
start_engine "$cfg" || exit 1
"$NFQT" -c "$cfg" >"$work/second.log" 2>&1
second=$?
check queue_busy_second_engine_refused [ "$second" != 0 ]
check queue_busy_second_engine_says_why grep -q 'queue 3: cannot bind: already bound' "$work/second.log"
stop_engine
