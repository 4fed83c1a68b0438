package command

// SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD. Every key is type-checked before
// anything is computed (a missing key is an empty set), as Redis 7.0 does; intersections walk
// the smallest set and probe the others, differences walk the first.

import (
	"bytes"
	"sort"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

type setOp int

const (
	setInter setOp = iota
	setUnion
	setDiff
)

var (
	setErrNumkeys  = reply.Err("ERR numkeys should be greater than 0")
	setErrTooMany  = reply.Err("ERR Number of keys can't be greater than number of args")
	setErrLimitNeg = reply.Err("ERR LIMIT can't be negative")
)

// setOpenAll looks every key up: nil entries for missing keys, WRONGTYPE if any is not a set.
func setOpenAll(tx *keyspace.Txn, keys [][]byte) ([]*keyspace.Coll, reply.Value, bool) {
	sets := make([]*keyspace.Coll, len(keys))
	for i, k := range keys {
		c, rv, ok := setLookup(tx, k)
		if !ok {
			return nil, rv, false
		}
		sets[i] = c
	}
	return sets, reply.Value{}, true
}

// setHas reports whether m is in c (nil: empty).
func setHas(tx *keyspace.Txn, c *keyspace.Coll, m []byte) (bool, error) {
	if c == nil {
		return false, nil
	}
	_, found, err := tx.GetSub(c, m)
	return found, err
}

// setCompute returns the result of op over sets; limit > 0 stops an intersection there.
func setCompute(tx *keyspace.Txn, op setOp, sets []*keyspace.Coll, limit int64) ([][]byte, error) {
	switch op {
	case setInter:
		for _, c := range sets {
			if c == nil {
				return nil, nil
			}
		}
		order := append([]*keyspace.Coll(nil), sets...)
		sort.SliceStable(order, func(i, j int) bool { return order[i].Meta.Size < order[j].Meta.Size })
		base, err := setMembers(tx, order[0])
		if err != nil {
			return nil, err
		}
		var out [][]byte
	members:
		for _, m := range base {
			for _, c := range order[1:] {
				in, err := setHas(tx, c, m)
				if err != nil {
					return nil, err
				}
				if !in {
					continue members
				}
			}
			out = append(out, m)
			if limit > 0 && int64(len(out)) >= limit {
				break
			}
		}
		return out, nil
	case setUnion:
		seen := map[string]bool{}
		var out [][]byte
		for _, c := range sets {
			if c == nil {
				continue
			}
			ms, err := setMembers(tx, c)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				if !seen[string(m)] {
					seen[string(m)] = true
					out = append(out, m)
				}
			}
		}
		return out, nil
	default:
		if sets[0] == nil {
			return nil, nil
		}
		base, err := setMembers(tx, sets[0])
		if err != nil {
			return nil, err
		}
		var out [][]byte
	diff:
		for _, m := range base {
			for _, c := range sets[1:] {
				in, err := setHas(tx, c, m)
				if err != nil {
					return nil, err
				}
				if in {
					continue diff
				}
			}
			out = append(out, m)
		}
		return out, nil
	}
}

// setOrder sorts a result as Redis would list it: numerically when it makes an intset,
// byte order otherwise (Redis: hash order).
func setOrder(ms [][]byte) bool {
	if setIntsetable(ms) {
		setSortInts(ms)
		return true
	}
	sort.Slice(ms, func(i, j int) bool { return bytes.Compare(ms[i], ms[j]) < 0 })
	return false
}

func setAlgebraCmd(op setOp, store bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		keys := args[1:]
		if store {
			keys = args[2:]
		}
		sets, rv, ok := setOpenAll(tx, keys)
		if !ok {
			return rv
		}
		result, err := setCompute(tx, op, sets, 0)
		if err != nil {
			return reply.ErrInternal
		}
		compact := setOrder(result)
		if !store {
			return reply.Set(setBulks(result)...)
		}
		if len(result) == 0 {
			if _, err := tx.Delete(args[1]); err != nil {
				return reply.ErrInternal
			}
			return reply.Int(0)
		}
		dst := tx.CreateCollection(args[1], keyspace.TypeSet)
		for _, m := range result {
			if err := tx.PutSub(dst, m, nil); err != nil {
				return reply.ErrInternal
			}
		}
		dst.Meta.Size = int64(len(result))
		if !compact {
			dst.Meta.Enc = keyspace.EncBig
		}
		if rv, ok := setSave(tx, dst); !ok {
			return rv
		}
		return reply.Int(int64(len(result)))
	}
}

// setIntercardKeys is SINTERCARD's Keys: the numkeys keys when numkeys is well formed.
func setIntercardKeys(args [][]byte) [][]byte {
	n, ok := strParseInt(args[1])
	if !ok || n < 1 || n > int64(len(args)-2) {
		return nil
	}
	return args[2 : 2+n]
}

func setIntercardCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	n, ok := strParseInt(args[1])
	if !ok || n < 1 {
		return setErrNumkeys
	}
	if n > int64(len(args)-2) {
		return setErrTooMany
	}
	keys := args[2 : 2+n]
	limit := int64(0)
	for rest := args[2+n:]; len(rest) > 0; rest = rest[2:] {
		if !strEqFold(rest[0], "limit") || len(rest) < 2 {
			return reply.ErrSyntax
		}
		l, ok := strParseInt(rest[1])
		if !ok || l < 0 {
			return setErrLimitNeg
		}
		limit = l
	}
	sets, rv, ok := setOpenAll(tx, keys)
	if !ok {
		return rv
	}
	result, err := setCompute(tx, setInter, sets, limit)
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Int(int64(len(result)))
}
