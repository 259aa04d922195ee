# fail2ban on the engine's real log: wrong knocks from two sources make the
# engine log its failure events, and Debian's
# fail2ban-regex with the shipped filter (contrib/fail2ban/) finds exactly
# those sources; a knock that opens is not a failure. The lines are time
# stamped as a log collector (journald, syslog) stamps them.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
ip addr add 127.0.0.2/8 dev lo 2>/dev/null
ip addr add 127.0.0.3/8 dev lo 2>/dev/null

if ! command -v fail2ban-regex >/dev/null 2>&1; then
	not_ok "fail2ban_regex_installed (apt-get install fail2ban)"
	exit 1
fi
cfg=$(write_config f2b.ini <<INI
[engine]
queue = 0

[knock ssh]
sequence = udp:7000 udp:7001 udp:7002
window = 5s
open = tcp:2222
allow_timeout = 30s
INI
)
# One datagram from a given source address (hping3 -a), to the host.
udp_from() { timeout 0.3 hping3 -q -2 -c 1 -a "$1" -p "$2" 127.0.0.1 >/dev/null 2>&1; true; }
start_engine "$cfg" -v || exit 1

# 127.0.0.2 twice out of order (a reset each), 127.0.0.3 once; 127.0.0.1
# knocks right and opens.
for src in 127.0.0.2 127.0.0.2 127.0.0.3; do
	udp_from "$src" 7000; udp_from "$src" 7002
done
udp_from 127.0.0.1 7000; udp_from 127.0.0.1 7001; udp_from 127.0.0.1 7002
engine_log_wait 'event=opened kind=knock trigger=ssh src=127.0.0.1' 5
stop_engine

stamp=$(date '+%Y-%m-%d %H:%M:%S')
sed "s/^/$stamp /" "$work/engine.log" >"$work/stamped.log"
mkdir "$work/filter.d"
cp /etc/fail2ban/filter.d/common.conf "$top/contrib/fail2ban/filter.d/nfq-trigger.conf" \
    "$work/filter.d/"
check fail2ban_engine_logged_failures grep -q 'event=failed kind=knock trigger=ssh src=127.0.0.2' \
    "$work/engine.log"
fail2ban-regex -o ip "$work/stamped.log" "$work/filter.d/nfq-trigger.conf" >"$work/ips" 2>"$work/err"
expect_eq fail2ban_engine_filter_runs 0 $?
expect_eq fail2ban_engine_finds_the_wrong_knockers "127.0.0.2 127.0.0.3" \
    "$(sort -u "$work/ips" | tr '\n' ' ' | sed 's/ $//')"
expect_eq fail2ban_engine_counts_each_failure \
    "$(grep -c 'event=failed' "$work/engine.log")" "$(wc -l <"$work/ips" | tr -d ' ')"
