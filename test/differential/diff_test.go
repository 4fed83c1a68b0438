package differential

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// outcome is a reply normalized for comparison: errors by text, remaining-time replies reduced
// to their sign (the two servers stamp deadlines a few milliseconds apart).
type outcome struct {
	val any
	err string
}

func run(ctx context.Context, c *redis.Client, args []string) outcome {
	iargs := make([]any, len(args))
	for i, a := range args {
		iargs[i] = a
	}
	v, err := c.Do(ctx, iargs...).Result()
	return outcomeOf(args, v, err)
}

// outcomeOf normalizes the reply (v, err) to args.
func outcomeOf(args []string, v any, err error) outcome {
	if err == redis.Nil {
		return outcome{val: nil}
	}
	if err != nil {
		return outcome{err: err.Error()}
	}
	switch strings.ToUpper(args[0]) {
	case "TTL", "PTTL":
		if n, ok := v.(int64); ok && n > 0 {
			v = "positive"
		}
	}
	return outcome{val: v}
}

func clients(t *testing.T, proto int) (ferricd, redisc *redis.Client) {
	t.Helper()
	f := testserver.StartFerricd(t)
	r := testserver.StartRedis(t)
	opts := func(addr string) *redis.Options {
		return &redis.Options{Addr: addr, Protocol: proto, MaxRetries: -1, ReadTimeout: 10 * time.Second}
	}
	ferricd, redisc = redis.NewClient(opts(f.Addr())), redis.NewClient(opts(r.Addr()))
	t.Cleanup(func() { ferricd.Close(); redisc.Close() })
	return ferricd, redisc
}

func TestRandomStringAndKeyCommandsMatchRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			f, r := clients(t, proto)
			for seed := uint64(1); seed <= 3; seed++ {
				g := &gen{r: rand.New(rand.NewPCG(seed, uint64(proto)))}
				var history [][]string
				for i := range 1500 {
					args := g.command()
					history = append(history, args)
					want := run(ctx, r, args)
					got := run(ctx, f, args)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d op %d: %q\nferricd: %#v\nredis:   %#v\nlast commands touching its keys:\n%s",
							seed, i, args, got, want, touching(history, args[1:], 15))
					}
				}
				compareContents(ctx, t, f, r)
				if err := f.FlushAll(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				if err := r.FlushAll(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// touching returns the last n commands of history that mention any of keys, one per line.
func touching(history [][]string, keys []string, n int) string {
	var out []string
	for i := len(history) - 1; i >= 0 && len(out) < n; i-- {
		for _, a := range history[i][1:] {
			if slices.Contains(keys, a) {
				out = append(out, fmt.Sprintf("#%d %q", i, history[i]))
				break
			}
		}
	}
	slices.Reverse(out)
	return strings.Join(out, "\n")
}

// compareContents checks that both servers hold the same keys with the same values and the
// same presence of a TTL.
func compareContents(ctx context.Context, t *testing.T, f, r *redis.Client) {
	t.Helper()
	compareKeys(ctx, t, f, r, nil, func(k string) [][]string { return [][]string{{"TYPE", k}, {"GET", k}, {"TTL", k}} })
}

// compareKeys checks that both servers hold the same keys and give the same replies to the
// commands views names for each of them (normalized by normalize, when not nil).
func compareKeys(ctx context.Context, t *testing.T, f, r *redis.Client,
	normalize func([]string, outcome) outcome, views func(key string) [][]string) {
	t.Helper()
	fk, err := f.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("ferricd KEYS: %v", err)
	}
	rk, err := r.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("redis KEYS: %v", err)
	}
	sort.Strings(fk)
	sort.Strings(rk)
	if !reflect.DeepEqual(fk, rk) {
		t.Fatalf("final key sets differ:\nferricd: %q\nredis:   %q", fk, rk)
	}
	if normalize == nil {
		normalize = func(_ []string, o outcome) outcome { return o }
	}
	for _, k := range rk {
		for _, args := range views(k) {
			if got, want := normalize(args, run(ctx, f, args)), normalize(args, run(ctx, r, args)); !reflect.DeepEqual(got, want) {
				t.Errorf("final %q: ferricd %#v, redis %#v", args, got, want)
			}
		}
	}
}
