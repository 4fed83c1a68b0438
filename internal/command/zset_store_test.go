package command

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
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
	it, _ := z.tagIter(zsetTagCount)
	var sum int64
	for ok := it.First(); ok; ok = it.Next() {
		sum += zsetBucketCount(it.Value())
	}
	it.Close()
	if sum != c.Meta.Size {
		t.Fatalf("bucket counts %d, size %d", sum, c.Meta.Size)
	}
	// Every boundary has a count and every count a boundary.
	for _, tags := range [][2]byte{{zsetTagBucket, zsetTagCount}, {zsetTagCount, zsetTagBucket}} {
		it, _ := z.tagIter(tags[0])
		for ok := it.First(); ok; ok = it.Next() {
			if _, found, _ := tx.GetSub(c, zsetTagged(tags[1], it.Sub()[1:])); !found {
				t.Fatalf("sub-key %x has no partner under tag %d", it.Sub(), tags[1])
			}
		}
		it.Close()
	}
	for i, e := range sorted {
		r, err := z.countBelow(zsetEntry(e.s, []byte(e.m)))
		if err != nil || r != int64(i) {
			t.Fatalf("countBelow(%s) = %d, %v; want %d", e.m, r, err, i)
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
	// ZCOUNT from the bucket counts agrees with counting the model, for bounds below, on,
	// between and above the scores present, inclusive and exclusive.
	bounds := []float64{math.Inf(-1), -5, -0.5, 3, 25, math.Inf(1)}
	for _, lo := range bounds {
		for _, hi := range bounds {
			for ex := range 4 {
				r := zsetScoreRange{min: lo, max: hi, minEx: ex&1 != 0, maxEx: ex&2 != 0}
				var want int64
				for _, e := range sorted {
					if (e.s > r.min || !r.minEx && e.s == r.min) && (e.s < r.max || !r.maxEx && e.s == r.max) {
						want++
					}
				}
				// Walked, counted with the buckets, and walked a little first.
				for _, walk := range []int64{zsetCountWalk, 0, 3} {
					z.countWalk = walk
					if got, err := z.countScores(r); err != nil || got != want {
						t.Fatalf("countScores(%+v) after a walk of at most %d = %d, %v; want %d", r, walk, got, err, want)
					}
				}
			}
		}
	}
}

// The low-water mark that ZPOPMIN leaves must never hide an entry: inserts below it, ranks,
// ranges and further pops all see every member.
func TestZsetLowWaterMarkHidesNothing(t *testing.T) {
	h := newHarness(t)
	for i := range 300 {
		h.do("ZADD", "q", strconv.Itoa(i), "m"+strconv.Itoa(i))
	}
	for i := range 200 {
		h.expect(fmt.Sprintf(`["m%d" %d]`, i, i), "ZPOPMIN", "q")
	}
	h.expect(":100", "ZCARD", "q")
	h.expect(":0", "ZRANK", "q", "m200")
	h.do("ZADD", "q", "5", "low")
	h.expect(":0", "ZRANK", "q", "low")
	h.expect(":1", "ZRANK", "q", "m200")
	h.expect(`["low" "m200"]`, "ZRANGE", "q", "0", "1")
	h.expect(`["low"]`, "ZRANGEBYSCORE", "q", "-inf", "100")
	h.expect(`["low" 5]`, "ZPOPMIN", "q")
	h.expect(`["m200" 200]`, "ZPOPMIN", "q")
	h.do("ZADD", "q", "-1", "neg")
	h.expect(`["neg" -1]`, "ZPOPMIN", "q")
	h.expect(":99", "ZCARD", "q")
	h.expect(`["m299" 299]`, "ZPOPMAX", "q")
}

// TestZsetLexCountBuckets: ZLEXCOUNT on a set of equal scores, big enough to have many rank
// buckets, counts ranges narrow (walked) and wide (counted with the buckets) as a model does,
// before and after deletes.
func TestZsetLexCountBuckets(t *testing.T) {
	h := newHarness(t)
	const n = 3000
	members := make([]string, 0, n)
	for i := range n {
		m := fmt.Sprintf("m%05d", i*7%n)
		members = append(members, m)
		h.do("ZADD", "lz", "1.5", m)
	}
	sort.Strings(members)
	rng := rand.New(rand.NewPCG(3, 4))
	check := func() {
		t.Helper()
		bounds := []string{"-", "+", "[m00000", "(m00000", "[m01500", "(m01500", "[m02999", "(m02999", "[m9", "[a"}
		for range 40 {
			m := fmt.Sprintf("m%05d", rng.IntN(n+10))
			bounds = append(bounds, "["+m, "("+m)
		}
		for _, lo := range bounds {
			for _, hi := range bounds {
				want := 0
				for _, m := range members {
					if lexGTE(m, lo) && lexLTE(m, hi) {
						want++
					}
				}
				if got := h.do("ZLEXCOUNT", "lz", lo, hi); got.Int != int64(want) {
					t.Fatalf("ZLEXCOUNT lz %s %s = %s, want %d", lo, hi, got, want)
				}
			}
		}
	}
	check()
	for range 1200 {
		i := rng.IntN(len(members))
		h.do("ZREM", "lz", members[i])
		members = append(members[:i], members[i+1:]...)
	}
	check()
}

func lexGTE(m, bound string) bool {
	switch bound[0] {
	case '-':
		return true
	case '+':
		return false
	case '(':
		return m > bound[1:]
	}
	return m >= bound[1:]
}

func lexLTE(m, bound string) bool {
	switch bound[0] {
	case '+':
		return true
	case '-':
		return false
	case '(':
		return m < bound[1:]
	}
	return m <= bound[1:]
}
