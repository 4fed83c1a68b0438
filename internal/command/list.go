package command

// The list family (t_list.c of Redis 7.0.15): LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN,
// LINDEX, LSET, LRANGE, LTRIM, LREM, LINSERT, LPOS, LMOVE, RPOPLPUSH, LMPOP, and the blocking
// BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP (list_blocking.go). Metadata is Redis 7.0.15's
// COMMAND INFO/DOCS; argument parsing follows Redis' order, which decides which error wins.
//
// Storage: each element is one sub-key whose sub is its position, an int64 in offset-binary
// big-endian (position XOR 1<<63), so sub-keys sort by position. Meta.Extra holds the head
// position (8 bytes); element i lives at head+i and Meta.Size is the length. LPUSH writes at
// head-1 and moves head down, RPUSH writes at head+Size. A new list starts at head 0. So:
//   - LINDEX, LSET, LRANGE and the pops compute positions: no scan, O(1) near either end of a
//     list of any length;
//   - LINSERT and LREM shift the shorter side of the change (O(N) like Redis);
//   - LTRIM deletes the trimmed ends key by key: trimming M elements costs M deletions in one
//     raft entry (Redis also frees them one by one, O(M)).
//
// Decisions worth knowing:
//   - OBJECT ENCODING answers "quicklist" for every list, as 7.0 does (keys_object.go).
//   - A command that changes nothing (LTRIM keeping all, LREM finding nothing, LINSERT
//     without its pivot) does not save the key, so its last-write index (WATCH) stays.
//   - Blocking commands serve at once when they can; otherwise Run returns reply.Blocked having
//     written nothing, and the node parks the client.

import (
	"encoding/binary"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

var (
	listACLWriteFast = []string{"@write", "@list", "@fast"}
	listACLWriteSlow = []string{"@write", "@list", "@slow"}
	listACLReadFast  = []string{"@read", "@list", "@fast"}
	listACLReadSlow  = []string{"@read", "@list", "@slow"}
	listACLBlocking  = []string{"@write", "@list", "@slow", "@blocking"}
)

const (
	listComplexityPush = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
	listComplexityMpop = "O(N+M) where N is the number of provided keys and M is the number of elements returned."
	listSummaryBmove   = "Pop an element from a list, push it to another list and return it; or block until one is available"
)

// registerLists registers the list commands.
func registerLists(t *Table) {
	for _, s := range []*Spec{
		{Name: "lpush", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: listACLWriteFast,
			Since: "1.0.0", Summary: "Prepend one or multiple elements to a list", Complexity: listComplexityPush,
			Kind: KindKeyWrite, Run: listPushCmd(true, false)},
		{Name: "rpush", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: listACLWriteFast,
			Since: "1.0.0", Summary: "Append one or multiple elements to a list", Complexity: listComplexityPush,
			Kind: KindKeyWrite, Run: listPushCmd(false, false)},
		{Name: "lpushx", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: listACLWriteFast,
			Since: "2.2.0", Summary: "Prepend an element to a list, only if the list exists", Complexity: listComplexityPush,
			Kind: KindKeyWrite, Run: listPushCmd(true, true)},
		{Name: "rpushx", Arity: -3, Flags: FlagWrite | FlagDenyOOM | FlagFast, ACLCategories: listACLWriteFast,
			Since: "2.2.0", Summary: "Append an element to a list, only if the list exists", Complexity: listComplexityPush,
			Kind: KindKeyWrite, Run: listPushCmd(false, true)},
		{Name: "lpop", Arity: -2, Flags: FlagWrite | FlagFast, ACLCategories: listACLWriteFast,
			Since: "1.0.0", Summary: "Remove and get the first elements in a list", Complexity: "O(N) where N is the number of elements returned",
			Kind: KindKeyWrite, Run: listPopCmd(true), Validate: listPopValidate},
		{Name: "rpop", Arity: -2, Flags: FlagWrite | FlagFast, ACLCategories: listACLWriteFast,
			Since: "1.0.0", Summary: "Remove and get the last elements in a list", Complexity: "O(N) where N is the number of elements returned",
			Kind: KindKeyWrite, Run: listPopCmd(false), Validate: listPopValidate},
		{Name: "llen", Arity: 2, Flags: FlagReadOnly | FlagFast, ACLCategories: listACLReadFast,
			Since: "1.0.0", Summary: "Get the length of a list", Complexity: "O(1)",
			Kind: KindKeyRead, Run: listLlenCmd},
		{Name: "lindex", Arity: 3, Flags: FlagReadOnly, ACLCategories: listACLReadSlow,
			Since: "1.0.0", Summary: "Get an element from a list by its index", Complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
			Kind: KindKeyRead, Run: listLindexCmd},
		{Name: "lset", Arity: 4, Flags: FlagWrite | FlagDenyOOM, ACLCategories: listACLWriteSlow,
			Since: "1.0.0", Summary: "Set the value of an element in a list by its index", Complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
			Kind: KindKeyWrite, Run: listLsetCmd},
		{Name: "lrange", Arity: 4, Flags: FlagReadOnly, ACLCategories: listACLReadSlow,
			Since: "1.0.0", Summary: "Get a range of elements from a list", Complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
			Kind: KindKeyRead, Run: listLrangeCmd},
		{Name: "ltrim", Arity: 4, Flags: FlagWrite, ACLCategories: listACLWriteSlow,
			Since: "1.0.0", Summary: "Trim a list to the specified range", Complexity: "O(N) where N is the number of elements to be removed by the operation.",
			Kind: KindKeyWrite, Run: listLtrimCmd, Validate: listTwoIntsValidate},
		{Name: "lrem", Arity: 4, Flags: FlagWrite, ACLCategories: listACLWriteSlow,
			Since: "1.0.0", Summary: "Remove elements from a list", Complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.",
			Kind: KindKeyWrite, Run: listLremCmd},
		{Name: "linsert", Arity: 5, Flags: FlagWrite | FlagDenyOOM, ACLCategories: listACLWriteSlow,
			Since: "2.2.0", Summary: "Insert an element before or after another element in a list", Complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
			Kind: KindKeyWrite, Run: listLinsertCmd},
		{Name: "lpos", Arity: -3, Flags: FlagReadOnly, ACLCategories: listACLReadSlow,
			Since: "6.0.6", Summary: "Return the index of matching elements on a list", Complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
			Kind: KindKeyRead, Run: listLposCmd},
		{Name: "lmove", Arity: 5, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, Step: 1, ACLCategories: listACLWriteSlow,
			Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: listLmoveCmd},
		{Name: "rpoplpush", Arity: 3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, Step: 1, ACLCategories: listACLWriteSlow,
			Since: "1.2.0", Summary: "Remove the last element in a list, prepend it to another list and return it", Complexity: "O(1)",
			Kind: KindKeyWrite, Run: listRpoplpushCmd},
		{Name: "lmpop", Arity: -4, Flags: FlagWrite, Keys: listMpopKeys(1), ACLCategories: listACLWriteSlow,
			Since: "7.0.0", Summary: "Pop elements from a list", Complexity: listComplexityMpop,
			Kind: KindKeyWrite, Run: listLmpopCmd, Validate: listMpopValidate(1)},
		{Name: "blpop", Arity: -3, Flags: FlagWrite | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: -2, Step: 1, ACLCategories: listACLBlocking,
			Since: "2.0.0", Summary: "Remove and get the first element in a list, or block until one is available", Complexity: "O(N) where N is the number of provided keys.",
			Kind: KindKeyWrite, Run: listBpopCmd(true), BlockTimeoutArg: -1},
		{Name: "brpop", Arity: -3, Flags: FlagWrite | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: -2, Step: 1, ACLCategories: listACLBlocking,
			Since: "2.0.0", Summary: "Remove and get the last element in a list, or block until one is available", Complexity: "O(N) where N is the number of provided keys.",
			Kind: KindKeyWrite, Run: listBpopCmd(false), BlockTimeoutArg: -1},
		{Name: "blmove", Arity: 6, Flags: FlagWrite | FlagDenyOOM | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: 2, Step: 1, ACLCategories: listACLBlocking,
			Since: "6.2.0", Summary: listSummaryBmove, Complexity: "O(1)",
			Kind: KindKeyWrite, Run: listBlmoveCmd, BlockTimeoutArg: -1},
		{Name: "brpoplpush", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagNoScript | FlagBlocking, FirstKey: 1, LastKey: 2, Step: 1, ACLCategories: listACLBlocking,
			Since: "2.2.0", Summary: listSummaryBmove, Complexity: "O(1)",
			Kind: KindKeyWrite, Run: listBrpoplpushCmd, BlockTimeoutArg: -1},
		{Name: "blmpop", Arity: -5, Flags: FlagWrite | FlagBlocking, Keys: listMpopKeys(2), ACLCategories: listACLBlocking,
			Since: "7.0.0", Summary: "Pop elements from a list, or block until one is available", Complexity: listComplexityMpop,
			Kind: KindKeyWrite, Run: listBlmpopCmd, BlockTimeoutArg: 1, Validate: listMpopValidate(2)},
	} {
		s.Group = "list"
		if s.FirstKey == 0 && s.Keys == nil {
			s.FirstKey, s.LastKey, s.Step = 1, 1, 1
		}
		t.Add(s)
	}
}

// listMpopKeys returns the Keys function of LMPOP (numkeys at 1) and BLMPOP (numkeys at 2).
// A bad numkeys yields no keys; Run answers the error.
func listMpopKeys(at int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte {
		if at >= len(args) {
			return nil
		}
		n, ok := strParseInt(args[at])
		if !ok || n <= 0 {
			return nil
		}
		// The keys are followed by at least LEFT|RIGHT: a numkeys reaching past that is
		// malformed. (A numkeys that lands on COUNT is caught by listMpopValidate before
		// the keys are routed, so it gets Redis' syntax error rather than CROSSSLOT.)
		if n > int64(len(args)-at-2) {
			return nil
		}
		return args[at+1 : at+1+int(n)]
	}
}

// listMpopValidate answers LMPOP's (at 1) and BLMPOP's (at 2) argument errors before the
// keys are routed: a malformed call has no reliable key list.
func listMpopValidate(at int) func(args [][]byte) (reply.Value, bool) {
	return func(args [][]byte) (reply.Value, bool) {
		if _, _, _, rv, ok := listMpopArgs(args, at); !ok {
			return rv, false
		}
		if at == 2 {
			return listCheckTimeout(args[1])
		}
		return reply.Value{}, true
	}
}

// listPos is the sub of the element at position p.
func listPos(p int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(p)^1<<63)
}

// listHead returns the head position of c.
func listHead(c *keyspace.Coll) int64 {
	if len(c.Meta.Extra) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(c.Meta.Extra))
}

func listSetHead(c *keyspace.Coll, h int64) {
	c.Meta.Extra = binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(h))
}

// listLookup returns the list at key (nil if absent) or the reply for a wrong type/fault.
func listLookup(tx *keyspace.Txn, key []byte) (*keyspace.Coll, reply.Value, bool) {
	c, err := tx.LookupCollection(key, keyspace.TypeList)
	if err != nil {
		return nil, strTxnErr(err), false
	}
	return c, reply.Value{}, true
}

// listGet returns the element at index i (0 <= i < Size).
func listGet(tx *keyspace.Txn, c *keyspace.Coll, i int64) ([]byte, error) {
	v, ok, err := tx.GetSub(c, listPos(listHead(c)+i))
	if err == nil && !ok {
		err = keyspace.ErrCorrupt
	}
	return v, err
}

// listPush adds v at the head (left) or the tail.
func listPush(tx *keyspace.Txn, c *keyspace.Coll, left bool, v []byte) error {
	h := listHead(c)
	var p int64
	if left {
		p = h - 1
		listSetHead(c, p)
	} else {
		p = h + c.Meta.Size
	}
	c.Meta.Size++
	return tx.PutSub(c, listPos(p), v)
}

// listPop removes up to n elements from one end and returns them in pop order.
func listPop(tx *keyspace.Txn, c *keyspace.Coll, left bool, n int64) ([][]byte, error) {
	n = min(n, c.Meta.Size)
	out := make([][]byte, 0, n)
	h := listHead(c)
	for range n {
		p := h + c.Meta.Size - 1
		if left {
			p = h
		}
		v, ok, err := tx.GetSub(c, listPos(p))
		if err == nil && !ok {
			err = keyspace.ErrCorrupt
		}
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteSub(c, listPos(p)); err != nil {
			return nil, err
		}
		out = append(out, v)
		c.Meta.Size--
		if left {
			h++
		}
	}
	listSetHead(c, h)
	return out, nil
}

// listPopBig pops n elements from one end of c and saves c when n is at least streamMin,
// with one range deletion of their positions, and returns the array of them in pop order
// (popReply: streamed from a snapshot where it can). ok is false, with nothing done, when n is
// too small (listPop pops one by one); an error is returned as rv with ok true.
func listPopBig(tx *keyspace.Txn, c *keyspace.Coll, left bool, n int64) (rv reply.Value, ok bool) {
	n = min(n, c.Meta.Size)
	if n < streamMin {
		return reply.Value{}, false
	}
	h := listHead(c)
	from, to := h, h+n // positions popped
	if !left {
		from, to = h+c.Meta.Size-n, h+c.Meta.Size
	}
	opts := keyspace.SubIterOptions{From: listPos(from), To: listPos(to)}
	elem := func(_, v []byte) []reply.Value { return []reply.Value{reply.Bulk(v)} }
	rv = popReply(tx, c, opts, n, 1, reply.KindArray, !left, elem, func() (reply.Value, error) {
		vals := make([][]byte, 0, n)
		err := listWalk(tx, c, from-h, to-h, !left, func(_ int64, v []byte) bool {
			vals = append(vals, v)
			return true
		})
		if err == nil && int64(len(vals)) != n {
			err = keyspace.ErrCorrupt
		}
		return reply.BulkArray(vals), err
	})
	if rv.IsError() {
		return rv, true
	}
	if err := listDeletePositions(tx, c, from, to); err != nil {
		reply.Discard(rv)
		return reply.ErrInternal, true
	}
	c.Meta.Size -= n
	if left {
		h = to
	}
	listSetHead(c, h)
	if save, ok := listSave(tx, c); !ok {
		reply.Discard(rv)
		return save, true
	}
	return rv, true
}

// listRangeDeleteMin is the number of elements from which a deletion of consecutive
// positions is one range deletion rather than point deletions (which compact away more
// cheaply when there are few).
const listRangeDeleteMin = 64

// listDeletePositions deletes the elements at positions [from, to) of c; the caller adjusts
// the head and size.
func listDeletePositions(tx *keyspace.Txn, c *keyspace.Coll, from, to int64) error {
	if to-from >= listRangeDeleteMin {
		return tx.DeleteSubRange(c, listPos(from), listPos(to))
	}
	for p := from; p < to; p++ {
		if err := tx.DeleteSub(c, listPos(p)); err != nil {
			return err
		}
	}
	return nil
}

// listElem is one element read by a walk: its index and a copy of its value.
type listElem struct {
	idx int64
	val []byte
}

// listWalk calls fn on the elements with index in [from, to), in order, or in reverse order
// when reverse is set, until fn returns false. Values are copies.
func listWalk(tx *keyspace.Txn, c *keyspace.Coll, from, to int64, reverse bool, fn func(idx int64, v []byte) bool) error {
	h := listHead(c)
	it, err := tx.IterSubs(c, keyspace.SubIterOptions{From: listPos(h + from), To: listPos(h + to)})
	if err != nil {
		return err
	}
	i, step := from, int64(1)
	ok := it.First()
	if reverse {
		i, step = to-1, -1
		ok = it.Last()
	}
	var arena copyArena
	for ; ok; i += step {
		if !fn(i, arena.copy(it.Value())) {
			break
		}
		if reverse {
			ok = it.Prev()
		} else {
			ok = it.Next()
		}
	}
	return it.Close()
}

// listRead returns the elements with index in [from, to).
func listRead(tx *keyspace.Txn, c *keyspace.Coll, from, to int64) ([][]byte, error) {
	out := make([][]byte, 0, max(to-from, 0))
	err := listWalk(tx, c, from, to, false, func(_ int64, v []byte) bool {
		out = append(out, v)
		return true
	})
	return out, err
}

// listParseSide parses LEFT or RIGHT (true for LEFT).
func listParseSide(b []byte) (left, ok bool) {
	switch {
	case strEqFold(b, "left"):
		return true, true
	case strEqFold(b, "right"):
		return false, true
	}
	return false, false
}

// listSave saves c, mapping a fault.
func listSave(tx *keyspace.Txn, c *keyspace.Coll) (reply.Value, bool) {
	if err := tx.SaveCollection(c); err != nil {
		return reply.ErrInternal, false
	}
	return reply.Value{}, true
}
