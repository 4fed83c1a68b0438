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

// pipelineSeed seeds TestPipelinedCommandsMatchRedis (change it locally to explore).
const pipelineSeed = 7

// runPipeline sends cmds as one pipeline and returns the normalized replies in order.
// ferricd proposes a pipeline's writes together, so the writes of one shard land in one raft
// entry as several payloads: what one-at-a-time tests never exercise.
func runPipeline(ctx context.Context, c *redis.Client, cmds [][]string) []outcome {
	pipe := c.Pipeline()
	sent := make([]*redis.Cmd, len(cmds))
	for i, args := range cmds {
		iargs := make([]any, len(args))
		for j, a := range args {
			iargs[j] = a
		}
		sent[i] = pipe.Do(ctx, iargs...)
	}
	_, _ = pipe.Exec(ctx) // per-command errors are in sent
	out := make([]outcome, len(cmds))
	for i, cmd := range sent {
		v, err := cmd.Result()
		out[i] = outcomeOf(cmds[i], v, err)
	}
	return out
}

// pipelined drives both servers with pipelines of up to 40 commands drawn by next (SCAN-like
// commands, whose cursors differ by design, are drawn again) and checks every reply.
func pipelined(t *testing.T, ctx context.Context, f, r *redis.Client, rng *rand.Rand, batches int,
	next func() []string, normalize func([]string, outcome) outcome) {
	t.Helper()
	var history [][]string
	for b := range batches {
		if ctx.Err() != nil {
			t.Fatalf("out of time at batch %d", b)
		}
		cmds := make([][]string, 1+rng.IntN(40))
		for i := range cmds {
			for {
				cmds[i] = next()
				if !strings.HasSuffix(strings.ToUpper(cmds[i][0]), "SCAN") {
					break
				}
			}
		}
		want, got := runPipeline(ctx, r, cmds), runPipeline(ctx, f, cmds)
		for i := range cmds {
			history = append(history, cmds[i])
			w, g := normalize(cmds[i], want[i]), normalize(cmds[i], got[i])
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("batch %d command %d of %d: %q\nferricd: %#v\nredis:   %#v\nlast commands touching its keys:\n%s",
					b, i, len(cmds), cmds[i], g, w, touching(history, cmds[i][1:], 15))
			}
		}
	}
}

func TestPipelinedSetCommandsMatchRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, r := clients(t, 2)
	for seed := uint64(1); seed <= 2; seed++ {
		rng := rand.New(rand.NewPCG(seed, 91))
		g := setGen{&gen{r: rng}}
		next := func() []string {
			args := g.command()
			if args[0] == "SPOP" && args[2] == "1 2" {
				args = []string{"SPOP", args[1], "1", "2"}
			}
			return args
		}
		pipelined(t, ctx, f, r, rng, 60, next, setNormalize)
		setCompareContents(ctx, t, f, r)
		f.FlushAll(ctx)
		r.FlushAll(ctx)
	}
}

func TestPipelinedCommandsMatchRedis(t *testing.T) {
	same := func(_ []string, o outcome) outcome { return o }
	for _, tc := range []struct {
		kind  string
		proto int
	}{{"hash", 2}, {"zset", 2}, {"list", 2}, {"string", 2}, {"hash", 3}, {"zset", 3}, {"list", 3}} {
		kind := tc.kind
		t.Run(fmt.Sprintf("%s/RESP%d", kind, tc.proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f, r := clients(t, tc.proto)
			rng := rand.New(rand.NewPCG(pipelineSeed, 92))
			base := &gen{r: rng}
			var next func() []string
			normalize, compare := same, compareContents
			switch kind {
			case "hash":
				next, normalize, compare = hashGen{base}.command, hashNormalize, hashCompareContents
			case "zset":
				next, compare = zsetGen{base}.command, zsetCompareContents
			case "list":
				next, compare = listGen{base}.command, listCompareContents
			default:
				next = base.command
			}
			pipelined(t, ctx, f, r, rng, 100, next, normalize)
			compare(ctx, t, f, r)
		})
	}
}

// TestPipelineRunnerSeesWrites checks the runner itself: a pipeline's replies come back in
// order and its writes are visible to its later reads (a runner that dropped or misordered
// replies would let both servers agree on nothing).
func TestPipelineRunnerSeesWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, _ := clients(t, 2)
	out := runPipeline(ctx, f, [][]string{{"SADD", "{t}a", "x"}, {"SADD", "{t}b", "y"}, {"SMEMBERS", "{t}a"}, {"SMEMBERS", "{t}b"}})
	if got := fmt.Sprint(out); got != "[{1 } {1 } {[x] } {[y] }]" {
		t.Fatalf("pipelined SADD/SMEMBERS of two sets of one slot = %s", got)
	}
}
