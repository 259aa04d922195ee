# What the privileged side trusts (docs/hooks.md, "Privileges"): key and
# state files are root's with mode 0600, no symbolic link, in a directory
# nobody else can write; hook executables and their directories are root's
# and not writable by group or others; users exist. -C reports each with
# its file:line, and the daemon refuses to start on them. user = root keeps
# uid 0 and still drops every capability but CAP_NET_ADMIN.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

mkdir -m 700 "$work/keys" "$work/state"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/keys/k"
echo >>"$work/keys/k"
chmod 600 "$work/keys/k"
recording_hook
# conf NAME KEY STATE HOOK [EXTRA]: a config with one counter knock.
conf() {
	write_config "$1.ini" <<INI
[engine]
queue = 0
$5

[knock once]
key = $2
derive = counter
state = $3
frames = 3
ports = 21000-21999
open = tcp:2225
exec = $4
INI
}
# refused NAME PATTERN CONFIG: -C fails, naming the problem with file:line.
refused() {
	out=$("$NFQT" -C "$3" 2>&1)
	rc=$?
	check "$1" sh -c "[ $rc != 0 ] && echo '$out' | grep -q -- '$2'"
}

good=$(conf good "$work/keys/k" "$work/state/c" "$work/hook.sh %IP%")
check files_good_config_passes quiet "$NFQT" -C "$good"

chmod 644 "$work/keys/k"
refused files_key_open_to_others "$(basename "$good"):[0-9]*: .*keys/k is open to" "$good"
chmod 600 "$work/keys/k"
ln -s "$work/keys/k" "$work/keys/link"
cfg=$(conf link "$work/keys/link" "$work/state/c" "$work/hook.sh")
refused files_key_symlink_refused "link.ini:[0-9]*: .*symbolic link" "$cfg"
chmod 770 "$work/keys"
refused files_key_directory_writable_refused "good.ini:[0-9]*: .*directory .*keys is writable by its group" "$good"
chmod 700 "$work/keys"

echo 5 >"$work/state/c"
chmod 644 "$work/state/c"
refused files_state_open_to_others "good.ini:[0-9]*: .*state/c is open to" "$good"
chmod 600 "$work/state/c"
ln -s "$work/state/c" "$work/state/link"
cfg=$(conf slink "$work/keys/k" "$work/state/link" "$work/hook.sh")
refused files_state_symlink_refused "slink.ini:[0-9]*: .*symbolic link" "$cfg"
chmod 703 "$work/state"
refused files_state_directory_writable_refused "good.ini:[0-9]*: .*state is writable by others" "$good"
chmod 700 "$work/state"

chmod 777 "$work/hook.sh"
refused files_hook_writable_refused "good.ini:[0-9]*: knock once: exec: .*writable by others" "$good"
chmod 700 "$work/hook.sh"
chown nobody "$work/hook.sh"
refused files_hook_not_roots_refused "good.ini:[0-9]*: knock once: exec: .*owned by uid" "$good"
chown root "$work/hook.sh"
mkdir -m 777 "$work/open"
cp "$work/hook.sh" "$work/open/hook.sh"
cfg=$(conf opendir "$work/keys/k" "$work/state/c" "$work/open/hook.sh")
refused files_hook_directory_writable_refused "opendir.ini:[0-9]*: knock once: exec: .*open is writable" "$cfg"

cfg=$(conf nouser "$work/keys/k" "$work/state/c" "$work/hook.sh" "user = nfqt-no-such-user")
refused files_engine_user_must_exist "nouser.ini:[0-9]*: engine: user: no user 'nfqt-no-such-user'" "$cfg"
"$NFQT" -c "$cfg" >"$work/start.log" 2>&1
rc=$?
check files_engine_user_missing_start_refused sh -c "[ $rc != 0 ] && grep -q \"no user 'nfqt-no-such-user'\" '$work/start.log'"
cat >>"$good" <<INI
hook_user = nfqt-no-such-user
INI
refused files_hook_user_must_exist "good.ini:[0-9]*: knock once: hook_user: no user" "$good"

# The daemon refuses an unsafe hook at start too.
cfg=$(conf unsafe "$work/keys/k" "$work/state/c" "$work/open/hook.sh")
"$NFQT" -c "$cfg" >"$work/start2.log" 2>&1
rc=$?
sed 's/^/    /' "$work/start2.log"
check files_unsafe_hook_start_refused sh -c "[ $rc != 0 ] && grep -q 'unsafe.ini:[0-9]*: knock once: exec: .*writable' '$work/start2.log'"

# user = root: uid 0, capabilities still CAP_NET_ADMIN alone.
cfg=$(write_config root.ini <<INI
[engine]
queue = 0
user = root

[knock ssh]
sequence = udp:7000 udp:7001
open = tcp:2222
INI
)
start_engine "$cfg" || exit 1
expect_eq files_user_root_keeps_uid_0 0 "$(awk '/^Uid/ { print $3 }' "/proc/$engine_pid/status")"
expect_eq files_user_root_cap_net_admin_alone 0000000000001000 \
    "$(awk '/^CapEff/ { print $2 }' "/proc/$engine_pid/status")"
expect_eq files_user_root_seccomp 2 "$(awk '/^Seccomp:/ { print $2 }' "/proc/$engine_pid/status")"
stop_engine
