#!/usr/bin/env bash
# Runs the whole test suite: gofmt and go vet, govulncheck
# (scripts/vulncheck.sh), then every package's tests, the PostgreSQL ones
# against a throwaway server on loopback that this script starts (installing
# PostgreSQL from Debian's packages when it is missing) and stops, then each
# fuzz target for FUZZTIME (scripts/fuzz.sh, 10s each). A PostgreSQL that
# cannot be had fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt wants to change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
scripts/vulncheck.sh

# A server of its own, so a developer's running one is left alone.
export HOOKLINE_PGTEST_DIR=${HOOKLINE_PGTEST_DIR:-/tmp/hookline-pgtest-run-$$}
pg_env=$(scripts/pgtest.sh start)
eval "$pg_env"
trap 'scripts/pgtest.sh stop >/dev/null 2>&1 || true' EXIT
export HOOKLINE_REQUIRE_POSTGRES=1

flags=(-count=1 -timeout 20m)
if [ "${RACE:-}" = 1 ]; then
	flags+=(-race)
fi
go test "${flags[@]}" ./...
scripts/fuzz.sh
