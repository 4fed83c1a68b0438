package differential

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Transactions: random MULTI blocks of commands from every family's generator, with keys
// moved into the {t} hash tag (a transaction's keys must share a shard, as in Redis
// Cluster), some of them aborted by a malformed command or discarded, some watched keys
// written by a second client before EXEC. Every reply (QUEUED, errors, the EXEC array,
// element by element) and the final contents must match Redis.

// txSeed seeds TestRandomTransactionsMatchRedis (change it locally to explore).
const txSeed = 11

// txRandom names commands whose replies or effects are random: they are drawn again.
var txRandom = []string{"SPOP", "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY",
	"SCAN", "SSCAN", "HSCAN", "ZSCAN", "KEYS"}

// txBlocking names the blocking commands txCommand draws.
var txBlocking = []string{"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "BZMPOP"}

// txCommand draws one command for a transaction, its keys all in the {t} tag.
func txCommand(g *gen) []string {
	for {
		var args []string
		switch g.r.IntN(60) {
		case 0:
			// A server command: it splits the transaction in ferricd.
			args = []string{g.pick("DBSIZE", "DBSIZE", "DBSIZE", "FLUSHALL")}
		case 1, 2:
			// Blocking commands never block inside MULTI.
			k := "{t}" + g.pick(plainKeys...)
			args = [][]string{
				{"BLPOP", k, "0"}, {"BRPOP", k, "{t}x", "0"}, {"BLMOVE", k, "{t}x", "LEFT", "RIGHT", "0"},
				{"BRPOPLPUSH", k, "{t}x", "0"}, {"BZPOPMIN", k, "0"}, {"BZPOPMAX", k, "0"},
				{"BLMPOP", "0", "1", k, "LEFT"}, {"BZMPOP", "0", "1", k, "MIN"},
			}[g.r.IntN(8)]
		case 3, 4, 5, 6, 7, 8, 9, 10, 11, 12:
			args = g.command()
		case 13, 14, 15, 16, 17, 18, 19, 20, 21, 22:
			args = listGen{g}.command()
		case 23, 24, 25, 26, 27, 28, 29, 30, 31, 32:
			args = hashGen{g}.command()
		case 33, 34, 35, 36, 37, 38, 39, 40, 41, 42:
			args = setGen{g}.command()
		default:
			args = zsetGen{g}.command()
		}
		if slices.Contains(txRandom, strings.ToUpper(args[0])) {
			continue
		}
		for i, a := range args {
			if slices.Contains(plainKeys, a) {
				args[i] = "{t}" + a
			}
		}
		return args
	}
}

func normalizeAny(args []string, o outcome) outcome {
	return setNormalize(args, hashNormalize(args, o))
}

// txPair is the two servers' connections of one client.
type txPair struct{ f, r *redis.Conn }

// do sends args to both and returns both outcomes.
func (p txPair) do(ctx context.Context, args []string) (got, want outcome) {
	iargs := make([]any, len(args))
	for i, a := range args {
		iargs[i] = a
	}
	fv, ferr := p.f.Do(ctx, iargs...).Result()
	rv, rerr := p.r.Do(ctx, iargs...).Result()
	return outcomeOf(args, fv, ferr), outcomeOf(args, rv, rerr)
}

// execOutcomes splits an EXEC reply into one normalized outcome per queued command.
func execOutcomes(queued [][]string, o outcome) any {
	xs, ok := o.val.([]any)
	if !ok || len(xs) != len(queued) {
		return o
	}
	out := make([]outcome, len(xs))
	for i, x := range xs {
		var err error
		if e, isErr := x.(error); isErr {
			x, err = nil, e
		}
		out[i] = normalizeAny(queued[i], outcomeOf(queued[i], x, err))
	}
	return out
}

func TestRandomTransactionsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			fc, rc := clients(t, proto)
			client := txPair{fc.Conn(), rc.Conn()}
			other := txPair{fc.Conn(), rc.Conn()}
			t.Cleanup(func() { client.f.Close(); client.r.Close(); other.f.Close(); other.r.Close() })
			g := &gen{r: rand.New(rand.NewPCG(txSeed, uint64(proto)))}
			var history [][]string
			watchAborts, execAborts := 0, 0
			check := func(p txPair, args []string) {
				t.Helper()
				history = append(history, args)
				got, want := p.do(ctx, args)
				got, want = normalizeAny(args, got), normalizeAny(args, want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%q\nferricd: %#v\nredis:   %#v\nlast commands touching its keys:\n%s",
						args, got, want, touching(history, args[1:], 20))
				}
			}
			for range 400 {
				if ctx.Err() != nil {
					t.Fatal("out of time")
				}
				watched := ""
				if g.r.IntN(3) == 0 {
					watched = "{t}" + g.pick(plainKeys...)
					check(client, []string{"WATCH", watched})
				}
				check(client, []string{"MULTI"})
				var queued [][]string
				for range 1 + g.r.IntN(8) {
					args := txCommand(g)
					switch g.r.IntN(80) {
					case 0:
						args = []string{"NOSUCHCMD", "{t}a"}
					case 1:
						args = args[:1] // wrong arity for most commands
					}
					check(client, args)
					queued = append(queued, args)
				}
				switch {
				case watched != "" && g.r.IntN(2) == 0:
					check(other, []string{"SET", watched, "by-other"})
				case g.r.IntN(3) == 0:
					// Another client writes a key, maybe a watched one, before EXEC (never a
					// blocking command: outside MULTI it would wait forever).
					args := txCommand(g)
					for slices.Contains(txBlocking, args[0]) {
						args = txCommand(g)
					}
					check(other, args)
				}
				if g.r.IntN(10) == 0 {
					check(client, []string{"DISCARD"})
					continue
				}
				history = append(history, []string{"EXEC"})
				got, want := client.do(ctx, []string{"EXEC"})
				if g, w := execOutcomes(queued, got), execOutcomes(queued, want); !reflect.DeepEqual(g, w) {
					t.Fatalf("EXEC of %q\nferricd: %#v\nredis:   %#v", queued, g, w)
				}
				switch {
				case want.val == nil && want.err == "":
					watchAborts++
				case strings.HasPrefix(want.err, "EXECABORT"):
					execAborts++
				}
			}
			// The draw must have exercised both ways a transaction fails.
			if watchAborts == 0 || execAborts == 0 {
				t.Fatalf("%d EXECs stopped by a watched key, %d by EXECABORT: the generator no longer covers both",
					watchAborts, execAborts)
			}
			compareKeys(ctx, t, fc, rc, normalizeAny, func(k string) [][]string {
				return [][]string{{"TYPE", k}, {"TTL", k}, {"GET", k}, {"LRANGE", k, "0", "-1"},
					{"HGETALL", k}, {"SMEMBERS", k}, {"ZRANGE", k, "0", "-1", "WITHSCORES"}}
			})
		})
	}
}
