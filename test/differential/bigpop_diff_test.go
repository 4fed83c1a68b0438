package differential

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pops of thousands of elements take ferricd's range-deletion and streamed-reply path
// (thresholds of 4096 elements), LTRIM of many its range deletions, a set drained to half its
// peak a repack; they must answer as Redis does, in RESP2 and RESP3, and leave
// the same lists behind. A pipeline puts a push and a pop in one raft entry, where the reply
// is built whole instead.
func TestBigPopsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, r := clients(t, proto)
			push := []string{"RPUSH", "biglist"}
			sadd := []string{"SADD", "bigset"}
			zadd := []string{"ZADD", "bigzset"}
			for i := range 20000 {
				push = append(push, fmt.Sprintf("e%05d", i))
				sadd = append(sadd, fmt.Sprintf("m%05d", i))
				// Scores with ties, negatives and fractions: the order is by score, then member.
				zadd = append(zadd, fmt.Sprintf("%g", float64(i*7919%1000-500)/4), fmt.Sprintf("z%05d", i))
			}
			srem := func(from, to int) []string {
				args := []string{"SREM", "bigset"}
				for i := from; i < to; i++ {
					args = append(args, fmt.Sprintf("m%05d", i))
				}
				return args
			}
			steps := [][]string{
				push,
				{"LPOP", "biglist", "5000"},
				{"RPOP", "biglist", "4500"},
				{"LMPOP", "1", "biglist", "RIGHT", "COUNT", "4100"},
				{"LRANGE", "biglist", "0", "2"},
				{"LPOP", "biglist", "100000"},
				{"EXISTS", "biglist"},
				push,
				{"LTRIM", "biglist", "1000", "-1001"},
				{"LLEN", "biglist"},
				{"LRANGE", "biglist", "0", "1"},
				{"LRANGE", "biglist", "-2", "-1"},
				{"LTRIM", "biglist", "100", "-101"},
				{"LINDEX", "biglist", "0"},
				{"LTRIM", "biglist", "5", "2"},
				{"EXISTS", "biglist"},
				sadd,
				{"SPOP", "bigset", "30000"},
				{"EXISTS", "bigset"},
				// Drained to under half its peak: repacked under a new version.
				sadd,
				srem(0, 15000),
				{"SCARD", "bigset"},
				{"SMEMBERS", "bigset"},
				{"SISMEMBER", "bigset", "m14999"},
				{"SISMEMBER", "bigset", "m15000"},
				{"SADD", "bigset", "m00001", "new"},
				srem(15000, 19000),
				{"SMEMBERS", "bigset"},
				{"OBJECT", "ENCODING", "bigset"},
				{"DEL", "bigset"},
				zadd,
				{"ZPOPMIN", "bigzset", "20000"},
				zadd,
				{"ZPOPMAX", "bigzset", "30000"},
				zadd,
				{"ZMPOP", "1", "bigzset", "MIN", "COUNT", "25000"},
				{"EXISTS", "bigzset"},
				zadd,
				{"ZMPOP", "1", "bigzset", "MAX", "COUNT", "20000"},
				{"EXISTS", "bigzset"},
			}
			for i, args := range steps {
				want, got := run(ctx, r, args), run(ctx, f, args)
				if args[0] == "SPOP" || args[0] == "SMEMBERS" {
					want, got = outcome{val: sortedStrings(want.val), err: want.err}, outcome{val: sortedStrings(got.val), err: got.err}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d %q (%d args): ferricd and redis differ\nferricd: %.300v\nredis:   %.300v", i, args[0], len(args), got, want)
				}
			}
			// A push and a whole pop in one pipeline.
			results := map[string][]string{}
			for name, cl := range map[string]*redis.Client{"ferricd": f, "redis": r} {
				pipe := cl.Pipeline()
				iargs := make([]any, len(sadd))
				for i, a := range sadd {
					iargs[i] = a
				}
				pipe.Do(ctx, iargs...)
				pipe.Do(ctx, "SADD", "bigset", "extra")
				pop := pipe.Do(ctx, "SPOP", "bigset", "30000")
				if _, err := pipe.Exec(ctx); err != nil {
					t.Fatalf("%s: pipeline: %v", name, err)
				}
				v, err := pop.StringSlice()
				if err != nil {
					t.Fatalf("%s: SPOP in a pipeline: %v", name, err)
				}
				sort.Strings(v)
				results[name] = v
			}
			if !reflect.DeepEqual(results["ferricd"], results["redis"]) || len(results["redis"]) != 20001 {
				t.Fatalf("SPOP after SADD in one pipeline: ferricd %d members, redis %d", len(results["ferricd"]), len(results["redis"]))
			}
		})
	}
}
