# Packets through the table src/kernel/nft*.c builds: the guard drops new
# connections from non-members and keeps established ones after the member
# expires (docs/design.md, decision 1), with no engine running (the table
# outlives it); the divert rule queues knock frames, IPv4 and IPv6, with
# bypass honoured.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

need_nft_ctl
T="inet nfq_trigger"

cat >"$work/tcp.py" <<'PY'
import socket, sys, threading, time
def fam(a): return socket.AF_INET6 if ":" in a else socket.AF_INET
def echo(c):
    while True:
        d = c.recv(100)
        if not d: break
        c.sendall(d)
cmd, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if cmd == "serve":
    s = socket.socket(fam(addr)); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16); print("ready", flush=True)
    while True:
        c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
s = socket.socket(fam(addr)); s.settimeout(1.0)
try:
    s.connect((addr, port))
except socket.timeout:
    print("timeout"); sys.exit(0)
except OSError as e:
    print("error", e.errno); sys.exit(0)
print("connected", flush=True)
if cmd == "hold":
    time.sleep(float(sys.argv[4])); s.sendall(b"ping")
    print("echo", s.recv(100).decode())
PY
TCP="python3 $work/tcp.py"
serve() {
	$TCP serve "$1" "$2" >"$work/serve.$2.$3" 2>&1 &
	servers="${servers:-} $!"
	for _ in $(seq 50); do grep -q ready "$work/serve.$2.$3" && return; sleep 0.05; done
}
trap 'kill $servers 2>/dev/null; stop_engine; rm -rf "$work"' EXIT

cfg=$(write_config guard.ini <<'INI'
[engine]
queue = 0
[knock ssh]
sequence = udp:7000 tcp:8000:s
open = tcp:2222
INI
)
serve 127.0.0.1 2222 v4
serve ::1 2222 v6
serve 127.0.0.1 2223 v4

# The tool exits after each command line: the table is kept and guards.
"$CTL" "$cfg" sync >/dev/null 2>&1
expect_eq nft_guard_drops_non_member_ipv4 timeout "$($TCP connect 127.0.0.1 2222)"
expect_eq nft_guard_drops_non_member_ipv6 timeout "$($TCP connect ::1 2222)"
expect_eq nft_guard_leaves_other_ports connected "$($TCP connect 127.0.0.1 2223)"
check nft_guard_counts_drops sh -c "nft list chain $T guard_in 2>/dev/null | grep 'ip saddr' | grep -q 'counter packets [1-9]'"

"$CTL" "$cfg" sync add ssh 127.0.0.1 4000 add ssh ::1 600000 flush >/dev/null 2>&1
expect_eq nft_guard_admits_member_ipv4 connected "$($TCP connect 127.0.0.1 2222)"
expect_eq nft_guard_admits_member_ipv6 connected "$($TCP connect ::1 2222)"
$TCP hold 127.0.0.1 2222 5 >"$work/hold" 2>&1 &
holder=$!
sleep 4.5
expect_eq nft_guard_closes_when_member_expires timeout "$($TCP connect 127.0.0.1 2222)"
wait $holder
expect_eq nft_guard_keeps_connection_opened_by_member "connected
echo ping" "$(cat "$work/hold")"

# Divert: knock frames reach the queue; the rule's bypass lets them through
# when nothing listens.
listen() {	# listen QUEUE MS OUT
	"$CTL" "$cfg" listen "$1" "$2" >"$3" 2>&1 &
	listener=$!
	for _ in $(seq 50); do grep -q '^listening' "$3" && return; sleep 0.05; done
}
listen 0 2500 "$work/q0"
$TCP connect 127.0.0.1 8000 >"$work/syn"
$UDP send 127.0.0.1 7000 3
$UDP send ::1 7000 2
$UDP send 127.0.0.1 7005 2
wait $listener
expect_eq nft_divert_queues_ipv4_knock_frames 3 "$(grep -c '^port ipv4 7000' "$work/q0")"
expect_eq nft_divert_queues_ipv6_knock_frames 2 "$(grep -c '^port ipv6 7000' "$work/q0")"
if grep -q '^port ipv4 8000' "$work/q0"; then ok nft_divert_queues_tcp_knock_frames
else not_ok "nft_divert_queues_tcp_knock_frames ($(cat "$work/syn"); queued: $(tr '\n' ' ' <"$work/q0"))"; fi
expect_eq nft_divert_leaves_other_ports 0 "$(grep -c '^port ipv4 7005' "$work/q0")"
expect_eq nft_divert_bypass_without_listener_delivers 5 "$(udp_roundtrip 127.0.0.1 7000 5)"
expect_eq nft_divert_bypass_without_listener_delivers_ipv6 5 "$(udp_roundtrip ::1 7000 5)"

nobypass=$(write_config nobypass.ini <<'INI'
[engine]
queue = 0
queue_bypass = no
[knock ssh]
sequence = udp:7000
open = tcp:2222
INI
)
"$CTL" "$nobypass" sync >/dev/null 2>&1
expect_eq nft_divert_without_bypass_drops_when_no_listener 0 "$(udp_roundtrip 127.0.0.1 7000 5)"

range=$(write_config range.ini <<'INI'
[engine]
queue = 2-3
[knock ssh]
sequence = udp:7000
open = tcp:2222
INI
)
"$CTL" "$range" sync >/dev/null 2>&1
cfg=$range
listen 2 1500 "$work/q2"
listen 3 1500 "$work/q3"
$UDP send 127.0.0.1 7000 4
sleep 1.6
expect_eq nft_divert_queue_range_delivers_to_the_range 4 \
    "$(( $(grep -c '^port ipv4 7000' "$work/q2") + $(grep -c '^port ipv4 7000' "$work/q3") ))"
