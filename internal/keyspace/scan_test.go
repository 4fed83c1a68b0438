package keyspace

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// scanFixture is a keyspace with live and expired keys spread over chosen slots.
type scanFixture struct {
	e *env
	// live[slot] lists the slot's live keys in key order.
	live map[uint16][]string
}

// scanSlotsLayout: slot → (live keys, expired keys).
var scanSlotsLayout = []struct {
	slot          uint16
	live, expired int
}{
	{0, 2, 0},
	{5, 4, 1},
	{6, 0, 3}, // only expired keys
	{40, 1, 0},
	{41, 5, 2},
	{1000, 3, 0},
	{8191, 1, 1},
	{8192, 2, 0},
	{16383, 3, 1},
}

func newScanFixture(t *testing.T) *scanFixture {
	f := &scanFixture{e: newEnv(t), live: map[uint16][]string{}}
	f.e.write(baseNow, 11, func(tx *Txn) {
		for _, l := range scanSlotsLayout {
			for i := range l.live {
				k := keyInSlot(l.slot, fmt.Sprint("live", i))
				at := int64(0)
				if i%2 == 1 {
					at = baseNow + 1e6
				}
				must(t, tx.SetString(k, []byte("v"), at))
				f.live[l.slot] = append(f.live[l.slot], string(k))
			}
			for i := range l.expired {
				must(t, tx.SetString(keyInSlot(l.slot, fmt.Sprint("dead", i)), []byte("v"), baseNow+10))
			}
		}
	})
	for s := range f.live {
		sort.Strings(f.live[s])
	}
	return f
}

// want returns the live keys of slots [from, r.End) ∩ r in scan order.
func (f *scanFixture) want(r routing.Range, from uint16) []string {
	var out []string
	for s := max(from, r.Start); s < r.End; s++ {
		out = append(out, f.live[s]...)
		if s == routing.NumSlots-1 {
			break
		}
	}
	return out
}

type visit struct {
	slot uint16
	key  string
}

// scan runs ScanSlots collecting visits; stopAfter > 0 makes fn return false from that visit on.
func scan(t *testing.T, tx *Txn, r routing.Range, from uint16, stopAfter int) ([]visit, uint16) {
	t.Helper()
	var got []visit
	next, err := tx.ScanSlots(r, from, func(slot uint16, key []byte, m *Meta) bool {
		if routing.Slot(key) != slot {
			t.Errorf("ScanSlots reported %q in slot %d, but it hashes to %d", key, slot, routing.Slot(key))
		}
		if m.Type != TypeString {
			t.Errorf("ScanSlots gave %q metadata of type %s", key, m.Type)
		}
		got = append(got, visit{slot, string(key)})
		return stopAfter <= 0 || len(got) < stopAfter
	})
	must(t, err)
	return got, next
}

func keysOf(vs []visit) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.key
	}
	return out
}

func TestScanSlotsVisitsLiveKeysInOrder(t *testing.T) {
	f := newScanFixture(t)
	now := baseNow + 100 // the "dead" keys have expired, the deadlined live ones not
	for _, c := range []struct {
		name string
		r    routing.Range
		from uint16
	}{
		{"all", allSlots, 0},
		{"from inside", allSlots, 41},
		{"from before the range start", routing.Range{Start: 5, End: 1001}, 0},
		{"range end excludes its slot", routing.Range{Start: 5, End: 1000}, 5},
		{"range of one slot", routing.Range{Start: 41, End: 42}, 41},
		{"range of an empty slot", routing.Range{Start: 7, End: 8}, 7},
		{"range of expired keys only", routing.Range{Start: 6, End: 7}, 6},
		{"shard boundary", routing.Range{Start: 8192, End: routing.NumSlots}, 8192},
		{"from at the end", routing.Range{Start: 0, End: 100}, 100},
		{"from beyond the end", routing.Range{Start: 0, End: 10}, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, next := scan(t, f.e.read(now), c.r, c.from, 0)
			want := f.want(c.r, c.from)
			if !slices.Equal(keysOf(got), want) {
				t.Errorf("ScanSlots(%v, from %d) visited %v, want %v", c.r, c.from, keysOf(got), want)
			}
			if next != c.r.End {
				t.Errorf("ScanSlots(%v, from %d) returned %d after a full scan, want r.End %d", c.r, c.from, next, c.r.End)
			}
			for i := 1; i < len(got); i++ {
				if got[i].slot < got[i-1].slot {
					t.Errorf("slot order broken: %v before %v", got[i-1], got[i])
				}
			}
		})
	}
}

// TestScanSlotsStopsAtSlotBoundary: stopping on a slot's first key still delivers the rest of
// that slot, and the returned slot resumes exactly where the call ended.
func TestScanSlotsStopsAtSlotBoundary(t *testing.T) {
	f := newScanFixture(t)
	tx := f.e.read(baseNow + 100)
	got, next := scan(t, tx, allSlots, 41, 1)
	if want := f.live[41]; !slices.Equal(keysOf(got), want) {
		t.Fatalf("stopping on the first key of slot 41 visited %v, want the whole slot %v", keysOf(got), want)
	}
	if next <= 41 || next > 1000 {
		t.Fatalf("ScanSlots stopped in slot 41 returned resume slot %d, want one in (41, 1000]", next)
	}
	rest, end := scan(t, tx, allSlots, next, 0)
	if want := f.want(allSlots, 42); !slices.Equal(keysOf(rest), want) {
		t.Errorf("resuming from %d visited %v, want %v", next, keysOf(rest), want)
	}
	if end != routing.NumSlots {
		t.Errorf("the resumed full scan returned %d, want %d", end, routing.NumSlots)
	}
}

// TestScanSlotsPaginates iterates the whole keyspace with calls that each stop as early as
// they may; the pages together hold every live key exactly once, each page whole slots.
func TestScanSlotsPaginates(t *testing.T) {
	f := newScanFixture(t)
	tx := f.e.read(baseNow + 100)
	for _, stopAfter := range []int{1, 2, 3, 7} {
		var all []string
		from, calls := uint16(0), 0
		for from < routing.NumSlots {
			calls++
			if calls > 100 {
				t.Fatalf("stopAfter %d: no progress, stuck at slot %d", stopAfter, from)
			}
			page, next := scan(t, tx, allSlots, from, stopAfter)
			if next <= from && len(page) > 0 {
				t.Fatalf("stopAfter %d: call from %d returned %d, which does not move forward", stopAfter, from, next)
			}
			pageSlots := map[uint16]int{}
			for _, v := range page {
				pageSlots[v.slot]++
				if v.slot >= next {
					t.Errorf("stopAfter %d: key %q of slot %d visited, yet the call says to resume at %d", stopAfter, v.key, v.slot, next)
				}
			}
			for s, n := range pageSlots {
				if n != len(f.live[s]) {
					t.Errorf("stopAfter %d: page from %d holds %d of slot %d's %d keys: slots must be whole", stopAfter, from, n, s, len(f.live[s]))
				}
			}
			all = append(all, keysOf(page)...)
			from = next
		}
		if want := f.want(allSlots, 0); !slices.Equal(all, want) {
			t.Errorf("stopAfter %d: pages visited %v, want every live key once: %v", stopAfter, all, want)
		}
	}
}

// TestScanSlotsOnWriteBatch: a write Txn scans its own uncommitted writes.
func TestScanSlotsOnWriteBatch(t *testing.T) {
	e := newEnv(t)
	b := e.db.NewIndexedBatch()
	defer b.Close()
	tx := NewWriteTxn(b, baseNow, 5, e.counts)
	must(t, tx.SetString(keyInSlot(3, "a"), []byte("1"), 0))
	must(t, tx.SetString(keyInSlot(2, "b"), []byte("1"), 0))
	got, _ := scan(t, tx, allSlots, 0, 0)
	want := []string{string(keyInSlot(2, "b")), string(keyInSlot(3, "a"))}
	if !slices.Equal(keysOf(got), want) {
		t.Errorf("write Txn scan = %v, want %v", keysOf(got), want)
	}
}

// dueFixture: slots with due and not-yet-due keys; returns the due keys in index order
// (slot, then deadline, then key).
func dueFixture(t *testing.T, e *env, now int64) []string {
	rng := rand.New(rand.NewPCG(3, 4))
	type entry struct {
		slot uint16
		at   int64
		key  string
	}
	var due []entry
	e.write(baseNow, 11, func(tx *Txn) {
		for i := range 120 {
			slot := uint16(rng.IntN(routing.NumSlots))
			for j := range 1 + rng.IntN(4) {
				key := keyInSlot(slot, fmt.Sprint("k", i, ".", j))
				at := now + int64(rng.IntN(2000)) - 1000
				if i%3 == 0 {
					at = now + 1 + int64(rng.IntN(1000)) // a slot whose keys are all in the future
				}
				if i%10 == 1 {
					must(t, tx.SetString(key, []byte("v"), 0)) // no deadline at all
					continue
				}
				must(t, tx.SetString(key, []byte("v"), at))
				if at <= now {
					due = append(due, entry{slot, at, string(key)})
				}
			}
		}
		// A key due exactly now, in the last slot.
		k := keyInSlot(routing.NumSlots-1, "edge")
		must(t, tx.SetString(k, []byte("v"), now))
		due = append(due, entry{routing.NumSlots - 1, now, string(k)})
	})
	sort.Slice(due, func(i, j int) bool {
		a, b := due[i], due[j]
		if a.slot != b.slot {
			return a.slot < b.slot
		}
		if a.at != b.at {
			return a.at < b.at
		}
		return a.key < b.key
	})
	out := make([]string, len(due))
	for i, d := range due {
		out[i] = d.key
	}
	return out
}

func strs(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

func TestDueExpiries(t *testing.T) {
	e := newEnv(t)
	now := baseNow + 50_000
	due := dueFixture(t, e, now)
	if len(due) < 50 {
		t.Fatalf("fixture has only %d due keys", len(due))
	}
	inRange := func(r routing.Range) []string {
		var out []string
		for _, k := range due {
			if r.Contains(routing.Slot([]byte(k))) {
				out = append(out, k)
			}
		}
		return out
	}
	for _, c := range []struct {
		name  string
		r     routing.Range
		limit int
	}{
		{"all, no limit", allSlots, 1 << 20},
		{"all, limit 1", allSlots, 1},
		{"all, limit 17", allSlots, 17},
		{"all, limit 0", allSlots, 0},
		{"first quarter", routing.Range{Start: 0, End: 4096}, 1 << 20},
		{"last quarter", routing.Range{Start: 12288, End: routing.NumSlots}, 1 << 20},
		{"middle, limit 5", routing.Range{Start: 5000, End: 11000}, 5},
		{"empty range", routing.Range{Start: 10, End: 10}, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DueExpiries(e.db, c.r, now, c.limit)
			must(t, err)
			want := inRange(c.r)
			if len(want) > c.limit {
				want = want[:c.limit]
			}
			if !slices.Equal(strs(got), want) {
				t.Errorf("DueExpiries(%v, limit %d) = %d keys %v,\nwant %d keys %v", c.r, c.limit, len(got), strs(got), len(want), want)
			}
		})
	}
	// Every key it reports is really due in the data, and nothing is reported before its time.
	got, err := DueExpiries(e.db, allSlots, now, 1<<20)
	must(t, err)
	for _, k := range got {
		m, ok := rawMetaOf(t, e.db, k)
		if !ok || m.ExpireAt == 0 || m.ExpireAt > now {
			t.Errorf("DueExpiries reported %q, stored as %s at now=%d", k, describe(m, ok), now)
		}
	}
	if early, err := DueExpiries(e.db, allSlots, baseNow-1_000_000, 1<<20); err != nil || len(early) != 0 {
		t.Errorf("DueExpiries long before any deadline = %v, %v; want nothing", strs(early), err)
	}
}

// TestDueExpiriesAfterDeletes: keys expired through Lookup or deleted leave the index, so a
// second call does not report them again.
func TestDueExpiriesAfterDeletes(t *testing.T) {
	e := newEnv(t)
	now := baseNow + 50_000
	due := dueFixture(t, e, now)
	e.write(now, 12, func(tx *Txn) {
		for i, k := range due {
			if i%2 == 0 {
				if ok, err := tx.ExpireIfDue([]byte(k)); !ok || err != nil {
					t.Fatalf("ExpireIfDue(%q) = %v, %v; want true", k, ok, err)
				}
			}
		}
	})
	got, err := DueExpiries(e.db, allSlots, now, 1<<20)
	must(t, err)
	var want []string
	for i, k := range due {
		if i%2 == 1 {
			want = append(want, k)
		}
	}
	if !slices.Equal(strs(got), want) {
		t.Errorf("after expiring every other due key DueExpiries = %v, want %v", strs(got), want)
	}
	checkInvariants(t, e.db, e.counts)
}

func TestFlushRange(t *testing.T) {
	for _, r := range []routing.Range{
		{Start: 0, End: 4096},
		{Start: 4096, End: 8192},
		{Start: 12288, End: routing.NumSlots},
		{Start: 100, End: 101},
		{Start: 0, End: routing.NumSlots},
	} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			e := newEnv(t)
			slots := []uint16{0, 1, 100, 101, 4095, 4096, 8191, 8192, 12287, 12288, 16383}
			e.write(baseNow, 11, func(tx *Txn) {
				for _, s := range slots {
					for i := range 2 {
						at := int64(0)
						if i == 1 {
							at = baseNow + 1e6
						}
						must(t, tx.SetString(keyInSlot(s, fmt.Sprint(i)), []byte("v"), at))
					}
					// The third key is a collection with one sub-key.
					c := tx.CreateCollection(keyInSlot(s, "2"), TypeSet)
					must(t, tx.PutSub(c, []byte("member"), nil))
					c.Meta.Size = 1
					must(t, tx.SaveCollection(c))
				}
			})
			e.write(baseNow, 12, func(tx *Txn) { must(t, tx.FlushRange(r)) })
			checkInvariants(t, e.db, e.counts)
			for _, p := range DataPrefixes {
				for _, k := range spanKeys(t, e.db, p, allSlots) {
					if slot := uint16(k[1])<<8 | uint16(k[2]); r.Contains(slot) {
						t.Errorf("FlushRange(%v) left %c key %x of slot %d", r, p, k, slot)
					}
				}
			}
			for _, s := range slots {
				one := routing.Range{Start: s, End: s + 1}
				wantKeys, wantExp, wantSubs := int64(3), int64(1), 1
				if r.Contains(s) {
					wantKeys, wantExp, wantSubs = 0, 0, 0
				}
				if k, x := e.counts.Keys(one), e.counts.Expires(one); k != wantKeys || x != wantExp {
					t.Errorf("slot %d after FlushRange(%v): keys=%d expires=%d, want %d and %d", s, r, k, x, wantKeys, wantExp)
				}
				if n := len(spanKeys(t, e.db, store.PrefixSub, one)); n != wantSubs {
					t.Errorf("slot %d after FlushRange(%v): %d sub-keys, want %d", s, r, n, wantSubs)
				}
				for i := range 3 {
					k := keyInSlot(s, fmt.Sprint(i))
					if _, ok := rawMetaOf(t, e.db, k); ok == r.Contains(s) {
						t.Errorf("slot %d after FlushRange(%v): %q present=%v", s, r, k, ok)
					}
				}
			}
			e.reopen()
			checkInvariants(t, e.db, e.counts)
		})
	}
}

// TestCountsRangeSums: Keys and Expires over a range sum the slots of that range only.
func TestCountsRangeSums(t *testing.T) {
	e := newEnv(t)
	e.write(baseNow, 11, func(tx *Txn) {
		for s := uint16(10); s < 20; s++ {
			for i := range int(s - 9) {
				at := int64(0)
				if i == 0 {
					at = baseNow + 1e6
				}
				must(t, tx.SetString(keyInSlot(s, fmt.Sprint(i)), nil, at))
			}
		}
	})
	for _, c := range []struct {
		r             routing.Range
		keys, expires int64
	}{
		{routing.Range{Start: 0, End: 10}, 0, 0},
		{routing.Range{Start: 10, End: 11}, 1, 1},
		{routing.Range{Start: 10, End: 20}, 55, 10},
		{routing.Range{Start: 15, End: 17}, 6 + 7, 2},
		{routing.Range{Start: 19, End: routing.NumSlots}, 10, 1},
	} {
		if k, x := e.counts.Keys(c.r), e.counts.Expires(c.r); k != c.keys || x != c.expires {
			t.Errorf("range %v: keys=%d expires=%d, want %d and %d", c.r, k, x, c.keys, c.expires)
		}
	}
}

// TestLoadCountsRejectsCorruptCounter: a counter record of the wrong size is ErrCorrupt.
func TestLoadCountsRejectsCorruptCounter(t *testing.T) {
	e := newEnv(t)
	must(t, e.db.Set(countKey(3), []byte{1, 2, 3}, pebble.NoSync))
	if _, err := LoadCounts(e.db); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadCounts with a 3-byte counter: err %v, want ErrCorrupt", err)
	}
}
