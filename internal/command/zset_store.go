package command

// Sorted-set storage. A zset is a keyspace collection whose sub-keys are:
//
//	0x00|member                  → the score, 8 bytes (float64 bits, big-endian)
//	0x01|sortable(score)|member  → empty: the score index, in ZRANGE order
//	0x02|sortable(score)|member  → empty: a rank bucket boundary
//	0x03|sortable(score)|member  → count: that bucket's number of entries
//
// sortable(score) is the IEEE bits with the sign bit flipped for positives and every bit
// flipped for negatives, so byte order is numeric order; -0 is stored as +0 and NaN never.
//
// Low-water mark: Meta.Extra, when not empty, is an index suffix at or below every live index
// entry. ZPOPMIN-style pops set it to the last entry they removed and inserts below it lower
// it; every index iterator starts there. Without it a queue-like workload (ZADD at the back,
// ZPOPMIN at the front) makes each pop's seek walk over all the deletion tombstones its
// predecessors left in the memtable, which is quadratic until Pebble flushes.
//
// Rank buckets: each boundary has a count, the number of index entries from it (inclusive) up to
// the next boundary; an entry belongs to the bucket of the greatest boundary ≤ its index
// suffix. The first bucket's boundary is the bare 0x02 (the empty suffix). A bucket is split
// in two when it exceeds 2*B entries and merged into its predecessor when it shrinks below
// B/4 (and the two fit in 2*B), so a set of N members has about N/B..4N/B buckets: a rank is
// the sum of the earlier buckets' counts plus a walk of at most 2*B entries in its own.
//
// Boundaries and counts are separate keys because every write rewrites its bucket's count:
// each rewrite leaves a version in the memtable, and a backward seek (finding an entry's
// bucket is a SeekLT) lands on the oldest version of a key and steps through all newer ones
// to the live one. Boundary keys are written once and deleted once, so the SeekLT is cheap;
// the count is then read by a point lookup, which lands on the newest version directly.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"ferricd/internal/keyspace"
)

// zsetBucketB is B for production sets: 1M members make at most a few thousand buckets.
const zsetBucketB = 512

const (
	zsetTagMember = 0x00
	zsetTagIndex  = 0x01
	zsetTagBucket = 0x02
	zsetTagCount  = 0x03
)

// zsetStore is one sorted set in one Txn.
type zsetStore struct {
	tx *keyspace.Txn
	c  *keyspace.Coll
	b  int // bucket size parameter B
	// countWalk is how many entries a count walks before using the bucket counts
	// (zsetCountWalk; tests lower it).
	countWalk int64
}

func newZsetStore(tx *keyspace.Txn, c *keyspace.Coll, b int) *zsetStore {
	return &zsetStore{tx: tx, c: c, b: b, countWalk: zsetCountWalk}
}

// zsetSortable is the order-preserving 8-byte form of a score.
func zsetSortable(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// zsetUnsortable inverts zsetSortable.
func zsetUnsortable(b []byte) float64 {
	u := binary.BigEndian.Uint64(b)
	if u&(1<<63) != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u)
}

func zsetMemberKey(member []byte) []byte {
	return append([]byte{zsetTagMember}, member...)
}

// zsetEntry is an index suffix sortable(score)|member.
func zsetEntry(score float64, member []byte) []byte {
	e := zsetSortable(make([]byte, 0, 8+len(member)), score)
	return append(e, member...)
}

func zsetTagged(tag byte, suffix []byte) []byte {
	return append([]byte{tag}, suffix...)
}

// score returns member's score.
func (z *zsetStore) score(member []byte) (float64, bool, error) {
	v, ok, err := z.tx.GetSub(z.c, zsetMemberKey(member))
	if err != nil || !ok || len(v) != 8 {
		return 0, false, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(v)), true, nil
}

// bucketOf finds the bucket holding index suffix e: its boundary suffix (nil: no bucket yet)
// and count.
func (z *zsetStore) bucketOf(e []byte) ([]byte, int64, error) {
	return z.bucketLT(append(zsetTagged(zsetTagBucket, e), 0))
}

// bucketLT finds the greatest bucket boundary sub-key below probe.
func (z *zsetStore) bucketLT(probe []byte) ([]byte, int64, error) {
	it, err := z.tagIter(zsetTagBucket)
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	if !it.SeekLT(probe) {
		return nil, 0, nil // no bucket yet: the first one, empty
	}
	bnd := bytes.Clone(it.Sub()[1:])
	v, ok, err := z.tx.GetSub(z.c, zsetTagged(zsetTagCount, bnd))
	if err != nil {
		return nil, 0, err
	}
	if !ok || len(v) != 8 {
		return nil, 0, fmt.Errorf("zset bucket %x has no count", bnd)
	}
	return bnd, zsetBucketCount(v), nil
}

// tagIter iterates the sub-keys under one tag.
func (z *zsetStore) tagIter(tag byte) (*keyspace.SubIter, error) {
	return z.tx.IterSubs(z.c, keyspace.SubIterOptions{From: []byte{tag}, To: []byte{tag + 1}})
}

// zsetBucketCount decodes a bucket count.
func zsetBucketCount(v []byte) int64 { return int64(binary.BigEndian.Uint64(v)) }

// putBucket sets an existing bucket's count.
func (z *zsetStore) putBucket(boundary []byte, n int64) error {
	return z.tx.PutSub(z.c, zsetTagged(zsetTagCount, boundary), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// addBucket creates a bucket boundary with its count.
func (z *zsetStore) addBucket(boundary []byte, n int64) error {
	if err := z.tx.PutSub(z.c, zsetTagged(zsetTagBucket, boundary), nil); err != nil {
		return err
	}
	return z.putBucket(boundary, n)
}

// dropBucket deletes a bucket boundary and its count.
func (z *zsetStore) dropBucket(boundary []byte) error {
	if err := z.tx.DeleteSub(z.c, zsetTagged(zsetTagBucket, boundary)); err != nil {
		return err
	}
	return z.tx.DeleteSub(z.c, zsetTagged(zsetTagCount, boundary))
}

// set gives member the score, inserting it or moving it. old/had describe its current score.
func (z *zsetStore) set(member []byte, score float64, old float64, had bool) error {
	if score == 0 {
		score = 0
	}
	if had {
		if old == score {
			return nil
		}
		if err := z.remove(member, old); err != nil {
			return err
		}
	}
	if err := z.tx.PutSub(z.c, zsetMemberKey(member), binary.BigEndian.AppendUint64(nil, math.Float64bits(score))); err != nil {
		return err
	}
	e := zsetEntry(score, member)
	if err := z.tx.PutSub(z.c, zsetTagged(zsetTagIndex, e), nil); err != nil {
		return err
	}
	z.lowerMark(e)
	z.c.Meta.Size++
	if len(member) > 64 || z.c.Meta.Size > 128 {
		z.c.Meta.Enc = keyspace.EncBig
	}
	bnd, n, err := z.bucketOf(e)
	if err != nil {
		return err
	}
	n++
	if bnd == nil {
		return z.addBucket([]byte{}, n)
	}
	if n <= int64(2*z.b) {
		return z.putBucket(bnd, n)
	}
	// Split: the entry B places after the boundary starts a new bucket.
	it, err := z.indexIter()
	if err != nil {
		return err
	}
	ok := it.SeekGE(zsetTagged(zsetTagIndex, bnd))
	for i := 0; ok && i < z.b; i++ {
		ok = it.Next()
	}
	var mid []byte
	if ok {
		mid = bytes.Clone(it.Sub()[1:])
	}
	it.Close()
	if mid == nil {
		return z.putBucket(bnd, n)
	}
	if err := z.putBucket(bnd, int64(z.b)); err != nil {
		return err
	}
	return z.addBucket(mid, n-int64(z.b))
}

// remove deletes member (whose score is score).
func (z *zsetStore) remove(member []byte, score float64) error {
	e := zsetEntry(score, member)
	bnd, n, err := z.bucketOf(e)
	if err != nil {
		return err
	}
	if err := z.tx.DeleteSub(z.c, zsetMemberKey(member)); err != nil {
		return err
	}
	if err := z.tx.DeleteSub(z.c, zsetTagged(zsetTagIndex, e)); err != nil {
		return err
	}
	z.c.Meta.Size--
	n--
	if len(bnd) == 0 || n >= int64(z.b/4) {
		return z.putBucket(bnd, n)
	}
	// Small bucket: fold it into its predecessor when they fit together.
	prev, pn, err := z.bucketLT(zsetTagged(zsetTagBucket, bnd))
	if err != nil {
		return err
	}
	if pn+n > int64(2*z.b) {
		return z.putBucket(bnd, n)
	}
	if err := z.dropBucket(bnd); err != nil {
		return err
	}
	return z.putBucket(prev, pn+n)
}

// countBelow is the number of index entries whose suffix sorts before bound, which for a
// present entry is its 0-based rank: the counts of the buckets wholly before it plus a walk of
// at most 2*B entries in the bucket it falls in, so a count over a range of any width costs
// two of these, not a walk of the range.
func (z *zsetStore) countBelow(bound []byte) (int64, error) {
	it, err := z.tagIter(zsetTagCount)
	if err != nil {
		return 0, err
	}
	target := zsetTagged(zsetTagCount, bound)
	var sum, last int64
	from := []byte{zsetTagIndex}
	for ok := it.First(); ok && bytes.Compare(it.Sub(), target) <= 0; ok = it.Next() {
		sum += last
		last = zsetBucketCount(it.Value())
		from = zsetTagged(zsetTagIndex, it.Sub()[1:])
	}
	it.Close()
	if low := z.indexLower(); bytes.Compare(from, low) < 0 {
		from = low
	}
	ix, err := z.tx.IterSubs(z.c, keyspace.SubIterOptions{From: from, To: zsetTagged(zsetTagIndex, bound)})
	if err != nil {
		return 0, err
	}
	defer ix.Close()
	for ok := ix.First(); ok; ok = ix.Next() {
		sum++
	}
	return sum, nil
}

// zsetCountWalk is how many entries ZCOUNT walks before it counts with the buckets instead:
// a narrow range is cheaper to walk than the bucket counts before it.
const zsetCountWalk = 1024

// countScores is ZCOUNT's answer for r.
func (z *zsetStore) countScores(r zsetScoreRange) (int64, error) {
	lo := zsetScoreBound(r.min, r.minEx)  // entries from lo on have score >= min (> min if minEx)
	hi := zsetScoreBound(r.max, !r.maxEx) // entries before hi have score <= max (< max if maxEx)
	return z.countBetween(lo, hi, math.IsInf(r.max, 1))
}

// countLex is ZLEXCOUNT's answer for r when every member has the same score (the first and
// the last index entries have), the only case Redis defines; ok is false otherwise, and the
// caller walks the set as Redis does.
func (z *zsetStore) countLex(r zsetLexRange) (n int64, ok bool, err error) {
	ix, err := z.indexIter()
	if err != nil {
		return 0, false, err
	}
	var first, last []byte
	if ix.First() {
		first = bytes.Clone(ix.Sub()[1:9])
	}
	if ix.Last() {
		last = ix.Sub()[1:9]
	}
	same := first != nil && bytes.Equal(first, last)
	ix.Close()
	if !same {
		return 0, false, nil
	}
	after := func(b []byte) []byte { // the first suffix past every entry starting with b
		return append(bytes.Clone(b), 0)
	}
	lex := func(b zsetLexBound, start bool) []byte {
		switch {
		case b.inf < 0:
			return first
		case b.inf > 0:
			return zsetNextScore(first)
		case b.ex == start:
			return after(append(bytes.Clone(first), b.s...))
		default:
			return append(bytes.Clone(first), b.s...)
		}
	}
	n, err = z.countBetween(lex(r.min, true), lex(r.max, false), r.max.inf > 0)
	return n, true, err
}

// countBetween counts the index entries from suffix lo up to (not including) hi; toEnd says
// hi is past every entry. A range of up to countWalk entries is walked; a longer one is
// counted with the buckets below each bound.
func (z *zsetStore) countBetween(lo, hi []byte, toEnd bool) (int64, error) {
	if bytes.Compare(hi, lo) <= 0 {
		return 0, nil
	}
	from := zsetTagged(zsetTagIndex, lo)
	if low := z.indexLower(); bytes.Compare(from, low) < 0 {
		from = low
	}
	ix, err := z.tx.IterSubs(z.c, keyspace.SubIterOptions{From: from, To: zsetTagged(zsetTagIndex, hi)})
	if err != nil {
		return 0, err
	}
	var n int64
	ok := ix.First()
	for ; ok && n < z.countWalk; ok = ix.Next() {
		n++
	}
	ix.Close()
	if !ok {
		return n, nil
	}
	below, err := z.countBelow(lo)
	if err != nil {
		return 0, err
	}
	if toEnd {
		return z.c.Meta.Size - below, nil
	}
	upTo, err := z.countBelow(hi)
	if err != nil {
		return 0, err
	}
	return upTo - below, nil
}

// zsetNextScore is the 8-byte sortable value after b's first 8 bytes, which exists because
// no score (NaN is never stored) sorts as all ones.
func zsetNextScore(b []byte) []byte {
	return binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(b)+1)
}

// zsetScoreBound is the index suffix at which the entries of score f start, or with after
// the one right after all of them.
func zsetScoreBound(f float64, after bool) []byte {
	b := zsetSortable(nil, f)
	if after {
		return zsetNextScore(b)
	}
	return b
}

// seekRank opens an index iterator positioned on the entry of rank r (0 ≤ r < Size).
func (z *zsetStore) seekRank(r int64) (*keyspace.SubIter, error) {
	it, err := z.tagIter(zsetTagCount)
	if err != nil {
		return nil, err
	}
	var sum int64
	from := []byte{zsetTagIndex}
	// Rank 0 is the first live index entry: no walk over the counts. The first bucket never
	// merges, so pops leave it at zero, and stepping past its count would cross every
	// version of it that those pops wrote (see the file comment on versions).
	for ok := r > 0 && it.First(); ok; ok = it.Next() {
		n := zsetBucketCount(it.Value())
		if sum+n > r {
			from = zsetTagged(zsetTagIndex, it.Sub()[1:])
			break
		}
		sum += n
	}
	it.Close()
	ix, err := z.indexIter()
	if err != nil {
		return nil, err
	}
	ok := ix.SeekGE(from)
	for ; ok && sum < r; sum++ {
		ok = ix.Next()
	}
	return ix, nil
}

// indexIter iterates the score index, from the low-water mark.
func (z *zsetStore) indexIter() (*keyspace.SubIter, error) {
	return z.tx.IterSubs(z.c, keyspace.SubIterOptions{From: z.indexLower(), To: []byte{zsetTagIndex + 1}})
}

// indexLower is the first index sub-key that can be live.
func (z *zsetStore) indexLower() []byte {
	return zsetTagged(zsetTagIndex, z.c.Meta.Extra)
}

// lowerMark keeps the low-water mark at or below an index entry e being inserted.
func (z *zsetStore) lowerMark(e []byte) {
	if len(z.c.Meta.Extra) > 0 && bytes.Compare(e, z.c.Meta.Extra) < 0 {
		z.c.Meta.Extra = bytes.Clone(e)
	}
}

// raiseMark records that every live index entry is above e (e was the smallest, now gone).
func (z *zsetStore) raiseMark(e []byte) { z.c.Meta.Extra = bytes.Clone(e) }

// zsetItem is one member and its score, copied out of an iterator.
type zsetItem struct {
	member []byte
	score  float64
}

// zsetItemOf decodes an index sub-key (tag included).
func zsetItemOf(sub []byte) zsetItem {
	return zsetItem{member: bytes.Clone(sub[9:]), score: zsetUnsortable(sub[1:9])}
}
