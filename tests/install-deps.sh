#!/bin/sh
# Installs, on Debian 12, whatever building nfq-trigger, its demo and its
# tests need and the machine lacks. Installs nothing when all is there.
set -eu

# fail2ban is there for fail2ban-regex (tests/integration/fail2ban_filter.sh)
# alone: its daemon, which Debian would start with the sshd jail and which
# changes the host's firewall, is neither started nor enabled here (see the
# end). knockd is not listed: only bench/knockd-latency uses it, and its
# unit would run a knock daemon whose default config runs iptables commands.
packages="
gcc make pkg-config libc6-dev
libnetfilter-queue-dev libmnl-dev libnftnl-dev libnfnetlink-dev libinih-dev
libcmocka-dev libsodium-dev libfko3-dev libcap-dev libseccomp-dev clang libclang-rt-14-dev
fwknop-client passwd systemd
nftables iptables iproute2 util-linux procps python3 hping3 valgrind strace
fail2ban man-db groff-base python3-prometheus-client
"

missing=
for p in $packages; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
if [ "$(id -u)" = 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	echo "install-deps: need root to install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# No service that these packages bring may start while they install
# (policy-rc.d's 101 is "not allowed"; invoke-rc.d and systemd's hooks obey).
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' | $as_root tee $policy >/dev/null
	$as_root chmod 755 $policy
fi
$as_root apt-get install -y -q --no-install-recommends $missing ||
    { [ -n "$policy" ] && $as_root rm -f $policy; exit 1; }
[ -n "$policy" ] && $as_root rm -f $policy
case " $missing " in
*" fail2ban "*)
	if command -v systemctl >/dev/null 2>&1; then
		$as_root systemctl disable --now fail2ban >/dev/null 2>&1 || true
	fi
	echo "install-deps: fail2ban installed for fail2ban-regex; its daemon is left disabled";;
esac
exit 0
