package command

// HRANDFIELD key [count [WITHVALUES]].
//
// Choices come from tx.Rand(). A compact hash (at most 128 fields) is read whole and picked
// from uniformly, as Redis does. A big hash has no positional index, so a pick there seeks to
// a random point between its first and last field and takes the field at or after it (wrapping to
// the first): O(log N) per pick instead of a walk, at the price of uniformity — a field that
// follows a wide gap in the byte order is picked more often. Distinct picks (positive count)
// on a big hash seek until they have count distinct fields, and finish with a walk from a
// random point if seeks keep colliding.

import (
	"math"
	"math/rand/v2"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var hashErrRandRange = reply.Err("ERR value is out of range")

// hashRandCountErr is getRangeLongFromObjectOrReply's text for [-LONG_MAX, LONG_MAX].
var hashRandCountErr = reply.Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")

func hashRandfieldCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if len(args) == 2 {
		c, rv, ok := hashLookup(tx, args[1])
		if !ok || c == nil {
			if !ok {
				return rv
			}
			return reply.Null
		}
		picks, err := collPick(tx, c, 1, true)
		if err != nil || len(picks) != 1 {
			return reply.ErrInternal
		}
		return reply.Bulk(picks[0][0])
	}
	n, ok := strParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	if n == math.MinInt64 {
		return hashRandCountErr
	}
	withValues := false
	if len(args) > 4 || len(args) == 4 && !strEqFold(args[3], "withvalues") {
		return reply.ErrSyntax
	}
	if len(args) == 4 {
		withValues = true
		if n < -math.MaxInt64/2 || n > math.MaxInt64/2 {
			return hashErrRandRange
		}
	}
	c, rv, ok := hashLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil || n == 0 {
		return reply.Array()
	}
	var picks [][2][]byte
	var err error
	switch {
	case n < 0:
		kind := reply.KindArray
		if withValues {
			kind = reply.KindPairs
		}
		if v, ok := streamRandPicks(tx, c, -n, withValues, kind); ok {
			return v
		}
		picks, err = collPick(tx, c, -n, true)
	case n >= c.Meta.Size:
		picks, err = collAll(tx, c)
	default:
		picks, err = collPick(tx, c, n, false)
	}
	if err != nil {
		return reply.ErrInternal
	}
	out := make([]reply.Value, 0, len(picks)*2)
	for _, p := range picks {
		out = append(out, reply.Bulk(p[0]))
		if withValues {
			out = append(out, reply.Bulk(p[1]))
		}
	}
	if withValues {
		return reply.Pairs(out...)
	}
	return reply.Array(out...)
}

// collAll returns every sub-key and value of c (a hash's fields, a set's members).
func collAll(tx *keyspace.Txn, c *keyspace.Coll) ([][2][]byte, error) {
	it, err := tx.IterSubs(c, keyspace.SubIterOptions{})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([][2][]byte, 0, c.Meta.Size)
	var arena copyArena
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, [2][]byte{arena.copy(it.Sub()), arena.copy(it.Value())})
	}
	if int64(len(out)) != c.Meta.Size {
		return nil, keyspace.ErrCorrupt
	}
	return out, nil
}

// collPick returns n random sub-keys of c with their values (n < Size when distinct), in random order.
func collPick(tx *keyspace.Txn, c *keyspace.Coll, n int64, repeat bool) ([][2][]byte, error) {
	r := tx.Rand()
	if c.Meta.Enc != keyspace.EncBig {
		all, err := collAll(tx, c)
		if err != nil {
			return nil, err
		}
		if !repeat {
			r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			return all[:n], nil
		}
		out := make([][2][]byte, n)
		for i := range out {
			out[i] = all[r.IntN(len(all))]
		}
		return out, nil
	}
	it, err := tx.IterSubs(c, keyspace.SubIterOptions{})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	move, err := randSeeker(it, r)
	if err != nil {
		return nil, err
	}
	seek := func() ([2][]byte, error) {
		if !move() {
			return [2][]byte{}, keyspace.ErrCorrupt
		}
		return [2][]byte{cloneBytes(it.Sub()), cloneBytes(it.Value())}, nil
	}
	out := make([][2][]byte, 0, n)
	if repeat {
		for range n {
			p, err := seek()
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	}
	seen := make(map[string]bool, n)
	for tries := int64(0); int64(len(out)) < n && tries < 3*n+16; tries++ {
		p, err := seek()
		if err != nil {
			return nil, err
		}
		if !seen[string(p[0])] {
			seen[string(p[0])] = true
			out = append(out, p)
		}
	}
	// Seeks kept landing on fields already taken: walk on from where the last one landed.
	for ok := it.Valid(); int64(len(out)) < n; ok = it.Next() {
		if !ok && !it.First() {
			return nil, keyspace.ErrCorrupt
		}
		if f := it.Sub(); !seen[string(f)] {
			seen[string(f)] = true
			out = append(out, [2][]byte{cloneBytes(f), cloneBytes(it.Value())})
		}
	}
	shuffle(r, out)
	return out, nil
}

// randSeeker returns a function that moves it to a random entry: a seek to a random point
// drawn byte by byte — the common prefix of the first and last sub-keys, then at each further
// position a byte between the smallest and largest byte seen there in a sample of the
// collection (its first entries and its last) — wrapping to the first entry past the end. So
// members that all start alike and use few byte values ("element:1" … "element:99999")
// still spread over the whole collection; the draw is not uniform (see the file comment).
func randSeeker(it *keyspace.SubIter, r *rand.Rand) (func() bool, error) {
	const sampleSize, maxDepth = 32, 16
	var sample [][]byte
	for ok := it.First(); ok && len(sample) < sampleSize; ok = it.Next() {
		sample = append(sample, cloneBytes(it.Sub()))
	}
	if len(sample) == 0 || !it.Last() {
		return nil, keyspace.ErrCorrupt
	}
	sample = append(sample, cloneBytes(it.Sub()))
	lo, hi := sample[0], sample[len(sample)-1]
	p := 0
	for p < len(lo) && p < len(hi) && lo[p] == hi[p] {
		p++
	}
	type span struct{ a, b int }
	var spans []span
	for q := p; q < p+maxDepth; q++ {
		sp, seen := span{255, 0}, false
		for _, m := range sample {
			if q < len(m) {
				sp.a, sp.b, seen = min(sp.a, int(m[q])), max(sp.b, int(m[q])), true
			}
		}
		if !seen {
			break
		}
		spans = append(spans, sp)
	}
	return func() bool {
		at := append(make([]byte, 0, p+len(spans)), lo[:p]...)
		for _, sp := range spans {
			at = append(at, byte(sp.a+r.IntN(sp.b-sp.a+1)))
		}
		return it.SeekGE(at) || it.First()
	}, nil
}

func shuffle(r *rand.Rand, s [][2][]byte) {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}
