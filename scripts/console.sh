#!/usr/bin/env bash
# scripts/console.sh: build the admin console (console/) into console/public/js,
# which the crier binary embeds: `npm ci` from the lockfile when node_modules
# is missing or older than it, then the TypeScript compiler.
#
# Usage: scripts/console.sh [build|check]
#   build (default)  install and compile
#   check            install and type-check only
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=console

mode=${1:-build}
dir=$(repo_root)/console
command -v npm >/dev/null 2>&1 || debian_install npm npm ||
	die "npm not found: install Node.js 18 or later with npm (Debian: apt-get install npm)"

cd "$dir"
stamp=node_modules/.package-lock.json
if [[ ! -f $stamp || package-lock.json -nt $stamp ]]; then
	log "npm ci (the lockfile's pinned TypeScript and axe-core)"
	# --ignore-scripts: nothing here needs an install script, and none runs.
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
fi
case $mode in
build)
	rm -rf public/js
	npx --no-install tsc -p .
	log "built console/public/js ($(find public/js -name '*.js' | wc -l) modules)"
	;;
check) npx --no-install tsc -p . --noEmit ;;
*) usage_from_header "${BASH_SOURCE[0]}" ;;
esac
