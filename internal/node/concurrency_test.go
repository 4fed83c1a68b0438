package node

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"ferricd/internal/reply"
)

// TestConcurrentExec: many connections pipelining INCR on shared counters and SET/GET on their
// own keys, while another one reads the whole keyspace; every reply is right and the counters
// end exact. Run it with -race.
func TestConcurrentExec(t *testing.T) {
	tn := newTestNode(t, nil)
	const (
		workers  = 8
		rounds   = 150
		counters = 4
	)
	counterKey := func(c int) string { return fmt.Sprintf("counter:%d", c) }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				own := fmt.Sprintf("own:%d:%d", w, i)
				val := fmt.Sprintf("v%d.%d", w, i)
				cs := calls(t, [][]string{
					{"incr", counterKey(i % counters)},
					{"set", own, val},
					{"get", own},
					{"incr", counterKey((i + w) % counters)},
					{"append", own, "!"},
					{"get", own},
				})
				out := make([]reply.Value, len(cs))
				tn.n.Exec(context.Background(), cs, out)
				if out[0].Kind != reply.KindInt || out[3].Kind != reply.KindInt {
					t.Errorf("worker %d round %d: INCR replies %s and %s", w, i, out[0], out[3])
				}
				if got := string(out[2].Str); got != val {
					t.Errorf("worker %d round %d: GET own key = %s, want %q", w, i, out[2], val)
				}
				if got := string(out[5].Str); got != val+"!" {
					t.Errorf("worker %d round %d: GET after APPEND = %s, want %q", w, i, out[5], val+"!")
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			cs := calls(t, [][]string{{"dbsize"}, {"scan", "0", "COUNT", "50"}, {"mget", counterKey(0), counterKey(1)}, {"info", "keyspace"}})
			out := make([]reply.Value, len(cs))
			tn.n.Exec(context.Background(), cs, out)
			for i, v := range out {
				if v.IsError() {
					t.Errorf("concurrent read %q = %s", cs[i].Args, v)
				}
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()

	want := make([]int, counters)
	for w := range workers {
		for i := range rounds {
			want[i%counters]++
			want[(i+w)%counters]++
		}
	}
	for c := range counters {
		tn.expect(fmt.Sprintf(`"%d"`, want[c]), "get", counterKey(c))
	}
	if n := tn.dbsize(); n != workers*rounds+counters {
		t.Errorf("DBSIZE = %d, want %d", n, workers*rounds+counters)
	}
}

// TestCountersNotAheadOfCommittedData: DBSIZE must never count a key that a read issued after
// it cannot see. Keys are only ever added here, so KEYS * after DBSIZE must return at least as
// many keys as DBSIZE reported.
func TestCountersNotAheadOfCommittedData(t *testing.T) {
	tn := newTestNode(t, nil)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := range 1500 {
				select {
				case <-stop:
					return
				default:
				}
				cs := calls(t, [][]string{{"set", fmt.Sprintf("w%d:%d", w, i), "v"}})
				tn.n.Exec(context.Background(), cs, make([]reply.Value, 1))
			}
		})
	}
	defer func() {
		close(stop)
		writers.Wait()
	}()
	for range 300 {
		out := tn.exec([]string{"dbsize"}, []string{"keys", "*"})
		if n := int64(len(out[1].Elems)); n < out[0].Int {
			t.Fatalf("DBSIZE reported %d keys, then KEYS * (a later read) saw only %d: counters ran ahead of committed data",
				out[0].Int, n)
		}
	}
}
