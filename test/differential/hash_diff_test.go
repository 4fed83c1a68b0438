package differential

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// hashGen draws hash commands (mixed with SET and DEL) over the shared key pools.
type hashGen struct{ *gen }

func (g hashGen) field() string { return g.pick("a", "b", "c", "d", "e", "f", "") }

func (g hashGen) hvalue() string {
	switch g.r.IntN(8) {
	case 0:
		return strings.Repeat("x", 60+g.r.IntN(10)) // around hash-max-listpack-value
	case 1:
		return g.pick("1", "-3", "10.5", "9223372036854775806", "1e3", "0x10")
	default:
		return g.value()
	}
}

func (g hashGen) command() []string {
	k := g.key()
	switch g.r.IntN(22) {
	case 0, 1, 2:
		args := []string{"HSET", k}
		for n := 1 + g.r.IntN(3); n > 0; n-- {
			args = append(args, g.field(), g.hvalue())
		}
		return args
	case 3:
		return []string{"HMSET", k, g.field(), g.hvalue(), g.field(), g.hvalue()}
	case 4:
		return []string{"HSETNX", k, g.field(), g.hvalue()}
	case 5:
		return []string{"HGET", k, g.field()}
	case 6:
		return []string{"HMGET", k, g.field(), g.field(), g.field()}
	case 7:
		return []string{"HDEL", k, g.field(), g.field()}
	case 8:
		return []string{g.pick("HEXISTS", "HSTRLEN"), k, g.field()}
	case 9:
		return []string{g.pick("HLEN", "HKEYS", "HVALS", "HGETALL", "TYPE"), k}
	case 10:
		return []string{"HINCRBY", k, g.field(), g.pick("1", "-1", "100", "x", "9223372036854775807", "1.5")}
	case 11:
		return []string{"HINCRBYFLOAT", k, g.field(), g.pick("1", "-1.5", "0.1", "x", "inf", "1e308", "3e2")}
	case 12:
		args := []string{"HRANDFIELD", k}
		if g.r.IntN(3) > 0 {
			args = append(args, g.pick("0", "1", "3", "-3", "10", "-10", "x"))
			args = append(args, g.opt("WITHVALUES", "withvalues", "bad")...)
		}
		return args
	case 13:
		args := []string{"HSCAN", k, g.pick("0", "0", "x")}
		args = append(args, g.opt("MATCH", "COUNT")...)
		if len(args) == 4 {
			args = append(args, g.pick("*", "a*", "[ab]", "5", "0"))
		}
		return args
	case 14:
		return []string{"OBJECT", "ENCODING", k}
	case 15:
		return []string{"SET", k, g.value()}
	case 16:
		return []string{"DEL", k}
	case 17:
		return []string{"HSET", k, g.field()} // wrong arity
	default:
		return []string{"HSET", k, g.field(), g.hvalue()}
	}
}

// hashNormalize makes replies whose order Redis does not promise comparable: field lists
// sorted, HGETALL/HSCAN pairs sorted by field, HRANDFIELD reduced to its shape.
func hashNormalize(args []string, o outcome) outcome {
	if o.err != "" {
		return o
	}
	switch strings.ToUpper(args[0]) {
	case "HKEYS", "HVALS":
		return outcome{val: sortedStrings(o.val)}
	case "HGETALL":
		if xs, ok := o.val.([]any); ok {
			return outcome{val: sortedPairs(xs)}
		}
	case "HRANDFIELD":
		if xs, ok := o.val.([]any); ok {
			nested := len(xs) > 0 && reflect.TypeOf(xs[0]).Kind() == reflect.Slice
			return outcome{val: fmt.Sprintf("%d elements, nested %v", len(xs), nested)}
		}
		if o.val != nil {
			return outcome{val: "one field"}
		}
	}
	return o
}

func sortedStrings(v any) any {
	xs, ok := v.([]any)
	if !ok {
		return v
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	sort.Strings(s)
	return s
}

func sortedPairs(xs []any) []string {
	var out []string
	for i := 0; i+1 < len(xs); i += 2 {
		out = append(out, fmt.Sprintf("%v=%v", xs[i], xs[i+1]))
	}
	sort.Strings(out)
	return out
}

func TestRandomHashCommandsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, r := clients(t, proto)
			for seed := uint64(1); seed <= 2; seed++ {
				g := hashGen{&gen{r: rand.New(rand.NewPCG(seed, uint64(proto)+50))}}
				var history [][]string
				for i := range 2000 {
					if ctx.Err() != nil {
						break
					}
					args := g.command()
					history = append(history, args)
					want, got := runScanAll(ctx, r, args), runScanAll(ctx, f, args)
					want, got = hashNormalize(args, want), hashNormalize(args, got)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d op %d: %q\nferricd: %#v\nredis:   %#v\nlast commands touching its keys:\n%s",
							seed, i, args, got, want, touching(history, args[1:], 15))
					}
				}
				hashCompareContents(ctx, t, f, r)
				f.FlushAll(ctx)
				r.FlushAll(ctx)
			}
		})
	}
}

// hashCompareContents checks both servers hold the same keys, types, encodings and hashes.
func hashCompareContents(ctx context.Context, t *testing.T, f, r *redis.Client) {
	t.Helper()
	compareKeys(ctx, t, f, r, hashNormalize, func(k string) [][]string {
		return [][]string{{"TYPE", k}, {"OBJECT", "ENCODING", k}, {"HGETALL", k}}
	})
}

// runScanAll runs args; an *SCAN is run to the end of its iteration (cursor 0) from the
// cursor given, and its outcome is the sorted, de-duplicated union of what the pages held:
// page boundaries and cursors are the encoding's business (Redis' own differ between a
// listpack and a hashtable), the set of elements returned is not.
func runScanAll(ctx context.Context, c *redis.Client, args []string) outcome {
	if !strings.HasSuffix(strings.ToUpper(args[0]), "SCAN") {
		return run(ctx, c, args)
	}
	seen := map[string]bool{}
	page := append([]string(nil), args...)
	for calls := 0; calls < 1000; calls++ {
		o := run(ctx, c, page)
		xs, ok := o.val.([]any)
		if o.err != "" || !ok || len(xs) != 2 {
			return o
		}
		inner, _ := xs[1].([]any)
		step := 1
		if strings.ToUpper(args[0]) != "SSCAN" {
			step = 2
		}
		for i := 0; i+step-1 < len(inner); i += step {
			e := fmt.Sprint(inner[i])
			if step == 2 {
				e += "=" + fmt.Sprint(inner[i+1])
			}
			seen[e] = true
		}
		if xs[0] == "0" {
			break
		}
		page[2] = fmt.Sprint(xs[0])
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return outcome{val: out}
}
