package shard

import (
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestRecentEntriesKeep(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		capacity             int
		dataLens             []int // applied in order
		maxEntries, maxBytes uint64
		want                 uint64
	}{
		{"nothing seen keeps the count", 4, nil, 4, 100, 4},
		{"small entries keep the count", 4, []int{1, 1, 1, 1, 1}, 4, 1000, 4},
		{"bytes reached first", 8, []int{0, 0, 100, 100, 100}, 8, 200, 2},
		{"the entry reaching the bytes is kept", 8, []int{500, 10}, 8, 100, 2},
		{"one huge entry", 8, []int{10, 10, 1 << 20}, 8, 64 << 10, 1},
		{"fewer seen than the count and bytes not reached", 8, []int{10, 10}, 8, 1 << 20, 8},
		{"only what the ring holds counts", 3, []int{1000, 1000, 1000, 0, 0, 0}, 5, 1000, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecentEntries(tc.capacity)
			for _, n := range tc.dataLens {
				r.add(n)
			}
			// Sizes include entryOverhead; the table's byte limits account for it.
			if got := r.keep(tc.maxEntries, tc.maxBytes); got != tc.want {
				t.Fatalf("keep = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestLogTruncationByBytes: with an entry interval that is never reached, big entries still
// get the log truncated, and the tail kept is bounded by bytes, not by the entry count.
func TestLogTruncationByBytes(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	cfg := testConfig(db, newTestSM(7))
	cfg.LogTruncateInterval, cfg.LogTruncateBytes = 1_000_000, 8<<10
	cfg.LogKeepEntries, cfg.LogKeepBytes = 1_000, 2<<10
	s := mustStart(t, cfg)
	defer s.Stop()
	big := strings.Repeat("x", 400)
	for i := range 200 {
		if _, err := submit(t, s, big+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Status()
	inLog := st.Applied - st.FirstIndex + 1
	// Every ~18 entries (8 KiB) a truncation keeps the ~5 entries that make 2 KiB.
	if inLog > 40 {
		t.Fatalf("%d entries in the log (first %d, applied %d): want truncation by bytes to leave at most 40", inLog, st.FirstIndex, st.Applied)
	}
	if inLog < 5 {
		t.Fatalf("%d entries in the log: truncation must keep the last 2 KiB (5 entries of 400 bytes)", inLog)
	}
}
