#!/usr/bin/env bash
# Runs the whole test suite: gofmt and go vet, govulncheck
# (scripts/vulncheck.sh), then every package's tests, the PostgreSQL ones
# against a throwaway server on loopback that this script starts (installing
# PostgreSQL from Debian's packages when it is missing) and stops, then each
# fuzz target for FUZZTIME (scripts/fuzz.sh, 10s each). A PostgreSQL that
# cannot be had fails the run. The browser test of the dashboard runs in
# Debian's chromium, installed when missing (as root); a chromium that cannot
# be had fails the run too. When npm is there, the dashboard's pinned browser
# libraries are installed from web/package-lock.json so that a test compares
# the embedded copies with them, and the Dockerfile's linter from
# packaging/package-lock.json.
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

if ! command -v chromium >/dev/null; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "test.sh: installing chromium from Debian's packages" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update >&2 && apt-get install -y chromium >&2
	else
		echo "test.sh: chromium is not installed and I cannot install it (not root, or no apt-get): sudo apt-get install -y chromium" >&2
	fi
fi
export HOOKLINE_REQUIRE_BROWSER=1

if command -v npm >/dev/null; then
	(cd web && npm ci --ignore-scripts --no-audit --no-fund >&2)
	export HOOKLINE_REQUIRE_VENDOR=1
	# The Dockerfile's linter (dockerfile-utils), pinned in packaging/.
	(cd packaging && npm ci --ignore-scripts --no-audit --no-fund >&2)
	export HOOKLINE_REQUIRE_LINT=1
fi
# The systemd unit is checked with systemd-analyze when Debian's systemd
# package is there; it is not installed for that (a large package, and
# its scripts expect a booted system).

# The race detector is on (CI runs this); RACE=0 turns it off for a
# quicker local run.
flags=(-count=1 -timeout 30m)
if [ "${RACE:-1}" != 0 ]; then
	flags+=(-race)
fi
go test "${flags[@]}" ./...
scripts/fuzz.sh
