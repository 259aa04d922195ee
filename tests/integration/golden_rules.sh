# Golden ruleset dumps: for each rules/NAME.ini the engine builds its table
# in this test's own network namespace, and `nft list table` of it must
# equal rules/dumps/NAME.nft, so a change to the generated rules shows in
# review as a change to that file. On a mismatch the diff is printed.
#
# The listing is normalised only where it is not stable from one run or
# kernel to the next: counters and set elements' expiry are state, not
# rules (`nft -s`, and " expires ..." cut), and a kernel with nft's native
# queue expression prints the divert as "queue flags bypass to N" where the
# xtables target this machine uses prints "queue num N bypass".
#
# GOLDEN_UPDATE=1 (tests/golden-update, make golden) writes the dumps
# instead of comparing them.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

dumps=$top/rules/dumps

# table_of INI: the table the config names, or the default.
table_of() {
	t=$(sed -n 's/^[[:space:]]*table[[:space:]]*=[[:space:]]*\([^[:space:];#]*\).*/\1/p' "$1" | head -1)
	echo "${t:-nfq_trigger}"
}

# golden_list TABLE: the table as the dumps hold it.
golden_list() {
	nft -s list table inet "$1" 2>/dev/null | sed \
	    -e 's/ expires [0-9dhms.]*//g' \
	    -e 's/queue flags bypass to \([0-9-]*\)/queue num \1 bypass/' \
	    -e 's/queue to \([0-9-]*\)/queue num \1/'
}

for ini in "$top"/rules/*.ini; do
	name=$(basename "$ini" .ini)
	table=$(table_of "$ini")
	# The engine refuses a config that is not root's or is writable by
	# others; a copy in the test's directory is root's, mode 600.
	cfg=$(write_config "$name.ini" <"$ini")
	if ! start_engine "$cfg" >"$work/$name.start" 2>&1; then
		not_ok "golden_rules_${name}_matches_dump (engine did not start)"
		sed 's/^/    /' "$work/$name.start"
		continue
	fi
	golden_list "$table" >"$work/$name.nft"
	stop_engine
	nft delete table inet "$table" 2>/dev/null
	if [ ! -s "$work/$name.nft" ]; then
		not_ok "golden_rules_${name}_matches_dump (no table inet $table)"
		continue
	fi
	if [ -n "${GOLDEN_UPDATE:-}" ]; then
		mkdir -p "$dumps"
		if cmp -s "$work/$name.nft" "$dumps/$name.nft"; then
			echo "unchanged rules/dumps/$name.nft"
		else
			cp "$work/$name.nft" "$dumps/$name.nft"
			echo "wrote rules/dumps/$name.nft"
		fi
		continue
	fi
	if [ ! -f "$dumps/$name.nft" ]; then
		not_ok "golden_rules_${name}_matches_dump (no rules/dumps/$name.nft: make golden)"
		continue
	fi
	if diff -u --label "rules/dumps/$name.nft" --label "built from rules/$name.ini" \
	    "$dumps/$name.nft" "$work/$name.nft" >"$work/$name.diff"; then
		ok "golden_rules_${name}_matches_dump"
	else
		not_ok "golden_rules_${name}_matches_dump (the engine builds other rules than rules/dumps/$name.nft; if that is intended, make golden and commit the dump)"
		sed 's/^/    /' "$work/$name.diff"
	fi
done
