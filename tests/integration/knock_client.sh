# nfq-knock, the client: what it sends arrives as asked, over IPv4 and IPv6:
# protocol, port and TCP flags (nft counters per port and flag combination),
# order and spacing (an AF_PACKET sniffer on lo), valid TCP checksums (the
# kernel answers with RST and counts no checksum error), and derived
# sequences as an independent implementation of docs/knock.md predicts.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

NFQK=${NFQK:-$top/$O/nfq-knock}
SNIFF="python3 $top/tests/tools/knock_sniff.py"
if [ ! -x "$NFQK" ]; then
	not_ok "client_exists ($NFQK: build it with make)"
	exit 1
fi

nft -f - <<'NFT'
table inet nfqk_test {
	counter u7000 { }
	counter t8000_s { }
	counter t8000_other { }
	counter t9000_fa { }
	counter t9000_other { }
	counter t9100_x { }
	counter t9200_n { }
	counter rst_out { }
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 7000 counter name u7000
		tcp dport 8000 tcp flags & (fin|syn|rst|psh|ack|urg) == syn counter name t8000_s
		tcp dport 8000 tcp flags & (fin|syn|rst|psh|ack|urg) != syn counter name t8000_other
		tcp dport 9000 tcp flags & (fin|syn|rst|psh|ack|urg) == fin|ack counter name t9000_fa
		tcp dport 9000 tcp flags & (fin|syn|rst|psh|ack|urg) != fin|ack counter name t9000_other
		tcp dport 9100 tcp flags & (fin|syn|rst|psh|ack|urg) == fin|syn|rst|psh|ack|urg counter name t9100_x
		tcp dport 9200 tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0 counter name t9200_n
	}
	chain output {
		type filter hook output priority 0; policy accept;
		tcp sport { 8000, 9000, 9200 } tcp flags & rst == rst counter name rst_out
	}
}
NFT

# packets NAME: what the named counter has seen.
packets() {
	nft list counter inet nfqk_test "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# The kernel's TCP checksum error count (one MIB for IPv4 and IPv6).
csum_errors() {
	awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") c = i; h = 1 } else print $c }' \
	    /proc/net/snmp
}

# frames_arrive TAG ADDR [CLIENT OPTIONS]: one of each flag combination.
frames_arrive() {
	tag=$1 addr=$2; shift 2
	nft reset counters table inet nfqk_test >/dev/null
	errs0=$(csum_errors)
	check "${tag}_client_exits_0" "$NFQK" -d 1ms "$@" "$addr" udp:7000 \
	    tcp:8000:s tcp:9000:fa tcp:9100:x tcp:9200:n
	sleep 0.2
	expect_eq "${tag}_udp_frame_arrives" 1 "$(packets u7000)"
	expect_eq "${tag}_tcp_syn_arrives_as_syn" 1 "$(packets t8000_s)"
	expect_eq "${tag}_tcp_fin_ack_arrives_as_fin_ack" 1 "$(packets t9000_fa)"
	expect_eq "${tag}_tcp_all_six_flags_arrive" 1 "$(packets t9100_x)"
	expect_eq "${tag}_tcp_no_flags_arrives" 1 "$(packets t9200_n)"
	expect_eq "${tag}_no_frame_with_other_flags" "0 0" \
	    "$(packets t8000_other) $(packets t9000_other)"
	# A closed port answers a valid segment without RST with a RST: s, fa, n.
	expect_eq "${tag}_kernel_answers_valid_segments" 3 "$(packets rst_out)"
	expect_eq "${tag}_no_checksum_errors" "$errs0" "$(csum_errors)"
}

frames_arrive ipv4 127.0.0.1
frames_arrive ipv6 ::1 -6
frames_arrive ipv4_by_name localhost -4

# sniff PORTS COUNT: capture in the background into $work/sniff; wait until ready.
sniff() {
	rm -f "$work/sniff" "$work/sniff.err"
	# It stops at COUNT packets; the time limit only bounds a failure.
	$SNIFF capture "$1" "$2" 20 >"$work/sniff" 2>"$work/sniff.err" &
	sniff_pid=$!
	for _ in $(seq 50); do
		grep -q ready "$work/sniff.err" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
sniffed_frames() {
	wait "$sniff_pid"
	grep -v '^ready$' "$work/sniff.err" >&2
	cut -d' ' -f1 "$work/sniff" | tr '\n' ' ' | sed 's/ $//'
}

# Order and spacing: -d 100ms.
sniff 1000-30000 3
check order_client_exits_0 quiet "$NFQK" -d 100ms 127.0.0.1 udp:7001 tcp:7002:s udp:7003
expect_eq frames_arrive_in_order "udp:7001 tcp:7002:s udp:7003" "$(sniffed_frames)"
gaps=$(awk 'NR > 1 { print $2 - t } { t = $2 }' "$work/sniff" | tr '\n' ' ')
check delay_separates_frames sh -c "for g in $gaps; do [ \$g -ge 90 ] || exit 1; done"
sniff 1000-30000 2
check ipv6_client_exits_0 quiet "$NFQK" ::1 tcp:7004:i udp:7005
expect_eq ipv6_frames_in_order_i_sends_syn "tcp:7004:s udp:7005" "$(sniffed_frames)"

expect_eq verbose_prints_each_frame "sent udp:7006 to 127.0.0.1|sent tcp:7007:pa to 127.0.0.1" \
    "$("$NFQK" -v 127.0.0.1 udp:7006 tcp:7007:ap | tr '\n' '|' | sed 's/|$//')"

# --- derived sequences ---------------------------------------------------
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/k.key"
echo >>"$work/k.key"
chmod 600 "$work/k.key"
cfg=$(write_config knock.ini <<INI
[knock c]
key = $work/k.key
derive = counter
state = /var/lib/nfq-trigger/c.counter
open = tcp:22

[knock t]
key = $work/k.key
derive = time
step = 1h
frames = 5
proto = tcp
ports = 10000-19999
open = tcp:22

[knock listed]
sequence = udp:7010 tcp:7011:fa
open = tcp:23
INI
)
ctr="$work/c.counter"
derive_c() { $SNIFF derive "$work/k.key" c c "$1" 20000 29999 4 udp; }

expect_eq counter_print_is_sequence_0 "$(derive_c 0)" \
    "$("$NFQK" -c "$cfg" -t c --counter-file "$ctr" --print)"
check counter_print_sends_and_stores_nothing test ! -e "$ctr"
sniff 20000-29999 4
check counter_knock_exits_0 "$NFQK" -c "$cfg" -t c --counter-file "$ctr" 127.0.0.1
expect_eq counter_sequence_0_arrives "$(derive_c 0)" "$(sniffed_frames)"
expect_eq counter_file_holds_next 1 "$(cat "$ctr")"
sniff 20000-29999 4
check counter_knock_over_ipv6_exits_0 "$NFQK" -c "$cfg" -t c --counter-file "$ctr" ::1
expect_eq counter_next_knock_sends_sequence_1 "$(derive_c 1)" "$(sniffed_frames)"
sniff 20000-29999 4
check counter_option_exits_0 "$NFQK" -c "$cfg" -t c --counter-file "$ctr" --counter 7 127.0.0.1
expect_eq counter_option_sends_that_counter "$(derive_c 7)" "$(sniffed_frames)"
expect_eq counter_option_stores_the_one_after 8 "$(cat "$ctr")"
mkdir -p "$work/home"
HOME="$work/home" "$NFQK" -c "$cfg" -t c 127.0.0.1
expect_eq counter_default_file_in_home 1 "$(cat "$work/home/.nfq-knock/c.counter" 2>&1)"
expect_eq counter_home_dir_private 700 "$(stat -c %a "$work/home/.nfq-knock")"

# Time: the step of now; printed twice around the send to rule out a step change.
derive_t() { $SNIFF derive "$work/k.key" t t "$($SNIFF step 3600)" 10000 19999 5 tcp; }
for _ in 1 2; do
	want=$(derive_t)
	sniff 10000-19999 5
	"$NFQK" -c "$cfg" -t t 127.0.0.1
	got=$(sniffed_frames)
	[ "$want" = "$(derive_t)" ] && break
done
expect_eq time_sequence_of_this_step_arrives_as_syns "$want" "$got"
expect_eq time_print_matches "$want" "$("$NFQK" -c "$cfg" -t t --print)"
sniff 7010-7011 2
check listed_knock_exits_0 "$NFQK" -c "$cfg" -t listed ::1
expect_eq listed_sequence_from_config "udp:7010 tcp:7011:fa" "$(sniffed_frames)"

# --- errors ----------------------------------------------------------------
# run_rc WANT_RC NAME PATTERN CMD...: exit status and a message on stderr.
run_rc() {
	want=$1 name=$2 pattern=$3; shift 3
	"$@" >"$work/out" 2>"$work/err"
	rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$work/err"; then ok "$name"
	else not_ok "$name (rc $rc, want $want): $(head -3 "$work/err")"; fi
}
chmod 644 "$work/k.key"
run_rc 2 key_open_to_others_is_refused "chmod 600" "$NFQK" -c "$cfg" -t t 127.0.0.1
chmod 600 "$work/k.key"
chown 65534 "$work/k.key"
run_rc 2 key_of_another_user_is_refused "owned by uid 65534" "$NFQK" -c "$cfg" -t t --print
chown 0 "$work/k.key"
bad=$(write_config bad.ini <<'INI'
[knock x]
sequence = udp:1 tcp:2:q
open = tcp:22
INI
)
run_rc 2 config_error_with_file_and_line "bad.ini:2: knock x: frame 'tcp:2:q'" "$NFQK" -c "$bad" -t x ::1
run_rc 2 unknown_trigger_lists_the_known "has no \[knock nope\]; it has: c, t, listed" \
    "$NFQK" -c "$cfg" -t nope ::1
run_rc 2 bad_frame_is_usage_error "frame 'tcp:80:q': unknown flag 'q'" "$NFQK" ::1 tcp:80:q
run_rc 2 bad_delay_is_usage_error "needs a unit\|not a duration" "$NFQK" -d 5 ::1 udp:1
run_rc 2 counter_for_time_trigger_is_usage_error "no counter" \
    "$NFQK" -c "$cfg" -t t --counter 3 ::1
run_rc 1 unknown_host_is_send_error "no.such.host.invalid" "$NFQK" no.such.host.invalid udp:1
run_rc 1 ipv4_only_host_with_6_is_send_error "127.0.0.1" "$NFQK" -6 127.0.0.1 udp:1
expect_eq help_exits_0 0 "$("$NFQK" --help >/dev/null; echo $?)"
expect_eq version_prints_version "nfq-knock" "$("$NFQK" --version | cut -d' ' -f1)"

# Without CAP_NET_RAW: udp frames still go, tcp frames fail before anything is sent.
nft reset counters table inet nfqk_test >/dev/null
check unprivileged_udp_knock_works setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$NFQK" 127.0.0.1 udp:7000
run_rc 1 unprivileged_tcp_needs_raw_socket "need a raw socket" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$NFQK" 127.0.0.1 udp:7000 tcp:8000
sleep 0.2
expect_eq unprivileged_tcp_failure_sent_nothing 1 "$(packets u7000)"
