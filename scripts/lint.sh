#!/usr/bin/env bash
# scripts/lint.sh: Crier's linters (`make lint`; `make test` runs the shell part).
#
# Usage:
#   scripts/lint.sh                  shellcheck, then golangci-lint; exit 1 on
#                                    any finding of either
#   scripts/lint.sh shell            shellcheck over every shell script (those
#                                    git tracks or would track):
#                                    the *.sh files and the executable files
#                                    whose #! line names sh, bash or dash
#   scripts/lint.sh go [PACKAGES...] golangci-lint run, with .golangci.yml, in
#                                    every Go module of the repository (the
#                                    product and tools/*; modules that only pin
#                                    a tool are skipped), or on PACKAGES of the
#                                    root module
#   scripts/lint.sh build            only build .tools/bin/golangci-lint
#
# The shellcheck program comes from the operating system: when it is missing
# and we run as root with apt-get (CI, a fresh Debian or Ubuntu machine), it
# is installed with apt-get; otherwise the script says how to install it.
# Versions differ in what they report: Debian 12's 0.9.0 is the reference.
#
# golangci-lint is built from source at the version pinned in tools/golangci
# (the first build took 3 minutes on a busy 2-core machine; later ones reuse
# Go's build cache), and rebuilt when that version or CRIER_GO changes.
#
# Progress goes to stderr.
set -euo pipefail

LOG_TAG=lint
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
MOD_DIR=$ROOT/tools/golangci
BIN_DIR=$ROOT/.tools/bin
GOLANGCI=$BIN_DIR/golangci-lint
GOLANGCI_MODULE=github.com/golangci/golangci-lint/v2

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

# shell_scripts lists the shell scripts of the work tree that git tracks or
# would track (new ones included), one a line, relative to ROOT.
shell_scripts() {
	local f first
	while IFS= read -r -d '' f; do
		[[ -f $ROOT/$f ]] || continue # deleted in the work tree
		if [[ $f == *.sh ]]; then
			printf '%s\n' "$f"
			continue
		fi
		# A script without the .sh suffix runs by its #! line, so it is
		# executable: reading only those skips every other file.
		[[ -x $ROOT/$f ]] || continue
		IFS= read -r first <"$ROOT/$f" || true
		if [[ $first =~ ^#!.*[/[:space:]](ba|da)?sh([[:space:]]|$) ]]; then
			printf '%s\n' "$f"
		fi
	done < <(git -C "$ROOT" ls-files -z --cached --others --exclude-standard)
}

# ensure_shellcheck installs shellcheck with apt-get when it is missing and
# we may (root, on Debian or Ubuntu), or dies saying how to get it.
ensure_shellcheck() {
	debian_install shellcheck shellcheck ||
		die "shellcheck not found: install it (Debian, Ubuntu: sudo apt-get install shellcheck; Fedora: sudo dnf install ShellCheck; macOS: brew install shellcheck), then run again"
}

cmd_shell() {
	ensure_shellcheck
	local scripts
	mapfile -t scripts < <(shell_scripts)
	((${#scripts[@]} > 0)) || die "found no shell script: is this a git checkout of Crier?"
	log "shellcheck $(shellcheck --version | sed -n 's/^version: //p') over ${#scripts[@]} scripts"
	# -x follows `source` into lib.sh, found by the `# shellcheck source=`
	# paths, which are relative to the repository root.
	if ! (cd "$ROOT" && shellcheck --external-sources "${scripts[@]}"); then
		die "shellcheck found the problems above: fix them, or, where a finding is wrong, add a '# shellcheck disable=SCnnnn # reason' on the line before"
	fi
	log "ok: shellcheck"
}

# pinned_version is the golangci-lint version tools/golangci/go.mod names.
pinned_version() {
	(cd "$MOD_DIR" && go list -m -f '{{.Version}}' "$GOLANGCI_MODULE")
}

# built_version is the golangci-lint version BIN was built from.
built_version() {
	go version -m "$GOLANGCI" 2>/dev/null | awk -v m="$GOLANGCI_MODULE" '($1 == "mod" || $1 == "dep") && $2 == m { print $3 }'
}

needs_build() {
	[[ -x $GOLANGCI ]] || return 0
	built_with_other_go "$GOLANGCI" && return 0
	[[ $(built_version) == "$(pinned_version)" ]] || return 0
	[[ $MOD_DIR/go.sum -nt $GOLANGCI ]] && return 0
	return 1
}

# build_golangci builds into a temporary file, then moves it in place.
build_golangci() {
	local tmp=$BIN_DIR/.golangci-lint.tmp
	mkdir -p "$BIN_DIR" &&
		(cd "$MOD_DIR" && exec go build -o "$tmp" "$GOLANGCI_MODULE/cmd/golangci-lint") &&
		mv -f "$tmp" "$GOLANGCI"
}

cmd_build() {
	[[ -f $MOD_DIR/go.mod ]] || die "$MOD_DIR/go.mod is missing: is this a complete checkout of Crier?"
	build_once "golangci-lint $(pinned_version)" "into .tools/bin; the first build takes about 3 minutes on 2 cores" \
		"$ROOT/.tools/golangci-build.lock" "$ROOT/.tools/golangci-build.log" needs_build - build_golangci
}

# go_modules lists the folders (relative to ROOT, "." first) of the Go modules
# with code of Crier's own; a module whose only Go file is tools.go just pins
# a tool and has nothing to lint.
go_modules() {
	local mod dir
	while IFS= read -r mod; do
		dir=$(dirname "$mod")
		[[ $dir == . || $(git -C "$ROOT" ls-files -- "$dir/*.go") != "$dir/tools.go" ]] && printf '%s\n' "$dir"
	done < <(git -C "$ROOT" ls-files -- go.mod '*/go.mod' | sort)
}

cmd_go() {
	cmd_build
	local dirs dir failed=()
	if (($# > 0)); then
		dirs=(.)
	else
		mapfile -t dirs < <(go_modules)
	fi
	for dir in "${dirs[@]}"; do
		log "golangci-lint run ${*:-./...} in $([[ $dir == . ]] && echo 'the root module' || echo "$dir")"
		(cd "$ROOT/$dir" && "$GOLANGCI" run --allow-parallel-runners --config "$ROOT/.golangci.yml" "${@:-./...}") || failed+=("$dir")
	done
	((${#failed[@]} == 0)) || die "golangci-lint found problems (or failed) in: ${failed[*]}"
	log "ok: golangci-lint"
}

case ${1:-} in
shell)
	[[ $# -eq 1 ]] || usage
	cmd_shell
	;;
go)
	shift
	cmd_go "$@"
	;;
build)
	[[ $# -eq 1 ]] || usage
	cmd_build
	;;
'')
	rc=0
	(cmd_shell) || rc=1
	(cmd_go) || rc=1
	exit "$rc"
	;;
*) usage ;;
esac
