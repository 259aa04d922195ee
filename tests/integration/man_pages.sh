# The manual pages: each renders without a warning from groff or man, and
# nfq-trigger(8) documents every option and command the binary's --help
# names, so a new command cannot ship undocumented.
. "$(dirname "$0")/../lib.sh"
work=$(mktemp -d /tmp/nfqt-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

for page in nfq-trigger.8 nfq-trigger.ini.5 nfq-knock.1; do
	MANWIDTH=80 man -l --warnings "$top/docs/$page" >"$work/out" 2>"$work/err"
	rc=$?
	expect_eq "man_${page}_renders" 0 $rc
	expect_eq "man_${page}_renders_without_warnings" "" "$(cat "$work/err")"
	check "man_${page}_has_a_name_section" grep -q '^NAME' "$work/out"
done

# Options: every "--long" in --help is in the page, as \-\-long.
"$NFQT" --help >"$work/help"
for opt in $(grep -o -- '--[a-z][a-z-]*' "$work/help" | sort -u); do
	esc=$(echo "$opt" | sed 's/-/\\\\-/g')
	check "man_nfq-trigger.8_documents_option_$opt" grep -q -- "$esc" "$top/docs/nfq-trigger.8"
done
# Commands: the first word after "[-c FILE]" in each usage line, and the words
# after each " | " there, each a .B or .BI item of COMMANDS.
sed -n 's/^ *\(usage:\)\{0,1\} *nfq-trigger \[-c FILE\] //p' "$work/help" |
    sed 's/ | /\n/g' | awk '{ print $1 }' | sort -u >"$work/commands"
check man_help_names_remove_table grep -qx remove-table "$work/commands"
sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$top/docs/nfq-trigger.8" >"$work/commands.man"
for c in $(cat "$work/commands"); do
	esc=$(echo "$c" | sed 's/-/\\\\-/g')
	check "man_nfq-trigger.8_documents_command_$c" \
	    grep -Eq "^\.(B|BI|BR) \"?($c|$esc)( |\"|$)" "$work/commands.man"
done
