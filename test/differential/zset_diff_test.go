package differential

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// zsetGen draws sorted-set commands (mixed with SET and DEL) over the shared key pools.
type zsetGen struct{ *gen }

func (g zsetGen) score() string {
	return g.pick("0", "1", "-1", "2.5", "1.1", "0.1", "1e20", "-0", "inf", "-inf", "+inf", "x", "nan",
		g.num(-20, 20), g.num(-20, 20))
}

func (g zsetGen) member() string { return g.pick("a", "b", "c", "d", "e", "f", "g", "h") }

func (g zsetGen) bound() string {
	return g.pick("", "(") + g.pick("-inf", "+inf", "0", "1", "5", "-3", g.num(-20, 20), "x")
}

func (g zsetGen) lex() string {
	return g.pick("-", "+", "[a", "(b", "[c", "(e", "[h", "x")
}

func (g zsetGen) command() []string {
	k := g.key()
	switch g.r.IntN(24) {
	case 0, 1, 2:
		args := []string{"ZADD", k}
		args = append(args, g.opt("NX", "XX")...)
		args = append(args, g.opt("GT", "LT")...)
		args = append(args, g.opt("CH")...)
		if g.r.IntN(5) == 0 {
			args = append(args, "INCR")
		}
		for n := 1 + g.r.IntN(3); n > 0; n-- {
			args = append(args, g.score(), g.member())
		}
		return args
	case 3:
		return []string{"ZINCRBY", k, g.score(), g.member()}
	case 4:
		return []string{"ZREM", k, g.member(), g.member()}
	case 5:
		return []string{"ZCARD", k}
	case 6:
		return []string{"ZSCORE", k, g.member()}
	case 7:
		return []string{"ZMSCORE", k, g.member(), g.member()}
	case 8:
		return []string{"ZCOUNT", k, g.bound(), g.bound()}
	case 9:
		return []string{g.pick("ZRANK", "ZREVRANK"), k, g.member()}
	case 10:
		args := []string{g.pick("ZRANGE", "ZREVRANGE"), k, g.num(-6, 6), g.num(-6, 6)}
		return append(args, g.opt("WITHSCORES")...)
	case 11:
		args := []string{g.pick("ZRANGEBYSCORE", "ZREVRANGEBYSCORE"), k, g.bound(), g.bound()}
		args = append(args, g.opt("WITHSCORES")...)
		if g.r.IntN(2) == 0 {
			args = append(args, "LIMIT", g.num(-1, 3), g.num(-1, 3))
		}
		return args
	case 12:
		args := []string{"ZRANGE", k, g.bound(), g.bound(), "BYSCORE"}
		return append(args, g.opt("REV")...)
	case 13:
		args := []string{"ZRANGE", k, g.num(-4, 4), g.num(-4, 4)}
		return append(args, g.opt("REV", "WITHSCORES", "LIMIT")...)
	case 14:
		return []string{g.pick("ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT"), k, g.lex(), g.lex()}
	case 15:
		return []string{"ZREMRANGEBYRANK", k, g.num(-4, 4), g.num(-4, 4)}
	case 16:
		return []string{"ZREMRANGEBYSCORE", k, g.bound(), g.bound()}
	case 17:
		return []string{"ZREMRANGEBYLEX", k, g.lex(), g.lex()}
	case 18:
		return append([]string{g.pick("ZPOPMIN", "ZPOPMAX"), k}, g.opt("0", "1", "2", "5", "-1")...)
	case 19:
		return []string{g.pick("ZPOPMIN", "ZPOPMAX"), g.tkey()}
	case 20:
		return []string{"SET", k, g.value()}
	case 21:
		return []string{"DEL", k}
	default:
		// Same-score sets for the lex commands.
		return []string{"ZADD", k, "0", g.member(), "0", g.member()}
	}
}

func TestRandomZsetCommandsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, r := clients(t, proto)
			for seed := uint64(1); seed <= 2; seed++ {
				g := zsetGen{&gen{r: rand.New(rand.NewPCG(seed, uint64(proto)+40))}}
				var history [][]string
				for i := range 2000 {
					if ctx.Err() != nil {
						break
					}
					args := g.command()
					history = append(history, args)
					want, got := run(ctx, r, args), run(ctx, f, args)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d op %d: %q\nferricd: %#v\nredis:   %#v\nlast commands touching its keys:\n%s",
							seed, i, args, got, want, touching(history, args[1:], 15))
					}
				}
				zsetCompareContents(ctx, t, f, r)
				f.FlushAll(ctx)
				r.FlushAll(ctx)
			}
		})
	}
}

// zsetCompareContents checks both servers hold the same keys, types and sorted-set contents.
func zsetCompareContents(ctx context.Context, t *testing.T, f, r *redis.Client) {
	t.Helper()
	compareKeys(ctx, t, f, r, nil, func(k string) [][]string {
		return [][]string{{"TYPE", k}, {"ZRANGE", k, "0", "-1", "WITHSCORES"}}
	})
}
