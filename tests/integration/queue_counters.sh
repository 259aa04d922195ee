# Counters for every path a packet takes (docs/control.md): with a tiny
# queue and fail_open, a burst overflows the queue, the kernel accepts the
# rest unseen, and status and metrics account for every diverted packet:
# received by the engine or bypassed by the kernel (queue or socket full).
. "$(dirname "$0")/../lib.sh"
netns_enter "$@"

cfg=$(write_config counters.ini <<INI
[engine]
queue = 0
queue_maxlen = 2
control = $work/control.sock

; counted by the engine, so that every probe goes through the queue
[count probe]
match = udp dport 7600
every = 1000000
path = engine
exec = /bin/true
INI
)
start_engine "$cfg" || exit 1
python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20000):
    s.sendto(b"x", ("127.0.0.1", 7600))'
sleep 0.5
"$NFQT" -c "$cfg" status --json >"$work/status.json"
python3 - "$work/status.json" <<'PY' >"$work/sums"
import json, sys
d = json.load(open(sys.argv[1]))
q, b = d["queues"][0], d["kernel_bypassed"]
print(b["diverted"], q["received"], b["queue_full"], b["socket_full"],
      q["kernel"]["queue_dropped"], q["kernel"]["user_dropped"])
PY
read diverted received qfull sfull qdrop udrop <"$work/sums"
echo "diverted $diverted, engine received $received, kernel accepted unseen: $qfull queue full, $sfull socket full"
expect_eq counters_every_datagram_diverted 20000 "$diverted"
check counters_burst_overflowed_queue test "$received" -lt "$diverted"
check counters_kernel_bypass_reported test $((qfull + sfull)) -gt 0
expect_eq counters_every_diverted_packet_accounted "$diverted" $((received + qfull + sfull + qdrop + udrop))
"$NFQT" -c "$cfg" metrics >"$work/metrics"
check counters_metrics_report_queue_full grep -q "^nfq_trigger_kernel_bypassed_packets_total{reason=\"queue_full\"} $qfull\$" "$work/metrics"
check counters_metrics_report_diverted grep -q "^nfq_trigger_diverted_packets_total $diverted\$" "$work/metrics"
stop_engine
expect_eq counters_engine_exit_status 0 "$engine_status"
