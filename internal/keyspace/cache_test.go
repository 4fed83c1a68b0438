package keyspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
)

// cenv is an env whose write Txns go through a MetaCache (nil: none) the way a shard's apply
// loop drives them: several Txns share one indexed batch, the batch is committed, then the
// counters and the cache are published, then the batch is closed.
type cenv struct {
	*env
	cache *MetaCache
}

// Its cache's presence filter is built (so valid) from the start: every cache test also checks
// that the filter never hides a key.
func newCachedEnv(t testing.TB, maxBytes int64) *cenv {
	t.Helper()
	e := &cenv{env: newEnv(t), cache: NewMetaCache(maxBytes)}
	if e.cache != nil {
		must(t, e.cache.present.build(context.Background(), e.db))
		if !e.cache.present.valid.Load() {
			t.Fatal("presence filter not valid after a build on an empty DB")
		}
	}
	return e
}

// wtx returns a write Txn on b using the env's cache, as node.Apply builds it.
func (e *cenv) wtx(b *pebble.Batch, now int64, index uint64) *Txn {
	return NewWriteTxn(b, now, index, e.counts).WithCache(e.cache, false)
}

// rtx returns a read Txn on the live DB through the cache, as node's single-key read path.
func (e *cenv) rtx(now int64) *Txn {
	return NewReadTxn(e.db, now, e.counts).WithCache(e.cache, true)
}

// commit commits b without publishing it, preparing the cache first as internal/shard does
// (BatchCommitting).
func (e *cenv) commit(b *pebble.Batch) {
	e.t.Helper()
	e.cache.Prepare(b)
	if err := b.Commit(pebble.NoSync); err != nil {
		e.t.Fatalf("commit: %v", err)
	}
}

// publish publishes b's staged counters and cache entries, then closes b (internal/shard
// calls BatchCommitted before Close: Pebble pools batches).
func (e *cenv) publish(b *pebble.Batch) {
	e.counts.Publish(b)
	e.cache.Publish(b)
	b.Close()
}

// batch runs every fn as its own write Txn (index, index+1, ...) on one batch, then commits
// and publishes it.
func (e *cenv) batch(now int64, index uint64, fns ...func(tx *Txn)) {
	e.t.Helper()
	b := e.db.NewIndexedBatch()
	for i, fn := range fns {
		fn(e.wtx(b, now, index+uint64(i)))
	}
	e.commit(b)
	e.publish(b)
}

// lookup renders key's Lookup through tx (for comparisons and failure messages).
func lookup(t testing.TB, tx *Txn, key []byte) string {
	t.Helper()
	m, ok, err := tx.Lookup(key)
	must(t, err)
	return describe(m, ok)
}

// dumpDB renders every key and value under the slot-ordered prefixes of r.
func dumpDB(t testing.TB, r pebble.Reader) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, p := range DataPrefixes {
		lo, hi := SpanBounds(p, allSlots)
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		must(t, err)
		for it.First(); it.Valid(); it.Next() {
			fmt.Fprintf(&out, "%x=%x\n", it.Key(), it.Value())
		}
		must(t, it.Close())
	}
	return out.Bytes()
}

// firstDumpDiff returns the first differing line of two dumps.
func firstDumpDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y []byte
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d: %q vs %q", i, x, y)
		}
	}
	return "none"
}

// cacheEntry is one cached key as copied out of a stripe.
type cacheEntry struct {
	key string
	enc []byte
}

// cacheEntries copies every stripe's entries and byte count (each stripe under its lock).
func cacheEntries(c *MetaCache) (entries [cacheStripes][]cacheEntry, counted [cacheStripes]int64) {
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		s.t.each(func(k, v []byte) {
			entries[i] = append(entries[i], cacheEntry{string(k), v})
		})
		counted[i] = s.bytes
		s.mu.Unlock()
	}
	return entries, counted
}

// checkCacheCoherent checks, with no write in flight, that every cached entry equals what
// Pebble holds (nil: absent), that each stripe's byte count is the sum of its entries and
// within the per-stripe budget, that entries live in their key's stripe, and that no batch
// is left staged.
func checkCacheCoherent(t testing.TB, c *MetaCache, db pebble.Reader) {
	t.Helper()
	if c == nil {
		return
	}
	entries, counted := cacheEntries(c)
	for i := range entries {
		var sum int64
		for _, e := range entries[i] {
			key := []byte(e.key)
			if s, _ := c.locate(key); s != &c.stripes[i] {
				t.Errorf("key %q cached in stripe %d, which is not its stripe", key, i)
			}
			sum += int64(len(key) + len(e.enc) + entryOverhead)
			v, closer, err := db.Get(MetaKey(key))
			switch {
			case errors.Is(err, pebble.ErrNotFound):
				if e.enc != nil {
					m, _ := decodeMeta(e.enc)
					t.Errorf("cache holds %q as %s, Pebble has no such key", key, describe(m, true))
				}
			case err != nil:
				t.Fatal(err)
			default:
				if !bytes.Equal(v, e.enc) {
					t.Errorf("cache holds %q as %x, Pebble holds %x", key, e.enc, v)
				}
				closer.Close()
			}
		}
		if sum != counted[i] {
			t.Errorf("stripe %d counts %d bytes, its entries add up to %d", i, counted[i], sum)
		}
		if counted[i] > c.maxBytes {
			t.Errorf("stripe %d holds %d bytes, budget %d", i, counted[i], c.maxBytes)
		}
	}
	c.mu.Lock()
	staged := len(c.staged)
	c.mu.Unlock()
	if staged != 0 {
		t.Errorf("%d batches still staged after every batch was published or discarded", staged)
	}
}

// cacheOp is one randomly chosen Txn operation, generated before it runs so that the same
// sequence can be applied to two environments.
type cacheOp struct {
	kind  int
	key   []byte
	value []byte
	at    int64
	enc   Encoding
	typ   Type
	size  int64
	rg    routing.Range
	flip  int
	extra []byte
}

const (
	opSet = iota
	opSetEnc
	opPut
	opDelete
	opSetExpire
	opLookup
	opExpireIfDue
	opEditInPlace
	opFlushRange
)

func genCacheOp(rng *rand.Rand, keys [][]byte, now int64) cacheOp {
	op := cacheOp{key: keys[rng.IntN(len(keys))], flip: rng.IntN(64)}
	deadline := func() int64 {
		if rng.IntN(3) == 0 {
			return 0
		}
		return now + int64(rng.IntN(300)) - 50 // some already due
	}
	valueLen := rng.IntN(120)
	if rng.IntN(25) == 0 {
		valueLen = 600 + rng.IntN(600) // larger than a stripe's whole budget
	}
	op.value = make([]byte, valueLen)
	for i := range op.value {
		op.value[i] = byte('a' + rng.IntN(26))
	}
	switch r := rng.IntN(100); {
	case r < 18:
		op.kind, op.at = opSet, deadline()
	case r < 26:
		op.kind, op.at, op.enc = opSetEnc, deadline(), Encoding(rng.IntN(3))
	case r < 36:
		op.kind, op.at, op.typ, op.size = opPut, deadline(), Type(2+rng.IntN(4)), int64(rng.IntN(100))
		op.extra = op.value[:min(len(op.value), 12)]
	case r < 50:
		op.kind = opDelete
	case r < 62:
		op.kind, op.at = opSetExpire, deadline()
	case r < 80:
		op.kind = opLookup
	case r < 88:
		op.kind = opExpireIfDue
	case r < 99:
		op.kind = opEditInPlace
	default:
		s := routing.Slot(op.key)
		op.kind, op.rg = opFlushRange, routing.Range{Start: s - min(s, 1), End: min(s+2, routing.NumSlots)}
	}
	return op
}

// run applies op to tx and renders its outcome.
func (op cacheOp) run(t testing.TB, tx *Txn) string {
	t.Helper()
	switch op.kind {
	case opSet:
		must(t, tx.SetString(op.key, op.value, op.at))
		return "ok"
	case opSetEnc:
		must(t, tx.SetStringEnc(op.key, op.value, op.at, op.enc))
		return "ok"
	case opPut:
		must(t, tx.Put(op.key, Meta{Type: op.typ, Version: tx.NewVersion(), Size: op.size, ExpireAt: op.at, Extra: op.extra}))
		return "ok"
	case opDelete:
		ok, err := tx.Delete(op.key)
		must(t, err)
		return fmt.Sprint(ok)
	case opSetExpire:
		ok, err := tx.SetExpire(op.key, op.at)
		must(t, err)
		return fmt.Sprint(ok)
	case opLookup:
		return lookup(t, tx, op.key)
	case opExpireIfDue:
		ok, err := tx.ExpireIfDue(op.key)
		must(t, err)
		return fmt.Sprint(ok)
	case opEditInPlace:
		// What SETBIT/SETRANGE/APPEND or a collection write do: edit the looked-up metadata
		// in place, then write it back.
		m, ok, err := tx.Lookup(op.key)
		must(t, err)
		if !ok {
			return "absent"
		}
		before := describe(m, ok)
		if len(m.Value) > 0 {
			m.Value[op.flip%len(m.Value)] ^= 0x20
		}
		m.Value = append(m.Value, '!')
		if len(m.Extra) > 0 {
			m.Extra[op.flip%len(m.Extra)]++
		}
		m.Extra = append(m.Extra, byte(op.flip))
		if m.Type == TypeString {
			m.Extra = nil
			m.Enc = EncRaw
		} else {
			m.Value = nil
			m.Size++
		}
		must(t, tx.Put(op.key, m))
		return before
	case opFlushRange:
		must(t, tx.FlushRange(op.rg))
		return "ok"
	}
	t.Fatalf("unknown op %d", op.kind)
	return ""
}

func (op cacheOp) String() string {
	names := []string{"Set", "SetEnc", "Put", "Delete", "SetExpire", "Lookup", "ExpireIfDue", "EditInPlace", "FlushRange"}
	return fmt.Sprintf("%s(%q)", names[op.kind], op.key)
}

// TestCacheRandomEquivalence runs the same seeded random Txn operations on two identical DBs,
// one whose Txns go through a small MetaCache (so entries are evicted all the time) and one
// with no cache. Every operation must return the same thing on both; between the Txns of a
// batch, cached reads must return the committed state; after every batch the DBs must be
// byte-identical, every key must read the same through a cached read Txn (twice: fill, then
// hit) as through an uncached one, and every cached entry must equal Pebble.
func TestCacheRandomEquivalence(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2024))
			cached := newCachedEnv(t, cacheStripes*400)
			plain := &cenv{env: newEnv(t)}
			if cached.cache == nil || plain.cache != nil {
				t.Fatal("test bug: environments misconfigured")
			}
			var keys [][]byte
			for i := range 8 {
				keys = append(keys, keyInSlot(200, fmt.Sprint("a", i)), keyInSlot(201, fmt.Sprint("b", i)), keyInSlot(203, fmt.Sprint("c", i)))
			}
			for i := range 100 {
				keys = append(keys, fmt.Appendf(nil, "key:%d", i))
			}
			now, index := baseNow, uint64(10)
			evicted := false
			for batchNo := range 150 {
				bc, bp := cached.db.NewIndexedBatch(), plain.db.NewIndexedBatch()
				txns := 1 + rng.IntN(4)
				for range txns {
					tc, tp := cached.wtx(bc, now, index), plain.wtx(bp, now, index)
					for range 1 + rng.IntN(8) {
						op := genCacheOp(rng, keys, now)
						if got, want := op.run(t, tc), op.run(t, tp); got != want {
							t.Fatalf("batch %d index %d: %s = %s with the cache, %s without", batchNo, index, op, got, want)
						}
					}
					if tc.Expired != tp.Expired {
						t.Fatalf("batch %d index %d: Expired %d with the cache, %d without", batchNo, index, tc.Expired, tp.Expired)
					}
					// Mid-batch, cached reads of the live DB see only committed state.
					for range 3 {
						k := keys[rng.IntN(len(keys))]
						if got, want := lookup(t, cached.rtx(now), k), lookup(t, plain.rtx(now), k); got != want {
							t.Fatalf("batch %d, before commit: cached read of %q = %s, uncached %s", batchNo, k, got, want)
						}
					}
					if rng.IntN(2) == 0 {
						index++
					}
				}
				cached.commit(bc)
				plain.commit(bp)
				cached.publish(bc)
				plain.publish(bp)
				index++

				if c, p := dumpDB(t, cached.db), dumpDB(t, plain.db); !bytes.Equal(c, p) {
					t.Fatalf("after batch %d the DBs differ: %s", batchNo, firstDumpDiff(c, p))
				}
				readNow := now + int64(rng.IntN(100))
				for pass := range 1 + batchNo%2 { // every other batch, a second pass of hits
					for _, k := range keys {
						if got, want := lookup(t, cached.rtx(readNow), k), lookup(t, plain.rtx(readNow), k); got != want {
							t.Fatalf("after batch %d (pass %d): cached read of %q = %s, uncached %s", batchNo, pass, k, got, want)
						}
					}
				}
				if cached.cache.Len() < len(keys) {
					evicted = true
				}
				checkCacheCoherent(t, cached.cache, cached.db)
				if batchNo%50 == 0 {
					checkInvariants(t, cached.db, cached.counts)
				}
				if t.Failed() {
					t.Fatalf("after batch %d", batchNo)
				}
				now += int64(rng.IntN(30))
			}
			checkInvariants(t, cached.db, cached.counts)
			if !evicted {
				t.Errorf("the cache never evicted anything (%d keys cached of %d): the test did not exercise eviction", cached.cache.Len(), len(keys))
			}
		})
	}
}

// TestCacheStaging: a batch's writes reach the cache only when it is published. Before that a
// cached read of the live DB returns the committed value, while the batch's later write Txns
// see the earlier ones' staged writes, a staged delete included (it must not fall through to
// the cache, which still has the key).
func TestCacheStaging(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	upd, del, fresh := []byte("updated"), []byte("deleted"), []byte("fresh")
	ttl := []byte("ttl")
	e.batch(baseNow, 10, func(tx *Txn) {
		must(t, tx.SetString(upd, []byte("v1"), 0))
		must(t, tx.SetString(del, []byte("d1"), 0))
		must(t, tx.SetString(ttl, []byte("t1"), 0))
	})
	// Warm the cache: every key cached, fresh as absent.
	r := e.rtx(baseNow)
	for _, k := range [][]byte{upd, del, fresh, ttl} {
		lookup(t, r, k)
		if _, hit, _ := e.cache.get(k); !hit {
			t.Fatalf("%q not cached after a read", k)
		}
	}
	committed := map[string]string{}
	for _, k := range [][]byte{upd, del, fresh, ttl} {
		committed[string(k)] = lookup(t, e.rtx(baseNow), k)
	}

	b := e.db.NewIndexedBatch()
	tx1 := e.wtx(b, baseNow, 11)
	must(t, tx1.SetString(upd, []byte("v2"), 0))
	if ok, err := tx1.Delete(del); !ok || err != nil {
		t.Fatalf("Delete(%q) = %v, %v", del, ok, err)
	}
	must(t, tx1.SetString(fresh, []byte("f2"), 0))
	if ok, err := tx1.SetExpire(ttl, baseNow+100000); !ok || err != nil {
		t.Fatalf("SetExpire(%q) = %v, %v", ttl, ok, err)
	}

	checkCommitted := func(when string) {
		t.Helper()
		for k, want := range committed {
			if got := lookup(t, e.rtx(baseNow), []byte(k)); got != want {
				t.Errorf("%s: cached read of %q = %s, want the committed %s", when, k, got, want)
			}
		}
	}
	checkCommitted("batch staged, not committed")

	// A second write Txn of the same batch sees the first one's writes.
	tx2 := e.wtx(b, baseNow, 12)
	if got, ok, err := tx2.GetString(upd); !ok || err != nil || string(got) != "v2" {
		t.Errorf("second Txn: GetString(%q) = %q, %v, %v; want the staged v2", upd, got, ok, err)
	}
	if m, ok, err := tx2.Lookup(del); ok || err != nil {
		t.Errorf("second Txn: Lookup(%q) = %s, %v; want absent (staged delete), not the cached value", del, describe(m, ok), err)
	}
	if got, ok, err := tx2.GetString(fresh); !ok || err != nil || string(got) != "f2" {
		t.Errorf("second Txn: GetString(%q) = %q, %v, %v; want the staged f2", fresh, got, ok, err)
	}
	if m, ok, err := tx2.Lookup(ttl); !ok || err != nil || m.ExpireAt != baseNow+100000 {
		t.Errorf("second Txn: Lookup(%q) = %s, %v; want the staged deadline", ttl, describe(m, ok), err)
	}
	// Deleting again is a no-op; recreating after the staged delete counts as a new key.
	if ok, err := tx2.Delete(del); ok || err != nil {
		t.Errorf("second Txn: Delete(%q) of a staged-deleted key = %v, %v; want false", del, ok, err)
	}
	tx3 := e.wtx(b, baseNow, 13)
	must(t, tx3.SetString(del, []byte("d3"), 0))
	if ok, err := tx3.Delete(fresh); !ok || err != nil {
		t.Errorf("third Txn: Delete(%q) = %v, %v; want true (staged by the first Txn)", fresh, ok, err)
	}
	tx4 := e.wtx(b, baseNow, 14)
	if got, ok, _ := tx4.GetString(del); !ok || string(got) != "d3" {
		t.Errorf("fourth Txn: GetString(%q) = %q, %v; want d3", del, got, ok)
	}
	if m, ok, _ := tx4.Lookup(fresh); ok {
		t.Errorf("fourth Txn: Lookup(%q) = %s; want absent", fresh, describe(m, ok))
	}
	checkCommitted("batch staged by four Txns, not committed")

	e.commit(b)
	e.publish(b)
	want := map[string]string{
		string(upd):   "v2",
		string(del):   "d3",
		string(fresh): "",
	}
	for k, v := range want {
		got, ok, err := e.rtx(baseNow).GetString([]byte(k))
		must(t, err)
		if v == "" && ok || v != "" && (!ok || string(got) != v) {
			t.Errorf("after Publish: cached GetString(%q) = %q present=%v, want %q", k, got, ok, v)
		}
		if _, hit, _ := e.cache.get([]byte(k)); !hit {
			t.Errorf("after Publish: %q is not cached; Publish should install staged writes", k)
		}
	}
	if m, ok, _ := e.rtx(baseNow).Lookup(ttl); !ok || m.ExpireAt != baseNow+100000 {
		t.Errorf("after Publish: %q = %s, want the new deadline", ttl, describe(m, ok))
	}
	checkCacheCoherent(t, e.cache, e.db)
	checkInvariants(t, e.db, e.counts)
}

// TestCacheDiscard: the staged writes of a batch closed without commit never reach the cache
// and do not leak into the next batch.
func TestCacheDiscard(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	key := []byte("k")
	e.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(key, []byte("committed"), 0)) })
	lookup(t, e.rtx(baseNow), key)

	b := e.db.NewIndexedBatch()
	must(t, e.wtx(b, baseNow, 11).SetString(key, []byte("discarded"), 0))
	must(t, e.wtx(b, baseNow, 11).FlushRange(allSlots))
	e.counts.Discard(b)
	e.cache.Discard(b)
	b.Close()
	// Pebble pools batches: the next one may be the same pointer.
	e.batch(baseNow, 12, func(tx *Txn) {
		if got, ok, _ := tx.GetString(key); !ok || string(got) != "committed" {
			t.Errorf("next batch reads %q = %q present=%v; want committed", key, got, ok)
		}
	})
	if got, ok, _ := e.rtx(baseNow).GetString(key); !ok || string(got) != "committed" {
		t.Errorf("cached read after Discard = %q present=%v; want committed", got, ok)
	}
	if e.cache.Len() == 0 {
		t.Error("the discarded FlushRange cleared the cache")
	}
	checkCacheCoherent(t, e.cache, e.db)
}

// TestCacheNil: NewMetaCache(<=0) is nil and a nil cache is usable everywhere.
func TestCacheNil(t *testing.T) {
	for _, n := range []int64{0, -1} {
		if c := NewMetaCache(n); c != nil {
			t.Errorf("NewMetaCache(%d) = %p, want nil", n, c)
		}
	}
	e := &cenv{env: newEnv(t)}
	e.batch(baseNow, 10, func(tx *Txn) {
		must(t, tx.SetString([]byte("k"), []byte("v"), 0))
		must(t, tx.FlushRange(routing.Range{Start: 0, End: 1}))
	})
	if got, ok, _ := e.rtx(baseNow).GetString([]byte("k")); !ok || string(got) != "v" {
		t.Errorf("read with a nil cache = %q, %v", got, ok)
	}
	var c *MetaCache
	c.Discard(nil)
	if c.Len() != 0 {
		t.Error("nil cache has entries")
	}
}

// TestCacheFlushRange: after a FlushRange, later lookups of the same batch bypass the cache
// (the flushed keys read as absent, others as the batch sees them), cached reads of the live
// DB keep returning committed state until Publish, and Publish clears the whole cache.
func TestCacheFlushRange(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	in1, in2 := keyInSlot(300, "one"), keyInSlot(300, "two")
	out1, out2 := keyInSlot(5000, "one"), keyInSlot(5000, "two")
	all := [][]byte{in1, in2, out1, out2}
	e.batch(baseNow, 10, func(tx *Txn) {
		for _, k := range all {
			must(t, tx.SetString(k, append([]byte("old-"), k...), 0))
		}
	})
	for _, k := range all {
		lookup(t, e.rtx(baseNow), k)
	}
	if e.cache.Len() != len(all) {
		t.Fatalf("cache holds %d keys after reading %d", e.cache.Len(), len(all))
	}

	b := e.db.NewIndexedBatch()
	tx1 := e.wtx(b, baseNow, 11)
	must(t, tx1.SetString(out2, []byte("before-flush"), 0))
	must(t, tx1.SetString(in2, []byte("staged-then-flushed"), 0))
	tx2 := e.wtx(b, baseNow, 12)
	must(t, tx2.FlushRange(routing.Range{Start: 300, End: 301}))
	tx3 := e.wtx(b, baseNow, 13)
	if m, ok, _ := tx3.Lookup(in1); ok {
		t.Errorf("after FlushRange in the batch: Lookup(%q) = %s; want absent (the cache still has it)", in1, describe(m, ok))
	}
	if m, ok, _ := tx3.Lookup(in2); ok {
		t.Errorf("after FlushRange in the batch: Lookup(%q) = %s; want absent (a staged write before the flush)", in2, describe(m, ok))
	}
	if got, ok, _ := tx3.GetString(out1); !ok || string(got) != "old-"+string(out1) {
		t.Errorf("after FlushRange in the batch: GetString(%q) = %q, %v; want its committed value", out1, got, ok)
	}
	if got, ok, _ := tx3.GetString(out2); !ok || string(got) != "before-flush" {
		t.Errorf("after FlushRange in the batch: GetString(%q) = %q, %v; want the staged before-flush", out2, got, ok)
	}
	must(t, tx3.SetString(in1, []byte("after-flush"), 0))
	tx4 := e.wtx(b, baseNow, 14)
	if got, ok, _ := tx4.GetString(in1); !ok || string(got) != "after-flush" {
		t.Errorf("a write after the flush reads back %q, %v", got, ok)
	}
	if ok, err := tx4.Delete(in2); ok || err != nil {
		t.Errorf("Delete of a flushed key = %v, %v; want false", ok, err)
	}
	for _, k := range all {
		if got := lookup(t, e.rtx(baseNow), k); got != describe(Meta{Type: TypeString, Value: append([]byte("old-"), k...), LastWrite: 10}, true) {
			t.Errorf("before commit: cached read of %q = %s, want its committed value", k, got)
		}
	}
	e.commit(b)
	e.publish(b)
	if n := e.cache.Len(); n != 0 {
		t.Errorf("after publishing a FlushRange the cache holds %d keys, want 0", n)
	}
	want := map[string]string{string(in1): "after-flush", string(in2): "", string(out1): "old-" + string(out1), string(out2): "before-flush"}
	for range 2 {
		for k, v := range want {
			got, ok, err := e.rtx(baseNow).GetString([]byte(k))
			must(t, err)
			if v == "" && ok || v != "" && (!ok || string(got) != v) {
				t.Errorf("after Publish: GetString(%q) = %q present=%v, want %q", k, got, ok, v)
			}
		}
	}
	checkCacheCoherent(t, e.cache, e.db)
	checkInvariants(t, e.db, e.counts)
}

// TestCacheSnapshotReadIgnoresCache: a read Txn on a snapshot (live=false) must read the
// snapshot, not the cache's newer committed state, and must not fill the cache with what may
// be an old value.
func TestCacheSnapshotReadIgnoresCache(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	key, cold := []byte("k"), []byte("cold")
	e.batch(baseNow, 10, func(tx *Txn) {
		must(t, tx.SetString(key, []byte("v1"), 0))
		must(t, tx.SetString(cold, []byte("c1"), 0))
	})
	snap := e.db.NewSnapshot()
	defer snap.Close()
	e.batch(baseNow, 11, func(tx *Txn) {
		must(t, tx.SetString(key, []byte("v2"), 0))
		must(t, tx.SetString(cold, []byte("c2"), 0))
	})
	evict(e.cache, cold)
	for range 2 {
		tx := NewReadTxn(snap, baseNow, e.counts).WithCache(e.cache, false)
		if got, _, _ := tx.GetString(key); string(got) != "v1" {
			t.Errorf("snapshot read through WithCache(c, false) = %q, want the snapshot's v1", got)
		}
		if got, _, _ := tx.GetString(cold); string(got) != "c1" {
			t.Errorf("snapshot read of an uncached key = %q, want c1", got)
		}
	}
	if got, _, _ := e.rtx(baseNow).GetString(cold); string(got) != "c2" {
		t.Errorf("live cached read after snapshot reads = %q, want c2", got)
	}
	checkCacheCoherent(t, e.cache, e.db)
}

// sameStripeKey returns a key other than key in key's stripe, and one in another stripe.
func sameStripeKey(t testing.TB, c *MetaCache, key []byte) (same, other []byte) {
	t.Helper()
	home, _ := c.locate(key)
	for i := 0; same == nil || other == nil; i++ {
		k := fmt.Appendf(nil, "probe:%d", i)
		if sk, _ := c.locate(k); sk == home {
			if same == nil {
				same = k
			}
		} else if other == nil {
			other = k
		}
		if i > 100000 {
			t.Fatal("no key found in the stripe")
		}
	}
	return same, other
}

// readPebble returns key's encoded metadata straight from r (nil: absent).
func readPebble(t testing.TB, r pebble.Reader, key []byte) []byte {
	t.Helper()
	v, closer, err := r.Get(MetaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	must(t, err)
	defer closer.Close()
	return bytes.Clone(v)
}

// TestCacheFillRace simulates a reader that misses (get), reads Pebble, and only then fills,
// while a writer publishes a new value in between: for the same key, for another key of the
// same stripe, for a key created in between, and for a FlushRange. The reader's older value
// must never be installed over the published one. A fill with no publish in between is
// installed (the positive control).
func TestCacheFillRace(t *testing.T) {
	type race struct {
		name string
		// write publishes the writer's batch; readKey is the key the racing reader fills.
		write   func(e *cenv, key, sameStripe []byte)
		readKey func(key, sameStripe []byte) []byte
	}
	races := []race{
		{"same key overwritten", func(e *cenv, key, _ []byte) {
			e.batch(baseNow, 20, func(tx *Txn) { must(t, tx.SetString(key, []byte("new"), 0)) })
		}, func(key, _ []byte) []byte { return key }},
		{"same key deleted", func(e *cenv, key, _ []byte) {
			e.batch(baseNow, 20, func(tx *Txn) { _, err := tx.Delete(key); must(t, err) })
		}, func(key, _ []byte) []byte { return key }},
		{"same key gets a deadline", func(e *cenv, key, _ []byte) {
			e.batch(baseNow, 20, func(tx *Txn) { _, err := tx.SetExpire(key, baseNow+1); must(t, err) })
		}, func(key, _ []byte) []byte { return key }},
		{"absent key created", func(e *cenv, _, same []byte) {
			e.batch(baseNow, 20, func(tx *Txn) { must(t, tx.SetString(same, []byte("created"), 0)) })
		}, func(_, same []byte) []byte { return same }},
		{"other key of the stripe written", func(e *cenv, _, same []byte) {
			e.batch(baseNow, 20, func(tx *Txn) { must(t, tx.SetString(same, []byte("created"), 0)) })
		}, func(key, _ []byte) []byte { return key }},
		{"flush of the key's slot", func(e *cenv, key, _ []byte) {
			s := routing.Slot(key)
			e.batch(baseNow, 20, func(tx *Txn) { must(t, tx.FlushRange(routing.Range{Start: s, End: s + 1})) })
		}, func(key, _ []byte) []byte { return key }},
		{"flush of another slot", func(e *cenv, key, _ []byte) {
			s := (routing.Slot(key) + 1) % routing.NumSlots
			e.batch(baseNow, 20, func(tx *Txn) { must(t, tx.FlushRange(routing.Range{Start: s, End: s + 1})) })
		}, func(key, _ []byte) []byte { return key }},
	}
	for _, rc := range races {
		t.Run(rc.name, func(t *testing.T) {
			e := newCachedEnv(t, 1<<20)
			key := []byte("raced")
			same, _ := sameStripeKey(t, e.cache, key)
			e.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(key, []byte("old"), 0)) })
			e.cache.clear() // the reader must miss
			rk := rc.readKey(key, same)
			if _, hit, _ := e.cache.get(rk); hit {
				t.Fatalf("test bug: %q cached before the race", rk)
			}

			_, hit, seq := e.cache.get(rk) // the reader misses...
			if hit {
				t.Fatal("miss expected")
			}
			stale := readPebble(t, e.db, rk) // ...reads Pebble...
			rc.write(e, key, same)           // ...a writer publishes...
			e.cache.fill(rk, stale, seq)     // ...and the reader fills what it read.

			current := readPebble(t, e.db, rk)
			if enc, hit, _ := e.cache.get(rk); hit && !bytes.Equal(enc, current) {
				ms, _ := decodeMeta(enc)
				mc, _ := decodeMeta(current)
				t.Fatalf("cache holds %q as %s (the reader's stale fill), Pebble has %s",
					rk, describe(ms, enc != nil), describe(mc, current != nil))
			}
			if !bytes.Equal(stale, current) {
				if enc, hit, _ := e.cache.get(rk); hit && bytes.Equal(enc, stale) {
					t.Fatalf("stale fill of %q installed", rk)
				}
			}
			for range 2 {
				got := lookup(t, e.rtx(baseNow), rk)
				want := lookup(t, NewReadTxn(e.db, baseNow, e.counts), rk)
				if got != want {
					t.Fatalf("cached read of %q = %s, Pebble has %s", rk, got, want)
				}
			}
			checkCacheCoherent(t, e.cache, e.db)
		})
	}

	t.Run("no publish in between: fill installed", func(t *testing.T) {
		e := newCachedEnv(t, 1<<20)
		key := []byte("filled")
		_, other := sameStripeKey(t, e.cache, key)
		e.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(key, []byte("v"), 0)) })
		e.cache.clear()
		_, _, seq := e.cache.get(key)
		enc := readPebble(t, e.db, key)
		// A publish in another stripe does not stop the fill.
		e.batch(baseNow, 11, func(tx *Txn) { must(t, tx.SetString(other, []byte("w"), 0)) })
		e.cache.fill(key, enc, seq)
		if got, hit, _ := e.cache.get(key); !hit || !bytes.Equal(got, enc) {
			t.Fatalf("fill with an unchanged stripe sequence not installed: hit=%v %x", hit, got)
		}
	})
}

// evict drops key from the cache the way install's eviction does (another key's fill in the
// same stripe), without touching the stripe's sequence.
func evict(c *MetaCache, key []byte) {
	s, h := c.locate(key)
	s.mu.Lock()
	s.evict(h, key)
	s.mu.Unlock()
}

// TestCacheCommitPublishWindow: between a batch's commit to Pebble and its Publish, Pebble
// already holds the new value; Prepare must have hidden the old one from the cache. A read that does not use
// the cache (a multi-key read's snapshot, KEYS, SCAN, DBSIZE's counters) or misses it sees the
// new state; a later cached read of the same key must not see the old one again (reads must
// not go back in time, as they never do without the cache).
func TestCacheCommitPublishWindow(t *testing.T) {
	t.Run("snapshot read then cached read", func(t *testing.T) {
		e := newCachedEnv(t, 1<<20)
		key := []byte("k")
		e.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(key, []byte("v1"), 0)) })

		b := e.db.NewIndexedBatch()
		must(t, e.wtx(b, baseNow, 11).SetString(key, []byte("v2"), 0))
		e.commit(b) // v2 is in Pebble; Publish has not run yet
		snap := e.db.NewSnapshot()
		first, _, err := NewReadTxn(snap, baseNow, e.counts).GetString(key) // e.g. MGET k other
		must(t, err)
		must(t, snap.Close())
		second, _, err := e.rtx(baseNow).GetString(key) // then GET k
		must(t, err)
		e.publish(b)
		if string(first) != "v2" || string(second) != "v2" {
			t.Errorf("a snapshot read returned %q, then a cached read %q; want v2 both times", first, second)
		}
	})
	t.Run("miss then racing fill", func(t *testing.T) {
		e := newCachedEnv(t, 1<<20)
		key := []byte("k")
		e.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(key, []byte("v1"), 0)) })
		e.cache.clear()

		_, _, seqA := e.cache.get(key)   // reader A misses...
		encA := readPebble(t, e.db, key) // ...and reads v1 from Pebble
		b := e.db.NewIndexedBatch()
		must(t, e.wtx(b, baseNow, 11).SetString(key, []byte("v2"), 0))
		e.commit(b)
		evict(e.cache, key) // another key's fill in the stripe evicts it; no Publish yet

		first, _, err := e.rtx(baseNow).GetString(key) // reader B misses and reads v2
		must(t, err)
		e.cache.fill(key, encA, seqA) // reader A's fill: the stripe sequence still matches
		second, _, err := e.rtx(baseNow).GetString(key)
		must(t, err)
		e.publish(b)
		if string(first) != "v2" || string(second) != "v2" {
			t.Errorf("reader B read %q, then %q; want v2 both times", first, second)
		}
	})
	t.Run("published counters then cached read", func(t *testing.T) {
		e := newCachedEnv(t, 1<<20)
		key := []byte("new")
		b := e.db.NewIndexedBatch()
		must(t, e.wtx(b, baseNow, 11).SetString(key, []byte("v"), 0)) // its lookup caches "absent"
		e.commit(b)
		e.counts.Publish(b) // node.BatchCommitted publishes the counters before the cache
		n := e.counts.Keys(allSlots)
		_, ok, err := e.rtx(baseNow).GetString(key)
		must(t, err)
		e.cache.Publish(b)
		b.Close()
		if n == 1 && !ok {
			t.Errorf("DBSIZE counted the key, then a cached read found it absent")
		}
	})
}

// TestCacheEvictionBounded writes and reads thousands of keys of varied sizes through a small
// cache: every stripe's byte count stays the exact sum of its entries and within the budget
// (plus at most one entry), entries do get evicted, evicted keys read correctly from Pebble
// again, and a small working set that fits stays cached.
func TestCacheEvictionBounded(t *testing.T) {
	const total = cacheStripes * 1024
	e := newCachedEnv(t, total)
	rng := rand.New(rand.NewPCG(5, 5))
	const nkeys = 3000
	keys := make([][]byte, nkeys)
	values := map[string][]byte{}
	maxEntry := int64(0)
	value := func(k []byte) []byte {
		n := 1 + rng.IntN(300)
		if rng.IntN(100) == 0 {
			n = 3000 // alone larger than a stripe's budget
		}
		v := bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n)
		values[string(k)] = v
		maxEntry = max(maxEntry, int64(len(k)+len(encodeMeta(nil, &Meta{Type: TypeString, Value: v}))+entryOverhead))
		return v
	}
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "evict:%d", i)
	}
	checkBound := func(when string) {
		t.Helper()
		entries, counted := cacheEntries(e.cache)
		var sum int64
		for i := range counted {
			var own int64
			for _, en := range entries[i] {
				own += int64(len(en.key) + len(en.enc) + entryOverhead)
			}
			if own != counted[i] {
				t.Fatalf("%s: stripe %d counts %d bytes, its entries add up to %d", when, i, counted[i], own)
			}
			if counted[i] > e.cache.maxBytes+maxEntry {
				t.Fatalf("%s: stripe %d holds %d bytes, budget %d (+%d for one entry)", when, i, counted[i], e.cache.maxBytes, maxEntry)
			}
			sum += counted[i]
		}
		if sum > total+cacheStripes*maxEntry {
			t.Fatalf("%s: the cache holds %d bytes, bound %d", when, sum, total+cacheStripes*maxEntry)
		}
	}
	index := uint64(10)
	for start := 0; start < nkeys; start += 100 {
		var fns []func(tx *Txn)
		for _, k := range keys[start : start+100] {
			fns = append(fns, func(tx *Txn) { must(t, tx.SetString(k, value(k), 0)) })
		}
		e.batch(baseNow, index, fns...)
		index += uint64(len(fns))
		checkBound(fmt.Sprintf("after writing keys %d..%d", start, start+99))
	}
	if n := e.cache.Len(); n >= nkeys || n == 0 {
		t.Fatalf("cache holds %d of %d keys: expected eviction to keep some, not all", n, nkeys)
	}
	check := func(k []byte) {
		t.Helper()
		got, ok, err := e.rtx(baseNow).GetString(k)
		must(t, err)
		if want := values[string(k)]; !ok || !bytes.Equal(got, want) {
			t.Fatalf("GetString(%q) = %d bytes present=%v, want %d bytes", k, len(got), ok, len(want))
		}
	}
	for pass := range 2 {
		for _, i := range rng.Perm(nkeys) {
			check(keys[i])
		}
		checkBound(fmt.Sprintf("after reading every key (pass %d)", pass))
	}
	// Overwrites with other sizes, deletes and reads, interleaved.
	for round := range 20 {
		var fns []func(tx *Txn)
		for range 50 {
			k := keys[rng.IntN(nkeys)]
			if rng.IntN(4) == 0 {
				fns = append(fns, func(tx *Txn) {
					_, err := tx.Delete(k)
					must(t, err)
					values[string(k)] = nil
				})
				continue
			}
			fns = append(fns, func(tx *Txn) { must(t, tx.SetString(k, value(k), 0)) })
		}
		e.batch(baseNow, index, fns...)
		index += uint64(len(fns))
		for range 200 {
			k := keys[rng.IntN(nkeys)]
			got, ok, err := e.rtx(baseNow).GetString(k)
			must(t, err)
			want := values[string(k)]
			if want == nil && ok || want != nil && (!ok || !bytes.Equal(got, want)) {
				t.Fatalf("round %d: GetString(%q) = %d bytes present=%v, want %d bytes present=%v", round, k, len(got), ok, len(want), want != nil)
			}
		}
		checkBound(fmt.Sprintf("round %d", round))
	}
	checkCacheCoherent(t, e.cache, e.db)

	// A small working set that fits in every stripe stays cached.
	small := newCachedEnv(t, total)
	var hot [][]byte
	for i := range 10 {
		hot = append(hot, fmt.Appendf(nil, "hot:%d", i))
	}
	small.batch(baseNow, 10, func(tx *Txn) {
		for _, k := range hot {
			must(t, tx.SetString(k, []byte("v"), 0))
		}
	})
	for _, k := range hot {
		lookup(t, small.rtx(baseNow), k)
	}
	for _, k := range hot {
		if _, hit, _ := small.cache.get(k); !hit {
			t.Errorf("hot key %q not cached although the working set fits", k)
		}
	}
}

// TestCacheSlicesImmutable: what a cached read returns aliases the cache and must never
// change: write Txns that edit looked-up metadata in place (SETBIT, SETRANGE, APPEND do) get
// their own copy, whether the metadata came from the cache, from the batch's staged writes,
// from a fill on a miss, or from the Txn's last-key memo.
func TestCacheSlicesImmutable(t *testing.T) {
	e := newCachedEnv(t, 1<<20)
	str, list := []byte("bits"), []byte("list")
	e.batch(baseNow, 10, func(tx *Txn) {
		must(t, tx.SetString(str, []byte("hello world"), 0))
		must(t, tx.Put(list, Meta{Type: TypeList, Version: tx.NewVersion(), Size: 3, Extra: []byte{1, 2, 3, 4}}))
	})
	ms, ok, err := e.rtx(baseNow).Lookup(str)
	if !ok || err != nil {
		t.Fatalf("Lookup(%q) = %v, %v", str, ok, err)
	}
	ml, ok, err := e.rtx(baseNow).Lookup(list)
	if !ok || err != nil {
		t.Fatalf("Lookup(%q) = %v, %v", list, ok, err)
	}
	encS, hit, _ := e.cache.get(str)
	if !hit || len(ms.Value) == 0 || &encS[len(encS)-1] != &ms.Value[len(ms.Value)-1] {
		t.Fatal("test bug: a cached read should hand out the cached slice itself")
	}
	encL, _, _ := e.cache.get(list)
	held := [][]byte{ms.Value, ml.Extra, encS, encL}
	want := make([][]byte, len(held))
	for i, h := range held {
		want[i] = bytes.Clone(h)
	}
	checkHeld := func(when string) {
		t.Helper()
		for i := range held {
			if !bytes.Equal(held[i], want[i]) {
				t.Fatalf("%s: a slice handed out by the cache changed from %x to %x", when, want[i], held[i])
			}
		}
	}

	b := e.db.NewIndexedBatch()
	edit := func(tx *Txn, key []byte, pos int) {
		t.Helper()
		m, ok, err := tx.Lookup(key)
		if !ok || err != nil {
			t.Fatalf("Lookup(%q) = %v, %v", key, ok, err)
		}
		if m.Type == TypeString {
			m.Value[pos] ^= 0x20 // SETBIT-like
			m.Value = append(m.Value, '!')
			m.Enc = EncRaw
		} else {
			m.Extra[pos] += 10
			m.Extra = append(m.Extra, 9)
			m.Size++
		}
		must(t, tx.Put(key, m))
	}
	// From the cache.
	tx1 := e.wtx(b, baseNow, 11)
	edit(tx1, str, 0)
	edit(tx1, list, 0)
	checkHeld("after in-place edits of cached metadata")
	// From the batch's staged writes, and the Txn's memo of the last key.
	tx2 := e.wtx(b, baseNow, 12)
	edit(tx2, str, 1)
	edit(tx2, str, 2)
	edit(tx2, list, 1)
	edit(tx2, list, 2)
	// An edit without a write leaves the staged value as it was.
	m, _, _ := tx2.Lookup(str)
	m.Value[3] = 'X'
	m, _, _ = tx2.Lookup(str)
	if string(m.Value) != "HELlo world!!!" {
		t.Errorf("after an unwritten in-place edit the Txn reads %q, want HELlo world!!!", m.Value)
	}
	m.Value[4] = 'Y'
	tx3 := e.wtx(b, baseNow, 13)
	if got, _, _ := tx3.GetString(str); string(got) != "HELlo world!!!" {
		t.Errorf("the next Txn reads %q, want HELlo world!!! (an unwritten edit leaked into the staged value)", got)
	}
	checkHeld("after in-place edits of staged metadata")
	e.commit(b)
	checkHeld("after commit")
	e.publish(b)
	checkHeld("after Publish")
	if got, _, _ := e.rtx(baseNow).GetString(str); string(got) != "HELlo world!!!" {
		t.Errorf("after Publish a cached read returns %q, want HELlo world!!!", got)
	}
	if m, _, _ := e.rtx(baseNow).Lookup(list); !bytes.Equal(m.Extra, []byte{11, 12, 13, 4, 9, 9, 9}) || m.Size != 6 {
		t.Errorf("after Publish the list reads %s", describe(m, true))
	}
	checkCacheCoherent(t, e.cache, e.db)

	// From a fill: a write Txn misses, fills the cache from Pebble, then edits its copy.
	e2 := newCachedEnv(t, 1<<20)
	e2.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(str, []byte("abc"), 0)) })
	e2.cache.clear()
	b2 := e2.db.NewIndexedBatch()
	tx := e2.wtx(b2, baseNow, 11)
	m, _, _ = tx.Lookup(str)
	filled, hit, _ := e2.cache.get(str)
	if !hit {
		t.Fatal("a write Txn's miss did not fill the cache")
	}
	filledWant := bytes.Clone(filled)
	m.Value[0] = 'Z'
	if !bytes.Equal(filled, filledWant) {
		t.Fatalf("editing a write Txn's lookup changed the entry it filled: %x, was %x", filled, filledWant)
	}
	checkCacheCoherent(t, e2.cache, e2.db) // b2 has no write: nothing staged
	e2.cache.Discard(b2)
	b2.Close()

	// A caller reusing the buffer it passed to SetString does not change the cached value.
	e3 := newCachedEnv(t, 1<<20)
	buf := []byte("original")
	e3.batch(baseNow, 10, func(tx *Txn) { must(t, tx.SetString(str, buf, 0)) })
	copy(buf, "CHANGED!")
	if got, _, _ := e3.rtx(baseNow).GetString(str); string(got) != "original" {
		t.Errorf("cached value %q after the caller reused its buffer, want original", got)
	}
}
