#!/bin/sh
# A narrated tour of nfq-trigger in a throwaway network namespace: nothing
# of the host's firewall or interfaces is touched, and the namespace is gone
# when the demo ends.   usage: tests/demo.sh ENGINE CONFIG
set -u
engine=$(realpath "${1:-build/nfq-trigger}")
config=$(realpath "${2:-nfq-trigger.ini}")
top=$(cd "$(dirname "$0")/.." && pwd)
UDP="python3 $top/tests/tools/udp.py"

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root for a network namespace (try: sudo make demo)" >&2
	exit 1
fi
if [ -z "${NFQT_IN_NETNS:-}" ]; then
	NFQT_IN_NETNS=1 exec unshare -n sh "$0" "$engine" "$config"
fi

if [ -t 1 ]; then bold=$(printf '\033[1m'); dim=$(printf '\033[2m'); off=$(printf '\033[0m')
else bold= dim= off=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }
work=$(mktemp -d /tmp/nfqt-demo.XXXXXX)
engine_pid=
cleanup() { [ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
ip link set lo up

# The queue the shipped config binds, so the demo follows the file.
queue=$(sed -n 's/^[[:space:]]*queue[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$config" | head -1)
queue=${queue:-0}

say "1. Check the configuration ($config)"
run "$engine" -C "$config" || exit 1

say "2. A throwaway network namespace with one NFQUEUE rule: UDP to port 9000 goes to queue $queue"
echo "This kernel may lack nft's native queue expression; the xtables compat"
echo "target works everywhere, with --queue-bypass so a dead engine never blocks."
run iptables-nft -A INPUT -p udp --dport 9000 -j NFQUEUE --queue-num "$queue" --queue-bypass
run nft list chain ip filter INPUT

say "3. Start the engine (foreground, -vv: one log line per packet)"
cp "$config" "$work/nfq-trigger.ini"; chmod 600 "$work/nfq-trigger.ini"
"$engine" -vv -c "$work/nfq-trigger.ini" >"$work/engine.log" 2>&1 &
engine_pid=$!
for _ in $(seq 50); do grep -q 'running$' "$work/engine.log" && break; sleep 0.1; done
sed 's/^/    /' "$work/engine.log"

say "4. Send 5 datagrams to 127.0.0.1:9000: each is queued, parsed and accepted"
echo "the receiver got $($UDP roundtrip 127.0.0.1 9000 5) of 5"
grep 'queue .*: udp' "$work/engine.log" | sed 's/^/    /'

say "5. Stop the engine (SIGTERM): it reports what it verdicted"
kill -TERM "$engine_pid"; wait "$engine_pid"; engine_pid=
grep -E 'packets|stopping' "$work/engine.log" | sed 's/^/    /'

say "6. With no engine listening, --queue-bypass lets traffic through (fail-open)"
echo "the receiver got $($UDP roundtrip 127.0.0.1 9000 5) of 5"

say "Done: the namespace and its rules are gone with this process."
