# The first TCP connect through a cold tunnel, with holding on and off, on
# the same path (the standby route a blackhole): queue mode holds the SYN
# while start runs; with hold_packets = 0, or in NFLOG mode, the SYN is lost
# and the connect waits for the retransmit (what tuninetd does).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"
. "$(dirname "$0")/activity_net.inc"
act_net blackhole

# first_connect MODE-KEYS...: start the engine with the trigger's extra keys,
# connect once, stop the engine and take the tunnel down again.
first_connect() {
	cfg=$(write_config activity.ini <<INI
[engine]
queue = 0
nflog_group = 5
hook_timeout = 5s

[activity vpn]
match = ip daddr 10.71.9.0/24 tcp dport 8080
ttl = 60s
start = $work/tunnel up
stop = $work/tunnel down
hook_caps = net_admin
$1
INI
)
	start_engine "$cfg" -v >&2 || return 1
	connect_ms 4
	counters
	cp "$work/engine.log" "$work/engine.$2.log"
	stop_engine
	"$work/tunnel" down
}

on=$(first_connect "" on)
off=$(first_connect "hold_packets = 0" off)
nflog=$(first_connect "source = nflog" nflog)
echo "first connect through a cold tunnel: holding on ${on} ms, holding off" \
    "(hold_packets = 0) ${off} ms, NFLOG ${nflog} ms"
check act_cold_connect_held_fast test "${on:-9999}" -lt 900 2>/dev/null
check act_cold_connect_unheld_waits_for_retransmit test "${off:-0}" -ge 900 -a "$off" != fail 2>/dev/null
check act_cold_connect_nflog_waits_for_retransmit test "${nflog:-0}" -ge 900 -a "$nflog" != fail 2>/dev/null
check act_cold_connect_off_counts_overflow grep -q 'activity vpn: [a-z]*, .* 1 over the hold bound' "$work/engine.off.log"
check act_cold_connect_on_held_one grep -q 'activity vpn: [a-z]*, [0-9]* packets, 1 held, 1 released' "$work/engine.on.log"
