# A hook pair under a spoofed flood (docs/hooks.md, "Pairs"): 300 spoofed
# sources complete a knock whose exec has an exec_stop. Whatever is refused
# is refused as a pair and logged with trigger, address and reason; every
# exec that ran gets its exec_stop.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

cat >"$work/pair.sh" <<'SH'
#!/bin/sh
echo "$1 $2" >>"$(dirname "$0")/pairs.log"
SH
chmod 700 "$work/pair.sh"
cfg=$(write_config pairs.ini <<INI
[engine]
queue = 0
max_sources = 4096
control = $work/control.sock

[knock pair]
sequence = udp:7300 udp:7301
open = tcp:2226
allow_timeout = 30s
exec = $work/pair.sh open %IP%
exec_stop = $work/pair.sh close %IP%
exec_stop_delay = 1s

[knock other]
sequence = udp:7400 udp:7401
open = tcp:2227
exec = $work/pair.sh other %IP%
INI
)
start_engine "$cfg" || exit 1

python3 "$top/tests/tools/spoof_knock.py" 127.0.0.1 300 7300 7301 >"$work/sources"
# Right behind the flood, another trigger's knock: its hook has room.
python3 "$top/tests/tools/spoof_knock.py" 127.0.0.1 1 7400 7401 >/dev/null
# Wait until the hooks are done: the log stops growing past the stop delay.
last=-1
for _ in $(seq 60); do
	sleep 1
	n=$(wc -l <"$work/pairs.log" 2>/dev/null || echo 0)
	[ "$n" = "$last" ] && break
	last=$n
done
opened=$(grep -c '^open ' "$work/pairs.log")
closed=$(grep -c '^close ' "$work/pairs.log")
grep '^open ' "$work/pairs.log" | cut -d' ' -f2 | sort >"$work/opens"
grep '^close ' "$work/pairs.log" | cut -d' ' -f2 | sort >"$work/closes"
refused=$(grep -c 'event=hook-refused kind=knock trigger=pair src=10\.77\.' "$work/engine.log")
completed=$(engine_counters 'knock pair: .* opened')
echo "300 spoofed sources: $(counter_of "$completed" opened) completed, $opened exec ran, $closed exec_stop ran, $refused refusals logged"
check pairs_some_execs_ran [ "$opened" -gt 0 ]
check pairs_every_exec_has_its_exec_stop cmp -s "$work/opens" "$work/closes"
check pairs_no_exec_stop_without_exec [ "$closed" -eq "$opened" ]
# Refusals are logged (the event log's 200 lines a minute are shared with
# the 300 "opened" lines, so some are held back and counted), and counted.
check pairs_refusals_logged [ "$refused" -gt 0 ]
hooks_refused=$("$NFQT" -c "$cfg" status --json | python3 -c 'import json,sys
d=json.load(sys.stdin)
print([t for t in d["triggers"] if t["name"]=="pair"][0].get("hooks",{}).get("refused","?"))' 2>/dev/null)
echo "hook refusals counted by the engine: ${hooks_refused:-?}"
expect_eq pairs_each_refusal_counted "$((300 - opened))" "$hooks_refused"
check pairs_flood_leaves_room_for_other_triggers grep -q '^other 10\.77\.0\.1$' "$work/pairs.log"
if [ "$opened" -lt 300 ]; then
	check pairs_refusal_names_trigger_address_and_reason grep -q \
	    'event=hook-refused kind=knock trigger=pair src=10\.77\.[0-9.]* reason=open-queue-full' \
	    "$work/engine.log"
fi
stop_engine
