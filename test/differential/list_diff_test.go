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

// listGen draws list commands (mixed with SET and DEL, for type clashes) over the shared key
// pools; multi-key forms use the {t} keys.
type listGen struct{ *gen }

func (g listGen) elem() string { return g.pick("a", "b", "c", "d", "1", "2", "") }
func (g listGen) index() string {
	return g.pick(g.num(-6, 6), g.num(-6, 6), "100", "-100", "x", "9223372036854775807")
}
func (g listGen) side() string { return g.pick("LEFT", "RIGHT", "left", "UP") }

func (g listGen) command() []string {
	k := g.key()
	switch g.r.IntN(21) {
	case 0, 1, 2:
		args := []string{g.pick("LPUSH", "RPUSH"), k}
		for range 1 + g.r.IntN(4) {
			args = append(args, g.elem())
		}
		return args
	case 3:
		return []string{g.pick("LPUSHX", "RPUSHX"), k, g.elem()}
	case 4:
		return append([]string{g.pick("LPOP", "RPOP"), k}, g.opt("0", "1", "3", "-1", "x")...)
	case 5:
		return []string{"LLEN", k}
	case 6:
		return []string{"LINDEX", k, g.index()}
	case 7:
		return []string{"LSET", k, g.index(), g.elem()}
	case 8, 9:
		return []string{"LRANGE", k, g.index(), g.index()}
	case 10:
		return []string{"LTRIM", k, g.index(), g.index()}
	case 11:
		return []string{"LREM", k, g.pick("0", "1", "-1", "2", "-2", "x"), g.elem()}
	case 12:
		return []string{"LINSERT", k, g.pick("BEFORE", "AFTER", "x"), g.elem(), g.elem()}
	case 13:
		args := []string{"LPOS", k, g.elem()}
		args = append(args, g.opt("RANK 1", "RANK -1", "RANK 2", "RANK 0")...)
		args = append(args, g.opt("COUNT 0", "COUNT 2", "COUNT -1")...)
		args = append(args, g.opt("MAXLEN 0", "MAXLEN 3", "MAXLEN -1")...)
		var out []string
		for _, a := range args {
			var x, y string
			if n, _ := fmt.Sscan(a, &x, &y); n == 2 {
				out = append(out, x, y)
			} else {
				out = append(out, a)
			}
		}
		return out
	case 14:
		return []string{"LMOVE", g.tkey(), g.tkey(), g.side(), g.side()}
	case 15:
		return []string{"RPOPLPUSH", g.tkey(), g.tkey()}
	case 16:
		args := []string{"LMPOP", g.pick("1", "2", "0", "3"), g.tkey(), g.tkey(), g.side()}
		switch g.r.IntN(4) {
		case 0:
			args = append(args, "COUNT")
		case 1:
			args = append(args, "COUNT", g.pick("2", "0", "-1"))
		}
		return args
	case 19:
		// Blocking pops: served at once when a key has data, else a 10 ms wait for nothing
		// (never 0: the test has no second client to wake them).
		switch g.r.IntN(5) {
		case 0, 1:
			return []string{g.pick("BLPOP", "BRPOP"), g.tkey(), g.tkey(), g.pick("0.01", "0.01", "-1", "x")}
		case 2:
			return []string{"BLMOVE", g.tkey(), g.tkey(), g.side(), g.side(), g.pick("0.01", "-2")}
		case 3:
			return []string{"BRPOPLPUSH", g.tkey(), g.tkey(), "0.01"}
		}
		args := []string{"BLMPOP", g.pick("0.01", "x"), g.pick("1", "2", "3"), g.tkey(), g.tkey(), g.side()}
		if g.r.IntN(2) == 0 {
			args = append(args, "COUNT", g.pick("2", "0"))
		}
		return args
	case 17:
		return []string{"SET", k, g.value()}
	case 18:
		return []string{"DEL", k}
	default:
		return []string{"RPUSH", k, g.elem(), g.elem()}
	}
}

func TestRandomListCommandsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, r := clients(t, proto)
			for seed := uint64(1); seed <= 2; seed++ {
				g := listGen{&gen{r: rand.New(rand.NewPCG(seed, uint64(proto)+60))}}
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
				listCompareContents(ctx, t, f, r)
				f.FlushAll(ctx)
				r.FlushAll(ctx)
			}
		})
	}
}

// listCompareContents checks both servers hold the same keys, types and list contents.
func listCompareContents(ctx context.Context, t *testing.T, f, r *redis.Client) {
	t.Helper()
	compareKeys(ctx, t, f, r, nil, func(k string) [][]string { return [][]string{{"TYPE", k}, {"LRANGE", k, "0", "-1"}} })
}
