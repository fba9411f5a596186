#!/usr/bin/env bash
# Runs each fuzz target (every `func Fuzz…` in a _test.go file) for
# FUZZTIME (default 10s), one at a time. A failing input is saved under the
# package's testdata/fuzz and fails the run.
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
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done <<<"$targets"
