package crash

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// txWorker runs MULTI/EXEC blocks that each set a counter, a copy of it and a list element
// in one hash tag. After a SIGKILL, every tag must show a whole transaction (never the
// counter of one and the copy of another) and no acknowledged one may be missing: the
// counter is the last acknowledged one, or the one that was in flight.
type txWorker struct {
	tag      string
	acked    int // the last transaction EXEC acknowledged (0: none)
	inFlight int // the transaction unanswered when the server died (0: none)
}

func (w *txWorker) run(ctx context.Context, addr string) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	defer c.Close()
	for i := w.acked + 1; ctx.Err() == nil; i++ {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, w.tag+"n", i, 0)
			p.Set(ctx, w.tag+"copy", i, 0)
			p.RPush(ctx, w.tag+"log", i)
			return nil
		})
		if err != nil {
			w.inFlight = i
			return
		}
		w.acked = i
	}
}

// check reads the tag back after the restart and adopts an in-flight transaction that
// turned out applied.
func (w *txWorker) check(ctx context.Context, c *redis.Client) error {
	var n, cp *redis.StringCmd
	var logLen *redis.IntCmd
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n, cp, logLen = p.Get(ctx, w.tag+"n"), p.Get(ctx, w.tag+"copy"), p.LLen(ctx, w.tag+"log")
		return nil
	}); err != nil && err != redis.Nil {
		return fmt.Errorf("read back: %w", err)
	}
	got := 0
	if n.Err() == nil {
		got, _ = strconv.Atoi(n.Val())
	}
	if n.Val() != cp.Val() || int64(got) != logLen.Val() {
		return fmt.Errorf("torn transaction: n=%q copy=%q log length %d", n.Val(), cp.Val(), logLen.Val())
	}
	switch {
	case got == w.acked:
	case w.inFlight != 0 && got == w.inFlight:
		w.acked = got
	default:
		return fmt.Errorf("holds transaction %d; acknowledged %d, in flight %d", got, w.acked, w.inFlight)
	}
	w.inFlight = 0
	return nil
}

func TestSIGKILLKeepsTransactionsWholeAndDurable(t *testing.T) {
	p := testserver.StartFerricd(t)
	workers := make([]*txWorker, 12)
	for i := range workers {
		workers[i] = &txWorker{tag: fmt.Sprintf("{tx%d}", i)}
	}
	for cycle := range 2 {
		writers := make([]func(context.Context), len(workers))
		for i, w := range workers {
			writers[i] = func(ctx context.Context) { w.run(ctx, p.Addr()) }
		}
		killMidLoad(p, time.Duration(700+400*cycle)*time.Millisecond, writers)

		vctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c := redis.NewClient(&redis.Options{Addr: p.Addr()})
		total := 0
		for _, w := range workers {
			if err := w.check(vctx, c); err != nil {
				t.Errorf("cycle %d, %s: %v", cycle, w.tag, err)
			}
			total += w.acked
		}
		c.Close()
		cancel()
		if t.Failed() {
			t.Fatalf("transactions torn or lost; server output:\n%s", p.Output())
		}
		if total == 0 {
			t.Fatalf("cycle %d: no transaction was acknowledged before the kill", cycle)
		}
	}
}
