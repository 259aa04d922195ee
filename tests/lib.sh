# Shared by the integration tests (sourced). Each test runs in a network
# namespace of its own: netns_enter re-executes the script under unshare -n,
# so nothing here ever touches the host's firewall or interfaces (nor its
# /run: the test's mounts are its own too).
#
# A test prints "ok NAME" or "not ok NAME" per case; tests/run counts them.

top=${top:-$(cd "$(dirname "$0")/../.." && pwd)}
O=${O:-build}
NFQT=${NFQT:-$top/$O/nfq-trigger}
UDP="python3 $top/tests/tools/udp.py"

netns_enter() {
	if [ -z "${NFQT_IN_NETNS:-}" ]; then
		NFQT_IN_NETNS=1 exec unshare -n -m --propagation private sh "$0" "$@"
	fi
	# A /run of its own, so that the engine's default control socket and
	# pidfile, and the namespaces ip netns mounts, never reach the host's.
	mount -t tmpfs -o mode=0755 nfqt-run /run || exit 1
	ip link set lo up
	work=$(mktemp -d /tmp/nfqt-test.XXXXXX)
	engine_user_ensure
	trap 'kill ${servers:-} 2>/dev/null; stop_engine; rm -rf "$work"; engine_user_cleanup' EXIT
	# A test killed by timeout or a closed pipe still stops its engine.
	trap 'exit 1' INT TERM HUP PIPE
}

. "$top/tests/user.inc"

ok() { echo "ok $*"; }
not_ok() { echo "not ok $*"; }

# check NAME COMMAND...: ok when the command succeeds.
check() {
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# expect_eq NAME WANT GOT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (want '$2', got '$3')"; fi
}

# write_config NAME <<EOF ... : a config file in the test's directory.
write_config() {
	cat >"$work/$1"
	chmod 600 "$work/$1"
	echo "$work/$1"
}

# start_engine CONFIG [ARGS...]: run the engine in the background, wait until
# it says it is running (5 s at most). Its log is $work/engine.log.
start_engine() {
	# Emptied here, not only by the background child's redirection: that
	# runs after the fork, and a check before it would read the previous
	# engine's "running".
	: >"$work/engine.log"
	"$NFQT" -c "$@" >"$work/engine.log" 2>&1 &
	engine_pid=$!
	for _ in $(seq 50); do
		grep -q 'running$' "$work/engine.log" 2>/dev/null && return 0
		kill -0 "$engine_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "engine did not start:"; cat "$work/engine.log"
	return 1
}

# queue_check: run as the engine stops. Every packet the kernel queued to
# it must have had its verdict (none held past a second), and none dropped
# for a full queue or socket, unless the test caused that on purpose and
# says so: queue_drops_expected=1 (drops), queue_held_expected=1 (packets
# still held when it stops the engine). Fails the case with "not ok".
queue_check() {
	qfile=/proc/net/netfilter/nfnetlink_queue
	[ -r "$qfile" ] || return 0
	held=0
	for _ in $(seq 10); do
		held=$(awk '{ s += $3 } END { print s + 0 }' "$qfile")
		[ "$held" = 0 ] && break
		sleep 0.1
	done
	drops=$(awk '{ s += $6 + $7 } END { print s + 0 }' "$qfile")
	if [ "$held" != 0 ] && [ -z "${queue_held_expected:-}" ]; then
		not_ok "queue_no_packet_left_held_at_engine_stop ($held held: $(tr -s ' ' <"$qfile" | tr '\n' ';'))"
	fi
	if [ "$drops" != 0 ] && [ -z "${queue_drops_expected:-}" ]; then
		not_ok "queue_no_unexpected_drop_at_engine_stop ($drops dropped: $(tr -s ' ' <"$qfile" | tr '\n' ';'))"
	fi
	return 0
}

stop_engine() {
	[ -n "${engine_pid:-}" ] || return 0
	kill -0 "$engine_pid" 2>/dev/null && queue_check
	kill -TERM "$engine_pid" 2>/dev/null
	wait "$engine_pid" 2>/dev/null
	engine_status=$?
	engine_pid=
}

# engine_log_wait PATTERN [SECONDS]: wait until the log has a line matching PATTERN.
engine_log_wait() {
	for _ in $(seq $((${2:-5} * 10))); do
		grep -q -- "$1" "$work/engine.log" && return 0
		sleep 0.1
	done
	return 1
}

# udp_roundtrip ADDR PORT COUNT: how many of COUNT datagrams arrived.
udp_roundtrip() {
	$UDP roundtrip "$1" "$2" "$3"
}

# quiet COMMAND...: run it with its output discarded (for check).
quiet() { "$@" >/dev/null 2>&1; }

TCP="python3 $top/tests/tools/tcp.py"

# tcp_server ADDR PORT: accept connections in the background until the test ends.
tcp_server() {
	$TCP serve "$1" "$2" 120 &
	servers="${servers:-} $!"
	sleep 0.3
}

# tcp_probe ADDR PORT [SRC]: "open" or "closed".
tcp_probe() { $TCP probe "$@"; }

# allow_members SET: the addresses in the engine table's set, one line.
allow_members() {
	nft -j list set inet "${table:-nfq_trigger}" "$1" 2>/dev/null |
	    python3 -c 'import json,sys
d=json.load(sys.stdin)
out=[]
for o in d["nftables"]:
    for e in o.get("set",{}).get("elem",[]):
        out.append(str(e["elem"]["val"]) if isinstance(e,dict) and "elem" in e else str(e))
print(" ".join(out))'
}

# need_nft_ctl: CTL is the nftables test driver (tests/tools/nft_ctl.c).
need_nft_ctl() {
	CTL=${NFT_CTL:-$top/$O/tools/nft_ctl}
	if [ ! -x "$CTL" ]; then
		not_ok "nft_ctl_built (make $O/tools/nft_ctl)"
		exit 1
	fi
}

# recording_hook: $work/hook.sh, a hook that appends its arguments as one
# line to $work/hook.log.
recording_hook() {
	cat >"$work/hook.sh" <<'SH'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/hook.log"
SH
	chmod 700 "$work/hook.sh"
}

# engine_rss: the engine's resident memory in kB.
engine_rss() { awk '/^VmRSS/ { print $2 }' "/proc/$engine_pid/status"; }

# engine_counters PATTERN: ask for counters (SIGUSR1) and print the first
# new log line matching PATTERN (3 s at most).
engine_counters() {
	n=$(grep -c -- "$1" "$work/engine.log")
	kill -USR1 "$engine_pid"
	for _ in $(seq 30); do
		[ "$(grep -c -- "$1" "$work/engine.log")" -gt "$n" ] && break
		sleep 0.1
	done
	grep -- "$1" "$work/engine.log" | tail -1
}

# counter_of LINE WORD: the number just before WORD in a counters line.
counter_of() { echo "$1" | sed -n "s/.* \([0-9]*\) $2.*/\1/p"; }
