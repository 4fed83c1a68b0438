package keyspace

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

func TestMetaKeyLayout(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("a"), []byte("{user1}:x"), {0, 0xff}, bytes.Repeat([]byte("k"), 600)} {
		mk := MetaKey(key)
		slot := routing.Slot(key)
		if mk[0] != store.PrefixData || uint16(mk[1])<<8|uint16(mk[2]) != slot || !bytes.Equal(mk[3:], key) {
			t.Errorf("MetaKey(%q) = %x, want 'd' | slot %d | key", key, mk, slot)
		}
	}
}

// TestSpanBoundsContainSlotData: for every data prefix, a key of slot s sorts inside
// SpanBounds(r) exactly when r contains s, whatever follows the slot bytes.
func TestSpanBoundsContainSlotData(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ranges := []routing.Range{
		{Start: 0, End: routing.NumSlots},
		{Start: 0, End: 1},
		{Start: routing.NumSlots - 1, End: routing.NumSlots},
		{Start: 4096, End: 8192},
		{Start: 255, End: 257}, // crosses a low-byte boundary
	}
	for range 200 {
		a, b := uint16(rng.IntN(routing.NumSlots+1)), uint16(rng.IntN(routing.NumSlots+1))
		ranges = append(ranges, routing.Range{Start: min(a, b), End: max(a, b)})
	}
	suffixes := [][]byte{nil, {0}, {0xff, 0xff, 0xff, 0xff}, []byte("key")}
	for _, p := range DataPrefixes {
		for _, r := range ranges {
			lo, hi := SpanBounds(p, r)
			if bytes.Compare(lo, hi) > 0 {
				t.Fatalf("SpanBounds(%c, %v) = [%x, %x): lower above upper", p, r, lo, hi)
			}
			for _, s := range []uint16{0, 1, 255, 256, r.Start, r.End - 1, r.End, routing.NumSlots - 1, uint16(rng.IntN(routing.NumSlots))} {
				if s >= routing.NumSlots {
					continue
				}
				for _, suf := range suffixes {
					k := append(slotPrefix(p, s), suf...)
					in := bytes.Compare(lo, k) <= 0 && bytes.Compare(k, hi) < 0
					if in != r.Contains(s) {
						t.Errorf("prefix %c range %v: key %x of slot %d inside bounds [%x, %x) = %v, want %v", p, r, k, s, lo, hi, in, r.Contains(s))
					}
				}
			}
		}
	}
}

// TestMetaKeyOrderedBySlot: metadata keys, expiry-index keys and counters of a real key all
// fall inside SpanBounds of ranges containing the key's slot and outside the others.
func TestMetaKeyOrderedBySlot(t *testing.T) {
	for i := range 500 {
		key := fmt.Appendf(nil, "user:%d", i)
		slot := routing.Slot(key)
		stored := map[byte][]byte{
			store.PrefixData:   MetaKey(key),
			store.PrefixExpiry: expiryKey(slot, 1<<62, key),
			store.PrefixCount:  countKey(slot),
		}
		for _, r := range []routing.Range{
			{Start: slot, End: slot + 1},
			{Start: 0, End: slot},
			{Start: slot + 1, End: routing.NumSlots},
			{Start: 0, End: routing.NumSlots},
		} {
			for p, k := range stored {
				lo, hi := SpanBounds(p, r)
				in := bytes.Compare(lo, k) <= 0 && bytes.Compare(k, hi) < 0
				if in != r.Contains(slot) {
					t.Errorf("%q (slot %d): %c key %x inside SpanBounds(%v) = %v, want %v", key, slot, p, k, r, in, r.Contains(slot))
				}
			}
		}
	}
}

// TestSpanBoundsAdjacentRangesTile: the spans of [a,b) and [b,c) meet exactly, so ranges that
// partition the slots partition each prefix's keys.
func TestSpanBoundsAdjacentRangesTile(t *testing.T) {
	for _, p := range DataPrefixes {
		for _, b := range []uint16{1, 255, 256, 4096, 8192, routing.NumSlots - 1} {
			_, hi := SpanBounds(p, routing.Range{Start: 0, End: b})
			lo, _ := SpanBounds(p, routing.Range{Start: b, End: routing.NumSlots})
			if !bytes.Equal(hi, lo) {
				t.Errorf("prefix %c: upper of [0,%d) is %x but lower of [%d,end) is %x", p, b, hi, b, lo)
			}
		}
		_, hi := SpanBounds(p, routing.Range{Start: 0, End: routing.NumSlots})
		for _, q := range []byte{store.PrefixData, store.PrefixExpiry, store.PrefixSub, store.PrefixCount, store.PrefixRaft} {
			if q != p && q > p && bytes.Compare([]byte{q}, hi) < 0 {
				t.Errorf("the whole-keyspace span of %c ends at %x and so covers prefix %c", p, hi, q)
			}
		}
	}
}
