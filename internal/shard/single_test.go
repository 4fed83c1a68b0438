package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestSingleNodeSubmitInOrder(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	sm := newTestSM(7)
	obs := &countingObserver{}
	cfg := testConfig(db, sm)
	cfg.Observer = obs
	start := time.Now()
	s := mustStart(t, cfg)
	defer s.Stop()

	waitFor(t, "leadership", time.Second, func() bool { return s.Status().IsLeader })
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("single voter took %v to become leader", d)
	}
	var last uint64
	for i := range 100 {
		v, err := submit(t, s, fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		idx := v.(uint64)
		if idx <= last {
			t.Fatalf("submit %d applied at index %d after %d", i, idx, last)
		}
		last = idx
	}
	recs := readRecords(t, db, 7)
	if len(recs) != 100 {
		t.Fatalf("got %d records, want 100", len(recs))
	}
	for i, r := range recs {
		if want := fmt.Sprintf("p%d", i); r.payload != want {
			t.Fatalf("record %d = %q, want %q", i, r.payload, want)
		}
	}
	st := s.Status()
	if st.Applied < last || st.Commit < last || st.LastIndex < last || st.LeaderID != 1 || st.Term == 0 {
		t.Fatalf("status %+v after applying index %d", st, last)
	}
	if st.PendingProposals != 0 {
		t.Fatalf("pending proposals = %d", st.PendingProposals)
	}
	if obs.committed.Load() != 100 || obs.syncs.Load() == 0 || obs.leaderChanges.Load() == 0 {
		t.Fatalf("observer: committed %d syncs %d leader changes %d",
			obs.committed.Load(), obs.syncs.Load(), obs.leaderChanges.Load())
	}
	if s.ID() != 7 {
		t.Fatalf("ID() = %d", s.ID())
	}
}

func TestConcurrentSubmitsAreBatched(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	sm := newTestSM(7)
	s := mustStart(t, testConfig(db, sm))
	defer s.Stop()

	const workers, each = 64, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := submit(t, s, fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs := readRecords(t, db, 7)
	if len(recs) != workers*each {
		t.Fatalf("got %d records, want %d", len(recs), workers*each)
	}
	seen := make(map[string]bool)
	for _, r := range recs {
		if seen[r.payload] {
			t.Fatalf("payload %q applied twice", r.payload)
		}
		seen[r.payload] = true
	}
	entries := sm.distinctEntries()
	t.Logf("%d payloads in %d raft entries", len(recs), entries)
	if entries >= len(recs) {
		t.Fatalf("no batching: %d payloads in %d entries", len(recs), entries)
	}
}

func TestMaxBatchBytesSplitsEntries(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	sm := newTestSM(7)
	cfg := testConfig(db, sm)
	cfg.MaxBatchBytes = 100
	s := mustStart(t, cfg)
	defer s.Stop()
	waitFor(t, "leadership", time.Second, func() bool { return s.Status().IsLeader })

	payload := string(make([]byte, 40))
	var wg sync.WaitGroup
	results := make(chan result, 10)
	for range 10 {
		wg.Go(func() {
			v, err := submit(t, s, payload)
			results <- result{v, err}
		})
	}
	wg.Wait()
	close(results)
	perIndex := make(map[any]int)
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		perIndex[r.v]++
	}
	for idx, n := range perIndex {
		if n > 2 { // 2 x 40 bytes fit in 100, 3 do not
			t.Fatalf("entry %v holds %d payloads of 40 bytes with MaxBatchBytes 100", idx, n)
		}
	}
}

func TestStopFailsQueuedAndLaterSubmits(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	sm := newTestSM(7)
	sm.gate, sm.entered = make(chan struct{}), make(chan struct{}, 1)
	obs := &countingObserver{}
	cfg := testConfig(db, sm)
	cfg.Observer = obs
	s := mustStart(t, cfg)

	first := make(chan result, 1)
	s.Submit([]byte("first"), func(v any, err error) { first <- result{v, err} })
	// Wait until the goroutine is stuck applying "first".
	select {
	case <-sm.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("first payload never applied")
	}
	queued := make(chan error, 3)
	for i := range 3 {
		s.Submit(fmt.Appendf(nil, "queued%d", i), func(_ any, err error) { queued <- err })
	}
	stopped := make(chan struct{})
	go func() {
		s.Stop()
		close(stopped)
	}()
	time.Sleep(20 * time.Millisecond)
	close(sm.gate)
	<-stopped

	if r := <-first; r.err != nil {
		t.Fatalf("first: %v (it was being applied when Stop was called)", r.err)
	}
	for range 3 {
		if err := <-queued; !errors.Is(err, ErrStopped) {
			t.Fatalf("queued submit: %v, want ErrStopped", err)
		}
	}
	var late error
	s.Submit([]byte("late"), func(_ any, err error) { late = err })
	if !errors.Is(late, ErrStopped) {
		t.Fatalf("submit after stop: %v", late)
	}
	if err := s.ReadBarrier(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("ReadBarrier after stop: %v", err)
	}
	if err := s.Step(nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("Step after stop: %v", err)
	}
	s.Stop() // idempotent
	if st := s.Status(); st.PendingProposals != 0 || st.IsLeader {
		t.Fatalf("status after stop: %+v", st)
	}
	if obs.failed.Load() < 3 {
		t.Fatalf("observer saw %d failures", obs.failed.Load())
	}
}

func TestReadBarrierSingleNode(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	sm := newTestSM(7)
	s := mustStart(t, testConfig(db, sm))
	defer s.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The first barrier may take the slow path (the leader's first entry is not applied
	// yet); it must succeed either way.
	if err := s.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fast path", time.Second, func() bool { return s.fastRead.Load() })
	if _, err := submit(t, s, "x"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 10000 {
		if err := s.ReadBarrier(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("10000 fast-path barriers took %v", d)
	}
	// The slow path (ReadIndex round) also works on a single voter.
	s.fastRead.Store(false)
	if err := s.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	// A canceled context is reported as such.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	s.fastRead.Store(false)
	if err := s.ReadBarrier(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx: %v", err)
	}
}

func TestNotLeaderErrorMatching(t *testing.T) {
	var err error = NotLeaderError{LeaderID: 3}
	if !errors.Is(err, ErrNotLeader) {
		t.Fatal("errors.Is(NotLeaderError, ErrNotLeader) is false")
	}
	var v NotLeaderError
	if !errors.As(err, &v) || v.LeaderID != 3 {
		t.Fatalf("errors.As value: %+v", v)
	}
	var p *NotLeaderError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &p) || p.LeaderID != 3 {
		t.Fatalf("errors.As pointer: %+v", p)
	}
	if errors.Is(err, ErrTryAgain) {
		t.Fatal("NotLeaderError is ErrTryAgain")
	}
}

func TestStartValidatesConfig(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	bad := []Config{
		{NodeID: 1, Peers: []uint64{1}, DB: db, SM: newTestSM(1)},
		{ShardID: 1, Peers: []uint64{1}, DB: db, SM: newTestSM(1)},
		{ShardID: 1, NodeID: 1, DB: db, SM: newTestSM(1)}, // no state, no peers
		{ShardID: 1, NodeID: 1, Peers: []uint64{1}, SM: newTestSM(1)},
		{ShardID: 1, NodeID: 1, Peers: []uint64{1}, DB: db, SM: newTestSM(1), ElectionTicks: 2, HeartbeatTicks: 2},
	}
	for i, cfg := range bad {
		if s, err := Start(context.Background(), cfg); err == nil {
			s.Stop()
			t.Errorf("config %d accepted", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, testConfig(db, newTestSM(7))); err == nil {
		t.Error("Start with a canceled context succeeded")
	}
}
