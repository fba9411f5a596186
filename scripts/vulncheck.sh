#!/usr/bin/env bash
# Runs govulncheck on every package and fails on the known vulnerabilities
# our code reaches that go.mod can fix (scripts/vulncheck.go decides; those
# of the Go toolchain fail too with HOOKLINE_VULNCHECK_STDLIB=fail).
#
# govulncheck is installed from the Go module proxy into $(go env GOPATH)/bin
# when missing. Its database is HOOKLINE_VULNDB when set (a file:// or
# https:// URL), else https://vuln.go.dev; when that cannot be reached, the
# same database is built from the golang.org/x/vulndb module, through the
# module proxy, and cached in ${XDG_CACHE_HOME:-~/.cache}/hookline/vulndb.
set -euo pipefail
cd "$(dirname "$0")/.."

gobin=$(go env GOPATH)/bin
govulncheck=$(command -v govulncheck || true)
if [ -z "$govulncheck" ]; then
	govulncheck=$gobin/govulncheck
	if [ ! -x "$govulncheck" ]; then
		echo "vulncheck: installing govulncheck into $gobin" >&2
		GOBIN=$gobin go install golang.org/x/vuln/cmd/govulncheck@latest
	fi
fi

# offline_db builds the vulnerability database from golang.org/x/vulndb and
# prints its directory.
offline_db() {
	local info ver dir cache
	info=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json golang.org/x/vulndb@latest)
	ver=$(sed -n 's/^[[:space:]]*"Version": "\(.*\)",*$/\1/p' <<<"$info")
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/hookline/vulndb/$ver
	if [ ! -f "$cache/index/db.json" ]; then
		echo "vulncheck: building the database of golang.org/x/vulndb@$ver" >&2
		GOBIN=$gobin go install "golang.org/x/vulndb/cmd/indexdb@$ver"
		rm -rf "$cache.tmp"
		"$gobin/indexdb" -vulns "$dir/data/osv" -out "$cache.tmp" >&2
		mv "$cache.tmp" "$cache"
	fi
	echo "$cache"
}

out=$(mktemp)
trap 'rm -f "$out" "$out.err"' EXIT
db=${HOOKLINE_VULNDB:-https://vuln.go.dev}
if ! "$govulncheck" -db "$db" -format json ./... >"$out" 2>"$out.err"; then
	if [ -n "${HOOKLINE_VULNDB:-}" ] || ! grep -qiE 'no such host|dial tcp|connection refused|i/o timeout|network is unreachable|TLS handshake' "$out.err"; then
		cat "$out.err" >&2
		exit 1
	fi
	echo "vulncheck: $db cannot be reached" >&2
	db=file://$(offline_db)
	if ! "$govulncheck" -db "$db" -format json ./... >"$out" 2>"$out.err"; then
		cat "$out.err" >&2
		exit 1
	fi
fi
echo "vulncheck: database $db" >&2
go run scripts/vulncheck.go <"$out"
