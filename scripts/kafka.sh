#!/usr/bin/env bash
# scripts/kafka.sh: run a private single-node Apache Kafka (KRaft) broker for
# Crier on 127.0.0.1, straight from the jars Maven fetches (no Docker).
#
# Usage:
#   scripts/kafka.sh fetch                 copy the broker jars into .tools/kafka/libs
#                                          (only when missing or older than
#                                          tools/kafka/pom.xml)
#   scripts/kafka.sh check                 exit 0 if this machine can run the broker
#                                          (Java 17+, and Maven unless the jars are
#                                          already fetched); else say why, exit 1
#   scripts/kafka.sh start DIR PORT CONTROLLER_PORT [SCRAM_PORT]
#                                          fetch if needed, format DIR/logs once, start
#                                          a broker+controller listening on
#                                          127.0.0.1:PORT (clients) and
#                                          127.0.0.1:CONTROLLER_PORT (KRaft), wait
#                                          until it serves, print on stdout exactly
#                                          127.0.0.1:PORT
#                                          With SCRAM_PORT (as `make test` runs it):
#                                          also a SASL_PLAINTEXT listener on
#                                          127.0.0.1:SCRAM_PORT (SCRAM-SHA-512 and
#                                          -256) where ACLs apply, see "SCRAM" below
#   scripts/kafka.sh stop DIR              stop the broker started from DIR (TERM,
#                                          then KILL after 20 s); no-op if not running
#   scripts/kafka.sh status DIR            if the broker from DIR runs, print its
#                                          client port on stdout and exit 0; else exit 1
#
# Files in DIR: server.properties, log4j2.properties, logs/ (data), kafka.log
# (WARN and above, plus the startup line), kafka.out (JVM stdout/stderr),
# kafka.pid, cluster.id; with SCRAM also scram.secrets and scram.env.
#
# SCRAM: two users are created with Kafka's own tooling when DIR is formatted
# (StorageTool format --add-scram), with random passwords: "crier", which may
# create, write and read every topic and consumer group, and "reader", which
# may read and describe them but not write. The StandardAuthorizer enforces
# ACLs (granted once with AclCommand after the first start); with no ACL
# nothing is allowed. The PLAINTEXT and CONTROLLER listeners, on loopback and
# for tests that do not exercise authentication, authenticate nobody: their
# principal User:ANONYMOUS is a super user on this test broker only.
# DIR/scram.env exports KAFKA_SCRAM_BROKERS, KAFKA_SCRAM_CRIER_USER,
# KAFKA_SCRAM_CRIER_PASSWORD, KAFKA_SCRAM_READER_USER and
# KAFKA_SCRAM_READER_PASSWORD (scripts/stack.sh adds them to services.env).
# Environment: KAFKA_HEAP_OPTS overrides "-Xmx512m -Xms256m".
# Progress goes to stderr; stdout carries only the address.
set -euo pipefail

LOG_TAG=kafka
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
POM=$ROOT/tools/kafka/pom.xml
TOOLS=$ROOT/.tools/kafka
LIBS=$TOOLS/libs
STAMP=$TOOLS/libs.stamp
START_TIMEOUT=60

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

# java_problem: print why Java cannot run the broker, or nothing if it can.
java_problem() {
	if ! command -v java >/dev/null 2>&1; then
		echo "java not found: install OpenJDK 17 or newer (apt-get install openjdk-17-jre-headless)"
		return
	fi
	local ver major
	ver=$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
	major=${ver%%.*}
	[[ $major == 1 ]] && major=$(cut -d. -f2 <<<"$ver")
	if [[ ! $major =~ ^[0-9]+$ ]]; then
		echo "cannot tell the Java version from 'java -version': install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
	elif ((major < 17)); then
		echo "java $ver is too old for Kafka 4 (needs 17+): install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
	fi
}

libs_fresh() {
	[[ -d $LIBS && -f $STAMP && ! $POM -nt $STAMP ]] && compgen -G "$LIBS/kafka_*.jar" >/dev/null
}

mvn_problem() {
	libs_fresh && return 0
	command -v mvn >/dev/null 2>&1 ||
		echo "mvn not found (needed once to fetch the Kafka jars from Maven Central): install Maven (apt-get install maven)"
}

cmd_check() {
	local p
	p=$(java_problem)
	[[ -z $p ]] || { echo "$p" >&2; return 1; }
	p=$(mvn_problem)
	[[ -z $p ]] || { echo "$p" >&2; return 1; }
	return 0
}

cmd_fetch() {
	[[ -f $POM ]] || die "$POM is missing: is this a complete checkout of Crier?"
	mkdir -p "$TOOLS"
	# Serialise concurrent fetches (e.g. two stacks starting at once).
	exec 8>"$TOOLS/fetch.lock"
	flock 8
	if libs_fresh; then
		exec 8>&-
		return 0
	fi
	local p
	p=$(mvn_problem)
	[[ -z $p ]] || die "$p"
	p=$(java_problem)
	[[ -z $p ]] || die "$p"
	log "fetching Apache Kafka broker jars with Maven into .tools/kafka/libs (about 10 s with a warm ~/.m2, longer on first download)"
	local t0=$SECONDS
	rm -rf "$LIBS.tmp"
	if ! (cd "$ROOT" && mvn -q -B -f tools/kafka/pom.xml dependency:copy-dependencies \
		-DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime) >"$TOOLS/fetch.log" 2>&1; then
		log_tail "$TOOLS/fetch.log" >&2
		die "mvn could not fetch the Kafka jars (full output: $TOOLS/fetch.log); check access to Maven Central / your ~/.m2/settings.xml mirror"
	fi
	compgen -G "$LIBS.tmp/kafka_*.jar" >/dev/null ||
		die "mvn finished but no kafka_*.jar arrived in $LIBS.tmp (see $TOOLS/fetch.log)"
	# Swap the whole directory so jars of an older version never linger.
	rm -rf "$LIBS"
	mv "$LIBS.tmp" "$LIBS"
	touch "$STAMP"
	log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
	exec 8>&-
}

write_config() {
	local port=$1 cport=$2 sport=$3
	local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
	local advertised="PLAINTEXT://127.0.0.1:$port"
	local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
	if [[ -n $sport ]]; then
		listeners+=",SCRAM://127.0.0.1:$sport"
		advertised+=",SCRAM://127.0.0.1:$sport"
		protocols+=",SCRAM:SASL_PLAINTEXT"
	fi
	cat >"$DIR/server.properties" <<EOF
# Written by scripts/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$cport
log.dirs=$DIR/logs
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=1
auto.create.topics.enable=false
default.replication.factor=1
min.insync.replicas=1
EOF
	if [[ -n $sport ]]; then
		cat >>"$DIR/server.properties" <<EOF
# SCRAM listener: users from StorageTool format --add-scram, ACLs enforced.
listener.name.scram.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.scram.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# Test broker only: PLAINTEXT and CONTROLLER (both on loopback) authenticate
# nobody, and the tests that use them must keep working, so their principal
# is a super user. Never do this on a broker reachable from a network.
super.users=User:ANONYMOUS
EOF
	fi
	# WARN+ only (the broker is chatty at INFO), plus the one INFO line from
	# KafkaRaftServer ("Kafka Server started") that start waits for.
	cat >"$DIR/log4j2.properties" <<EOF
# Written by scripts/kafka.sh; rewritten on every start.
status = warn
name = crier-kafka
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $DIR/kafka.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
EOF
}

# configured_port: the client port in DIR/server.properties.
configured_port() {
	sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\).*$/\1/p' "$DIR/server.properties" 2>/dev/null
}

# configured_scram_port: the SCRAM port in DIR/server.properties, if any.
configured_scram_port() {
	sed -n 's/^advertised.listeners=.*SCRAM:\/\/127.0.0.1:\([0-9]*\).*$/\1/p' "$DIR/server.properties" 2>/dev/null
}

# scram_users: the --add-scram arguments of StorageTool format for both users,
# each for both mechanisms, with passwords from DIR/scram.secrets (made once).
scram_users() {
	if [[ ! -s $DIR/scram.secrets ]]; then
		local crier reader
		crier=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
		reader=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
		(umask 077 && printf 'crier=%s\nreader=%s\n' "$crier" "$reader" >"$DIR/scram.secrets")
	fi
	local user password mechanism
	while IFS='=' read -r user password; do
		for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
			printf -- '--add-scram\n%s=[name=%s,password=%s]\n' "$mechanism" "$user" "$password"
		done
	done <"$DIR/scram.secrets"
}

# grant_acls PORT: through the PLAINTEXT listener (a super user there), let
# crier produce and consume everything and reader only consume. Once per DIR.
grant_acls() {
	local port=$1
	[[ -f $DIR/acls.done ]] && return 0
	local cp="$LIBS/*" jvm_log=(-Dlog4j2.configurationFile="$DIR/log4j2.properties")
	local acl=(java "${jvm_log[@]}" -cp "$cp" org.apache.kafka.tools.AclCommand --bootstrap-server "127.0.0.1:$port" --add)
	"${acl[@]}" --allow-principal User:crier --producer --consumer --topic '*' --group '*' >>"$DIR/kafka.out" 2>&1 &
	local a=$!
	"${acl[@]}" --allow-principal User:reader --consumer --topic '*' --group '*' >>"$DIR/kafka.out" 2>&1 &
	local b=$!
	if ! wait "$a" || ! wait "$b"; then
		log_tail "$DIR/kafka.out" >&2
		die "granting the SCRAM users their ACLs failed (full output: $DIR/kafka.out)"
	fi
	touch "$DIR/acls.done"
}

# write_scram_env SCRAM_PORT: DIR/scram.env, what tests need to reach the
# SCRAM listener as either user.
write_scram_env() {
	local sport=$1 user password
	{
		printf 'export KAFKA_SCRAM_BROKERS=127.0.0.1:%s\n' "$sport"
		while IFS='=' read -r user password; do
			printf 'export KAFKA_SCRAM_%s_USER=%s\n' "${user^^}" "$user"
			printf 'export KAFKA_SCRAM_%s_PASSWORD=%s\n' "${user^^}" "$password"
		done <"$DIR/scram.secrets"
	} >"$DIR/scram.env.tmp"
	chmod 600 "$DIR/scram.env.tmp"
	mv -f "$DIR/scram.env.tmp" "$DIR/scram.env"
}

proc_pattern() { printf 'kafka.Kafka %s/server.properties' "$DIR"; }

cmd_start() {
	local port=$1 cport=$2 sport=${3:-}
	[[ $port =~ ^[0-9]+$ && $cport =~ ^[0-9]+$ && $sport =~ ^[0-9]*$ ]] ||
		die "PORT, CONTROLLER_PORT and SCRAM_PORT must be numbers, got '$port' '$cport' '$sport'"
	[[ $port != "$cport" && $sport != "$port" && $sport != "$cport" ]] || die "PORT, CONTROLLER_PORT and SCRAM_PORT must differ"
	local p
	p=$(java_problem)
	[[ -z $p ]] || die "$p"
	cmd_fetch
	mkdir -p "$DIR"

	if pid_alive "$DIR/kafka.pid" "$(proc_pattern)"; then
		local running
		running=$(configured_port)
		[[ $running == "$port" && $(configured_scram_port) == "$sport" ]] ||
			die "a broker from $DIR is already running on port $running (SCRAM port '$(configured_scram_port)'), not $port ('$sport'): run 'scripts/kafka.sh stop $DIR' first"
		log "already running on 127.0.0.1:$port (pid $(<"$DIR/kafka.pid"))"
		printf '127.0.0.1:%s\n' "$port"
		return 0
	fi
	local q
	for q in "$port" "$cport" $sport; do
		if port_open 127.0.0.1 "$q"; then
			die "port $q on 127.0.0.1 is already in use by another process: pick another port"
		fi
	done

	if [[ -n $sport && -f $DIR/logs/meta.properties && ! -s $DIR/scram.secrets ]]; then
		die "$DIR was formatted without SCRAM users: start it without SCRAM_PORT, or remove $DIR to start afresh"
	fi
	write_config "$port" "$cport" "$sport"
	local jvm_log=(-Dlog4j2.configurationFile="$DIR/log4j2.properties")
	local cp="$LIBS/*"
	local t0=$SECONDS

	if [[ ! -f $DIR/logs/meta.properties ]]; then
		local cluster_id
		if [[ -s $DIR/cluster.id ]]; then
			cluster_id=$(<"$DIR/cluster.id")
		else
			cluster_id=$(java "${jvm_log[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$DIR/kafka.out") ||
				die "kafka.tools.StorageTool random-uuid failed (see $DIR/kafka.out)"
			printf '%s\n' "$cluster_id" >"$DIR/cluster.id"
		fi
		log "formatting storage in $DIR/logs (cluster id $cluster_id)"
		local scram=()
		[[ -z $sport ]] || mapfile -t scram < <(scram_users)
		if ! java "${jvm_log[@]}" -cp "$cp" kafka.tools.StorageTool format --standalone \
			-t "$cluster_id" -c "$DIR/server.properties" "${scram[@]}" >>"$DIR/kafka.out" 2>&1; then
			log_tail "$DIR/kafka.out" >&2
			die "formatting Kafka storage failed (full output: $DIR/kafka.out)"
		fi
	fi

	# Only log lines written after this point count as this run's startup.
	local log_offset=0
	[[ -f $DIR/kafka.log ]] && log_offset=$(stat -c %s "$DIR/kafka.log")

	log "starting broker on 127.0.0.1:$port (controller 127.0.0.1:$cport; log: $DIR/kafka.log)"
	local heap
	read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
	# setsid: own session, so the broker outlives this shell and a Ctrl-C in
	# the terminal that ran `make` does not reach it.
	setsid nohup java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-Djava.awt.headless=true -Djava.net.preferIPv4Stack=true "${jvm_log[@]}" \
		-cp "$cp" kafka.Kafka "$DIR/server.properties" \
		>>"$DIR/kafka.out" 2>&1 </dev/null &
	local pid=$!
	printf '%s\n' "$pid" >"$DIR/kafka.pid"

	local deadline=$((SECONDS + START_TIMEOUT))
	wait_port 127.0.0.1 "$port" "$START_TIMEOUT" "Kafka broker" "$DIR/kafka.out" "$pid"
	# A listening socket is not a working broker in KRaft: requests are only
	# served once the broker has caught up with the metadata log and been
	# unfenced, which is when KafkaRaftServer logs "Kafka Server started".
	until tail -c +"$((log_offset + 1))" "$DIR/kafka.log" 2>/dev/null | grep -q 'Kafka Server started'; do
		if ! proc_running "$pid"; then
			log_tail "$DIR/kafka.log" >&2
			log_tail "$DIR/kafka.out" >&2
			die "the broker exited during startup (logs above: $DIR/kafka.log, $DIR/kafka.out)"
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$DIR/kafka.log" >&2
			die "the broker listens on 127.0.0.1:$port but did not finish starting within ${START_TIMEOUT}s (it is still running as pid $pid; stop it with 'scripts/kafka.sh stop $DIR')"
		fi
		sleep 0.2
	done
	if [[ -n $sport ]]; then
		grant_acls "$port"
		write_scram_env "$sport"
		log "SCRAM listener on 127.0.0.1:$sport (users crier and reader; see $DIR/scram.env)"
	fi
	log "ready on 127.0.0.1:$port in $((SECONDS - t0))s (pid $pid)"
	printf '127.0.0.1:%s\n' "$port"
}

cmd_stop() {
	stop_pid "broker ($DIR)" "$DIR/kafka.pid" "$(proc_pattern)" 20
}

cmd_status() {
	pid_alive "$DIR/kafka.pid" "$(proc_pattern)" || return 1
	configured_port
}

[[ $# -ge 1 ]] || usage
CMD=$1
shift
case $CMD in
fetch)
	[[ $# -eq 0 ]] || usage
	cmd_fetch
	;;
check)
	[[ $# -eq 0 ]] || usage
	cmd_check
	;;
start)
	[[ $# -eq 3 || $# -eq 4 ]] || usage
	DIR=$(abs_path "$1")
	cmd_start "$2" "$3" "${4:-}"
	;;
stop)
	[[ $# -eq 1 ]] || usage
	DIR=$(abs_path "$1")
	cmd_stop
	;;
status)
	[[ $# -eq 1 ]] || usage
	DIR=$(abs_path "$1")
	cmd_status
	;;
*) usage ;;
esac
