package node

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ferricd/internal/cluster"
)

// meet runs CLUSTER MEET on node i for node j's bus address.
func (c *members) meet(i, j int) string {
	c.t.Helper()
	host, port, _ := net.SplitHostPort(c.peers[j].BusAddr)
	p, _ := strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return c.nodes[i].ClusterMeet(ctx, host, p).String()
}

// waitPlaced waits until every shard's configuration is what the directory over `active`
// asks for (voters exactly, no learners), as its leader sees it, and every running node
// holds exactly the replicas placed on it.
func (c *members) waitPlaced(active []uint64) {
	c.t.Helper()
	deadline := time.Now().Add(3 * testTimeout)
	for {
		problem := c.placementProblem(active)
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("placement over %v did not converge: %s", active, problem)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *members) placementProblem(active []uint64) string {
	return c.placementProblemIgnoring(active, -1)
}

// placementProblemIgnoring is placementProblem without looking at node index skip's replicas.
func (c *members) placementProblemIgnoring(active []uint64, skip int) string {
	for id := uint64(1); id <= testShards; id++ {
		want := cluster.Replicas(id, active)
		led := false
		for i, n := range c.nodes {
			if n == nil || i == skip {
				continue
			}
			s := n.shardFor(id)
			here := slices.Contains(want, uint64(i+1))
			if (s != nil) != here {
				return fmt.Sprintf("node %d has replica of shard %d: %v, want %v", i+1, id, s != nil, here)
			}
			if s == nil {
				continue
			}
			st := s.Status()
			if !st.IsLeader {
				continue
			}
			led = true
			if !slices.Equal(st.Voters, want) || len(st.Learners) > 0 {
				return fmt.Sprintf("shard %d: voters %v learners %v, want voters %v", id, st.Voters, st.Learners, want)
			}
		}
		if !led {
			return fmt.Sprintf("shard %d has no leader", id)
		}
	}
	return ""
}

// writeUntil writes distinct keys through node n until stop is closed and returns those
// acknowledged.
func (c *members) writeUntil(n *Node, stop <-chan struct{}) []string {
	var acked []string
	for k := 0; ; k++ {
		select {
		case <-stop:
			return acked
		default:
		}
		key := fmt.Sprintf("load:%d", k)
		if v := c.execOn(n, false, []string{"SET", key, key})[0]; v.String() == "+OK" {
			acked = append(acked, key)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// checkReadable reads every key through node i (a linearizable read, wherever the leader is).
func (c *members) checkReadable(i int, keys []string) {
	c.t.Helper()
	for _, key := range keys {
		if v := c.exec(i, false, []string{"GET", key})[0]; v.String() != strconv.Quote(key) {
			c.t.Fatalf("GET %s through node %d = %s, want its acknowledged value", key, i+1, v.String())
		}
	}
}

// checkKeyspaceReads checks, through node i, that KEYS * returns dbsize keys, acked among
// them, that a SCAN iteration returns the same keys once each, and that RANDOMKEY picks one.
func (c *members) checkKeyspaceReads(i int, acked []string, dbsize string) {
	c.t.Helper()
	keys := map[string]bool{}
	for _, k := range c.exec(i, false, []string{"KEYS", "*"})[0].Elems {
		keys[string(k.Str)] = true
	}
	if got := fmt.Sprintf(":%d", len(keys)); got != dbsize {
		c.t.Fatalf("KEYS * through node %d returned %d keys; DBSIZE is %s", i+1, len(keys), dbsize)
	}
	for _, k := range acked {
		if !keys[k] {
			c.t.Fatalf("KEYS * through node %d lacks the acknowledged %s", i+1, k)
		}
	}
	scanned := map[string]bool{}
	for cursor, calls := "0", 0; ; calls++ {
		v := c.exec(i, false, []string{"SCAN", cursor, "COUNT", "50"})[0]
		if len(v.Elems) != 2 || calls > 100_000 {
			c.t.Fatalf("SCAN %s through node %d = %s", cursor, i+1, v.String())
		}
		for _, k := range v.Elems[1].Elems {
			if scanned[string(k.Str)] {
				c.t.Fatalf("SCAN through node %d returned %s twice", i+1, k.Str)
			}
			scanned[string(k.Str)] = true
		}
		if cursor = string(v.Elems[0].Str); cursor == "0" {
			break
		}
	}
	if !maps.Equal(scanned, keys) {
		c.t.Fatalf("SCAN through node %d returned %d keys, KEYS * %d", i+1, len(scanned), len(keys))
	}
	if v := c.exec(i, false, []string{"RANDOMKEY"})[0]; !keys[string(v.Str)] {
		c.t.Fatalf("RANDOMKEY through node %d = %s, not one of the keys", i+1, v.String())
	}
}

func TestMeetAddsANodeUnderLoad(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	stop := make(chan struct{})
	var acked []string
	var wg sync.WaitGroup
	n0 := c.nodes[0]
	wg.Go(func() { acked = c.writeUntil(n0, stop) })

	j := c.addJoiner()
	time.Sleep(100 * time.Millisecond) // some writes before the meeting
	if got := c.meet(1, j); got != "+OK" {
		close(stop)
		wg.Wait()
		t.Fatalf("CLUSTER MEET = %s, want +OK", got)
	}
	c.waitPlaced([]uint64{1, 2, 3, 4})
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d writes were acknowledged while the node joined", len(acked))
	}
	for i := range c.nodes {
		if got := c.nodes[i].directory().ActiveIDs(); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
			t.Fatalf("node %d's directory has active members %v, want [1 2 3 4]", i+1, got)
		}
	}
	c.checkReadable(j, acked)
	// DBSIZE works on nodes that hold only some shards (it asks the other shards' leaders),
	// and every node counts the same.
	var sizes []string
	for i := range c.nodes {
		sizes = append(sizes, c.exec(i, false, []string{"DBSIZE"})[0].String())
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(sizes[0], ":")); err != nil || n < len(acked)+testShards {
		t.Fatalf("DBSIZE = %s, want at least the %d acknowledged keys", sizes[0], len(acked)+testShards)
	}
	for i, sz := range sizes {
		if sz != sizes[0] {
			t.Fatalf("DBSIZE per node %v: node %d disagrees", sizes, i+1)
		}
	}
	// KEYS, SCAN and RANDOMKEY too, shard by shard, and they agree with DBSIZE.
	for i := range c.nodes {
		c.checkKeyspaceReads(i, acked, sizes[0])
	}
	// The new node's replicas hold the data themselves (READONLY reads are local).
	for _, key := range acked {
		id := shardOf(t, key)
		if c.nodes[j].shardFor(id) == nil {
			continue
		}
		deadline := time.Now().Add(testTimeout)
		for c.exec(j, true, []string{"GET", key})[0].String() != strconv.Quote(key) {
			if time.Now().After(deadline) {
				t.Fatalf("node 4's replica of shard %d lacks %s", id, key)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// A restarted node keeps the directory it learnt.
	c.stop(j)
	c.start(j)
	if got := c.nodes[j].directory().ActiveIDs(); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("restarted node 4 has active members %v", got)
	}
}

func TestForgetMovesReplicasOffAndRetiresTheID(t *testing.T) {
	c := startMembers(t, 4)
	// Every node, not just the first: with four nodes a node holds no replica of some shards
	// and learns their leaders by gossip, which a loaded machine (the race run) may deliver
	// later than the first writes (a race run of make test saw CLUSTERDOWN through node 2).
	for i := range c.nodes {
		c.waitWritable(i)
	}
	var keys []string
	for k := range 200 {
		key := fmt.Sprintf("k:%d", k)
		if v := c.exec(k%4, false, []string{"SET", key, key})[0]; v.String() != "+OK" {
			t.Fatalf("SET %s = %s", key, v.String())
		}
		keys = append(keys, key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if got := c.nodes[0].ClusterForget(ctx, NodeName(4)).String(); got != "+OK" {
		t.Fatalf("CLUSTER FORGET = %s, want +OK", got)
	}
	// Node 4 stays running until the others have moved its replicas away.
	deadline := time.Now().Add(3 * testTimeout)
	for c.placementProblemIgnoring([]uint64{1, 2, 3}, 3) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("replicas did not leave node 4: %s", c.placementProblemIgnoring([]uint64{1, 2, 3}, 3))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 3 {
		c.checkReadable(i, keys)
	}
	if !c.nodes[3].removedSelf() {
		t.Error("node 4 did not hear that it was removed")
	}
	c.stop(3)
	c.nodes[3] = nil
	c.waitPlaced([]uint64{1, 2, 3})
	// Every surviving node destroyed the replicas it no longer holds: no data outside the
	// shards it has.
	for i := range 3 {
		for id := uint64(1); id <= testShards; id++ {
			if c.nodes[i].shardFor(id) != nil {
				continue
			}
			if keys := c.nodes[i].counts.Keys(c.nodes[i].routes.RangeOf(id)); keys != 0 {
				t.Errorf("node %d counts %d keys in shard %d, whose replica moved away", i+1, keys, id)
			}
			if n := countData(t, c, i, id); n != 0 {
				t.Errorf("node %d still stores %d keys of shard %d, whose replica moved away", i+1, n, id)
			}
		}
	}
	// The id is never reused: a new node started as 4 is refused.
	if got := c.meetAsRemoved(); !strings.Contains(got, "node id 4 was removed") {
		t.Fatalf("CLUSTER MEET of a new node with id 4 = %s, want a refusal", got)
	}
	// And node 4's own data directory cannot serve again.
	_, err := Open(ctx, Config{
		DB: c.dbs[3], Shards: testShards, Table: testTable, Params: testParams{}, NodeID: 4,
		Cluster: &ClusterConfig{ListenAddr: c.peers[3].BusAddr},
	})
	if err == nil || !strings.Contains(err.Error(), "was removed") {
		t.Fatalf("restarting removed node 4: err %v, want a refusal", err)
	}
}

// meetAsRemoved starts a fresh node that claims id 4 and has node 1 meet it.
func (c *members) meetAsRemoved() string {
	c.t.Helper()
	i := c.addSlot()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	n, err := Open(ctx, Config{
		DB: c.dbs[i], Shards: testShards, Table: testTable, Params: testParams{}, NodeID: 4,
		TickInterval: 20 * time.Millisecond, FS: c.fs[i], SnapshotDir: "db/snapshots",
		Cluster: &ClusterConfig{Join: true, ListenAddr: c.peers[i].BusAddr, ClientAddr: "127.0.0.1:7199"},
	})
	if err != nil {
		c.t.Fatalf("open a joiner: %v", err)
	}
	c.nodes[i] = n
	return c.meet(0, i)
}

// countData counts node i's stored keys of shard id.
func countData(t *testing.T, c *members, i int, id uint64) int {
	t.Helper()
	n := 0
	for _, sp := range c.nodes[i].Spans(id) {
		it, err := c.dbs[i].NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.SeekGE(sp.Start); ok && string(it.Key()) < string(sp.End); ok = it.Next() {
			n++
		}
		it.Close()
	}
	return n
}

func TestMeetRefusals(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	host, port, _ := net.SplitHostPort(c.peers[0].BusAddr)
	p, _ := strconv.Atoi(port)
	for _, tc := range []struct {
		name, host string
		port       int
		want       string
	}{
		{"itself", host, p, "ERR a node cannot meet itself"},
		{"a member again", host, mustPort(c.peers[1].BusAddr), "OK"},
		{"nobody listening", "127.0.0.1", freePort(t), "ERR Invalid node address specified: no ferricd cluster bus answered at"},
	} {
		if got := c.nodes[0].ClusterMeet(ctx, tc.host, tc.port).String(); !strings.Contains(got, tc.want) {
			t.Errorf("meet %s: %s, want %q", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{NodeName(1), "ERR I tried hard but I can't forget myself..."},
		{"1", "ERR I tried hard but I can't forget myself..."},
		{NodeName(9), "ERR Unknown node " + NodeName(9)},
	} {
		if got := c.nodes[0].ClusterForget(ctx, tc.name).String(); got != "-"+tc.want {
			t.Errorf("forget %s: %s, want -%s", tc.name, got, tc.want)
		}
	}
	// A member of another cluster, with an id unknown here, does not join this one, and
	// this cluster's directory is unchanged.
	other := startMembers(t, 4)
	if got := c.nodes[0].ClusterMeet(ctx, "127.0.0.1", mustPort(other.peers[3].BusAddr)).String(); !strings.Contains(got, "node 4 already belongs to another cluster") {
		t.Errorf("meeting a member of another cluster: %s, want a refusal", got)
	}
	if got := c.nodes[0].directory().ActiveIDs(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("after a refused meeting the directory has %v", got)
	}
}

func mustPort(addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
