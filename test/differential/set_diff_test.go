package differential

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// setGen draws set commands (mixed with SET and DEL) over the shared key pools; multi-key
// commands use the {t} keys, which share a slot.
type setGen struct{ *gen }

func (g setGen) member() string {
	if g.r.IntN(3) == 0 {
		return g.pick("a", "b", "c", "", "x y")
	}
	return g.pick("1", "2", "3", "-4", "10", "007", "+5", "9223372036854775807", "-9223372036854775808", "1.5")
}

func (g setGen) tkeys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.pick(append(taggedKeys, "{t}none")...)
	}
	return out
}

func (g setGen) command() []string {
	k := g.key()
	switch g.r.IntN(22) {
	case 0, 1, 2, 3:
		args := []string{"SADD", k}
		for n := 1 + g.r.IntN(4); n > 0; n-- {
			args = append(args, g.member())
		}
		return args
	case 4:
		return []string{"SREM", k, g.member(), g.member()}
	case 5:
		return []string{"SISMEMBER", k, g.member()}
	case 6:
		return []string{"SMISMEMBER", k, g.member(), g.member()}
	case 7:
		return []string{g.pick("SCARD", "SMEMBERS", "TYPE"), k}
	case 8:
		// Pops that take everything (or fail) keep both servers' contents equal.
		return append([]string{"SPOP", k}, g.pick("100", "-1", "x", "0", "1 2"))
	case 9:
		args := []string{"SRANDMEMBER", k}
		if g.r.IntN(3) > 0 {
			args = append(args, g.pick("0", "1", "3", "-3", "100", "x"))
		}
		return args
	case 10:
		return []string{"SMOVE", g.tkey(), g.tkey(), g.member()}
	case 11, 12:
		return append([]string{g.pick("SINTER", "SUNION", "SDIFF")}, g.tkeys(1+g.r.IntN(3))...)
	case 13:
		return append([]string{g.pick("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"), g.tkey()}, g.tkeys(1+g.r.IntN(3))...)
	case 14:
		n := 1 + g.r.IntN(3)
		args := append([]string{"SINTERCARD", g.pick(fmt.Sprint(n), fmt.Sprint(n), "0", "9", "x")}, g.tkeys(n)...)
		if g.r.IntN(2) == 0 {
			args = append(args, "LIMIT", g.pick("0", "1", "2", "-1", "x"))
		}
		return args
	case 15:
		args := []string{"SSCAN", k, g.pick("0", "0", "x")}
		if g.r.IntN(2) == 0 {
			args = append(args, g.pick("MATCH", "COUNT"), g.pick("*", "1*", "[ab]", "3", "0"))
		}
		return args
	case 16:
		return []string{"OBJECT", "ENCODING", k}
	case 17:
		return []string{"SET", k, g.value()}
	case 18:
		return []string{"DEL", k}
	default:
		return []string{"SADD", k, g.member()}
	}
}

// setNormalize sorts the replies whose order Redis does not promise and reduces random
// picks to their count.
func setNormalize(args []string, o outcome) outcome {
	if o.err != "" {
		return o
	}
	switch strings.ToUpper(args[0]) {
	case "SMEMBERS", "SINTER", "SUNION", "SDIFF", "SPOP":
		if len(args) == 3 || strings.ToUpper(args[0]) != "SPOP" {
			return outcome{val: sortedStrings(o.val)}
		}
	case "SRANDMEMBER":
		if xs, ok := o.val.([]any); ok {
			if len(args) == 3 && args[2] == "100" {
				return outcome{val: sortedStrings(o.val)} // the whole set
			}
			return outcome{val: fmt.Sprintf("%d members", len(xs))}
		}
		if o.val != nil {
			return outcome{val: "one member"}
		}
	}
	return o
}

func TestRandomSetCommandsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, r := clients(t, proto)
			for seed := uint64(1); seed <= 2; seed++ {
				g := setGen{&gen{r: rand.New(rand.NewPCG(seed, uint64(proto)+60))}}
				var history [][]string
				for i := range 2000 {
					if ctx.Err() != nil {
						break
					}
					args := g.command()
					if args[0] == "SPOP" && args[2] == "1 2" {
						args = []string{"SPOP", args[1], "1", "2"}
					}
					history = append(history, args)
					want, got := runScanAll(ctx, r, args), runScanAll(ctx, f, args)
					want, got = setNormalize(args, want), setNormalize(args, got)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d op %d: %q\nferricd: %#v\nredis:   %#v\nlast commands touching its keys:\n%s",
							seed, i, args, got, want, touching(history, args[1:], 15))
					}
				}
				setCompareContents(ctx, t, f, r)
				f.FlushAll(ctx)
				r.FlushAll(ctx)
			}
		})
	}
}

// setCompareContents checks both servers hold the same keys, types, encodings and sets.
func setCompareContents(ctx context.Context, t *testing.T, f, r *redis.Client) {
	t.Helper()
	compareKeys(ctx, t, f, r, setNormalize, func(k string) [][]string {
		return [][]string{{"TYPE", k}, {"OBJECT", "ENCODING", k}, {"SMEMBERS", k}}
	})
}
