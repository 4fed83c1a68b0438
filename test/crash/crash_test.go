// Package crash checks the durability promise end to end: a ferricd process killed with
// SIGKILL at an arbitrary moment under write load loses no acknowledged write, and SIGTERM
// shuts it down cleanly.
package crash

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// acked records what the server acknowledged before the kill.
type acked struct {
	mu      sync.Mutex
	sets    map[string]string // key → last acknowledged value
	counter map[string]int64  // counter key → highest acknowledged INCR result
	appends map[string]int    // key → number of acknowledged APPENDs of one byte
}

func newAcked() *acked {
	return &acked{sets: map[string]string{}, counter: map[string]int64{}, appends: map[string]int{}}
}

// load writes until ctx is done from several clients; every write the server answered is
// recorded. Writes that failed (the connection died mid-flight) are ambiguous and not recorded.
func load(ctx context.Context, addr string, a *acked, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
			defer c.Close()
			counterKey := fmt.Sprintf("counter:%d", w)
			appendKey := fmt.Sprintf("append:%d", w)
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d:k%d", w, i%500)
				val := fmt.Sprintf("v%d", i)
				if err := c.Set(ctx, key, val, 0).Err(); err == nil {
					a.mu.Lock()
					a.sets[key] = val
					a.mu.Unlock()
				}
				if n, err := c.Incr(ctx, counterKey).Result(); err == nil {
					a.mu.Lock()
					a.counter[counterKey] = max(a.counter[counterKey], n)
					a.mu.Unlock()
				}
				if _, err := c.Append(ctx, appendKey, "x").Result(); err == nil {
					a.mu.Lock()
					a.appends[appendKey]++
					a.mu.Unlock()
				}
				// Pipelined writes too: they are batched into shared raft entries.
				pipe := c.Pipeline()
				cmds := make([]*redis.StatusCmd, 8)
				for j := range cmds {
					cmds[j] = pipe.Set(ctx, fmt.Sprintf("w%d:p%d", w, j), val, 0)
				}
				_, _ = pipe.Exec(ctx)
				for j, cmd := range cmds {
					if cmd.Err() == nil {
						a.mu.Lock()
						a.sets[fmt.Sprintf("w%d:p%d", w, j)] = val
						a.mu.Unlock()
					}
				}
			}
		}()
	}
	return &wg
}

// verify checks that every acknowledged write is visible. A write that was in flight at the
// kill may or may not be there (its client saw no answer), so counters and appends may be
// ahead of what was acknowledged, never behind; a SET key may hold a later attempted value.
func verify(t *testing.T, addr string, a *acked) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, want := range a.sets {
		got, err := c.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("GET %s after restart: %v (acknowledged value %q lost)", key, err, want)
		}
		if vnum(got) < vnum(want) {
			t.Errorf("GET %s = %q after restart, older than the acknowledged %q", key, got, want)
		}
	}
	for key, want := range a.counter {
		got, err := c.Get(ctx, key).Int64()
		if err != nil || got < want {
			t.Errorf("counter %s = %d (%v) after restart, acknowledged INCR reached %d", key, got, err, want)
		}
	}
	for key, want := range a.appends {
		got, err := c.StrLen(ctx, key).Result()
		if err != nil || got < int64(want) {
			t.Errorf("STRLEN %s = %d (%v) after restart, %d APPENDs were acknowledged", key, got, err, want)
		}
	}
}

func vnum(v string) int {
	n, _ := strconv.Atoi(v[1:])
	return n
}

func TestSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	p := testserver.StartFerricd(t)
	a := newAcked()
	for cycle := range 3 {
		ctx, stop := context.WithCancel(context.Background())
		wg := load(ctx, p.Addr(), a, 8)
		time.Sleep(time.Duration(700+300*cycle) * time.Millisecond)
		p.Kill() // mid-load: writes are in flight
		stop()
		wg.Wait()
		a.mu.Lock()
		n := len(a.sets)
		a.mu.Unlock()
		if n == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill:\n%s", cycle, p.Output())
		}
		p.Restart()
		verify(t, p.Addr(), a)
		if t.Failed() {
			t.Fatalf("cycle %d: acknowledged writes lost; server output:\n%s", cycle, p.Output())
		}
	}
}

func TestSIGTERMShutsDownCleanly(t *testing.T) {
	p := testserver.StartFerricd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: p.Addr()})
	if err := c.Set(ctx, "before-term", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// c's connection stays open across the SIGTERM: an idle client must not hold shutdown up.
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.Output())
	}
	c.Close()
	p.Restart()
	c = redis.NewClient(&redis.Options{Addr: p.Addr()})
	defer c.Close()
	got, err := c.Get(ctx, "before-term").Result()
	if err != nil || got != "1" {
		t.Fatalf("GET before-term after clean restart = %q, %v; want \"1\"", got, err)
	}
}
