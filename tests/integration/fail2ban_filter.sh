# The fail2ban filter (contrib/fail2ban/) against event log lines in the
# engine's format (src/engine/event.c), through Debian's fail2ban-regex: every
# failed or refused line of nfq-trigger gives its source, nothing else does.
# The lines are written by hand here, in the three ways the log reaches a
# file: syslog's classic and RFC 3339 stamps with "nfq-trigger[PID]: ", and
# stderr ("nfq-trigger: ") behind a time stamp. No network, no root needed.
. "$(dirname "$0")/../lib.sh"
work=$(mktemp -d /tmp/nfqt-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! command -v fail2ban-regex >/dev/null 2>&1; then
	not_ok "fail2ban_regex_installed (apt-get install fail2ban)"
	exit 1
fi
# The filter includes fail2ban's common.conf, found beside it.
mkdir "$work/filter.d"
cp /etc/fail2ban/filter.d/common.conf "$top/contrib/fail2ban/filter.d/nfq-trigger.conf" \
    "$work/filter.d/"
filter=$work/filter.d/nfq-trigger.conf

cat >"$work/failures.log" <<'LOG'
Dec  1 17:02:01 gw nfq-trigger[812]: event=failed kind=knock trigger=ssh src=192.0.2.7 reason=wrong-order
Dec  1 17:02:02 gw nfq-trigger[812]: event=failed kind=knock trigger=ssh src=192.0.2.7 reason=window-expired
2026-12-01T17:02:03.412093+00:00 gw nfq-trigger[812]: event=failed kind=knock trigger=vpn-gate src=2001:db8::7 reason=step-used
2026-12-01T17:02:04.000001+00:00 gw nfq-trigger[812]: event=refused kind=spa trigger=ssh src=198.51.100.9 reason=replay
2026-12-01 17:02:05 nfq-trigger: event=failed kind=spa trigger=ssh src=2001:db8:0:1::2 reason=bad-mac
2026-12-01 17:02:06 nfq-trigger: event=refused kind=spa trigger=ssh src=203.0.113.40 reason=too-old
LOG

cat >"$work/others.log" <<'LOG'
Dec  1 17:03:01 gw nfq-trigger[812]: event=opened kind=knock trigger=ssh src=192.0.2.8 reason=-
Dec  1 17:03:02 gw nfq-trigger[812]: event=closed kind=knock trigger=ssh src=192.0.2.8 reason=revoked
Dec  1 17:03:03 gw nfq-trigger[812]: event=blocked kind=count trigger=ssh-flood src=192.0.2.9 reason=threshold
Dec  1 17:03:04 gw nfq-trigger[812]: event=hook-refused kind=knock trigger=ssh src=192.0.2.10 reason=open
Dec  1 17:03:05 gw nfq-trigger[812]: event=hook-failed kind=knock trigger=ssh src=192.0.2.11 reason=open-timeout
Dec  1 17:03:06 gw nfq-trigger[812]: event=started kind=activity trigger=vpn src=- reason=-
Dec  1 17:03:07 gw nfq-trigger[812]: event=suppressed kind=- trigger=- src=- reason=12-lines-over-rate
Dec  1 17:03:08 gw nfq-trigger[812]: event=failed kind=knock trigger=ssh src=- reason=wrong-order
Dec  1 17:03:09 gw sshd[99]: event=failed kind=knock trigger=ssh src=203.0.113.1 reason=wrong-order
Dec  1 17:03:10 gw nfq-trigger[812]: knock ssh: 192.0.2.12 event=failed kind=knock trigger=ssh src=192.0.2.12 reason=x
Dec  1 17:03:11 gw nfq-trigger[812]: event=failed kind=knock trigger=ssh src=192.0.2.13 reason=wrong-order extra=1
LOG

# fail2ban-regex -o ip: one line per match, the address it found.
fail2ban-regex -o ip "$work/failures.log" "$filter" >"$work/ips" 2>"$work/err"
expect_eq fail2ban_filter_loads 0 $?
expect_eq fail2ban_filter_finds_every_failure_source \
    "192.0.2.7 192.0.2.7 2001:db8::7 198.51.100.9 2001:db8:0:1::2 203.0.113.40" \
    "$(tr '\n' ' ' <"$work/ips" | sed 's/ $//')"

fail2ban-regex -o ip "$work/others.log" "$filter" >"$work/ips" 2>"$work/err"
expect_eq fail2ban_filter_loads_for_other_lines 0 $?
expect_eq fail2ban_filter_ignores_non_failures_and_other_daemons "" "$(cat "$work/ips")"

# The summary agrees: six matched, none missed.
fail2ban-regex "$work/failures.log" "$filter" >"$work/summary" 2>&1
check fail2ban_regex_summary_six_matched grep -q 'Lines: 6 lines, 0 ignored, 6 matched, 0 missed' \
    "$work/summary"

# The example jail reads with the filter in a copy of the host's fail2ban
# configuration (without Debian's sshd jail, which wants a log this machine
# may not have).
cp -r /etc/fail2ban "$work/etc"
rm -f "$work/etc/jail.d/"*
cp "$top/contrib/fail2ban/filter.d/nfq-trigger.conf" "$work/etc/filter.d/"
cp "$top/contrib/fail2ban/jail.d/nfq-trigger.local" "$work/etc/jail.d/"
check fail2ban_example_jail_passes_config_test quiet fail2ban-client -c "$work/etc" -t
fail2ban-client -c "$work/etc" -d 2>/dev/null >"$work/dump"
check fail2ban_example_jail_bans_tcp_and_udp grep -q 'l4proto \\\\{ tcp,udp \\\\}' "$work/dump"
check fail2ban_example_jail_reads_the_units_journal \
    grep -q "'addjournalmatch', '_SYSTEMD_UNIT=nfq-trigger.service'" "$work/dump"
