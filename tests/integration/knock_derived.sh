# Replay-resistant knocks through the engine: a time-derived sequence opens
# in its own step only (one from the previous step is refused), and a
# counter-derived sequence opens once. The client computes what it sends
# from the same key file.
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
NFQK=${NFQK:-$top/$O/nfq-knock}

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/knock.key"
echo >>"$work/knock.key"
chmod 600 "$work/knock.key"
cfg=$(write_config derived.ini <<INI
[engine]
queue = 0

[knock otp]
key = $work/knock.key
derive = time
step = 2s
frames = 3
ports = 20000-20999
window = 5s
open = tcp:2224
allow_timeout = 30s

[knock once]
key = $work/knock.key
derive = counter
state = $work/once.counter
frames = 3
ports = 21000-21999
open = tcp:2225
allow_timeout = 2s
INI
)
tcp_server 127.0.0.1 2224
tcp_server 127.0.0.1 2225
start_engine "$cfg" -v || exit 1
check derived_divert_rule_covers_range sh -c \
    "nft list chain inet nfq_trigger divert | grep -q 'udp dport 20000-20999'"

# The engine refuses the step it started in (its replay record starts
# empty), so begin at the next step boundary.
sleep 2.1
old=$("$NFQK" -c "$cfg" -t otp --print)
sleep 2.1
"$NFQK" -d 5ms 127.0.0.1 $old
sleep 0.2
expect_eq derived_previous_step_refused closed "$(tcp_probe 127.0.0.1 2224)"
"$NFQK" -d 5ms -c "$cfg" -t otp 127.0.0.1
sleep 0.2
expect_eq derived_current_step_opens open "$(tcp_probe 127.0.0.1 2224)"

# Counter mode: each sequence opens once; a replayed one is refused.
first=$("$NFQK" -c "$cfg" -t once --counter 0 --print)
"$NFQK" -d 5ms -c "$cfg" -t once --counter-file "$work/client.counter" 127.0.0.1
sleep 0.2
expect_eq counter_sequence_opens open "$(tcp_probe 127.0.0.1 2225)"
expect_eq counter_engine_state_persisted 1 "$(cat "$work/once.counter" 2>/dev/null | tr -d '[:space:]')"
sleep 2.2
expect_eq counter_allow_timeout_closes closed "$(tcp_probe 127.0.0.1 2225)"
"$NFQK" -d 5ms 127.0.0.1 $first
sleep 0.2
expect_eq counter_replay_refused closed "$(tcp_probe 127.0.0.1 2225)"
"$NFQK" -d 5ms -c "$cfg" -t once --counter-file "$work/client.counter" 127.0.0.1
sleep 0.2
expect_eq counter_next_sequence_opens open "$(tcp_probe 127.0.0.1 2225)"
stop_engine
check derived_two_opened_by_counter grep -q 'knock once: .* 2 opened' "$work/engine.log"
check derived_no_state_errors grep -q 'knock once: .* 0 state errors' "$work/engine.log"
