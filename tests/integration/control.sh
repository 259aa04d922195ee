# The control socket end to end: status (text and JSON) names a source that
# just knocked; list, allow, revoke and flush change what the kernel lets in, and
# revoke unbans a blocked source; bypass on lets knock frames through
# uninspected and opens nothing, bypass off restores knocking; reset forgets
# a knock in progress; reload reports a broken file with file:line; metrics
# parse as Prometheus text, over the socket and over HTTP; a slow, hostile
# or oversized client is refused without stopping the packet path.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
ip addr add 127.0.0.2/8 dev lo 2>/dev/null

# Debian's python3 has python3-prometheus-client; a python3 earlier in PATH
# may not.
PROM_PY=python3
python3 -c 'import prometheus_client' 2>/dev/null || PROM_PY=/usr/bin/python3

port=$((20000 + $$ % 20000))
cfg=$(write_config control.ini <<INI
[engine]
queue = 0
control = $work/control.sock
metrics_listen = 127.0.0.1:$port

[knock ssh]
sequence = udp:7000 udp:7001
window = 5s
open = tcp:2222
allow_timeout = 30s

[count flood]
match = udp dport 7500
threshold = 3/10s
block_timeout = 1m

; counted by the engine, so that every probe goes through the queue
[count probe]
match = udp dport 7600
every = 1000000
path = engine
exec = /bin/true
INI
)
ctl() { "$NFQT" -c "$cfg" "$@"; }
udp_frame() { timeout 0.3 hping3 -q -2 -c 1 -p "$2" ${3:+-a "$3"} "$1" >/dev/null 2>&1; true; }
knock() {
	udp_frame 127.0.0.1 7000
	udp_frame 127.0.0.1 7001
	sleep 0.2
}
json() { ctl status --json | python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

tcp_server 127.0.0.1 2222
start_engine "$cfg" || exit 1
check ctl_socket_owner_only sh -c "stat -c %a '$work/control.sock' | grep -qx 600"

# status names a source that just knocked.
knock
check ctl_status_json_parses sh -c "'$NFQT' -c '$cfg' status --json | python3 -m json.tool >/dev/null"
expect_eq ctl_status_json_allowed 1 "$(json 'print([t for t in d["triggers"] if t["name"]=="ssh"][0]["allowed"])')"
check ctl_status_json_names_knocker sh -c "'$NFQT' -c '$cfg' status --json | grep -q 'event=opened kind=knock trigger=ssh src=127.0.0.1'"
check ctl_status_text_names_knocker sh -c "'$NFQT' -c '$cfg' status | grep -q 'event=opened kind=knock trigger=ssh src=127.0.0.1'"
expect_eq ctl_status_json_queue_counts_verdicts 2 "$(json 'print(d["queues"][0]["dropped"])')"
check ctl_status_json_kernel_counters json 'assert d["queues"][0]["kernel"]["id_sequence"] >= 2'

# list, allow, revoke.
check ctl_list_shows_knocker sh -c "'$NFQT' -c '$cfg' list ssh | grep -q '^127.0.0.1 allowed .*s left of 30s'"
check ctl_allow quiet ctl allow ssh 127.0.0.2 1m
expect_eq ctl_allow_opens_service open "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
check ctl_list_shows_allowed sh -c "'$NFQT' -c '$cfg' list ssh | grep -q '^127.0.0.2 allowed .*s left of 1m'"
check ctl_revoke quiet ctl revoke ssh 127.0.0.2
expect_eq ctl_revoke_closes_service closed "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
check ctl_revoke_knocker quiet ctl revoke ssh 127.0.0.1
expect_eq ctl_revoke_closes_for_knocker closed "$(tcp_probe 127.0.0.1 2222)"
expect_eq ctl_list_empty_after_revoke "" "$(ctl list ssh)"
check ctl_allow_bad_address_refused sh -c "! '$NFQT' -c '$cfg' allow ssh 300.1.1.1 2>'$work/err' && grep -q \"'300.1.1.1' is not an IPv4 or IPv6 address\" '$work/err'"
check ctl_list_unknown_trigger_fails sh -c "'$NFQT' -c '$cfg' list nosuch 2>&1 | grep -q \"no trigger named 'nosuch'\""

# flush empties a trigger's set.
quiet ctl allow ssh 10.9.0.1
quiet ctl allow ssh 2001:db8::1
check ctl_flush sh -c "'$NFQT' -c '$cfg' flush ssh | grep -q '2 addresses removed'"
expect_eq ctl_list_empty_after_flush "" "$(ctl list ssh)"

# revoke unbans from a block set.
for _ in 1 2 3 4 5 6; do udp_frame 127.0.0.1 7500 127.0.0.3; done
sleep 0.3
check ctl_list_shows_blocked sh -c "'$NFQT' -c '$cfg' list flood | grep -q '^127.0.0.3 blocked'"
check ctl_revoke_unbans quiet ctl revoke flood 127.0.0.3
expect_eq ctl_block_set_empty_after_revoke "" "$(ctl list flood)"

# bypass on: a knock datagram reaches the host uninspected, nothing opens.
$UDP listen 127.0.0.1 7000 2 >"$work/listen.count" 2>/dev/null &
sleep 0.3
check ctl_bypass_on quiet ctl bypass on
check ctl_status_says_bypass sh -c "'$NFQT' -c '$cfg' status | grep -q '^bypass ON'"
expect_eq ctl_status_json_bypass True "$(json 'print(d["bypass"])')"
knock
wait $!
expect_eq ctl_bypass_knock_reaches_host 1 "$(cat "$work/listen.count")"
expect_eq ctl_bypass_opens_nothing closed "$(tcp_probe 127.0.0.1 2222)"
check ctl_bypass_counted json 'assert d["queues"][0]["bypassed"] >= 2'
check ctl_bypass_off quiet ctl bypass off
knock
expect_eq ctl_bypass_off_knock_opens open "$(tcp_probe 127.0.0.1 2222)"

# reset forgets a knock in progress.
ctl revoke ssh 127.0.0.1 >/dev/null
udp_frame 127.0.0.1 7000
sleep 0.2
expect_eq ctl_tracked_before_reset 1 "$(json 'print([t for t in d["triggers"] if t["name"]=="ssh"][0]["tracked_sources"])')"
check ctl_reset sh -c "'$NFQT' -c '$cfg' reset ssh | grep -q '1 tracked source forgotten'"
expect_eq ctl_tracked_after_reset 0 "$(json 'print([t for t in d["triggers"] if t["name"]=="ssh"][0]["tracked_sources"])')"
udp_frame 127.0.0.1 7001
sleep 0.2
expect_eq ctl_reset_knock_must_start_over closed "$(tcp_probe 127.0.0.1 2222)"

# reload: applied, or refused with file:line.
check ctl_reload quiet ctl reload
cp "$cfg" "$work/good.ini"
printf 'bogus_key = 1\n' >>"$cfg"
check ctl_reload_refused_with_line sh -c "! '$NFQT' -c '$cfg' reload 2>'$work/reload.err' && grep -q 'reload refused: 1 error, the first: .*control.ini:[0-9]*: ' '$work/reload.err'"
check ctl_status_with_broken_file quiet ctl status
check ctl_reload_error_logged_with_line grep -q 'reload: .*control.ini:[0-9]*: ' "$work/engine.log"
cp "$work/good.ini" "$cfg"

# metrics: Prometheus text, over the socket and over HTTP.
ctl metrics >"$work/metrics.txt"
check ctl_metrics_parse $PROM_PY -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
s = [x for x in fams["nfq_trigger_packets"].samples
     if x.labels == {"queue": "0", "verdict": "drop"}]
assert s and s[0].value >= 4, s
assert "nfq_trigger_kernel_queue_ids" in fams
' "$work/metrics.txt"
check ctl_metrics_http $PROM_PY -c '
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
names = [f.name for f in text_string_to_metric_families(body)]
assert "nfq_trigger_up" in names, names
' "$port"
check ctl_http_other_path_404 python3 -c '
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/secret" % sys.argv[1], timeout=5)
    sys.exit(1)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 404 else 1)
' "$port"

# Hostile clients: an oversized request is refused; idle ones hold no more
# than the client limit and time out; the packets keep their verdicts.
check ctl_oversized_request_refused python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"status " + b"x" * 600)
print(s.recv(100).decode().strip())
' "$work/control.sock"
check ctl_nul_in_request_refused python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"sta\0tus\n")
sys.exit(0 if s.recv(100).startswith(b"error ") else 1)
' "$work/control.sock"
python3 -c '
import socket, sys, time
socks = []
for i in range(40):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
time.sleep(8)
' "$work/control.sock" &
idle=$!
sleep 0.5
expect_eq ctl_idle_clients_do_not_stop_packets 20 "$(udp_roundtrip 127.0.0.1 7600 20 2>/dev/null || echo 0)"
sleep 5.5
check ctl_answers_after_idle_clients_time_out quiet ctl status
kill $idle 2>/dev/null
wait $idle 2>/dev/null
ctl metrics >"$work/metrics.txt"
refused=$(sed -n 's/^nfq_trigger_control_requests_total{result="refused"} //p' "$work/metrics.txt")
echo "control requests refused: $refused"
check ctl_refusals_counted test "${refused:-0}" -ge 40

# A reload moves the control socket into a directory only root may write
# (the engine runs as nfq-trigger): the privileged side makes it there,
# owner-only; the metrics listener, unchanged, stays; the old file goes.
sed "s|^control = .*|control = $work/root-only/control.sock|" "$cfg" >"$cfg.new"
mv "$cfg.new" "$cfg"
chmod 600 "$cfg"
kill -HUP "$engine_pid"
check ctl_reload_moves_socket engine_log_wait "control: $work/root-only/control.sock\$" 5
check ctl_moved_socket_answers quiet ctl status
expect_eq ctl_moved_socket_owner_only "600 root" "$(stat -c '%a %U' "$work/root-only/control.sock")"
expect_eq ctl_moved_socket_dir_root_only "700 root" "$(stat -c '%a %U' "$work/root-only")"
check ctl_old_socket_removed test ! -e "$work/control.sock"
check ctl_metrics_stay_after_move python3 -c '
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read()
assert b"\nnfq_trigger_up 1\n" in body
' "$port"
check ctl_move_logs_no_failure sh -c "! grep -q 'could not move' '$work/engine.log'"
stop_engine
expect_eq ctl_engine_exit_status 0 "$engine_status"
for _ in $(seq 100); do [ -e "$work/root-only/control.sock" ] || break; sleep 0.01; done
check ctl_socket_removed_on_exit test ! -e "$work/root-only/control.sock"
