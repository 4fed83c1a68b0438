package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// baseNow is the Unix-ms clock most tests start from.
const baseNow int64 = 1_700_000_000_000

var allSlots = routing.Range{Start: 0, End: routing.NumSlots}

// env is an in-memory Pebble DB plus the slot counters, driven the way a shard's apply loop
// drives a Txn: one indexed batch per write, committed afterwards.
type env struct {
	t      testing.TB
	fs     vfs.FS
	db     *pebble.DB
	counts *Counts
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, fs: vfs.NewMem()}
	e.open()
	t.Cleanup(func() {
		if e.db != nil {
			e.db.Close()
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: e.fs, FormatMajorVersion: pebble.FormatNewest})
	if err != nil {
		e.t.Fatalf("open pebble: %v", err)
	}
	counts, err := LoadCounts(db)
	if err != nil {
		e.t.Fatalf("LoadCounts on open: %v", err)
	}
	e.db, e.counts = db, counts
}

// reopen closes the DB and opens it again from the same in-memory filesystem, reloading the
// counters from their durable copy.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.db.Close(); err != nil {
		e.t.Fatalf("close pebble: %v", err)
	}
	e.db = nil
	e.open()
}

// write runs fn on a write Txn at (now, index) and commits the batch.
func (e *env) write(now int64, index uint64, fn func(tx *Txn)) {
	e.t.Helper()
	b := e.db.NewIndexedBatch()
	fn(NewWriteTxn(b, now, index, e.counts))
	if err := b.Commit(pebble.NoSync); err != nil {
		e.t.Fatalf("commit batch of index %d: %v", index, err)
	}
	e.counts.Publish(b)
}

// read returns a read Txn on the DB at now.
func (e *env) read(now int64) *Txn { return NewReadTxn(e.db, now, e.counts) }

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	slotTagsOnce sync.Once
	slotTags     [routing.NumSlots]string
)

// keyInSlot returns a key that hashes to slot (through a hash tag), made distinct by suffix.
func keyInSlot(slot uint16, suffix string) []byte {
	slotTagsOnce.Do(func() {
		left := routing.NumSlots
		for i := 0; left > 0; i++ {
			tag := strconv.Itoa(i)
			s := routing.Slot([]byte(tag))
			if slotTags[s] == "" {
				slotTags[s] = tag
				left--
			}
		}
	})
	return []byte("{" + slotTags[slot] + "}" + suffix)
}

// rawMeta reads key's stored metadata straight from r, bypassing Txn.
func rawMetaOf(t testing.TB, r pebble.Reader, key []byte) (Meta, bool) {
	t.Helper()
	v, closer, err := r.Get(MetaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return Meta{}, false
	}
	must(t, err)
	defer closer.Close()
	m, err := decodeMeta(bytes.Clone(v))
	if err != nil {
		t.Fatalf("stored metadata of %q does not decode: %v", key, err)
	}
	return m, true
}

// hasKey reports whether r holds the exact Pebble key k.
func hasKey(t testing.TB, r pebble.Reader, k []byte) bool {
	t.Helper()
	_, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false
	}
	must(t, err)
	closer.Close()
	return true
}

// spanKeys returns every Pebble key under prefix in slots rg.
func spanKeys(t testing.TB, r pebble.Reader, prefix byte, rg routing.Range) [][]byte {
	t.Helper()
	lo, hi := SpanBounds(prefix, rg)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	must(t, err)
	defer it.Close()
	var out [][]byte
	for it.First(); it.Valid(); it.Next() {
		out = append(out, bytes.Clone(it.Key()))
	}
	must(t, it.Error())
	return out
}

type slotCount struct{ keys, expires int64 }

// checkInvariants scans the 'd', 'e', 's' and 'c' spans of r directly and checks the package
// invariants against them and against counts (the in-memory counters):
//   - every sub-key belongs to a stored collection (same slot and version): none is orphaned;
//   - every metadata key decodes and lives in its key's slot;
//   - a key has exactly one expiry-index entry iff it has a deadline, with that deadline, and
//     the index holds nothing else;
//   - the durable counters, the in-memory counters and a reload with LoadCounts all equal the
//     scanned number of keys and of keys with a deadline, for every slot.
func checkInvariants(t testing.TB, r pebble.Reader, counts *Counts) {
	t.Helper()
	var scanned, durable [routing.NumSlots]slotCount
	wantIdx := map[string]bool{}
	liveColls := map[string]bool{} // s|slot|version of every stored collection
	for _, k := range spanKeys(t, r, store.PrefixData, allSlots) {
		slot, key := binary.BigEndian.Uint16(k[1:3]), k[3:]
		if s := routing.Slot(key); s != slot {
			t.Errorf("metadata of %q stored under slot %d, but the key hashes to slot %d", key, slot, s)
		}
		m, ok := rawMetaOf(t, r, key)
		if !ok {
			t.Fatalf("metadata key %x vanished during the scan", k)
		}
		if isCollection(m.Type) {
			liveColls[string(appendSubPrefix(nil, slot, m.Version))] = true
		}
		c := &scanned[slot]
		c.keys++
		if m.ExpireAt != 0 {
			c.expires++
			wantIdx[string(expiryKey(slot, m.ExpireAt, key))] = true
		}
	}
	for _, k := range spanKeys(t, r, store.PrefixSub, allSlots) {
		if len(k) < subPrefixLen {
			t.Errorf("sub-key %x is too short", k)
			continue
		}
		if !liveColls[string(k[:subPrefixLen])] {
			t.Errorf("orphan sub-key %x: no collection of slot %d has version %d", k,
				binary.BigEndian.Uint16(k[1:3]), binary.BigEndian.Uint64(k[3:11]))
		}
	}
	for _, k := range spanKeys(t, r, store.PrefixExpiry, allSlots) {
		if len(k) < 11 {
			t.Errorf("expiry-index key %x is too short", k)
			continue
		}
		if !wantIdx[string(k)] {
			slot, dl, key := binary.BigEndian.Uint16(k[1:3]), int64(binary.BigEndian.Uint64(k[3:11])), k[11:]
			m, ok := rawMetaOf(t, r, key)
			t.Errorf("stale expiry-index entry: slot %d deadline %d key %q (key present %v, its deadline %d)",
				slot, dl, key, ok, m.ExpireAt)
			continue
		}
		delete(wantIdx, string(k))
	}
	for k := range wantIdx {
		b := []byte(k)
		t.Errorf("key %q has deadline %d but no expiry-index entry", b[11:], int64(binary.BigEndian.Uint64(b[3:11])))
	}
	for _, k := range spanKeys(t, r, store.PrefixCount, allSlots) {
		v, closer, err := r.Get(k)
		must(t, err)
		if len(k) != 3 || len(v) != 16 {
			t.Fatalf("counter key %x holds %d bytes, want a 3-byte key and 16-byte value", k, len(v))
		}
		durable[binary.BigEndian.Uint16(k[1:])] = slotCount{int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))}
		closer.Close()
	}
	loaded, err := LoadCounts(r)
	must(t, err)
	for s := range routing.NumSlots {
		slot := uint16(s)
		want := scanned[slot]
		one := routing.Range{Start: slot, End: slot + 1}
		if got := (slotCount{counts.Keys(one), counts.Expires(one)}); got != want {
			t.Errorf("slot %d: in-memory counters keys=%d expires=%d, scan finds keys=%d expires=%d",
				slot, got.keys, got.expires, want.keys, want.expires)
		}
		if got := durable[slot]; got != want {
			t.Errorf("slot %d: durable counters keys=%d expires=%d, scan finds keys=%d expires=%d",
				slot, got.keys, got.expires, want.keys, want.expires)
		}
		if got := (slotCount{loaded.Keys(one), loaded.Expires(one)}); got != want {
			t.Errorf("slot %d: LoadCounts gives keys=%d expires=%d, scan finds keys=%d expires=%d",
				slot, got.keys, got.expires, want.keys, want.expires)
		}
		if got := counts.SlotKeys(slot); got != want.keys {
			t.Errorf("slot %d: SlotKeys = %d, scan finds %d", slot, got, want.keys)
		}
	}
}

// describe renders a Meta for failure messages.
func describe(m Meta, ok bool) string {
	if !ok {
		return "absent"
	}
	return fmt.Sprintf("%s value=%q expireAt=%d lastWrite=%d version=%d size=%d extra=%x enc=%d",
		m.Type, m.Value, m.ExpireAt, m.LastWrite, m.Version, m.Size, m.Extra, m.Enc)
}
