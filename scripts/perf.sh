#!/usr/bin/env bash
# Runs every hookline bench scenario three times (backlog once) and keeps the
# reports in docs/perf/runs/. docs/perf/README.md quotes their medians.
# Usage: scripts/perf.sh [scenario...]
# PERF_TAG=1207- names the reports <tag><scenario>-<n> (a session's snapshot
# beside the earlier ones, which the README also quotes).
# PERF_QUIET_WAIT=600 makes each run first wait, up to that many seconds, until
# the machine is idle (under 0.4 cores busy over 5 s): the cores are shared.
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -o /tmp/hookline-perf ./cmd/hookline
out=docs/perf/runs
mkdir -p "$out"
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8; exit}' /proc/stat; }
quiet() {
	local waited=0 a b
	while [ "$waited" -lt "${PERF_QUIET_WAIT:-0}" ]; do
		a=$(busy); sleep 5; b=$(busy); waited=$((waited + 5))
		[ $((b - a)) -lt 200 ] && return 0 # ticks of 1/100 s over 5 s: 0.4 cores
	done
	return 0
}
run() {
	local name=$1 n=$2
	shift 2
	for i in $(seq 1 "$n"); do
		quiet
		echo "== $name run $i: hookline bench $*" >&2
		/tmp/hookline-perf bench "$@" --markdown "$out/${PERF_TAG:-}$name-$i.md" 2>/dev/null | tee "$out/${PERF_TAG:-}$name-$i.txt"
	done
}
scenarios=("$@")
sel() { [ ${#scenarios[@]} -eq 0 ] && return 0; for s in "${scenarios[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

sel throughput && run throughput 3 --scenario throughput --duration 10s --warmup 2s
sel throughput-10k && run throughput-10k 3 --scenario throughput --rate 1000 --duration 10s --warmup 2s --ceiling-duration 0
sel fanout-100 && run fanout-100 3 --scenario fanout-100 --duration 10s --warmup 2s --ceiling-duration 0
sel wide-fanout && run wide-fanout 3 --scenario wide-fanout --ceiling-duration 0
sel ingest && run ingest 3 --scenario ingest --duration 10s --warmup 2s --ceiling-duration 0 --endpoints 10
sel ingest-single && run ingest-single 3 --scenario ingest --batch 1 --clients 64 --endpoints 100 --duration 3s --warmup 1s --ceiling-duration 0 --drain-timeout 10m
sel backlog && run backlog 1 --scenario backlog --ceiling-duration 0
sel bad-receivers && run bad-receivers 3 --scenario bad-receivers
sel noisy-tenant && run noisy-tenant 3 --scenario noisy-tenant
sel noisy-tenant-flood && run noisy-tenant-flood 1 --scenario noisy-tenant --noisy-factor max --batch 100
sel priority && run priority 3 --scenario priority
# Issue 12's rows: one endpoint per event, and the tutorial's load at a fixed rate.
sel ingest-1 && run ingest-1 3 --scenario ingest --endpoints 1 --duration 10s --warmup 2s --ceiling-duration 0
sel ingest-single-1 && run ingest-single-1 3 --scenario ingest --batch 1 --clients 64 --endpoints 1 --duration 10s --warmup 2s --ceiling-duration 0
sel fanout-100-open && run fanout-100-open 3 --scenario fanout-100 --rate 1000 --duration 30s --warmup 2s --ceiling-duration 0 --drain-timeout 10m
# Scale-out with I/O-bound receivers on PostgreSQL (scripts/pgtest.sh starts
# one when HOOKLINE_TEST_DATABASE_URL is not set): 1, 2 and 3 nodes in
# interleaved rounds, a fresh database for each run.
if sel scale-io; then
	[ -n "${HOOKLINE_TEST_DATABASE_URL:-}" ] || eval "$(scripts/pgtest.sh start)"
	for i in 1 2 3; do
		for n in 1 2 3; do
			db=hl_scaleio_${n}_$i
			url=${HOOKLINE_TEST_DATABASE_URL/\/hookline_test\?//$db?}
			psql "$HOOKLINE_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
			quiet
			echo "== scale-io $n nodes, round $i" >&2
			/tmp/hookline-perf bench --scenario throughput --database-url "$url" --nodes "$n" --endpoints 300 \
				--receiver-latency 50ms --server-arg=--max-in-flight=64 --rate 20 --ceiling-duration 0 \
				--markdown "$out/scale-io-n$n-$i.md" 2>/dev/null | tee "$out/scale-io-n$n-$i.txt"
			psql "$HOOKLINE_TEST_DATABASE_URL" -qc "DROP DATABASE $db"
		done
	done
fi
exit 0
