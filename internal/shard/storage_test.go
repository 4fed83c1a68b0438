package shard

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func ents(from, to, term uint64) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, &raftpb.Entry{
			Index: new(i), Term: new(term), Type: raftpb.EntryNormal.Enum(),
			Data: fmt.Appendf(nil, "e%d-t%d", i, term),
		})
	}
	return out
}

func mustAppend(t *testing.T, db *pebble.DB, st *storage, es []*raftpb.Entry) {
	t.Helper()
	b := db.NewBatch()
	st.stageAppend(b, es)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.Close()
}

func checkEntries(t *testing.T, st *storage, lo, hi uint64, terms map[uint64]uint64) {
	t.Helper()
	got, err := st.Entries(lo, hi, ^uint64(0))
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", lo, hi, err)
	}
	if uint64(len(got)) != hi-lo {
		t.Fatalf("Entries(%d, %d) returned %d entries", lo, hi, len(got))
	}
	for k, e := range got {
		i := lo + uint64(k)
		want := fmt.Sprintf("e%d-t%d", i, terms[i])
		if e.GetIndex() != i || e.GetTerm() != terms[i] || string(e.GetData()) != want {
			t.Fatalf("entry %d = (%d, %d, %q), want term %d data %q", i, e.GetIndex(), e.GetTerm(), e.GetData(), terms[i], want)
		}
		if term, err := st.Term(i); err != nil || term != terms[i] {
			t.Fatalf("Term(%d) = %d, %v; want %d", i, term, err, terms[i])
		}
	}
}

func TestStorage(t *testing.T) {
	checkLeaks(t)
	fs := vfs.NewMem()
	db := openDB(t, fs, "db")
	defer db.Close()
	st, err := openStorage(db, 7, 64) // a tiny cache: most reads go to Pebble
	if err != nil {
		t.Fatal(err)
	}
	if !st.isEmpty() {
		t.Fatal("fresh storage is not empty")
	}
	if err := st.bootstrap([]uint64{3, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	hs, cs, err := st.InitialState()
	if err != nil || hs.GetTerm() != bootstrapTerm || hs.GetCommit() != bootstrapIndex || hs.GetVote() != 0 {
		t.Fatalf("InitialState hs %v, %v", hs, err)
	}
	if fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Fatalf("voters %v", cs.GetVoters())
	}
	if fi, _ := st.FirstIndex(); fi != bootstrapIndex+1 {
		t.Fatalf("FirstIndex %d", fi)
	}
	if li, _ := st.LastIndex(); li != bootstrapIndex {
		t.Fatalf("LastIndex %d", li)
	}
	if term, err := st.Term(bootstrapIndex); err != nil || term != bootstrapTerm {
		t.Fatalf("Term(bootstrap) = %d, %v", term, err)
	}
	if _, err := st.Term(bootstrapIndex - 1); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Term below first index: %v", err)
	}
	if _, err := st.Term(bootstrapIndex + 1); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Term above last index: %v", err)
	}
	if _, err := st.Snapshot(); !errors.Is(err, raft.ErrSnapshotTemporarilyUnavailable) {
		t.Fatalf("Snapshot: %v", err)
	}

	terms := make(map[uint64]uint64)
	mustAppend(t, db, st, ents(11, 30, 6))
	for i := uint64(11); i <= 30; i++ {
		terms[i] = 6
	}
	checkEntries(t, st, 11, 31, terms)
	checkEntries(t, st, 15, 20, terms)

	// Size limits: at least one entry, and a prefix otherwise.
	if got, err := st.Entries(11, 31, 1); err != nil || len(got) != 1 {
		t.Fatalf("Entries with maxSize 1: %d entries, %v", len(got), err)
	}
	if got, err := st.Entries(11, 31, 3*entrySize(ents(11, 11, 6)[0])); err != nil || len(got) != 3 {
		t.Fatalf("Entries with room for 3: %d entries, %v", len(got), err)
	}
	// The caller may append to the result without corrupting the storage.
	got, _ := st.Entries(28, 30, ^uint64(0))
	_ = append(got, &raftpb.Entry{Index: new(uint64(99))})
	checkEntries(t, st, 28, 31, terms)

	// A new leader overwrites a suffix: the stale tail beyond it disappears.
	mustAppend(t, db, st, ents(25, 27, 7))
	for i := uint64(25); i <= 27; i++ {
		terms[i] = 7
	}
	if li, _ := st.LastIndex(); li != 27 {
		t.Fatalf("LastIndex after overwrite %d", li)
	}
	checkEntries(t, st, 11, 28, terms)
	if _, err := st.Entries(11, 29, ^uint64(0)); err == nil {
		t.Fatal("Entries beyond the last index succeeded")
	}

	// Truncation (only ever below the applied index).
	b := db.NewBatch()
	st.stageHardState(b, &raftpb.HardState{Term: new(uint64(7)), Commit: new(uint64(27))})
	st.stageApplied(b, 27)
	if err := st.stageTruncate(b, 20); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if fi, _ := st.FirstIndex(); fi != 21 {
		t.Fatalf("FirstIndex after truncation %d", fi)
	}
	if term, err := st.Term(20); err != nil || term != 6 {
		t.Fatalf("Term(truncated index) = %d, %v", term, err)
	}
	if _, err := st.Entries(20, 25, ^uint64(0)); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Entries below first index: %v", err)
	}
	checkEntries(t, st, 21, 28, terms)

	// Reopen: everything comes back from Pebble.
	st2, err := openStorage(db, 7, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if st2.truncIdx != 20 || st2.truncTerm != 6 || st2.lastIdx != 27 || st2.applied != 27 {
		t.Fatalf("reopened: trunc (%d, %d) last %d applied %d", st2.truncIdx, st2.truncTerm, st2.lastIdx, st2.applied)
	}
	checkEntries(t, st2, 21, 28, terms)
	// Another shard in the same DB sees nothing of it.
	other, err := openStorage(db, 8, 1<<20)
	if err != nil || !other.isEmpty() || other.lastIdx != 0 {
		t.Fatalf("shard 8 sees state: empty=%v last %d err %v", other.isEmpty(), other.lastIdx, err)
	}
}

func TestEntryFraming(t *testing.T) {
	payloads := [][]byte{[]byte("a"), nil, make([]byte, 300)}
	size := 0
	for _, p := range payloads {
		size += uvarintLen(uint64(len(p))) + len(p)
	}
	data := encodeEntry(300, 0xdeadbeef, 1<<40, payloads, size)
	if len(data) != cap(data) {
		t.Fatalf("size precomputation off: len %d cap %d", len(data), cap(data))
	}
	f, err := decodeFrame(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.node != 300 || f.incarnation != 0xdeadbeef || f.seq != 1<<40 || f.count != 3 {
		t.Fatalf("header %+v", f)
	}
	for i, want := range payloads {
		p, err := f.next()
		if err != nil || string(p) != string(want) {
			t.Fatalf("payload %d = %q, %v", i, p, err)
		}
	}
	if _, err := decodeFrame([]byte{9}); err == nil {
		t.Fatal("unknown version accepted")
	}
	if _, err := decodeFrame(data[:5]); err == nil {
		t.Fatal("truncated header accepted")
	}
}
