# make install and make uninstall: into a DESTDIR, every file where it belongs
# with its mode (the config 0600, never overwritten), the unit naming the
# installed paths; uninstall leaves only directories and the config. Then
# once to the real root (DESTDIR empty) with a PREFIX under the test's
# directory, in a mount namespace of its own whose /etc is a copy, so the
# engine's user is created there and the host's /etc is never written.
. "$(dirname "$0")/../lib.sh"
work=$(mktemp -d /tmp/nfqt-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export top O work
# A make above us (make check) passes its flags and jobserver down; not wanted here.
unset MAKEFLAGS MFLAGS MAKELEVEL

dest=$work/dest
make -s -C "$top" install DESTDIR="$dest" O="$O" >"$work/install.out" 2>&1
rc=$?
expect_eq install_destdir_succeeds 0 $rc
[ $rc = 0 ] || cat "$work/install.out"

# expected_files PREFIX SYSCONFDIR: every file install puts, without DESTDIR.
expected_files() {
	p=$1 etc=$2 doc=$1/share/doc/nfq-trigger
	echo "$etc/nfq-trigger/nfq-trigger.ini"
	echo "$etc/fail2ban/filter.d/nfq-trigger.conf"
	echo "$p/sbin/nfq-trigger"
	echo "$p/bin/nfq-knock"
	echo "$p/share/man/man1/nfq-knock.1"
	echo "$p/share/man/man5/nfq-trigger.ini.5"
	echo "$p/share/man/man8/nfq-trigger.8"
	for f in "$top"/README.md "$top"/docs/*.md; do echo "$doc/$(basename "$f")"; done
	echo "$doc/examples/nfq-trigger.ini"
	echo "$doc/examples/fail2ban/nfq-trigger.local"
	for f in "$top"/rules/*.ini; do echo "$doc/examples/rules/$(basename "$f")"; done
	for f in "$top"/rules/dumps/*; do echo "$doc/examples/rules/dumps/$(basename "$f")"; done
	for f in "$top"/nft/*.nft; do echo "$doc/examples/nft/$(basename "$f")"; done
	[ -f "$top/contrib/systemd/nfq-trigger.service" ] &&
	    echo "$p/lib/systemd/system/nfq-trigger.service"
	return 0
}
# files_under DIR: what is in DIR, as absolute paths below it.
files_under() { (cd "$1" && find . ! -type d | sed 's|^\.||' | sort); }

expected_files /usr/local /etc | sort >"$work/expected"
files_under "$dest" >"$work/got"
expect_eq install_puts_every_file_and_nothing_else "" "$(diff "$work/expected" "$work/got")"

# Modes: the config 0600 (it names commands that run as root), the programs
# 0755, everything else 0644.
bad=
while read -r f; do
	case $f in
	/etc/nfq-trigger/nfq-trigger.ini) want=600 ;;
	*/sbin/nfq-trigger|*/bin/nfq-knock) want=755 ;;
	*) want=644 ;;
	esac
	got=$(stat -c %a "$dest$f")
	[ "$got" = "$want" ] || bad="$bad $f:$got"
done <"$work/expected"
expect_eq install_modes_config_0600_programs_0755_rest_0644 "" "$bad"

# Contents: copies of the tree, the unit with its paths rewritten.
check install_engine_is_the_built_one cmp -s "$top/$O/nfq-trigger" "$dest/usr/local/sbin/nfq-trigger"
check install_installed_engine_runs quiet "$dest/usr/local/sbin/nfq-trigger" --version
check install_config_is_the_shipped_one cmp -s "$top/nfq-trigger.ini" "$dest/etc/nfq-trigger/nfq-trigger.ini"
check install_man8_is_the_page cmp -s "$top/docs/nfq-trigger.8" "$dest/usr/local/share/man/man8/nfq-trigger.8"
check install_fail2ban_filter_is_the_contrib_one cmp -s "$top/contrib/fail2ban/filter.d/nfq-trigger.conf" \
    "$dest/etc/fail2ban/filter.d/nfq-trigger.conf"
check install_example_rules_are_copies cmp -s "$top/rules/knock-ssh.ini" \
    "$dest/usr/local/share/doc/nfq-trigger/examples/rules/knock-ssh.ini"
check install_says_it_skips_the_user_under_destdir grep -q "DESTDIR set: not creating the user nfq-trigger" \
    "$work/install.out"

# An existing config is the admin's: a second install keeps it, and says so.
echo "; edited by the admin" >>"$dest/etc/nfq-trigger/nfq-trigger.ini"
make -s -C "$top" install DESTDIR="$dest" O="$O" >"$work/install2.out" 2>&1
expect_eq install_again_succeeds 0 $?
check install_keeps_an_edited_config grep -q "edited by the admin" "$dest/etc/nfq-trigger/nfq-trigger.ini"
check install_says_it_keeps_the_config grep -q "keeping the existing" "$work/install2.out"
expect_eq install_again_leaves_the_config_0600 600 "$(stat -c %a "$dest/etc/nfq-trigger/nfq-trigger.ini")"

make -s -C "$top" uninstall DESTDIR="$dest" O="$O" >"$work/uninstall.out" 2>&1
expect_eq uninstall_succeeds 0 $?
expect_eq uninstall_leaves_only_the_config "/etc/nfq-trigger/nfq-trigger.ini" "$(files_under "$dest")"
check uninstall_says_it_keeps_the_config grep -q "kept $dest/etc/nfq-trigger/nfq-trigger.ini" \
    "$work/uninstall.out"
check uninstall_removes_the_doc_directory test ! -e "$dest/usr/local/share/doc/nfq-trigger"

# PREFIX=/usr, as a package builds it: the unit names /usr/sbin.
dest=$work/dest-usr
make -s -C "$top" install DESTDIR="$dest" PREFIX=/usr O="$O" >"$work/install.out" 2>&1
expect_eq install_prefix_usr_succeeds 0 $?
expected_files /usr /etc | sort >"$work/expected"
files_under "$dest" >"$work/got"
expect_eq install_prefix_usr_puts_every_file "" "$(diff "$work/expected" "$work/got")"
if [ -f "$top/contrib/systemd/nfq-trigger.service" ]; then
	unit=$dest/usr/lib/systemd/system/nfq-trigger.service
	check install_unit_starts_the_installed_engine \
	    grep -q '^ExecStart=/usr/sbin/nfq-trigger ' "$unit"
	check install_unit_names_no_other_sbin sh -c "! grep -q /usr/local/ '$unit'"
fi
make -s -C "$top" uninstall DESTDIR="$dest" PREFIX=/usr O="$O" >/dev/null 2>&1
expect_eq uninstall_prefix_usr_leaves_only_the_config "/etc/nfq-trigger/nfq-trigger.ini" \
    "$(files_under "$dest")"

# To the real root: only as root, and only with /etc replaced by a copy in a
# private mount namespace (checked by a marker before anything is installed).
if [ "$(id -u)" != 0 ]; then
	not_ok "install_real_root_creates_the_user (needs root for a mount namespace)"
	exit 0
fi
cat >"$work/root.sh" <<'SH'
. "$top/tests/lib.sh"
mount --make-rprivate / || exit 1
cp -a /etc "$work/etc" && touch "$work/etc/.nfqt-install-test" || exit 1
for f in passwd group shadow gshadow; do
	[ -f "$work/etc/$f" ] && sed -i '/^nfq-trigger:/d' "$work/etc/$f"
done
mount --bind "$work/etc" /etc || exit 1
if [ ! -e /etc/.nfqt-install-test ]; then
	not_ok "install_real_root_etc_is_the_copy"
	exit 1
fi
root=$work/root
check install_real_root_no_user_before sh -c '! id -u nfq-trigger >/dev/null 2>&1'
make -s -C "$top" install PREFIX="$root" SYSCONFDIR="$root/etc" O="$O" >"$work/root.out" 2>&1
expect_eq install_real_root_succeeds 0 $?
check install_real_root_creates_the_user quiet id -u nfq-trigger
check install_real_root_user_is_a_system_user sh -c \
    '[ "$(id -u nfq-trigger)" -lt 1000 ] && getent passwd nfq-trigger | grep -q ":/nonexistent:/usr/sbin/nologin$"'
check install_real_root_user_has_its_group quiet getent group nfq-trigger
make -s -C "$top" install PREFIX="$root" SYSCONFDIR="$root/etc" O="$O" >"$work/root2.out" 2>&1
expect_eq install_real_root_again_succeeds_with_the_user 0 $?
check install_real_root_says_the_user_exists grep -q "the user nfq-trigger exists" "$work/root2.out"
make -s -C "$top" uninstall PREFIX="$root" SYSCONFDIR="$root/etc" O="$O" >"$work/root3.out" 2>&1
expect_eq uninstall_real_root_succeeds 0 $?
check uninstall_real_root_keeps_the_user quiet id -u nfq-trigger
expect_eq uninstall_real_root_leaves_only_the_config "$root/etc/nfq-trigger/nfq-trigger.ini" \
    "$(find "$root" ! -type d)"
SH
users_before=$(cat /etc/passwd /etc/group | md5sum)
unshare -m sh "$work/root.sh"
expect_eq install_real_root_namespace_finishes 0 $?
check install_real_root_leaves_the_hosts_etc_alone test ! -e /etc/.nfqt-install-test
expect_eq install_real_root_leaves_the_hosts_users_alone "$users_before" \
    "$(cat /etc/passwd /etc/group | md5sum)"
