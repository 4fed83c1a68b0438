package crash

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// collWorker writes one collection of one type with one client, one command at a time, and
// keeps a model of what the server acknowledged. The command in flight when the server died
// is ambiguous: the collection after the restart must equal the model with or without it.
type collWorker struct {
	kind string // "list", "zset", "hash", "set"
	key  string
	// model is the acknowledged contents, rendered as the verify read renders them;
	// maybe is the contents had the unanswered command been applied (nil: none pending).
	model, maybe []string
	state        collState
}

// collState is a worker's acknowledged contents in a form its ops can change.
type collState struct {
	list    []string
	members map[string]string // zset member → score, hash field → value, set member → ""
}

func (s collState) clone() collState {
	c := collState{list: slices.Clone(s.list), members: make(map[string]string, len(s.members))}
	for k, v := range s.members {
		c.members[k] = v
	}
	return c
}

// step sends the i-th command of the worker's sequence and returns how it changes the state.
func (w *collWorker) step(ctx context.Context, c *redis.Client, i int) (func(*collState), error) {
	m := fmt.Sprintf("m%d", i%300) // members repeat: updates, not only inserts
	v := fmt.Sprintf("v%d", i)
	switch w.kind {
	case "list":
		if i%4 == 3 {
			// What was popped is not checked here: the contents are compared after the
			// restart, and a pop that took the wrong element shows there.
			err := c.LPop(ctx, w.key).Err()
			if err == redis.Nil {
				err = nil
			}
			return func(s *collState) {
				if len(s.list) > 0 {
					s.list = s.list[1:]
				}
			}, err
		}
		err := c.RPush(ctx, w.key, v).Err()
		return func(s *collState) { s.list = append(s.list, v) }, err
	case "zset":
		if i%5 == 4 {
			err := c.ZRem(ctx, w.key, m).Err()
			return func(s *collState) { delete(s.members, m) }, err
		}
		score := fmt.Sprint(i % 97)
		err := c.ZAdd(ctx, w.key, redis.Z{Score: float64(i % 97), Member: m}).Err()
		return func(s *collState) { s.members[m] = score }, err
	case "hash":
		if i%5 == 4 {
			err := c.HDel(ctx, w.key, m).Err()
			return func(s *collState) { delete(s.members, m) }, err
		}
		err := c.HSet(ctx, w.key, m, v).Err()
		return func(s *collState) { s.members[m] = v }, err
	default: // set
		if i%5 == 4 {
			err := c.SRem(ctx, w.key, m).Err()
			return func(s *collState) { delete(s.members, m) }, err
		}
		err := c.SAdd(ctx, w.key, m).Err()
		return func(s *collState) { s.members[m] = "" }, err
	}
}

// render is the contents of s as the verify read returns them.
func (w *collWorker) render(s collState) []string {
	if w.kind == "list" {
		return slices.Clone(s.list)
	}
	out := make([]string, 0, len(s.members))
	for k, v := range s.members {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// read returns the collection's contents on the server.
func (w *collWorker) read(ctx context.Context, c *redis.Client) ([]string, error) {
	var out []string
	switch w.kind {
	case "list":
		return c.LRange(ctx, w.key, 0, -1).Result()
	case "zset":
		zs, err := c.ZRangeWithScores(ctx, w.key, 0, -1).Result()
		if err != nil {
			return nil, err
		}
		for _, z := range zs {
			out = append(out, fmt.Sprintf("%s=%v", z.Member, z.Score))
		}
	case "hash":
		h, err := c.HGetAll(ctx, w.key).Result()
		if err != nil {
			return nil, err
		}
		for k, v := range h {
			out = append(out, k+"="+v)
		}
	default:
		ms, err := c.SMembers(ctx, w.key).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range ms {
			out = append(out, k+"=")
		}
	}
	sort.Strings(out)
	return out, nil
}

// run writes until the first failure (the kill) or until ctx ends.
func (w *collWorker) run(ctx context.Context, addr string) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	defer c.Close()
	for i := 0; ctx.Err() == nil; i++ {
		change, err := w.step(ctx, c, i)
		if err != nil {
			next := w.state.clone()
			change(&next)
			w.maybe = w.render(next)
			return
		}
		change(&w.state)
	}
}

func TestSIGKILLKeepsCollectionsIntact(t *testing.T) {
	p := testserver.StartFerricd(t)
	var workers []*collWorker
	for _, kind := range collectionKinds {
		for i := range 3 {
			workers = append(workers, &collWorker{kind: kind, key: fmt.Sprintf("%s:%d", kind, i),
				state: collState{members: map[string]string{}}})
		}
	}
	for cycle := range 2 {
		writers := make([]func(context.Context), len(workers))
		for i, w := range workers {
			w.maybe = nil
			writers[i] = func(ctx context.Context) { w.run(ctx, p.Addr()) }
		}
		killMidLoad(p, time.Duration(800+400*cycle)*time.Millisecond, writers)

		vctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c := redis.NewClient(&redis.Options{Addr: p.Addr()})
		for _, w := range workers {
			got, err := w.read(vctx, c)
			if err != nil {
				t.Fatalf("cycle %d: read %s after restart: %v", cycle, w.key, err)
			}
			want := w.render(w.state)
			switch {
			case reflect.DeepEqual(got, want) || len(got) == 0 && len(want) == 0:
			case w.maybe != nil && reflect.DeepEqual(got, w.maybe):
				// The unanswered command was applied: adopt it.
				w.state = w.stateFrom(got)
			default:
				t.Errorf("cycle %d: %s after restart holds %d entries, acknowledged %d (first difference: %s)",
					cycle, w.key, len(got), len(want), firstDifference(got, want))
			}
		}
		c.Close()
		cancel()
		if t.Failed() {
			t.Fatalf("collections lost acknowledged writes; server output:\n%s", p.Output())
		}
	}
}

// stateFrom rebuilds a worker's state from what the server holds (after the ambiguous
// command turned out applied).
func (w *collWorker) stateFrom(got []string) collState {
	s := collState{members: map[string]string{}}
	if w.kind == "list" {
		s.list = slices.Clone(got)
		return s
	}
	for _, e := range got {
		for i := 0; i < len(e); i++ {
			if e[i] == '=' {
				s.members[e[:i]] = e[i+1:]
				break
			}
		}
	}
	return s
}

func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d got %q want %q", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// collectionKinds are the types the crash test writes.
var collectionKinds = []string{"list", "zset", "hash", "set"}

// killMidLoad runs writers until p is SIGKILLed d later, waits for them to stop (each ends at
// its first failed command, or when its context ends), and restarts p.
func killMidLoad(p *testserver.Process, d time.Duration, writers []func(context.Context)) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, write := range writers {
		wg.Add(1)
		go func() { defer wg.Done(); write(ctx) }()
	}
	time.Sleep(d)
	p.Kill()
	stop()
	wg.Wait()
	p.Restart()
}
