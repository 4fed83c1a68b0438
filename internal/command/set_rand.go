package command

// SPOP, SRANDMEMBER and SSCAN. Random choices use collPick (hash_rand.go): uniform on compact
// sets, seek-based on big ones. SPOP runs in Apply, where tx.Rand() is seeded from the raft
// entry (see set.go on why that replaces replicating the choice). SPOP of the whole set costs
// the apply loop one range deletion: its reply is streamed from a snapshot taken in apply, or
// not read at all on a replica nobody waits on (keyspace.ReplyMode).

import (
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var setErrPositive = reply.Err("ERR value is out of range, must be positive")

func setPopCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if len(args) > 3 {
		return reply.ErrSyntax
	}
	count := int64(-1) // no count given
	if len(args) == 3 {
		n, ok := strParseInt(args[2])
		if !ok || n < 0 {
			return setErrPositive
		}
		count = n
	}
	c, rv, ok := setLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil || count == 0 {
		if count < 0 {
			return reply.Null
		}
		return reply.Set()
	}
	var popped [][]byte
	if count >= c.Meta.Size {
		return setPopAll(tx, c, args[1])
	}
	picks, err := collPick(tx, c, max(count, 1), false)
	if err != nil {
		return reply.ErrInternal
	}
	for _, p := range picks {
		if _, err := setRemove(tx, c, p[0]); err != nil {
			return reply.ErrInternal
		}
		popped = append(popped, p[0])
	}
	if rv, ok := setSave(tx, c); !ok {
		return rv
	}
	if count < 0 {
		return reply.Bulk(popped[0])
	}
	return reply.Set(setBulks(popped)...)
}

// setPopAll pops every member of c: one deletion of the key (a range deletion when big), and
// the members as the reply (popReply: streamed from a snapshot when big).
func setPopAll(tx *keyspace.Txn, c *keyspace.Coll, key []byte) reply.Value {
	member := func(sub, _ []byte) []reply.Value { return []reply.Value{reply.Bulk(sub)} }
	rv := popReply(tx, c, keyspace.SubIterOptions{}, c.Meta.Size, 1, reply.KindSet, false, member, func() (reply.Value, error) {
		ms, err := setMembers(tx, c)
		return reply.Set(setBulks(ms)...), err
	})
	if rv.IsError() {
		return rv
	}
	if _, err := tx.Delete(key); err != nil {
		reply.Discard(rv)
		return reply.ErrInternal
	}
	return rv
}

func setRandMemberCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if len(args) > 3 {
		return reply.ErrSyntax
	}
	if len(args) == 2 {
		c, rv, ok := setLookup(tx, args[1])
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
	c, rv, ok := setLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil || n == 0 {
		return reply.Array()
	}
	var ms [][]byte
	switch {
	case n >= c.Meta.Size:
		all, err := setMembers(tx, c)
		if err != nil {
			return reply.ErrInternal
		}
		return reply.Array(setBulks(all)...)
	default:
		if n < 0 {
			if v, ok := streamRandPicks(tx, c, -n, false, reply.KindArray); ok {
				return v
			}
		}
		picks, err := collPick(tx, c, max(n, -n), n < 0)
		if err != nil {
			return reply.ErrInternal
		}
		for _, p := range picks {
			ms = append(ms, p[0])
		}
	}
	return reply.Array(setBulks(ms)...)
}

// setScanCmd is SSCAN key cursor [MATCH pattern] [COUNT count]; a compact set (intset) is
// returned whole, in numeric order, with cursor 0.
func setScanCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	cursor, ok := genParseCursor(args[2])
	if !ok {
		return genErrInvalidCursor
	}
	c, rv, ok := setLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return emptyScan
	}
	o, rv, ok := parseScanOpts(args[3:])
	if !ok {
		return rv
	}
	var ms [][]byte
	next, err := collScan(tx, c, cursor, o, nil, nil, 0, func(sub, _ []byte) {
		ms = append(ms, sub)
	})
	if err != nil {
		return reply.ErrInternal
	}
	if c.Meta.Enc != keyspace.EncBig {
		setSortInts(ms)
	}
	return scanReply(next, setBulks(ms))
}
