package keyspace

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMetaTableMatchesMap runs random sets, deletes, evictions and lookups against a
// metaTable and a Go map side by side. Hash functions range from the real one to ones with
// a handful of values, so that long probe runs, runs wrapping past the array's end, equal
// hashes of different keys and backward-shift deletion inside such runs are all exercised.
func TestMetaTableMatchesMap(t *testing.T) {
	hashes := []struct {
		name string
		fn   func(key []byte) uint64
	}{
		{"spread", func(key []byte) uint64 {
			h := uint64(14695981039346656037)
			for _, b := range key {
				h = (h ^ uint64(b)) * 1099511628211
			}
			return h
		}},
		{"eight values", func(key []byte) uint64 { return uint64(len(key)%8) * 0x9e3779b97f4a7c15 }},
		{"end of array", func(key []byte) uint64 { return 1<<63 - 1 - uint64(len(key)%3) }},
		{"one value", func([]byte) uint64 { return 42 }},
	}
	for _, hf := range hashes {
		t.Run(hf.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(hf.name))))
			var tab metaTable
			ref := map[string][]byte{}
			check := func(step int, op string, key []byte) {
				t.Helper()
				want, wantOK := ref[string(key)]
				got, ok := tab.get(hf.fn(key), key)
				if ok != wantOK || !bytes.Equal(got, want) || (ok && (got == nil) != (want == nil)) {
					t.Fatalf("step %d (%s): get(%q) = %q, %v; the map has %q, %v", step, op, key, got, ok, want, wantOK)
				}
				if tab.len() != len(ref) {
					t.Fatalf("step %d (%s): table holds %d entries, the map %d", step, op, tab.len(), len(ref))
				}
			}
			for step := range 20000 {
				key := fmt.Appendf(nil, "k%d", rng.IntN(300))
				key = key[:1+rng.IntN(len(key))] // varied lengths, for the length-based hashes
				h := hf.fn(key)
				op := "get"
				switch r := rng.IntN(10); {
				case r < 4:
					op = "set"
					var enc []byte // absent
					if rng.IntN(5) > 0 {
						enc = fmt.Appendf(nil, "v%d", step)
					}
					if _, ok := tab.del(h, key); ok != inMap(ref, key) {
						t.Fatalf("step %d: del before set of %q reported %v", step, key, ok)
					}
					tab.set(h, key, enc)
					ref[string(key)] = enc
				case r < 7:
					op = "del"
					size, ok := tab.del(h, key)
					want, wantOK := ref[string(key)]
					if ok != wantOK || (ok && size != len(key)+len(want)) {
						t.Fatalf("step %d: del(%q) = size %d, %v; the map had %q, %v", step, key, size, ok, want, wantOK)
					}
					delete(ref, string(key))
				case r < 8 && tab.len() > 0:
					op = "drop"
					before := map[string]bool{}
					tab.each(func(k, _ []byte) { before[string(k)] = true })
					tab.dropOne()
					after := map[string]bool{}
					tab.each(func(k, _ []byte) { after[string(k)] = true })
					if len(after) != len(before)-1 {
						t.Fatalf("step %d: dropOne left %d of %d entries", step, len(after), len(before))
					}
					for k := range before {
						if !after[k] {
							delete(ref, k)
						}
					}
				}
				check(step, op, key)
				if step%500 == 0 {
					for k := range ref {
						check(step, "sweep", []byte(k))
					}
				}
			}
		})
	}
}

func inMap(m map[string][]byte, key []byte) bool {
	_, ok := m[string(key)]
	return ok
}

// TestMetaTableValuesStayValid: a slice handed out by get keeps its contents after the key
// is overwritten, deleted or the table grows, and cannot be appended into.
func TestMetaTableValuesStayValid(t *testing.T) {
	var tab metaTable
	key := []byte("k")
	tab.set(7, key, []byte("first"))
	got, _ := tab.get(7, key)
	if cap(got) != len(got) {
		t.Fatalf("get returned capacity %d beyond length %d: an append would write into the table", cap(got), len(got))
	}
	tab.del(7, key)
	tab.set(7, key, []byte("second"))
	for i := range 1000 {
		tab.set(uint64(i+100), fmt.Appendf(nil, "o%d", i), []byte("x"))
	}
	if string(got) != "first" {
		t.Fatalf("a value read before an overwrite changed to %q", got)
	}
	if now, _ := tab.get(7, key); string(now) != "second" {
		t.Fatalf("after overwrite and growth the key reads %q, want %q", now, "second")
	}
}

// TestMetaTableEmptyKeyAndValue: the empty key is a key, and an empty (non-nil) encoding is
// not confused with a cached absence.
func TestMetaTableEmptyKeyAndValue(t *testing.T) {
	var tab metaTable
	tab.set(1, []byte{}, []byte{})
	enc, ok := tab.get(1, []byte{})
	if !ok || enc == nil {
		t.Fatalf("empty key with empty encoding: get = %v, %v; want a non-nil empty encoding", enc, ok)
	}
	tab.set(2, []byte("gone"), nil)
	if enc, ok := tab.get(2, []byte("gone")); !ok || enc != nil {
		t.Fatalf("cached absence: get = %v, %v; want nil, true", enc, ok)
	}
}
