package command

// The hash family (t_hash.c of Redis 7.0.15): HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HEXISTS,
// HLEN, HSTRLEN, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT (this file), HRANDFIELD
// (hash_rand.go) and HSCAN (collscan.go).
//
// Storage: one sub-key per field (sub = the field's bytes, value = its value); Meta.Size is
// the field count. Meta.Enc is EncCompact while Redis would keep a listpack and EncBig once
// it would have converted to a hashtable (never undone): more than hash-max-listpack-entries
// (128) fields, or a write of a field or value longer than hash-max-listpack-value (64)
// bytes (HINCRBYFLOAT's results included, as 7.0's hashTypeSet checks every write).
//
// Order: HKEYS, HVALS, HGETALL and HSCAN answer in field byte order. Redis answers a listpack
// in insertion order and a hashtable in hash order; neither is promised to clients, and the
// differential test compares these replies as unordered.

import (
	"math"
	"math/big"
	"strconv"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

const (
	hashMaxListpackEntries = 128
	hashMaxListpackValue   = 64
)

var (
	hashErrNotInt      = reply.Err("ERR hash value is not an integer")
	hashErrNotFloat    = reply.Err("ERR hash value is not a float")
	hashErrBadFloat    = reply.Err("ERR value is not a valid float")
	hashErrIncrNaNInf  = reply.Err("ERR value is NaN or Infinity")
	hashErrResultNaN   = reply.Err("ERR increment would produce NaN or Infinity")
	hashACLWriteFast   = []string{"@write", "@hash", "@fast"}
	hashACLReadFast    = []string{"@read", "@hash", "@fast"}
	hashACLReadSlow    = []string{"@read", "@hash", "@slow"}
	hashComplexityAll  = "O(N) where N is the size of the hash."
	hashComplexityMany = "O(N) where N is the number of fields being requested."
)

func registerHashes(t *Table) {
	for _, s := range []*Spec{
		{Name: "hset", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: hashACLWriteFast,
			Since: "2.0.0", Summary: "Set the string value of a hash field",
			Complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
			Kind:       KindKeyWrite, Run: hashSetCmd(false), Validate: hashPairsValidate("hset")},
		{Name: "hmset", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: hashACLWriteFast,
			Since: "2.0.0", Summary: "Set multiple hash fields to multiple values", Complexity: "O(N) where N is the number of fields being set.",
			Kind: KindKeyWrite, Run: hashSetCmd(true), Validate: hashPairsValidate("hmset")},
		{Name: "hsetnx", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: hashACLWriteFast,
			Since: "2.0.0", Summary: "Set the value of a hash field, only if the field does not exist", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: hashSetnxCmd},
		{Name: "hget", Arity: 3, Flags: FlagReadOnly | FlagFast, ACLCategories: hashACLReadFast,
			Since: "2.0.0", Summary: "Get the value of a hash field", Complexity: "O(1)",
			Kind: KindKeyRead, Run: hashGetCmd},
		{Name: "hmget", Arity: -3, Flags: FlagReadOnly | FlagFast, ACLCategories: hashACLReadFast,
			Since: "2.0.0", Summary: "Get the values of all the given hash fields", Complexity: hashComplexityMany,
			Kind: KindKeyRead, Run: hashMgetCmd},
		{Name: "hdel", Arity: -3, Flags: FlagWrite | FlagFast, ACLCategories: hashACLWriteFast,
			Since: "2.0.0", Summary: "Delete one or more hash fields", Complexity: "O(N) where N is the number of fields to be removed.",
			Kind: KindKeyWrite, Run: hashDelCmd},
		{Name: "hexists", Arity: 3, Flags: FlagReadOnly | FlagFast, ACLCategories: hashACLReadFast,
			Since: "2.0.0", Summary: "Determine if a hash field exists", Complexity: "O(1)",
			Kind: KindKeyRead, Run: hashExistsCmd},
		{Name: "hlen", Arity: 2, Flags: FlagReadOnly | FlagFast, ACLCategories: hashACLReadFast,
			Since: "2.0.0", Summary: "Get the number of fields in a hash", Complexity: "O(1)",
			Kind: KindKeyRead, Run: hashLenCmd},
		{Name: "hstrlen", Arity: 3, Flags: FlagReadOnly | FlagFast, ACLCategories: hashACLReadFast,
			Since: "3.2.0", Summary: "Get the length of the value of a hash field", Complexity: "O(1)",
			Kind: KindKeyRead, Run: hashStrlenCmd},
		{Name: "hkeys", Arity: 2, Flags: FlagReadOnly, ACLCategories: hashACLReadSlow,
			Since: "2.0.0", Summary: "Get all the fields in a hash", Complexity: hashComplexityAll,
			Kind: KindKeyRead, Run: hashAllCmd(true, false)},
		{Name: "hvals", Arity: 2, Flags: FlagReadOnly, ACLCategories: hashACLReadSlow,
			Since: "2.0.0", Summary: "Get all the values in a hash", Complexity: hashComplexityAll,
			Kind: KindKeyRead, Run: hashAllCmd(false, true)},
		{Name: "hgetall", Arity: 2, Flags: FlagReadOnly, ACLCategories: hashACLReadSlow,
			Since: "2.0.0", Summary: "Get all the fields and values in a hash", Complexity: hashComplexityAll,
			Kind: KindKeyRead, Run: hashAllCmd(true, true)},
		{Name: "hincrby", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: hashACLWriteFast,
			Since: "2.0.0", Summary: "Increment the integer value of a hash field by the given number", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: hashIncrbyCmd},
		{Name: "hincrbyfloat", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: hashACLWriteFast,
			Since: "2.6.0", Summary: "Increment the float value of a hash field by the given amount", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: hashIncrbyfloatCmd},
		{Name: "hrandfield", Arity: -2, Flags: FlagReadOnly, ACLCategories: hashACLReadSlow,
			Since: "6.2.0", Summary: "Get one or multiple random fields from a hash",
			Complexity: "O(N) where N is the number of fields returned",
			Kind:       KindKeyRead, Run: hashRandfieldCmd},
		{Name: "hscan", Arity: -3, Flags: FlagReadOnly, ACLCategories: hashACLReadSlow,
			Since: "2.8.0", Summary: "Incrementally iterate hash fields and associated values",
			Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
			Kind:       KindKeyRead, Run: hashScanCmd},
	} {
		s.Group = "hash"
		s.FirstKey, s.LastKey, s.Step = 1, 1, 1
		t.Add(s)
	}
}

// hashPairsValidate refuses an odd field/value list with the arity error, as Redis does.
func hashPairsValidate(name string) func(args [][]byte) (reply.Value, bool) {
	return func(args [][]byte) (reply.Value, bool) {
		if len(args)%2 != 0 {
			return reply.WrongArgs(name), false
		}
		return reply.Value{}, true
	}
}

// hashLookup returns the hash at key (nil if absent) or the reply for a wrong type/fault.
func hashLookup(tx *keyspace.Txn, key []byte) (*keyspace.Coll, reply.Value, bool) {
	c, err := tx.LookupCollection(key, keyspace.TypeHash)
	if err != nil {
		return nil, strTxnErr(err), false
	}
	return c, reply.Value{}, true
}

// hashOpen returns the hash at key, created if absent.
func hashOpen(tx *keyspace.Txn, key []byte) (*keyspace.Coll, reply.Value, bool) {
	c, _, err := tx.LookupOrCreateCollection(key, keyspace.TypeHash)
	if err != nil {
		return nil, strTxnErr(err), false
	}
	return c, reply.Value{}, true
}

// hashPut stores field=value, counting a new field; it reports whether the field was new.
func hashPut(tx *keyspace.Txn, c *keyspace.Coll, field, value []byte) (bool, error) {
	_, exists, err := tx.GetSub(c, field)
	if err != nil {
		return false, err
	}
	if err := tx.PutSub(c, field, value); err != nil {
		return false, err
	}
	if !exists {
		c.Meta.Size++
	}
	if len(field) > hashMaxListpackValue || len(value) > hashMaxListpackValue ||
		c.Meta.Size > hashMaxListpackEntries {
		c.Meta.Enc = keyspace.EncBig
	}
	return !exists, nil
}

// hashSave saves c; a big hash drained to half its peak is repacked (collSave).
func hashSave(tx *keyspace.Txn, c *keyspace.Coll) (reply.Value, bool) {
	return collSave(tx, c)
}

func hashSetCmd(hmset bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		c, rv, ok := hashOpen(tx, args[1])
		if !ok {
			return rv
		}
		added := int64(0)
		for i := 2; i+1 < len(args); i += 2 {
			isNew, err := hashPut(tx, c, args[i], args[i+1])
			if err != nil {
				return reply.ErrInternal
			}
			if isNew {
				added++
			}
		}
		if rv, ok := hashSave(tx, c); !ok {
			return rv
		}
		if hmset {
			return reply.OK
		}
		return reply.Int(added)
	}
}

func hashSetnxCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashOpen(tx, args[1])
	if !ok {
		return rv
	}
	_, exists, err := tx.GetSub(c, args[2])
	if err != nil {
		return reply.ErrInternal
	}
	if exists {
		return reply.Int(0)
	}
	if _, err := hashPut(tx, c, args[2], args[3]); err != nil {
		return reply.ErrInternal
	}
	if rv, ok := hashSave(tx, c); !ok {
		return rv
	}
	return reply.Int(1)
}

func hashGetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Null
	}
	v, found, err := tx.GetSub(c, args[2])
	switch {
	case err != nil:
		return reply.ErrInternal
	case !found:
		return reply.Null
	}
	return reply.Bulk(v)
}

func hashMgetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashLookup(tx, args[1])
	if !ok {
		return rv
	}
	out := make([]reply.Value, len(args)-2)
	for i, f := range args[2:] {
		out[i] = reply.Null
		if c == nil {
			continue
		}
		v, found, err := tx.GetSub(c, f)
		if err != nil {
			return reply.ErrInternal
		}
		if found {
			out[i] = reply.Bulk(v)
		}
	}
	return reply.Array(out...)
}

func hashDelCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Int(0)
	}
	deleted := int64(0)
	for _, f := range args[2:] {
		_, found, err := tx.GetSub(c, f)
		if err != nil {
			return reply.ErrInternal
		}
		if !found {
			continue
		}
		if err := tx.DeleteSub(c, f); err != nil {
			return reply.ErrInternal
		}
		c.Meta.Size--
		deleted++
	}
	if deleted == 0 {
		return reply.Int(0)
	}
	if rv, ok := hashSave(tx, c); !ok {
		return rv
	}
	return reply.Int(deleted)
}

func hashExistsCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Int(0)
	}
	_, found, err := tx.GetSub(c, args[2])
	if err != nil {
		return reply.ErrInternal
	}
	if found {
		return reply.Int(1)
	}
	return reply.Int(0)
}

func hashLenCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Int(0)
	}
	return reply.Int(c.Meta.Size)
}

func hashStrlenCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := hashLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Int(0)
	}
	v, _, err := tx.GetSub(c, args[2])
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Int(int64(len(v)))
}

// hashAllCmd is HKEYS (fields), HVALS (values) and HGETALL (both: a map in RESP3).
func hashAllCmd(fields, values bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		c, rv, ok := hashLookup(tx, args[1])
		if !ok {
			return rv
		}
		both := fields && values
		if c == nil {
			if both {
				return reply.Map()
			}
			return reply.Array()
		}
		per := int64(1)
		if both {
			per = 2
		}
		elem := func(sub, value []byte) []reply.Value {
			switch {
			case both:
				return []reply.Value{reply.Bulk(sub), reply.Bulk(value)}
			case fields:
				return []reply.Value{reply.Bulk(sub)}
			}
			return []reply.Value{reply.Bulk(value)}
		}
		kind := reply.KindArray
		if both {
			kind = reply.KindMap
		}
		if v, ok := streamSubsKind(tx, c, keyspace.SubIterOptions{}, c.Meta.Size, per, kind, elem); ok {
			return v
		}
		out := make([]reply.Value, 0, c.Meta.Size*per)
		it, err := tx.IterSubs(c, keyspace.SubIterOptions{})
		if err != nil {
			return reply.ErrInternal
		}
		defer it.Close()
		var arena copyArena
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, elem(arena.copy(it.Sub()), arena.copy(it.Value()))...)
		}
		if int64(len(out)) != c.Meta.Size*per {
			return reply.ErrInternal
		}
		return reply.Value{Kind: kind, Elems: out}
	}
}

func cloneBytes(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }

func hashIncrbyCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	incr, ok := strParseInt(args[3])
	if !ok {
		return reply.ErrNotInteger
	}
	c, rv, ok := hashOpen(tx, args[1])
	if !ok {
		return rv
	}
	cur, found, err := tx.GetSub(c, args[2])
	if err != nil {
		return reply.ErrInternal
	}
	var v int64
	if found {
		if v, ok = strParseInt(cur); !ok {
			return hashErrNotInt
		}
	}
	if (incr < 0 && v < 0 && incr < math.MinInt64-v) || (incr > 0 && v > 0 && incr > math.MaxInt64-v) {
		return reply.ErrOverflow
	}
	v += incr
	if _, err := hashPut(tx, c, args[2], strconv.AppendInt(nil, v, 10)); err != nil {
		return reply.ErrInternal
	}
	if rv, ok := hashSave(tx, c); !ok {
		return rv
	}
	return reply.Int(v)
}

func hashIncrbyfloatCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	incr, ok := ldParse(args[3])
	if !ok {
		return hashErrBadFloat
	}
	if incr.IsInf() {
		return hashErrIncrNaNInf
	}
	c, rv, ok := hashOpen(tx, args[1])
	if !ok {
		return rv
	}
	raw, found, err := tx.GetSub(c, args[2])
	if err != nil {
		return reply.ErrInternal
	}
	cur := new(big.Float).SetPrec(ldPrec)
	if found {
		if cur, ok = ldParse(raw); !ok {
			return hashErrNotFloat
		}
	}
	if cur.IsInf() {
		return hashErrResultNaN
	}
	sum := new(big.Float).SetPrec(ldPrec).Add(cur, incr)
	if sum.MantExp(nil) > ldMaxExp {
		return hashErrResultNaN
	}
	out := ldFormat(sum)
	if _, err := hashPut(tx, c, args[2], out); err != nil {
		return reply.ErrInternal
	}
	if rv, ok := hashSave(tx, c); !ok {
		return rv
	}
	return reply.Bulk(out)
}
