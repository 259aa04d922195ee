# Daemon mode (-d): the parent returns once the engine runs, the pidfile
# names the engine (not the spawner), SIGHUP applies a changed
# allow_timeout and leaves an unchanged, active activity trigger up (its
# stop does not run), SIGUSR1 is heard, SIGTERM ends it within a second and
# removes the pidfile. A storm of SIGHUPs (every 5 ms for 3 s) does not
# stall the queue: probes keep getting verdicts (p99 under 50 ms). Under a
# supervisor ($NOTIFY_SOCKET) nothing forks and READY, RELOADING,
# WATCHDOG and STOPPING arrive by the sd_notify datagram protocol.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

recording_hook
cfg=$(write_config daemon.ini <<INI
[engine]
queue = 0
control = $work/control.sock
pidfile = $work/nfq-trigger.pid

[knock ssh]
sequence = udp:7000 udp:7001
open = tcp:2222
allow_timeout = 30s

; counted by the engine, so that every probe goes through the queue
[count probe]
match = udp dport 7600
every = 1000000
path = engine
exec = /bin/true

[activity tun]
match = udp dport 7700
ttl = 60s
start = $work/hook.sh %EVENT% %NAME%
stop = $work/hook.sh %EVENT% %NAME%
INI
)
ctl() { "$NFQT" -c "$cfg" "$@"; }
udp_frame() { timeout 0.3 hping3 -q -2 -c 1 -p "$2" "$1" >/dev/null 2>&1; true; }
# gone PID: the process has exited (a zombie waiting for its reaper counts).
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

check daemon_parent_returns_when_running "$NFQT" -d -c "$cfg"
pid=$(cat "$work/nfq-trigger.pid" 2>/dev/null)
check daemon_pidfile_names_a_process kill -0 "${pid:-0}"
# The engine listens on the control socket; the spawner, the other process
# of the same command line, does not.
check daemon_pidfile_names_the_engine sh -c "ss -xlpn | grep -F '$work/control.sock' | grep -q 'pid=$pid,'"
check daemon_engine_answers quiet ctl status
engine_pid=$pid	# stop_engine on the way out

check daemon_second_engine_refused sh -c "! '$NFQT' -d -c '$cfg' 2>'$work/second.err'"
check daemon_second_engine_names_the_first grep -q "another engine runs (pid $pid)" "$work/second.err"

# Traffic on the activity trigger's path: start runs, it is active.
$UDP send 127.0.0.1 7700 1
for _ in $(seq 30); do grep -q '^start tun' "$work/hook.log" 2>/dev/null && break; sleep 0.1; done
check daemon_activity_started grep -q '^start tun' "$work/hook.log"
act_state() { "$NFQT" -c "$cfg" status --json | python3 -c 'import json,sys; print([t["state"] for t in json.load(sys.stdin)["triggers"] if t["name"]=="tun"][0])'; }
expect_eq daemon_activity_active active "$(act_state)"

# SIGHUP applies a changed allow_timeout.
sed -i 's/^allow_timeout = 30s/allow_timeout = 45s/' "$cfg"
kill -HUP "$pid"
for _ in $(seq 30); do
	ctl status --json | grep -q '"reloads": 1,' && break
	sleep 0.1
done
udp_frame 127.0.0.1 7000
udp_frame 127.0.0.1 7001
sleep 0.3
check daemon_sighup_applies_allow_timeout sh -c "'$NFQT' -c '$cfg' list ssh | grep -q '^127.0.0.1 allowed .* left of 45s'"
check daemon_sighup_timeout_in_kernel sh -c "nft list set inet nfq_trigger ssh_allow4 | grep -q 'timeout 45s'"
expect_eq daemon_sighup_unchanged_activity_stays_up active "$(act_state)"
expect_eq daemon_sighup_unchanged_activity_no_stop 0 "$(grep -c '^stop' "$work/hook.log")"

# SIGUSR1 is heard (the log goes to syslog: the reply shows the loop lives).
kill -USR1 "$pid"
sleep 0.2
check daemon_alive_after_sigusr1 quiet ctl status

# A storm of SIGHUPs: the queue is read between reloads.
python3 - "$pid" >"$work/storm.out" <<'PY' &
import os, signal, sys, time
pid, n, end = int(sys.argv[1]), 0, time.monotonic() + 3.0
while time.monotonic() < end:
    os.kill(pid, signal.SIGHUP)
    n += 1
    time.sleep(0.005)
print(n)
PY
storm=$!
lat=$(python3 "$top/tests/tools/udp_latency.py" 127.0.0.1 7600 3 10)
wait $storm
echo "SIGHUPs sent: $(cat "$work/storm.out"); probes during the storm: $lat"
p99=$(echo "$lat" | sed -n 's/.* p99_ms \([0-9.]*\) .*/\1/p')
lost=$(echo "$lat" | sed -n 's/.* lost \([0-9]*\) .*/\1/p')
reloads=$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reloads"])')
echo "reloads done during the storm: $reloads"
expect_eq daemon_storm_no_probe_lost 0 "$lost"
check daemon_storm_p99_under_50ms python3 -c "import sys; sys.exit(0 if 0 <= float('${p99:--1}') < 50 else 1)"
check daemon_storm_reloads_coalesced test "$reloads" -lt "$(cat "$work/storm.out")"
expect_eq daemon_storm_activity_still_up active "$(act_state)"
expect_eq daemon_storm_no_stop 0 "$(grep -c '^stop' "$work/hook.log")"
check daemon_storm_probes_went_through_queue sh -c "'$NFQT' -c '$cfg' status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"queues\"][0][\"accepted\"] >= 100 else 1)'"

# SIGTERM: gone within a second, pidfile and socket removed.
start=$(date +%s%N)
kill -TERM "$pid"
for _ in $(seq 100); do gone "$pid" && break; sleep 0.01; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "SIGTERM to exit: $ms ms"
check daemon_sigterm_exits_within_a_second sh -c "gone() { ! kill -0 \$1 2>/dev/null || grep -q '^State:.*Z' /proc/\$1/status; }; gone $pid && [ $ms -lt 1000 ]"
# The privileged side removes them once the engine is gone (it made them as
# root): a moment after the exit.
for _ in $(seq 200); do
	[ ! -e "$work/nfq-trigger.pid" ] && [ ! -e "$work/control.sock" ] && break
	sleep 0.01
done
check daemon_pidfile_removed test ! -e "$work/nfq-trigger.pid"
check daemon_socket_removed test ! -e "$work/control.sock"
engine_pid=

# Under a supervisor: no fork, and the notify protocol.
python3 - "$work/notify.sock" >"$work/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(8)
end = time.monotonic() + 8
while time.monotonic() < end:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        break
    print(msg.replace("\n", " "), flush=True)
    if "STOPPING=1" in msg:
        break
PY
listener=$!
sleep 0.3
NOTIFY_SOCKET=$work/notify.sock WATCHDOG_USEC=400000 "$NFQT" -d -c "$cfg" >"$work/engine.log" 2>&1 &
engine_pid=$!
for _ in $(seq 50); do grep -q READY=1 "$work/notify.log" && break; sleep 0.1; done
check notify_ready grep -q '^READY=1' "$work/notify.log"
check notify_no_fork sh -c "[ \"\$(cat '$work/nfq-trigger.pid')\" = $engine_pid ]"
kill -HUP "$engine_pid"
sleep 0.6
check notify_reloading_with_monotonic grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9]*' "$work/notify.log"
check notify_ready_after_reload sh -c "grep -A1 '^RELOADING=1' '$work/notify.log' | grep -q '^READY=1'"
check notify_watchdog grep -q '^WATCHDOG=1' "$work/notify.log"
stop_engine
wait $listener
check notify_stopping grep -q '^STOPPING=1' "$work/notify.log"
expect_eq notify_engine_exit_status 0 "$engine_status"
