#!/usr/bin/env bash
# scripts/temporal-server.sh: run a production-shaped Temporal server for Crier
# on 127.0.0.1: the Temporal server itself (go.temporal.io/server, built from
# source at the version pinned in tools/temporal-server, the one the Temporal
# CLI embeds) on PostgreSQL, with SQL (advanced) visibility, rather than the
# CLI's SQLite dev server that scripts/temporal.sh runs.
#
# Usage:
#   scripts/temporal-server.sh build       build .tools/bin/temporal-server and
#                                          .tools/bin/temporal-sql-tool when missing
#                                          or older than tools/temporal-server/go.mod
#                                          / go.sum or built by another Go than
#                                          CRIER_GO (~2.5 min on 2 cores with a cold
#                                          Go build cache; ~10 s once the Temporal
#                                          CLI's build warmed it: both modules pin the
#                                          same dependency versions); also builds the
#                                          Temporal CLI (scripts/temporal.sh build),
#                                          the client this script uses
#   scripts/temporal-server.sh start DIR PORT DATABASE_URL
#                                          build if needed; on the PostgreSQL server
#                                          DATABASE_URL points at (a postgres:// URL
#                                          such as scripts/postgres.sh prints; its
#                                          database name is ignored) create the
#                                          databases temporal and temporal_visibility
#                                          if missing and bring their schemas up to
#                                          date with temporal-sql-tool; write
#                                          DIR/config/crier.yaml and
#                                          DIR/dynamicconfig.yaml; start the server
#                                          with its gRPC frontend on 127.0.0.1:PORT;
#                                          create namespace "default" and the search
#                                          attributes CrierStatus (Keyword) and
#                                          CrierScheduledAt (Datetime) if missing;
#                                          wait until the frontend serves; print on
#                                          stdout exactly 127.0.0.1:PORT
#   scripts/temporal-server.sh stop DIR    stop the server started from DIR (TERM,
#                                          then KILL after 30 s); no-op if not running
#   scripts/temporal-server.sh status DIR  if the server from DIR runs, print its
#                                          gRPC port on stdout and exit 0; else exit 1
#
# Environment:
#   TEMPORAL_SERVER_SHARDS    numHistoryShards for a NEW database (default 4, for a
#                             small machine; it can never change once the
#                             database holds data)
#   TEMPORAL_SERVER_LOG_LEVEL server log level (default warn)
#
# Files in DIR: temporal-server.log (server output), temporal-server.pid,
# temporal-server.port, ports (the internal ports, reused on the next start
# while free), config/crier.yaml, dynamicconfig.yaml (edit it while the server
# runs: it is re-read every 10 s), schema.log (temporal-sql-tool output).
# Besides PORT the server listens on other free ports, all on 127.0.0.1: the
# frontend's HTTP API, the gRPC ports of history and matching, the membership
# (ringpop) port of each of the four services (from 20000-32767: see
# free_low_port) and Prometheus metrics (http://127.0.0.1:METRICS/metrics; the
# port is in DIR/ports).
# The databases are named temporal and temporal_visibility whatever DIR is:
# two servers on one PostgreSQL would share them, so give each its own
# PostgreSQL. Stop the server before its PostgreSQL.
# Progress goes to stderr; stdout carries only the address.
set -euo pipefail

LOG_TAG=temporal-server
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
MOD_DIR=$ROOT/tools/temporal-server
BIN_DIR=$ROOT/.tools/bin
SERVER_BIN=$BIN_DIR/temporal-server
SQL_TOOL=$BIN_DIR/temporal-sql-tool
CLI_BIN=$BIN_DIR/temporal
BUILD_LOG=$ROOT/.tools/temporal-server-build.log
SERVER_PKG=go.temporal.io/server/cmd/server
SQL_TOOL_PKG=go.temporal.io/server/cmd/tools/sql
START_TIMEOUT=120
# The server's command line always holds this (we start it with
# --env crier), which tells our process apart from a reused pid.
SERVER_PATTERN='--env crier'

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

needs_build() {
	local b
	for b in "$SERVER_BIN" "$SQL_TOOL"; do
		[[ -x $b && ! $MOD_DIR/go.mod -nt $b && ! $MOD_DIR/go.sum -nt $b ]] || return 0
		built_with_other_go "$b" && return 0
	done
	return 1
}

# build_running_elsewhere: a `go build` of this module runs outside our lock
# (started by hand); builds in other checkouts don't count.
build_running_elsewhere() {
	running_in "$MOD_DIR" 'go build .*go\.temporal\.io/server/cmd/'
}

cmd_build() {
	[[ -f $MOD_DIR/go.mod ]] || die "$MOD_DIR/go.mod is missing: is this a complete checkout of Crier?"
	# The CLI is our client (readiness checks, namespace and search attributes).
	"$ROOT/scripts/temporal.sh" build
	build_once "the Temporal server and its SQL tool" "into .tools/bin/{temporal-server,temporal-sql-tool}; ~2.5 minutes on 2 cores with a cold Go build cache, seconds once the Temporal CLI's build has warmed it" \
		"$ROOT/.tools/temporal-server-build.lock" "$BUILD_LOG" needs_build build_running_elsewhere build_server
}

# build_server builds both binaries into .tmp files, then moves them in place.
build_server() {
	rm -f "$SERVER_BIN.tmp" "$SQL_TOOL.tmp"
	mkdir -p "$BIN_DIR"
	(
		cd "$MOD_DIR" &&
			echo "== go build $SERVER_PKG" &&
			go build -o ../../.tools/bin/temporal-server.tmp "$SERVER_PKG" &&
			echo "== go build $SQL_TOOL_PKG" &&
			go build -o ../../.tools/bin/temporal-sql-tool.tmp "$SQL_TOOL_PKG"
	) && [[ -x $SERVER_BIN.tmp && -x $SQL_TOOL.tmp ]] &&
		mv -f "$SERVER_BIN.tmp" "$SERVER_BIN" && mv -f "$SQL_TOOL.tmp" "$SQL_TOOL"
}

# server_running: the pid in DIR/temporal-server.pid is a server started from
# DIR (we start it with DIR as its working directory, which /proc records).
server_running() {
	pid_alive_in "$DIR" "$DIR/temporal-server.pid" "$SERVER_PATTERN"
}

# tctl ARGS...: the CLI as a client, ignoring any user profile/env config
# (e.g. TEMPORAL_ADDRESS or TLS settings meant for another cluster).
tctl() {
	"$CLI_BIN" --disable-config-file --disable-config-env --command-timeout 10s "$@"
}

# parse_db_url URL: set PGU_HOST, PGU_PORT, PGU_USER, PGU_PASSWORD from a
# postgres:// URL; its database name is ignored (we use our own two).
PGU_HOST='' PGU_PORT='' PGU_USER='' PGU_PASSWORD=''
parse_db_url() {
	local url=$1 userinfo hostport query
	[[ $url =~ ^postgres(ql)?://(([^@/?#]*)@)?([^/?#]*)(/[^?#]*)?(\?([^#]*))?$ ]] ||
		die "DATABASE_URL must look like postgres://USER[:PASSWORD]@HOST[:PORT][/DB][?sslmode=disable], got '$url'"
	userinfo=${BASH_REMATCH[3]}
	hostport=${BASH_REMATCH[4]}
	query=${BASH_REMATCH[7]}
	[[ $hostport != \[* ]] || die "IPv6 addresses in DATABASE_URL are not supported: use 127.0.0.1"
	case $query in
	*sslmode=disable* | *sslmode=allow* | *sslmode=prefer* | '') ;;
	*sslmode=*) die "DATABASE_URL asks for TLS (${query}); this script connects without TLS: use a local server with sslmode=disable" ;;
	esac
	PGU_HOST=${hostport%%:*}
	PGU_PORT=5432
	[[ $hostport == *:* ]] && PGU_PORT=${hostport#*:}
	[[ -n $PGU_HOST && $PGU_PORT =~ ^[0-9]+$ ]] || die "cannot read host and port from DATABASE_URL '$url'"
	PGU_USER=${userinfo%%:*}
	[[ $userinfo == *:* ]] && PGU_PASSWORD=${userinfo#*:}
	# Undo URL percent-encoding (e.g. %40 for @ in a password).
	PGU_USER=$(printf '%b' "${PGU_USER//%/\\x}")
	PGU_PASSWORD=$(printf '%b' "${PGU_PASSWORD//%/\\x}")
	[[ -n $PGU_USER ]] || PGU_USER=postgres
	[[ $PGU_USER$PGU_PASSWORD != *[\"\\]* ]] || die "a user name or password holding \" or \\ is not supported"
}

# sqltool DB ARGS...: temporal-sql-tool against database DB of the given
# server. The password travels in the environment, not on the command line;
# SQL_* variables from the caller's environment must not leak in.
sqltool() {
	local db=$1
	shift
	env -u SQL_HOST -u SQL_PORT -u SQL_USER -u SQL_DATABASE -u SQL_PLUGIN \
		-u SQL_CONNECT_ATTRIBUTES -u SQL_TLS -u SQL_TLS_CERT_FILE -u SQL_TLS_KEY_FILE \
		-u SQL_TLS_CA_FILE -u SQL_TLS_SERVER_NAME \
		SQL_PASSWORD="$PGU_PASSWORD" \
		"$SQL_TOOL" --plugin postgres12 --ep "$PGU_HOST" -p "$PGU_PORT" -u "$PGU_USER" --db "$db" "$@"
}

# setup_databases: create temporal and temporal_visibility if missing and bring
# both schemas to the latest version shipped in the server module. Idempotent:
# setup-schema -v 0.0 only creates the versioning tables, update-schema applies
# the versions the database does not have yet.
setup_databases() {
	local mod_dir schema_root db kind out t0=$SECONDS
	mod_dir=$(cd "$MOD_DIR" && go list -m -f '{{.Dir}}' go.temporal.io/server 2>&1) ||
		die "cannot locate go.temporal.io/server in the module cache (go list -m said: $mod_dir)"
	schema_root=$mod_dir/schema/postgresql/v12
	[[ -d $schema_root/temporal/versioned && -d $schema_root/visibility/versioned ]] ||
		die "$schema_root has no temporal/versioned or visibility/versioned directory"

	printf '\n==== %s schema setup on %s:%s\n' "$(date -u +%FT%TZ)" "$PGU_HOST" "$PGU_PORT" >>"$DIR/schema.log"
	for db in temporal temporal_visibility; do
		kind=temporal
		[[ $db == temporal_visibility ]] && kind=visibility
		# create-database is a no-op when the database exists (PostgreSQL plugin).
		if ! out=$(sqltool "$db" create-database --defaultdb postgres 2>&1); then
			printf '%s\n' "$out" >>"$DIR/schema.log"
			log_tail "$DIR/schema.log" >&2
			die "could not create database $db on $PGU_HOST:$PGU_PORT as user $PGU_USER (full output: $DIR/schema.log)"
		fi
		printf '%s\n' "$out" >>"$DIR/schema.log"
		if ! sqltool "$db" setup-schema -v 0.0 >>"$DIR/schema.log" 2>&1 ||
			! sqltool "$db" update-schema -d "$schema_root/$kind/versioned" >>"$DIR/schema.log" 2>&1; then
			log_tail "$DIR/schema.log" >&2
			die "applying the $kind schema to database $db failed (full output: $DIR/schema.log)"
		fi
	done
	log "databases temporal and temporal_visibility exist and their schemas are up to date ($((SECONDS - t0))s)"
}

# free_low_port: a free TCP port on 127.0.0.1 in 20000-32767. Membership
# ports must fit there: the PostgreSQL schema keeps them in a SMALLINT column
# (cluster_membership.rpc_port), so a kernel-assigned port (32768 and up on
# Linux) makes the server die with "value ... is out of range for type
# smallint". Ports below 32768 are also outside Linux's ephemeral range, so
# outgoing connections do not take them meanwhile.
free_low_port() {
	local p i
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + RANDOM % 12768))
		port_free "$p" && {
			printf '%s\n' "$p"
			return
		}
	done
	die "could not find a free TCP port in 20000-32767 on 127.0.0.1"
}

# port_free PORT: nobody listens on 127.0.0.1:PORT (and, with python3, we can
# bind it: that also catches a port held by a connection).
port_free() {
	port_open 127.0.0.1 "$1" && return 1
	command -v python3 >/dev/null 2>&1 || return 0
	# SO_REUSEADDR as Go's listeners use it: a port in TIME_WAIT (e.g. left
	# by our previous run) is free for the server, so keep it.
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1" 2>/dev/null
}

# pick_ports PORT: set P_<NAME> for every internal port, reusing DIR/ports'
# values while they are free, then save them. *_MEMBERSHIP ports come from
# free_low_port (see there).
PORT_NAMES=(FRONTEND_HTTP FRONTEND_MEMBERSHIP HISTORY_GRPC HISTORY_MEMBERSHIP
	MATCHING_GRPC MATCHING_MEMBERSHIP WORKER_GRPC WORKER_MEMBERSHIP METRICS)
pick_ports() {
	local port=$1 taken=" $1 " name key value p low
	if [[ -f $DIR/ports ]]; then
		while IFS='=' read -r key value; do
			[[ " ${PORT_NAMES[*]} " == *" $key "* && $value =~ ^[0-9]+$ ]] || continue
			printf -v "P_$key" '%s' "$value"
		done <"$DIR/ports"
	fi
	for name in "${PORT_NAMES[@]}"; do
		key=P_$name
		p=${!key:-}
		low=''
		[[ $name == *_MEMBERSHIP ]] && low=1
		if [[ -z $p || $taken == *" $p "* ]] || { [[ -n $low ]] && ((p > 32767)); } || ! port_free "$p"; then
			while :; do
				if [[ -n $low ]]; then
					p=$(free_low_port)
				else
					p=$(free_port)
				fi
				[[ $taken == *" $p "* ]] || break
			done
		fi
		taken+="$p "
		printf -v "$key" '%s' "$p"
	done
	for name in "${PORT_NAMES[@]}"; do
		key=P_$name
		printf '%s=%s\n' "$name" "${!key}"
	done >"$DIR/ports.tmp"
	mv -f "$DIR/ports.tmp" "$DIR/ports"
}

write_config() {
	local port=$1 shards=${TEMPORAL_SERVER_SHARDS:-4} level=${TEMPORAL_SERVER_LOG_LEVEL:-warn}
	[[ $shards =~ ^[1-9][0-9]*$ ]] || die "TEMPORAL_SERVER_SHARDS must be a positive number, got '$shards'"
	mkdir -p "$DIR/config"
	# One datastore block per database; every service (frontend, history,
	# matching, worker) opens its own pool, so the server holds at most
	# 4 x (maxConns + visibility maxConns) = 64 connections: well below
	# PostgreSQL's default max_connections of 100, leaving room for Crier.
	store() {
		cat <<EOF
      sql:
        pluginName: "postgres12"
        databaseName: "$1"
        connectAddr: "$PGU_HOST:$PGU_PORT"
        connectProtocol: "tcp"
        user: "$PGU_USER"
        password: "$PGU_PASSWORD"
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: "1h"
EOF
	}
	local svc grpc member
	{
		cat <<EOF
# Written by scripts/temporal-server.sh on $(date -u +%FT%TZ); rewritten on every start.
log:
  stdout: true
  level: "$level"

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  # Fixed when the database is first set up: a server refuses to start on a
  # database made with another shard count.
  numHistoryShards: $shards
  datastores:
    postgres-default:
$(store temporal 12)
    postgres-visibility:
$(store temporal_visibility 4)

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:$P_METRICS"

services:
  frontend:
    rpc:
      grpcPort: $port
      membershipPort: $P_FRONTEND_MEMBERSHIP
      httpPort: $P_FRONTEND_HTTP
      bindOnIP: "127.0.0.1"
EOF
		for svc in history matching worker; do
			grpc=P_${svc^^}_GRPC
			member=P_${svc^^}_MEMBERSHIP
			cat <<EOF
  $svc:
    rpc:
      grpcPort: ${!grpc}
      membershipPort: ${!member}
      bindOnIP: "127.0.0.1"
EOF
		done
		cat <<EOF

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:$port"

dcRedirectionPolicy:
  policy: "noop"

archival:
  history:
    state: "disabled"
  visibility:
    state: "disabled"

namespaceDefaults:
  archival:
    history:
      state: "disabled"
    visibility:
      state: "disabled"

dynamicConfigClient:
  filepath: "$DIR/dynamicconfig.yaml"
  pollInterval: "10s"
EOF
	} >"$DIR/config/crier.yaml.tmp"
	mv -f "$DIR/config/crier.yaml.tmp" "$DIR/config/crier.yaml"
	chmod 600 "$DIR/config/crier.yaml" # it holds the database password, if any

	# Kept when it exists, so edits survive restarts.
	[[ -f $DIR/dynamicconfig.yaml ]] && return 0
	cat >"$DIR/dynamicconfig.yaml" <<'EOF'
# Dynamic config of the Temporal server started by scripts/temporal-server.sh
# (re-read every 10 s; kept across restarts, delete it to get these defaults
# back). Production defaults everywhere except what a small (2-core) single
# host with 4 history shards needs. Keys: go.temporal.io/server
# common/dynamicconfig/constants.go.

# The events cache is per shard and sized for hosts with hundreds of shards
# (512 KiB each); with 4 shards that is 2 MiB in all, so a burst of workflows
# would re-read history from PostgreSQL. 16 MiB per shard = 64 MiB.
history.eventsCacheMaxSizeBytes:
  - value: 16777216
# Mutable-state cache for the whole host: the default 128000 entries is meant
# for big hosts; 16384 covers a burst of that many open workflows.
history.hostLevelCacheMaxSize:
  - value: 16384
# Visibility API calls (list/count workflows) per namespace per second on the
# frontend: production default 10; the CLI's dev server uses 100, and so do
# we, so a benchmark compares persistence rather than this rate limit.
frontend.namespaceRPS.visibility:
  - value: 100
# Left at production defaults on purpose: persistence QPS limits
# (frontend 2000, history 9000, matching 3000), frontend.namespaceRPS 2400,
# 4 task-queue partitions, and system.forceSearchAttributesCacheRefreshOnRead
# false (the dev server sets it to true; here new search attributes take up to
# a few seconds to show, which the start script waits for).
EOF
}

cmd_start() {
	local port=$1 url=$2
	[[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
	parse_db_url "$url"
	cmd_build
	mkdir -p "$DIR"

	if server_running; then
		local running
		running=$(cat "$DIR/temporal-server.port" 2>/dev/null || true)
		[[ $running == "$port" ]] ||
			die "a server from $DIR is already running on port ${running:-?}, not $port: run 'scripts/temporal-server.sh stop $DIR' first"
		log "already running on 127.0.0.1:$port (pid $(<"$DIR/temporal-server.pid"))"
		printf '127.0.0.1:%s\n' "$port"
		return 0
	fi
	if port_open 127.0.0.1 "$port"; then
		die "port $port on 127.0.0.1 is already in use by another process: pick another port"
	fi
	port_open "$PGU_HOST" "$PGU_PORT" ||
		die "nothing accepts connections on $PGU_HOST:$PGU_PORT: start PostgreSQL first (scripts/postgres.sh or scripts/stack.sh)"

	local t_all=$SECONDS
	setup_databases
	pick_ports "$port"
	write_config "$port"

	log "starting on 127.0.0.1:$port, state in PostgreSQL $PGU_HOST:$PGU_PORT (temporal, temporal_visibility), metrics http://127.0.0.1:$P_METRICS/metrics (log: $DIR/temporal-server.log)"
	local t0=$SECONDS
	printf '\n==== %s start on 127.0.0.1:%s\n' "$(date -u +%FT%TZ)" "$port" >>"$DIR/temporal-server.log"
	(cd "$DIR" && exec setsid nohup "$SERVER_BIN" --root "$DIR" --config config --env crier --allow-no-auth start \
		>>"$DIR/temporal-server.log" 2>&1 </dev/null) &
	local pid=$!
	printf '%s\n' "$pid" >"$DIR/temporal-server.pid"
	printf '%s\n' "$port" >"$DIR/temporal-server.port"

	local deadline=$((SECONDS + START_TIMEOUT))
	# fail MSG: the server did not come up; say why and stop it.
	fail() {
		# Server log lines carry long stack traces: show their start only.
		printf '    --- last 12 lines of %s (cut to 400 characters) ---\n' "$DIR/temporal-server.log" >&2
		tail -n 12 "$DIR/temporal-server.log" | cut -c1-400 | sed 's/^/    /' >&2
		if proc_running "$pid"; then
			cmd_stop >/dev/null 2>&1 || true
		fi
		die "$1 (full log: $DIR/temporal-server.log)"
	}
	# wait_for WHAT CMD...: retry CMD until it succeeds, the server exits, or
	# the deadline passes.
	wait_for() {
		local what=$1
		shift
		until "$@" >"$DIR/.probe" 2>&1; do
			proc_running "$pid" || fail "the server exited during startup"
			((SECONDS < deadline)) ||
				fail "$what within ${START_TIMEOUT}s of starting; last answer: $(tail -n 3 "$DIR/.probe" | tr '\n' ' ')"
			sleep 1
		done
	}
	wait_port 127.0.0.1 "$port" "$START_TIMEOUT" "Temporal frontend" "$DIR/temporal-server.log" "$pid"
	log "frontend listens after $((SECONDS - t0))s; waiting for it to serve"
	wait_for "the frontend did not answer" tctl operator cluster health --address "127.0.0.1:$port"

	# The server creates no namespace by itself (the dev server does).
	if ! tctl operator namespace describe --address "127.0.0.1:$port" -n default >"$DIR/.probe" 2>&1; then
		grep -qi 'not found' "$DIR/.probe" ||
			wait_for "namespace 'default' could not be described" \
				tctl operator namespace describe --address "127.0.0.1:$port" -n default
	fi
	if grep -qi 'not found' "$DIR/.probe"; then
		log "creating namespace default (retention 24h)"
		wait_for "namespace 'default' could not be created" create_namespace "$port"
	fi
	# Adding search attributes that exist already is a no-op on SQL visibility.
	wait_for "search attributes CrierStatus and CrierScheduledAt could not be registered" \
		tctl operator search-attribute create --address "127.0.0.1:$port" -n default \
		--name CrierStatus --type Keyword --name CrierScheduledAt --type Datetime
	# Ready once a visibility query by our search attributes works: the
	# frontend then knows namespace default and both attributes (Crier starts
	# workflows with them at once).
	wait_for "a workflow list by CrierStatus and CrierScheduledAt was refused" \
		tctl workflow list --address "127.0.0.1:$port" -n default --limit 1 \
		--query 'CrierStatus = "probe" AND CrierScheduledAt > "2000-01-01T00:00:00Z"'
	rm -f "$DIR/.probe"
	log "ready on 127.0.0.1:$port in $((SECONDS - t0))s after launch, $((SECONDS - t_all))s in all (pid $pid)"
	printf '127.0.0.1:%s\n' "$port"
}

# create_namespace PORT: create "default"; success also when it exists (a
# create that timed out on the client may still have gone through).
create_namespace() {
	local out
	out=$(tctl operator namespace create --address "127.0.0.1:$1" -n default --retention 24h 2>&1) && return 0
	printf '%s\n' "$out"
	grep -qi 'already' <<<"$out"
}

cmd_stop() {
	if server_running; then
		# The server drains and leaves its membership ring on TERM.
		stop_pid "Temporal server ($DIR)" "$DIR/temporal-server.pid" "$SERVER_PATTERN" 30
	else
		rm -f "$DIR/temporal-server.pid"
		log "Temporal server ($DIR) is not running"
	fi
}

cmd_status() {
	server_running || return 1
	cat "$DIR/temporal-server.port"
}

[[ $# -ge 1 ]] || usage
CMD=$1
shift
case $CMD in
build)
	[[ $# -eq 0 ]] || usage
	cmd_build
	;;
start)
	[[ $# -eq 3 ]] || usage
	DIR=$(abs_path "$1")
	cmd_start "$2" "$3"
	;;
stop)
	[[ $# -eq 1 ]] || usage
	DIR=$(abs_path "$1")
	cmd_stop
	;;
status)
	[[ $# -eq 1 ]] || usage
	DIR=$(abs_path "$1")
	cmd_status
	;;
*) usage ;;
esac
