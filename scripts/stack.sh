#!/usr/bin/env bash
# scripts/stack.sh: bring Crier's backing services (PostgreSQL, Kafka, Temporal)
# up or down on 127.0.0.1, each under its own folder of STATE_DIR.
#
# Usage:
#   scripts/stack.sh up STATE_DIR MODE     MODE is "dev" or "test"
#   scripts/stack.sh down STATE_DIR
#
# up: for each service, a value already in the environment (DATABASE_URL,
#   KAFKA_BROKERS, TEMPORAL_ADDRESS) is used as is and nothing is started for
#   it; otherwise the service is started under STATE_DIR/{postgres,kafka,temporal}
#   on free ports (all three in parallel), or reused if it is already running
#   from there. Then STATE_DIR/services.env is written and also printed on
#   stdout, so either of these works:
#       scripts/stack.sh up .state/dev dev && . .state/dev/services.env
#       eval "$(scripts/stack.sh up .state/dev dev)"
#   services.env holds `export DATABASE_URL=...`, `export KAFKA_BROKERS=...`,
#   `export TEMPORAL_ADDRESS=...` and, in dev mode, `export TEMPORAL_UI_URL=...`;
#   in test mode, with a local Kafka, also the KAFKA_SCRAM_* lines of its SCRAM
#   listener (see scripts/kafka.sh).
#
#   dev:  durable PostgreSQL, Temporal with its Web UI and state in
#         STATE_DIR/temporal/temporal.db; the ports chosen are kept in
#         STATE_DIR/ports and reused on the next run while free, so URLs stay
#         stable. Without Java 17+/Maven, KAFKA_BROKERS=embedded (Crier then runs
#         an embedded Kafka-protocol broker itself).
#   test: PostgreSQL without fsync, headless in-memory Temporal, fresh ports,
#         and empty data: a service that is not running starts from a wiped
#         folder (refused if STATE_DIR was last used in dev mode); a missing
#         Java/Maven is an error.
#
# down: stops what STATE_DIR runs (Temporal, Kafka, PostgreSQL, in that order)
#   and removes services.env; data and STATE_DIR/ports stay. Idempotent. Never
#   touches services given through the environment.
#
# A value in the environment that equals what this STATE_DIR itself provided
# last time (e.g. after sourcing services.env) counts as ours, not external.
set -euo pipefail

LOG_TAG=stack
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRIPTS=$(repo_root)/scripts
TEST_PG_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

# svc_log SERVICE MSG... / svc_die SERVICE MSG...: log/die as "==> SERVICE: MSG".
svc_log() { LOG_TAG=$1 log "${@:2}"; }
svc_die() { LOG_TAG=$1 die "${@:2}"; }

pg_url() { printf 'postgres://postgres@127.0.0.1:%s/crier?sslmode=disable' "$1"; }

# load_ports: read STATE_DIR/ports (KEY=VALUE lines) into the P_* variables.
P_MODE='' P_PG_PORT='' P_KAFKA_PORT='' P_KAFKA_CONTROLLER_PORT='' P_KAFKA_SCRAM_PORT='' P_KAFKA_EMBEDDED=''
P_TEMPORAL_PORT='' P_TEMPORAL_UI_PORT=''
load_ports() {
	[[ -f $STATE/ports ]] || return 0
	local key value
	while IFS='=' read -r key value; do
		case $key in
		MODE | PG_PORT | KAFKA_PORT | KAFKA_CONTROLLER_PORT | KAFKA_SCRAM_PORT | KAFKA_EMBEDDED | TEMPORAL_PORT | TEMPORAL_UI_PORT)
			[[ $value =~ ^[a-z0-9]*$ ]] && printf -v "P_$key" '%s' "$value"
			;;
		esac
	done <"$STATE/ports"
}

# TAKEN: ports handed out during this run, so no two services get the same one.
TAKEN=' '

# pick_port VAR PREVIOUS: set VAR to a port for a service. Dev mode reuses
# PREVIOUS (last run's port) when it is free; otherwise ask the kernel.
# (Sets a variable rather than printing, so TAKEN survives: no subshell.)
pick_port() {
	local var=$1 prev=$2 p
	if [[ $MODE == dev && -n $prev && $TAKEN != *" $prev "* ]] && ! port_open 127.0.0.1 "$prev"; then
		p=$prev
	else
		while :; do
			p=$(free_port)
			[[ $TAKEN == *" $p "* ]] || break
		done
	fi
	TAKEN+="$p "
	printf -v "$var" '%s' "$p"
}

# env_line NAME VALUE: an export line; VALUE unquoted when that is safe (so make's
# `include` reads it too), else %q-quoted.
env_line() {
	local name=$1 value=$2
	if [[ $value =~ ^[A-Za-z0-9_@%+=:,./?-]*$ ]]; then
		printf 'export %s=%s\n' "$name" "$value"
	else
		printf 'export %s=%q\n' "$name" "$value"
	fi
}

cmd_up() {
	case $MODE in
	dev | test) ;;
	*) die "MODE must be 'dev' or 'test', got '$MODE'" ;;
	esac
	mkdir -p "$STATE"
	load_ports

	# Which services are ours to run? An env value that equals what this
	# STATE_DIR provided last time is ours (someone sourced services.env).
	local pg=local kafka=local temporal=local
	local ext_pg=${DATABASE_URL:-} ext_kafka=${KAFKA_BROKERS:-} ext_temporal=${TEMPORAL_ADDRESS:-}
	if [[ -n $ext_pg && ! (-n $P_PG_PORT && $ext_pg == "$(pg_url "$P_PG_PORT")") ]]; then
		pg=external
		svc_log postgres "using DATABASE_URL from the environment ($ext_pg); not starting PostgreSQL"
	fi
	if [[ -n $ext_kafka && ! (-n $P_KAFKA_PORT && $ext_kafka == "127.0.0.1:$P_KAFKA_PORT") &&
		! ($ext_kafka == embedded && $P_KAFKA_EMBEDDED == 1) ]]; then
		kafka=external
		svc_log kafka "using KAFKA_BROKERS from the environment ($ext_kafka); not starting Kafka"
	fi
	if [[ -n $ext_temporal && ! (-n $P_TEMPORAL_PORT && $ext_temporal == "127.0.0.1:$P_TEMPORAL_PORT") ]]; then
		temporal=external
		svc_log temporal "using TEMPORAL_ADDRESS from the environment ($ext_temporal); not starting Temporal"
	fi

	# Services already running from STATE_DIR keep their ports (idempotent up).
	local pg_running='' kafka_running='' temporal_running='' any_running=''
	[[ $pg == local ]] && pg_running=$("$SCRIPTS/postgres.sh" status "$STATE/postgres" 2>/dev/null || true)
	[[ $kafka == local ]] && kafka_running=$("$SCRIPTS/kafka.sh" status "$STATE/kafka" 2>/dev/null || true)
	[[ $temporal == local ]] && temporal_running=$("$SCRIPTS/temporal.sh" status "$STATE/temporal" 2>/dev/null || true)
	any_running=$pg_running$kafka_running$temporal_running
	if [[ -n $any_running && -n $P_MODE && $P_MODE != "$MODE" ]]; then
		die "$STATE is running in $P_MODE mode; run 'scripts/stack.sh down $STATE' before bringing it up in $MODE mode"
	fi

	# Test mode starts from empty data, like its in-memory Temporal, so no run
	# sees a previous run's tables or topics. Never wipe a dev STATE_DIR.
	if [[ $MODE == test ]]; then
		local svc wiped=()
		for svc in postgres kafka temporal; do
			case $svc in
			postgres) [[ $pg == local && -z $pg_running ]] || continue ;;
			kafka) [[ $kafka == local && -z $kafka_running ]] || continue ;;
			temporal) [[ $temporal == local && -z $temporal_running ]] || continue ;;
			esac
			[[ -e $STATE/$svc ]] || continue
			[[ $P_MODE != dev ]] ||
				die "$STATE holds dev-mode data ($svc); test mode wipes its data, so use another STATE_DIR for tests"
			rm -rf "${STATE:?}/$svc"
			wiped+=("$svc")
		done
		if ((${#wiped[@]} > 0)); then
			log "test mode: starting ${wiped[*]} from empty data (previous run's data removed)"
		fi
	fi

	if [[ $kafka == local ]] && [[ -z $kafka_running ]]; then
		local why
		if ! why=$("$SCRIPTS/kafka.sh" check 2>&1); then
			if [[ $MODE == dev ]]; then
				svc_log kafka "cannot run Apache Kafka here: $why"
				svc_log kafka "Crier will fall back to its embedded Kafka-protocol broker (KAFKA_BROKERS=embedded)"
				kafka=embedded
			else
				svc_die kafka "$why (test mode needs a real Kafka broker)"
			fi
		fi
	fi

	# Ports: running services keep theirs; dev reuses last run's when free.
	local pg_port='' k_port='' k_cport='' k_sport='' t_port='' t_ui=''
	if [[ $pg == local ]]; then
		if [[ -n $pg_running ]]; then
			pg_port=$pg_running
			TAKEN+="$pg_port "
		else
			pick_port pg_port "$P_PG_PORT"
		fi
	fi
	if [[ $kafka == local ]]; then
		if [[ -n $kafka_running ]]; then
			k_port=$kafka_running
			k_cport=$P_KAFKA_CONTROLLER_PORT
			k_sport=$P_KAFKA_SCRAM_PORT
			TAKEN+="$k_port $k_cport $k_sport "
		else
			pick_port k_port "$P_KAFKA_PORT"
			pick_port k_cport "$P_KAFKA_CONTROLLER_PORT"
			# Tests of authentication use the SCRAM listener; dev stays PLAINTEXT.
			[[ $MODE != test ]] || pick_port k_sport "$P_KAFKA_SCRAM_PORT"
		fi
	fi
	if [[ $temporal == local ]]; then
		if [[ -n $temporal_running ]]; then
			t_port=$temporal_running
			t_ui=$P_TEMPORAL_UI_PORT
			TAKEN+="$t_port $t_ui "
		else
			pick_port t_port "$P_TEMPORAL_PORT"
			pick_port t_ui "$P_TEMPORAL_UI_PORT"
		fi
	fi

	# Record ports before starting, so a failed or interrupted up can still be
	# brought down and dev keeps its ports.
	{
		printf 'MODE=%s\n' "$MODE"
		printf 'PG_PORT=%s\n' "${pg_port:-$P_PG_PORT}"
		printf 'KAFKA_PORT=%s\n' "${k_port:-$P_KAFKA_PORT}"
		printf 'KAFKA_CONTROLLER_PORT=%s\n' "${k_cport:-$P_KAFKA_CONTROLLER_PORT}"
		printf 'KAFKA_SCRAM_PORT=%s\n' "${k_sport:-$P_KAFKA_SCRAM_PORT}"
		printf 'KAFKA_EMBEDDED=%s\n' "$([[ $kafka == embedded ]] && echo 1 || echo 0)"
		printf 'TEMPORAL_PORT=%s\n' "${t_port:-$P_TEMPORAL_PORT}"
		printf 'TEMPORAL_UI_PORT=%s\n' "${t_ui:-$P_TEMPORAL_UI_PORT}"
	} >"$STATE/ports.tmp"
	mv -f "$STATE/ports.tmp" "$STATE/ports"
	rm -f "$STATE/services.env"

	# Start in parallel. Temporal first: a first-time build of its CLI is the
	# long pole. Each child's stdout (the address) goes to a file; its stderr
	# lines (already prefixed "==> NAME:") go straight to ours.
	local out=$STATE/.up
	rm -rf "$out"
	mkdir -p "$out"
	local -A pids=()
	local t0=$SECONDS
	if [[ $temporal == local ]]; then
		(
			if [[ $MODE == test ]]; then
				export TEMPORAL_DB=memory
				exec "$SCRIPTS/temporal.sh" start "$STATE/temporal" "$t_port" "$t_ui" headless
			fi
			exec "$SCRIPTS/temporal.sh" start "$STATE/temporal" "$t_port" "$t_ui"
		) >"$out/temporal" &
		pids[temporal]=$!
	fi
	if [[ $pg == local ]]; then
		(
			if [[ $MODE == test ]]; then
				export PG_EXTRA_OPTS="$TEST_PG_OPTS${PG_EXTRA_OPTS:+ $PG_EXTRA_OPTS}"
			fi
			exec "$SCRIPTS/postgres.sh" start "$STATE/postgres" "$pg_port"
		) >"$out/postgres" &
		pids[postgres]=$!
	fi
	if [[ $kafka == local ]]; then
		"$SCRIPTS/kafka.sh" start "$STATE/kafka" "$k_port" "$k_cport" ${k_sport:+"$k_sport"} >"$out/kafka" &
		pids[kafka]=$!
	fi

	local name failed=()
	for name in temporal postgres kafka; do
		[[ -n ${pids[$name]:-} ]] || continue
		if ! wait "${pids[$name]}"; then
			failed+=("$name")
		fi
	done
	if ((${#failed[@]} > 0)); then
		log "FAILED to start: ${failed[*]} (see the messages above)"
		# Leave nothing half-up that this run started; keep what already ran.
		if [[ -z $temporal_running && -n ${pids[temporal]:-} ]]; then
			"$SCRIPTS/temporal.sh" stop "$STATE/temporal" || true
		fi
		if [[ -z $kafka_running && -n ${pids[kafka]:-} ]]; then
			"$SCRIPTS/kafka.sh" stop "$STATE/kafka" || true
		fi
		if [[ -z $pg_running && -n ${pids[postgres]:-} ]]; then
			"$SCRIPTS/postgres.sh" stop "$STATE/postgres" || true
		fi
		die "stack did not come up; fix the problem above and rerun 'scripts/stack.sh up $STATE $MODE'"
	fi

	local db_url kafka_brokers temporal_addr
	case $pg in
	external) db_url=$ext_pg ;;
	*) db_url=$(<"$out/postgres") ;;
	esac
	case $kafka in
	external) kafka_brokers=$ext_kafka ;;
	embedded) kafka_brokers=embedded ;;
	*) kafka_brokers=$(<"$out/kafka") ;;
	esac
	case $temporal in
	external) temporal_addr=$ext_temporal ;;
	*) temporal_addr=$(<"$out/temporal") ;;
	esac
	rm -rf "$out"
	[[ -n $db_url && -n $kafka_brokers && -n $temporal_addr ]] ||
		die "internal error: a service started but did not report its address"

	{
		printf '# Written by scripts/stack.sh up (%s mode) on %s\n' "$MODE" "$(date -u +%FT%TZ)"
		env_line DATABASE_URL "$db_url"
		env_line KAFKA_BROKERS "$kafka_brokers"
		env_line TEMPORAL_ADDRESS "$temporal_addr"
		if [[ $kafka == local && -n $k_sport ]]; then
			cat "$STATE/kafka/scram.env"
		fi
		if [[ $MODE == dev && $temporal == local ]]; then
			env_line TEMPORAL_UI_URL "http://127.0.0.1:$t_ui"
		elif [[ $MODE == dev && -n ${TEMPORAL_UI_URL:-} ]]; then
			env_line TEMPORAL_UI_URL "$TEMPORAL_UI_URL"
		fi
	} >"$STATE/services.env.tmp"
	mv -f "$STATE/services.env.tmp" "$STATE/services.env"
	log "up in $((SECONDS - t0))s ($MODE mode); environment in $STATE/services.env"
	cat "$STATE/services.env"
}

cmd_down() {
	if [[ ! -d $STATE ]]; then
		log "nothing to stop: $STATE does not exist"
		return 0
	fi
	# Only STATE_DIR's own processes are stopped (each script matches its pid
	# against DIR), so services given through the environment are never touched.
	local rc=0
	if [[ -d $STATE/temporal ]]; then "$SCRIPTS/temporal.sh" stop "$STATE/temporal" || rc=1; fi
	if [[ -d $STATE/kafka ]]; then "$SCRIPTS/kafka.sh" stop "$STATE/kafka" || rc=1; fi
	if [[ -d $STATE/postgres ]]; then "$SCRIPTS/postgres.sh" stop "$STATE/postgres" || rc=1; fi
	rm -f "$STATE/services.env"
	((rc == 0)) || die "some services did not stop cleanly (see above)"
	log "down ($STATE)"
}

[[ $# -ge 2 ]] || usage
CMD=$1
STATE=$(abs_path "$2")
case $CMD in
up)
	[[ $# -eq 3 ]] || usage
	MODE=$3
	cmd_up
	;;
down)
	[[ $# -eq 2 ]] || usage
	cmd_down
	;;
*) usage ;;
esac
