#!/usr/bin/env bash
# scripts/chaos.sh: run Crier's failure scenarios (`make chaos`) and write CHAOS.md.
#
# Usage: scripts/chaos.sh [crierchaos flags...]
#
# Starts its own services on free loopback ports under .chaos/, from empty
# data (a previous run's is removed): PostgreSQL with its default
# durability (fsync and synchronous commit on: a scenario stops it in
# immediate mode and it must recover what it acknowledged), a three-node
# Kafka cluster (scripts/kafka-cluster.sh: KRaft, replication 3,
# min.insync.replicas 2) and the Temporal dev server with its state in
# .chaos/temporal/temporal.db (a scenario stops and starts it).
# DATABASE_URL, KAFKA_BROKERS and TEMPORAL_ADDRESS from the environment are
# ignored, so the figures always come from the same kind of stack. Builds
# crier and crierchaos (bench/, the benchmark's Go module), runs each
# scenario with its own crier processes (two API nodes with SSE clients, two
# workers, the relay), writes CHAOS.md and stops the services. Progress is
# shown as it goes; each scenario's crier logs are in .chaos/logs/SCENARIO/.
#
# The first run on a machine also builds the Temporal CLI and fetches the
# Kafka jars (2 to 6 minutes, cached afterwards), before the budget starts.
#
# Environment:
#   CHAOS_BUDGET=25m      bound on the whole run (Nm or Ns), set-up included;
#                         scenarios that would not fit are skipped and listed
#   CHAOS_SCENARIOS       the scenarios to run, comma-separated (default all,
#                         the soak last; bench/chaos/scenario.go lists them)
#   CHAOS_BURST=100       broadcasts in each scenario's burst
#   CHAOS_SOAK=4m         the soak's steady traffic (0s skips the soak)
#   CHAOS_HOLD_FAULT=2s   how long before the due time a fault inside the
#                         hold (the due dispatchers waiting for it) strikes
#   CHAOS_KEEP=1          leave the services up afterwards, to look into a run
#   CRIER_LOG_LEVEL       the crier processes' log level (default info)
set -euo pipefail

LOG_TAG='chaos'
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

# The tools first, outside the budget: a first run builds them once.
scripts/temporal.sh build
scripts/kafka.sh fetch

started=$SECONDS
budget=${CHAOS_BUDGET:-25m}
case $budget in
*m) budget_s=$((${budget%m} * 60)) ;;
*s) budget_s=${budget%s} ;;
*) die "CHAOS_BUDGET must be minutes or seconds, like 25m or 900s; got '$budget'" ;;
esac

# The report shows the command exactly as run, with the settings that change it.
command='make chaos'
for v in CHAOS_BUDGET CHAOS_SCENARIOS CHAOS_BURST CHAOS_SOAK CHAOS_HOLD_FAULT; do
	if [[ -n ${!v:-} ]]; then command="$v=${!v} $command"; fi
done

STATE=$ROOT/.chaos
stop_services() {
	scripts/temporal.sh stop "$STATE/temporal" >/dev/null 2>&1 || true
	scripts/kafka-cluster.sh stop "$STATE/kafka" >/dev/null 2>&1 || true
	scripts/postgres.sh stop "$STATE/postgres" >/dev/null 2>&1 || true
}
mkdir -p "$STATE"
printf '# make chaos state: never in git.\n*\n' >"$STATE/.gitignore"
# A run left up (CHAOS_KEEP=1) or interrupted goes first: every run starts empty.
stop_services
rm -rf "${STATE:?}/postgres" "${STATE:?}/kafka" "${STATE:?}/temporal" "${STATE:?}/logs" "$STATE/services.log"
mkdir -p "$STATE/bin"
if [[ ${CHAOS_KEEP:-} == 1 ]]; then
	trap 'log "services left up (CHAOS_KEEP=1): . .chaos/services.env; stop them with scripts/temporal.sh stop .chaos/temporal; scripts/kafka-cluster.sh stop .chaos/kafka; scripts/postgres.sh stop .chaos/postgres"' EXIT
else
	trap 'log "stopping the services"; stop_services' EXIT
fi
trap 'exit 130' INT TERM

unset DATABASE_URL KAFKA_BROKERS TEMPORAL_ADDRESS TEMPORAL_DB
pg_port=$(free_port)
temporal_port=$(free_port)
temporal_ui_port=$(free_port)
# Five crier processes of 20 connections each per scenario, the harness and
# the database creation: more than the default 100 once a scenario's
# processes overlap the next one's start.
export PG_EXTRA_OPTS="-c max_connections=300${PG_EXTRA_OPTS:+ $PG_EXTRA_OPTS}"
log "starting PostgreSQL, a three-node Kafka cluster and Temporal (state on disk) under .chaos/"
mkdir -p "$STATE/postgres" "$STATE/temporal"
scripts/postgres.sh start "$STATE/postgres" "$pg_port" >"$STATE/postgres.url" &
pg=$!
scripts/temporal.sh start "$STATE/temporal" "$temporal_port" "$temporal_ui_port" headless >"$STATE/temporal.addr" &
temporal=$!
scripts/kafka-cluster.sh start "$STATE/kafka" >"$STATE/kafka.brokers" &
kafka=$!
failed=0
for p in "$pg" "$temporal" "$kafka"; do wait "$p" || failed=1; done
((failed == 0)) || die "the services did not come up (see the messages above)"
DATABASE_URL=$(<"$STATE/postgres.url")
KAFKA_BROKERS=$(<"$STATE/kafka.brokers")
TEMPORAL_ADDRESS=$(<"$STATE/temporal.addr")
export DATABASE_URL KAFKA_BROKERS TEMPORAL_ADDRESS
printf 'export DATABASE_URL=%s\nexport KAFKA_BROKERS=%s\nexport TEMPORAL_ADDRESS=%s\n' \
	"$DATABASE_URL" "$KAFKA_BROKERS" "$TEMPORAL_ADDRESS" >"$STATE/services.env"
log "services ready in $((SECONDS - started))s: PostgreSQL ${DATABASE_URL%%\?*}, Kafka $KAFKA_BROKERS, Temporal $TEMPORAL_ADDRESS"

log "building crier and crierchaos"
go build -trimpath -o "$STATE/bin/crier" ./cmd/crier
(cd bench && go build -trimpath -o "$STATE/bin/crierchaos" ./cmd/crierchaos)

# Leave a minute for stopping everything and writing the report.
left=$((budget_s - (SECONDS - started) - 60))
((left > 120)) || die "CHAOS_BUDGET=$budget leaves no time for any scenario after the set-up"
flags=(-burst "${CHAOS_BURST:-100}" -soak "${CHAOS_SOAK:-4m}" -hold-fault "${CHAOS_HOLD_FAULT:-2s}")
if [[ -n ${CHAOS_SCENARIOS:-} ]]; then flags+=(-scenarios "$CHAOS_SCENARIOS"); fi
log "running the scenarios within ${left}s (CHAOS_BUDGET=$budget)"
"$STATE/bin/crierchaos" -crier "$STATE/bin/crier" -state "$STATE" -budget "${left}s" -command "$command" \
	-temporal-cli "$ROOT/.tools/bin/temporal" -kafka-pom tools/kafka/pom.xml -out CHAOS.md -replication 3 \
	-scripts "$ROOT/scripts" -postgres-dir "$STATE/postgres" -kafka-dir "$STATE/kafka" \
	-temporal-dir "$STATE/temporal" -temporal-ui-port "$temporal_ui_port" "${flags[@]}" "$@"
log "done in $((SECONDS - started))s; see CHAOS.md"
