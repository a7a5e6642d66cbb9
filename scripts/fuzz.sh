#!/usr/bin/env bash
# scripts/fuzz.sh: run every fuzz target for a bounded time (`make fuzz`).
#
# Usage: scripts/fuzz.sh [REGEXP]
#
# Finds the fuzz targets with `go test -list '^Fuzz' ./...` (only those whose
# name matches REGEXP, when given) and runs each on its own, since go test
# fuzzes one target per package per run:
#     go test -run '^$' -fuzz '^Name$' -fuzztime $FUZZTIME ./pkg
# Each starts from its seed corpus, committed in <pkg>/testdata/fuzz/<Name>/,
# plus what earlier runs found interesting (kept in Go's cache). Progress is
# shown as go test prints it; at the end a table gives the executions of each
# target. The fuzz targets need no services.
#
# A target that fails (a seed or a generated input) does not stop the others;
# the script names the failing input (go test writes a new one to
# <pkg>/testdata/fuzz/<Name>/, where it becomes a regression test of
# `go test ./...`) and exits 1 at the end.
#
# Environment:
#   FUZZTIME          how long each target runs: a duration (60s, 5m) or a
#                     number of executions (100000x). Default 60s.
#   FUZZMINIMIZETIME  the most time spent minimizing each new or failing
#                     input. Default 10s (go test's own 60s starves short runs).
#   FUZZ_LOG_DIR      where each target's full output goes. Default .test/fuzz.
set -euo pipefail

LOG_TAG='fuzz'
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

FUZZTIME=${FUZZTIME:-60s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}
LOG_DIR=$(abs_path "${FUZZ_LOG_DIR:-.test/fuzz}")
filter=${1:-.}
mkdir -p "$LOG_DIR"
trap 'exit 130' INT TERM

# `go test -list` prints a package's matching names, then its "ok <pkg>" line.
log "finding fuzz targets"
targets=()
names=()
list=$(go test -list '^Fuzz' ./...) || die "go test -list failed (does the code build?)"
while IFS= read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for name in "${names[@]}"; do
			[[ $name =~ $filter ]] && targets+=("$pkg $name")
		done
		names=()
		;;
	esac
done <<<"$list"
[[ ${#targets[@]} -gt 0 ]] || die "no fuzz target matches ${filter}"
log "${#targets[@]} targets, $FUZZTIME each: $(printf '%s\n' "${targets[@]}" | awk '{printf "%s%s", sep, $2; sep=", "}')"

module=$(go list -m)
results=()
failed=0
started=$SECONDS
for target in "${targets[@]}"; do
	read -r pkg name <<<"$target"
	dir=.${pkg#"$module"}
	corpus=$(find "$dir/testdata/fuzz/$name" -type f 2>/dev/null | wc -l || true)
	logfile=$LOG_DIR/$name.log
	log "$name ($dir, $corpus seeds) for $FUZZTIME"
	set +e
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -timeout 0 "$dir" 2>&1 |
		tee "$logfile" | sed -u "s/^/    $name: /"
	status=${PIPESTATUS[0]}
	set -e
	# The last progress line counts every execution: "fuzz: elapsed: 61s, execs: 123 (..."
	execs=$(grep -oE '^fuzz: elapsed: [0-9]+s, execs: [0-9]+' "$logfile" | tail -n1 | sed -E 's/.*execs: //' || true)
	execs=${execs:-0}
	if [[ $status -eq 0 ]]; then
		results+=("$name|$dir|$corpus|$execs|ok")
		continue
	fi
	failed=$((failed + 1))
	written=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$logfile" | tail -n1)
	if [[ -n $written ]]; then
		where="$dir/$written"
		log "FINDING in $name: the failing input is $where (re-run: go test -run '^$name/${written##*/}\$' $dir)"
	else
		# A seed failed before any fuzzing; go test stops at the first one.
		seed=$(sed -nE "s/.*failure while testing seed corpus entry: $name\/(.+)$/\1/p" "$logfile" | head -n1)
		if [[ -n $seed ]]; then
			where="seed $dir/testdata/fuzz/$name/$seed"
		else
			where="see ${logfile#"$ROOT"/}"
		fi
		log "FINDING in $name: ${where} (every failing seed: go test -run '^$name\$' $dir)"
	fi
	results+=("$name|$dir|$corpus|$execs|FAILED: $where")
done

printf '\n%-24s %-22s %6s %14s  %s\n' TARGET PACKAGE SEEDS EXECUTIONS RESULT
for r in "${results[@]}"; do
	IFS='|' read -r name dir corpus execs result <<<"$r"
	printf '%-24s %-22s %6s %14s  %s\n' "$name" "$dir" "$corpus" "$execs" "$result"
done
echo
if [[ $failed -gt 0 ]]; then
	log "$failed of ${#targets[@]} targets failed in $((SECONDS - started))s; full output in ${LOG_DIR#"$ROOT"/}/"
	exit 1
fi
log "${#targets[@]} targets ran $FUZZTIME each with no finding in $((SECONDS - started))s; full output in ${LOG_DIR#"$ROOT"/}/"
