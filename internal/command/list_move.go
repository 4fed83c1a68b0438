package command

// LMOVE, RPOPLPUSH, LMPOP and the serving part of their blocking forms.

import (
	"bytes"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	listErrNumkeys = reply.Err("ERR numkeys should be greater than 0")
	listErrCountGT = reply.Err("ERR count should be greater than 0")
)

// listMove pops from src's end (fromLeft) and pushes onto dst's end (toLeft). It returns
// (Null, true) when src is absent, and an error reply (WRONGTYPE from either key) before
// writing anything.
func listMove(tx *keyspace.Txn, src, dst []byte, fromLeft, toLeft bool) (reply.Value, bool) {
	sc, rv, ok := listLookup(tx, src)
	if !ok {
		return rv, false
	}
	if sc == nil {
		return reply.Null, true
	}
	var dc *keyspace.Coll
	if bytes.Equal(src, dst) {
		dc = sc
	} else {
		c, rv, ok := listLookup(tx, dst)
		if !ok {
			return rv, false
		}
		if c == nil {
			c = tx.CreateCollection(dst, keyspace.TypeList)
		}
		dc = c
	}
	vals, err := listPop(tx, sc, fromLeft, 1)
	if err != nil {
		return reply.ErrInternal, false
	}
	if err := listPush(tx, dc, toLeft, vals[0]); err != nil {
		return reply.ErrInternal, false
	}
	if dc != sc {
		if rv, ok := listSave(tx, sc); !ok {
			return rv, false
		}
	}
	if rv, ok := listSave(tx, dc); !ok {
		return rv, false
	}
	return reply.Bulk(vals[0]), true
}

// listParseSides parses LMOVE/BLMOVE's wherefrom and whereto.
func listParseSides(a, b []byte) (fromLeft, toLeft, ok bool) {
	fromLeft, ok1 := listParseSide(a)
	toLeft, ok2 := listParseSide(b)
	return fromLeft, toLeft, ok1 && ok2
}

func listLmoveCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	fromLeft, toLeft, ok := listParseSides(args[3], args[4])
	if !ok {
		return reply.ErrSyntax
	}
	rv, _ := listMove(tx, args[1], args[2], fromLeft, toLeft)
	return rv
}

func listRpoplpushCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	rv, _ := listMove(tx, args[1], args[2], false, true)
	return rv
}

// listMpopArgs parses [numkeys key... LEFT|RIGHT [COUNT n]] with numkeys at args[at].
func listMpopArgs(args [][]byte, at int) (keys [][]byte, left bool, count int64, rv reply.Value, ok bool) {
	n, ok := strParseInt(args[at])
	if !ok || n <= 0 {
		return nil, false, 0, listErrNumkeys, false
	}
	if n >= int64(len(args)-at-1) {
		return nil, false, 0, reply.ErrSyntax, false
	}
	where := at + 1 + int(n)
	left, ok = listParseSide(args[where])
	if !ok {
		return nil, false, 0, reply.ErrSyntax, false
	}
	count = -1
	for j := where + 1; j < len(args); j++ {
		if count == -1 && strEqFold(args[j], "count") && j+1 < len(args) {
			j++
			c, ok := strParseInt(args[j])
			if !ok || c <= 0 {
				return nil, false, 0, listErrCountGT, false
			}
			count = c
			continue
		}
		return nil, false, 0, reply.ErrSyntax, false
	}
	return args[at+1 : where], left, max(count, 1), reply.Value{}, true
}

// listMpop pops up to count elements from the first non-empty list of keys: [key, [elems]],
// or NullArray when every list is absent. WRONGTYPE stops at the first non-list key met.
func listMpop(tx *keyspace.Txn, keys [][]byte, left bool, count int64) reply.Value {
	for _, k := range keys {
		c, rv, ok := listLookup(tx, k)
		if !ok {
			return rv
		}
		if c == nil {
			continue
		}
		if big, ok := listPopBig(tx, c, left, count); ok {
			if big.IsError() {
				return big
			}
			return reply.Array(reply.Bulk(k), big)
		}
		vals, err := listPop(tx, c, left, count)
		if err != nil {
			return reply.ErrInternal
		}
		if rv, ok := listSave(tx, c); !ok {
			return rv
		}
		return reply.Array(reply.Bulk(k), reply.BulkArray(vals))
	}
	return reply.NullArray
}

func listLmpopCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	keys, left, count, rv, ok := listMpopArgs(args, 1)
	if !ok {
		return rv
	}
	return listMpop(tx, keys, left, count)
}
