#!/usr/bin/env bash
# scripts/kafka-cluster.sh: run a private three-node Apache Kafka (KRaft)
# cluster on 127.0.0.1 from the same Maven jars as scripts/kafka.sh, for
# `make chaos`, which kills and restarts its brokers one at a time.
#
# Usage:
#   scripts/kafka-cluster.sh start DIR     format each node once, start the three
#                                          nodes and wait until every one serves;
#                                          print the bootstrap list on stdout:
#                                          127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#   scripts/kafka-cluster.sh stop DIR      stop every node (TERM, then KILL after 20 s)
#   scripts/kafka-cluster.sh stop-node DIR ID [kill]
#                                          stop node ID (1, 2 or 3) with TERM, or
#                                          with KILL at once (a crash)
#   scripts/kafka-cluster.sh start-node DIR ID
#                                          start node ID again on its own ports and
#                                          data, wait until it serves
#   scripts/kafka-cluster.sh status DIR    print the bootstrap list of the nodes
#                                          running; exit 1 when none is
#   scripts/kafka-cluster.sh leaders DIR TOPIC
#                                          print "PARTITION LEADER ISR" per partition
#                                          of TOPIC (Kafka's TopicCommand --describe)
#
# Every node is a broker and a controller (process.roles=broker,controller)
# with its own client and controller ports and its own log dir under
# DIR/node-ID; the three share DIR/cluster.id and a static quorum
# (controller.quorum.voters), so any two of them keep the cluster running.
# Topics default to replication 3 with min.insync.replicas=2, so a producer
# with acks=all (Crier's relay) keeps writing while one node is down, and an
# acknowledged event is on two nodes at least. Ports are chosen on the first
# start and kept in DIR/ports, so a restarted node comes back where clients
# and the other nodes expect it. PLAINTEXT only: loopback, no credentials.
# Environment: KAFKA_HEAP_OPTS overrides "-Xmx512m -Xms256m" (per node).
# Progress goes to stderr; stdout carries only addresses.
set -euo pipefail

LOG_TAG=kafka-cluster
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(repo_root)
LIBS=$ROOT/.tools/kafka/libs
NODES=(1 2 3)
START_TIMEOUT=90

usage() {
	usage_from_header "${BASH_SOURCE[0]}"
}

# ports_load: NODE_PORT[ID] and NODE_CPORT[ID] from DIR/ports, chosen (and
# written) on the first start.
declare -A NODE_PORT=() NODE_CPORT=()
ports_load() {
	local id port cport taken=' '
	if [[ -s $DIR/ports ]]; then
		while read -r id port cport; do
			[[ $id =~ ^[123]$ && $port =~ ^[0-9]+$ && $cport =~ ^[0-9]+$ ]] || die "$DIR/ports is damaged: remove $DIR to start afresh"
			NODE_PORT[$id]=$port
			NODE_CPORT[$id]=$cport
		done <"$DIR/ports"
		return 0
	fi
	for id in "${NODES[@]}"; do
		for port in port cport; do
			local p
			while :; do
				p=$(free_port)
				[[ $taken == *" $p "* ]] || break
			done
			taken+="$p "
			if [[ $port == port ]]; then NODE_PORT[$id]=$p; else NODE_CPORT[$id]=$p; fi
		done
	done
	mkdir -p "$DIR"
	for id in "${NODES[@]}"; do
		printf '%s %s %s\n' "$id" "${NODE_PORT[$id]}" "${NODE_CPORT[$id]}"
	done >"$DIR/ports"
}

voters() {
	local id out=''
	for id in "${NODES[@]}"; do
		out+="${out:+,}$id@127.0.0.1:${NODE_CPORT[$id]}"
	done
	printf '%s\n' "$out"
}

bootstrap() {
	local id out=''
	for id in "$@"; do
		out+="${out:+,}127.0.0.1:${NODE_PORT[$id]}"
	done
	printf '%s\n' "$out"
}

node_dir() { printf '%s/node-%s\n' "$DIR" "$1"; }
proc_pattern() { printf 'kafka.Kafka %s/server.properties' "$(node_dir "$1")"; }
node_running() { pid_alive "$(node_dir "$1")/kafka.pid" "$(proc_pattern "$1")"; }

# write_config ID: the node's server.properties and log4j2.properties,
# rewritten on every start.
write_config() {
	local id=$1 nd
	nd=$(node_dir "$id")
	mkdir -p "$nd"
	cat >"$nd/server.properties" <<EOF
# Written by scripts/kafka-cluster.sh; rewritten on every start.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:${NODE_PORT[$id]},CONTROLLER://127.0.0.1:${NODE_CPORT[$id]}
advertised.listeners=PLAINTEXT://127.0.0.1:${NODE_PORT[$id]}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$nd/logs
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
num.partitions=6
group.initial.rebalance.delay.ms=0
EOF
	cat >"$nd/log4j2.properties" <<EOF
# Written by scripts/kafka-cluster.sh; rewritten on every start.
status = warn
name = crier-kafka-$id
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $nd/kafka.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
EOF
}

cluster_id() {
	if [[ ! -s $DIR/cluster.id ]]; then
		java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid >"$DIR/cluster.id.tmp" 2>>"$DIR/format.out" ||
			die "kafka.tools.StorageTool random-uuid failed (see $DIR/format.out)"
		mv -f "$DIR/cluster.id.tmp" "$DIR/cluster.id"
	fi
	cat "$DIR/cluster.id"
}

# launch ID: format the node's storage once, start it in the background;
# sets LAUNCH_OFFSET to where this start's lines begin in its kafka.log.
launch() {
	local id=$1 nd
	nd=$(node_dir "$id")
	if node_running "$id"; then
		log "node $id already running (pid $(<"$nd/kafka.pid"))"
		LAUNCH_OFFSET=-1
		return 0
	fi
	local q
	for q in "${NODE_PORT[$id]}" "${NODE_CPORT[$id]}"; do
		! port_open 127.0.0.1 "$q" || die "port $q of node $id is in use by another process: stop it, or remove $DIR to choose new ports"
	done
	write_config "$id"
	local jvm_log=(-Dlog4j2.configurationFile="$nd/log4j2.properties")
	if [[ ! -f $nd/logs/meta.properties ]]; then
		log "formatting node $id's storage in $nd/logs"
		java "${jvm_log[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$(cluster_id)" \
			-c "$nd/server.properties" >>"$nd/kafka.out" 2>&1 || {
			log_tail "$nd/kafka.out" >&2
			die "formatting node $id failed (full output: $nd/kafka.out)"
		}
	fi
	LAUNCH_OFFSET=0
	[[ -f $nd/kafka.log ]] && LAUNCH_OFFSET=$(stat -c %s "$nd/kafka.log")
	local heap
	read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
	# setsid: own session, so a Ctrl-C in the terminal that ran make does not
	# reach the node; make chaos stops it itself.
	setsid nohup java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-Djava.awt.headless=true -Djava.net.preferIPv4Stack=true "${jvm_log[@]}" \
		-cp "$LIBS/*" kafka.Kafka "$nd/server.properties" >>"$nd/kafka.out" 2>&1 </dev/null &
	printf '%s\n' "$!" >"$nd/kafka.pid"
	log "node $id starting on 127.0.0.1:${NODE_PORT[$id]} (controller ${NODE_CPORT[$id]}; log: $nd/kafka.log)"
}

# await ID OFFSET: wait until node ID logs "Kafka Server started" after
# OFFSET: it has joined the quorum, caught up and been unfenced.
await() {
	local id=$1 offset=$2 nd pid deadline=$((SECONDS + START_TIMEOUT))
	((offset >= 0)) || return 0
	nd=$(node_dir "$id")
	pid=$(<"$nd/kafka.pid")
	until tail -c +"$((offset + 1))" "$nd/kafka.log" 2>/dev/null | grep -q 'Kafka Server started'; do
		if ! proc_running "$pid"; then
			log_tail "$nd/kafka.log" >&2
			log_tail "$nd/kafka.out" >&2
			die "node $id exited during startup (logs: $nd/kafka.log, $nd/kafka.out)"
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$nd/kafka.log" >&2
			die "node $id did not finish starting within ${START_TIMEOUT}s (a node serves once two of the three run)"
		fi
		sleep 0.2
	done
	log "node $id ready on 127.0.0.1:${NODE_PORT[$id]} (pid $pid)"
}

cmd_start() {
	"$(dirname "${BASH_SOURCE[0]}")/kafka.sh" fetch
	local p
	p=$("$(dirname "${BASH_SOURCE[0]}")/kafka.sh" check 2>&1) || die "$p"
	mkdir -p "$DIR"
	ports_load
	local t0=$SECONDS id
	declare -A offsets=()
	# All three at once: a node serves only once a quorum of controllers runs.
	for id in "${NODES[@]}"; do
		launch "$id"
		offsets[$id]=$LAUNCH_OFFSET
	done
	for id in "${NODES[@]}"; do
		await "$id" "${offsets[$id]}"
	done
	log "cluster ready in $((SECONDS - t0))s"
	bootstrap "${NODES[@]}"
}

cmd_start_node() {
	local id=$1
	[[ -s $DIR/ports ]] || die "$DIR has no cluster: run 'scripts/kafka-cluster.sh start $DIR' first"
	ports_load
	launch "$id"
	await "$id" "$LAUNCH_OFFSET"
}

cmd_stop_node() {
	local id=$1 how=${2:-} nd
	nd=$(node_dir "$id")
	if [[ $how == kill ]]; then
		if node_running "$id"; then
			local pid
			pid=$(<"$nd/kafka.pid")
			log "killing node $id (pid $pid, SIGKILL)"
			kill -KILL "$pid" 2>/dev/null || true
			while proc_running "$pid"; do sleep 0.05; done
		else
			log "node $id is not running"
		fi
		rm -f "$nd/kafka.pid"
		return 0
	fi
	stop_pid "node $id" "$nd/kafka.pid" "$(proc_pattern "$id")" 20
}

cmd_status() {
	[[ -s $DIR/ports ]] || return 1
	ports_load
	local id up=()
	for id in "${NODES[@]}"; do
		node_running "$id" && up+=("$id")
	done
	((${#up[@]} > 0)) || return 1
	bootstrap "${up[@]}"
}

# cmd_leaders TOPIC: each partition's leader and in-sync replicas, from the
# nodes that run (TopicCommand asks any of them).
cmd_leaders() {
	local topic=$1 brokers
	brokers=$(cmd_status) || die "no node of $DIR is running"
	java -Dlog4j2.configurationFile="$(node_dir 1)/log4j2.properties" -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand \
		--bootstrap-server "$brokers" --describe --topic "$topic" 2>>"$DIR/tools.out" |
		awk '$1 == "Topic:" && $3 == "Partition:" {
			for (i = 1; i < NF; i++) { if ($i == "Partition:") p = $(i+1); if ($i == "Leader:") l = $(i+1); if ($i == "Isr:") r = $(i+1) }
			print p, l, r
		}'
}

check_id() {
	[[ $1 =~ ^[123]$ ]] || die "the node ID must be 1, 2 or 3, got '$1'"
}

[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$(abs_path "$2")
shift 2
case $CMD in
start)
	[[ $# -eq 0 ]] || usage
	cmd_start
	;;
stop)
	[[ $# -eq 0 ]] || usage
	for node in "${NODES[@]}"; do cmd_stop_node "$node"; done
	;;
stop-node)
	[[ $# -eq 1 || ($# -eq 2 && $2 == kill) ]] || usage
	check_id "$1"
	cmd_stop_node "$1" "${2:-}"
	;;
start-node)
	[[ $# -eq 1 ]] || usage
	check_id "$1"
	cmd_start_node "$1"
	;;
status)
	[[ $# -eq 0 ]] || usage
	cmd_status
	;;
leaders)
	[[ $# -eq 1 ]] || usage
	cmd_leaders "$1"
	;;
*) usage ;;
esac
