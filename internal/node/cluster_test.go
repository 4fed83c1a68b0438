package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"ferricd/internal/cluster"
	"ferricd/internal/reply"
	"ferricd/internal/store"
)

// members is an in-process cluster: nodes on their own in-memory filesystems, talking over
// loopback buses. The raft log is truncated aggressively, so a replica that misses a few
// hundred entries can only catch up by snapshot.
type members struct {
	t     *testing.T
	peers []cluster.Peer
	// initial is how many of peers bootstrapped the cluster; the others were added later
	// (started with Join).
	initial int
	fs      []vfs.FS
	dbs     []*pebble.DB
	nodes   []*Node
}

func startMembers(t *testing.T, n int) *members {
	t.Helper()
	c := &members{t: t, initial: n}
	for range n {
		c.addSlot()
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
		for _, db := range c.dbs {
			if err := db.Close(); err != nil {
				t.Errorf("close pebble: %v", err)
			}
		}
	})
	for i := range n {
		c.start(i)
	}
	return c
}

// addSlot makes room for one more node: a bus address, a filesystem and a DB.
func (c *members) addSlot() int {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	i := len(c.peers)
	c.peers = append(c.peers, cluster.Peer{ID: uint64(i + 1), BusAddr: ln.Addr().String()})
	ln.Close()
	fs := vfs.NewMem()
	db, err := store.Open(store.Options{Dir: "db", FS: fs})
	if err != nil {
		c.t.Fatal(err)
	}
	c.fs, c.dbs, c.nodes = append(c.fs, fs), append(c.dbs, db), append(c.nodes, nil)
	return i
}

// addJoiner starts a new node waiting to be met and returns its index.
func (c *members) addJoiner() int {
	c.t.Helper()
	i := c.addSlot()
	c.start(i)
	return i
}

func (c *members) start(i int) {
	c.t.Helper()
	cc := &ClusterConfig{Peers: c.peers[:c.initial], ListenAddr: c.peers[i].BusAddr, ClientAddr: fmt.Sprintf("127.0.0.1:%d", 7100+i)}
	if i >= c.initial {
		cc.Peers, cc.Join = nil, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	n, err := Open(ctx, Config{
		DB: c.dbs[i], Shards: testShards, Table: testTable, Params: testParams{}, NodeID: uint64(i + 1),
		TickInterval: 20 * time.Millisecond, FS: c.fs[i], SnapshotDir: "db/snapshots",
		RaftLog: RaftLogConfig{TruncateInterval: 20, KeepEntries: 5, MaxLagEntries: 50},
		Cluster: cc, Logger: debugLogger(i + 1),
	})
	if err != nil {
		c.t.Fatalf("open node %d: %v", i+1, err)
	}
	c.nodes[i] = n
}

func (c *members) stop(i int) {
	if c.nodes[i] != nil {
		c.nodes[i].Close()
		c.nodes[i] = nil
	}
}

// exec runs one pipeline segment on node i (readOnly: as a READONLY client).
func (c *members) exec(i int, readOnly bool, cmds ...[]string) []reply.Value {
	c.t.Helper()
	return c.execOn(c.nodes[i], readOnly, cmds...)
}

// execOn is exec on a node held by the caller (goroutines other than the test's must not
// read c.nodes, which the test may grow).
func (c *members) execOn(n *Node, readOnly bool, cmds ...[]string) []reply.Value {
	c.t.Helper()
	cs := calls(c.t, cmds)
	out := make([]reply.Value, len(cs))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	n.exec(ctx, cs, out, execOpts{readOnly: readOnly})
	return out
}

// waitWritable waits until node i can write to every shard.
func (c *members) waitWritable(i int) {
	c.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for id := uint64(1); id <= testShards; id++ {
		key := keyOnShard(c.t, id, "probe")
		for {
			v := c.exec(i, false, []string{"SET", key, "x"})[0]
			if !v.IsError() {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("node %d cannot write to shard %d: %s", i+1, id, v.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestMembersForwardWritesAndReads(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	for i := range 3 {
		for k := range 30 {
			if v := c.exec(i, false, []string{"SET", fmt.Sprintf("k%d:%d", i, k), fmt.Sprint(k)})[0]; v.String() != "+OK" {
				t.Fatalf("SET through node %d = %s", i+1, v.String())
			}
		}
	}
	for i := range 3 {
		for j := range 3 {
			for k := range 30 {
				want := fmt.Sprintf("%q", fmt.Sprint(k))
				if v := c.exec(i, false, []string{"GET", fmt.Sprintf("k%d:%d", j, k)})[0]; v.String() != want {
					t.Fatalf("GET k%d:%d through node %d = %s, want %s", j, k, i+1, v.String(), want)
				}
			}
		}
		if v := c.exec(i, false, []string{"DBSIZE"})[0]; v.String() != fmt.Sprintf(":%d", 90+testShards) {
			t.Fatalf("DBSIZE on node %d = %s, want %d", i+1, v.String(), 90+testShards)
		}
	}
}

func TestFarBehindMemberCatchesUpBySnapshot(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	c.stop(2)
	c.waitWritable(0) // leaders that were on node 3 move
	for k := range 600 {
		key := fmt.Sprintf("key:%d", k)
		if v := c.exec(k%2, false, []string{"SET", key, fmt.Sprint(k)})[0]; v.String() != "+OK" {
			t.Fatalf("SET %s with node 3 down = %s", key, v.String())
		}
	}
	c.exec(0, false, []string{"DEL", "key:7"})
	for _, st := range c.nodes[0].Shards() {
		if st.FirstIndex <= 20 {
			t.Fatalf("shard %d kept its log from index %d: truncation did not happen, the test proves nothing", st.ShardID, st.FirstIndex)
		}
	}
	c.start(2)
	// Node 3's own replicas (READONLY reads are served locally) converge on every key.
	deadline := time.Now().Add(testTimeout)
	for k := 0; k < 600; {
		key := fmt.Sprintf("key:%d", k)
		want := fmt.Sprintf("%q", fmt.Sprint(k))
		if k == 7 {
			want = "(nil)"
		}
		got := c.exec(2, true, []string{"GET", key})[0].String()
		if got == want {
			k++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 3 did not catch up: GET %s = %s, want %s; shards %+v", key, got, want, c.nodes[2].Shards())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Its slot counters were rebuilt from the installed data. DBSIZE reads every shard at its
	// leader, and leaders may still move after node 3's return (the balancer): TRYAGAIN is
	// retried.
	for {
		v := c.exec(2, false, []string{"DBSIZE"})[0].String()
		if v == fmt.Sprintf(":%d", 599+testShards) {
			break
		}
		if !strings.HasPrefix(v, "-TRYAGAIN") || time.Now().After(deadline) {
			t.Fatalf("DBSIZE on node 3 after catching up = %s, want %d", v, 599+testShards)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeadershipSpreadsOverMembers(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	leaders := func() map[uint64]int {
		led := map[uint64]int{}
		for _, st := range c.nodes[0].Shards() {
			led[st.LeaderID]++
		}
		return led
	}
	// Put (nearly) every leader on node 1. A transfer can time out on a loaded machine, and
	// node 1's balancer already moves one away per round, so the requests are repeated
	// until node 1 leads more than its share.
	deadline := time.Now().Add(testTimeout)
	for leaders()[1] < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("transfers to node 1 did not happen: %v", leaders())
		}
		for _, nd := range c.nodes[1:] {
			for _, s := range nd.localShards() {
				if s.Status().IsLeader {
					s.TransferLeadership(1)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Then let the balancers spread them again, with a deadline of its own.
	deadline = time.Now().Add(testTimeout)
	for {
		led := leaders()
		if led[1] <= 2 && led[2] <= 2 && led[3] <= 2 && led[0] == 0 {
			return // 4 shards over 3 nodes: nobody leads more than 2
		}
		if time.Now().After(deadline) {
			var progress []string
			for _, st := range c.nodes[0].Shards() {
				progress = append(progress, fmt.Sprintf("shard %d leader %d commit %d progress %+v",
					st.ShardID, st.LeaderID, st.Commit, st.Progress))
			}
			t.Fatalf("leaders not spread: %v; as node 1 sees the shards: %s", led, strings.Join(progress, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// debugLogger logs node id's events to stderr when FERRICD_TEST_LOG is set (nil: discarded),
// for finding out what a cluster did in a failing or slow test.
func debugLogger(id int) *slog.Logger {
	if os.Getenv("FERRICD_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)
}

// TestReadsOutliveLeadershipTransfers reads one key through every node while its shard's
// leadership is handed from node to node: a read the old leader could no longer confirm is
// sent on to the new one, so no client sees TRYAGAIN for a transfer the cluster made.
func TestReadsOutliveLeadershipTransfers(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	key := keyOnShard(t, 1, "moving")
	if v := c.exec(0, false, []string{"SET", key, "v"})[0]; v.String() != "+OK" {
		t.Fatalf("SET %s = %s", key, v.String())
	}
	nodes := append([]*Node(nil), c.nodes...)
	stop := make(chan struct{})
	failures := make(chan string, len(nodes))
	reads := make(chan int, len(nodes))
	for _, nd := range nodes {
		go func() {
			n := 0
			defer func() { reads <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if v := c.execOn(nd, false, []string{"GET", key})[0]; v.String() != `"v"` {
					failures <- fmt.Sprintf("GET through node %d = %s", nd.self, v.String())
					return
				}
				n++
			}
		}()
	}
	transfers := 0
	deadline := time.Now().Add(testTimeout)
	for transfers < 12 && time.Now().Before(deadline) {
		for _, nd := range nodes {
			if s := nd.shardFor(1); s != nil && s.Status().IsLeader {
				to := nd.self%3 + 1
				s.TransferLeadership(to)
				for time.Now().Before(deadline) && nd.leaderOf(1) == nd.self {
					time.Sleep(5 * time.Millisecond)
				}
				transfers++
				break
			}
		}
		// The balancer moves one leader per node every balanceInterval; this is far faster,
		// but leaves each new leader a few ticks before the next move.
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	total := 0
	for range nodes {
		total += <-reads
	}
	select {
	case f := <-failures:
		t.Fatalf("after %d transfers and %d reads: %s", transfers, total, f)
	default:
	}
	if transfers < 12 {
		t.Fatalf("only %d leadership transfers happened before the deadline", transfers)
	}
	t.Logf("%d transfers, %d reads", transfers, total)
}
