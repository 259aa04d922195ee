# `-C` refuses, with file:line, what start-up would refuse or what cannot
# work on a gateway (issue 15): queue ranges the engine cannot bind (the
# kernel counts a range in 16 bits: 0-65535 is 0 queues, EINVAL), a rotate
# trigger with no interface or address scope (it would rotate loopback, and
# its rules outlive the engine), loopback in a rotate path. Start-up
# refuses the same file before it touches the kernel.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

refused() {	# refused NAME FILE-TEXT EXPECTED-LINE
	f=$(printf '%b' "$2" | write_config "$1.ini")
	out=$("$NFQT" -C "$f" 2>&1); rc=$?
	expect_eq "check_refuses_$1_status" 1 "$rc"
	check "check_refuses_$1_with_file_line" sh -c "echo '$out' | grep -qF '$f:$3'"
}
refused queue_0_65535 '[engine]\nqueue = 0-65535\n' "2: engine: queue: '0-65535' is 65536 queues, at most 64"
refused queue_over_64 '[engine]\nqueue = 10-74\n' "2: engine: queue: '10-74' is 65 queues, at most 64"
refused rotate_without_scope '[rotate r]\nmatch = meta l4proto { tcp, udp }\npool = 192.0.2.1\n' \
    "2: rotate r: match: needs an interface (oif eth0) or an address"
refused rotate_on_loopback '[rotate r]\nmatch = oif lo\npool = 192.0.2.1\n' \
    "2: rotate r: match: the loopback interface is not a path to rotate"
refused rotate_to_loopback_addresses '[rotate r]\nmatch = ip daddr 127.0.0.0/8\npool = 192.0.2.1\n' \
    "2: rotate r: match: daddr takes in loopback addresses"

# Start-up refuses the same file and leaves no table behind.
f=$(printf '[engine]\nqueue = 0-65535\n[knock k]\nsequence = udp:7000\nopen = tcp:22\n' | write_config startup.ini)
"$NFQT" -c "$f" >"$work/startup.log" 2>&1
expect_eq startup_refuses_queue_range_status 1 "$?"
check startup_refuses_queue_range_with_file_line grep -qF "$f:2: engine: queue: '0-65535' is 65536 queues" "$work/startup.log"
check startup_refused_leaves_no_table sh -c "! nft list table inet nfq_trigger >/dev/null 2>&1"

# The largest range the engine binds still starts.
f=$(printf '[engine]\nqueue = 0-63\n[knock k]\nsequence = udp:7000\nopen = tcp:22\n' | write_config wide.ini)
start_engine "$f" || exit 1
check startup_binds_64_queues grep -q 'queue 63: bound' "$work/engine.log"
