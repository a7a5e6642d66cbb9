# shellcheck shell=bash
# scripts/lib.sh: helpers shared by Crier's local-service scripts.
#
# Usage (from another script in scripts/):
#   # shellcheck source=scripts/lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   LOG_TAG=kafka            # prefix for log/die messages ("==> kafka: ...")
#
# Provides:
#   CRIER_GO, GOTOOLCHAIN (exported)  the Go release every go command here runs
#   log MSG...                        progress message on stderr: "==> TAG: MSG"
#   die MSG...                        error message on stderr, then exit 1
#   repo_root                         absolute path of the repository root
#   abs_path PATH                     PATH made absolute (need not exist yet)
#   free_port                         a TCP port on 127.0.0.1 that is free right now
#   port_open HOST PORT               true if something accepts on HOST:PORT
#   wait_port HOST PORT TIMEOUT_S NAME [LOGFILE] [PID]
#                                     wait until HOST:PORT accepts; on timeout (or
#                                     when PID exits) die with the tail of LOGFILE
#   usage_from_header FILE            print FILE's header comment to stderr, exit 2
#   built_with_other_go BIN           true if BIN was not built by $CRIER_GO
#   log_tail FILE [N]                 last N (default 30) lines of FILE, indented
#   proc_running PID                  true if PID exists and is not a zombie
#   pid_alive PIDFILE [PATTERN]       true if the pid in PIDFILE runs (and its
#                                     command line contains PATTERN)
#   debian_install CMD PACKAGE        make CMD available: when it is missing and we
#                                     are root with apt-get (CI, a fresh machine),
#                                     install Debian's PACKAGE (one install at a
#                                     time); otherwise return 1 (the caller says how)
#   stop_pid NAME PIDFILE PATTERN [GRACE_S]
#                                     TERM, wait up to GRACE_S (default 20), KILL;
#                                     removes PIDFILE; no-op if not running
#
# Everything here only ever talks to 127.0.0.1.

LOG_TAG=${LOG_TAG:-crier}

# CRIER_GO is the Go release that builds and tests Crier and its tools, the
# one place it is named (the Makefile reads it from here; the Dockerfile's
# builder tag must match, which scripts/vulncheck.sh checks). go1.26.8 has
# standard-library advisories fixed in later releases (make vulncheck).
# Exporting GOTOOLCHAIN makes any installed go (1.21 or later) fetch this
# release from the module proxy on first use; a toolchain line in go.mod
# would not, where the machine sets GOTOOLCHAIN=local.
CRIER_GO=go1.27.3
export GOTOOLCHAIN=$CRIER_GO

# log and die never fail their caller: a progress line that cannot be shown
# (the terminal or a pipe reading our output is gone) must not abort a
# script half way, least of all one stopping services.
log() {
	printf '==> %s: %s\n' "$LOG_TAG" "$*" >&2 || true
}

die() {
	printf '==> %s: ERROR: %s\n' "$LOG_TAG" "$*" >&2 || true
	exit 1
}

repo_root() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
}

abs_path() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd -P)" "${1#./}" ;;
	esac
}

port_open() {
	# A connect to a closed local port fails at once, so no timeout is needed;
	# `timeout` still guards against a wedged listener.
	# shellcheck disable=SC2016 # $1/$2 expand in the child bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
		return
	fi
	# Fallback without python3: probe random ports in the ephemeral range.
	local port i
	for ((i = 0; i < 200; i++)); do
		port=$((20000 + RANDOM % 30000))
		if ! port_open 127.0.0.1 "$port"; then
			printf '%s\n' "$port"
			return
		fi
	done
	die "could not find a free TCP port on 127.0.0.1"
}

# built_with_other_go BIN: a tool built by an older Go carries that Go's
# standard library, so a change of CRIER_GO rebuilds it.
built_with_other_go() {
	[[ $(go version "$1" 2>/dev/null) != "$1: $CRIER_GO" ]]
}

usage_from_header() {
	awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1" >&2
	exit 2
}

log_tail() {
	local file=$1 n=${2:-30}
	if [[ -s $file ]]; then
		printf '    --- last %s lines of %s ---\n' "$n" "$file"
		tail -n "$n" "$file" | sed 's/^/    /'
	elif [[ -n $file ]]; then
		printf '    (%s is empty or missing)\n' "$file"
	fi
}

wait_port() {
	local host=$1 port=$2 timeout_s=$3 name=$4 logfile=${5:-} pid=${6:-}
	local deadline=$((SECONDS + timeout_s))
	until port_open "$host" "$port"; do
		if [[ -n $pid ]] && ! proc_running "$pid"; then
			printf '==> %s: ERROR: %s exited before it listened on %s:%s\n' \
				"$LOG_TAG" "$name" "$host" "$port" >&2
			log_tail "$logfile" >&2
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			printf '==> %s: ERROR: %s did not listen on %s:%s within %ss\n' \
				"$LOG_TAG" "$name" "$host" "$port" "$timeout_s" >&2
			log_tail "$logfile" >&2
			exit 1
		fi
		sleep 0.2
	done
}

proc_running() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	# A dead child nobody has reaped yet still answers kill -0; field 3 of
	# /proc/PID/stat is its state (Z = zombie, X = dead).
	state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[[ $state != Z && $state != X ]]
}

pid_alive() {
	local pidfile=$1 pattern=${2:-} pid
	[[ -f $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	proc_running "$pid" || return 1
	if [[ -n $pattern ]]; then
		# Guard against pid reuse: the process must still be ours.
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
	fi
}

stop_pid() {
	local name=$1 pidfile=$2 pattern=$3 grace=${4:-20} pid deadline
	if ! pid_alive "$pidfile" "$pattern"; then
		rm -f "$pidfile"
		log "$name is not running"
		return 0
	fi
	pid=$(<"$pidfile")
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + grace))
	while proc_running "$pid"; do
		if ((SECONDS >= deadline)); then
			log "$name did not stop within ${grace}s; sending KILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	rm -f "$pidfile"
	log "$name stopped"
}

# pid_alive_in DIR PIDFILE PATTERN: as pid_alive, and the process runs in
# DIR, so a state directory's pid file never names another one's server.
pid_alive_in() {
	pid_alive "$2" "$3" || return 1
	[[ $(readlink "/proc/$(<"$2")/cwd" 2>/dev/null) == "$1" ]]
}

# running_in DIR PATTERN: a process whose command line matches PATTERN
# (pgrep -f) runs in DIR, e.g. a build of a tool module started by hand;
# the same build in another checkout does not count.
running_in() {
	local pid
	for pid in $(pgrep -f "$2"); do
		[[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$1" ]] && return 0
	done
	return 1
}

# build_once WHAT NOTE LOCKFILE LOGFILE NEEDS_FN BUSY_FN BUILD_FN
#   Builds a tool from a Go module at most once at a time across invocations.
#   When NEEDS_FN says a build is needed, it takes LOCKFILE (waiting while
#   another build holds it, or while BUSY_FN, unless "-", reports one started
#   by hand), asks NEEDS_FN again (the other build may have done the work),
#   then runs BUILD_FN (which builds into temporary files and moves them in
#   place, returning non-zero on failure) with its output in LOGFILE. It says
#   "building WHAT NOTE" when it starts and prints a progress line every
#   BUILD_HEARTBEAT_S seconds while waiting or building, so nobody stares at
#   silence; on failure it shows the log's tail and dies.
BUILD_HEARTBEAT_S=30
build_once() {
	local what=$1 note=$2 lock=$3 log_file=$4 needs=$5 busy=$6 build=$7
	"$needs" || return 0
	mkdir -p "$(dirname "$lock")"
	exec 9>"$lock"
	local t0=$SECONDS next=$SECONDS
	while ! flock -n 9 || { [[ $busy != - ]] && "$busy"; }; do
		if ((SECONDS >= next)); then
			log "another build of $what is running; waiting for it ($((SECONDS - t0))s so far)"
			next=$((SECONDS + BUILD_HEARTBEAT_S))
		fi
		sleep 1
	done
	if ! "$needs"; then
		exec 9>&-
		return 0
	fi
	command -v go >/dev/null 2>&1 ||
		die "go not found: install Go 1.21 or later (https://go.dev/dl) to build $what; it then fetches $CRIER_GO itself"
	log "building $what $note"
	t0=$SECONDS
	"$build" >"$log_file" 2>&1 &
	local pid=$! rc=0
	next=$((SECONDS + BUILD_HEARTBEAT_S))
	while proc_running "$pid"; do
		if ((SECONDS >= next)); then
			log "still building $what ($((SECONDS - t0))s elapsed; output in $log_file)"
			next=$((SECONDS + BUILD_HEARTBEAT_S))
		fi
		sleep 1
	done
	wait "$pid" || rc=$?
	exec 9>&-
	if ((rc != 0)); then
		log_tail "$log_file" >&2
		die "building $what failed (exit $rc; full output: $log_file). Needs the Go proxy (GOPROXY) or a warm module cache"
	fi
	log "built $what in $((SECONDS - t0))s"
}

debian_install() {
	local cmd=$1 package=$2
	command -v "$cmd" >/dev/null 2>&1 && return 0
	[[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 || return 1
	local tools
	tools=$(repo_root)/.tools
	mkdir -p "$tools"
	local log_file=$tools/apt-install-$package.log
	# One install at a time: make lint and make test may start together, and
	# apt-get refuses to run twice. Another apt-get on the machine (outside
	# this repository's scripts) is waited for, up to five minutes, through
	# dpkg's own lock.
	exec 7>"$tools/apt-install.lock"
	flock 7
	if ! command -v "$cmd" >/dev/null 2>&1; then
		log "$cmd not found: installing Debian's $package (apt-get update; apt-get install $package)"
		local wait=(-o DPkg::Lock::Timeout=300)
		if ! { apt-get "${wait[@]}" update && DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y --no-install-recommends "$package"; } >"$log_file" 2>&1; then
			log_tail "$log_file" >&2
			exec 7>&-
			die "installing $package with apt-get failed (full output: $log_file)"
		fi
	fi
	exec 7>&-
	command -v "$cmd" >/dev/null 2>&1 || die "apt-get installed $package, but $cmd is not on PATH"
}
