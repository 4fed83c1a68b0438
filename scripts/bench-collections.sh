#!/usr/bin/env bash
# Collections part of make bench (called by scripts/bench.sh; runs alone too, after make build).
#
# 1. redis-benchmark's collection tests against ferricd and against the durable redis-server
#    (appendonly yes, appendfsync always), alternating, best of BENCH_ROUNDS, ratios printed.
#    Note that redis-benchmark puts every list operation on the one key "mylist" (and SPOP,
#    ZPOPMIN on one key each): those tests measure one raft group, not the whole node.
# 2. One hash, list and sorted set of BENCH_BIG members (default 1M), loaded pipelined, and
#    point operations on them (HGET, LINDEX at both ends and the middle, ZRANK, ZRANGE of 10 by
#    rank in the middle, ZSCORE) timed against the same operations on 10-member collections:
#    the ratio small/big throughput must stay under 10. Peak RSS after loading is printed.
#
# Knobs: BENCH_REQUESTS (default 200000; the point operations use a tenth), BENCH_ROUNDS
# (default 3), BENCH_BIG (default 1000000), BENCH_FERRICD_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

requests=${BENCH_REQUESTS:-200000}
rounds=${BENCH_ROUNDS:-3}
big=${BENCH_BIG:-1000000}
fport=${BENCH_FERRICD_PORT:-7379}
rport=${BENCH_REDIS_PORT:-7380}
tests=lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100

work=$(mktemp -d /tmp/ferricd-bench-coll.XXXXXX)
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
pids+=("$!")
wait_port "$fport"
wait_port "$rport"

# suite PORT PIPELINE → "TEST rps" lines for every collection test (redis-benchmark's CSV).
suite() {
	redis-benchmark -p "$1" -t "$tests" -n "$requests" -c 50 -r 100000 -P "$2" -q --csv 2>/dev/null |
		awk -F'","' '!/^"test"/ && !/needed to benchmark/ {gsub(/"/,"",$1); gsub(/"/,"",$2); split($1, w, " "); print w[1], $2}'
}

declare -A best
names=()
for round in $(seq 1 "$rounds"); do
	for p in 1 16; do
		for srv in ferricd redis; do
			port=$fport
			[ "$srv" = redis ] && port=$rport
			redis-cli -p "$port" flushall >/dev/null
			while read -r t v; do
				[ -n "$t" ] || continue
				k="$srv/$t/$p"
				[ "$round$p$srv" = 11ferricd ] && names+=("$t")
				best[$k]=$(awk -v a="$v" -v b="${best[$k]:-0}" 'BEGIN{print (a>b)?a:b}')
				printf 'round %d  %-7s %-11s -P %-2s %12s req/s\n' "$round" "$srv" "$t" "$p" "$v"
			done < <(suite "$port" "$p")
		done
	done
done

echo
echo "collections: best of $rounds rounds, -c 50 -r 100000 -n $requests (redis: appendonly yes, appendfsync always)"
printf '%-11s %-4s %14s %14s %8s\n' test P ferricd redis ratio
for t in "${names[@]}"; do
	for p in 1 16; do
		f=${best[ferricd/$t/$p]:-0}
		r=${best[redis/$t/$p]:-0}
		printf '%-11s %-4s %14s %14s %8s\n' "$t" "$p" "$f" "$r" "$(awk -v a="$f" -v b="$r" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
	done
done

# Big collections: loaded with 100 members per command through redis-cli --pipe.
load() { # PORT
	awk -v n="$big" 'BEGIN{
		for (i = 0; i < n; i += 100) {
			m = (n - i < 100) ? n - i : 100
			printf "*%d\r\n$4\r\nHSET\r\n$5\r\nbig:h\r\n", 2 + 2*m
			for (j = i; j < i + m; j++) { f = "f:" j; v = "v:" j; printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(f), f, length(v), v }
			printf "*%d\r\n$5\r\nRPUSH\r\n$5\r\nbig:l\r\n", 2 + m
			for (j = i; j < i + m; j++) { v = "e:" j; printf "$%d\r\n%s\r\n", length(v), v }
			printf "*%d\r\n$4\r\nZADD\r\n$5\r\nbig:z\r\n", 2 + 2*m
			for (j = i; j < i + m; j++) { s = j; v = "m:" j; printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(s), s, length(v), v }
		}
		for (j = 0; j < 10; j++) {
			printf "*4\r\n$4\r\nHSET\r\n$7\r\nsmall:h\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length("f:" j), "f:" j, length("v:" j), "v:" j
			printf "*3\r\n$5\r\nRPUSH\r\n$7\r\nsmall:l\r\n$%d\r\n%s\r\n", length("e:" j), "e:" j
			printf "*4\r\n$4\r\nZADD\r\n$7\r\nsmall:z\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(j ""), j, length("m:" j), "m:" j
		}
	}' | redis-cli -p "$1" --pipe >/dev/null
}

point_requests=$((requests / 10))
# one PORT CMD... → requests per second of one command repeated.
one() {
	local port=$1
	shift
	redis-benchmark -p "$port" -n "$point_requests" -c 50 -q --csv "$@" 2>/dev/null |
		awk -F'","' '!/^"test"/ {gsub(/"/,"",$2); print $2; exit}'
}

for srv in ferricd redis; do
	port=$fport
	[ "$srv" = redis ] && port=$rport
	redis-cli -p "$port" flushall >/dev/null
	start=$(date +%s.%N)
	load "$port"
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
	echo
	echo "$srv: loaded a hash, a list and a sorted set of $big members each in ${secs}s" \
		"(HLEN $(redis-cli -p "$port" hlen big:h), LLEN $(redis-cli -p "$port" llen big:l), ZCARD $(redis-cli -p "$port" zcard big:z))"
	if [ "$srv" = ferricd ]; then
		printf 'ferricd peak RSS %d MiB\n' $(($(awk '/VmHWM/{print $2}' "/proc/$fpid/status") / 1024))
	fi
	mid=$((big / 2))
	printf '%-28s %12s %12s %8s\n' "operation ($srv)" "10 members" "$big" "small/big"
	while IFS='|' read -r name small large; do
		# shellcheck disable=SC2086 # the commands are word lists
		s=$(one "$port" $small)
		# shellcheck disable=SC2086
		b=$(one "$port" $large)
		printf '%-28s %12s %12s %8s\n' "$name" "$s" "$b" "$(awk -v a="$s" -v b="$b" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
	done <<EOF
HGET|HGET small:h f:5|HGET big:h f:$mid
LINDEX 0|LINDEX small:l 0|LINDEX big:l 0
LINDEX -1|LINDEX small:l -1|LINDEX big:l -1
LINDEX middle|LINDEX small:l 5|LINDEX big:l $mid
LRANGE 0 9|LRANGE small:l 0 9|LRANGE big:l 0 9
ZSCORE|ZSCORE small:z m:5|ZSCORE big:z m:$mid
ZRANK|ZRANK small:z m:5|ZRANK big:z m:$mid
ZRANGE 10 by rank, middle|ZRANGE small:z 0 9|ZRANGE big:z $mid $((mid + 9))
ZRANGEBYSCORE 10|ZRANGEBYSCORE small:z 0 9|ZRANGEBYSCORE big:z $mid $((mid + 9))
EOF
done
