package command

// ZMPOP and BZMPOP (zmpopGenericCommand of Redis 7.0.15): numkeys, then the keys, MIN|MAX and
// an optional COUNT. The reply is [key, [[member, score], ...]] with the pairs nested in both
// protocols, as Redis sends it; nothing to pop is a null array (ZMPOP) or a wait (BZMPOP, whose
// Run returns reply.Blocked having written nothing).

import (
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	zsetErrNumkeys = reply.Err("ERR numkeys should be greater than 0")
	zsetErrCount   = reply.Err("ERR count should be greater than 0")
)

// zsetMpopArgs parses args from numkeys at `at` on: the keys, whether to pop the maximum, and
// the count.
func zsetMpopArgs(args [][]byte, at int) ([][]byte, bool, int64, reply.Value, bool) {
	n, ok := strParseInt(args[at])
	if !ok || n < 1 {
		return nil, false, 0, zsetErrNumkeys, false
	}
	if n >= int64(len(args)-at-1) {
		return nil, false, 0, reply.ErrSyntax, false
	}
	where := at + 1 + int(n)
	var max bool
	switch lower(args[where]) {
	case "min":
	case "max":
		max = true
	default:
		return nil, false, 0, reply.ErrSyntax, false
	}
	count := int64(-1)
	for j := where + 1; j < len(args); j++ {
		if lower(args[j]) == "count" && j+1 < len(args) && count == -1 {
			c, ok := strParseInt(args[j+1])
			if !ok || c < 1 {
				return nil, false, 0, zsetErrCount, false
			}
			count = c
			j++
			continue
		}
		return nil, false, 0, reply.ErrSyntax, false
	}
	if count == -1 {
		count = 1
	}
	return args[at+1 : where], max, count, reply.Value{}, true
}

// zsetMpop pops from the first non-empty key; a null array when there is none.
func zsetMpop(tx *keyspace.Txn, keys [][]byte, max bool, count int64) reply.Value {
	for _, key := range keys {
		z, v, ok := zsetOpen(tx, key)
		if !ok {
			return v
		}
		if z == nil || z.c.Meta.Size == 0 {
			continue
		}
		if count >= z.c.Meta.Size {
			pair := func(it zsetItem) []reply.Value {
				return []reply.Value{reply.Array(reply.Bulk(it.member), reply.Double(it.score))}
			}
			if rv, ok := zsetPopAll(tx, z, key, max, 1, reply.KindArray, pair); ok {
				if rv.IsError() {
					return rv
				}
				return reply.Array(reply.Bulk(key), rv)
			}
		}
		items, err := zsetPopItems(z, count, max)
		if err != nil {
			return reply.ErrInternal
		}
		pairs := make([]reply.Value, len(items))
		for i, it := range items {
			pairs[i] = reply.Array(reply.Bulk(it.member), reply.Double(it.score))
		}
		return reply.Array(reply.Bulk(key), reply.Array(pairs...))
	}
	return reply.NullArray
}

func zsetZmpopCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	keys, max, count, rv, ok := zsetMpopArgs(args, 1)
	if !ok {
		return rv
	}
	return zsetMpop(tx, keys, max, count)
}

func zsetBzmpopCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if v := zsetParseTimeout(args[1]); v.Kind == reply.KindError {
		return v
	}
	keys, max, count, rv, ok := zsetMpopArgs(args, 2)
	if !ok {
		return rv
	}
	rv = zsetMpop(tx, keys, max, count)
	if rv.Kind == reply.KindNullArray {
		return reply.Blocked
	}
	return rv
}
