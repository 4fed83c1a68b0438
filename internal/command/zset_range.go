package command

// Range parsing (score, lex and rank ranges, as zslParseRange / zslParseLexRange) and the
// walks behind ZRANGE and friends, ZCOUNT, ZLEXCOUNT and the ZREMRANGEBY* commands.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

type zsetScoreRange struct {
	min, max     float64
	minEx, maxEx bool
}

func zsetParseBound(b []byte) (float64, bool, bool) {
	ex := len(b) > 0 && b[0] == '('
	if ex {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false, false
	}
	f, ok := zsetStrtod(b)
	if !ok {
		// zslParseRange does not look at errno: overflow gives ±inf, underflow 0.
		if g, err := strconv.ParseFloat(strings.TrimLeft(string(b), " \t\n\v\f\r"), 64); err != nil && !math.IsNaN(g) &&
			errors.Is(err, strconv.ErrRange) {
			return g, ex, true
		}
	}
	return f, ex, ok
}

func zsetParseScoreRange(min, max []byte) (zsetScoreRange, bool) {
	var r zsetScoreRange
	var ok1, ok2 bool
	r.min, r.minEx, ok1 = zsetParseBound(min)
	r.max, r.maxEx, ok2 = zsetParseBound(max)
	return r, ok1 && ok2
}

func (r *zsetScoreRange) gteMin(f float64) bool {
	if r.minEx {
		return f > r.min
	}
	return f >= r.min
}

func (r *zsetScoreRange) lteMax(f float64) bool {
	if r.maxEx {
		return f < r.max
	}
	return f <= r.max
}

// zsetLexBound is one lex bound: inf -1 is "-", +1 is "+".
type zsetLexBound struct {
	s   []byte
	ex  bool
	inf int
}

type zsetLexRange struct{ min, max zsetLexBound }

func zsetParseLexBound(b []byte) (zsetLexBound, bool) {
	if len(b) == 0 {
		return zsetLexBound{}, false
	}
	switch b[0] {
	case '+':
		if len(b) == 1 {
			return zsetLexBound{inf: 1}, true
		}
	case '-':
		if len(b) == 1 {
			return zsetLexBound{inf: -1}, true
		}
	case '(':
		return zsetLexBound{s: b[1:], ex: true}, true
	case '[':
		return zsetLexBound{s: b[1:]}, true
	}
	return zsetLexBound{}, false
}

func zsetParseLexRange(min, max []byte) (zsetLexRange, bool) {
	a, ok1 := zsetParseLexBound(min)
	b, ok2 := zsetParseLexBound(max)
	return zsetLexRange{a, b}, ok1 && ok2
}

func (r *zsetLexRange) gteMin(m []byte) bool {
	switch r.min.inf {
	case -1:
		return true
	case 1:
		return false
	}
	c := bytes.Compare(m, r.min.s)
	return c > 0 || (c == 0 && !r.min.ex)
}

func (r *zsetLexRange) lteMax(m []byte) bool {
	switch r.max.inf {
	case 1:
		return true
	case -1:
		return false
	}
	c := bytes.Compare(m, r.max.s)
	return c < 0 || (c == 0 && !r.max.ex)
}

const (
	zsetByRank = iota
	zsetByScore
	zsetByLex
)

// zsetQuery is a parsed range query.
type zsetQuery struct {
	by            int
	rev           bool
	start, end    int64
	score         zsetScoreRange
	lex           zsetLexRange
	offset, limit int64 // limit -1: no limit
}

// collect returns the items of the query, in reply order.
func (z *zsetStore) collect(q *zsetQuery) ([]zsetItem, error) {
	switch q.by {
	case zsetByRank:
		return z.collectRank(q)
	case zsetByScore:
		return z.collectWalk(q, z.seekScore, func(it zsetItem) bool { return q.score.gteMin(it.score) },
			func(it zsetItem) bool { return q.score.lteMax(it.score) })
	default:
		return z.collectWalk(q, z.seekLex, func(it zsetItem) bool { return q.lex.gteMin(it.member) },
			func(it zsetItem) bool { return q.lex.lteMax(it.member) })
	}
}

func (z *zsetStore) collectRank(q *zsetQuery) ([]zsetItem, error) {
	size := z.c.Meta.Size
	start, end := q.start, q.end
	if start < 0 {
		start += size
	}
	if end < 0 {
		end += size
	}
	start = max(start, 0)
	if start > end || start >= size {
		return nil, nil
	}
	end = min(end, size-1)
	first := start
	if q.rev {
		first = size - 1 - end
	}
	it, err := z.seekRank(first)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([]zsetItem, 0, end-start+1)
	for n := end - start + 1; n > 0 && it.Valid(); n-- {
		out = append(out, zsetItemOf(it.Sub()))
		it.Next()
	}
	if q.rev {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// seekScore positions it at the first candidate: forward, the first entry with score ≥ min;
// backward, the last entry with score ≤ max.
func (z *zsetStore) seekScore(it *keyspace.SubIter, q *zsetQuery) bool {
	if !q.rev {
		return it.SeekGE(zsetSortable([]byte{zsetTagIndex}, q.score.min))
	}
	u := binary.BigEndian.Uint64(zsetSortable(nil, q.score.max))
	if u == ^uint64(0) {
		return it.Last()
	}
	return it.SeekLT(binary.BigEndian.AppendUint64([]byte{zsetTagIndex}, u+1))
}

// seekLex positions it for a lex walk: members are assumed to share the first (forward) or
// last (backward) entry's score, and the walk goes on from there as Redis' listpack walk.
func (z *zsetStore) seekLex(it *keyspace.SubIter, q *zsetQuery) bool {
	// Redis first requires that the range overlaps [first, last] member (zzlIsInLexRange),
	// which matters only when scores differ.
	if !it.Last() || !q.lex.gteMin(zsetItemOf(it.Sub()).member) {
		return false
	}
	if !it.First() || !q.lex.lteMax(zsetItemOf(it.Sub()).member) {
		return false
	}
	if !q.rev {
		if !it.First() || q.lex.min.inf != 0 {
			return it.Valid()
		}
		p := append(bytes.Clone(it.Sub()[:9]), q.lex.min.s...)
		return it.SeekGE(p)
	}
	if !it.Last() || q.lex.max.inf != 0 {
		return it.Valid()
	}
	p := append(append(bytes.Clone(it.Sub()[:9]), q.lex.max.s...), 0)
	return it.SeekLT(p)
}

func (z *zsetStore) collectWalk(q *zsetQuery, seek func(*keyspace.SubIter, *zsetQuery) bool,
	gteMin, lteMax func(zsetItem) bool) ([]zsetItem, error) {
	it, err := z.indexIter()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	step := it.Next
	first, last := gteMin, lteMax
	if q.rev {
		step = it.Prev
		first, last = lteMax, gteMin
	}
	ok := seek(it, q)
	for ; ok; ok = step() {
		if first(zsetItemOf(it.Sub())) {
			break
		}
	}
	if q.offset < 0 {
		return nil, nil
	}
	for n := q.offset; ok && n > 0; n-- {
		ok = step()
	}
	var out []zsetItem
	for n := q.limit; ok && n != 0; n-- {
		item := zsetItemOf(it.Sub())
		if !last(item) {
			break
		}
		out = append(out, item)
		ok = step()
	}
	return out, nil
}

// zsetItemsReply renders items, with scores as doubles when asked: [member, score] pairs
// (nested in RESP3, flat in RESP2), as Redis 7.0 replies to WITHSCORES.
func zsetItemsReply(items []zsetItem, withScores bool) reply.Value {
	n := len(items)
	if withScores {
		n *= 2
	}
	out := make([]reply.Value, 0, n)
	for _, it := range items {
		out = append(out, reply.Bulk(it.member))
		if withScores {
			out = append(out, reply.Double(it.score))
		}
	}
	if withScores {
		return reply.Pairs(out...)
	}
	return reply.Array(out...)
}

// zsetParseRangeQuery parses args[2:] of a ZRANGE-family command (key at args[1]).
func zsetParseRangeQuery(args [][]byte, by int, rev bool) (zsetQuery, bool, reply.Value) {
	return zsetParseRangeQueryStore(args, by, rev, false)
}

// zsetParseRangeQueryStore is zsetParseRangeQuery for ZRANGE (store false) or ZRANGESTORE
// (store true, args shifted by one so that the source is at 1), where WITHSCORES is a syntax
// error at its place.
func zsetParseRangeQueryStore(args [][]byte, by int, rev, store bool) (zsetQuery, bool, reply.Value) {
	q := zsetQuery{limit: -1}
	withScores := false
	byAuto, revAuto := by < 0, !rev
	for j := 4; j < len(args); j++ {
		left := len(args) - j - 1
		switch a := lower(args[j]); {
		case a == "withscores" && !store:
			withScores = true
		case a == "limit" && left >= 2:
			var ok1, ok2 bool
			q.offset, ok1 = strParseInt(args[j+1])
			if !ok1 {
				return q, false, reply.ErrNotInteger
			}
			q.limit, ok2 = strParseInt(args[j+2])
			if !ok2 {
				return q, false, reply.ErrNotInteger
			}
			j += 2
		case a == "rev" && revAuto:
			rev, revAuto = true, false
		case a == "bylex" && byAuto:
			by, byAuto = zsetByLex, false
		case a == "byscore" && byAuto:
			by, byAuto = zsetByScore, false
		default:
			return q, false, reply.ErrSyntax
		}
	}
	if by < 0 {
		by = zsetByRank
	}
	q.by, q.rev = by, rev
	if q.limit != -1 && by == zsetByRank {
		return q, false, zsetErrWithLimit
	}
	if withScores && by == zsetByLex {
		return q, false, zsetErrWithScLex
	}
	lo, hi := args[2], args[3]
	if rev && by != zsetByRank {
		lo, hi = hi, lo
	}
	switch by {
	case zsetByRank:
		var ok1, ok2 bool
		q.start, ok1 = strParseInt(lo)
		q.end, ok2 = strParseInt(hi)
		if !ok1 || !ok2 {
			return q, false, reply.ErrNotInteger
		}
	case zsetByScore:
		r, ok := zsetParseScoreRange(lo, hi)
		if !ok {
			return q, false, zsetErrMinMax
		}
		q.score = r
	case zsetByLex:
		r, ok := zsetParseLexRange(lo, hi)
		if !ok {
			return q, false, zsetErrLexRange
		}
		q.lex = r
	}
	return q, withScores, reply.Value{}
}

func zsetRangeCmd(by int, rev bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		q, withScores, errv := zsetParseRangeQuery(args, by, rev)
		if errv.Kind == reply.KindError {
			return errv
		}
		z, v, ok := zsetOpen(tx, args[1])
		if !ok {
			return v
		}
		if z == nil {
			return reply.Array()
		}
		items, err := z.collect(&q)
		if err != nil {
			return reply.ErrInternal
		}
		return zsetItemsReply(items, withScores)
	}
}

var (
	zsetZrangeCmd           = zsetRangeCmd(-1, false)
	zsetZrevrangeCmd        = zsetRangeCmd(zsetByRank, true)
	zsetZrangebyscoreCmd    = zsetRangeCmd(zsetByScore, false)
	zsetZrevrangebyscoreCmd = zsetRangeCmd(zsetByScore, true)
	zsetZrangebylexCmd      = zsetRangeCmd(zsetByLex, false)
	zsetZrevrangebylexCmd   = zsetRangeCmd(zsetByLex, true)
)

// zsetCount is ZCOUNT and ZLEXCOUNT.
func zsetCount(tx *keyspace.Txn, args [][]byte, by int) reply.Value {
	q := zsetQuery{by: by, limit: -1}
	if by == zsetByScore {
		r, ok := zsetParseScoreRange(args[2], args[3])
		if !ok {
			return zsetErrMinMax
		}
		q.score = r
	} else {
		r, ok := zsetParseLexRange(args[2], args[3])
		if !ok {
			return zsetErrLexRange
		}
		q.lex = r
	}
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	if z == nil {
		return reply.Int(0)
	}
	if by == zsetByScore {
		n, err := z.countScores(q.score)
		if err != nil {
			return reply.ErrInternal
		}
		return reply.Int(n)
	}
	if n, ok, err := z.countLex(q.lex); err != nil {
		return reply.ErrInternal
	} else if ok {
		return reply.Int(n)
	}
	items, err := z.collect(&q)
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Int(int64(len(items)))
}

func zsetZcountCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetCount(tx, args, zsetByScore)
}

func zsetZlexcountCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetCount(tx, args, zsetByLex)
}

// zsetRemRange is ZREMRANGEBYRANK/SCORE/LEX.
func zsetRemRange(tx *keyspace.Txn, args [][]byte, by int) reply.Value {
	q := zsetQuery{by: by, limit: -1}
	switch by {
	case zsetByRank:
		var ok1, ok2 bool
		q.start, ok1 = strParseInt(args[2])
		q.end, ok2 = strParseInt(args[3])
		if !ok1 || !ok2 {
			return reply.ErrNotInteger
		}
	case zsetByScore:
		r, ok := zsetParseScoreRange(args[2], args[3])
		if !ok {
			return zsetErrMinMax
		}
		q.score = r
	default:
		r, ok := zsetParseLexRange(args[2], args[3])
		if !ok {
			return zsetErrLexRange
		}
		q.lex = r
	}
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	if z == nil {
		return reply.Int(0)
	}
	items, err := z.collect(&q)
	if err != nil {
		return reply.ErrInternal
	}
	return zsetRemoveItems(z, items)
}

// zsetRemoveItems removes items from z and saves it; the reply is how many.
func zsetRemoveItems(z *zsetStore, items []zsetItem) reply.Value {
	for _, it := range items {
		if err := z.remove(it.member, it.score); err != nil {
			return reply.ErrInternal
		}
	}
	if len(items) > 0 {
		if err := z.tx.SaveCollection(z.c); err != nil {
			return reply.ErrInternal
		}
	}
	return reply.Int(int64(len(items)))
}

func zsetZremrangebyrankCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetRemRange(tx, args, zsetByRank)
}

func zsetZremrangebyscoreCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetRemRange(tx, args, zsetByScore)
}

func zsetZremrangebylexCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetRemRange(tx, args, zsetByLex)
}
