# The systemd unit's sandbox: systemd-analyze's exposure score is 2.0 or
# better (lower is better; systemd-timesyncd scores 2.3 here), and the
# unit keeps what the daemon needs: Type=notify, reload by SIGHUP, a
# watchdog, before network-pre.target, netlink and local sockets only.
. "$(dirname "$0")/../lib.sh"
unit=$top/contrib/systemd/nfq-trigger.service

if ! command -v systemd-analyze >/dev/null 2>&1; then
	not_ok "systemd_unit_analyze_available (apt-get install systemd)"
	exit 1
fi
out=$(systemd-analyze security --offline=yes "$unit" 2>&1)
score=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure of nfq-trigger.service: ${score:-none}"
check systemd_unit_exposure_at_most_2_0 awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
check systemd_unit_type_notify grep -qx 'Type=notify' "$unit"
check systemd_unit_reload_by_hup grep -q '^ExecReload=.*kill -HUP \$MAINPID' "$unit"
check systemd_unit_watchdog grep -q '^WatchdogSec=' "$unit"
check systemd_unit_before_network_pre grep -q '^Before=network-pre.target' "$unit"
check systemd_unit_netlink_and_unix_only grep -qx 'RestrictAddressFamilies=AF_NETLINK AF_UNIX' "$unit"
check systemd_unit_no_new_privileges grep -qx 'NoNewPrivileges=yes' "$unit"
check systemd_unit_no_writable_executable_memory grep -qx 'MemoryDenyWriteExecute=yes' "$unit"

# The README's drop-in for metrics_listen and IP-talking hooks, merged by
# systemd over the unit: Internet sockets and /dev/net/tun become allowed,
# netlink and unix sockets stay, packet sockets stay refused.
root=$(mktemp -d /tmp/nfqt-unit.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system/nfq-trigger.service.d"
cp "$unit" "$root/etc/systemd/system/"
sed -n '/^  ```ini$/,/^  ```$/p' "$top/README.md" | sed '1d;$d;s/^  //' \
    >"$root/etc/systemd/system/nfq-trigger.service.d/override.conf"
check systemd_unit_readme_dropin_found grep -qx 'RestrictAddressFamilies=AF_INET AF_INET6' \
    "$root/etc/systemd/system/nfq-trigger.service.d/override.conf"
before=$out
out=$(systemd-analyze security --offline=yes --root="$root" nfq-trigger.service 2>&1)
has() { echo "$1" | grep -q -- "$2"; }
check systemd_unit_inet_refused_without_dropin has "$before" '✓ RestrictAddressFamilies=~AF_(INET|INET6)'
check systemd_unit_dropin_allows_inet has "$out" '✗ RestrictAddressFamilies=~AF_(INET|INET6)'
check systemd_unit_dropin_keeps_netlink has "$out" '✗ RestrictAddressFamilies=~AF_NETLINK'
check systemd_unit_dropin_keeps_packet_refused has "$out" '✓ RestrictAddressFamilies=~AF_PACKET'
check systemd_unit_dropin_allows_tun has "$out" 'DeviceAllow=.*/dev/net/tun:rw'
