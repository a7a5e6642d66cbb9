#!/usr/bin/env bash
# scripts/temporal.sh: run a private Temporal dev server (the Temporal CLI's
# `server start-dev`, built from source at the version pinned in tools/temporal)
# for Crier on 127.0.0.1.
#
# Usage:
#   scripts/temporal.sh build              build .tools/bin/temporal when missing,
#                                          older than tools/temporal/go.mod / go.sum
#                                          or built by another Go than CRIER_GO
#                                          (first build takes ~6 min on 2 cores)
#   scripts/temporal.sh start DIR PORT UI_PORT [headless]
#                                          build if needed, start the dev server with
#                                          its gRPC frontend on 127.0.0.1:PORT and
#                                          (unless "headless") the Web UI on
#                                          127.0.0.1:UI_PORT, wait until namespace
#                                          "default" answers, print on stdout exactly
#                                          127.0.0.1:PORT
#   scripts/temporal.sh stop DIR           stop the server started from DIR (TERM,
#                                          then KILL after 20 s); no-op if not running
#   scripts/temporal.sh status DIR         if the server from DIR runs, print its
#                                          gRPC port on stdout and exit 0; else exit 1
#
# Environment:
#   TEMPORAL_DB=memory    keep all state in memory (no --db-filename); by default
#                         state persists in DIR/temporal.db
#   TEMPORAL_EXTRA_ARGS   extra words appended to `temporal server start-dev`
#                         (split on whitespace), e.g. "--dynamic-config-value K=V"
#
# Files in DIR: temporal.log (server output), temporal.pid, temporal.db.
# The server also opens HTTP-API and metrics ports it picks itself, on 127.0.0.1.
# Progress goes to stderr; stdout carries only the address.
set -euo pipefail

LOG_TAG=temporal
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
MOD_DIR=$ROOT/tools/temporal
BIN=$ROOT/.tools/bin/temporal
BUILD_LOG=$ROOT/.tools/temporal-build.log
START_TIMEOUT=60
# Matches the lead's documented build command and ours (which writes to
# temporal.tmp first), so neither runs twice at once.
BUILD_PGREP='go build -o ../../.tools/bin/temporal'

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

needs_build() {
	[[ ! -x $BIN || $MOD_DIR/go.mod -nt $BIN || $MOD_DIR/go.sum -nt $BIN ]] || built_with_other_go "$BIN"
}

# build_running_elsewhere: a `go build` of this checkout's binary runs (started
# by hand, or by a script holding no lock); builds in other checkouts don't count.
build_running_elsewhere() {
	running_in "$MOD_DIR" "$BUILD_PGREP"
}

cmd_build() {
	[[ -f $MOD_DIR/go.mod ]] || die "$MOD_DIR/go.mod is missing: is this a complete checkout of Crier?"
	build_once "the Temporal CLI/dev server" "into .tools/bin/temporal; the first build can take ~6 minutes on 2 cores (later builds reuse Go's build cache)" \
		"$ROOT/.tools/temporal-build.lock" "$BUILD_LOG" needs_build build_running_elsewhere build_cli
}

# build_cli builds into temporal.tmp, then moves it in place.
build_cli() {
	rm -f "$BIN.tmp"
	mkdir -p "$ROOT/.tools/bin"
	(cd "$MOD_DIR" && exec go build -o ../../.tools/bin/temporal.tmp github.com/temporalio/cli/cmd/temporal) &&
		[[ -x $BIN.tmp ]] && mv -f "$BIN.tmp" "$BIN"
}

# server_running: the pid in DIR/temporal.pid is a dev server started from DIR
# (we start it with DIR as its working directory, which /proc records).
server_running() {
	pid_alive_in "$DIR" "$DIR/temporal.pid" "server start-dev"
}

# tctl ARGS...: the CLI as a client, ignoring any user profile/env config
# (e.g. TEMPORAL_ADDRESS or TLS settings meant for another cluster).
tctl() {
	"$BIN" --disable-config-file --disable-config-env --command-timeout 5s "$@"
}

cmd_start() {
	local port=$1 ui_port=$2 headless=${3:-}
	[[ $port =~ ^[0-9]+$ && $ui_port =~ ^[0-9]+$ ]] || die "PORT and UI_PORT must be numbers, got '$port' '$ui_port'"
	[[ -z $headless || $headless == headless ]] || die "the 4th argument must be 'headless' or absent, got '$headless'"
	cmd_build
	mkdir -p "$DIR"

	if server_running; then
		local running
		running=$(cat "$DIR/temporal.port" 2>/dev/null || true)
		[[ $running == "$port" ]] ||
			die "a server from $DIR is already running on port ${running:-?}, not $port: run 'scripts/temporal.sh stop $DIR' first"
		log "already running on 127.0.0.1:$port (pid $(<"$DIR/temporal.pid"))"
		printf '127.0.0.1:%s\n' "$port"
		return 0
	fi
	local q ports=("$port")
	[[ $headless == headless ]] || ports+=("$ui_port")
	for q in "${ports[@]}"; do
		if port_open 127.0.0.1 "$q"; then
			die "port $q on 127.0.0.1 is already in use by another process: pick another port"
		fi
	done

	local args=(server start-dev --ip 127.0.0.1 --port "$port" --ui-port "$ui_port"
		--log-level warn --namespace default
		--search-attribute CrierStatus=Keyword --search-attribute CrierScheduledAt=Datetime)
	local what="state in $DIR/temporal.db"
	if [[ ${TEMPORAL_DB:-} == memory ]]; then
		what="state in memory"
	else
		args+=(--db-filename "$DIR/temporal.db")
	fi
	[[ $headless == headless ]] && args+=(--headless)
	if [[ -n ${TEMPORAL_EXTRA_ARGS:-} ]]; then
		local extra
		read -ra extra <<<"$TEMPORAL_EXTRA_ARGS"
		args+=("${extra[@]}")
	fi

	if [[ $headless == headless ]]; then
		log "starting dev server on 127.0.0.1:$port, headless, $what (log: $DIR/temporal.log)"
	else
		log "starting dev server on 127.0.0.1:$port, Web UI http://127.0.0.1:$ui_port, $what (log: $DIR/temporal.log)"
	fi
	local t0=$SECONDS
	printf '\n==== %s start-dev %s\n' "$(date -u +%FT%TZ)" "${args[*]:2}" >>"$DIR/temporal.log"
	(cd "$DIR" && exec setsid nohup "$BIN" "${args[@]}" >>"$DIR/temporal.log" 2>&1 </dev/null) &
	local pid=$!
	printf '%s\n' "$pid" >"$DIR/temporal.pid"
	printf '%s\n' "$port" >"$DIR/temporal.port"

	local deadline=$((SECONDS + START_TIMEOUT))
	wait_port 127.0.0.1 "$port" "$START_TIMEOUT" "Temporal frontend" "$DIR/temporal.log" "$pid"
	if [[ $headless != headless ]]; then
		wait_port 127.0.0.1 "$ui_port" "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))" \
			"Temporal Web UI" "$DIR/temporal.log" "$pid"
	fi
	# The gRPC port accepts before the frontend can serve; ask for real.
	until tctl operator namespace describe --address "127.0.0.1:$port" -n default >/dev/null 2>&1; do
		if ! proc_running "$pid"; then
			log_tail "$DIR/temporal.log" >&2
			die "the dev server exited during startup (full log: $DIR/temporal.log)"
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$DIR/temporal.log" >&2
			die "the dev server listens on 127.0.0.1:$port but namespace 'default' did not answer within ${START_TIMEOUT}s (still running as pid $pid; stop it with 'scripts/temporal.sh stop $DIR')"
		fi
		sleep 0.5
	done
	log "ready on 127.0.0.1:$port in $((SECONDS - t0))s (pid $pid)"
	printf '127.0.0.1:%s\n' "$port"
}

cmd_stop() {
	if server_running; then
		stop_pid "dev server ($DIR)" "$DIR/temporal.pid" "server start-dev" 20
	else
		rm -f "$DIR/temporal.pid"
		log "dev server ($DIR) is not running"
	fi
}

cmd_status() {
	server_running || return 1
	cat "$DIR/temporal.port"
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
	[[ $# -eq 3 || $# -eq 4 ]] || usage
	DIR=$(abs_path "$1")
	cmd_start "$2" "$3" "${4:-}"
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
