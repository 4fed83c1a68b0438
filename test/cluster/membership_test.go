package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// localReplicas reads raft_shards (the replicas a node holds) from INFO.
func localReplicas(ctx context.Context, c *redis.Client) int {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "raft_shards:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// waitReplicas waits until each node holds the given number of replicas.
func waitReplicas(t *testing.T, nodes []*testserver.Process, want []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var got []int
		ok := true
		for i, p := range nodes {
			c := client(p)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			got = append(got, localReplicas(ctx, c))
			cancel()
			c.Close()
			ok = ok && got[i] == want[i]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas per node %v after %v, want %v", got, within, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writeLoad writes distinct keys through p until ctx ends and returns those acknowledged,
// and how many writes failed, by the first word of their error (TRYAGAIN, CLUSTERDOWN, ...).
func writeLoad(ctx context.Context, p *testserver.Process, prefix string) ([]string, map[string]int) {
	c := client(p)
	defer c.Close()
	var acked []string
	failed := map[string]int{}
	for k := 0; ctx.Err() == nil; k++ {
		key := fmt.Sprintf("%s:%d", prefix, k)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.Set(wctx, key, key, 0).Err()
		cancel()
		switch {
		case err == nil:
			acked = append(acked, key)
		case ctx.Err() == nil:
			failed[strings.Fields(err.Error() + " ?")[0]]++
			time.Sleep(10 * time.Millisecond)
		}
	}
	return acked, failed
}

func TestFourthNodeJoinsUnderLoadAndIsForgotten(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4")
	waitWritable(t, nodes[0], 15*time.Second)
	// 4 shards, 3 replicas each: on 3 nodes every node holds all 4.
	waitReplicas(t, nodes, []int{4, 4, 4}, 15*time.Second)

	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var acked []string
	var failed map[string]int
	wg.Go(func() { acked, failed = writeLoad(ctx, nodes[1], "load") })

	joiner := testserver.StartJoiner(t, 4, "--shards", "4")
	joiner.WaitReady(10 * time.Second)
	cctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := nodes[0].RunCLI(cctx, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(joiner.Port), strconv.Itoa(joiner.BusPort))
	if err != nil || strings.TrimSpace(out) != "OK" {
		stopLoad()
		wg.Wait()
		t.Fatalf("redis-cli CLUSTER MEET = %q, %v", out, err)
	}
	all := append(nodes[:3:3], joiner)
	// 4 shards × 3 replicas over 4 nodes: 3 each once the moves are done.
	waitReplicas(t, all, []int{3, 3, 3, 3}, 60*time.Second)
	stopLoad()
	wg.Wait()
	// Not a limit, a figure: writes refused while replicas moved (the client retries them).
	t.Logf("while node 4 joined: %d writes acknowledged, refused: %v", len(acked), failed)
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged while node 4 joined", len(acked))
	}
	c4 := client(joiner)
	defer c4.Close()
	for _, key := range acked {
		if got, err := c4.Get(cctx, key).Result(); err != nil || got != key {
			t.Fatalf("GET %s through the new node = %q, %v", key, got, err)
		}
	}
	// redis-cli --scan iterates SCAN through a node that lacks a shard: shard by shard.
	out, err = joiner.RunCLI(cctx, "--scan", "--pattern", "load:*")
	scanned := strings.Fields(out)
	if err != nil {
		t.Fatalf("redis-cli --scan through the new node: %v", err)
	}
	for _, key := range acked {
		if !slices.Contains(scanned, key) {
			t.Fatalf("redis-cli --scan through the new node (%d keys) lacks the acknowledged %s", len(scanned), key)
		}
	}
	nodesOut, err := c4.ClusterNodes(cctx).Result()
	if err != nil || strings.Count(nodesOut, "\n") != 4 {
		t.Fatalf("CLUSTER NODES on the new node = %q, %v; want 4 members", nodesOut, err)
	}

	// Forget it again: its replicas move back to nodes 1-3, and nothing is lost.
	id4, err := c4.ClusterMyID(cctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	out, err = nodes[2].RunCLI(cctx, "CLUSTER", "FORGET", id4)
	if err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("redis-cli CLUSTER FORGET = %q, %v", out, err)
	}
	waitReplicas(t, nodes, []int{4, 4, 4}, 60*time.Second)
	c1 := client(nodes[0])
	defer c1.Close()
	// The shards node 4 led elect new leaders after FORGET cuts it off, and a read during
	// such an election gets a retryable error (TRYAGAIN/CLUSTERDOWN); retry those briefly.
	retried := 0
	for _, key := range acked {
		got, n, err := getRetrying(cctx, c1, key)
		retried += n
		if err != nil || got != key {
			t.Fatalf("GET %s after node 4 was forgotten = %q, %v", key, got, err)
		}
	}
	t.Logf("reads after FORGET: %d retried on TRYAGAIN/CLUSTERDOWN", retried)
	// The forgotten node cannot serve again from its data directory.
	joiner.Kill()
	if out, err := joiner.RunToExit(cctx); err == nil || !strings.Contains(out, "was removed") {
		t.Fatalf("restarting the forgotten node: err %v, output %q; want a refusal", err, out)
	}
}
