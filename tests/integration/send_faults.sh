# Send failures injected into the running engine (strace attached to it,
# inject=...:error=ENOMEM): no verdict and no allow element is lost. A
# failed verdict send is kept and sent again; a failed element batch is
# retried with back-off, and counted and logged lost only after its last
# try (docs/robustness.md).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

if ! command -v strace >/dev/null 2>&1; then
	not_ok "send_faults_strace_installed"
	exit 1
fi

cfg=$(write_config faults.ini <<INI
[engine]
queue = 0
fail_open = no
control = $work/control.sock
# a spoofed burst of 10000 packets waits in the kernel, none dropped
queue_maxlen = 65536

[knock short]
sequence = udp:7300 udp:7301
open = tcp:2226
allow_timeout = 60s

[knock late]
sequence = udp:7400 udp:7401
open = tcp:2227
allow_timeout = 60s

[knock many]
sequence = udp:7500 udp:7501
open = tcp:2228
allow_timeout = 60s
INI
)
# strace injects a failure by running another system call in place of the
# real one: by default -1, which the engine's seccomp filter would kill it
# for; getpid (syscall=getpid), which the filter allows, keeps the engine
# under its real, killing filter here too.
udp_frame() { timeout 0.3 hping3 -q -2 -c 1 -p "$2" "$1" >/dev/null 2>&1; true; }

# inject SYSCALL WHEN [ERRNO]: fail SYSCALL's calls WHEN (strace's
# first..last) with ERRNO (ENOMEM) until the test calls uninject.
inject() {
	strace -qq -f -p "$engine_pid" -o "$work/strace.$1" -e trace="$1" \
	    -e inject="$1":error="${3:-ENOMEM}":syscall=getpid:when="$2" &
	tracer=$!
	# Attached when the engine shows a tracer.
	for _ in $(seq 50); do
		[ "$(awk '/^TracerPid/ { print $2 }' "/proc/$engine_pid/status")" != 0 ] && break
		sleep 0.1
	done
}
uninject() {
	kill "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	tracer=
}
injected() { grep -c INJECTED "$work/strace.$1"; }

iptables-nft -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0
tcp_server 127.0.0.1 2226
tcp_server 127.0.0.1 2227
start_engine "$cfg" || exit 1

# Verdicts: the first 8 sends fail. fail_open = no and no bypass: a lost
# verdict would leave its packet queued and the datagram unanswered.
inject sendto 1..8
expect_eq verdict_send_failures_lose_no_packet 20 "$(udp_roundtrip 127.0.0.1 9999 20)"
uninject
check verdict_send_failures_were_injected [ "$(injected sendto)" -ge 8 ]
check verdict_send_failure_logged grep -q 'queue 0: sending verdicts (kept, sent again)' "$work/engine.log"
check verdict_send_recovery_logged grep -q 'queue 0: verdicts sent again after' "$work/engine.log"
waiting=$(awk '$1 == 0 { print $3 }' /proc/net/netfilter/nfnetlink_queue)
expect_eq verdict_send_failures_leave_nothing_queued 0 "$waiting"
line=$(engine_counters 'queue 0: ')
check verdict_send_failures_every_packet_verdicted sh -c "echo '$line' | grep -q ' 20 packets, 20 accepted,'"
check verdict_send_failures_counted sh -c "echo '$line' | grep -Eq ' [1-9][0-9]* failed verdict sends'"
ctl() { "$NFQT" -c "$cfg" "$@"; }
sends=$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["queues"][0]["verdict_send_failures"])')
check verdict_send_failures_in_status [ "${sends:-0}" -ge 8 ]
check verdict_send_failures_in_metrics sh -c \
    "'$NFQT' -c '$cfg' metrics | grep -Eqx 'nfq_trigger_queue_verdict_send_failures_total\{queue=\"0\"\} $sends'"

# ENOBUFS on receive (injected: the datagrams stay in the socket): counted
# as overruns, and every packet still gets its verdict.
inject recvmsg 1..3 ENOBUFS
expect_eq enobufs_lose_no_packet 10 "$(udp_roundtrip 127.0.0.1 9999 10)"
uninject
check enobufs_were_injected [ "$(injected recvmsg)" = 3 ]
line=$(engine_counters 'queue 0: ')
check enobufs_counted_as_overruns sh -c "echo '$line' | grep -Eq ' [1-9][0-9]* overruns'"
check enobufs_every_packet_verdicted sh -c "echo '$line' | grep -q ' 30 packets, 30 accepted,'"

# Allow elements: the first 3 batches fail; the back-off retries succeed.
inject sendmsg 1..3
udp_frame 127.0.0.1 7300
udp_frame 127.0.0.1 7301
check element_send_failure_retried engine_log_wait 'element.* kept, sent again in 100 ms (try 2 of 7)' 3
check element_sent_after_retries engine_log_wait 'nft: elements sent after 3 failed tries' 5
uninject
check element_send_failures_were_injected [ "$(injected sendmsg)" = 3 ]
expect_eq element_send_failures_knock_still_allowed 127.0.0.1 "$(allow_members short_allow4)"
expect_eq element_send_failures_knock_still_opens open "$(tcp_probe 127.0.0.1 2226)"

# Every try fails: after the last (about 6 s) the add is logged and counted lost.
inject sendmsg 1..100
udp_frame 127.0.0.1 7400
udp_frame 127.0.0.1 7401
check element_lost_only_after_last_try engine_log_wait \
    'nft: lost: add 127.0.0.1 to set inet nfq_trigger late_allow4 (not sent after 7 tries)' 12
uninject
check element_retries_logged_before_loss grep -q 'try 7 of 7' "$work/engine.log"
line=$(engine_counters 'nftables: ')
check element_lost_counted sh -c "echo '$line' | grep -q ' 1 lost,'"
check element_lost_in_status sh -c "'$NFQT' -c '$cfg' status | grep -q '^nftables: .* 1 lost,'"
check element_lost_in_metrics sh -c "'$NFQT' -c '$cfg' metrics | grep -qx 'nfq_trigger_nft_elements_lost_total 1'"
check element_retries_in_metrics sh -c \
    "'$NFQT' -c '$cfg' metrics | grep -Eqx 'nfq_trigger_nft_flush_retries_total [1-9][0-9]*'"
expect_eq element_lost_not_in_set "" "$(allow_members late_allow4)"
# The engine goes on: the next knock of that trigger opens.
udp_frame 127.0.0.1 7400
udp_frame 127.0.0.1 7401
sleep 0.3
expect_eq element_after_loss_next_knock_allowed 127.0.0.1 "$(allow_members late_allow4)"

# More element changes wait than one batch takes (4096) while the kernel
# refuses them: the queue is not read until they are sent (the kernel
# holds the packets), then every source's element is in the set and no
# packet was dropped (queue_check at stop_engine).
inject sendmsg 1..5
python3 "$top/tests/tools/spoof_knock.py" 127.0.0.1 5000 7500 7501 >/dev/null
check pending_full_pauses_sources engine_log_wait \
    'nftables: [0-9]* element changes wait; packet sources paused until they are sent' 10
check pending_sent_sources_read_again engine_log_wait 'nftables: packet sources read again' 10
uninject
sleep 1
expect_eq pending_full_every_element_in_set 5000 "$(allow_members many_allow4 | wc -w)"
grep -E 'paused|read again|elements sent after' "$work/engine.log" | sed 's/^/    /'
stop_engine
expect_eq send_faults_engine_exits_zero 0 "$engine_status"
