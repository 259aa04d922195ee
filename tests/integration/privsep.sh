# Privilege separation (docs/hooks.md, "Privileges"): the running engine is
# its [engine] user with CAP_NET_ADMIN alone, no_new_privs and a seccomp
# filter; the privileged side and the spawner keep only what hooks need; a reload still applies (the privileged side reads the root-only
# file); a hook runs after the drop as its hook_user with its hook_caps; a
# killed spawner is replaced and later hooks run.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

# The hook runs as nfq-trigger: it must reach its script, and prints
# what it is to its output, which the spawner logs.
chmod 755 "$work"
mkdir -m 755 "$work/bin"
cat >"$work/bin/whoami.sh" <<'SH'
#!/bin/sh
echo "hook-identity event=$1 ip=$2 uid=$(id -u) $(grep '^CapEff' /proc/self/status | tr -d '\t')"
SH
chmod 755 "$work/bin/whoami.sh"
write_cfg() {
	write_config privsep.ini <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 udp:7001
open = tcp:2222
allow_timeout = 30s
exec = $work/bin/whoami.sh %EVENT% %IP%
hook_user = nfq-trigger
hook_caps = net_admin
$1
INI
}
cfg=$(write_cfg "")
start_engine "$cfg" -v || exit 1
status() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$engine_pid/status" | tr '\t' ' '; }
grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' \
    "/proc/$engine_pid/status" | sed 's/^/    engine status: /'
uid=$(id -u nfq-trigger)
expect_eq privsep_engine_runs_as_its_user "$uid $uid $uid $uid" "$(status Uid)"
expect_eq privsep_engine_cap_net_admin_alone 0000000000001000 "$(status CapEff)"
expect_eq privsep_engine_permitted_net_admin_alone 0000000000001000 "$(status CapPrm)"
expect_eq privsep_engine_bounding_set_net_admin_alone 0000000000001000 "$(status CapBnd)"
expect_eq privsep_engine_no_new_privs 1 "$(status NoNewPrivs)"
expect_eq privsep_engine_seccomp_filter 2 "$(status Seccomp)"
priv_pid=$(sed -n 's/.*privileged side started, pid \([0-9]*\).*/\1/p' "$work/engine.log")
check privsep_privileged_side_is_root [ "$(awk '/^Uid/ { print $2 }' "/proc/$priv_pid/status")" = 0 ]
# The privileged side and the spawner keep what running hooks needs:
# CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP (bits 5-8) and the union
# of the hook_caps, here CAP_NET_ADMIN (bit 12); nothing else can return.
pstatus() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
sp_pid=$(sed -n 's/.*priv: spawner started, pid \([0-9]*\).*/\1/p' "$work/engine.log" | tail -1)
for who in priv sp; do
	eval pid=\$${who}_pid
	grep -E '^(Uid|CapPrm|CapEff|CapBnd|CapAmb):' "/proc/$pid/status" |
	    tr '\t' ' ' | sed "s/^/    $who status: /"
	expect_eq privsep_${who}_effective_caps_trimmed 00000000000011e0 "$(pstatus "$pid" CapEff)"
	expect_eq privsep_${who}_permitted_caps_trimmed 00000000000011e0 "$(pstatus "$pid" CapPrm)"
	expect_eq privsep_${who}_bounding_set_trimmed 00000000000011e0 "$(pstatus "$pid" CapBnd)"
done

knock() {
	python3 "$top/tests/tools/spoof_knock.py" 127.0.0.1 1 7000 7001 >/dev/null
	sleep 0.5
}

# A reload that applies: a new trigger's set appears.
cfg=$(write_cfg "[knock web]
sequence = udp:7100 udp:7101
open = tcp:8080")
kill -HUP "$engine_pid"
check privsep_reload_applies engine_log_wait 'reload: .* loaded' 5
check privsep_reload_new_trigger_in_table quiet nft list set inet nfq_trigger web_allow4
expect_eq privsep_engine_still_confined_after_reload 2 "$(status Seccomp)"

# A hook after the drop, as its hook_user with hook_caps alone.
knock
check privsep_hook_runs_after_drop engine_log_wait 'hook-identity event=open ip=10.77.0.1' 5
line=$(grep 'hook-identity event=open' "$work/engine.log" | tail -1)
echo "    $line"
check privsep_hook_runs_as_hook_user sh -c "echo '$line' | grep -q 'uid=$uid '"
check privsep_hook_gets_hook_caps_alone sh -c "echo '$line' | grep -q 'CapEff:0000000000001000'"

# The spawner killed: a new one is started, later hooks run.
sp_pid=$(sed -n 's/.*priv: spawner started, pid \([0-9]*\).*/\1/p' "$work/engine.log" | tail -1)
kill -KILL "$sp_pid"
check privsep_killed_spawner_replaced engine_log_wait "spawner (pid $sp_pid) was killed by signal 9" 5
sleep 1
new_pid=$(sed -n 's/.*priv: spawner started, pid \([0-9]*\).*/\1/p' "$work/engine.log" | tail -1)
check privsep_new_spawner_running [ -n "$new_pid" ] && [ "$new_pid" != "$sp_pid" ] && kill -0 "$new_pid"
n=$(grep -c 'hook-identity event=open' "$work/engine.log")
# Sources are tracked: a new one knocks (10.77.0.1 is allowed already).
python3 "$top/tests/tools/spoof_knock.py" 127.0.0.1 2 7000 7001 >/dev/null
sleep 1
check privsep_hooks_run_after_spawner_restart [ "$(grep -c 'hook-identity event=open' "$work/engine.log")" -gt "$n" ]

# A hook asked for while no spawner runs waits for the next one.
sp_pid=$new_pid
kill -KILL "$sp_pid"
sleep 0.02
SPOOF_FIRST=5 python3 "$top/tests/tools/spoof_knock.py" 127.0.0.1 1 7000 7001 >/dev/null
check privsep_hook_queued_while_spawner_down_runs engine_log_wait \
    'hook-identity event=open ip=10.77.0.6 ' 5
grep -E 'waits for the spawner|sent to the new spawner|spawner \(pid [0-9]*\)|spawner started|10.77.0.6' "$work/engine.log" |
    sed 's/^/    /'
# A new spawner is made from the trimmed privileged side.
new_pid=$(sed -n 's/.*priv: spawner started, pid \([0-9]*\).*/\1/p' "$work/engine.log" | tail -1)
expect_eq privsep_new_spawner_bounding_set_trimmed 00000000000011e0 "$(pstatus "$new_pid" CapBnd)"

# A reload cannot give a hook a capability given up at start: refused,
# with the reason, and the running configuration stays.
cfg=$(write_cfg "[knock raw]
sequence = udp:7200 udp:7201
open = tcp:8081
exec = $work/bin/whoami.sh %EVENT% %IP%
hook_caps = net_raw")
kill -HUP "$engine_pid"
check privsep_reload_new_cap_refused engine_log_wait \
    'reload: hook_caps cap_net_raw: not among the capabilities nfq-trigger kept when it started; restart it' 5
grep 'hook_caps cap_net_raw' "$work/engine.log" | sed 's/^/    /'
check privsep_refused_reload_keeps_running_config sh -c \
    "! nft list set inet nfq_trigger raw_allow4 >/dev/null 2>&1 && nft list set inet nfq_trigger web_allow4 >/dev/null"

stop_engine
check privsep_engine_exit_status [ "$engine_status" = 0 ]
check privsep_no_seccomp_kill sh -c "! grep -qi 'signal 31\|bad system call' '$work/engine.log'"
