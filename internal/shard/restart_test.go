package shard

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// diskState reads the raft state of shard 7 as the next Start will see it.
func diskState(t *testing.T, db *pebble.DB) *storage {
	t.Helper()
	st, err := openStorage(db, 7, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func checkRecords(t *testing.T, recs []record, want []string) {
	t.Helper()
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.payload != want[i] {
			t.Fatalf("record %d = %q, want %q", i, r.payload, want[i])
		}
	}
}

func TestRestartPreservesState(t *testing.T) {
	checkLeaks(t)
	fs := vfs.NewMem()
	db := openDB(t, fs, "db")
	s := mustStart(t, testConfig(db, newTestSM(7)))
	var want []string
	for i := range 50 {
		p := fmt.Sprintf("a%d", i)
		if _, err := submit(t, s, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	before := s.Status()
	s.Stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, fs, "db")
	defer db.Close()
	st := diskState(t, db)
	if st.applied != before.Applied || st.lastIdx != before.LastIndex || st.hs.term != before.Term ||
		st.hs.commit != before.Commit || st.hs.vote != 1 {
		t.Fatalf("on disk: applied %d last %d hs %+v; before stop: %+v", st.applied, st.lastIdx, st.hs, before)
	}
	if v := st.conf.GetVoters(); len(v) != 1 || v[0] != 1 {
		t.Fatalf("ConfState voters %v", v)
	}

	sm := newTestSM(7)
	cfg := testConfig(db, sm)
	cfg.Peers = []uint64{1, 2, 3} // ignored on restart
	s = mustStart(t, cfg)
	defer s.Stop()
	waitFor(t, "leadership after restart", 2*time.Second, func() bool {
		st := s.Status()
		return st.IsLeader && st.Applied > before.LastIndex
	})
	if after := s.Status(); after.Term <= before.Term {
		t.Fatalf("term %d after restart, %d before", after.Term, before.Term)
	}
	if sm.callCount() != 0 {
		t.Fatalf("%d payloads re-applied after a clean restart", sm.callCount())
	}
	for i := range 10 {
		p := fmt.Sprintf("b%d", i)
		v, err := submit(t, s, p)
		if err != nil {
			t.Fatal(err)
		}
		if v.(uint64) <= before.LastIndex {
			t.Fatalf("new payload applied at index %v <= old last index %d", v, before.LastIndex)
		}
		want = append(want, p)
	}
	checkRecords(t, readRecords(t, db, 7), want)
}

// TestRestartReappliesLostApply crashes right after the last acknowledged payload: its apply
// batch (NoSync) is lost while its log entry (synced) survives. The restart must apply it
// again, and only it: the applied index written with the data keeps the others from being
// applied twice.
func TestRestartReappliesLostApply(t *testing.T) {
	checkLeaks(t)
	fs := vfs.NewCrashableMem()
	db := openDB(t, fs, "db")
	s := mustStart(t, testConfig(db, newTestSM(7)))
	var want []string
	for i := range 20 {
		p := fmt.Sprintf("a%d", i)
		if _, err := submit(t, s, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	s.Stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, crashed, "db")
	defer db.Close()
	st := diskState(t, db)
	survived := len(readRecords(t, db, 7))
	if st.applied >= st.lastIdx || survived >= len(want) {
		t.Fatalf("crash lost nothing (applied %d, last %d, %d records): the test needs a lost apply",
			st.applied, st.lastIdx, survived)
	}
	sm := newTestSM(7)
	s = mustStart(t, testConfig(db, sm))
	defer s.Stop()
	waitFor(t, "re-apply", 2*time.Second, func() bool { return s.Status().Applied > st.lastIdx })
	checkRecords(t, readRecords(t, db, 7), want)
	if sm.callCount() != len(want)-survived {
		t.Fatalf("re-applied %d payloads, want %d", sm.callCount(), len(want)-survived)
	}
}

// TestCrashKeepsAcknowledgedPayloads crashes a busy shard at random moments: every payload
// acknowledged before the crash must be there exactly once after restarting from what was
// synced, and no payload may ever appear twice.
func TestCrashKeepsAcknowledgedPayloads(t *testing.T) {
	checkLeaks(t)
	rng := rand.New(rand.NewPCG(1, 2))
	fs := vfs.NewCrashableMem()
	acked := make(map[string]bool)
	for round := range 4 {
		db := openDB(t, fs, "db")
		cfg := testConfig(db, newTestSM(7))
		cfg.LogTruncateInterval, cfg.LogKeepEntries = 200, 20
		s := mustStart(t, cfg)

		// Everything acknowledged before must have survived, once.
		seen := make(map[string]int)
		for _, r := range readRecords(t, db, 7) {
			seen[r.payload]++
			if seen[r.payload] > 1 {
				t.Fatalf("round %d: %q applied twice", round, r.payload)
			}
		}
		for p := range acked {
			if seen[p] == 0 {
				// It may still be in the log, committed but not applied: wait for apply.
				waitFor(t, "re-apply of "+p, 5*time.Second, func() bool {
					for _, r := range readRecords(t, db, 7) {
						if r.payload == p {
							return true
						}
					}
					return false
				})
			}
		}

		var (
			mu      sync.Mutex
			stopped bool
			wg      sync.WaitGroup
		)
		for w := range 16 {
			wg.Go(func() {
				for i := 0; ; i++ {
					mu.Lock()
					if stopped {
						mu.Unlock()
						return
					}
					mu.Unlock()
					p := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					done := make(chan error, 1)
					s.Submit([]byte(p), func(_ any, err error) {
						if err == nil {
							mu.Lock()
							acked[p] = true
							mu.Unlock()
						}
						done <- err
					})
					if err := <-done; err != nil {
						return
					}
				}
			})
		}
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		// Clone under mu: an acknowledgement recorded before the clone happened before it.
		mu.Lock()
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(60), RNG: rng})
		snapshot := make(map[string]bool, len(acked))
		for p := range acked {
			snapshot[p] = true
		}
		stopped = true
		mu.Unlock()
		s.Stop()
		wg.Wait()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d payloads acknowledged before the crash", round, len(snapshot))
		fs, acked = crashed, snapshot
	}
	// Final check on the last crash image.
	db := openDB(t, fs, "db")
	defer db.Close()
	s := mustStart(t, testConfig(db, newTestSM(7)))
	defer s.Stop()
	waitFor(t, "leader", 2*time.Second, func() bool { return s.Status().IsLeader })
	waitFor(t, "everything acknowledged to be applied", 5*time.Second, func() bool {
		seen := make(map[string]int)
		for _, r := range readRecords(t, db, 7) {
			seen[r.payload]++
			if seen[r.payload] > 1 {
				t.Fatalf("%q applied twice", r.payload)
			}
		}
		for p := range acked {
			if seen[p] == 0 {
				return false
			}
		}
		return true
	})
}

func TestLogTruncation(t *testing.T) {
	checkLeaks(t)
	fs := vfs.NewMem()
	db := openDB(t, fs, "db")
	cfg := testConfig(db, newTestSM(7))
	cfg.LogTruncateInterval, cfg.LogKeepEntries = 50, 10
	cfg.EntryCacheBytes = 1 // force reads from Pebble
	s := mustStart(t, cfg)
	var want []string
	for i := range 300 {
		p := fmt.Sprintf("a%d", i)
		if _, err := submit(t, s, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	st := s.Status()
	if st.FirstIndex < st.Applied-60 || st.FirstIndex > st.Applied-10 {
		t.Fatalf("first index %d, applied %d: want truncation to within [applied-60, applied-10]", st.FirstIndex, st.Applied)
	}
	s.Stop()
	// No log key below the first index survives.
	k := newKeys(7)
	lo, hi := k.log(0), k.log(st.FirstIndex)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo[:], UpperBound: hi[:]})
	if err != nil {
		t.Fatal(err)
	}
	if it.First() {
		t.Fatalf("log key %x below first index %d survived truncation", it.Key(), st.FirstIndex)
	}
	it.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, fs, "db")
	defer db.Close()
	sm := newTestSM(7)
	cfg.DB, cfg.SM = db, sm
	s = mustStart(t, cfg)
	defer s.Stop()
	for i := range 100 {
		p := fmt.Sprintf("b%d", i)
		if _, err := submit(t, s, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	if sm.callCount() != 100 {
		t.Fatalf("%d payloads applied after restart, want 100", sm.callCount())
	}
	checkRecords(t, readRecords(t, db, 7), want)
	if st2 := s.Status(); st2.FirstIndex <= st.FirstIndex {
		t.Fatalf("no truncation after restart: first index %d, was %d", st2.FirstIndex, st.FirstIndex)
	}
}
