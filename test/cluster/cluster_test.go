// Package cluster tests multi-node ferricd clusters as real processes on loopback: writes
// through any node, losing a node (leader included) without losing acknowledged writes,
// refusing service without a quorum, and bad cluster options.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

func client(p *testserver.Process) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 5 * time.Second})
}

// waitWritable waits until a write through p to every shard succeeds (leaders elected).
func waitWritable(t *testing.T, p *testserver.Process, within time.Duration) {
	t.Helper()
	c := client(p)
	defer c.Close()
	deadline := time.Now().Add(within)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := error(nil)
		for k := range 32 { // 32 keys cover every shard of a small shard count
			if err = c.Set(ctx, fmt.Sprintf("probe:%d", k), "x", 0).Err(); err != nil {
				break
			}
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not writable after %v: %v", p.Name, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestWritesThroughEveryNodeAreReadFromEveryNode(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4")
	waitWritable(t, nodes[0], 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]string{}
	for i, p := range nodes {
		c := client(p)
		for k := range 40 {
			key, val := fmt.Sprintf("n%d:k%d", i, k), fmt.Sprintf("v%d-%d", i, k)
			if err := c.Set(ctx, key, val, 0).Err(); err != nil {
				t.Fatalf("SET %s through %s: %v", key, p.Name, err)
			}
			want[key] = val
		}
		// A pipeline mixing shards keeps its order: INCR results come back 1..5.
		pipe := c.Pipeline()
		var incrs []*redis.IntCmd
		for range 5 {
			for s := range 4 {
				incrs = append(incrs, pipe.Incr(ctx, fmt.Sprintf("ctr:%d:%d", i, s)))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("pipeline through %s: %v", p.Name, err)
		}
		for j, cmd := range incrs {
			if cmd.Val() != int64(j/4+1) {
				t.Fatalf("pipelined INCR #%d through %s = %d, want %d", j, p.Name, cmd.Val(), j/4+1)
			}
		}
		c.Close()
	}
	for _, p := range nodes {
		c := client(p)
		for key, val := range want {
			// A leader change (elections happen when a loaded machine delays heartbeats)
			// answers TRYAGAIN/CLUSTERDOWN, which clients retry.
			got, _, err := getRetrying(ctx, c, key)
			if err != nil || got != val {
				t.Fatalf("GET %s from %s = %q, %v; want %q", key, p.Name, got, err, val)
			}
		}
		if n, err := c.DBSize(ctx).Result(); err != nil || n != int64(len(want))+32+12 {
			t.Fatalf("DBSIZE on %s = %d, %v; want %d", p.Name, n, err, len(want)+32+12)
		}
		c.Close()
	}
}

// acked records the writes the cluster acknowledged.
type acked struct {
	mu   sync.Mutex
	sets map[string]string
	ctrs map[string]int64
}

func TestKilledNodeLosesNoAcknowledgedWrite(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4")
	waitWritable(t, nodes[0], 15*time.Second)
	a := &acked{sets: map[string]string{}, ctrs: map[string]int64{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Load through nodes 2 and 3 only: node 1 is the one killed.
	for w := range 4 {
		wg.Go(func() {
			c := client(nodes[1+w%2])
			defer c.Close()
			ctr := fmt.Sprintf("ctr:%d", w)
			for i := 0; ctx.Err() == nil; i++ {
				key, val := fmt.Sprintf("w%d:k%d", w, i%200), fmt.Sprintf("v%d", i)
				if c.Set(ctx, key, val, 0).Err() == nil {
					a.mu.Lock()
					a.sets[key] = val
					a.mu.Unlock()
				}
				if n, err := c.Incr(ctx, ctr).Result(); err == nil {
					a.mu.Lock()
					a.ctrs[ctr] = max(a.ctrs[ctr], n)
					a.mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	nodes[0].Kill()
	killedAt := time.Now()
	// Writes to every shard resume through the survivors within a few seconds.
	waitWritable(t, nodes[1], 10*time.Second)
	t.Logf("every shard writable %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	time.Sleep(time.Second)
	nodes[0].Restart()
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	waitWritable(t, nodes[0], 15*time.Second)

	vctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range nodes {
		c := client(p)
		for key, val := range a.sets {
			// A later SET of the same key may have been applied without its ack arriving
			// (the client gave up): the value must be this one or a later one of its writer.
			// Leaders may still change after the restart: TRYAGAIN is retried.
			got, _, err := getRetrying(vctx, c, key)
			if err != nil || (got != val && !laterValue(got, val)) {
				t.Fatalf("GET %s from %s = %q, %v; acknowledged %q", key, p.Name, got, err, val)
			}
		}
		for key, n := range a.ctrs {
			got, err := c.Get(vctx, key).Int64()
			if err != nil || got < n {
				t.Fatalf("GET %s from %s = %d, %v; an INCR returned %d", key, p.Name, got, err, n)
			}
		}
		c.Close()
	}
	if len(a.sets) == 0 {
		t.Fatal("no write was acknowledged at all")
	}
	t.Logf("%d keys and %d counters verified on all 3 nodes", len(a.sets), len(a.ctrs))
}

// laterValue reports whether got ("v<i>") was written after want by the same writer.
func laterValue(got, want string) bool {
	var g, w int
	if _, err := fmt.Sscanf(got, "v%d", &g); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(want, "v%d", &w); err != nil {
		return false
	}
	return g > w
}

func TestMinorityAnswersClusterDown(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "2")
	waitWritable(t, nodes[0], 15*time.Second)
	nodes[1].Kill()
	nodes[2].Kill()
	c := client(nodes[0])
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	for k := range 8 {
		err := c.Set(ctx, fmt.Sprintf("k%d", k), "v", 0).Err()
		if err == nil || !(strings.HasPrefix(err.Error(), "CLUSTERDOWN") || strings.HasPrefix(err.Error(), "TRYAGAIN")) {
			t.Fatalf("SET on a node without quorum = %v, want CLUSTERDOWN or TRYAGAIN", err)
		}
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("8 refused writes took %v: clients must not hang without a quorum", d)
	}
	if err := c.Get(ctx, "k1").Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("linearizable GET without quorum = %v, want an error", err)
	}
}

func TestBadClusterOptionsAreRefusedAtStart(t *testing.T) {
	bin := testserver.Binary(t)
	for _, tc := range []struct{ args, want string }{
		{"--node-id 1 --cluster-peers 1@127.0.0.1:17001,1@127.0.0.1:17002", "listed twice"},
		{"--node-id 3 --cluster-peers 1@127.0.0.1:17001,2@127.0.0.1:17002", "not in the list"},
		{"--cluster-peers 1@127.0.0.1:17001", "needs node-id"},
		{"--node-id 1 --cluster-peers 1@nowhere", "<host>:<port>"},
		{"--cluster-join yes", "cluster-join needs node-id"},
		{"--node-id 4 --cluster-join yes --cluster-peers 1@127.0.0.1:17001,4@127.0.0.1:17004", "exclude each other"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		args := append(strings.Fields(tc.args), "--port", "0", "--metrics-port", "0", "--dir", t.TempDir())
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("ferricd %s: err=%v output=%q; want a failure mentioning %q", tc.args, err, out, tc.want)
		}
	}
}

// getRetrying GETs key, retrying for up to 10 s while the answer is a retryable error
// (TRYAGAIN or CLUSTERDOWN: a shard electing a leader); it returns the value, the number of
// retries, and the last error.
func getRetrying(ctx context.Context, c *redis.Client, key string) (string, int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for retries := 0; ; retries++ {
		got, err := c.Get(ctx, key).Result()
		retryable := err != nil && (strings.HasPrefix(err.Error(), "TRYAGAIN") || strings.HasPrefix(err.Error(), "CLUSTERDOWN"))
		if !retryable || time.Now().After(deadline) {
			return got, retries, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
