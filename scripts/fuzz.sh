#!/usr/bin/env bash
# Runs each fuzz target (every `func Fuzz…` in a _test.go file) for
# FUZZTIME (default 10s), one at a time. A failing input is saved under the
# package's testdata/fuzz and fails the run.
#
# Go's fuzzing coordinator sometimes ends a -fuzztime run with a bare
# "context deadline exceeded" when a worker is mid-input as the time runs
# out (golang/go, a known race under CPU contention). Such a run saved no
# input: it is reported and not counted as a finding. Any other failure,
# or one that saved an input, fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
targets=$(grep -rnE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' . | grep -v '^\./\.git/' || true)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz target" >&2
	exit 1
fi
while IFS=: read -r file _ decl; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$decl")
	pkg=$(dirname "$file") # ./api, or . for the root
	echo "fuzz: $pkg $name for $fuzztime"
	corpus="$pkg/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort || true)
	log=$(mktemp)
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$log"; then
		rm -f "$log"
		continue
	fi
	after=$(ls "$corpus" 2>/dev/null | sort || true)
	if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$log"; then
		echo "fuzz: $name: Go's fuzztime shutdown race (no input saved); not a finding" >&2
		rm -f "$log"
		continue
	fi
	rm -f "$log"
	echo "fuzz: $name failed; a failing input, if any, is in $corpus" >&2
	exit 1
done <<<"$targets"
