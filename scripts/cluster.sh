#!/usr/bin/env bash
# A 3-node ferricd cluster of local processes on 127.0.0.1, for trying things out (`make cluster`).
#
#   scripts/cluster.sh start    start nodes 1-3 (clients 7001-7003, cluster bus 17001-17003,
#                               metrics 9201-9203), wait until they answer PING
#   scripts/cluster.sh stop     SIGTERM every node, SIGKILL those still running after 20 s
#   scripts/cluster.sh status   which nodes run
#   scripts/cluster.sh add N    start node N (N >= 4) with --cluster-join and have node 1 meet
#                               it (CLUSTER MEET, needs redis-cli): replicas spread onto it
#   scripts/cluster.sh forget N have node 1 forget node N (CLUSTER FORGET): its replicas move
#                               to the others; stop it afterwards, its id is never used again
#
# Data and logs live under ./cluster-data (node1/, node1.log, node1.pid, ...); the data stays
# after stop, `rm -rf cluster-data` starts afresh. Knobs (environment): FERRICD_BIN (default
# bin/ferricd), CLUSTER_DIR (default ./cluster-data), CLUSTER_PORT (default 7000: node n listens
# on CLUSTER_PORT+n, its bus on that + 10000), CLUSTER_METRICS_PORT (default 9200: node n serves
# /metrics on CLUSTER_METRICS_PORT+n), CLUSTER_REDIRECT (yes|no,
# default yes: keys another node leads answer MOVED, which redis-cli -c follows; no: the node
# forwards them), CLUSTER_ARGS (extra ferricd options for every node, e.g. "--shards 4").
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${FERRICD_BIN:-bin/ferricd}
dir=${CLUSTER_DIR:-./cluster-data}
redirect=${CLUSTER_REDIRECT:-yes}
base=${CLUSTER_PORT:-7000}
metrics_base=${CLUSTER_METRICS_PORT:-9200}
nodes=(1 2 3)
host=127.0.0.1

# Nodes added with `add` are stopped and listed with the others.
for f in "$dir"/node*.pid; do
	[ -e "$f" ] || continue
	n=${f##*/node}
	n=${n%.pid}
	case " ${nodes[*]} " in *" $n "*) ;; *) nodes+=("$n") ;; esac
done

client_port() { echo $((base + $1)); }
bus_port() { echo $((base + 10000 + $1)); }
metrics_port() { echo $((metrics_base + $1)); }

peers() {
	local list="" n
	for n in "${nodes[@]}"; do
		list+="${list:+,}$n@$host:$(bus_port "$n")"
	done
	echo "$list"
}

# alive PID: the process exists and is not a zombie (a node started by this script that
# exited stays a zombie until the script ends).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

# pid_of N: the pid of node N if it is running (and runs $bin: the pid file may be stale and its
# pid reused by another program), else nothing.
pid_of() {
	local f="$dir/node$1.pid" pid
	[ -f "$f" ] || return 0
	pid=$(<"$f")
	if [ -n "$pid" ] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(basename "$bin")"; then
		echo "$pid"
	fi
}

start() {
	if [ ! -x "$bin" ]; then
		echo "cluster: $bin not found; run make build (or make cluster)" >&2
		exit 1
	fi
	local n running=()
	for n in "${nodes[@]}"; do
		if [ -n "$(pid_of "$n")" ]; then running+=("$n"); fi
	done
	if [ ${#running[@]} -gt 0 ]; then
		echo "cluster: node(s) ${running[*]} already running; scripts/cluster.sh stop first" >&2
		exit 1
	fi
	# Another server on one of the ports would answer the readiness checks below.
	for n in "${nodes[@]}"; do
		if "$bin" --check --bind "$host" --port "$(client_port "$n")" 2>/dev/null; then
			echo "cluster: a server already answers on $host:$(client_port "$n"); stop it or set CLUSTER_PORT" >&2
			exit 1
		fi
	done
	mkdir -p "$dir"
	local peer_list
	peer_list=$(peers)
	for n in "${nodes[@]}"; do
		# shellcheck disable=SC2086 # CLUSTER_ARGS is a list of options
		nohup "$bin" --bind "$host" --port "$(client_port "$n")" --dir "$dir/node$n" \
			--metrics-port "$(metrics_port "$n")" \
			--node-id "$n" --cluster-peers "$peer_list" --cluster-port "$(bus_port "$n")" \
			--cluster-announce-ip "$host" --cluster-redirect "$redirect" \
			${CLUSTER_ARGS:-} >>"$dir/node$n.log" 2>&1 </dev/null &
		echo $! >"$dir/node$n.pid"
	done

	# Wait (at most 30 s) until every node answers PING; a node that exits fails the start.
	local deadline=$((SECONDS + 30)) pending
	while :; do
		pending=()
		for n in "${nodes[@]}"; do
			if ! alive "$(<"$dir/node$n.pid")"; then
				echo "cluster: node $n exited during start-up; last lines of $dir/node$n.log:" >&2
				tail -n 20 "$dir/node$n.log" >&2
				echo "cluster: stopping the other nodes" >&2
				stop >&2
				exit 1
			fi
			"$bin" --check --bind "$host" --port "$(client_port "$n")" 2>/dev/null || pending+=("$n")
		done
		if [ ${#pending[@]} -eq 0 ]; then break; fi
		if [ $SECONDS -ge $deadline ]; then
			echo "cluster: node(s) ${pending[*]} not answering after 30 s; logs in $dir/" >&2
			stop >&2
			exit 1
		fi
		sleep 0.5
	done

	cat <<EOF
ferricd cluster running: 3 nodes on $host (data and logs in $dir/)
  node 1: clients $host:$(client_port 1)  bus $(bus_port 1)  metrics http://$host:$(metrics_port 1)/metrics
  node 2: clients $host:$(client_port 2)  bus $(bus_port 2)  metrics http://$host:$(metrics_port 2)/metrics
  node 3: clients $host:$(client_port 3)  bus $(bus_port 3)  metrics http://$host:$(metrics_port 3)/metrics

Connect:  redis-cli -c -p $(client_port 1)      (-c follows MOVED redirects; any node will do)
Logs:     tail -f $dir/node1.log
Stop:     scripts/cluster.sh stop               (data stays; rm -rf $dir to start afresh)
EOF
}

stop() {
	local n pid pids=()
	for n in "${nodes[@]}"; do
		pid=$(pid_of "$n")
		if [ -n "$pid" ]; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$n:$pid")
		fi
	done
	local deadline=$((SECONDS + 20)) entry left
	while :; do
		left=()
		for entry in "${pids[@]}"; do
			if kill -0 "${entry#*:}" 2>/dev/null; then left+=("$entry"); fi
		done
		if [ ${#left[@]} -eq 0 ]; then break; fi
		if [ $SECONDS -ge $deadline ]; then
			for entry in "${left[@]}"; do
				echo "cluster: node ${entry%%:*} ignored SIGTERM for 20 s; SIGKILL" >&2
				kill -KILL "${entry#*:}" 2>/dev/null || true
			done
			break
		fi
		sleep 0.2
	done
	for n in "${nodes[@]}"; do rm -f "$dir/node$n.pid"; done
	if [ ${#pids[@]} -eq 0 ]; then
		echo "cluster: no node was running"
	else
		echo "cluster: stopped ${#pids[@]} node(s); data and logs kept in $dir/"
	fi
}

status() {
	local n pid
	for n in "${nodes[@]}"; do
		pid=$(pid_of "$n")
		if [ -n "$pid" ]; then
			echo "node $n: running (pid $pid), clients $host:$(client_port "$n")"
		else
			echo "node $n: stopped"
		fi
	done
}

need_cli() {
	if ! command -v redis-cli >/dev/null; then
		echo "cluster: redis-cli not found (apt-get install redis-tools); run by hand: $*" >&2
		exit 1
	fi
}

add() {
	local n=${1:-}
	if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 4 ]; then
		echo "usage: $0 add N   (N >= 4, an id never used in this cluster)" >&2
		exit 2
	fi
	if [ -n "$(pid_of "$n")" ]; then
		echo "cluster: node $n already running" >&2
		exit 1
	fi
	need_cli "redis-cli -p $(client_port 1) CLUSTER MEET $host $(client_port "$n") $(bus_port "$n")"
	# shellcheck disable=SC2086 # CLUSTER_ARGS is a list of options
	nohup "$bin" --bind "$host" --port "$(client_port "$n")" --dir "$dir/node$n" \
		--metrics-port "$(metrics_port "$n")" \
		--node-id "$n" --cluster-join yes --cluster-port "$(bus_port "$n")" \
		--cluster-announce-ip "$host" --cluster-redirect "$redirect" \
		${CLUSTER_ARGS:-} >>"$dir/node$n.log" 2>&1 </dev/null &
	echo $! >"$dir/node$n.pid"
	local deadline=$((SECONDS + 30))
	until "$bin" --check --bind "$host" --port "$(client_port "$n")" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ] || ! alive "$(<"$dir/node$n.pid")"; then
			echo "cluster: node $n did not start; last lines of $dir/node$n.log:" >&2
			tail -n 20 "$dir/node$n.log" >&2
			exit 1
		fi
		sleep 0.3
	done
	redis-cli -h "$host" -p "$(client_port 1)" CLUSTER MEET "$host" "$(client_port "$n")" "$(bus_port "$n")"
	echo "node $n: clients $host:$(client_port "$n"); watch the replicas move: redis-cli -p $(client_port "$n") INFO replication"
}

forget() {
	local n=${1:-}
	if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -eq 1 ]; then
		echo "usage: $0 forget N   (N != 1: node 1 runs the command)" >&2
		exit 2
	fi
	need_cli "redis-cli -p $(client_port 1) CLUSTER FORGET $n"
	redis-cli -h "$host" -p "$(client_port 1)" CLUSTER FORGET "$n"
	echo "node $n is forgotten: its replicas move to the others (raft_shards in INFO replication on them); then stop it: kill \$(cat $dir/node$n.pid)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
add) add "${2:-}" ;;
forget) forget "${2:-}" ;;
*)
	echo "usage: $0 start|stop|status|add N|forget N" >&2
	exit 2
	;;
esac
