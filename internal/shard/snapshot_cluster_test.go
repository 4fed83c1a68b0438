package shard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// snapTune makes logs short enough for tests to outrun them.
func snapTune(cfg *Config) {
	cfg.LogTruncateInterval = 20
	cfg.LogKeepEntries = 10
	cfg.LogMaxLagEntries = 50
}

// taken returns how many snapshots were registered for sending.
func (o *outbox) taken() (taken uint64, open int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next, len(o.snaps)
}

// sameSpans waits until every running node holds identical data in the test state machine's
// span (every key, not just the records) and has applied its commit index.
func (c *testCluster) sameSpans() {
	c.t.Helper()
	var diff string
	deadline := time.Now().Add(10 * time.Second)
	for {
		diff = ""
		var first []kv
		var firstID uint64
		for id, n := range c.nodes {
			if n.s == nil {
				continue
			}
			if st := n.s.Status(); st.Applied != st.Commit {
				diff = fmt.Sprintf("node %d applied %d of %d", id, st.Applied, st.Commit)
				break
			}
			got := spanKVs(c.t, n.db, smSpan(7))
			if first == nil {
				first, firstID = got, id
			} else if !slices.Equal(first, got) {
				diff = fmt.Sprintf("node %d has %d keys, node %d has %d", firstID, len(first), id, len(got))
				break
			}
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("spans differ: %s", diff)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fallBehind stops follower f while the leader writes n payloads and truncates its log past
// what f has; it returns f's records at the time it stopped.
func (c *testCluster) fallBehind(lead, f uint64, prefix string, n int) []record {
	c.t.Helper()
	c.stop(f)
	before := readRecords(c.t, c.nodes[f].db, 7)
	fApplied := diskState(c.t, c.nodes[f].db).applied
	c.submitAll(lead, prefix, n)
	waitFor(c.t, "the leader to truncate past the stopped follower", 5*time.Second, func() bool {
		return c.nodes[lead].s.Status().FirstIndex > fApplied+1
	})
	return before
}

func TestFollowerCatchesUpBySnapshot(t *testing.T) {
	checkLeaks(t)
	c := newTunedCluster(t, snapTune, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	want := c.submitAll(lead, "a", 20)
	c.converged(20)
	f := lead%3 + 1
	c.fallBehind(lead, f, "b", 200)
	want = append(want, payloadsOf("b", 200)...)

	// The leader keeps writing while the follower catches up, so entries arrive right
	// behind the snapshot and the log keeps being truncated.
	stop, done := make(chan struct{}), make(chan []string)
	go func() {
		var acked []string
		defer func() { done <- acked }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := fmt.Sprintf("w%d", i)
			ch := make(chan error, 1)
			c.nodes[lead].s.Submit([]byte(p), func(_ any, err error) { ch <- err })
			if err := <-ch; err != nil {
				t.Errorf("submit %s: %v", p, err)
				return
			}
			acked = append(acked, p)
		}
	}()
	c.start(f)
	waitFor(t, "a snapshot install", 10*time.Second, func() bool { return c.nodes[f].sm.installed.Load() > 0 })
	time.Sleep(50 * time.Millisecond)
	close(stop)
	want = append(want, <-done...)
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("after catching up: %v, want %v", got, want)
	}
	c.sameSpans()
	if n := c.nodes[f].sm.installed.Load(); n == 0 {
		t.Fatal("the follower caught up without installing a snapshot")
	}
	waitFor(t, "the transfer to report success", 5*time.Second, func() bool { return c.net.snapsOK.Load() > 0 })
	if calls := c.nodes[f].sm.callCount(); calls >= len(want) {
		t.Fatalf("follower applied %d payloads one by one: the snapshot did not replace them", calls)
	}

	// The log goes on after the snapshot, and the installed state survives a restart.
	want = append(want, c.submitAll(lead, "c", 30)...)
	c.converged(len(want))
	c.stop(f)
	st := diskState(t, c.nodes[f].db)
	if st.truncIdx == 0 || st.applied < st.truncIdx {
		t.Fatalf("follower's raft state on disk after a snapshot: truncated %d applied %d", st.truncIdx, st.applied)
	}
	c.start(f)
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	c.sameSpans()
	// The leader's pebble snapshots are all released (Close of the DBs checks too).
	if _, open := c.nodes[lead].s.out.taken(); open != 0 {
		t.Fatalf("%d snapshots still registered", open)
	}
}

func payloadsOf(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// TestLostSnapshotIsReleasedAndRetried drops every MsgSnap silently: the leader must release
// the pebble snapshots after SnapshotTTL, report the failure to raft so it tries again, never
// hold more than MaxOutgoingSnapshots, and the follower catches up once messages flow.
func TestLostSnapshotIsReleasedAndRetried(t *testing.T) {
	checkLeaks(t)
	tune := func(cfg *Config) {
		snapTune(cfg)
		cfg.SnapshotTTL = 50 * time.Millisecond
		cfg.MaxOutgoingSnapshots = 1
	}
	c := newTunedCluster(t, tune, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	want := c.submitAll(lead, "a", 10)
	f := lead%3 + 1
	c.fallBehind(lead, f, "b", 150)
	want = append(want, payloadsOf("b", 150)...)

	c.net.dropSnaps.Store(true)
	c.start(f)
	out := &c.nodes[lead].s.out
	waitFor(t, "raft to retry a lost snapshot", 10*time.Second, func() bool {
		taken, open := out.taken()
		if open > 1 {
			t.Fatalf("%d snapshots open, limit 1", open)
		}
		return taken >= 3
	})
	c.net.dropSnaps.Store(false)
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("after catching up: %v, want %v", got, want)
	}
	c.sameSpans()
}

// TestCorruptSnapshotIsRejected damages snapshot streams on the wire: the receiver must refuse
// them, keep its old state and leave no staged file, and catch up once the wire is clean.
func TestCorruptSnapshotIsRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mangle func([]byte) []byte
	}{
		{"flipped byte", func(p []byte) []byte {
			if len(p) >= 1024 {
				p[len(p)/2] ^= 1
			}
			return p
		}},
		{"lost bytes", func(p []byte) []byte {
			if len(p) >= 1024 {
				return p[:len(p)-100]
			}
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			c := newTunedCluster(t, snapTune, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
			lead := c.leader()
			want := c.submitAll(lead, "a", 10)
			c.converged(10)
			f := lead%3 + 1
			// Values large enough that the stream has a block worth damaging.
			before := c.fallBehind(lead, f, "b-"+string(make([]byte, 2000))+"-", 100)
			want = append(want, payloadsOf("b-"+string(make([]byte, 2000))+"-", 100)...)

			c.net.setMangle(tc.mangle)
			c.start(f)
			waitFor(t, "a rejected snapshot", 10*time.Second, func() bool {
				_, recvErr := c.net.lastSnapErrs()
				return recvErr != nil
			})
			_, recvErr := c.net.lastSnapErrs()
			t.Logf("receiver: %v", recvErr)
			// Quiesce transfers, then look for traces.
			c.net.isolate(f, true)
			waitFor(t, "transfers to end", 10*time.Second, func() bool { return c.net.active.Load() == 0 })
			if n := c.nodes[f].sm.installed.Load(); n != 0 {
				t.Fatalf("%d damaged snapshots installed", n)
			}
			if got := readRecords(t, c.nodes[f].db, 7); !slices.Equal(got, before) {
				t.Fatalf("follower's data changed by a rejected snapshot: %d records, had %d", len(got), len(before))
			}
			if left, _ := c.nodes[f].fs.List("snap/7"); len(left) != 0 {
				t.Fatalf("staging leftovers: %v", left)
			}

			c.net.setMangle(nil)
			c.net.isolate(f, false)
			if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
				t.Fatalf("after a clean transfer: %d records, want %d", len(got), len(want))
			}
			c.sameSpans()
		})
	}
}

// TestSnapshotInstallCrash takes crash images of a follower's disk right before and right
// after the ingest that installs a snapshot: each must hold a consistent state, the old one or
// the new one, and restart cleanly.
func TestSnapshotInstallCrash(t *testing.T) {
	checkLeaks(t)
	crashFS := vfs.NewCrashableMem()
	var (
		mu     sync.Mutex
		images = map[string]*vfs.MemFS{}
		snapAt uint64
	)
	tune := func(cfg *Config) {
		snapTune(cfg)
		if cfg.NodeID != 3 {
			return
		}
		cfg.testHook = func(point string, index uint64) {
			mu.Lock()
			defer mu.Unlock()
			if images[point] == nil {
				images[point] = crashFS.CrashClone(vfs.CrashCloneCfg{})
				snapAt = index
			}
		}
	}
	c := newTunedCluster(t, tune, vfs.NewMem(), vfs.NewMem(), crashFS)
	lead := c.leader()
	if lead == 3 {
		// The test needs node 3 as a follower.
		c.nodes[3].s.TransferLeadership(1)
		waitFor(t, "a transfer away from node 3", 10*time.Second, func() bool { return c.nodes[1].s.Status().IsLeader })
		lead = c.leader()
	}
	c.submitAll(lead, "a", 15)
	c.converged(15)
	c.fallBehind(lead, 3, "b", 150)
	c.start(3)
	all := c.converged(165)
	c.sameSpans()

	mu.Lock()
	defer mu.Unlock()
	if len(images) != 2 {
		t.Fatalf("crash images at %v, want staged and ingested", images)
	}
	for _, point := range []string{"staged", "ingested"} {
		t.Run(point, func(t *testing.T) {
			fs := images[point]
			db := openDB(t, fs, "db")
			defer db.Close()
			st := diskState(t, db)
			switch point {
			case "staged":
				if st.applied >= snapAt {
					t.Fatalf("before the ingest, applied %d >= snapshot %d", st.applied, snapAt)
				}
			case "ingested":
				if st.applied != snapAt || st.truncIdx != snapAt || st.lastIdx != snapAt || st.hs.commit < snapAt {
					t.Fatalf("after the ingest: applied %d truncated %d last %d commit %d, snapshot %d",
						st.applied, st.truncIdx, st.lastIdx, st.hs.commit, snapAt)
				}
			}
			// The data is exactly the group's history up to the applied index.
			var want []record
			for _, r := range all {
				if r.index <= st.applied {
					want = append(want, r)
				}
			}
			if got := readRecords(t, db, 7); !slices.Equal(got, want) {
				t.Fatalf("records %v do not match applied index %d (want %v)", len(got), st.applied, len(want))
			}
			// A restart from the image works and removes staging leftovers.
			cfg := Config{ShardID: 7, NodeID: 3, DB: db, SM: newTestSM(7), TickInterval: 10 * time.Millisecond, FS: fs, SnapshotDir: "snap"}
			s := mustStart(t, cfg)
			s.Stop()
			if left, _ := fs.List("snap/7"); len(left) != 0 {
				t.Fatalf("staging leftovers after restart: %v", left)
			}
		})
	}
}

// TestReceiveSnapshotContextAndStop: a receiver whose stream stalls returns once its caller
// gives up (the transport closes the stream on ctx's end), and leaves nothing staged.
func TestReceiveSnapshotContextAndStop(t *testing.T) {
	checkLeaks(t)
	fs := vfs.NewMem()
	db := openDB(t, fs, "db")
	defer db.Close()
	cfg := testConfig(db, newTestSM(7))
	cfg.Peers = []uint64{1, 2}
	cfg.FS, cfg.SnapshotDir = fs, "snap"
	s := mustStart(t, cfg)
	m := &raftpb.Message{
		Type: raftpb.MsgSnap.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(uint64(9)),
		Snapshot: &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
			ConfState: &raftpb.ConfState{Voters: []uint64{1, 2}}, Index: new(uint64(100)), Term: new(uint64(9)),
		}},
	}
	h := snapHeader{shardID: 7, index: 100, term: 9, conf: m.Snapshot.Metadata.ConfState, spans: s.spans}
	hp, err := h.encode()
	if err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	if err := (&blockWriter{w: &head}).write(blockHeader, hp); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.ReceiveSnapshot(ctx, m, &stallReader{ctx: ctx, data: head.Bytes()}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("stalled stream accepted")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReceiveSnapshot did not return")
	}
	if left, _ := fs.List("snap/7"); len(left) != 0 {
		t.Fatalf("staging leftovers: %v", left)
	}
	s.Stop()
	if err := s.ReceiveSnapshot(context.Background(), m, bytes.NewReader(head.Bytes())); !errors.Is(err, ErrStopped) {
		t.Fatalf("ReceiveSnapshot after Stop: %v", err)
	}
}

// stallReader returns data, then blocks until ctx ends.
type stallReader struct {
	ctx  context.Context
	data []byte
}

func (r *stallReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// TestSilentFollowerCatchesUpFromLog: a follower that stops answering for a while (a restart)
// keeps its place in the leader's log as long as what it misses is within
// LogKeepForSilentBytes, although truncation runs often and keeps a short tail, so it comes
// back without a snapshot.
func TestSilentFollowerCatchesUpFromLog(t *testing.T) {
	checkLeaks(t)
	c := newTunedCluster(t, func(cfg *Config) {
		cfg.LogTruncateInterval = 20
		cfg.LogKeepEntries = 10
	}, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	want := c.submitAll(lead, "a", 20)
	c.converged(20)
	f := lead%3 + 1
	c.stop(f)
	fApplied := diskState(t, c.nodes[f].db).applied
	// Long enough for the leader to count f as silent (an election timeout is 100 ms here).
	time.Sleep(300 * time.Millisecond)
	want = append(want, c.submitAll(lead, "b", 200)...)
	if first := c.nodes[lead].s.Status().FirstIndex; first > fApplied+1 {
		t.Fatalf("the leader truncated its log to %d, past the silent follower's %d", first, fApplied)
	}
	c.start(f)
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("after catching up: %v, want %v", got, want)
	}
	if n := c.nodes[f].sm.installed.Load(); n != 0 {
		t.Fatalf("the follower needed %d snapshots to catch up 200 entries", n)
	}
}
