package command

// List commands that search or edit the middle: LREM, LINSERT, LPOS. They walk the list (O(N)
// like Redis); LINSERT and LREM then move only the elements on the shorter side of the edit.

import (
	"bytes"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	listErrRankZero  = reply.Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
	listErrCountNeg  = reply.Err("ERR COUNT can't be negative")
	listErrMaxlenNeg = reply.Err("ERR MAXLEN can't be negative")
	listErrRankRange = reply.Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
)

func listLremCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	count, ok := strParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return strZero
	}
	size := c.Meta.Size
	var all []listElem
	var removed []int64 // indexes, in walk order
	limit := count
	if limit < 0 {
		limit = -limit
	}
	err := listWalk(tx, c, 0, size, count < 0, func(i int64, v []byte) bool {
		if bytes.Equal(v, args[3]) && (limit == 0 || int64(len(removed)) < limit) {
			removed = append(removed, i)
		}
		all = append(all, listElem{i, v})
		return true
	})
	if err != nil {
		return reply.ErrInternal
	}
	if len(removed) == 0 {
		return strZero
	}
	if count < 0 { // restore head-to-tail order
		for l, r := 0, len(all)-1; l < r; l, r = l+1, r-1 {
			all[l], all[r] = all[r], all[l]
		}
	}
	gone := make(map[int64]bool, len(removed))
	first, last := size, int64(-1)
	for _, i := range removed {
		gone[i] = true
		first, last = min(first, i), max(last, i)
	}
	h, k := listHead(c), int64(len(removed))
	if size-first <= last+1 {
		// Compact the tail side toward the head: survivors from first on move left.
		w := first
		for _, e := range all[first:] {
			if !gone[e.idx] {
				if err := tx.PutSub(c, listPos(h+w), e.val); err != nil {
					return reply.ErrInternal
				}
				w++
			}
		}
		for p := w; p < size; p++ {
			if err := tx.DeleteSub(c, listPos(h+p)); err != nil {
				return reply.ErrInternal
			}
		}
	} else {
		// Compact the head side toward the tail: survivors up to last move right.
		w := last
		for j := last; j >= 0; j-- {
			if e := all[j]; !gone[e.idx] {
				if err := tx.PutSub(c, listPos(h+w), e.val); err != nil {
					return reply.ErrInternal
				}
				w--
			}
		}
		for p := int64(0); p <= w; p++ {
			if err := tx.DeleteSub(c, listPos(h+p)); err != nil {
				return reply.ErrInternal
			}
		}
		listSetHead(c, h+k)
	}
	c.Meta.Size -= k
	if rv, ok := listSave(tx, c); !ok {
		return rv
	}
	return reply.Int(k)
}

func listLinsertCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	var after bool
	switch {
	case strEqFold(args[2], "after"):
		after = true
	case strEqFold(args[2], "before"):
	default:
		return reply.ErrSyntax
	}
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return strZero
	}
	size, h := c.Meta.Size, listHead(c)
	pivot := int64(-1)
	var before []listElem // elements up to the pivot
	err := listWalk(tx, c, 0, size, false, func(i int64, v []byte) bool {
		before = append(before, listElem{i, v})
		if bytes.Equal(v, args[3]) {
			pivot = i
			return false
		}
		return true
	})
	if err != nil {
		return reply.ErrInternal
	}
	if pivot < 0 {
		return strMinusOne
	}
	at := pivot // the new element's index
	if after {
		at++
	}
	if at <= size-at {
		// Shift elements [0, at) one position left.
		for _, e := range before[:at] {
			if err := tx.PutSub(c, listPos(h+e.idx-1), e.val); err != nil {
				return reply.ErrInternal
			}
		}
		h--
		listSetHead(c, h)
	} else {
		rest, err := listRead(tx, c, at, size)
		if err != nil {
			return reply.ErrInternal
		}
		for j := len(rest) - 1; j >= 0; j-- {
			if err := tx.PutSub(c, listPos(h+at+int64(j)+1), rest[j]); err != nil {
				return reply.ErrInternal
			}
		}
	}
	if err := tx.PutSub(c, listPos(h+at), args[4]); err != nil {
		return reply.ErrInternal
	}
	c.Meta.Size++
	if rv, ok := listSave(tx, c); !ok {
		return rv
	}
	return reply.Int(c.Meta.Size)
}

func listLposCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case strEqFold(args[j], "rank") && more:
			j++
			n, ok := strParseInt(args[j])
			if !ok {
				return reply.ErrNotInteger
			}
			if n == -1<<63 {
				return listErrRankRange
			}
			if n == 0 {
				return listErrRankZero
			}
			rank = n
		case strEqFold(args[j], "count") && more:
			j++
			n, ok := strParseInt(args[j])
			if !ok || n < 0 {
				return listErrCountNeg
			}
			count = n
		case strEqFold(args[j], "maxlen") && more:
			j++
			n, ok := strParseInt(args[j])
			if !ok || n < 0 {
				return listErrMaxlenNeg
			}
			maxlen = n
		default:
			return reply.ErrSyntax
		}
	}
	c, rv, ok := listLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		if count != -1 {
			return reply.Array()
		}
		return reply.Null
	}
	reverse := rank < 0
	if reverse {
		rank = -rank
	}
	var found []reply.Value
	var matches, seen int64
	err := listWalk(tx, c, 0, c.Meta.Size, reverse, func(i int64, v []byte) bool {
		if maxlen != 0 && seen >= maxlen {
			return false
		}
		seen++
		if !bytes.Equal(v, args[2]) {
			return true
		}
		matches++
		if matches < rank {
			return true
		}
		found = append(found, reply.Int(i))
		switch count {
		case -1:
			return false // the first match is the answer
		case 0:
			return true // every match
		}
		return int64(len(found)) < count
	})
	if err != nil {
		return reply.ErrInternal
	}
	if count == -1 {
		if len(found) == 0 {
			return reply.Null
		}
		return found[0]
	}
	if found == nil {
		found = []reply.Value{}
	}
	return reply.Array(found...)
}
