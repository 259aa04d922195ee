# The command line: --help, --version, -C on good and bad files.
. "$(dirname "$0")/../lib.sh"
work=$(mktemp -d /tmp/nfqt-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

check cli_help_exits_zero quiet "$NFQT" --help
check cli_help_mentions_check sh -c "'$NFQT' --help | grep -q -- '-C, --check'"
check cli_version_prints_version sh -c "'$NFQT' --version | grep -q '^nfq-trigger [0-9]'"
"$NFQT" --bogus >/dev/null 2>&1
expect_eq cli_unknown_option_exits_2 2 $?

check cli_check_shipped_config quiet "$NFQT" -C "$top/nfq-trigger.ini"
for f in "$top"/rules/*.ini; do
	check "cli_check_example_$(basename "$f" .ini)" quiet "$NFQT" -C "$f"
done

cfg=$(write_config bad.ini <<'INI'
[engine]
queue = seven
fail_open = maybe

[knock ssh]
sequence = udp:7000 tcp:80:q
window = 10
open = tcp:22
colour = blue

[wibble]
INI
)
"$NFQT" -C "$cfg" >"$work/out" 2>&1
expect_eq cli_check_bad_config_fails 1 $?
check cli_check_reports_line_2 grep -q "bad.ini:2: " "$work/out"
check cli_check_reports_line_3 grep -q "bad.ini:3: " "$work/out"
check cli_check_reports_line_6_frame grep -q "bad.ini:6: .*tcp:80:q" "$work/out"
check cli_check_reports_line_7 grep -q "bad.ini:7: " "$work/out"
check cli_check_reports_line_9 grep -q "bad.ini:9: " "$work/out"
check cli_check_reports_line_11 grep -q "bad.ini:11: " "$work/out"

chmod 666 "$cfg"
printf '[engine]\nqueue = 1\n' >"$cfg"
"$NFQT" -C "$cfg" >"$work/out" 2>&1
check cli_check_refuses_world_writable_config [ $? != 0 ]
