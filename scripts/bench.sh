#!/usr/bin/env bash
# scripts/bench.sh: run Crier's benchmarks (`make bench`) and write BENCHMARKS.md.
#
# Usage: scripts/bench.sh [crierbench flags...]
#
# Starts its own PostgreSQL, Kafka and Temporal on free loopback ports under
# .bench/ (test mode: empty data, PostgreSQL without fsync, in-memory Temporal;
# DATABASE_URL, KAFKA_BROKERS and TEMPORAL_ADDRESS from the environment are
# ignored, so the figures always come from the same kind of stack), builds
# crier and crierbench (bench/, a Go module of its own), runs the burst
# scenario on Crier, the naive workflow and the 60 s poller, and Crier again
# on a production-shaped Temporal (the Temporal server on PostgreSQL,
# scripts/temporal-server.sh, under .bench/temporal-server), then the
# creation, relay, inbox and fan-out scenarios; writes BENCHMARKS.md and
# stops the services.
# Progress is shown as it goes; crier's own log is in .bench/crier.log.
#
# Environment:
#   BENCH_RUNS=2        repetitions of each scenario
#   BENCH_SIZES=1,1000,10000  the burst sizes
#   BENCH_LARGE_RUNS=1  repetitions of the bursts of N >= 10,000 (minutes each)
#   BENCH_BUDGET=20m    bound on the whole run (Nm or Ns), set-up included;
#                       scenarios that would not fit are skipped and listed
#   BENCH_SCENARIOS     the scenarios to run (default all: burst,creation,
#                       relay,inbox,fanout)
#   BENCH_PRODUCTION_TEMPORAL=0  skip the burst on the Temporal server on
#                       PostgreSQL (saves its build, ~2.5 min on a cold cache)
#   BENCH_KEEP=1        leave the services up afterwards, to look into a run
#                       (scripts/stack.sh down .bench stops them)
#   CRIER_LOG_LEVEL     crier's log level in .bench/crier.log (default warn)
set -euo pipefail

LOG_TAG='bench'
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

started=$SECONDS
budget=${BENCH_BUDGET:-20m}
case $budget in
*m) budget_s=$((${budget%m} * 60)) ;;
*s) budget_s=${budget%s} ;;
*) die "BENCH_BUDGET must be minutes or seconds, like 20m or 900s; got '$budget'" ;;
esac

# The report shows the command exactly as run, with the settings that change it.
command='make bench'
for v in BENCH_BUDGET BENCH_SIZES BENCH_RUNS BENCH_LARGE_RUNS BENCH_SCENARIOS BENCH_PRODUCTION_TEMPORAL; do
	if [[ -n ${!v:-} ]]; then command="$v=${!v} $command"; fi
done

STATE=$ROOT/.bench
mkdir -p "$STATE/bin"
printf '# make bench state: never in git.\n*\n' >"$STATE/.gitignore"
if [[ ${BENCH_KEEP:-} == 1 ]]; then
	trap 'log "services left up (BENCH_KEEP=1): . .bench/services.env; scripts/temporal-server.sh stop .bench/temporal-server; scripts/stack.sh down .bench stops them"' EXIT
else
	trap 'log "stopping the services"; scripts/temporal-server.sh stop "$STATE/temporal-server" >/dev/null 2>&1 || true
		scripts/stack.sh down "$STATE" >/dev/null 2>&1 || true' EXIT
fi
trap 'exit 130' INT TERM

unset DATABASE_URL KAFKA_BROKERS TEMPORAL_ADDRESS
# Four crier processes, the baselines, the scenarios' nodes and the Temporal
# server (64 connections of its own) share this PostgreSQL: more than
# its default 100 connections.
export PG_EXTRA_OPTS="-c max_connections=500${PG_EXTRA_OPTS:+ $PG_EXTRA_OPTS}"
log "starting PostgreSQL, Kafka and Temporal under .bench/ (test mode)"
scripts/stack.sh up "$STATE" test >/dev/null
# shellcheck source=/dev/null
. "$STATE/services.env"
log "services ready in $((SECONDS - started))s: PostgreSQL ${DATABASE_URL%%\?*}, Kafka $KAFKA_BROKERS, Temporal $TEMPORAL_ADDRESS"

production=()
if [[ ${BENCH_PRODUCTION_TEMPORAL:-1} != 0 ]]; then
	log "starting the Temporal server on PostgreSQL (production-shaped; builds it the first time, ~2.5 min)"
	mkdir -p "$STATE/temporal-server"
	server_addr=$(scripts/temporal-server.sh start "$STATE/temporal-server" "$(free_port)" "$DATABASE_URL")
	log "Temporal server on PostgreSQL ready at $server_addr"
	production=(-temporal-server "$server_addr")
fi

log "building crier and crierbench"
go build -trimpath -o "$STATE/bin/crier" ./cmd/crier
(cd bench && go build -trimpath -o "$STATE/bin/crierbench" ./cmd/crierbench)

# Leave a minute for stopping everything and writing the report.
left=$((budget_s - (SECONDS - started) - 60))
((left > 60)) || die "BENCH_BUDGET=$budget leaves no time for any scenario after the set-up"
log "running the scenarios within ${left}s (BENCH_BUDGET=$budget)"
"$STATE/bin/crierbench" -crier "$STATE/bin/crier" -state "$STATE" -budget "${left}s" -command "$command" \
	-temporal-cli "$ROOT/.tools/bin/temporal" -kafka-pom tools/kafka/pom.xml -out BENCHMARKS.md "${production[@]}" "$@"
log "done in $((SECONDS - started))s; see BENCHMARKS.md"
