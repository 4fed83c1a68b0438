package command

// BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. Run validates the timeout as Redis does, serves at
// once when a key has data, and otherwise returns reply.Blocked having written nothing; the
// node parks the client, re-runs Run when a key is written and answers the timeout itself.

import (
	"math"
	"strconv"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	listErrTimeoutFloat = reply.Err("ERR timeout is not a float or out of range")
	listErrTimeoutNeg   = reply.Err("ERR timeout is negative")
	listErrTimeoutRange = reply.Err("ERR timeout is out of range")
)

// listCheckTimeout validates a timeout in seconds as Redis' getTimeoutFromObjectOrReply:
// a float (no spaces, not NaN), whose milliseconds, rounded up, are not negative.
func listCheckTimeout(b []byte) (reply.Value, bool) {
	if len(b) == 0 || b[0] == ' ' || b[len(b)-1] == ' ' {
		return listErrTimeoutFloat, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !math.IsInf(f, 0) || math.IsNaN(f) {
		return listErrTimeoutFloat, false
	}
	ms := f * 1000
	if ms > math.MaxInt64 {
		return listErrTimeoutRange, false
	}
	if math.Ceil(ms) < 0 {
		return listErrTimeoutNeg, false
	}
	return reply.Value{}, true
}

// listBpopCmd is BLPOP/BRPOP key... timeout.
func listBpopCmd(left bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		if rv, ok := listCheckTimeout(args[len(args)-1]); !ok {
			return rv
		}
		for _, k := range args[1 : len(args)-1] {
			c, rv, ok := listLookup(tx, k)
			if !ok {
				return rv
			}
			if c == nil {
				continue
			}
			vals, err := listPop(tx, c, left, 1)
			if err != nil {
				return reply.ErrInternal
			}
			if rv, ok := listSave(tx, c); !ok {
				return rv
			}
			return reply.Array(reply.Bulk(k), reply.Bulk(vals[0]))
		}
		return reply.Blocked
	}
}

// listBmove is the shared part of BLMOVE and BRPOPLPUSH once the arguments are parsed.
func listBmove(tx *keyspace.Txn, src, dst []byte, fromLeft, toLeft bool) reply.Value {
	rv, ok := listMove(tx, src, dst, fromLeft, toLeft)
	if ok && rv.Kind == reply.KindNull {
		return reply.Blocked
	}
	return rv
}

func listBlmoveCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	fromLeft, toLeft, ok := listParseSides(args[3], args[4])
	if !ok {
		return reply.ErrSyntax
	}
	if rv, ok := listCheckTimeout(args[5]); !ok {
		return rv
	}
	return listBmove(tx, args[1], args[2], fromLeft, toLeft)
}

func listBrpoplpushCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if rv, ok := listCheckTimeout(args[3]); !ok {
		return rv
	}
	return listBmove(tx, args[1], args[2], false, true)
}

func listBlmpopCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	// Redis parses the timeout after everything else.
	keys, left, count, rv, ok := listMpopArgs(args, 2)
	if !ok {
		return rv
	}
	if rv, ok := listCheckTimeout(args[1]); !ok {
		return rv
	}
	rv = listMpop(tx, keys, left, count)
	if rv.Kind == reply.KindNullArray {
		return reply.Blocked
	}
	return rv
}
