#!/usr/bin/env bash
# scripts/postgres.sh: run a private PostgreSQL server for Crier on 127.0.0.1.
#
# Usage:
#   scripts/postgres.sh start DIR PORT   initdb DIR/data if missing, start the
#                                        server on 127.0.0.1:PORT (Unix socket in
#                                        DIR/sock, log in DIR/postgres.log),
#                                        create database "crier" if missing, and
#                                        print on stdout exactly one line:
#                                        postgres://postgres@127.0.0.1:PORT/crier?sslmode=disable
#   scripts/postgres.sh stop DIR [immediate]
#                                        stop the server in DIR (fast mode: clients
#                                        are disconnected, then a checkpoint); with
#                                        "immediate", every server process quits at
#                                        once and the next start recovers from the
#                                        WAL, as after a crash (make chaos); no-op
#                                        if it is not running
#   scripts/postgres.sh status DIR       if the server in DIR runs, print its port
#                                        on stdout and exit 0; else exit 1
#
# Environment:
#   PG_EXTRA_OPTS  extra server options appended to pg_ctl -o, e.g.
#                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
#   PG_BIN         directory holding initdb/pg_ctl/psql (default: the newest
#                  /usr/lib/postgresql/*/bin, else whatever is on PATH)
#
# PostgreSQL refuses to run as root; when run as root the server runs as the
# "postgres" user (via runuser) and DIR is chowned to it.
# Progress goes to stderr; stdout carries only the URL.
set -euo pipefail

LOG_TAG=postgres
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

find_pg_bin() {
	if [[ -n ${PG_BIN:-} ]]; then
		[[ -x $PG_BIN/pg_ctl ]] || die "PG_BIN=$PG_BIN has no pg_ctl"
		return
	fi
	local d='' c
	# Highest installed major version wins (sort -V, not the glob's lexical order).
	for c in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
		[[ -x $c/pg_ctl ]] && d=$c
	done
	if [[ -n $d && -x $d/pg_ctl ]]; then
		PG_BIN=$d
	elif command -v pg_ctl >/dev/null 2>&1; then
		PG_BIN=$(dirname "$(command -v pg_ctl)")
	else
		die "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (apt-get install postgresql-15) or set PG_BIN to their directory"
	fi
	local tool
	for tool in initdb pg_ctl postgres psql; do
		[[ -x $PG_BIN/$tool ]] || die "$PG_BIN/$tool not found: install the full PostgreSQL server package (apt-get install postgresql-15) or set PG_BIN"
	done
}

# as_pg CMD...: run CMD as the postgres user when we are root.
as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_running() {
	[[ -f $DIR/data/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" status -D "$DIR/data" >/dev/null 2>&1
}

cmd_start() {
	local port=$1
	[[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
	find_pg_bin
	mkdir -p "$DIR/sock"
	if ((EUID == 0)); then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user: create it (useradd --system postgres) or run as a normal user"
		chown postgres:postgres "$DIR" "$DIR/sock"
		if [[ -e $DIR/data && $(stat -c %U "$DIR/data") != postgres ]]; then
			chown -R postgres:postgres "$DIR/data"
		fi
		runuser -u postgres -- test -w "$DIR" ||
			die "user postgres cannot write to $DIR: put the state directory somewhere every user can reach (a parent directory is probably mode 700, e.g. /root)"
	fi

	if [[ ! -f $DIR/data/PG_VERSION ]]; then
		log "initialising a new cluster in $DIR/data"
		rm -rf "$DIR/data"
		if ((EUID == 0)); then
			install -d -o postgres -g postgres -m 700 "$DIR/data"
		fi
		as_pg "$PG_BIN/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 --locale=C \
			>"$DIR/initdb.log" 2>&1 || {
			log_tail "$DIR/initdb.log" >&2
			die "initdb failed (full output in $DIR/initdb.log)"
		}
	fi

	if pg_running; then
		local running_port
		running_port=$(sed -n 4p "$DIR/data/postmaster.pid")
		[[ $running_port == "$port" ]] ||
			die "a server from $DIR is already running on port $running_port, not $port: run 'scripts/postgres.sh stop $DIR' first"
		log "already running on 127.0.0.1:$port"
	else
		if port_open 127.0.0.1 "$port"; then
			die "port $port on 127.0.0.1 is already in use by another process: pick another port"
		fi
		log "starting on 127.0.0.1:$port (log: $DIR/postgres.log)"
		# pg_ctl runs the -o string through /bin/sh, hence the %q quoting.
		local opts
		opts=$(printf -- '-p %q -k %q -c listen_addresses=127.0.0.1' "$port" "$DIR/sock")
		if [[ -n ${PG_EXTRA_OPTS:-} ]]; then
			opts+=" $PG_EXTRA_OPTS"
		fi
		local t0=$SECONDS
		if ! as_pg "$PG_BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 -o "$opts" >/dev/null; then
			log_tail "$DIR/postgres.log" >&2
			die "PostgreSQL did not start (full log: $DIR/postgres.log)"
		fi
		log "started in $((SECONDS - t0))s"
	fi
	wait_port 127.0.0.1 "$port" 30 PostgreSQL "$DIR/postgres.log"

	local exists
	exists=$("$PG_BIN/psql" -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAq \
		-c "select 1 from pg_database where datname = 'crier'") ||
		die "cannot query the server on 127.0.0.1:$port (see $DIR/postgres.log)"
	if [[ $exists != 1 ]]; then
		log "creating database crier"
		"$PG_BIN/psql" -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -q \
			-c 'create database crier' >/dev/null ||
			die "could not create database crier on 127.0.0.1:$port"
	fi
	printf 'postgres://postgres@127.0.0.1:%s/crier?sslmode=disable\n' "$port"
}

cmd_stop() {
	local mode=${1:-fast}
	[[ $mode == fast || $mode == immediate ]] || die "the stop mode must be 'immediate' or absent, got '$mode'"
	if [[ ! -f $DIR/data/postmaster.pid ]]; then
		log "not running ($DIR)"
		return 0
	fi
	find_pg_bin
	if pg_running; then
		log "stopping ($DIR, $mode mode)"
		as_pg "$PG_BIN/pg_ctl" stop -D "$DIR/data" -m "$mode" -w -t 60 >/dev/null ||
			die "pg_ctl stop failed; see $DIR/postgres.log"
		log "stopped"
	else
		log "not running ($DIR)"
	fi
}

cmd_status() {
	[[ -f $DIR/data/postmaster.pid ]] || return 1
	find_pg_bin
	pg_running || return 1
	sed -n 4p "$DIR/data/postmaster.pid"
}

[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$(abs_path "$2")
case $CMD in
start)
	[[ $# -eq 3 ]] || usage
	cmd_start "$3"
	;;
stop)
	[[ $# -eq 2 || $# -eq 3 ]] || usage
	cmd_stop "${3:-}"
	;;
status)
	[[ $# -eq 2 ]] || usage
	cmd_status
	;;
*) usage ;;
esac
