// Sorted set commands (t_zset.c semantics of Redis 7.0.15). Storage and the rank index are in
// zset_store.go, range parsing and range commands in zset_range.go.
//
// Decisions and departures:
//   - Scores are parsed like Redis' strtod-based getDoubleFromObject (no leading space, no
//     overflow, no underflow to zero, no NaN); range bounds like zslParseRange.
//   - Lex ranges over members of different scores follow the listpack walk (first member in
//     range in score order, then on while in range), which is deterministic.
//   - WITHSCORES replies are reply.Pairs: [member, score] pairs in RESP3, flat in RESP2, as
//     Redis 7.0 sends them; ZPOPMIN/ZPOPMAX without a count answer a flat [member, score] in
//     both protocols, ZMPOP/BZMPOP always nest the pairs (RESP2 too), as Redis does.
package command

import (
	"math"
	"strconv"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	zsetErrNaN       = reply.Err("ERR resulting score is not a number (NaN)")
	zsetErrMinMax    = reply.Err("ERR min or max is not a float")
	zsetErrLexRange  = reply.Err("ERR min or max not valid string range item")
	zsetErrTimeout   = reply.Err("ERR timeout is not a float or out of range")
	zsetErrTimeNeg   = reply.Err("ERR timeout is negative")
	zsetErrNXXXGTLT  = reply.Err("ERR GT, LT, and/or NX options at the same time are not compatible")
	zsetErrXXNX      = reply.Err("ERR XX and NX options at the same time are not compatible")
	zsetErrIncrPair  = reply.Err("ERR INCR option supports a single increment-element pair")
	zsetErrPositive  = reply.Err("ERR value is out of range, must be positive")
	zsetErrWithLimit = reply.Err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	zsetErrWithScLex = reply.Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
)

func registerZsets(t *Table) {
	for _, s := range append(zsetSpecs(), zsetSpecs2()...) {
		s.Group = "sorted-set"
		t.Add(s)
	}
}

// zsetParseScore parses a score as Redis' getDoubleFromObject.
func zsetParseScore(b []byte) (float64, bool) {
	if len(b) == 0 || ldIsSpace(b[0]) {
		return 0, false
	}
	return zsetStrtod(b)
}

// zsetStrtod parses the whole of b as C strtod would, refusing NaN, overflow and underflow to
// zero.
func zsetStrtod(b []byte) (float64, bool) {
	s := string(b)
	for len(s) > 0 && ldIsSpace(s[0]) {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '_' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && f == 0 {
			return 0, false
		}
		return 0, false
	}
	if f == 0 {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == 'e' || c == 'E' || c == 'p' || c == 'P' {
				break
			}
			if c >= '1' && c <= '9' {
				return 0, false // underflow to zero
			}
		}
	}
	return f, true
}

// zsetOpen looks up key as a zset; nil store when absent.
func zsetOpen(tx *keyspace.Txn, key []byte) (*zsetStore, reply.Value, bool) {
	c, err := tx.LookupCollection(key, keyspace.TypeZSet)
	if err != nil {
		return nil, genTxnErr(err), false
	}
	if c == nil {
		return nil, reply.Value{}, true
	}
	return newZsetStore(tx, c, zsetBucketB), reply.Value{}, true
}

const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddCH
	zaddIncr
)

func zsetZaddCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetAdd(tx, args, 0)
}

func zsetZincrbyCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return zsetAdd(tx, [][]byte{args[0], args[1], args[2], args[3]}, zaddIncr)
}

// zsetAdd is ZADD (and ZINCRBY, with zaddIncr preset and no options).
func zsetAdd(tx *keyspace.Txn, args [][]byte, flags int) reply.Value {
	i := 2
	if flags == 0 {
	opts:
		for ; i < len(args); i++ {
			switch lower(args[i]) {
			case "nx":
				flags |= zaddNX
			case "xx":
				flags |= zaddXX
			case "gt":
				flags |= zaddGT
			case "lt":
				flags |= zaddLT
			case "ch":
				flags |= zaddCH
			case "incr":
				flags |= zaddIncr
			default:
				break opts
			}
		}
	}
	rest := args[i:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		return reply.ErrSyntax
	}
	if flags&zaddNX != 0 && flags&zaddXX != 0 {
		return zsetErrXXNX
	}
	if (flags&zaddGT != 0 && flags&zaddNX != 0) || (flags&zaddLT != 0 && flags&zaddNX != 0) || (flags&zaddGT != 0 && flags&zaddLT != 0) {
		return zsetErrNXXXGTLT
	}
	incr := flags&zaddIncr != 0
	if incr && len(rest) > 2 {
		return zsetErrIncrPair
	}
	scores := make([]float64, len(rest)/2)
	for j := range scores {
		f, ok := zsetParseScore(rest[2*j])
		if !ok {
			return reply.ErrNotFloat
		}
		scores[j] = f
	}
	c, created, err := tx.LookupOrCreateCollection(args[1], keyspace.TypeZSet)
	if err != nil {
		return genTxnErr(err)
	}
	if created && flags&zaddXX != 0 {
		if incr {
			return reply.Null
		}
		return reply.Int(0)
	}
	z := newZsetStore(tx, c, zsetBucketB)
	var added, changed int64
	var last float64
	lastNull := false
	for j, score := range scores {
		member := rest[2*j+1]
		old, had, err := z.score(member)
		if err != nil {
			return reply.ErrInternal
		}
		if had {
			if flags&zaddNX != 0 {
				lastNull = true
				continue
			}
			if incr {
				score += old
				if math.IsNaN(score) {
					return zsetErrNaN
				}
			}
			if (flags&zaddLT != 0 && score >= old) || (flags&zaddGT != 0 && score <= old) {
				lastNull = true
				continue
			}
			last, lastNull = score, false
			if score != old {
				if err := z.set(member, score, old, true); err != nil {
					return reply.ErrInternal
				}
				changed++
			}
			continue
		}
		if flags&zaddXX != 0 {
			lastNull = true
			continue
		}
		if err := z.set(member, score, 0, false); err != nil {
			return reply.ErrInternal
		}
		added++
		last, lastNull = score, false
	}
	if added+changed > 0 {
		if err := tx.SaveCollection(c); err != nil {
			return reply.ErrInternal
		}
	}
	if incr {
		if lastNull {
			return reply.Null
		}
		return reply.Double(last)
	}
	if flags&zaddCH != 0 {
		return reply.Int(added + changed)
	}
	return reply.Int(added)
}

func zsetZremCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	if z == nil {
		return reply.Int(0)
	}
	var n int64
	for _, m := range args[2:] {
		old, had, err := z.score(m)
		if err != nil {
			return reply.ErrInternal
		}
		if !had {
			continue
		}
		if err := z.remove(m, old); err != nil {
			return reply.ErrInternal
		}
		n++
	}
	if n > 0 {
		if err := tx.SaveCollection(z.c); err != nil {
			return reply.ErrInternal
		}
	}
	return reply.Int(n)
}

func zsetZcardCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	if z == nil {
		return reply.Int(0)
	}
	return reply.Int(z.c.Meta.Size)
}

func zsetZscoreCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	z, v, ok := zsetOpen(tx, args[1])
	if !ok || z == nil {
		if ok {
			return reply.Null
		}
		return v
	}
	f, had, err := z.score(args[2])
	if err != nil {
		return reply.ErrInternal
	}
	if !had {
		return reply.Null
	}
	return reply.Double(f)
}

func zsetZmscoreCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	z, v, ok := zsetOpen(tx, args[1])
	if !ok {
		return v
	}
	out := make([]reply.Value, 0, len(args)-2)
	for _, m := range args[2:] {
		if z == nil {
			out = append(out, reply.Null)
			continue
		}
		f, had, err := z.score(m)
		if err != nil {
			return reply.ErrInternal
		}
		if !had {
			out = append(out, reply.Null)
		} else {
			out = append(out, reply.Double(f))
		}
	}
	return reply.Array(out...)
}

func zsetZrankCmd(tx *keyspace.Txn, args [][]byte) reply.Value    { return zsetRank(tx, args, false) }
func zsetZrevrankCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return zsetRank(tx, args, true) }

func zsetRank(tx *keyspace.Txn, args [][]byte, rev bool) reply.Value {
	z, v, ok := zsetOpen(tx, args[1])
	if !ok || z == nil {
		if ok {
			return reply.Null
		}
		return v
	}
	f, had, err := z.score(args[2])
	if err != nil {
		return reply.ErrInternal
	}
	if !had {
		return reply.Null
	}
	r, err := z.countBelow(zsetEntry(f, args[2]))
	if err != nil {
		return reply.ErrInternal
	}
	if rev {
		r = z.c.Meta.Size - 1 - r
	}
	return reply.Int(r)
}
