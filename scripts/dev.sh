#!/usr/bin/env bash
# scripts/dev.sh: run the whole stack on loopback for development (`make dev`).
#
# Usage: scripts/dev.sh
#
# Starts PostgreSQL, Kafka and the Temporal dev server with its Web UI under
# .dev/ (their data survives a restart), builds and runs `crier all` (API,
# worker and relay in one process), prints the URLs and an admin token, and
# writes them as shell variables to .dev/env (DATABASE_URL, KAFKA_BROKERS,
# TEMPORAL_ADDRESS, TEMPORAL_UI_URL, CRIER_API_URL, CRIER_ADMIN_TOKEN), which
# `crier token` and other commands also read. Ctrl-C stops everything.
# CRIER_HTTP_ADDR picks the API address (default 127.0.0.1:8080, or a free
# port when 8080 is taken).
set -euo pipefail

LOG_TAG='dev'
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

STATE=$ROOT/.dev
mkdir -p "$STATE/bin"
# stop_all must finish even when the terminal or a pipe reading our output
# (make dev | tee) is already gone: it ignores SIGPIPE, does not stop on
# errors, and falls back to a log file when stderr cannot be written.
stop_all() {
	trap - EXIT INT TERM
	trap '' PIPE
	set +e
	# SIGPIPE is ignored (here and, inherited, in stack.sh), so a write to a
	# closed pipe fails instead of killing the stop; the log file keeps a copy.
	exec 2> >(tee -a "$STATE/stop.log" >&2)
	log "stopping Crier and the services"
	if [[ -n ${CRIER_PID:-} ]]; then
		kill -TERM "$CRIER_PID" 2>/dev/null
		wait "$CRIER_PID" 2>/dev/null
	fi
	scripts/stack.sh down "$STATE"
	log "stopped; data kept in .dev/ (rm -rf .dev to start afresh)"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

scripts/stack.sh up "$STATE" dev >/dev/null
# shellcheck source=/dev/null
. "$STATE/services.env"

scripts/console.sh build
log "building crier"
go build -o "$STATE/bin/crier" ./cmd/crier

addr=${CRIER_HTTP_ADDR:-127.0.0.1:8080}
if port_open 127.0.0.1 "${addr##*:}"; then
	addr=127.0.0.1:$(free_port)
	log "port 8080 is taken; the API uses $addr instead"
fi
export CRIER_HTTP_ADDR=$addr
token=$(CRIER_ENV_FILE=/dev/null "$STATE/bin/crier" token --sub admin --name "Crier Admin" --role admin --ttl 720h)

cat >"$STATE/env" <<ENV
# Written by make dev ($(date -u +%FT%TZ)). Source it: . .dev/env
export DATABASE_URL='$DATABASE_URL'
export KAFKA_BROKERS='$KAFKA_BROKERS'
export TEMPORAL_ADDRESS='$TEMPORAL_ADDRESS'
export TEMPORAL_UI_URL='${TEMPORAL_UI_URL:-}'
export CRIER_HTTP_ADDR='$addr'
export CRIER_API_URL='http://$addr'
export CRIER_ADMIN_TOKEN='$token'
ENV

CRIER_TEMPORAL_UI_URL=${CRIER_TEMPORAL_UI_URL:-${TEMPORAL_UI_URL:-}} "$STATE/bin/crier" all > >(sed -u 's/^/    crier | /' >&2) 2>&1 &
CRIER_PID=$!
wait_port 127.0.0.1 "${addr##*:}" 60 crier
# A one-time sign-in link to the console (after the API has migrated the
# database it is stored in); `crier signin-link` prints another.
signin=$(CRIER_ENV_FILE=/dev/null "$STATE/bin/crier" signin-link --sub admin --name "Crier Admin" --role admin --url "http://$addr" 2>&1) ||
	signin="(could not make one: $signin)"

cat >&2 <<MSG

  Crier is running.
    Admin console    http://$addr/admin/
      sign in once with this link (valid 15 minutes, one use):
      $signin
      or paste the admin token below; another link: $STATE/bin/crier signin-link --sub admin --role admin
    API              http://$addr   (health: /healthz, readiness: /readyz)
    Temporal Web UI  ${TEMPORAL_UI_URL:-none}
    PostgreSQL       $DATABASE_URL
    Kafka            $KAFKA_BROKERS   (topic broadcast_messages)

  In another shell:   . .dev/env
    curl -s -X POST "\$CRIER_API_URL/api/v1/broadcasts" \\
      -H "Authorization: Bearer \$CRIER_ADMIN_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"title":"Hello","content":"First broadcast","target":{"type":"ALL"}}'

  Admin token (also in .dev/env as CRIER_ADMIN_TOKEN):
    $token

  Ctrl-C stops everything.

MSG
wait "$CRIER_PID"
