#!/usr/bin/env bash
# scripts/test.sh: run every test against real services (`make test`).
#
# Usage: scripts/test.sh [go test flags...]
#
# Starts PostgreSQL, Kafka and Temporal on free loopback ports under .test/
# (or uses DATABASE_URL / KAFKA_BROKERS / TEMPORAL_ADDRESS when set), builds
# the admin console (scripts/console.sh) and installs Chromium for its browser
# tests (screenshots land in .test/screenshots), runs
# `go vet`, shellcheck and golangci-lint (scripts/lint.sh), govulncheck
# (scripts/vulncheck.sh, which fails on a called advisory, and must fail on
# VULNERABLE_GO below) and `go test ./...` with
# CRIER_TEST_SERVICES=required (so a test that cannot reach a service fails
# instead of skipping), then stops what it started. The full verbose log is
# kept in .test/go-test.log.
set -euo pipefail

LOG_TAG='test'
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

STATE=$ROOT/.test
mkdir -p "$STATE"
trap 'scripts/stack.sh down "$STATE" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

started=$SECONDS
scripts/stack.sh up "$STATE" test >/dev/null
# shellcheck source=/dev/null
. "$STATE/services.env"
export CRIER_TEST_SERVICES=required
log "services ready in $((SECONDS - started))s: PostgreSQL ${DATABASE_URL%%\?*}, Kafka $KAFKA_BROKERS, Temporal $TEMPORAL_ADDRESS"

# The admin console: its JavaScript is embedded in crier (make console), and
# its browser tests drive Debian's Chromium.
scripts/console.sh build
debian_install chromium chromium || log "chromium not found (not root or no apt-get): the console's browser tests fail"

log "go vet ./... and gofmt (the product and the bench module)"
go vet ./...
(cd bench && go vet ./...)
unformatted=$(git ls-files -z '*.go' | xargs -0 "$(go env GOROOT)/bin/gofmt" -l)
[[ -z $unformatted ]] || die "gofmt would change: $unformatted (run make fmt)"

log "linters: shellcheck and golangci-lint over every module (scripts/lint.sh)"
scripts/lint.sh

log "govulncheck ./... (scripts/vulncheck.sh) and vulngate's tests"
scripts/vulncheck.sh
(cd tools/vulncheck && go test -count=1 ./...)

# VULNERABLE_GO is a release whose standard library has advisories Crier
# calls: the same check must fail on it, or the check itself is broken (an
# empty database, a toolchain switch that does not happen). One package that
# serves HTTP is enough to show it, and keeps this run short.
VULNERABLE_GO=go1.26.8
log "regression: scripts/vulncheck.sh must fail on $VULNERABLE_GO's standard library"
if VULNCHECK_GO=$VULNERABLE_GO scripts/vulncheck.sh ./internal/auth >"$STATE/vulncheck-old-go.log" 2>&1; then
	die "scripts/vulncheck.sh passed on $VULNERABLE_GO, whose net/http advisories Crier calls: the check is broken (log: .test/vulncheck-old-go.log)"
fi
grep -q 'Crier calls code with a known vulnerability' "$STATE/vulncheck-old-go.log" || {
	log_tail "$STATE/vulncheck-old-go.log" >&2
	die "scripts/vulncheck.sh on $VULNERABLE_GO failed, but not on an advisory"
}
log "ok: $(grep -E '^[0-9]+ advisories' "$STATE/vulncheck-old-go.log")"

log "deploy/: alert rule tests and dashboard queries (scripts/check-alerts.sh)"
scripts/check-alerts.sh

# failure_report prints each failed test's own output, from its "=== RUN" to
# its "--- FAIL" (in -v mode a test's messages come before its result line),
# without the Crier log lines the end-to-end tests interleave, and any panic.
failure_report() {
	awk '
		/^=== (RUN|CONT|PAUSE)/ { name = $3 }
		/^=== RUN/ { lines[name] = "" ; count[name] = 0 }
		/handler\.go:[0-9]+: time=/ { next }
		name != "" && count[name] < 120 { lines[name] = lines[name] $0 "\n"; count[name]++ }
		/^ *--- FAIL: / {
			failed = $3
			printf "==> output of %s\n%s", failed, lines[failed]
			if (count[failed] >= 120) print "    [... more in .test/go-test.log]"
		}
		/^panic:/ { panicking = 1 }
		panicking && shown++ < 60 { print }
	' "$1"
}

# kcat runs the README's Kafka block (TestREADME skips that block without it).
debian_install kcat kcat || log "kcat not found (not root or no apt-get): TestREADME skips the README's Kafka block"

log "go test ./... and the bench module's (verbose log: .test/go-test.log)"
set +e
go test -count=1 -v -timeout 20m "$@" ./... >"$STATE/go-test.log" 2>&1
status=$?
# The bench is a module of its own: its tests are counted with the rest
# (TestShortForm, make chaos's short form, runs crier processes for about
# two minutes).
(cd bench && go test -count=1 -v -timeout 10m ./...) >>"$STATE/go-test.log" 2>&1 || status=$?
set -e
# Show each test's result and the end-to-end test's own report; the closing
# "ok"/"FAIL" line of every package is kept.
grep -E '^(--- |ok |FAIL|PASS$|panic:)|^\s+--- |e2e_test.go:[0-9]+: (end-to-end|published|.* received)' "$STATE/go-test.log" | grep -v -- '--- SKIP' || true
skipped=$(grep -c -- '--- SKIP' "$STATE/go-test.log" || true)
passed=$(grep -cE '^\s*--- PASS' "$STATE/go-test.log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$STATE/go-test.log" || true)
if [[ $status -ne 0 ]]; then
	failure_report "$STATE/go-test.log" >&2 || true
	log "FAILED after $((SECONDS - started))s; full log in .test/go-test.log"
	echo "$passed passed, $failed failed, $skipped skipped"
	exit "$status"
fi
log "all tests passed in $((SECONDS - started))s"
echo "$passed passed, $failed failed, $skipped skipped"
