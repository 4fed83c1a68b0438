package command

// The set family (t_set.c of Redis 7.0.15): SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS,
// SMOVE (this file), SPOP and SRANDMEMBER (set_rand.go), SINTER, SINTERCARD, SUNION, SDIFF and
// their STORE forms (set_algebra.go), SSCAN (set_rand.go).
//
// Storage: one sub-key per member (sub = the member, empty value); Meta.Size is the
// cardinality. Meta.Enc is EncCompact while Redis 7.0 would hold an intset — every member a
// canonical 64-bit integer (string2ll) and at most set-max-intset-entries (512) of them — and
// EncBig (hashtable) once a write breaks either rule, never undone. A STORE result starts as an
// intset like Redis' createIntsetObject, so its encoding follows from its contents.
//
// Order: an intset is sorted numerically, and Redis' replies from one come out in that order;
// ferricd sorts the members of a compact set (at most 512) numerically for every reply that
// lists a compact set or a result that would be an intset. Big sets answer in member byte
// order, where Redis answers in hash order; neither order is promised.
//
// Randomness (SPOP, SRANDMEMBER): DESIGN.md has the proposer choose and replicate the choice as
// an effect. Here the choice is made inside Apply from tx.Rand(), whose source is seeded from
// the raft entry's index and timestamp: every replica draws the same members from the same
// state, so replicas stay identical without shipping the choice, and the proposer never has to
// read state it does not own.

import (
	"sort"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

const setMaxIntsetEntries = 512

var (
	setACLWriteFast = []string{"@write", "@set", "@fast"}
	setACLWriteSlow = []string{"@write", "@set", "@slow"}
	setACLReadFast  = []string{"@read", "@set", "@fast"}
	setACLReadSlow  = []string{"@read", "@set", "@slow"}
	setInterCplx    = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
	setUnionCplx    = "O(N) where N is the total number of elements in all given sets."
)

func registerSets(t *Table) {
	for _, s := range []*Spec{
		{Name: "sadd", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: setACLWriteFast,
			Since: "1.0.0", Summary: "Add one or more members to a set",
			Complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
			Kind:       KindKeyWrite, Run: setAddCmd},
		{Name: "srem", Arity: -3, Flags: FlagWrite | FlagFast, ACLCategories: setACLWriteFast,
			Since: "1.0.0", Summary: "Remove one or more members from a set", Complexity: "O(N) where N is the number of members to be removed.",
			Kind: KindKeyWrite, Run: setRemCmd},
		{Name: "sismember", Arity: 3, Flags: FlagReadOnly | FlagFast, ACLCategories: setACLReadFast,
			Since: "1.0.0", Summary: "Determine if a given value is a member of a set", Complexity: "O(1)",
			Kind: KindKeyRead, Run: setIsMemberCmd},
		{Name: "smismember", Arity: -3, Flags: FlagReadOnly | FlagFast, ACLCategories: setACLReadFast,
			Since: "6.2.0", Summary: "Returns the membership associated with the given elements for a set",
			Complexity: "O(N) where N is the number of elements being checked for membership",
			Kind:       KindKeyRead, Run: setMisMemberCmd},
		{Name: "scard", Arity: 2, Flags: FlagReadOnly | FlagFast, ACLCategories: setACLReadFast,
			Since: "1.0.0", Summary: "Get the number of members in a set", Complexity: "O(1)",
			Kind: KindKeyRead, Run: setCardCmd},
		{Name: "smembers", Arity: 2, Flags: FlagReadOnly, ACLCategories: setACLReadSlow,
			Since: "1.0.0", Summary: "Get all the members in a set", Complexity: "O(N) where N is the set cardinality.",
			Kind: KindKeyRead, Run: setMembersCmd},
		{Name: "smove", Arity: 4, Flags: FlagWrite | FlagFast, FirstKey: 1, LastKey: 2, Step: 1, ACLCategories: setACLWriteFast,
			Since: "1.0.0", Summary: "Move a member from one set to another", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: setMoveCmd},
		{Name: "spop", Arity: -2, Flags: FlagWrite | FlagFast, ACLCategories: setACLWriteFast,
			Since: "1.0.0", Summary: "Remove and return one or multiple random members from a set",
			Complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
			Kind:       KindKeyWrite, Run: setPopCmd},
		{Name: "srandmember", Arity: -2, Flags: FlagReadOnly, ACLCategories: setACLReadSlow,
			Since: "1.0.0", Summary: "Get one or multiple random members from a set",
			Complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
			Kind:       KindKeyRead, Run: setRandMemberCmd},
		{Name: "sinter", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: -1, Step: 1, ACLCategories: setACLReadSlow,
			Since: "1.0.0", Summary: "Intersect multiple sets", Complexity: setInterCplx,
			Kind: KindKeyRead, Run: setAlgebraCmd(setInter, false)},
		{Name: "sintercard", Arity: -3, Flags: FlagReadOnly, Keys: setIntercardKeys, ACLCategories: setACLReadSlow,
			Since: "7.0.0", Summary: "Intersect multiple sets and return the cardinality of the result", Complexity: setInterCplx,
			Kind: KindKeyRead, Run: setIntercardCmd},
		{Name: "sunion", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: -1, Step: 1, ACLCategories: setACLReadSlow,
			Since: "1.0.0", Summary: "Add multiple sets", Complexity: setUnionCplx,
			Kind: KindKeyRead, Run: setAlgebraCmd(setUnion, false)},
		{Name: "sdiff", Arity: -2, Flags: FlagReadOnly, FirstKey: 1, LastKey: -1, Step: 1, ACLCategories: setACLReadSlow,
			Since: "1.0.0", Summary: "Subtract multiple sets", Complexity: setUnionCplx,
			Kind: KindKeyRead, Run: setAlgebraCmd(setDiff, false)},
		{Name: "sinterstore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 1, ACLCategories: setACLWriteSlow,
			Since: "1.0.0", Summary: "Intersect multiple sets and store the resulting set in a key", Complexity: setInterCplx,
			Kind: KindKeyWrite, Run: setAlgebraCmd(setInter, true)},
		{Name: "sunionstore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 1, ACLCategories: setACLWriteSlow,
			Since: "1.0.0", Summary: "Add multiple sets and store the resulting set in a key", Complexity: setUnionCplx,
			Kind: KindKeyWrite, Run: setAlgebraCmd(setUnion, true)},
		{Name: "sdiffstore", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: -1, Step: 1, ACLCategories: setACLWriteSlow,
			Since: "1.0.0", Summary: "Subtract multiple sets and store the resulting set in a key", Complexity: setUnionCplx,
			Kind: KindKeyWrite, Run: setAlgebraCmd(setDiff, true)},
		{Name: "sscan", Arity: -3, Flags: FlagReadOnly, ACLCategories: setACLReadSlow,
			Since: "2.8.0", Summary: "Incrementally iterate Set elements",
			Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
			Kind:       KindKeyRead, Run: setScanCmd},
	} {
		s.Group = "set"
		if s.FirstKey == 0 && s.Keys == nil {
			s.FirstKey, s.LastKey, s.Step = 1, 1, 1
		}
		t.Add(s)
	}
}

// setLookup returns the set at key (nil if absent) or the reply for a wrong type/fault.
func setLookup(tx *keyspace.Txn, key []byte) (*keyspace.Coll, reply.Value, bool) {
	c, err := tx.LookupCollection(key, keyspace.TypeSet)
	if err != nil {
		return nil, strTxnErr(err), false
	}
	return c, reply.Value{}, true
}

// setAdd adds m to c, keeping Size and the encoding; it reports whether m was new.
func setAdd(tx *keyspace.Txn, c *keyspace.Coll, m []byte) (bool, error) {
	_, exists, err := tx.GetSub(c, m)
	if err != nil || exists {
		return false, err
	}
	if err := tx.PutSub(c, m, nil); err != nil {
		return false, err
	}
	c.Meta.Size++
	if c.Meta.Enc == keyspace.EncCompact {
		if _, isInt := strParseInt(m); !isInt || c.Meta.Size > setMaxIntsetEntries {
			c.Meta.Enc = keyspace.EncBig
		}
	}
	return true, nil
}

// setRemove removes m from c; it reports whether m was there.
func setRemove(tx *keyspace.Txn, c *keyspace.Coll, m []byte) (bool, error) {
	_, exists, err := tx.GetSub(c, m)
	if err != nil || !exists {
		return false, err
	}
	if err := tx.DeleteSub(c, m); err != nil {
		return false, err
	}
	c.Meta.Size--
	return true, nil
}

// setSave saves c; a big set drained to half its peak is repacked (collSave).
func setSave(tx *keyspace.Txn, c *keyspace.Coll) (reply.Value, bool) {
	return collSave(tx, c)
}

// setMembers returns every member of c, numerically sorted when c is compact.
func setMembers(tx *keyspace.Txn, c *keyspace.Coll) ([][]byte, error) {
	it, err := tx.IterSubs(c, keyspace.SubIterOptions{})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make([][]byte, 0, c.Meta.Size)
	var arena copyArena
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, arena.copy(it.Sub()))
	}
	if int64(len(out)) != c.Meta.Size {
		return nil, keyspace.ErrCorrupt
	}
	if c.Meta.Enc != keyspace.EncBig {
		setSortInts(out)
	}
	return out, nil
}

// setIntsetable reports whether members would make an intset.
func setIntsetable(members [][]byte) bool {
	if len(members) > setMaxIntsetEntries {
		return false
	}
	for _, m := range members {
		if _, ok := strParseInt(m); !ok {
			return false
		}
	}
	return true
}

// setSortInts sorts canonical integers numerically (members known to parse).
func setSortInts(ms [][]byte) {
	sort.Slice(ms, func(i, j int) bool {
		a, _ := strParseInt(ms[i])
		b, _ := strParseInt(ms[j])
		return a < b
	})
}

func setBulks(ms [][]byte) []reply.Value {
	out := make([]reply.Value, len(ms))
	for i, m := range ms {
		out[i] = reply.Bulk(m)
	}
	return out
}

func setAddCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, _, err := tx.LookupOrCreateCollection(args[1], keyspace.TypeSet)
	if err != nil {
		return strTxnErr(err)
	}
	added := int64(0)
	for _, m := range args[2:] {
		isNew, err := setAdd(tx, c, m)
		if err != nil {
			return reply.ErrInternal
		}
		if isNew {
			added++
		}
	}
	if added > 0 {
		if rv, ok := setSave(tx, c); !ok {
			return rv
		}
	}
	return reply.Int(added)
}

func setRemCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := setLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Int(0)
	}
	removed := int64(0)
	for _, m := range args[2:] {
		was, err := setRemove(tx, c, m)
		if err != nil {
			return reply.ErrInternal
		}
		if was {
			removed++
		}
	}
	if removed > 0 {
		if rv, ok := setSave(tx, c); !ok {
			return rv
		}
	}
	return reply.Int(removed)
}

func setIsMemberCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := setLookup(tx, args[1])
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

func setMisMemberCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := setLookup(tx, args[1])
	if !ok {
		return rv
	}
	out := make([]reply.Value, len(args)-2)
	for i, m := range args[2:] {
		out[i] = reply.Int(0)
		if c == nil {
			continue
		}
		_, found, err := tx.GetSub(c, m)
		if err != nil {
			return reply.ErrInternal
		}
		if found {
			out[i] = reply.Int(1)
		}
	}
	return reply.Array(out...)
}

func setCardCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := setLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Int(0)
	}
	return reply.Int(c.Meta.Size)
}

func setMembersCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	c, rv, ok := setLookup(tx, args[1])
	if !ok || c == nil {
		if !ok {
			return rv
		}
		return reply.Set()
	}
	if c.Meta.Enc == keyspace.EncBig {
		elem := func(sub, _ []byte) []reply.Value { return []reply.Value{reply.Bulk(sub)} }
		if v, ok := streamSubsKind(tx, c, keyspace.SubIterOptions{}, c.Meta.Size, 1, reply.KindSet, elem); ok {
			return v
		}
	}
	ms, err := setMembers(tx, c)
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Set(setBulks(ms)...)
}

func setMoveCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	src, rv, ok := setLookup(tx, args[1])
	if !ok {
		return rv
	}
	if src == nil {
		return reply.Int(0) // before the destination's type, as Redis
	}
	dst, rv, ok := setLookup(tx, args[2])
	if !ok {
		return rv
	}
	if string(args[1]) == string(args[2]) {
		_, found, err := tx.GetSub(src, args[3])
		if err != nil {
			return reply.ErrInternal
		}
		if found {
			return reply.Int(1)
		}
		return reply.Int(0)
	}
	was, err := setRemove(tx, src, args[3])
	if err != nil {
		return reply.ErrInternal
	}
	if !was {
		return reply.Int(0)
	}
	if rv, ok := setSave(tx, src); !ok {
		return rv
	}
	if dst == nil {
		dst = tx.CreateCollection(args[2], keyspace.TypeSet)
	}
	if _, err := setAdd(tx, dst, args[3]); err != nil {
		return reply.ErrInternal
	}
	if rv, ok := setSave(tx, dst); !ok {
		return rv
	}
	return reply.Int(1)
}
