package keyspace

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
)

// TestReplaceRange replaces a slot range's data behind the apply path's back, the way a raft
// snapshot install does (range deletions plus the new keys, outside any Txn): with
// BeginReplace/EndReplace and ReloadRange around it, the cache and the counters agree with
// Pebble again, and other slots are untouched.
func TestReplaceRange(t *testing.T) {
	rng := routing.Range{Start: 300, End: 302}
	src := newCachedEnv(t, 1<<20)
	e := newCachedEnv(t, 1<<20)
	old := [][]byte{keyInSlot(300, "a"), keyInSlot(300, "b"), keyInSlot(301, "c")}
	outside := keyInSlot(5000, "x")
	e.batch(baseNow, 10, func(tx *Txn) {
		for _, k := range old {
			must(t, tx.SetString(k, []byte("old"), 0))
		}
		must(t, tx.SetString(outside, []byte("kept"), baseNow+60_000))
	})
	src.batch(baseNow, 20, func(tx *Txn) {
		must(t, tx.SetString(keyInSlot(300, "a"), []byte("new"), baseNow+60_000))
		must(t, tx.SetString(keyInSlot(301, "d"), []byte("new"), 0))
		must(t, tx.SetString(keyInSlot(5000, "y"), []byte("not copied"), 0))
	})
	for _, k := range append(old, outside) {
		lookup(t, e.rtx(baseNow), k) // fill the cache
	}

	e.cache.BeginReplace()
	if e.cache.Len() != 0 {
		t.Fatalf("cache holds %d keys during a replace", e.cache.Len())
	}
	b := e.db.NewBatch()
	for _, p := range DataPrefixes {
		lo, hi := SpanBounds(p, rng)
		must(t, b.DeleteRange(lo, hi, nil))
		it, err := src.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		must(t, err)
		for it.First(); it.Valid(); it.Next() {
			must(t, b.Set(it.Key(), it.Value(), nil))
		}
		must(t, it.Close())
	}
	must(t, b.Commit(pebble.NoSync))
	// Reads during the replace go to Pebble and fill nothing.
	if got, ok, err := e.rtx(baseNow).GetString(keyInSlot(300, "a")); err != nil || !ok || string(got) != "new" {
		t.Fatalf("read during the replace: %q %v %v", got, ok, err)
	}
	if e.cache.Len() != 0 {
		t.Fatal("a read filled the cache during a replace")
	}
	must(t, e.counts.ReloadRange(e.db, rng))
	e.cache.EndReplace()

	for k, want := range map[string]string{
		string(keyInSlot(300, "a")): "new", string(keyInSlot(300, "b")): "",
		string(keyInSlot(301, "c")): "", string(keyInSlot(301, "d")): "new",
		string(outside): "kept", string(keyInSlot(5000, "y")): "",
	} {
		for range 2 { // the second read may come from the cache
			got, ok, err := e.rtx(baseNow).GetString([]byte(k))
			must(t, err)
			if want == "" && ok || want != "" && (!ok || string(got) != want) {
				t.Fatalf("GetString(%q) = %q present=%v, want %q", k, got, ok, want)
			}
		}
	}
	if n, want := e.counts.Keys(rng), src.counts.Keys(rng); n != want || n != 2 {
		t.Fatalf("keys in the range: %d, source has %d", n, want)
	}
	if n := e.counts.Expires(rng); n != 1 {
		t.Fatalf("expiring keys in the range: %d, want 1", n)
	}
	if n := e.counts.SlotKeys(5000); n != 1 {
		t.Fatalf("keys outside the range: %d, want 1", n)
	}
	checkCacheCoherent(t, e.cache, e.db)
	checkInvariants(t, e.db, e.counts)

	var nilCache *MetaCache
	nilCache.BeginReplace()
	nilCache.EndReplace()
}
