package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// waitClusterOK waits until CLUSTER INFO on p reports every slot served.
func waitClusterOK(t *testing.T, p *testserver.Process) {
	t.Helper()
	c := client(p)
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		info, err := c.ClusterInfo(ctx).Result()
		cancel()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok on %s: %q, %v", p.Name, info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLeadsElsewhere waits until CLUSTER SLOTS on p shows a slot range whose master is another
// node. Elections may first make one node lead every shard; the balance loop then hands the
// surplus away one shard per round, so this takes a few seconds after the cluster is ok.
func waitLeadsElsewhere(t *testing.T, p *testserver.Process, within time.Duration) {
	t.Helper()
	c := client(p)
	defer c.Close()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		slots, err := c.ClusterSlots(ctx).Result()
		cancel()
		for _, s := range slots {
			if len(s.Nodes) > 0 && s.Nodes[0].Addr != p.Addr() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still masters every slot after %v (last CLUSTER SLOTS %v, %v)", p.Name, within, slots, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClusterClientFollowsRedirects(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4", "--cluster-redirect", "yes")
	for _, p := range nodes {
		waitClusterOK(t, p)
	}
	waitLeadsElsewhere(t, nodes[0], 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A plain client sent to a node that does not lead the key's shard gets MOVED.
	moved := 0
	plain := client(nodes[0])
	defer plain.Close()
	for k := range 64 {
		err := plain.Set(ctx, "plain:"+strconv.Itoa(k), "v", 0).Err()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "MOVED ") {
				t.Fatalf("plain SET = %v, want OK or MOVED", err)
			}
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("node 1 leads every shard: the redirect path was not exercised")
	}
	// Inside MULTI, a key served elsewhere is refused with MOVED when it is queued, and EXEC
	// then aborts, as Redis Cluster answers.
	queuedMoved := false
	conn := plain.Conn()
	for k := 0; k < 64 && !queuedMoved; k++ {
		if err := conn.Do(ctx, "MULTI").Err(); err != nil {
			t.Fatalf("MULTI: %v", err)
		}
		err := conn.Do(ctx, "SET", "plain:"+strconv.Itoa(k), "tx").Err()
		queuedMoved = err != nil && strings.HasPrefix(err.Error(), "MOVED ")
		if err != nil && !queuedMoved {
			t.Fatalf("SET queued in MULTI = %v, want QUEUED or MOVED", err)
		}
		execErr := conn.Do(ctx, "EXEC").Err()
		if queuedMoved && (execErr == nil || !strings.HasPrefix(execErr.Error(), "EXECABORT")) {
			t.Fatalf("EXEC after a MOVED command = %v, want EXECABORT", execErr)
		}
	}
	conn.Close()
	if !queuedMoved {
		t.Fatal("no queued command was answered MOVED")
	}

	addrs := make([]string, len(nodes))
	for i, p := range nodes {
		addrs[i] = p.Addr()
	}
	for _, readOnly := range []bool{false, true} {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ReadOnly: readOnly, MaxRedirects: 8})
		for k := range 200 {
			key := fmt.Sprintf("cc:%v:%d", readOnly, k)
			if err := cc.Set(ctx, key, k, 0).Err(); err != nil {
				t.Fatalf("ClusterClient SET %s: %v", key, err)
			}
		}
		for k := range 200 {
			key := fmt.Sprintf("cc:%v:%d", readOnly, k)
			// Replica reads may be stale for a moment after the write; leader reads never.
			var v int
			var err error
			for try := 0; try < 50; try++ {
				if v, err = cc.Get(ctx, key).Int(); err == nil && v == k || !readOnly {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil || v != k {
				t.Fatalf("ClusterClient(ReadOnly=%v) GET %s = %d, %v", readOnly, key, v, err)
			}
		}
		// Same-slot multi-key commands through hash tags.
		if err := cc.MSet(ctx, "{user1}:a", "1", "{user1}:b", "2").Err(); err != nil {
			t.Fatalf("MSET with a hash tag: %v", err)
		}
		if vals, err := cc.MGet(ctx, "{user1}:a", "{user1}:b").Result(); err != nil || vals[0] != "1" || vals[1] != "2" {
			t.Fatalf("MGET with a hash tag = %v, %v", vals, err)
		}
		clusterTransactions(ctx, t, cc, fmt.Sprint(readOnly))
		cc.Close()
	}

	// redis-cli -c follows MOVED by itself.
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed: its -c check skipped")
	}
	for k := range 20 {
		key := "cli:" + strconv.Itoa(k)
		out, err := nodes[0].RunCLI(ctx, "-c", "set", key, "x"+strconv.Itoa(k))
		if err != nil || strings.TrimSpace(out) != "OK" {
			t.Fatalf("redis-cli -c set %s = %q, %v", key, out, err)
		}
		out, err = nodes[2].RunCLI(ctx, "-c", "get", key)
		if err != nil || strings.TrimSpace(out) != "x"+strconv.Itoa(k) {
			t.Fatalf("redis-cli -c get %s = %q, %v", key, out, err)
		}
	}
}

// clusterTransactions runs MULTI/EXEC blocks and WATCH check-and-set loops through a
// ClusterClient on hash tags spread over the shards: go-redis sends a transaction to the
// node it believes serves the slot and, when the node answers MOVED at queue time, sends it
// again to the one named.
func clusterTransactions(ctx context.Context, t *testing.T, cc *redis.ClusterClient, run string) {
	t.Helper()
	// The balancer may move a leader at any moment: a transaction refused on the way (MOVED,
	// TRYAGAIN, CLUSTERDOWN) is retried, so each is written to give the same result when it
	// runs twice (an ambiguous TRYAGAIN may come after it applied).
	retryable := func(err error) bool {
		for _, p := range []string{"MOVED", "TRYAGAIN", "CLUSTERDOWN"} {
			if err != nil && strings.HasPrefix(err.Error(), p) {
				return true
			}
		}
		return false
	}
	for k := range 12 {
		tag := fmt.Sprintf("{tx:%s:%d}", run, k)
		var get *redis.StringCmd
		var err error
		for try := 0; try < 6; try++ {
			_, err = cc.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, tag+"n", "1", 0)
				p.Set(ctx, tag+"copy", "1", 0)
				get = p.Get(ctx, tag+"n")
				return nil
			})
			if !retryable(err) {
				break
			}
		}
		if err != nil || get.Val() != "1" {
			t.Fatalf("ClusterClient transaction on %s: GET = %q, %v", tag, get.Val(), err)
		}
		// Check-and-set: n goes from 1 to 2 only if it is still 1 when EXEC runs.
		for try := 0; try < 6; try++ {
			err = cc.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Get(ctx, tag+"n").Int()
				if err != nil || n != 1 {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, tag+"n", n+1, 0)
					return nil
				})
				return err
			}, tag+"n")
			if !retryable(err) {
				break
			}
		}
		if err != nil {
			t.Fatalf("ClusterClient WATCH/MULTI/EXEC on %s: %v", tag, err)
		}
		// A ReadOnly client reads replicas, which may lag a moment behind.
		var v string
		for try := 0; try < 50; try++ {
			if v, err = cc.Get(ctx, tag+"n").Result(); err == nil && v == "2" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil || v != "2" {
			t.Fatalf("after check-and-set on %s: GET = %q, %v; want 2", tag, v, err)
		}
	}
}
