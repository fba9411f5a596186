#!/usr/bin/env bash
# What each merge cost the plain path: `hookline bench --scenario throughput`
# against servers built from each commit given (default: the merges of issues 9,
# 14 and 15 on main), run round-robin ROUNDS times with one bench binary (this
# checkout's). Prints, per run, the deliveries/s, the ratio to the raw net/http
# ceiling, the server's and the bench's CPU per delivery, and norm: the server's
# CPU over the bench's. The bench does the same work per delivery whatever the
# server, so norm cancels the VM's changes of speed, which move deliveries/s by
# ±50% from one minute to the next here. Compare the medians of norm.
#
#   docs/perf/tools/plain-path-cost.sh [commit ...]      ROUNDS=3 by default
set -euo pipefail
cd "$(dirname "$0")/../../.."
commits=("$@")
[ ${#commits[@]} -gt 0 ] || commits=(33080ba 4a12524 11ac159 23a0796 5c1fc7a ea62014 b69d9b3 a5e42c1 HEAD)
work=$(mktemp -d)
trap 'for c in "${commits[@]}"; do git worktree remove --force "$work/src-$c" 2>/dev/null || true; done; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/bench" ./cmd/hookline
for c in "${commits[@]}"; do
	git worktree add -q --detach "$work/src-$c" "$c"
	(cd "$work/src-$c" && CGO_ENABLED=0 go build -o "$work/hl-$c" ./cmd/hookline)
	git worktree remove --force "$work/src-$c"
done
for i in $(seq "${ROUNDS:-3}"); do
	for c in "${commits[@]}"; do
		f=$work/run-$c-$i.txt
		"$work/bench" bench --scenario throughput --binary "$work/hl-$c" >"$f" 2>&1
		cpu=$(grep -oE 'CPU [0-9.]+s; pending' "$f" | grep -oE '[0-9.]+')
		n=$(grep -oE 'received [0-9]+' "$f" | head -1 | grep -oE '[0-9]+')
		bc=$(grep -oE 'bench +CPU [0-9.]+s' "$f" | grep -oE '[0-9.]+')
		echo "$c $i $(grep -oE '[0-9]+/s \(median\)$' "$f" | tail -1) $(grep -oE '[0-9.]+ of the ceiling' "$f")" \
			"srv_us=$(echo "scale=1; $cpu*1000000/$n" | bc) bench_us=$(echo "scale=1; $bc*1000000/$n" | bc) norm=$(echo "scale=3; $cpu/$bc" | bc)"
	done
done
