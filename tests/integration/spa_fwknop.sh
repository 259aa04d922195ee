# format = fwknop: the stock fwknop client (Debian's fwknop-client) opens
# the guarded port; its packet replayed, a wrong HMAC key, a request for a
# port the trigger does not open, a command (-C) and a NAT request (-N) are
# refused and logged. The client itself has no IPv6 (fwknop#1): its saved
# datagram is sent over IPv6 by hand and opens ::1.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
command -v fwknop >/dev/null || { not_ok "fwknop_client_installed (apt-get install fwknop-client)"; exit 1; }

# fwknop writes ~/.fwknoprc on first use: a HOME of the test's own.
export HOME=$work
fwknop --key-gen | grep BASE64 >"$work/fw.key"
fwknop --key-gen | grep BASE64 >"$work/wrong.key"
chmod 600 "$work/fw.key" "$work/wrong.key"
K=$(sed -n 's/^KEY_BASE64: //p' "$work/fw.key")
H=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$work/fw.key")
WH=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$work/wrong.key")
cfg=$(write_config fw.ini <<INI
[engine]
queue = 0
copy_range = 1500

[spa fw]
format = fwknop
port = udp:62201
key = $work/fw.key
open = tcp:2222
allow_timeout = 30s
INI
)
tcp_server 127.0.0.1 2222
tcp_server ::1 2222
start_engine "$cfg" -v || exit 1

knock() {	# knock ARGS...: the stock client, keys from the command line
	fwknop -D 127.0.0.1 --key-base64-rijndael "$K" --use-hmac \
	    --no-save-args "$@" >"$work/client.out" 2>&1
	sleep 0.3
}
event() { engine_log_wait "event=$1 kind=spa trigger=fw src=$2 reason=$3" 3; }

expect_eq fwknop_port_closed_before closed "$(tcp_probe 127.0.0.1 2222)"
knock -A tcp/2222 -a 127.0.0.1 --key-base64-hmac "$H" -B "$work/opened.spa"
expect_eq fwknop_stock_client_opens open "$(tcp_probe 127.0.0.1 2222)"
expect_eq fwknop_opens_for_sender_only closed "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
check fwknop_open_logged engine_log_wait "event=opened kind=spa trigger=fw src=127.0.0.1" 1

# -s (0.0.0.0: the source), saved and sent again from another address.
knock -A tcp/2222 -s --key-base64-hmac "$H" -B "$work/source.spa"
tr -d '\n' <"$work/source.spa" >"$work/source.bin"
$UDP sendfile 127.0.0.1 62201 "$work/source.bin" 127.0.0.3
sleep 0.3
check fwknop_replay_refused event refused 127.0.0.3 replay
expect_eq fwknop_replay_opens_nothing closed "$(tcp_probe 127.0.0.1 2222 127.0.0.3)"

# A packet naming another address than its source is refused.
fwknop -D 127.0.0.1 --key-base64-rijndael "$K" --use-hmac --no-save-args \
    -A tcp/2222 -a 127.0.0.4 --key-base64-hmac "$H" -T -B "$work/named.spa" >/dev/null 2>&1
tr -d '\n' <"$work/named.spa" >"$work/named.bin"
$UDP sendfile 127.0.0.1 62201 "$work/named.bin" 127.0.0.5
sleep 0.3
check fwknop_other_address_refused event failed 127.0.0.5 address-refused
expect_eq fwknop_other_address_not_opened closed "$(tcp_probe 127.0.0.1 2222 127.0.0.4)"

# The rest from 127.0.0.1 would be masked by its open element: from .6.
sendfrom() {	# sendfrom SRC ARGS...: build with the client, send from SRC
	src=$1; shift
	fwknop -D 127.0.0.1 --key-base64-rijndael "$K" --use-hmac --no-save-args \
	    -s -T -B "$work/x.spa" "$@" >/dev/null 2>&1
	tr -d '\n' <"$work/x.spa" >"$work/x.bin"
	$UDP sendfile 127.0.0.1 62201 "$work/x.bin" "$src"
	sleep 0.3
}
sendfrom 127.0.0.6 -A tcp/2222 --key-base64-hmac "$WH"
check fwknop_wrong_hmac_refused event failed 127.0.0.6 bad-mac
expect_eq fwknop_wrong_hmac_opens_nothing closed "$(tcp_probe 127.0.0.1 2222 127.0.0.6)"
sendfrom 127.0.0.7 -A tcp/2223 --key-base64-hmac "$H"
check fwknop_port_not_open_refused event failed 127.0.0.7 port-not-open
expect_eq fwknop_port_not_open_opens_nothing closed "$(tcp_probe 127.0.0.1 2222 127.0.0.7)"
sendfrom 127.0.0.8 -A tcp/2222,tcp/2223 --key-base64-hmac "$H"
check fwknop_one_port_not_open_refuses_all event failed 127.0.0.8 port-not-open
sendfrom 127.0.0.9 --server-cmd "touch $work/pwned" --key-base64-hmac "$H"
check fwknop_command_refused event failed 127.0.0.9 command-refused
check fwknop_command_not_run [ ! -e "$work/pwned" ]
sendfrom 127.0.0.10 -A tcp/2222 -N 10.0.0.1:22 --key-base64-hmac "$H"
check fwknop_nat_refused event failed 127.0.0.10 nat-refused

# IPv6: the client's datagram made with -s, sent from ::1.
fwknop -D 127.0.0.1 --key-base64-rijndael "$K" --use-hmac --no-save-args \
    -A tcp/2222 -s --key-base64-hmac "$H" -T -B "$work/six.spa" >/dev/null 2>&1
tr -d '\n' <"$work/six.spa" >"$work/six.bin"
expect_eq fwknop_ipv6_closed_before closed "$(tcp_probe ::1 2222)"
$UDP sendfile ::1 62201 "$work/six.bin"
sleep 0.3
expect_eq fwknop_ipv6_opens open "$(tcp_probe ::1 2222)"
stop_engine

# libfko is loaded only for a fwknop trigger, and a reload that adds one
# loads it under the engine's seccomp filter.
plain=$(write_config plain.ini <<INI
[engine]
queue = 0
copy_range = 1500

[knock other]
sequence = udp:7000 udp:7001
open = tcp:2223
INI
)
start_engine "$plain" -v || exit 1
expect_eq fwknop_libfko_not_loaded_without_trigger 0 "$(grep -c libfko "/proc/$engine_pid/maps")"
cp "$cfg" "$plain"
kill -HUP "$engine_pid"
check fwknop_reload_adds_trigger engine_log_wait 'reload: .* loaded' 5
check fwknop_libfko_loaded_by_reload grep -q libfko "/proc/$engine_pid/maps"
expect_eq fwknop_closed_to_new_source_before closed "$(tcp_probe 127.0.0.1 2222 127.0.0.11)"
sendfrom 127.0.0.11 -A tcp/2222 --key-base64-hmac "$H"
expect_eq fwknop_opens_after_reload open "$(tcp_probe 127.0.0.1 2222 127.0.0.11)"
stop_engine
check fwknop_engine_exits_zero [ "$engine_status" = 0 ]
