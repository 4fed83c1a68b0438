package command

// ZPOPMIN, ZPOPMAX, BZPOPMIN, BZPOPMAX.

import (
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// zsetPopItems removes and returns up to count items from one end of z.
func zsetPopItems(z *zsetStore, count int64, max bool) ([]zsetItem, error) {
	q := zsetQuery{by: zsetByRank, start: 0, end: count - 1, rev: max}
	if count > z.c.Meta.Size {
		q.end = z.c.Meta.Size - 1
	}
	items, err := z.collect(&q)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if err := z.remove(it.member, it.score); err != nil {
			return nil, err
		}
	}
	if len(items) > 0 && !max {
		// The smallest entries are gone: later iterations start after them (zset_store.go).
		last := items[len(items)-1]
		z.raiseMark(zsetEntry(last.score, last.member))
	}
	if len(items) > 0 {
		if err := z.tx.SaveCollection(z.c); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// zsetPopAll pops every member of z by deleting its key (one range deletion of its sub-keys
// when big), and returns elem's values for each member in pop order as an array of kind
// (KindArray or KindPairs): popReply, streamed from a snapshot where it can. ok is false,
// with nothing done, when z has fewer than streamMin members (zsetPopItems pops them); an
// error is returned as rv with ok true.
func zsetPopAll(tx *keyspace.Txn, z *zsetStore, key []byte, max bool, per int, kind reply.Kind,
	elem func(zsetItem) []reply.Value) (rv reply.Value, ok bool) {
	size := z.c.Meta.Size
	if size < streamMin {
		return reply.Value{}, false
	}
	opts := keyspace.SubIterOptions{From: z.indexLower(), To: []byte{zsetTagIndex + 1}}
	fromIndex := func(sub, _ []byte) []reply.Value { return elem(zsetItemOf(sub)) }
	rv = popReply(tx, z.c, opts, size, per, kind, max, fromIndex, func() (reply.Value, error) {
		items, err := z.collect(&zsetQuery{by: zsetByRank, start: 0, end: -1, rev: max})
		if err == nil && int64(len(items)) != size {
			err = keyspace.ErrCorrupt
		}
		out := make([]reply.Value, 0, len(items)*per)
		for _, it := range items {
			out = append(out, elem(it)...)
		}
		return reply.Value{Kind: kind, Elems: out}, err
	})
	if rv.IsError() {
		return rv, true
	}
	if _, err := tx.Delete(key); err != nil {
		reply.Discard(rv)
		return reply.ErrInternal, true
	}
	return rv, true
}

func zsetPop(tx *keyspace.Txn, args [][]byte, max bool) reply.Value {
	if len(args) > 3 {
		return reply.ErrSyntax
	}
	count, flat := int64(1), len(args) == 2
	if len(args) == 3 {
		n, ok := strParseInt(args[2])
		if !ok {
			return reply.ErrNotInteger
		}
		if n < 0 {
			return zsetErrPositive
		}
		count = n
	}
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	if z == nil || count == 0 {
		return reply.Array()
	}
	if !flat && count >= z.c.Meta.Size {
		pair := func(it zsetItem) []reply.Value { return []reply.Value{reply.Bulk(it.member), reply.Double(it.score)} }
		if rv, ok := zsetPopAll(tx, z, args[1], max, 2, reply.KindPairs, pair); ok {
			return rv
		}
	}
	items, err := zsetPopItems(z, count, max)
	if err != nil {
		return reply.ErrInternal
	}
	if flat {
		// Redis 7.0 answers a flat [member, score] when no count was given, in RESP3 too.
		out := make([]reply.Value, 0, 2)
		for _, it := range items {
			out = append(out, reply.Bulk(it.member), reply.Double(it.score))
		}
		return reply.Array(out...)
	}
	return zsetItemsReply(items, true)
}

func zsetZpopminCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return zsetPop(tx, args, false) }
func zsetZpopmaxCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return zsetPop(tx, args, true) }

// zsetParseTimeout checks a blocking command's timeout (seconds, a float) as Redis'
// getTimeoutFromObjectOrReply does.
func zsetParseTimeout(b []byte) reply.Value {
	f, ok := zsetParseScore(b)
	if !ok || math.IsInf(f, 0) {
		return zsetErrTimeout
	}
	if f < 0 {
		return zsetErrTimeNeg
	}
	if f*1000 > float64(math.MaxInt64/2) {
		return zsetErrTimeout
	}
	return reply.Value{}
}

func zsetBlockValidate(args [][]byte) (reply.Value, bool) {
	if v := zsetParseTimeout(args[len(args)-1]); v.Kind == reply.KindError {
		return v, false
	}
	return reply.Value{}, true
}

func zsetBpop(tx *keyspace.Txn, args [][]byte, max bool) reply.Value {
	if v := zsetParseTimeout(args[len(args)-1]); v.Kind == reply.KindError {
		return v
	}
	for _, key := range args[1 : len(args)-1] {
		z, v, ok := zsetOpen(tx, key)
		if !ok {
			return v
		}
		if z == nil || z.c.Meta.Size == 0 {
			continue
		}
		items, err := zsetPopItems(z, 1, max)
		if err != nil || len(items) == 0 {
			return reply.ErrInternal
		}
		return reply.Array(reply.Bulk(key), reply.Bulk(items[0].member), reply.Double(items[0].score))
	}
	return reply.Blocked
}

func zsetBzpopminCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return zsetBpop(tx, args, false) }
func zsetBzpopmaxCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return zsetBpop(tx, args, true) }
