#!/usr/bin/env bash
# scripts/check-alerts.sh: check Crier's operations assets in deploy/ with
# Prometheus's own tools, built from source at the version pinned in
# tools/promtool (no Prometheus, Grafana or network service needed).
#
# Usage:
#   scripts/check-alerts.sh          build the tools if needed, then:
#                                      promtool check rules   deploy/prometheus/alerts.yaml
#                                      promtool test rules    deploy/prometheus/alerts_test.yaml
#                                      promtool check config  deploy/prometheus/prometheus.yml
#                                      checkdashboard         deploy/grafana/crier-dashboard.json
#                                    (every PromQL expression in the dashboard and
#                                    the rules parses and selects only metrics
#                                    Crier exposes; panels have data source,
#                                    description and unit; each crier_* metric is
#                                    still defined in internal/metrics)
#                                    exit 0 when all pass
#   scripts/check-alerts.sh build    only build .tools/bin/promtool and
#                                    .tools/bin/checkdashboard when missing,
#                                    older than tools/promtool or built by another
#                                    Go than CRIER_GO (first build takes
#                                    a few minutes on 2 cores; later ones reuse
#                                    Go's build cache)
#
# Progress goes to stderr.
set -euo pipefail

LOG_TAG=check-alerts
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
MOD_DIR=$ROOT/tools/promtool
BIN_DIR=$ROOT/.tools/bin
PROMTOOL=$BIN_DIR/promtool
CHECKDASH=$BIN_DIR/checkdashboard
BUILD_LOG=$ROOT/.tools/promtool-build.log

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

needs_build() {
	local bin src
	for bin in "$PROMTOOL" "$CHECKDASH"; do
		[[ -x $bin ]] || return 0
		built_with_other_go "$bin" && return 0
		for src in "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" "$MOD_DIR"/checkdashboard/*.go; do
			[[ $src -nt $bin ]] && return 0
		done
	done
	return 1
}

cmd_build() {
	[[ -f $MOD_DIR/go.mod ]] || die "$MOD_DIR/go.mod is missing: is this a complete checkout of Crier?"
	build_once "promtool and checkdashboard" "into .tools/bin; the first build can take ~6 minutes on 2 cores (later builds reuse Go's build cache)" \
		"$ROOT/.tools/promtool-build.lock" "$BUILD_LOG" needs_build - build_tools
}

# build_tools builds both binaries into a temporary folder, then moves them.
build_tools() {
	local tmp=$BIN_DIR/.promtool-build.tmp
	rm -rf "$tmp" && mkdir -p "$tmp" &&
		(cd "$MOD_DIR" && exec go build -o "$tmp/" \
			github.com/prometheus/prometheus/cmd/promtool \
			github.com/crier/crier/tools/promtool/checkdashboard) &&
		[[ -x $tmp/promtool && -x $tmp/checkdashboard ]] &&
		mv -f "$tmp/promtool" "$PROMTOOL" && mv -f "$tmp/checkdashboard" "$CHECKDASH" && rmdir "$tmp"
}

# step NAME CMD...: run one check, print its output indented, remember failures.
FAILED=()
step() {
	local name=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if ((rc == 0)); then
		log "ok: $name"
	else
		log "FAILED: $name (exit $rc)"
		FAILED+=("$name")
	fi
	[[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/    /' >&2
}

cmd_check() {
	cmd_build
	local prom=$ROOT/deploy/prometheus dash=$ROOT/deploy/grafana/crier-dashboard.json
	step "promtool check rules" "$PROMTOOL" check rules "$prom/alerts.yaml"
	# Paths in the test file (rule_files) are relative to it.
	step "promtool test rules" "$PROMTOOL" test rules "$prom/alerts_test.yaml"
	step "promtool check config" "$PROMTOOL" check config "$prom/prometheus.yml"
	step "dashboard and rule queries use only Crier's metrics" \
		"$CHECKDASH" -rules "$prom/alerts.yaml" -metrics-src "$ROOT/internal/metrics" "$dash"
	if ((${#FAILED[@]} > 0)); then
		die "${#FAILED[@]} check(s) failed: ${FAILED[*]}"
	fi
	log "all checks passed"
}

case ${1:-} in
"") cmd_check ;;
build)
	[[ $# -eq 1 ]] || usage
	cmd_build
	;;
*) usage ;;
esac
