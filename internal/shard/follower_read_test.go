package shard

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// TestFollowerReadSeesAcknowledgedWrite: after a write is acknowledged by the leader, a
// ReadBarrier on any follower makes it visible there.
func TestFollowerReadSeesAcknowledgedWrite(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	followers := []uint64{lead%3 + 1, (lead+1)%3 + 1}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 40 {
		p := fmt.Sprintf("r%d", i)
		if _, err := submit(t, c.nodes[lead].s, p); err != nil {
			t.Fatal(err)
		}
		f := followers[i%2]
		if err := c.nodes[f].s.ReadBarrier(ctx); err != nil {
			t.Fatalf("ReadBarrier on follower %d: %v", f, err)
		}
		recs := readRecords(t, c.nodes[f].db, 7)
		if len(recs) != i+1 || recs[i].payload != p {
			t.Fatalf("follower %d read %d records after the barrier, the last acknowledged is %q", f, len(recs), p)
		}
	}
	// Concurrent reads share rounds and all succeed.
	errs := make(chan error, 64)
	for i := range cap(errs) {
		go func() { errs <- c.nodes[followers[i%2]].s.ReadBarrier(ctx) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadsFailPromptlyWithoutLeader: reads on a replica cut off from the leader, and on a
// leader cut off from the others, fail well before the caller's deadline.
func TestReadsFailPromptlyWithoutLeader(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	c.submitAll(lead, "a", 5)
	f := lead%3 + 1
	for _, tc := range []struct {
		name string
		node uint64
	}{{"follower", f}, {"leader", lead}} {
		t.Run(tc.name, func(t *testing.T) {
			c.leader()
			c.net.isolate(tc.node, true)
			defer c.net.isolate(tc.node, false)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			// The first reads may still be answered (a leader's lease of heartbeats in
			// flight); keep reading until one fails.
			var err error
			for err == nil && time.Since(start) < 10*time.Second {
				err = c.nodes[tc.node].s.ReadBarrier(ctx)
			}
			if d := time.Since(start); err == nil || d > 5*time.Second {
				t.Fatalf("read on an isolated %s: %v after %v", tc.name, err, d)
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrTryAgain) {
				t.Fatalf("read on an isolated %s: %v", tc.name, err)
			}
			t.Logf("failed after %v: %v", time.Since(start), err)
		})
	}
}

// TestLearnerReadsFromSingleVoter: a learner of a one-voter group reads through the voter,
// which answers ReadIndex without a quorum round.
func TestLearnerReadsFromSingleVoter(t *testing.T) {
	checkLeaks(t)
	c := newTunedCluster(t, snapTune, vfs.NewMem())
	c.submitAll(1, "a", 30)
	c.add(2, vfs.NewMem())
	if err := changeMembership(t, c.nodes[1].s, simple(raftpb.ConfChangeAddLearnerNode, 2)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Before its snapshot the learner is in no configuration: it sends readers to the leader.
	if err := c.nodes[2].s.ReadBarrier(ctx); err != nil {
		var nle NotLeaderError
		if !errors.As(err, &nle) {
			t.Fatalf("ReadBarrier on a learner before its snapshot: %v", err)
		}
	}
	waitFor(t, "the learner's snapshot", 10*time.Second, func() bool {
		st := c.nodes[2].s.Status()
		return st.LeaderID == 1 && len(st.Learners) == 1
	})
	for i := range 20 {
		p := fmt.Sprintf("b%d", i)
		if _, err := submit(t, c.nodes[1].s, p); err != nil {
			t.Fatal(err)
		}
		if err := c.nodes[2].s.ReadBarrier(ctx); err != nil {
			t.Fatalf("ReadBarrier on the learner: %v", err)
		}
		recs := readRecords(t, c.nodes[2].db, 7)
		if len(recs) != 31+i || recs[len(recs)-1].payload != p {
			t.Fatalf("learner read %d records after its barrier, the last acknowledged is %q", len(recs), p)
		}
	}
}
