# Reload keeps what did not change (docs/design.md): a knock in progress
# and the allow sets survive SIGHUP; a new max_sources resizes the sets and
# keeps their addresses; a removed trigger goes with its sets and rules; a
# new table name builds the new table, carries the addresses over and
# removes the old one, so nothing is left guarding; a file with errors is
# refused with file:line in the log and the running config stays.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
ip addr add 127.0.0.2/8 dev lo 2>/dev/null

cfg=$(write_config reload.ini <<INI
[engine]
queue = 0
control = $work/control.sock
max_sources = 1000

[knock ssh]
sequence = udp:7000 udp:7001
window = 20s
open = tcp:2222
allow_timeout = 60s

[knock web]
sequence = udp:7100 udp:7101
window = 20s
open = tcp:2223

[knock gone]
sequence = udp:7200 udp:7201
open = tcp:2224
INI
)
ctl() { "$NFQT" -c "$cfg" "$@"; }
udp_frame() { timeout 0.3 hping3 -q -2 -c 1 -p "$2" "$1" >/dev/null 2>&1; true; }
reloaded() {	# reloaded N: wait until N reloads were applied
	for _ in $(seq 50); do
		[ "$(grep -c 'reload: .* loaded' "$work/engine.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
set_size() { nft list set inet "$1" "$2" 2>/dev/null | sed -n 's/^[[:space:]]*size \([0-9]*\)/\1/p'; }

tcp_server 127.0.0.1 2222
tcp_server 127.0.0.1 2223
start_engine "$cfg" || exit 1
udp_frame 127.0.0.1 7000
udp_frame 127.0.0.1 7001
udp_frame 127.0.0.1 7100	# web: first frame only, in progress
sleep 0.3
expect_eq reload_knocked_open open "$(tcp_probe 127.0.0.1 2222)"

# Unchanged file: state stays.
kill -HUP "$engine_pid"
check reload_applied reloaded 1
expect_eq reload_allow_kept open "$(tcp_probe 127.0.0.1 2222)"
udp_frame 127.0.0.1 7101	# completes web's knock begun before the reload
sleep 0.3
expect_eq reload_knock_in_progress_kept open "$(tcp_probe 127.0.0.1 2223)"

# A new max_sources resizes the sets; their addresses stay.
expect_eq reload_set_size_before 1000 "$(set_size nfq_trigger ssh_allow4)"
sed -i 's/^max_sources = 1000/max_sources = 3000/' "$cfg"
kill -HUP "$engine_pid"
check reload_max_sources_applied reloaded 2
expect_eq reload_set_size_applied 3000 "$(set_size nfq_trigger ssh_allow4)"
expect_eq reload_resize_keeps_allowed open "$(tcp_probe 127.0.0.1 2222)"
check reload_resize_keeps_time_left sh -c "'$NFQT' -c '$cfg' list ssh | grep -q '^127.0.0.1 allowed [0-9]*\.[0-9]s left'"

# A removed trigger goes with its sets and rules.
check reload_gone_there_before sh -c "nft list table inet nfq_trigger 2>/dev/null | grep -q gone_allow4"
sed -i '/^\[knock gone\]/,$d' "$cfg"
kill -HUP "$engine_pid"
check reload_removal_applied reloaded 3
expect_eq reload_removed_trigger_sets_gone 0 "$(nft list table inet nfq_trigger 2>/dev/null | grep -c 'gone_\|2224\|7200')"
check reload_status_forgets_removed sh -c "! '$NFQT' -c '$cfg' list gone 2>/dev/null"

# A new table name: the new table guards, the old one is gone.
sed -i 's/^queue = 0/queue = 0\ntable = fw_new/' "$cfg"
kill -HUP "$engine_pid"
check reload_table_rename_applied reloaded 4
check reload_old_table_removed sh -c "! nft list table inet nfq_trigger >/dev/null 2>&1"
check reload_new_table_there quiet nft list table inet fw_new
expect_eq reload_rename_keeps_allowed open "$(tcp_probe 127.0.0.1 2222)"
expect_eq reload_rename_still_guards closed "$(tcp_probe 127.0.0.1 2222 127.0.0.2)"
check reload_rename_list_reads_new_table sh -c "'$NFQT' -c '$cfg' list ssh | grep -q '^127.0.0.1 allowed'"

# `nfq-trigger reload` that moves the control socket within a directory only
# root may write ($work): the engine, no longer root, cannot make the new
# one, so the privileged side does; the reply comes over the old one, which
# then goes.
cp "$cfg" "$work/old.ini"
old_sock=$(sed -n 's/^control = //p' "$cfg")
sed -i "s|^control = .*|control = $work/moved.sock|" "$cfg"
check reload_control_moved_replies sh -c "'$NFQT' -c '$work/old.ini' reload | grep -q loaded"
check reload_control_moved_logged engine_log_wait "control: $work/moved.sock\$"
check reload_moved_control_socket_answers quiet "$NFQT" -c "$cfg" status
expect_eq reload_moved_control_socket_owner_only "600 root" "$(stat -c '%a %U' "$work/moved.sock")"
check reload_old_control_socket_gone test ! -e "$old_sock"
cp "$work/old.ini" "$cfg"

# Errors: refused with file:line, the running config stays.
printf '[knock bad]\nsequence = udp:99999\n' >>"$cfg"
kill -HUP "$engine_pid"
check reload_error_logged_with_line engine_log_wait 'reload: .*reload.ini:[0-9]*: '
check reload_error_keeps_running engine_log_wait 'keeping the running configuration'
expect_eq reload_error_keeps_allowed open "$(tcp_probe 127.0.0.1 2222)"
stop_engine
expect_eq reload_engine_exit_status 0 "$engine_status"
nft delete table inet fw_new 2>/dev/null
