package command

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/keyspace"
)

// TestZsetRankModel drives the bucketed rank index with a small B through random inserts,
// score changes and deletes, checking every rank and every rank seek against a sorted model.
func TestZsetRankModel(t *testing.T) {
	for _, b := range []int{1, 2, 4, 7} {
		t.Run(fmt.Sprint("B", b), func(t *testing.T) { zsetRankModel(t, b) })
	}
}

func zsetRankModel(t *testing.T, b int) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(uint64(b), 7))
	model := map[string]float64{}
	key := []byte("z")
	for op := 0; op < 1500; op++ {
		batch := h.db.NewIndexedBatch()
		tx := keyspace.NewWriteTxn(batch, h.now, h.index, h.counts)
		h.index++
		c, _, err := tx.LookupOrCreateCollection(key, keyspace.TypeZSet)
		if err != nil {
			t.Fatal(err)
		}
		z := newZsetStore(tx, c, b)
		m := fmt.Sprintf("m%03d", rng.IntN(120))
		old, had := model[m]
		if had && rng.IntN(3) == 0 {
			if err := z.remove([]byte(m), old); err != nil {
				t.Fatal(err)
			}
			delete(model, m)
		} else {
			s := float64(rng.IntN(40) - 20)
			if err := z.set([]byte(m), s, old, had); err != nil {
				t.Fatal(err)
			}
			model[m] = s
		}
		if err := tx.SaveCollection(c); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		if err := batch.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		h.counts.Publish(batch)
		if op%25 == 0 || op > 1450 {
			zsetCheckModel(t, h, key, model)
		}
	}
}

func zsetCheckModel(t *testing.T, h *harness, key []byte, model map[string]float64) {
	t.Helper()
	type kv struct {
		m string
		s float64
	}
	var sorted []kv
	for m, s := range model {
		sorted = append(sorted, kv{m, s})
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].s != sorted[j].s {
			return sorted[i].s < sorted[j].s
		}
		return sorted[i].m < sorted[j].m
	})
	tx := keyspace.NewReadTxn(h.db, h.now, h.counts)
	defer tx.Close()
	c, err := tx.LookupCollection(key, keyspace.TypeZSet)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		if len(model) != 0 {
			t.Fatalf("set missing, model has %d", len(model))
		}
		return
	}
	if c.Meta.Size != int64(len(sorted)) {
		t.Fatalf("size %d, model %d", c.Meta.Size, len(sorted))
	}
	z := newZsetStore(tx, c, 4)
	// Bucket counts add up to the size.
	it, _ := tx.IterSubs(c, keyspace.SubIterOptions{From: []byte{zsetTagBucket}, To: []byte{zsetTagBucket + 1}})
	var sum int64
	for ok := it.First(); ok; ok = it.Next() {
		sum += int64(binary.BigEndian.Uint64(it.Value()))
	}
	it.Close()
	if sum != c.Meta.Size {
		t.Fatalf("bucket counts %d, size %d", sum, c.Meta.Size)
	}
	for i, e := range sorted {
		r, err := z.rank(zsetEntry(e.s, []byte(e.m)))
		if err != nil || r != int64(i) {
			t.Fatalf("rank(%s) = %d, %v; want %d", e.m, r, err, i)
		}
		ix, err := z.seekRank(int64(i))
		if err != nil || !ix.Valid() {
			t.Fatalf("seekRank(%d) invalid", i)
		}
		if got := zsetItemOf(ix.Sub()); string(got.member) != e.m || got.score != e.s {
			t.Fatalf("seekRank(%d) = %s %v, want %s %v", i, got.member, got.score, e.m, e.s)
		}
		ix.Close()
	}
}
