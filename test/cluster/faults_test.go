package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"ferricd/internal/testserver"
)

// setFaults tells every node about the blocked directions (FROM-TO node ids); heal first
// removes all earlier faults.
func setFaults(t *testing.T, nodes []*testserver.Process, heal bool, blocks ...string) {
	t.Helper()
	q := ""
	if heal {
		q = "heal=1&"
	}
	for _, b := range blocks {
		q += "block=" + b + "&"
	}
	for _, p := range nodes {
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/faults?%s", p.MetricsPort, q)
		resp, err := http.Post(url, "text/plain", nil)
		if err != nil {
			t.Fatalf("fault injection on %s: %v", p.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("fault injection on %s: %s", p.Name, resp.Status)
		}
	}
}

// isolate cuts node id (1-based) off from every other node, both ways.
func isolate(t *testing.T, nodes []*testserver.Process, id int) {
	var blocks []string
	for other := 1; other <= len(nodes); other++ {
		if other != id {
			blocks = append(blocks, fmt.Sprintf("%d-%d", id, other), fmt.Sprintf("%d-%d", other, id))
		}
	}
	setFaults(t, nodes, true, blocks...)
}

func TestPartitionedMinorityRefusesAndHealConverges(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4", "--enable-fault-injection", "yes")
	waitWritable(t, nodes[0], 15*time.Second)
	isolate(t, nodes, 1)

	// The majority side elects leaders for the shards node 1 led and goes on.
	waitWritable(t, nodes[1], 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c2 := client(nodes[1])
	defer c2.Close()
	for k := range 50 {
		if err := c2.Set(ctx, fmt.Sprintf("during:%d", k), k, 0).Err(); err != nil {
			t.Fatalf("majority side SET: %v", err)
		}
	}
	// The isolated node refuses writes and linearizable reads, promptly.
	c1 := client(nodes[0])
	defer c1.Close()
	start := time.Now()
	for k := range 4 {
		err := c1.Set(ctx, fmt.Sprintf("minority:%d", k), "x", 0).Err()
		if err == nil || !(strings.HasPrefix(err.Error(), "CLUSTERDOWN") || strings.HasPrefix(err.Error(), "TRYAGAIN")) {
			t.Fatalf("SET on the isolated node = %v, want CLUSTERDOWN or TRYAGAIN", err)
		}
		if err := c1.Get(ctx, fmt.Sprintf("during:%d", k)).Err(); err == nil {
			t.Fatal("linearizable GET answered on the isolated node")
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("refusals on the isolated node took %v", d)
	}

	setFaults(t, nodes, true)
	// After healing, node 1 serves linearizable reads of what the majority wrote, and its
	// own replicas catch up (READONLY reads are served locally).
	waitWritable(t, nodes[0], 15*time.Second)
	for k := range 50 {
		if v, err := c1.Get(ctx, fmt.Sprintf("during:%d", k)).Int(); err != nil || v != k {
			t.Fatalf("GET during:%d through node 1 after heal = %d, %v", k, v, err)
		}
	}
	local := client(nodes[0])
	defer local.Close()
	deadline := time.Now().Add(15 * time.Second)
	for k := 0; k < 50; {
		conn := local.Conn()
		err := conn.ReadOnly(ctx).Err()
		var v int
		if err == nil {
			v, err = conn.Get(ctx, fmt.Sprintf("during:%d", k)).Int()
		}
		conn.Close()
		if err == nil && v == k {
			k++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1's replicas did not catch up on during:%d: %d, %v", k, v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOneWayPartitionKeepsMajorityServing(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4", "--enable-fault-injection", "yes")
	waitWritable(t, nodes[0], 15*time.Second)
	// Node 1 hears nobody but can still talk: with CheckQuorum its leaders step down, and
	// PreVote keeps it from disrupting the others' terms.
	setFaults(t, nodes, true, "2-1", "3-1")
	waitWritable(t, nodes[1], 15*time.Second)
	waitWritable(t, nodes[2], 15*time.Second)
	setFaults(t, nodes, true)
	waitWritable(t, nodes[0], 15*time.Second)
}
