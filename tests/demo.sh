#!/bin/sh
# A narrated tour of nfq-trigger in a throwaway network namespace: nothing
# of the host's firewall, interfaces or /run is touched, and the namespace
# is gone when the demo ends.   usage: tests/demo.sh ENGINE CONFIG
set -u
engine=$(realpath "${1:-build/nfq-trigger}")
config=$(realpath "${2:-nfq-trigger.ini}")
client=$(dirname "$engine")/nfq-knock
top=$(cd "$(dirname "$0")/.." && pwd)
TCP="python3 $top/tests/tools/tcp.py"

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root for a network namespace (try: sudo make demo)" >&2
	exit 1
fi
if [ -z "${NFQT_IN_NETNS:-}" ]; then
	NFQT_IN_NETNS=1 exec unshare -n -m --propagation private sh "$0" "$engine" "$config"
fi
# A /run of its own too: the engine's control socket stays in the demo.
mount -t tmpfs -o mode=0755 nfqt-run /run || exit 1

if [ -t 1 ]; then bold=$(printf '\033[1m'); dim=$(printf '\033[2m'); off=$(printf '\033[0m')
else bold= dim= off=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@"; }
work=$(mktemp -d /tmp/nfqt-demo.XXXXXX)
engine_pid= server=
. "$top/tests/user.inc"
cleanup() {
	[ -n "$engine_pid" ] && kill "$engine_pid" 2>/dev/null
	[ -n "$server" ] && kill "$server" 2>/dev/null
	wait 2>/dev/null; rm -rf "$work"
	engine_user_cleanup
}
trap cleanup EXIT
# The engine drops root for the system user nfq-trigger; make install
# creates it, and the demo does for its own run when it is missing.
if ! id nfq-trigger >/dev/null 2>&1; then
	engine_user_ensure || { echo "demo: cannot create the system user nfq-trigger" >&2; exit 1; }
	echo "demo: created the system user nfq-trigger for this run (removed at the end)"
fi
ip link set lo up
ip addr add 127.0.0.2/8 dev lo

say "1. Check the configuration: nfq-trigger -C prints what it understood"
run "$engine" -C "$config" | tee "$work/check" || exit 1
knock=$(grep -m1 '^knock ' "$work/check")
if [ -z "$knock" ]; then
	echo "demo: $config has no [knock] trigger to show"; exit 1
fi
name=$(echo "$knock" | sed 's/^knock \([^:]*\):.*/\1/')
frames=$(echo "$knock" | sed 's/^knock [^:]*: \(.*\) within .*/\1/; s/ -> / /g')
open=$(echo "$knock" | sed 's/.* opens \([a-z]*:[0-9]*\).*/\1/')
port=${open#*:}

say "2. Start the engine in a throwaway network namespace (-vv: a line per packet)"
cp "$config" "$work/nfq-trigger.ini"; chmod 600 "$work/nfq-trigger.ini"
"$engine" -vv -c "$work/nfq-trigger.ini" >"$work/engine.log" 2>&1 &
engine_pid=$!
for _ in $(seq 50); do grep -q 'running$' "$work/engine.log" && break; sleep 0.1; done
sed 's/^/    /' "$work/engine.log"
echo "It built its own nftables table through libnftnl (no nft binary ran):"
run nft list table inet nfq_trigger 2>/dev/null

say "3. A service on port $port: closed to everyone who has not knocked"
$TCP serve 127.0.0.1 "$port" 120 & server=$!
sleep 0.3
echo "connect to 127.0.0.1:$port -> $($TCP probe 127.0.0.1 "$port")"

say "4. Knock with the shipped client: $frames"
run "$client" -v -c "$work/nfq-trigger.ini" -t "$name" 127.0.0.1
sleep 0.3
grep -E 'knock frame|completed' "$work/engine.log" | sed 's/^/    /'
echo "connect to 127.0.0.1:$port -> $($TCP probe 127.0.0.1 "$port")"
echo "from 127.0.0.2, which did not knock -> $($TCP probe 127.0.0.1 "$port" 127.0.0.2)"
run nft list set inet nfq_trigger "${name}_allow4"

say "5. Stop the engine: its table stays, so the door does not open for anyone"
kill -TERM "$engine_pid"; wait "$engine_pid"; engine_pid=
grep -E 'packets|opened|batches' "$work/engine.log" | sed 's/^/    /'
echo "the knocker, 127.0.0.1 -> $($TCP probe 127.0.0.1 "$port")"
echo "127.0.0.2 -> $($TCP probe 127.0.0.1 "$port" 127.0.0.2)"
echo "The allow entry expires by itself; 'nfq-trigger remove-table' deletes the table."

say "Done: the namespace, its table and its rules are gone with this process."
