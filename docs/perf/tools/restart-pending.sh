#!/usr/bin/env bash
# Restart with a million pending: queues PENDING deliveries (EVENTS events ×
# 10 endpoints) while the receivers are down, kills the server with
# SIGKILL, starts it again on the same data dir, and reports how long the
# restart took (until /readyz answers 200), its peak RSS, and whether the
# deliveries are all still pending; then it starts a receiver and reports
# how long the drain takes.
#
# Usage: HOOKLINE=/tmp/hl docs/perf/tools/restart-pending.sh [events]
# (default 100000 events = 1,000,000 deliveries). Needs curl and python3 (to write the batch and read JSON).
set -euo pipefail
HL=${HOOKLINE:-hookline}
EVENTS=${1:-100000}
DIR=$(mktemp -d /tmp/hookline-restart-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT
ADDR=127.0.0.1:18080
RECV=127.0.0.1:18090
# Retries every second, 30 times: no delivery runs out of attempts while the
# receivers are down (the circuits open after 10 failures, and probe every
# 1-2 s).
SCHEDULE=0s$(printf ',1s%.0s' $(seq 30))
FLAGS=(--addr "$ADDR" --data-dir "$DIR/data" --allow-private-networks --retry-schedule "$SCHEDULE"
	--breaker-cooldown 1s --breaker-max-cooldown 2s --log-level warn)

ready() { # waits for /readyz, prints the seconds it took
	local t0 t1
	t0=$(date +%s.%N)
	until curl -sf "http://$ADDR/readyz" >/dev/null 2>&1; do sleep 0.05; done
	t1=$(date +%s.%N)
	python3 -c "print(f'{$t1 - $t0:.2f}')"
}
stats() { curl -sf -H "Authorization: Bearer $KEY" "http://$ADDR/v1/stats"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
peak() { awk '/VmHWM/{print $2/1024 " MiB"}' "/proc/$1/status"; }

"$HL" serve "${FLAGS[@]}" &
PID=$!
echo "first start: ready in $(ready) s"
KEY=$(cat "$DIR/data/api-key")
for i in $(seq 10); do
	curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "http://$ADDR/v1/endpoints" \
		-d "{\"url\":\"http://$RECV/hook/$i\",\"event_types\":[\"*\"]}" >/dev/null
done
python3 - "$DIR/batch.json" <<'EOF'
import json, sys
json.dump({"events": [{"type": "order.created", "data": {"n": i, "pad": "x" * 200}} for i in range(1000)]},
          open(sys.argv[1], "w"))
EOF
t0=$(date +%s)
for _ in $(seq $((EVENTS / 1000))); do
	curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "http://$ADDR/v1/events/batch" \
		--data-binary "@$DIR/batch.json" >/dev/null
done
echo "queued $((EVENTS * 10)) deliveries in $(($(date +%s) - t0)) s; pending $(stats | field '["pending"]')"
kill -9 $PID
wait $PID 2>/dev/null || true

"$HL" serve "${FLAGS[@]}" &
PID=$!
echo "after kill -9: ready in $(ready) s; pending $(stats | field '["pending"]'); peak RSS $(peak $PID)"

# The bench's receiver: answers 200, prints what it received each second.
"$HL" bench receive --addr "$RECV" >"$DIR/received" 2>&1 &
t0=$(date +%s)
while [ "$(stats | field '["pending"]')" != 0 ]; do sleep 1; done
echo "drained in $(($(date +%s) - t0)) s; delivered $(stats | field '["delivered"]'), failed $(stats | field '["failed"]'); peak RSS $(peak $PID)"
echo "the receiver's last lines:"; tail -n 3 "$DIR/received"
