package keyspace

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestPresenceFilterUnusedUntilBuilt(t *testing.T) {
	e := &cenv{env: newEnv(t), cache: NewMetaCache(1 << 20)}
	if e.cache.present.absent([]byte("never")) {
		t.Fatal("an unbuilt filter answered absent")
	}
	must(t, e.cache.present.build(context.Background(), e.db))
	if !e.cache.present.absent([]byte("never")) {
		t.Fatal("a filter built on an empty DB did not answer absent for a key never written")
	}
}

// Keys written before a restart are in Pebble only: a new cache's build must find them all.
func TestPresenceBuildCoversExistingKeys(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	keys := make([][]byte, 2000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
	}
	keys[0] = []byte{} // the empty key is a key too
	e.batch(baseNow, 10, func(tx *Txn) {
		for _, k := range keys {
			must(t, tx.SetString(k, []byte("v"), 0))
		}
	})
	e.reopen()
	e.cache = NewMetaCache(1 << 20)
	must(t, e.cache.present.build(context.Background(), e.db))
	falsePositives := 0
	for i, k := range keys {
		if e.cache.present.absent(k) {
			t.Fatalf("key %q written before the build is reported absent", k)
		}
		if !e.cache.present.absent(fmt.Appendf(nil, "other:%d", i)) {
			falsePositives++
		}
	}
	if falsePositives > len(keys)/10 {
		t.Errorf("%d of %d keys never written look present: the filter does not filter", falsePositives, len(keys))
	}
	// An overwrite after the build must see the old value (a second SET keeps DBSIZE).
	e.batch(baseNow, 20, func(tx *Txn) { must(t, tx.SetString(keys[0], []byte("w"), 0)) })
	if got := e.counts.Keys(allSlots); got != int64(len(keys)) {
		t.Errorf("key count after overwriting an existing key = %d, want %d", got, len(keys))
	}
}

// Data written behind put's back (a raft snapshot ingested) invalidates the filter until the
// rebuild that EndReplace asks for, and a build that overlapped the replacement does not count.
func TestPresenceReplaceInvalidates(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	ingested := []byte("ingested")
	e.cache.BeginReplace()
	if e.cache.present.valid.Load() {
		t.Fatal("filter still valid during a replacement")
	}
	must(t, e.cache.present.build(context.Background(), e.db)) // overlaps: must not validate
	// Written without the cache, as an ingestion bypasses Txn.put.
	e.write(baseNow, 5, func(tx *Txn) { must(t, tx.SetString(ingested, []byte("v"), 0)) })
	e.cache.EndReplace()
	if e.cache.present.valid.Load() {
		t.Fatal("filter valid after a replacement before any rebuild")
	}
	if e.cache.present.absent(ingested) {
		t.Fatal("an invalid filter answered absent")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.cache.RunPresenceFilter(ctx, e.db, func(err error) { t.Error(err) }) }()
	deadline := time.Now().Add(5 * time.Second)
	for !e.cache.present.valid.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if !e.cache.present.valid.Load() {
		t.Fatal("filter not rebuilt within 5 s of the replacement's end")
	}
	if e.cache.present.absent(ingested) {
		t.Fatal("a key ingested during the replacement is reported absent after the rebuild")
	}
	if lookup(t, e.rtx(baseNow), ingested) == lookup(t, e.rtx(baseNow), []byte("nothing")) {
		t.Fatal("lookup of the ingested key reads as absent")
	}
}
