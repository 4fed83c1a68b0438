package keyspace

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// modelKey is what the test model expects a key to hold.
type modelKey struct {
	typ       Type
	value     []byte
	version   uint64
	size      int64
	expireAt  int64
	lastWrite uint64
}

// randomOps drives a write Txn with a random mix of every write primitive and checks each
// result against a model, committing one batch per "raft entry".
type randomOps struct {
	t     *testing.T
	e     *env
	rng   *rand.Rand
	keys  [][]byte
	model map[string]modelKey
	now   int64
	index uint64
}

func (r *randomOps) expired(m modelKey) bool { return m.expireAt != 0 && m.expireAt <= r.now }

// deadline picks a deadline around now: some already passed, most in the future.
func (r *randomOps) deadline() int64 {
	return r.now + int64(r.rng.IntN(400)) - 60
}

// lookupModel is Lookup's effect on the model in a write Txn: an expired key is deleted.
func (r *randomOps) lookupModel(k string) (modelKey, bool) {
	m, ok := r.model[k]
	if ok && r.expired(m) {
		delete(r.model, k)
		return modelKey{}, false
	}
	return m, ok
}

func (r *randomOps) step(tx *Txn) {
	t := r.t
	key := r.keys[r.rng.IntN(len(r.keys))]
	k := string(key)
	switch op := r.rng.IntN(100); {
	case op < 25: // SetString / SetStringEnc
		v := fmt.Appendf(nil, "v%d", r.rng.IntN(1000))
		at := int64(0)
		if r.rng.IntN(2) == 0 {
			at = r.deadline()
		}
		enc := Encoding(r.rng.IntN(3))
		must(t, tx.SetStringEnc(key, v, at, enc))
		r.model[k] = modelKey{typ: TypeString, value: v, expireAt: at, lastWrite: r.index}
	case op < 30: // a collection: metadata plus Size sub-keys
		c := tx.CreateCollection(key, Type(2+r.rng.IntN(4)))
		m := c.Meta
		m.Size = int64(r.rng.IntN(50))
		if r.rng.IntN(3) == 0 {
			m.ExpireAt = r.deadline()
		}
		for i := range m.Size {
			must(t, tx.PutSub(c, fmt.Appendf(nil, "m%d", i), nil))
		}
		must(t, tx.Put(key, m))
		r.model[k] = modelKey{typ: m.Type, version: m.Version, size: m.Size, expireAt: m.ExpireAt, lastWrite: r.index}
	case op < 35: // RenameKey or CopyKey to another pool key
		dst := r.keys[r.rng.IntN(len(r.keys))]
		src, ok := r.lookupModel(k)
		m, _, err := tx.Lookup(key) // deletes an expired key, as the model just did
		must(t, err)
		if !ok || bytes.Equal(dst, key) {
			break
		}
		r.lookupModel(string(dst)) // an expired destination is deleted first, as Put does
		moved := src
		moved.lastWrite = r.index
		if r.rng.IntN(2) == 0 {
			must(t, tx.RenameKey(key, dst, m))
			delete(r.model, k)
		} else {
			must(t, tx.CopyKey(key, dst, m))
		}
		stored, _, err := tx.Lookup(dst)
		must(t, err)
		moved.version = stored.Version // a copy, or a move into another slot, gets a new one
		r.model[string(dst)] = moved
	case op < 55: // Delete
		want := false
		if _, ok := r.lookupModel(k); ok {
			want = true
			delete(r.model, k)
		}
		got, err := tx.Delete(key)
		must(t, err)
		if got != want {
			t.Fatalf("index %d: Delete(%q) = %v, model says %v", r.index, key, got, want)
		}
	case op < 75: // SetExpire, setting or removing a deadline
		at := int64(0)
		if r.rng.IntN(4) != 0 {
			at = r.deadline()
		}
		m, want := r.lookupModel(k)
		if want {
			m.expireAt, m.lastWrite = at, r.index
			r.model[k] = m
		}
		got, err := tx.SetExpire(key, at)
		must(t, err)
		if got != want {
			t.Fatalf("index %d: SetExpire(%q, %d) = %v, model says %v", r.index, key, at, got, want)
		}
	case op < 90: // Lookup
		wantM, want := r.lookupModel(k)
		m, got, err := tx.Lookup(key)
		must(t, err)
		if got != want || got && (m.Type != wantM.typ || !bytes.Equal(m.Value, wantM.value) ||
			m.ExpireAt != wantM.expireAt || m.LastWrite != wantM.lastWrite) {
			t.Fatalf("index %d: Lookup(%q) = %s, model has %+v (present %v)", r.index, key, describe(m, got), wantM, want)
		}
	case op < 99: // ExpireIfDue
		m, ok := r.model[k]
		want := ok && r.expired(m)
		if want {
			delete(r.model, k)
		}
		got, err := tx.ExpireIfDue(key)
		must(t, err)
		if got != want {
			t.Fatalf("index %d: ExpireIfDue(%q) = %v, model says %v", r.index, key, got, want)
		}
	default: // FlushRange of the key's slot and its neighbours
		s := routing.Slot(key)
		rg := routing.Range{Start: s - min(s, 2), End: min(s+3, routing.NumSlots)}
		must(t, tx.FlushRange(rg))
		for mk := range r.model {
			if rg.Contains(routing.Slot([]byte(mk))) {
				delete(r.model, mk)
			}
		}
	}
}

// checkModel compares every pool key's stored metadata with the model.
func (r *randomOps) checkModel() {
	t := r.t
	for _, key := range r.keys {
		m, ok := rawMetaOf(t, r.e.db, key)
		want, wantOK := r.model[string(key)]
		if ok != wantOK {
			t.Fatalf("after index %d: %q is %s in the DB, model has it present=%v", r.index, key, describe(m, ok), wantOK)
		}
		if !ok {
			continue
		}
		if m.Type != want.typ || !bytes.Equal(m.Value, want.value) || m.ExpireAt != want.expireAt ||
			m.LastWrite != want.lastWrite || m.Version != want.version || m.Size != want.size {
			t.Fatalf("after index %d: %q is %s in the DB, model has %+v", r.index, key, describe(m, ok), want)
		}
	}
}

// TestTxnRandomOpsKeepIndexAndCounters runs a few thousand random writes over a small key pool
// (several keys per slot) in batches, and after every batch checks the expiry index, the slot
// counters (in memory, durable and reloaded) and the stored values against a model; at the end
// it reopens the DB and checks again.
func TestTxnRandomOpsKeepIndexAndCounters(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			e := newEnv(t)
			r := &randomOps{t: t, e: e, rng: rand.New(rand.NewPCG(seed, 99)), model: map[string]modelKey{},
				now: baseNow, index: 10}
			for i := range 6 {
				r.keys = append(r.keys, keyInSlot(100, fmt.Sprint("a", i)), keyInSlot(101, fmt.Sprint("b", i)))
			}
			for i := range 10 {
				r.keys = append(r.keys, fmt.Appendf(nil, "key:%d", i))
			}
			r.keys = append(r.keys, keyInSlot(0, "first"), keyInSlot(routing.NumSlots-1, "last"))
			ops := 0
			for ops < 3000 {
				n := 1 + r.rng.IntN(20)
				e.write(r.now, r.index, func(tx *Txn) {
					for range n {
						r.step(tx)
					}
				})
				ops += n
				checkInvariants(t, e.db, e.counts)
				if t.Failed() {
					t.Fatalf("invariants broken after the batch of index %d (%d ops so far)", r.index, ops)
				}
				r.checkModel()
				r.index++
				r.now += int64(r.rng.IntN(40))
			}
			before := map[uint16]slotCount{}
			for s := range routing.NumSlots {
				one := routing.Range{Start: uint16(s), End: uint16(s) + 1}
				before[uint16(s)] = slotCount{e.counts.Keys(one), e.counts.Expires(one)}
			}
			e.reopen()
			for s := range routing.NumSlots {
				one := routing.Range{Start: uint16(s), End: uint16(s) + 1}
				if got := (slotCount{e.counts.Keys(one), e.counts.Expires(one)}); got != before[uint16(s)] {
					t.Errorf("slot %d after reopen: counters %+v, before close %+v", s, got, before[uint16(s)])
				}
			}
			checkInvariants(t, e.db, e.counts)
			r.checkModel()
		})
	}
}

// TestLookupExpiredKey checks that a write Txn deletes an expired key it looks up (counting it
// in Expired, fixing the counters and the index), while a read Txn only reports it absent.
func TestLookupExpiredKey(t *testing.T) {
	for _, c := range []struct {
		name     string
		readAt   int64 // relative to the deadline
		expired  bool
		readOnly bool
	}{
		{"read before deadline", -1, false, true},
		{"read at deadline", 0, true, true},
		{"read after deadline", 1000, true, true},
		{"write before deadline", -1, false, false},
		{"write at deadline", 0, true, false},
		{"write after deadline", 1000, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			key, other := keyInSlot(7, "ttl"), keyInSlot(7, "plain")
			deadline := baseNow + 5000
			e.write(baseNow, 11, func(tx *Txn) {
				must(t, tx.SetString(key, []byte("v"), deadline))
				must(t, tx.SetString(other, []byte("w"), 0))
			})
			slot7 := routing.Range{Start: 7, End: 8}
			now := deadline + c.readAt
			var tx *Txn
			if c.readOnly {
				tx = e.read(now)
				_, ok, err := tx.Lookup(key)
				must(t, err)
				if ok == c.expired {
					t.Fatalf("read Txn at deadline%+d: Lookup present=%v", c.readAt, ok)
				}
			} else {
				e.write(now, 12, func(wtx *Txn) {
					tx = wtx
					_, ok, err := tx.Lookup(key)
					must(t, err)
					if ok == c.expired {
						t.Fatalf("write Txn at deadline%+d: Lookup present=%v", c.readAt, ok)
					}
				})
			}
			deleted := c.expired && !c.readOnly
			wantExpired := int64(0)
			if deleted {
				wantExpired = 1
			}
			if tx.Expired != wantExpired {
				t.Errorf("Expired = %d, want %d", tx.Expired, wantExpired)
			}
			_, stored := rawMetaOf(t, e.db, key)
			idx := hasKey(t, e.db, expiryKey(7, deadline, key))
			if stored == deleted || idx == deleted {
				t.Errorf("after the lookup: metadata stored=%v, index entry=%v; want both %v", stored, idx, !deleted)
			}
			wantKeys, wantExp := int64(2), int64(1)
			if deleted {
				wantKeys, wantExp = 1, 0
			}
			if k, x := e.counts.Keys(slot7), e.counts.Expires(slot7); k != wantKeys || x != wantExp {
				t.Errorf("counters keys=%d expires=%d, want %d and %d", k, x, wantKeys, wantExp)
			}
			checkInvariants(t, e.db, e.counts)
		})
	}
}

// TestHitsMissesOnlyInReadTxn: a read Txn counts hits and misses (an expired key is a miss); a
// write Txn counts neither.
func TestHitsMissesOnlyInReadTxn(t *testing.T) {
	e := newEnv(t)
	e.write(baseNow, 11, func(tx *Txn) {
		must(t, tx.SetString([]byte("live"), []byte("1"), 0))
		must(t, tx.SetString([]byte("dying"), []byte("2"), baseNow+10))
	})
	lookups := [][]byte{[]byte("live"), []byte("live"), []byte("missing"), []byte("dying")}
	now := baseNow + 100

	rtx := e.read(now)
	for _, k := range lookups {
		_, _, err := rtx.Lookup(k)
		must(t, err)
	}
	_, _, err := rtx.GetString([]byte("live"))
	must(t, err)
	if rtx.Hits != 3 || rtx.Misses != 2 || rtx.Expired != 0 {
		t.Errorf("read Txn: hits=%d misses=%d expired=%d, want 3, 2, 0", rtx.Hits, rtx.Misses, rtx.Expired)
	}

	e.write(now, 12, func(tx *Txn) {
		for _, k := range lookups {
			_, _, err := tx.Lookup(k)
			must(t, err)
		}
		if tx.Hits != 0 || tx.Misses != 0 || tx.Expired != 1 {
			t.Errorf("write Txn: hits=%d misses=%d expired=%d, want 0, 0, 1", tx.Hits, tx.Misses, tx.Expired)
		}
	})
}

// TestReadTxnNeverWrites: the write methods of a read Txn fail with ErrReadOnly and a read
// Txn's lookups of expired keys leave the DB byte for byte as it was.
func TestReadTxnNeverWrites(t *testing.T) {
	e := newEnv(t)
	key := []byte("k")
	e.write(baseNow, 11, func(tx *Txn) { must(t, tx.SetString(key, []byte("v"), baseNow+1)) })
	snapshot := func() string {
		var b bytes.Buffer
		for _, p := range DataPrefixes {
			for _, k := range spanKeys(t, e.db, p, allSlots) {
				v, closer, err := e.db.Get(k)
				must(t, err)
				fmt.Fprintf(&b, "%x=%x\n", k, v)
				closer.Close()
			}
		}
		return b.String()
	}
	before := snapshot()
	tx := e.read(baseNow + 10)
	writes := map[string]func() error{
		"Put":        func() error { return tx.Put(key, Meta{Type: TypeString}) },
		"SetString":  func() error { return tx.SetString(key, nil, 0) },
		"Delete":     func() error { _, err := tx.Delete(key); return err },
		"SetExpire":  func() error { _, err := tx.SetExpire(key, 0); return err },
		"FlushRange": func() error { return tx.FlushRange(allSlots) },
	}
	for name, w := range writes {
		if err := w(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read Txn: err %v, want ErrReadOnly", name, err)
		}
	}
	for range 3 {
		if _, ok, err := tx.Lookup(key); ok || err != nil {
			t.Errorf("read Txn Lookup of an expired key = present %v, err %v; want absent", ok, err)
		}
		if due, err := tx.ExpireIfDue(key); due || err != nil {
			t.Errorf("read Txn ExpireIfDue = %v, %v; want false, nil", due, err)
		}
	}
	if tx.Writable() {
		t.Error("read Txn reports Writable")
	}
	if after := snapshot(); after != before {
		t.Errorf("a read Txn changed the DB:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if k := e.counts.Keys(allSlots); k != 1 {
		t.Errorf("counters after read-only lookups: %d keys, want 1", k)
	}
}

// TestTxnCacheNeverStale interleaves Lookup, Put, Delete, SetExpire and ExpireIfDue on two
// keys (same slot and different slots) in one write Txn, and after random steps compares what
// the Txn returns with a fresh, uncached read of the batch.
func TestTxnCacheNeverStale(t *testing.T) {
	pairs := map[string][2][]byte{
		"same slot":      {keyInSlot(9, "x"), keyInSlot(9, "y")},
		"different slot": {[]byte("alpha"), []byte("beta")},
		"prefix keys":    {[]byte("ab"), []byte("abc")},
	}
	for name, keys := range pairs {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			rng := rand.New(rand.NewPCG(7, 7))
			now := baseNow
			b := e.db.NewIndexedBatch()
			defer b.Close()
			tx := NewWriteTxn(b, now, 50, e.counts)
			compare := func(step int, key []byte) {
				t.Helper()
				fresh, fok, err := NewReadTxn(b, now, e.counts).Lookup(key)
				must(t, err)
				got, ok, err := tx.Lookup(key)
				must(t, err)
				if ok != fok || ok && !metaEqual(got, fresh) {
					t.Fatalf("step %d: write Txn Lookup(%q) = %s, the batch holds %s", step, key, describe(got, ok), describe(fresh, fok))
				}
			}
			for step := range 3000 {
				key := keys[rng.IntN(2)]
				switch rng.IntN(6) {
				case 0:
					at := int64(0)
					if rng.IntN(2) == 0 {
						at = now + int64(rng.IntN(3)) - 1 // sometimes already due
					}
					must(t, tx.SetString(key, fmt.Appendf(nil, "s%d", step), at))
				case 1:
					must(t, tx.Put(key, Meta{Type: TypeHash, Version: tx.NewVersion(), Size: int64(step)}))
				case 2:
					_, err := tx.Delete(key)
					must(t, err)
				case 3:
					_, err := tx.SetExpire(key, now+int64(rng.IntN(3))-1)
					must(t, err)
				case 4:
					_, _, err := tx.Lookup(key)
					must(t, err)
				case 5:
					_, err := tx.ExpireIfDue(key)
					must(t, err)
				}
				if rng.IntN(3) == 0 {
					compare(step, keys[rng.IntN(2)])
				}
			}
			compare(-1, keys[0])
			compare(-1, keys[1])
			must(t, b.Commit(nil))
			e.counts.Publish(b)
			checkInvariants(t, e.db, e.counts)
		})
	}
}

// TestTxnCacheAfterFlushRange: a key cached by a write Txn reads as absent after FlushRange
// of its slot in the same Txn.
func TestTxnCacheAfterFlushRange(t *testing.T) {
	e := newEnv(t)
	key := keyInSlot(300, "k")
	e.write(baseNow, 11, func(tx *Txn) { must(t, tx.SetString(key, []byte("v"), 0)) })
	e.write(baseNow, 12, func(tx *Txn) {
		if _, ok, _ := tx.Lookup(key); !ok {
			t.Fatal("key missing before the flush")
		}
		must(t, tx.FlushRange(routing.Range{Start: 300, End: 301}))
		if m, ok, err := tx.Lookup(key); ok || err != nil {
			t.Fatalf("Lookup after FlushRange in the same Txn = %s, %v; want absent", describe(m, ok), err)
		}
		// Writing it again must count it as a new key.
		must(t, tx.SetString(key, []byte("again"), 0))
	})
	checkInvariants(t, e.db, e.counts)
}

// TestTxnCacheDoesNotAliasCallerBuffers: what a write Txn returns must not change when the
// caller later reuses the buffer it passed to Put (Pebble copies it into the batch).
func TestTxnCacheDoesNotAliasCallerBuffers(t *testing.T) {
	e := newEnv(t)
	key := []byte("k")
	b := e.db.NewIndexedBatch()
	defer b.Close()
	tx := NewWriteTxn(b, baseNow, 11, e.counts)
	buf := []byte("original")
	must(t, tx.SetString(key, buf, 0))
	copy(buf, "CHANGED!")
	m, _, err := tx.Lookup(key)
	must(t, err)
	fresh, _, err := NewReadTxn(b, baseNow, e.counts).Lookup(key)
	must(t, err)
	if !bytes.Equal(m.Value, fresh.Value) {
		t.Fatalf("write Txn Lookup returns %q after the caller reused the buffer passed to SetString; the batch holds %q", m.Value, fresh.Value)
	}
}

// TestLastWriteStamped: every write stamps the key's LastWrite with the Txn's index,
// including a SetExpire that leaves the deadline as it was.
func TestLastWriteStamped(t *testing.T) {
	key := []byte("stamped")
	cases := []struct {
		name  string
		write func(tx *Txn) error
	}{
		{"SetString", func(tx *Txn) error { return tx.SetString(key, []byte("v"), 0) }},
		{"SetString with deadline", func(tx *Txn) error { return tx.SetString(key, []byte("v"), baseNow+1e6) }},
		{"SetStringEnc", func(tx *Txn) error { return tx.SetStringEnc(key, []byte("v"), 0, EncRaw) }},
		{"Put collection", func(tx *Txn) error {
			return tx.Put(key, Meta{Type: TypeList, Version: tx.NewVersion(), Size: 1, LastWrite: 999999})
		}},
		{"SetExpire new deadline", func(tx *Txn) error { _, err := tx.SetExpire(key, baseNow+5e6); return err }},
		{"SetExpire same deadline", func(tx *Txn) error { _, err := tx.SetExpire(key, baseNow+5e6); return err }},
		{"SetExpire remove deadline", func(tx *Txn) error { _, err := tx.SetExpire(key, 0); return err }},
		{"SetString same value", func(tx *Txn) error { return tx.SetString(key, []byte("v"), 0) }},
	}
	e := newEnv(t)
	index := uint64(100)
	for _, c := range cases {
		index += 3
		e.write(baseNow, index, func(tx *Txn) {
			if err := c.write(tx); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		})
		m, ok := rawMetaOf(t, e.db, key)
		if !ok || m.LastWrite != index {
			t.Errorf("%s at index %d: stored %s, want LastWrite %d", c.name, index, describe(m, ok), index)
		}
	}
	checkInvariants(t, e.db, e.counts)
}

// TestNewVersionUnique: versions carry the index in the high bits and a per-Txn sequence below,
// so versions from different entries and within one entry never repeat.
func TestNewVersionUnique(t *testing.T) {
	e := newEnv(t)
	seen := map[uint64]bool{}
	for index := uint64(1); index <= 20; index++ {
		b := e.db.NewIndexedBatch()
		tx := NewWriteTxn(b, baseNow, index, e.counts)
		for i := 1; i <= 100; i++ {
			v := tx.NewVersion()
			if v>>16 != index || v&0xffff != uint64(i) {
				t.Fatalf("index %d call %d: NewVersion = %#x, want index<<16|%d", index, i, v, i)
			}
			if seen[v] {
				t.Fatalf("NewVersion repeated %#x", v)
			}
			seen[v] = true
		}
		b.Close()
	}
}

// TestPutReplacesTypeAndKeepsCounters: overwriting a key with another type, with and without
// deadlines, counts it once and moves its index entry.
func TestPutReplacesTypeAndKeepsCounters(t *testing.T) {
	e := newEnv(t)
	key := keyInSlot(4242, "k")
	steps := []Meta{
		{Type: TypeString, Value: []byte("v"), ExpireAt: baseNow + 100},
		{Type: TypeHash, Version: 1, Size: 1, ExpireAt: baseNow + 200},
		{Type: TypeSet, Version: 2, Size: 1},
		{Type: TypeString, Value: []byte("w"), ExpireAt: baseNow + 300},
		{Type: TypeString, Value: []byte("x"), ExpireAt: baseNow + 300},
	}
	for i, m := range steps {
		e.write(baseNow, uint64(20+i), func(tx *Txn) { must(t, tx.Put(key, m)) })
		checkInvariants(t, e.db, e.counts)
		if t.Failed() {
			t.Fatalf("after Put #%d (%s, deadline %d)", i, m.Type, m.ExpireAt)
		}
	}
	if n := len(spanKeys(t, e.db, store.PrefixExpiry, allSlots)); n != 1 {
		t.Errorf("expiry index holds %d entries for one key, want 1", n)
	}
}
