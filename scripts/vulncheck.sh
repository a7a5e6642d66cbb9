#!/usr/bin/env bash
# scripts/vulncheck.sh: check Crier against the Go vulnerability database
# (`make vulncheck`; `make test` runs it beside go vet).
#
# Usage:
#   scripts/vulncheck.sh [PACKAGES...]
#       build the tools and the database when needed, run govulncheck on
#       PACKAGES (default ./...) and judge its findings with vulngate: exit 1
#       when Crier calls an advisory's vulnerable code, unless
#       tools/vulncheck/accepted.txt accepts it (only while no fix exists).
#       Advisories in packages Crier imports but does not call, or in modules
#       it only requires, are listed and do not fail. Also fails when the
#       Dockerfile's builder is not golang:<CRIER_GO>.
#   scripts/vulncheck.sh build
#       only build .tools/bin/govulncheck, indexdb and vulngate, and the
#       database under .tools/vulndb/<version>
#
# Environment:
#   VULNCHECK_GO   scan with this Go release's standard library instead of
#                  CRIER_GO's, e.g. go1.26.8 to see the check fail
#
# Everything comes from the Go module proxy, at the versions in
# tools/vulncheck/go.mod: govulncheck (golang.org/x/vuln) and the database
# (golang.org/x/vulndb: its data/osv reports, indexed by its own cmd/indexdb
# into the index/ and ID/ files that govulncheck's -db file:// reads). The
# first run builds the tools (about 3 minutes on 2 cores) and the
# database (about 10 s); the database is rebuilt when the vulndb version in
# go.mod changes. No other site is contacted.
set -euo pipefail

LOG_TAG=vulncheck
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
MOD_DIR=$ROOT/tools/vulncheck
BIN_DIR=$ROOT/.tools/bin
GOVULNCHECK=$BIN_DIR/govulncheck
INDEXDB=$BIN_DIR/indexdb
VULNGATE=$BIN_DIR/vulngate
DB_ROOT=$ROOT/.tools/vulndb

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

needs_build() {
	local bin src
	for bin in "$GOVULNCHECK" "$INDEXDB" "$VULNGATE"; do
		[[ -x $bin ]] || return 0
		built_with_other_go "$bin" && return 0
		for src in "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" "$MOD_DIR"/vulngate/*.go; do
			[[ $src -nt $bin ]] && return 0
		done
	done
	return 1
}

# build_tools builds the three binaries into a temporary folder, then moves them.
build_tools() {
	local tmp=$BIN_DIR/.vulncheck-build.tmp
	rm -rf "$tmp" && mkdir -p "$tmp" &&
		(cd "$MOD_DIR" && exec go build -o "$tmp/" \
			golang.org/x/vuln/cmd/govulncheck \
			golang.org/x/vulndb/cmd/indexdb \
			github.com/crier/crier/tools/vulncheck/vulngate) &&
		mv -f "$tmp/govulncheck" "$GOVULNCHECK" && mv -f "$tmp/indexdb" "$INDEXDB" &&
		mv -f "$tmp/vulngate" "$VULNGATE" && rmdir "$tmp"
}

# DB_VERSION, DB_DIR: the pinned golang.org/x/vulndb and its database folder.
db_locate() {
	DB_VERSION=$(cd "$MOD_DIR" && go list -m -f '{{.Version}}' golang.org/x/vulndb)
	DB_DIR=$DB_ROOT/$DB_VERSION
}

needs_db() {
	[[ ! -f $DB_DIR/index/db.json ]]
}

# build_db indexes the module's data/osv reports. Those reports carry no
# modification times (the public database stamps them from git history), so
# index/db.json gets the module's commit time: govulncheck reports it as the
# database's date.
build_db() {
	local src when tmp=$DB_DIR.tmp
	(cd "$MOD_DIR" && go mod download golang.org/x/vulndb) &&
		read -r src when < <(cd "$MOD_DIR" && go list -m -f '{{.Dir}} {{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' golang.org/x/vulndb) &&
		[[ -d $src/data/osv ]] &&
		rm -rf "$tmp" && "$INDEXDB" -vulns "$src/data/osv" -out "$tmp" &&
		printf '{"modified":"%s"}' "$when" >"$tmp/index/db.json" &&
		gzip -nc "$tmp/index/db.json" >"$tmp/index/db.json.gz" &&
		rm -rf "$DB_DIR" && mv "$tmp" "$DB_DIR" &&
		find "$DB_ROOT" -mindepth 1 -maxdepth 1 ! -path "$DB_DIR" -exec rm -rf {} +
}

cmd_build() {
	[[ -f $MOD_DIR/go.mod ]] || die "$MOD_DIR/go.mod is missing: is this a complete checkout of Crier?"
	build_once "govulncheck, indexdb and vulngate" "into .tools/bin; the first build takes about 3 minutes on 2 cores" \
		"$ROOT/.tools/vulncheck-build.lock" "$ROOT/.tools/vulncheck-build.log" needs_build - build_tools
	db_locate
	mkdir -p "$DB_ROOT"
	build_once "the vulnerability database $DB_VERSION" "into .tools/vulndb (about 10 s)" \
		"$ROOT/.tools/vulndb.lock" "$ROOT/.tools/vulndb-build.log" needs_db - build_db
}

# check_dockerfile: the image is built by the same Go release as everything else.
check_dockerfile() {
	grep -qE "^FROM .*golang:${CRIER_GO#go}-[a-z]+ AS build" "$ROOT/Dockerfile" ||
		die "the Dockerfile's builder is not golang:${CRIER_GO#go}-...: make it match CRIER_GO in scripts/lib.sh"
}

cmd_check() {
	check_dockerfile
	cmd_build
	local go=${VULNCHECK_GO:-$CRIER_GO} rc=0
	SCAN_OUT=$(mktemp)
	trap 'rm -f "$SCAN_OUT"' EXIT
	log "govulncheck ${*:-./...} with $go's standard library (database $DB_VERSION)"
	(cd "$ROOT" && GOTOOLCHAIN=$go "$GOVULNCHECK" -format json -db "file://$DB_DIR" "${@:-./...}" >"$SCAN_OUT") ||
		die "govulncheck failed (exit $?)"
	"$VULNGATE" -accepted "$MOD_DIR/accepted.txt" <"$SCAN_OUT" >&2 || rc=$?
	case $rc in
	0) log "no called advisory (accepted ones aside)" ;;
	1) die "Crier calls code with a known vulnerability: upgrade (for the standard library, CRIER_GO in scripts/lib.sh and the Dockerfile) or, only when no fix exists, accept it with a reason in tools/vulncheck/accepted.txt" ;;
	*) die "vulngate could not read govulncheck's output (exit $rc)" ;;
	esac
}

case ${1:-} in
build)
	[[ $# -eq 1 ]] || usage
	cmd_build
	;;
-h | --help) usage ;;
*) cmd_check "$@" ;;
esac
