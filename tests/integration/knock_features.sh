# Knock features users ask for: a duplicated or retransmitted frame does not
# reset a sequence (nfq-knock --twice); open_prefix opens the knocking
# source's network and nothing outside it, over IPv4 and IPv6; a close
# sequence revokes the opener's access; nfq-knock -4 -6 knocks over both
# families; failures and expired windows reach the event log with a reason.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
NFQK=${NFQK:-$top/$O/nfq-knock}
ip addr add 2001:db8::1/64 dev lo nodad
ip addr add 2001:db8::2/64 dev lo nodad
ip addr add 2001:db8:1::1/64 dev lo nodad

cfg=$(write_config features.ini <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 udp:7001 udp:7002
window = 2s
open = tcp:2222
allow_timeout = 30s
close_sequence = udp:7010 udp:7011

[knock net]
sequence = udp:7100 udp:7101
open = tcp:2223
open_prefix = 24 64
INI
)
tcp_server 127.0.0.1 2222
tcp_server ::1 2222
tcp_server 127.0.0.1 2223
tcp_server 2001:db8::1 2223
start_engine "$cfg" -v || exit 1
event() { engine_log_wait "event=$1 kind=knock trigger=$2 src=$3 reason=$4" 3; }

# Each frame twice: the second copy is ignored, the knock opens.
"$NFQK" --twice 127.0.0.1 udp:7000 udp:7001 udp:7002
sleep 0.2
expect_eq knock_twice_opens open "$(tcp_probe 127.0.0.1 2222)"
line=$(engine_counters 'knock ssh: .* duplicates')
# The copies of frames 0 and 1; that of the last comes after the open.
expect_eq knock_twice_counted_as_duplicates 2 "$(counter_of "$line" duplicates)"

# A retransmitted middle frame from another source, by hand.
python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.3", 0))
for port in (7000, 7001, 7001, 7001, 7002):
    s.sendto(b"k", ("127.0.0.1", port))
    time.sleep(0.02)
PY
sleep 0.2
expect_eq knock_retransmitted_frame_still_opens open "$(tcp_probe 127.0.0.1 2222 127.0.0.3)"

# A close sequence revokes the opener's access, and only the opener's.
expect_eq knock_close_both_open_before "127.0.0.1 127.0.0.3" \
    "$(allow_members ssh_allow4 | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
"$NFQK" 127.0.0.1 udp:7010 udp:7011
sleep 0.3
expect_eq knock_close_sequence_revokes closed "$(tcp_probe 127.0.0.1 2222)"
expect_eq knock_close_leaves_others_open open "$(tcp_probe 127.0.0.1 2222 127.0.0.3)"
expect_eq knock_close_removes_set_element 127.0.0.3 "$(allow_members ssh_allow4)"
check knock_close_logged engine_log_wait \
    "event=closed kind=knock trigger=ssh src=127.0.0.1 reason=close-sequence" 2

# Wrong order and an expired window are logged with their reason.
python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.5", 0))
for port in (7000, 7001, 7000):
    s.sendto(b"k", ("127.0.0.1", port))
    time.sleep(0.02)
PY
check knock_wrong_order_logged event failed ssh 127.0.0.5 wrong-order
check knock_window_expiry_logged event failed ssh 127.0.0.5 window-expired

# open_prefix = 24 64: the knocker's /24 and /64, nothing beyond.
python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.7", 0))
for port in (7100, 7101):
    s.sendto(b"k", ("127.0.0.1", port))
    time.sleep(0.02)
PY
sleep 0.2
expect_eq knock_prefix_opens_knocker open "$(tcp_probe 127.0.0.1 2223 127.0.0.7)"
expect_eq knock_prefix_opens_same_24 open "$(tcp_probe 127.0.0.1 2223 127.0.0.9)"
expect_eq knock_prefix_not_outside_24 closed "$(tcp_probe 127.0.0.1 2223 127.0.1.9)"
expect_eq knock_prefix_set_holds_network 127.0.0.0 "$(allow_members net_allow4)"
"$NFQK" 2001:db8::1 udp:7100 udp:7101
sleep 0.2
expect_eq knock_prefix_opens_same_64 open "$(tcp_probe 2001:db8::1 2223 2001:db8::2)"
expect_eq knock_prefix_not_outside_64 closed "$(tcp_probe 2001:db8::1 2223 2001:db8:1::1)"
# Without open_prefix, the same neighbour stays out.
expect_eq knock_no_prefix_neighbour_closed closed "$(tcp_probe 127.0.0.1 2222 127.0.0.4)"

# -4 -6: one name with both addresses (a hosts file of this test's own, in
# a private mount namespace), both families opened by one command.
printf '127.0.0.1 both.test\n::1 both.test\n' >"$work/hosts"
unshare -m sh -c "mount --bind '$work/hosts' /etc/hosts && \
    '$NFQK' -4 -6 both.test udp:7000 udp:7001 udp:7002" \
    || not_ok "knock_both_families_sent"
sleep 0.3
expect_eq knock_both_families_ipv4 open "$(tcp_probe 127.0.0.1 2222)"
expect_eq knock_both_families_ipv6 open "$(tcp_probe ::1 2222)"
stop_engine
