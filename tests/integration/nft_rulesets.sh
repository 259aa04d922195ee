# The hand-written rulesets in nft/ load with `nft -f`, reload without
# losing members, and work with the engine's set filling (manage_rules = no):
# knock-ssh-compat.nft with the iptables-nft divert its comments give, and
# knock-ssh.nft where the kernel has the queue expression.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

need_nft_ctl
T="inet nfq_trigger"
native=$top/nft/knock-ssh.nft
compat=$top/nft/knock-ssh-compat.nft

cat >"$work/connect.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.settimeout(1.0)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e.errno)
PY
python3 -c '
import socket, threading
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 22)); s.listen(16)
    threading.Thread(target=lambda s=s: [s.accept() for _ in iter(int, 1)], daemon=True).start()
print("ready", flush=True)
threading.Event().wait()' >"$work/server" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q ready "$work/server" && break; sleep 0.05; done
connect() { python3 "$work/connect.py" "$@"; }

# The engine config the file's comment gives, as written there.
sed -n 's/^#\t//p' "$compat" "$native" | sed -n '/^\[engine\]/,/^allow_timeout/p' | head -8 >"$work/engine.ini"
chmod 600 "$work/engine.ini"
check nft_ruleset_comment_config_is_valid "$CTL" "$work/engine.ini" probes

check nft_ruleset_compat_loads nft -f "$compat"
"$CTL" "$work/engine.ini" sync >"$work/sync.out" 2>&1
check nft_ruleset_engine_sync_manage_rules_no grep -q '^done sync' "$work/sync.out"
expect_eq nft_ruleset_engine_leaves_its_rules 2 "$(nft list table $T | grep -c 'counter packets 0 bytes 0 drop')"
expect_eq nft_ruleset_compat_guard_drops_non_member timeout "$(connect 127.0.0.1 22)"
expect_eq nft_ruleset_compat_guard_drops_non_member_ipv6 timeout "$(connect ::1 22)"
"$CTL" "$work/engine.ini" sync add ssh 127.0.0.1 600000 add ssh ::1 600000 flush >/dev/null 2>&1
expect_eq nft_ruleset_compat_guard_admits_member connected "$(connect 127.0.0.1 22)"
expect_eq nft_ruleset_compat_guard_admits_member_ipv6 connected "$(connect ::1 22)"
check nft_ruleset_compat_reloads nft -f "$compat"
check nft_ruleset_reload_keeps_members sh -c "nft list set $T ssh_allow4 | grep -q '127.0.0.1 timeout'"
expect_eq nft_ruleset_reload_replaces_rules 2 "$(nft list table $T | grep -c ' drop')"

# The divert its comment gives, run as written.
sed -n 's/^#   \(ip6*tables-nft .*\)/\1/p' "$compat" >"$work/divert.sh"
expect_eq nft_ruleset_compat_divert_recipe_has_six_rules 6 "$(wc -l <"$work/divert.sh")"
check nft_ruleset_compat_divert_recipe_runs sh -e "$work/divert.sh"
"$CTL" "$work/engine.ini" listen 0 1500 >"$work/q" 2>&1 &
listener=$!
for _ in $(seq 50); do grep -q '^listening' "$work/q" && break; sleep 0.05; done
$UDP send 127.0.0.1 7000 2
$UDP send ::1 7000 2
connect 127.0.0.1 9000 >/dev/null
wait $listener
expect_eq nft_ruleset_compat_divert_queues_ipv4 2 "$(grep -c '^port ipv4 7000' "$work/q")"
expect_eq nft_ruleset_compat_divert_queues_ipv6 2 "$(grep -c '^port ipv6 7000' "$work/q")"
check nft_ruleset_compat_divert_queues_tcp grep -q '^port ipv4 9000' "$work/q"

# knock-ssh.nft needs the queue expression; where the kernel lacks it, the
# queue statements must be its only problem.
nft delete table $T
iptables-nft -F INPUT; ip6tables-nft -F INPUT
if "$CTL" "$work/engine.ini" probes | grep -q 'native_queue 1'; then
	check nft_ruleset_native_loads nft -f "$native"
else
	nft -f "$native" >"$work/native.err" 2>&1
	expect_eq nft_ruleset_native_refused_only_at_queue 3 \
	    "$(grep -c '^[[:space:]]*udp dport 7000 counter queue\|^[[:space:]]*tcp dport [89]000 counter queue' "$work/native.err")"
	expect_eq nft_ruleset_native_refused_three_rules 3 "$(grep -c 'Error:' "$work/native.err")"
	check nft_ruleset_native_loads_without_queue sh -c \
	    "sed 's/queue num 0 bypass/accept/' '$native' | nft -f -"
fi

# gateway.nft: guards scoped to their destination, one guard for two
# triggers, the divert sharded by the source address (native queue only).
gateway=$top/nft/gateway.nft
nft delete table $T 2>/dev/null
if "$CTL" "$work/engine.ini" probes | grep -q 'native_queue 1'; then
	check nft_ruleset_gateway_loads nft -f "$gateway"
else
	nft -f "$gateway" >"$work/gateway.err" 2>&1
	expect_eq nft_ruleset_gateway_refused_only_at_queue 4 "$(grep -c 'Error: Could not process rule' "$work/gateway.err")"
	check nft_ruleset_gateway_loads_without_queue sh -c \
	    "sed 's/queue flags bypass to jhash ip6* saddr mod 2/accept/' '$gateway' | nft -f -"
fi
check nft_ruleset_gateway_one_guard_two_sets sh -c "nft list chain $T guard_in | grep -q 'ip saddr != @admin_allow4 ip saddr != @phone_allow4 counter'"
check nft_ruleset_gateway_forward_guard_on_destination sh -c "nft list chain $T guard_fwd | grep -q 'ip daddr 192.168.1.10 tcp dport 22 '"
sed -n 's/^#\t//p' "$gateway" | sed -n '/^\[engine\]/,$p' >"$work/gateway.ini"
chmod 600 "$work/gateway.ini"
check nft_ruleset_gateway_comment_config_is_valid "$NFQT" -C "$work/gateway.ini"
