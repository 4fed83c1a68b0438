package command

// ZRANDMEMBER, ZSCAN and ZRANGESTORE.
//
// ZRANDMEMBER picks by rank through the rank buckets (zset_store.go), so a pick costs a
// bucket walk plus at most 2*B index steps, never a walk of the set; a compact set (at most
// 128 members) is simply read whole. Distinct picks that would cover a large part of the set
// read it whole and shuffle, as Redis switches strategy too. Which members come out depends
// on the random source (tx.Rand), so they differ from Redis' choices; shapes and counts match.
//
// ZSCAN returns a compact set whole with cursor 0, in score order as Redis' listpack walk
// does; a big one is paged over the member sub-keys with the prefix cursors of collscan.go.
// Scores are strings in both protocols (ZSCAN replies are RESP-independent in Redis 7.0).

import (
	"encoding/binary"
	"math"

	"ferricd/internal/glob"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	zsetErrRandRange   = reply.Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
	zsetErrRandScRange = reply.Err("ERR value is out of range")
)

// zsetAt returns the item of rank r.
func (z *zsetStore) at(r int64) (zsetItem, error) {
	it, err := z.seekRank(r)
	if err != nil {
		return zsetItem{}, err
	}
	defer it.Close()
	if !it.Valid() {
		return zsetItem{}, keyspace.ErrCorrupt
	}
	return zsetItemOf(it.Sub()), nil
}

// all returns every item in score order.
func (z *zsetStore) all() ([]zsetItem, error) {
	it, err := z.indexIter()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([]zsetItem, 0, z.c.Meta.Size)
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, zsetItemOf(it.Sub()))
	}
	if int64(len(out)) != z.c.Meta.Size {
		return nil, keyspace.ErrCorrupt
	}
	return out, nil
}

func zsetZrandmemberCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if len(args) == 2 {
		z, v, ok := zsetOpen(tx, args[1])
		if !ok {
			return v
		}
		if z == nil {
			return reply.Null
		}
		it, err := z.at(tx.Rand().Int64N(z.c.Meta.Size))
		if err != nil {
			return reply.ErrInternal
		}
		return reply.Bulk(it.member)
	}
	n, ok := strParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	if n == math.MinInt64 {
		return zsetErrRandRange
	}
	withScores := false
	if len(args) > 4 || (len(args) == 4 && lower(args[3]) != "withscores") {
		return reply.ErrSyntax
	} else if len(args) == 4 {
		withScores = true
		if n < -math.MaxInt64/2 || n > math.MaxInt64/2 {
			return zsetErrRandScRange
		}
	}
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	if z == nil || n == 0 {
		return reply.Array()
	}
	items, err := zsetRandItems(tx, z, n)
	if err != nil {
		return reply.ErrInternal
	}
	return zsetItemsReply(items, withScores)
}

// zsetRandItems draws n items (n < 0: -n with repeats).
func zsetRandItems(tx *keyspace.Txn, z *zsetStore, n int64) ([]zsetItem, error) {
	r := tx.Rand()
	size := z.c.Meta.Size
	compact := z.c.Meta.Enc != keyspace.EncBig
	if n < 0 {
		n = -n
		var all []zsetItem
		if compact {
			var err error
			if all, err = z.all(); err != nil {
				return nil, err
			}
		}
		out := make([]zsetItem, 0, min(n, 1<<16))
		for ; n > 0; n-- {
			k := r.Int64N(size)
			if all != nil {
				out = append(out, all[k])
				continue
			}
			it, err := z.at(k)
			if err != nil {
				return nil, err
			}
			out = append(out, it)
		}
		return out, nil
	}
	if n >= size {
		return z.all()
	}
	if compact || n*3 > size {
		all, err := z.all()
		if err != nil {
			return nil, err
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return all[:n], nil
	}
	seen := make(map[int64]bool, n)
	out := make([]zsetItem, 0, n)
	for int64(len(out)) < n {
		k := r.Int64N(size)
		if seen[k] {
			continue
		}
		seen[k] = true
		it, err := z.at(k)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// zsetZscanCmd is ZSCAN key cursor [MATCH pattern] [COUNT count].
func zsetZscanCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	cursor, ok := genParseCursor(args[2])
	if !ok {
		return genErrInvalidCursor
	}
	z, rv, ok := zsetOpen(tx, args[1])
	if !ok {
		return rv
	}
	if z == nil {
		return emptyScan
	}
	o, rv, ok := parseScanOpts(args[3:])
	if !ok {
		return rv
	}
	var out []reply.Value
	if z.c.Meta.Enc != keyspace.EncBig {
		items, err := z.all()
		if err != nil {
			return reply.ErrInternal
		}
		for _, it := range items {
			if o.match == nil || glob.Match(o.match, it.member, false) {
				out = append(out, reply.Bulk(it.member), reply.BulkString(reply.FormatDouble(it.score)))
			}
		}
		return scanReply(0, out)
	}
	next, err := collScan(tx, z.c, cursor, o, []byte{zsetTagMember}, []byte{zsetTagMember + 1}, 1,
		func(member, value []byte) {
			if len(value) != 8 {
				return
			}
			f := math.Float64frombits(binary.BigEndian.Uint64(value))
			out = append(out, reply.Bulk(member), reply.BulkString(reply.FormatDouble(f)))
		})
	if err != nil {
		return reply.ErrInternal
	}
	return scanReply(next, out)
}

// zsetZrangestoreCmd is ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
func zsetZrangestoreCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	q, _, errv := zsetParseRangeQueryStore(args[1:], -1, false, true)
	if errv.Kind == reply.KindError {
		return errv
	}
	z, v, ok := zsetOpen(tx, args[2])
	if !ok {
		return v
	}
	var items []zsetItem
	if z != nil {
		var err error
		if items, err = z.collect(&q); err != nil {
			return reply.ErrInternal
		}
	}
	return zsetStoreItems(tx, args[1], items)
}
