package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

func change(typ raftpb.ConfChangeType, id uint64) *raftpb.ConfChangeSingle {
	return &raftpb.ConfChangeSingle{Type: typ.Enum(), NodeId: new(id)}
}

func simple(typ raftpb.ConfChangeType, id uint64) *raftpb.ConfChangeV2 {
	return &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{change(typ, id)}}
}

func changeMembership(t *testing.T, s *Shard, cc *raftpb.ConfChangeV2) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.ChangeMembership(ctx, cc)
}

// TestChangeMembershipSingleNode runs a sequence of changes on a single-voter group (no
// transport: learners are never reached, which raft and the shard must tolerate).
func TestChangeMembershipSingleNode(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	s := mustStart(t, testConfig(db, newTestSM(7)))
	defer s.Stop()
	waitFor(t, "leadership", 2*time.Second, func() bool { return s.Status().IsLeader })
	if _, err := submit(t, s, "x"); err != nil {
		t.Fatal(err)
	}
	joint := func(cc *raftpb.ConfChangeV2) *raftpb.ConfChangeV2 {
		cc.Transition = raftpb.ConfChangeTransitionJointExplicit.Enum()
		return cc
	}
	for _, step := range []struct {
		name     string
		cc       *raftpb.ConfChangeV2
		wantErr  error // nil: success; errAny: some error
		voters   []uint64
		outgoing []uint64
		learners []uint64
	}{
		{"leave joint when not joint", &raftpb.ConfChangeV2{}, errAny, []uint64{1}, nil, nil},
		{"remove the only voter", simple(raftpb.ConfChangeRemoveNode, 1), errAny, []uint64{1}, nil, nil},
		{"add learner", simple(raftpb.ConfChangeAddLearnerNode, 2), nil, []uint64{1}, nil, []uint64{2}},
		{"add it again", simple(raftpb.ConfChangeAddLearnerNode, 2), nil, []uint64{1}, nil, []uint64{2}},
		{"enter joint", joint(simple(raftpb.ConfChangeAddLearnerNode, 3)), nil, []uint64{1}, []uint64{1}, []uint64{2, 3}},
		{"change while joint", simple(raftpb.ConfChangeAddLearnerNode, 4), ErrConfChangeInProgress, []uint64{1}, []uint64{1}, []uint64{2, 3}},
		{"leave joint", &raftpb.ConfChangeV2{}, nil, []uint64{1}, nil, []uint64{2, 3}},
		{"remove learner", simple(raftpb.ConfChangeRemoveNode, 2), nil, []uint64{1}, nil, []uint64{3}},
		{"remove the other", simple(raftpb.ConfChangeRemoveNode, 3), nil, []uint64{1}, nil, nil},
	} {
		err := changeMembership(t, s, step.cc)
		switch {
		case step.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", step.name, err)
		case step.wantErr == errAny && err == nil:
			t.Fatalf("%s: accepted", step.name)
		case step.wantErr != nil && step.wantErr != errAny && !errors.Is(err, step.wantErr):
			t.Fatalf("%s: %v, want %v", step.name, err, step.wantErr)
		}
		st := s.Status()
		if !slices.Equal(st.Voters, step.voters) || !slices.Equal(st.VotersOutgoing, step.outgoing) || !slices.Equal(st.Learners, step.learners) {
			t.Fatalf("%s: voters %v outgoing %v learners %v, want %v %v %v", step.name,
				st.Voters, st.VotersOutgoing, st.Learners, step.voters, step.outgoing, step.learners)
		}
	}
	// The group still works, and the configuration survives a restart.
	if _, err := submit(t, s, "y"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.ChangeMembership(ctx, simple(raftpb.ConfChangeAddLearnerNode, 5)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ChangeMembership: %v", err)
	}
	s.Stop()
	if err := changeMembership(t, s, simple(raftpb.ConfChangeAddLearnerNode, 5)); !errors.Is(err, ErrStopped) {
		t.Fatalf("ChangeMembership after Stop: %v", err)
	}
}

var errAny = errors.New("any error")

// TestLearnerJoinsAndIsPromoted adds a fourth replica that starts empty: it is added as a
// learner, catches up by snapshot (bootstrapped logs start at index 11), is promoted to voter,
// and the group then survives losing the old leader, which is finally removed.
func TestLearnerJoinsAndIsPromoted(t *testing.T) {
	checkLeaks(t)
	c := newTunedCluster(t, snapTune, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	want := c.submitAll(lead, "a", 100)

	c.add(4, vfs.NewMem())
	n4 := c.nodes[4].s
	if st := n4.Status(); len(st.Voters) != 0 || st.LeaderID != 0 || st.Applied != 0 {
		t.Fatalf("joining replica starts with %+v", st)
	}
	// Outside any configuration it knows no leader: reads fail at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var nle NotLeaderError
	if err := n4.ReadBarrier(ctx); !errors.As(err, &nle) || nle.LeaderID != 0 {
		t.Fatalf("ReadBarrier on a replica outside the group: %v", err)
	}
	// Only the leader changes the configuration.
	f := lead%3 + 1
	if err := changeMembership(t, c.nodes[f].s, simple(raftpb.ConfChangeAddLearnerNode, 4)); !errors.As(err, &nle) || nle.LeaderID != lead {
		t.Fatalf("ChangeMembership on a follower: %v", err)
	}

	ls := c.nodes[lead].s
	if err := changeMembership(t, ls, simple(raftpb.ConfChangeAddLearnerNode, 4)); err != nil {
		t.Fatal(err)
	}
	if st := ls.Status(); !slices.Equal(st.Learners, []uint64{4}) || !slices.Equal(st.Voters, []uint64{1, 2, 3}) {
		t.Fatalf("after adding the learner: voters %v learners %v", st.Voters, st.Learners)
	}
	waitFor(t, "the learner to catch up", 10*time.Second, func() bool {
		st := ls.Status()
		p, ok := st.Progress[4]
		return ok && p.IsLearner && p.Match >= st.Commit
	})
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("learner's records %v", got)
	}
	if c.nodes[4].sm.installed.Load() == 0 {
		t.Fatal("the learner caught up without a snapshot")
	}
	// A learner serves linearizable reads too.
	want = append(want, c.submitAll(lead, "b", 10)...)
	if err := n4.ReadBarrier(ctx); err != nil {
		t.Fatalf("ReadBarrier on the learner: %v", err)
	}
	if got := payloads(readRecords(t, c.nodes[4].db, 7)); !slices.Equal(got, want) {
		t.Fatalf("learner read %d records after its barrier, want %d", len(got), len(want))
	}

	if err := changeMembership(t, ls, simple(raftpb.ConfChangeAddNode, 4)); err != nil {
		t.Fatal(err)
	}
	if st := ls.Status(); len(st.Learners) != 0 || !slices.Equal(st.Voters, []uint64{1, 2, 3, 4}) {
		t.Fatalf("after the promotion: voters %v learners %v", st.Voters, st.Learners)
	}
	waitFor(t, "the new voter to apply its promotion", 5*time.Second, func() bool {
		return slices.Equal(n4.Status().Voters, []uint64{1, 2, 3, 4})
	})

	// Three of four voters keep committing without the old leader.
	c.stop(lead)
	l2 := c.leader()
	want = append(want, c.submitAll(l2, "c", 20)...)
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("after losing the old leader: %d records, want %d", len(got), len(want))
	}
	if err := changeMembership(t, c.nodes[l2].s, simple(raftpb.ConfChangeRemoveNode, lead)); err != nil {
		t.Fatal(err)
	}
	if st := c.nodes[l2].s.Status(); len(st.Voters) != 3 || slices.Contains(st.Voters, lead) {
		t.Fatalf("after removing the old leader: voters %v", st.Voters)
	}
	want = append(want, c.submitAll(l2, "d", 10)...)
	c.converged(len(want))
	c.sameSpans()
}

// TestRemoveVoter removes a follower, then the leader itself, which steps down and leaves the
// last replica to lead alone.
func TestRemoveVoter(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	want := c.submitAll(lead, "a", 10)
	f := lead%3 + 1
	other := 6 - lead - f
	ls := c.nodes[lead].s

	if err := changeMembership(t, ls, simple(raftpb.ConfChangeRemoveNode, f)); err != nil {
		t.Fatal(err)
	}
	if st := ls.Status(); len(st.Voters) != 2 || slices.Contains(st.Voters, f) {
		t.Fatalf("after removing %d: voters %v", f, st.Voters)
	}
	if _, ok := ls.Status().Progress[f]; ok {
		t.Fatalf("removed replica %d still tracked", f)
	}
	c.stop(f)
	want = append(want, c.submitAll(lead, "b", 10)...)
	c.converged(len(want))

	if err := changeMembership(t, ls, simple(raftpb.ConfChangeRemoveNode, lead)); err != nil {
		t.Fatal(err)
	}
	os := c.nodes[other].s
	waitFor(t, "the last voter to lead", 10*time.Second, func() bool {
		st := os.Status()
		return st.IsLeader && slices.Equal(st.Voters, []uint64{other})
	})
	if ls.Status().IsLeader {
		t.Fatal("the removed leader did not step down")
	}
	c.stop(lead)
	want = append(want, c.submitAll(other, "c", 10)...)
	if got := payloads(c.converged(len(want))); !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	waitFor(t, "fast reads on the single voter", 5*time.Second, func() bool { return os.fastRead.Load() })
}

// TestTransferLeadership moves leadership to a chosen voter.
func TestTransferLeadership(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	c.submitAll(lead, "a", 5)
	to := lead%3 + 1
	c.nodes[lead].s.TransferLeadership(to)
	waitFor(t, "the transfer", 10*time.Second, func() bool { return c.nodes[to].s.Status().IsLeader })
	if got := c.leader(); got != to {
		t.Fatalf("leader %d, want %d", got, to)
	}
	c.submitAll(to, "b", 5)
	c.converged(10)
	// A follower's request is forwarded to the leader.
	c.nodes[lead].s.TransferLeadership(lead)
	waitFor(t, "the transfer back", 10*time.Second, func() bool { return c.nodes[lead].s.Status().IsLeader })
	c.submitAll(lead, "c", 5)
	c.converged(15)
}

func TestJoinConfig(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	cfg := testConfig(db, newTestSM(7))
	cfg.Join = true
	if _, err := Start(context.Background(), cfg); err == nil {
		t.Fatal("Join with Peers accepted")
	}
	cfg.Peers = nil
	cfg.Join = false
	if _, err := Start(context.Background(), cfg); err == nil {
		t.Fatal("empty state without peers or Join accepted")
	}
	cfg.Join = true
	s := mustStart(t, cfg)
	time.Sleep(50 * time.Millisecond) // many election timeouts: a replica outside the group never campaigns
	if st := s.Status(); st.LeaderID != 0 || st.Term != 0 || len(st.Voters) != 0 || st.LastIndex != 0 {
		t.Fatalf("joining replica: %+v", st)
	}
	if _, err := submit(t, s, "x"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("submit on a joining replica: %v", err)
	}
	s.Stop()
	// Still empty: a restart needs Join again.
	cfg.Join = false
	if _, err := Start(context.Background(), cfg); err == nil {
		t.Fatal("restart of an empty joining replica without Join accepted")
	}
}

// TestProposalsInFlightOutliveTransfers keeps proposals in flight on the leader while its
// leadership is handed from voter to voter. A transfer hands over only once the transferee
// has every entry, so each proposal that raft accepted commits, and its caller is told so
// instead of "outcome unknown": only proposals refused outright (never proposed) may fail.
// (By then the old leader has committed and answered them itself, so this guards the
// transfer path rather than orphanPending, which TestDeposedLeader* exercise.)
func TestProposalsInFlightOutliveTransfers(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	c.leader()
	const submitters = 8
	var accepted, refused atomic.Int64
	stop := make(chan struct{})
	failed := make(chan error, submitters)
	var wg sync.WaitGroup
	for w := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				lead := c.currentLeader()
				if lead == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				ch := make(chan error, 1)
				lead.Submit([]byte(fmt.Sprintf("w%d:%d", w, i)), func(_ any, err error) { ch <- err })
				var err error
				select {
				case err = <-ch:
				case <-time.After(10 * time.Second):
					failed <- errors.New("a proposal was never answered")
					return
				}
				var nl NotLeaderError
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, ErrDropped) || errors.As(err, &nl):
					refused.Add(1) // never proposed: the caller may send it elsewhere
				default:
					failed <- fmt.Errorf("a proposal in flight during a transfer failed with %w", err)
					return
				}
			}
		}()
	}
	transfers := 0
	for ; transfers < 12; transfers++ {
		lead := c.currentLeader()
		if lead == nil {
			waitFor(t, "a leader", 10*time.Second, func() bool { return c.currentLeader() != nil })
			lead = c.currentLeader()
		}
		from := lead.Status().NodeID
		lead.TransferLeadership(from%3 + 1)
		waitFor(t, "the transfer", 10*time.Second, func() bool {
			l := c.currentLeader()
			return l != nil && l.Status().NodeID != from
		})
		time.Sleep(30 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-failed:
		t.Fatalf("after %d commits: %v", accepted.Load(), err)
	default:
	}
	if accepted.Load() == 0 {
		t.Fatal("no proposal committed")
	}
	t.Logf("%d transfers, %d committed, %d refused before proposing", transfers, accepted.Load(), refused.Load())
}

// TestDeposedLeaderLearnsItsProposalsCommitted proposes on a leader that hears nothing back:
// its followers store the entries, but it never learns they did, steps down (CheckQuorum),
// and the followers elect a leader that commits them. Once the old leader hears again, it
// answers its callers with the result, not "outcome unknown".
func TestDeposedLeaderLearnsItsProposalsCommitted(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	c.submitAll(lead, "before", 3)
	c.net.deafen(lead, true)
	const n = 5
	results := submitEach(c.nodes[lead].s, "deaf", n)
	next := c.leader(lead) // the deaf node, which hears of no leader, is left out
	c.net.deafen(lead, false)
	for i, err := range answers(t, results, n) {
		if err != nil {
			t.Fatalf("proposal %d of the deposed leader (new leader %d) = %v, want committed", i, next, err)
		}
	}
	c.converged(3 + n)
}

// TestDeposedLeaderFailsProposalsItLost proposes on a leader cut off from everyone: the
// others elect a leader and write other entries, and the old leader's proposals, which no
// one else stored, fail as "outcome unknown" (never as committed) once it hears again.
func TestDeposedLeaderFailsProposalsItLost(t *testing.T) {
	checkLeaks(t)
	c := newTestCluster(t, vfs.NewMem(), vfs.NewMem(), vfs.NewMem())
	lead := c.leader()
	c.submitAll(lead, "before", 3)
	c.net.isolate(lead, true)
	const n = 5
	results := submitEach(c.nodes[lead].s, "lost", n)
	next := c.leader(lead)
	c.submitAll(next, "after", 4)
	c.net.isolate(lead, false)
	for i, err := range answers(t, results, n) {
		if !errors.Is(err, ErrTryAgain) {
			t.Fatalf("lost proposal %d of the deposed leader = %v, want ErrTryAgain", i, err)
		}
	}
	for _, r := range c.converged(3 + 4) {
		if strings.HasPrefix(r.payload, "lost") {
			t.Fatalf("a lost proposal was applied: %v", r)
		}
	}
}

// submitEach submits payloads prefix0 … prefix<n-1> to s without waiting and returns the
// channel their answers arrive on.
func submitEach(s *Shard, prefix string, n int) <-chan error {
	results := make(chan error, n)
	for i := range n {
		s.Submit([]byte(fmt.Sprintf("%s%d", prefix, i)), func(_ any, err error) { results <- err })
	}
	return results
}

// answers waits for n answers on results, failing the test if one takes over 10 s.
func answers(t *testing.T, results <-chan error, n int) []error {
	t.Helper()
	out := make([]error, n)
	for i := range out {
		select {
		case out[i] = <-results:
		case <-time.After(10 * time.Second):
			t.Fatalf("proposal answer %d of %d never came", i+1, n)
		}
	}
	return out
}
