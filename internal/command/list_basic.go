package command

// List commands that touch one end or one index: pushes, pops, LLEN, LINDEX, LSET, LRANGE,
// LTRIM. Positions are computed from the head (list.go), so none of these scan.

import (
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var listErrCountPositive = reply.Err("ERR value is out of range, must be positive")
var listErrIndexRange = reply.Err("ERR index out of range")

// listPushCmd is LPUSH/RPUSH, and LPUSHX/RPUSHX when onlyExisting.
func listPushCmd(left, onlyExisting bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		c, rv, ok := listLookup(tx, args[1])
		if !ok {
			return rv
		}
		if c == nil {
			if onlyExisting {
				return strZero
			}
			c = tx.CreateCollection(args[1], keyspace.TypeList)
		}
		for _, v := range args[2:] {
			if err := listPush(tx, c, left, v); err != nil {
				return reply.ErrInternal
			}
		}
		if rv, ok := listSave(tx, c); !ok {
			return rv
		}
		return reply.Int(c.Meta.Size)
	}
}

// listPopCount parses LPOP/RPOP's optional count (-1 when absent).
func listPopCount(args [][]byte) (int64, reply.Value, bool) {
	if len(args) > 3 {
		return 0, reply.WrongArgs(lower(args[0])), false
	}
	if len(args) < 3 {
		return -1, reply.Value{}, true
	}
	n, ok := strParseInt(args[2])
	if !ok || n < 0 {
		return 0, listErrCountPositive, false
	}
	return n, reply.Value{}, true
}

func listPopValidate(args [][]byte) (reply.Value, bool) {
	_, rv, ok := listPopCount(args)
	return rv, ok
}

// listPopCmd is LPOP/RPOP [count].
func listPopCmd(left bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		n, rv, ok := listPopCount(args)
		if !ok {
			return rv
		}
		c, rv, ok := listLookup(tx, args[1])
		if !ok {
			return rv
		}
		if c == nil {
			if n >= 0 {
				return reply.NullArray
			}
			return reply.Null
		}
		if n == 0 {
			return reply.Array()
		}
		if big, ok := listPopBig(tx, c, left, n); ok {
			return big
		}
		vals, err := listPop(tx, c, left, max(n, 1))
		if err != nil {
			return reply.ErrInternal
		}
		if rv, ok := listSave(tx, c); !ok {
			return rv
		}
		if n < 0 {
			return reply.Bulk(vals[0])
		}
		return reply.BulkArray(vals)
	}
}

func listLlenCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return strZero
	}
	return reply.Int(c.Meta.Size)
}

// listIndex resolves a Redis index (negative from the end) against size; ok false when out
// of range.
func listIndex(i, size int64) (int64, bool) {
	if i < 0 {
		i += size
	}
	return i, i >= 0 && i < size
}

func listLindexCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return reply.Null
	}
	i, ok := strParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	i, ok = listIndex(i, c.Meta.Size)
	if !ok {
		return reply.Null
	}
	v, err := listGet(tx, c, i)
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Bulk(v)
}

func listLsetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return reply.ErrNoSuchKey
	}
	i, ok := strParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	i, ok = listIndex(i, c.Meta.Size)
	if !ok {
		return listErrIndexRange
	}
	if err := tx.PutSub(c, listPos(listHead(c)+i), args[3]); err != nil {
		return reply.ErrInternal
	}
	if rv, ok := listSave(tx, c); !ok {
		return rv
	}
	return reply.OK
}

// listRange normalizes LRANGE/LTRIM's start and end against size into [from, to); empty when
// from >= to.
func listRange(start, end, size int64) (from, to int64) {
	if start < 0 {
		start += size
	}
	if end < 0 {
		end += size
	}
	start = max(start, 0)
	if start > end || start >= size {
		return 0, 0
	}
	end = min(end, size-1)
	return start, end + 1
}

func listTwoInts(args [][]byte) (a, b int64, rv reply.Value, ok bool) {
	a, ok1 := strParseInt(args[2])
	b, ok2 := strParseInt(args[3])
	if !ok1 || !ok2 {
		return 0, 0, reply.ErrNotInteger, false
	}
	return a, b, reply.Value{}, true
}

func listTwoIntsValidate(args [][]byte) (reply.Value, bool) {
	_, _, rv, ok := listTwoInts(args)
	return rv, ok
}

func listLrangeCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	start, end, rv, ok := listTwoInts(args)
	if !ok {
		return rv
	}
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return reply.Array()
	}
	from, to := listRange(start, end, c.Meta.Size)
	if from >= to {
		return reply.Array()
	}
	h := listHead(c)
	span := keyspace.SubIterOptions{From: listPos(h + from), To: listPos(h + to)}
	if v, ok := streamSubs(tx, c, span, to-from, listStreamElem); ok {
		return v
	}
	// Built straight into the reply's elements: no intermediate [][]byte.
	elems := make([]reply.Value, 0, to-from)
	err := listWalk(tx, c, from, to, false, func(_ int64, v []byte) bool {
		elems = append(elems, reply.Bulk(v))
		return true
	})
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Array(elems...)
}

func listStreamElem(_, value []byte) reply.Value { return reply.Bulk(value) }

// listLtrimCmd deletes the trimmed ends one sub-key at a time: trimming M elements writes M
// deletions into one raft entry. A trim to empty drops the whole list through SaveCollection
// (a range deletion for big lists), so only a huge partial trim is expensive.
func listLtrimCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	start, end, rv, ok := listTwoInts(args)
	if !ok {
		return rv
	}
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return reply.OK
	}
	size, h := c.Meta.Size, listHead(c)
	from, to := listRange(start, end, size)
	if from == 0 && to == size {
		return reply.OK
	}
	if from >= to {
		from, to = 0, 0
	}
	if err := listDeletePositions(tx, c, h, h+from); err != nil {
		return reply.ErrInternal
	}
	if err := listDeletePositions(tx, c, h+to, h+size); err != nil {
		return reply.ErrInternal
	}
	listSetHead(c, h+from)
	c.Meta.Size = to - from
	if rv, ok := listSave(tx, c); !ok {
		return rv
	}
	return reply.OK
}
