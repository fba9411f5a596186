#!/usr/bin/env bash
# Runs every hookline bench scenario three times (backlog once) and keeps the
# reports in docs/perf/runs/. docs/perf/README.md quotes their medians.
# Usage: scripts/perf.sh [scenario...]
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -o /tmp/hookline-perf ./cmd/hookline
out=docs/perf/runs
mkdir -p "$out"
run() {
	local name=$1 n=$2
	shift 2
	for i in $(seq 1 "$n"); do
		echo "== $name run $i: hookline bench $*" >&2
		/tmp/hookline-perf bench "$@" --markdown "$out/$name-$i.md" 2>/dev/null | tee "$out/$name-$i.txt"
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
exit 0
