package shard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

type testNode struct {
	id   uint64
	fs   vfs.FS
	db   *pebble.DB
	sm   *testSM
	s    *Shard
	join bool // added after bootstrap: starts empty
}

type testCluster struct {
	t     *testing.T
	net   *testNet
	nodes map[uint64]*testNode
	peers []uint64
	tune  func(*Config) // may adjust every node's Config
}

func newTestCluster(t *testing.T, fss ...vfs.FS) *testCluster {
	return newTunedCluster(t, nil, fss...)
}

// newTunedCluster starts one bootstrapped voter per fs, ids from 1, each staging snapshots
// under "snap" on its fs.
func newTunedCluster(t *testing.T, tune func(*Config), fss ...vfs.FS) *testCluster {
	c := &testCluster{t: t, net: newTestNet(), nodes: make(map[uint64]*testNode), tune: tune}
	for i := range fss {
		c.peers = append(c.peers, uint64(i+1))
	}
	for i, fs := range fss {
		id := uint64(i + 1)
		n := &testNode{id: id, fs: fs, db: openDB(t, fs, "db")}
		c.nodes[id] = n
		c.start(id)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.s != nil {
				n.s.Stop()
			}
		}
		c.net.wait()
		for id, n := range c.nodes {
			// Pebble refuses to close with snapshots or iterators left open.
			if err := n.db.Close(); err != nil {
				t.Errorf("close node %d's DB: %v", id, err)
			}
		}
	})
	return c
}

// add starts a new, empty replica that joins the group (it must then be added to the
// configuration through the leader).
func (c *testCluster) add(id uint64, fs vfs.FS) {
	c.nodes[id] = &testNode{id: id, fs: fs, db: openDB(c.t, fs, "db"), join: true}
	c.start(id)
}

func (c *testCluster) config(id uint64) Config {
	n := c.nodes[id]
	cfg := Config{
		ShardID:      7,
		NodeID:       id,
		DB:           n.db,
		SM:           n.sm,
		Transport:    netEndpoint{net: c.net, from: id},
		TickInterval: 10 * time.Millisecond,
		FS:           n.fs,
		SnapshotDir:  "snap",
	}
	if n.join {
		cfg.Join = true
	} else {
		cfg.Peers = c.peers
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

func (c *testCluster) start(id uint64) {
	n := c.nodes[id]
	n.sm = newTestSM(7)
	n.s = mustStart(c.t, c.config(id))
	c.net.set(id, n.s)
}

func (c *testCluster) stop(id uint64) {
	n := c.nodes[id]
	c.net.set(id, nil)
	n.s.Stop()
	n.s = nil
}

// leader waits until one running node leads and every running, connected node agrees.
func (c *testCluster) leader(exclude ...uint64) uint64 {
	c.t.Helper()
	var lead uint64
	waitFor(c.t, "an agreed leader", 10*time.Second, func() bool {
		lead = 0
		for id, n := range c.nodes {
			if n.s == nil || slices.Contains(exclude, id) {
				continue
			}
			st := n.s.Status()
			if st.LeaderID == 0 || (lead != 0 && st.LeaderID != lead) {
				return false
			}
			lead = st.LeaderID
		}
		return lead != 0 && !slices.Contains(exclude, lead) && c.nodes[lead].s != nil && c.nodes[lead].s.Status().IsLeader
	})
	return lead
}

// converged waits until every running node applied the same n records, and returns them.
func (c *testCluster) converged(n int) []record {
	c.t.Helper()
	var first []record
	waitFor(c.t, fmt.Sprintf("%d records on every node", n), 10*time.Second, func() bool {
		first = nil
		for _, node := range c.nodes {
			if node.s == nil {
				continue
			}
			recs := readRecords(c.t, node.db, 7)
			if len(recs) != n {
				return false
			}
			if first == nil {
				first = recs
			} else if !slices.Equal(first, recs) {
				return false
			}
		}
		return true
	})
	return first
}

// settled waits until every running node has applied the same records and the same index,
// and returns the records.
func (c *testCluster) settled() []record {
	c.t.Helper()
	var first []record
	waitFor(c.t, "every node to apply the same log", 10*time.Second, func() bool {
		first = nil
		var applied uint64
		for _, node := range c.nodes {
			if node.s == nil {
				continue
			}
			st := node.s.Status()
			if st.Applied != st.Commit || (applied != 0 && st.Applied != applied) {
				return false
			}
			applied = st.Applied
			recs := readRecords(c.t, node.db, 7)
			if first == nil {
				first = recs
			} else if !slices.Equal(first, recs) {
				return false
			}
		}
		return true
	})
	return first
}

// currentLeader returns a running node that believes it leads, or nil.
func (c *testCluster) currentLeader() *Shard {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	for _, s := range c.net.shards {
		if s != nil && s.Status().IsLeader {
			return s
		}
	}
	return nil
}

func (c *testCluster) submitAll(lead uint64, prefix string, n int) []string {
	c.t.Helper()
	var out []string
	for i := range n {
		p := fmt.Sprintf("%s%d", prefix, i)
		if _, err := submit(c.t, c.nodes[lead].s, p); err != nil {
			c.t.Fatalf("submit %s to leader %d: %v", p, lead, err)
		}
		out = append(out, p)
	}
	return out
}

func payloads(recs []record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.payload
	}
	return out
}

func TestThreeReplicas(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())

	// Replication.
	l1 := c.leader()
	want := c.submitAll(l1, "a", 30)
	if got := payloads(c.converged(30)); !slices.Equal(got, want) {
		t.Fatalf("replicated %v, want %v", got, want)
	}

	// Followers refuse writes, naming the leader, but serve linearizable reads.
	f := l1%3 + 1
	_, err := submit(t, c.nodes[f].s, "on-follower")
	var nle NotLeaderError
	if !errors.As(err, &nle) || nle.LeaderID != l1 || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("submit on follower: %v, want NotLeaderError{%d}", err, l1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.nodes[f].s.ReadBarrier(ctx); err != nil {
		t.Fatalf("ReadBarrier on follower: %v", err)
	}
	// The leader of a multi-voter group goes through ReadIndex.
	if c.nodes[l1].s.fastRead.Load() {
		t.Fatal("fast reads enabled on a three-voter group")
	}
	if err := c.nodes[l1].s.ReadBarrier(ctx); err != nil {
		t.Fatalf("ReadBarrier on leader: %v", err)
	}

	// Failover: stop the leader, the others elect a new one and keep going.
	c.stop(l1)
	l2 := c.leader()
	if l2 == l1 {
		t.Fatalf("stopped node %d still leader", l1)
	}
	want = append(want, c.submitAll(l2, "b", 30)...)

	// The old leader restarts from its DB and catches up, applying nothing twice.
	c.start(l1)
	if got := payloads(c.converged(60)); !slices.Equal(got, want) {
		t.Fatalf("after failover %v, want %v", got, want)
	}

	// An isolated leader cannot commit: its pending proposal fails with ErrTryAgain once
	// CheckQuorum makes it step down.
	l3 := c.leader()
	c.net.isolate(l3, true)
	res := make(chan error, 1)
	c.nodes[l3].s.Submit([]byte("lost"), func(_ any, err error) { res <- err })
	select {
	case err := <-res:
		if !errors.Is(err, ErrTryAgain) {
			t.Fatalf("proposal on isolated leader: %v, want ErrTryAgain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("proposal on isolated leader never failed")
	}
	l4 := c.leader(l3)
	c.net.isolate(l3, false)
	want = append(want, c.submitAll(l4, "c", 10)...)
	if got := payloads(c.converged(70)); !slices.Equal(got, want) {
		t.Fatalf("after partition %v, want %v", got, want)
	}

	// Stop fails a proposal that is still waiting for its commit.
	l5 := c.leader()
	c.net.isolate(l5, true)
	c.nodes[l5].s.Submit([]byte("stopped"), func(_ any, err error) { res <- err })
	c.stop(l5)
	if err := <-res; !errors.Is(err, ErrStopped) {
		t.Fatalf("pending proposal at Stop: %v, want ErrStopped", err)
	}
	c.net.isolate(l5, false)
}

// TestFollowerCrash restarts a follower from a crash image of its disk while the group keeps
// writing: it must converge with the others and apply nothing twice.
func TestFollowerCrash(t *testing.T) {
	checkLeaks(t)
	rng := rand.New(rand.NewPCG(3, 4))
	crashFS := vfs.NewCrashableMem()
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), crashFS)
	c.leader()

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := c.currentLeader()
				if s == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				p := fmt.Sprintf("w%d-%d", w, i)
				done := make(chan error, 1)
				s.Submit([]byte(p), func(_ any, err error) { done <- err })
				if err := <-done; err == nil {
					mu.Lock()
					acked = append(acked, p)
					mu.Unlock()
				} else {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	for range 3 {
		time.Sleep(time.Duration(30+rng.IntN(70)) * time.Millisecond)
		// Cut node 3 off first: a crashed node sends nothing, in particular no
		// acknowledgement of writes that the crash image does not hold.
		c.net.isolate(3, true)
		image := crashFS.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(50), RNG: rng})
		c.stop(3)
		c.nodes[3].db.Close()
		crashFS = image
		c.nodes[3].fs, c.nodes[3].db = image, openDB(t, image, "db")
		c.start(3)
		c.net.isolate(3, false)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	c.leader()
	recs := c.settled()
	seen := make(map[string]bool)
	for _, r := range recs {
		if seen[r.payload] {
			t.Fatalf("%q applied twice", r.payload)
		}
		seen[r.payload] = true
	}
	for _, p := range acked {
		if !seen[p] {
			t.Fatalf("acknowledged %q missing", p)
		}
	}
	t.Logf("%d payloads acknowledged, %d applied", len(acked), len(recs))
}
