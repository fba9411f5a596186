#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the tests.
#
#   eval "$(scripts/pgtest.sh start)"   # start it (or find it running) and set
#                                       # HOOKLINE_TEST_DATABASE_URL
#   scripts/pgtest.sh url               # print the export line of the running server
#   scripts/pgtest.sh stop              # stop it and delete its data
#
# start installs Debian's postgresql package when PostgreSQL is missing and it
# runs as root (as on CI); as another user it fails and says what to install.
# As root the server runs as the postgres user (PostgreSQL refuses to run as
# root), or as a system user hookline-pg made for it. The server listens on
# 127.0.0.1 only, with trust authentication, fsync on (the tests check
# durability), 300 connections, and a database hookline_test.
#
# Only the export line goes to stdout, so that eval works; everything else
# goes to stderr.
#
# Environment:
#   HOOKLINE_PGTEST_DIR   state directory (default /tmp/hookline-pgtest)
#   HOOKLINE_PGTEST_PORT  port to listen on (default: a free one)
#   PG_BIN                directory of initdb, postgres and pg_ctl (default:
#                         the newest /usr/lib/postgresql/*/bin, or $PATH)
set -euo pipefail

state=${HOOKLINE_PGTEST_DIR:-/tmp/hookline-pgtest}
data=$state/data
run=$state/run
envfile=$state/env
database=hookline_test

say() { echo "pgtest: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# find_bin prints the directory holding initdb, postgres and pg_ctl, or
# nothing.
find_bin() {
	local d
	for d in "${PG_BIN:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	if command -v initdb >/dev/null && command -v postgres >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v initdb)"
	fi
}

# install_postgres installs Debian's postgresql package, as root only.
install_postgres() {
	if [ "$(id -u)" -ne 0 ]; then
		die "PostgreSQL is not installed (no initdb/postgres found in /usr/lib/postgresql/*/bin or \$PATH) and I am not root, so I cannot install it. Install it (sudo apt-get install -y postgresql) or set PG_BIN to its bin directory."
	fi
	command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get to install it with; install PostgreSQL or set PG_BIN."
	say "installing PostgreSQL from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2 || die "apt-get update failed"
	apt-get install -y postgresql >&2 || die "apt-get install postgresql failed"
}

# as_owner runs a command as the user that owns the server.
as_owner() {
	if [ "$owner" = "$(id -un)" ]; then
		"$@"
	elif command -v runuser >/dev/null; then
		runuser -u "$owner" -- "$@"
	else
		su -s /bin/sh "$owner" -c "$(printf '%q ' "$@")"
	fi
}

# pick_owner sets owner: the current user, or a user PostgreSQL accepts when
# we are root.
pick_owner() {
	owner=$(id -un)
	[ "$(id -u)" -eq 0 ] || return 0
	if id postgres >/dev/null 2>&1; then
		owner=postgres
	else
		if ! id hookline-pg >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin hookline-pg >&2 ||
				die "cannot create the user hookline-pg to run PostgreSQL as (it refuses to run as root)"
		fi
		owner=hookline-pg
	fi
}

# running reports whether the server of the state directory is up and
# answers on its URL.
running() {
	[ -f "$envfile" ] && [ -d "$data" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 &&
		"$bin/pg_isready" -q -t 5 -d "$(sed 's/^export HOOKLINE_TEST_DATABASE_URL=//' "$envfile")"
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	bin=$(find_bin)
	if [ -z "$bin" ]; then
		install_postgres
		bin=$(find_bin)
		[ -n "$bin" ] || die "PostgreSQL was installed but its binaries are not in /usr/lib/postgresql/*/bin; set PG_BIN"
	fi
	pick_owner
	if running; then
		cat "$envfile"
		return
	fi
	if [ -d "$state" ]; then
		say "removing the state of a server that is not running: $state"
		as_owner "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$state"
	fi
	mkdir -p "$state" "$run"
	chmod 700 "$state"
	[ "$owner" = "$(id -un)" ] || chown -R "$owner" "$state"
	as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$state/initdb.log" 2>&1 ||
		die "initdb failed; see $state/initdb.log"

	local port tries
	for tries in 1 2 3 4 5 6 7 8; do
		if [ -n "${HOOKLINE_PGTEST_PORT:-}" ]; then
			port=$HOOKLINE_PGTEST_PORT
		else
			port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
			port_free "$port" || continue
		fi
		cat >"$state/hookline.conf" <<-EOF
			listen_addresses = '127.0.0.1'
			port = $port
			unix_socket_directories = '$run'
			max_connections = 300
			shared_buffers = 128MB
			fsync = on
			synchronous_commit = on
			full_page_writes = on
			logging_collector = off
		EOF
		[ "$owner" = "$(id -un)" ] || chown "$owner" "$state/hookline.conf"
		grep -q "^include = '$state/hookline.conf'" "$data/postgresql.conf" ||
			echo "include = '$state/hookline.conf'" | as_owner tee -a "$data/postgresql.conf" >/dev/null
		# 9>&-: the server must not inherit the lock of this script.
		if as_owner "$bin/pg_ctl" -D "$data" -l "$state/server.log" -w -t 60 start >&2 9>&-; then
			break
		fi
		[ -z "${HOOKLINE_PGTEST_PORT:-}" ] || die "PostgreSQL did not start on port $port; see $state/server.log"
		say "PostgreSQL did not start on port $port; trying another"
		port=
	done
	[ -n "$port" ] || die "PostgreSQL did not start; see $state/server.log"

	"$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE $database" >&2 || die "cannot create the database $database"
	echo "export HOOKLINE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/$database?sslmode=disable" >"$envfile"
	say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') is running on 127.0.0.1:$port (data in $data, log in $state/server.log)"
	cat "$envfile"
}

stop() {
	if [ ! -d "$state" ]; then
		return
	fi
	bin=$(find_bin)
	pick_owner
	if [ -n "$bin" ] && [ -d "$data" ]; then
		as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2 2>/dev/null || true
	fi
	rm -rf "$state"
	say "stopped and removed $state"
}

url() {
	bin=$(find_bin)
	[ -n "$bin" ] || die "PostgreSQL is not installed"
	pick_owner
	running || die "not running; run: eval \"\$($0 start)\""
	cat "$envfile"
}

# One command at a time: two concurrent starts would both initdb.
if command -v flock >/dev/null; then
	exec 9>"$state.lock"
	flock 9
fi

case "${1:-}" in
start) start ;;
stop) stop ;;
url) url ;;
*)
	echo "usage: $0 start|stop|url" >&2
	exit 2
	;;
esac
