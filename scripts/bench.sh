#!/usr/bin/env bash
# make bench: redis-benchmark against ferricd and against the durable redis-server
# (appendonly yes, appendfsync always) on this machine, alternating runs, then the peak RSS of
# a ferricd node holding 1M 100-byte keys. Prints every figure and the ferricd/redis ratios.
#
# Knobs (environment): BENCH_REQUESTS (default 200000), BENCH_ROUNDS (default 3, the best
# round counts), BENCH_TESTS (default "set get"), BENCH_KEYS (default 1000000),
# BENCH_FERRICD_ARGS (extra ferricd options, e.g. "--shards 2"), BENCH_CLUSTER (default yes:
# also a 3-node cluster on this machine, through one node and spread over all three with
# --cluster-redirect yes and redis-benchmark --cluster, compared with the single node).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

requests=${BENCH_REQUESTS:-200000}
rounds=${BENCH_ROUNDS:-3}
tests=${BENCH_TESTS:-"set get"}
nkeys=${BENCH_KEYS:-1000000}
fport=${BENCH_FERRICD_PORT:-7379}
rport=${BENCH_REDIS_PORT:-7380}

work=$(mktemp -d /tmp/ferricd-bench.XXXXXX)
pids=()
cleanup() {
	keep_log_if_died "${fpid:-}" "$work/ferricd.log" ferricd
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
	for _ in $(seq 1 100); do
		redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server on port $1 did not come up" >&2
	exit 1
}

# shellcheck disable=SC2086 # BENCH_FERRICD_ARGS is a list of options
./bin/ferricd --port "$fport" --dir "$work/ferricd" --metrics-port 0 ${BENCH_FERRICD_ARGS:-} >"$work/ferricd.log" 2>&1 &
fpid=$!
pids+=("$fpid")
redis-server --port "$rport" --dir "$work" --appendonly yes --appendfsync always --save '' \
	--daemonize no >"$work/redis.log" 2>&1 &
rpid=$!
pids+=("$rpid")
wait_port "$fport"
wait_port "$rport"

# rps PORT TEST PIPELINE → requests per second (redis-benchmark's CSV)
rps() {
	redis-benchmark -p "$1" -t "$2" -n "$requests" -c 50 -r 100000 -P "$3" -q --csv 2>/dev/null |
		awk -F'","' 'NR>1 || !/test/ {gsub(/"/,"",$2); print $2; exit}'
}

# cpu_ticks PID → user + system CPU time the process has used, in clock ticks. The server's
# CPU per request is steadier than its throughput on a shared 2-core machine, where the
# benchmark client competes for the same cores.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

declare -A best cpu
for round in $(seq 1 "$rounds"); do
	for p in 1 16; do
		for t in $tests; do
			for srv in ferricd redis; do
				port=$fport pid=$fpid
				[ "$srv" = redis ] && port=$rport pid=$rpid
				before=$(cpu_ticks "$pid")
				v=$(rps "$port" "$t" "$p")
				us=$(awk -v a="$before" -v b="$(cpu_ticks "$pid")" -v hz="$hz" -v n="$requests" \
					'BEGIN{printf "%.2f", (b-a)*1e6/hz/n}')
				k="$srv/$t/$p"
				prev=${best[$k]:-0}
				best[$k]=$(awk -v a="$v" -v b="$prev" 'BEGIN{print (a>b)?a:b}')
				cpu[$k]=$(awk -v a="$us" -v b="${cpu[$k]:-}" 'BEGIN{print (b=="" || a<b)?a:b}')
				printf 'round %d  %-7s %-4s -P %-2s %12s req/s %8s us CPU/req\n' "$round" "$srv" "$t" "$p" "$v" "$us"
			done
		done
	done
done

echo
echo "best of $rounds rounds, -c 50 -r 100000 -n $requests (redis: appendonly yes, appendfsync always; ferricd: ${BENCH_FERRICD_ARGS:-defaults})"
echo "(server CPU: user + system time of the server process per request, the lowest round)"
printf '%-5s %-4s %14s %14s %8s %14s %12s\n' test P ferricd redis ratio "ferricd us/req" "redis us/req"
for t in $tests; do
	for p in 1 16; do
		f=${best[ferricd/$t/$p]}
		r=${best[redis/$t/$p]}
		printf '%-5s %-4s %14s %14s %8s %14s %12s\n' "$t" "$p" "$f" "$r" \
			"$(awk -v a="$f" -v b="$r" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')" "${cpu[ferricd/$t/$p]}" "${cpu[redis/$t/$p]}"
	done
done

# Peak RSS with nkeys 100-byte values, loaded pipelined through redis-cli --pipe.
redis-cli -p "$fport" flushall >/dev/null
value=$(head -c 100 /dev/zero | tr '\0' 'x')
awk -v n="$nkeys" -v v="$value" 'BEGIN{for(i=0;i<n;i++) printf "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$100\r\n%s\r\n", length("key:" i), i, v}' |
	redis-cli -p "$fport" --pipe >/dev/null
keys=$(redis-cli -p "$fport" dbsize)
hwm=$(awk '/VmHWM/{print $2}' "/proc/$fpid/status")
rss=$(awk '/VmRSS/{print $2}' "/proc/$fpid/status")
echo
printf 'ferricd holding %s keys of 100 bytes: peak RSS %d MiB, RSS now %d MiB\n' "$keys" $((hwm / 1024)) $((rss / 1024))

[ "${BENCH_CLUSTER:-yes}" = yes ] || exit 0

# A 3-node cluster on loopback, started twice: forwarding (every node serves every key) and
# redirecting (cluster-aware clients go to the leaders themselves).
start_cluster() { # $1: extra options; sets cports
	local peers="" i
	cports=()
	for i in 1 2 3; do
		peers+="${peers:+,}$i@127.0.0.1:$((fport + 20000 + i))"
		cports+=($((fport + 100 + i)))
	done
	for i in 1 2 3; do
		# shellcheck disable=SC2086 # extra options are a list
		./bin/ferricd --port "${cports[$((i - 1))]}" --node-id "$i" --cluster-peers "$peers" \
			--cluster-port $((fport + 20000 + i)) --dir "$work/cluster$2/n$i" --metrics-port 0 \
			${BENCH_FERRICD_ARGS:-} $1 >"$work/cluster$2-n$i.log" 2>&1 &
		pids+=("$!")
		cpids+=("$!")
	done
	for p in "${cports[@]}"; do wait_port "$p"; done
	# Leaders first: a write to every shard through node 1 succeeds once all are elected.
	for _ in $(seq 1 100); do
		ok=1
		for k in $(seq 1 64); do
			[ "$(redis-cli -c -p "${cports[0]}" set "probe:$k" x 2>/dev/null)" = OK ] || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		sleep 0.2
	done
	echo "cluster did not elect leaders" >&2
	exit 1
}
stop_cluster() {
	for p in "${cpids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${cpids[@]}"; do wait "$p" 2>/dev/null || true; done
	cpids=()
}

declare -A cbest
cpids=()
start_cluster "" fwd
for round in $(seq 1 "$rounds"); do
	for p in 1 16; do
		for t in $tests; do
			v=$(rps "${cports[0]}" "$t" "$p")
			k="one/$t/$p"
			cbest[$k]=$(awk -v a="$v" -v b="${cbest[$k]:-0}" 'BEGIN{print (a>b)?a:b}')
			printf 'round %d  3 nodes via node 1  %-4s -P %-2s %12s req/s\n' "$round" "$t" "$p" "$v"
		done
	done
done
stop_cluster
start_cluster "--cluster-redirect yes" redirect
crps() {
	# --cluster prints the masters it found before the CSV.
	redis-benchmark --cluster -p "${cports[0]}" -t "$1" -n "$requests" -c 50 -r 100000 -P "$2" -q --csv 2>/dev/null |
		awk -F'","' '/^"/ && !/^"test"/ {gsub(/"/,"",$2); print $2; exit}'
}
for round in $(seq 1 "$rounds"); do
	for p in 1 16; do
		for t in $tests; do
			v=$(crps "$t" "$p")
			k="all/$t/$p"
			cbest[$k]=$(awk -v a="${v:-0}" -v b="${cbest[$k]:-0}" 'BEGIN{print (a>b)?a:b}')
			printf 'round %d  3 nodes, --cluster     %-4s -P %-2s %12s req/s\n' "$round" "$t" "$p" "${v:-failed}"
		done
	done
done
stop_cluster

echo
echo "3-node cluster on this machine vs the single node above (best of $rounds rounds)"
printf '%-5s %-4s %12s %14s %8s %16s %8s\n' test P single "3n via node 1" ratio "3n --cluster" ratio
for t in $tests; do
	for p in 1 16; do
		f=${best[ferricd/$t/$p]}
		a=${cbest[one/$t/$p]}
		b=${cbest[all/$t/$p]}
		printf '%-5s %-4s %12s %14s %8s %16s %8s\n' "$t" "$p" "$f" "$a" \
			"$(awk -v a="$a" -v b="$f" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')" "$b" \
			"$(awk -v a="$b" -v b="$f" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
	done
done
