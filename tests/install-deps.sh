#!/bin/sh
# Installs, on Debian 12, whatever building nfq-trigger, its demo and its
# tests need and the machine lacks. Installs nothing when all is there.
set -eu

# fail2ban is there for fail2ban-regex (tests/integration/fail2ban_filter.sh);
# Debian starts its service with the sshd jail. knockd is not listed: only
# bench/knockd-latency uses it, and its unit would run a knock daemon
# whose default config runs iptables commands.
packages="
gcc make pkg-config libc6-dev
libnetfilter-queue-dev libmnl-dev libnftnl-dev libnfnetlink-dev libinih-dev
libcmocka-dev libsodium-dev clang libclang-rt-14-dev
nftables iptables iproute2 util-linux procps python3 hping3
fail2ban man-db groff-base
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
$as_root apt-get install -y -q --no-install-recommends $missing
