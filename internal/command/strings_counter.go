package command

import (
	"math"
	"strconv"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// strIncrBy adds incr to the integer held by key (0 when missing). The value keeps its
// deadline: Redis overwrites the value object, not the key.
func strIncrBy(tx *keyspace.Txn, key []byte, incr int64) reply.Value {
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	var v int64
	if found {
		var ok bool
		if v, ok = strParseInt(m.Value); !ok {
			return reply.ErrNotInteger
		}
	}
	if (incr < 0 && v < 0 && incr < math.MinInt64-v) || (incr > 0 && v > 0 && incr > math.MaxInt64-v) {
		return reply.ErrOverflow
	}
	v += incr
	var buf [20]byte
	if err := tx.SetString(key, strconv.AppendInt(buf[:0], v, 10), m.ExpireAt); err != nil {
		return reply.ErrInternal
	}
	return reply.Int(v)
}

func strIncrCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return strIncrBy(tx, args[1], 1) }

func strDecrCmd(tx *keyspace.Txn, args [][]byte) reply.Value { return strIncrBy(tx, args[1], -1) }

// strIncrArg parses INCRBY's increment (negate for DECRBY), checked before the key is read.
func strIncrArg(raw []byte, negate bool) (int64, reply.Value, bool) {
	n, ok := strParseInt(raw)
	if !ok {
		return 0, reply.ErrNotInteger, false
	}
	if negate {
		if n == math.MinInt64 {
			return 0, strErrDecrOverflow, false
		}
		n = -n
	}
	return n, reply.Value{}, true
}

func strIncrbyValidate(args [][]byte) (reply.Value, bool) {
	_, e, ok := strIncrArg(args[2], false)
	return e, ok
}

func strDecrbyValidate(args [][]byte) (reply.Value, bool) {
	_, e, ok := strIncrArg(args[2], true)
	return e, ok
}

func strIncrbyCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	n, e, ok := strIncrArg(args[2], false)
	if !ok {
		return e
	}
	return strIncrBy(tx, args[1], n)
}

func strDecrbyCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	n, e, ok := strIncrArg(args[2], true)
	if !ok {
		return e
	}
	return strIncrBy(tx, args[1], n)
}
