#!/usr/bin/env bash
# Server CPU over 30 s with and without 3 dashboard tabs, on a store filled by a throughput run, while
# 5 events/s keep the counts changing (so every tab refreshes its list every second, as under load).
set -u
K=hk_tabs-measure-7Hq2Lm9Xc4Vb8Nz1Pk6Rt3Wy5q
rm -rf /tmp/tabsdata
${HOOKLINE:-bin/hookline} serve --addr 127.0.0.1:18080 --data-dir /tmp/tabsdata --api-key $K --allow-private-networks > /tmp/tabs-idle-server.log 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
${HOOKLINE:-bin/hookline} bench --scenario throughput --target http://127.0.0.1:18080 --target-pid $pid --api-key $K > /tmp/tabs-idle-fill.txt 2>&1
grep "server " /tmp/tabs-idle-fill.txt
( while true; do curl -s -o /dev/null -H "Authorization: Bearer $K" -H 'Content-Type: application/json' -d '{"type":"tick","data":{}}' http://127.0.0.1:18080/v1/events; sleep 0.2; done ) &
lp=$!
ticks() { awk '{print $14+$15}' /proc/$pid/stat; }
for i in 1 2 3; do
  a=$(ticks); sleep 30; b=$(ticks)
  echo "none $i: $(( b-a )) ticks (1/100 s) in 30 s"
  go run docs/perf/tools/dashboard-tabs/tabs.go http://127.0.0.1:18080 $K / /deliveries /endpoints > /tmp/tabs-idle-$i.log 2>&1 &
  tp=$!
  for _ in $(seq 150); do grep -q "tabs open" /tmp/tabs-idle-$i.log 2>/dev/null && break; sleep 0.2; done
  a=$(ticks); sleep 30; b=$(ticks)
  echo "tabs $i: $(( b-a )) ticks in 30 s ($(head -1 /tmp/tabs-idle-$i.log))"
  kill $tp; wait $tp 2>/dev/null
done
kill $lp; kill $pid
