package command

import (
	"context"
	"math/rand/v2"
	"strconv"

	"ferricd/internal/glob"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// KEYS, SCAN and RANDOMKEY walk the keyspace in slot order with Txn.ScanSlots. On a node
// holding a replica of every shard they read through Server.ReadAll, one Txn that sees every
// shard at one instant. On a node without some shards (clusters of more than 3 nodes) they
// read shard by shard through Server.ReadShard, which runs ReadRange on the slots of one shard
// here or at that shard's leader: KEYS is then the concatenation of per-shard reads, each
// linearizable but not all at one instant, SCAN reads at most one shard per call, and
// RANDOMKEY asks shards in turn, from the one owning a random slot, until one has a key.
//
// SCAN's cursor is the slot at which to resume: 0 starts an iteration and a returned 0 ends
// it. Each call returns whole slots only, stopping after the first slot that brings the
// number of candidate keys (live keys looked at, before MATCH and TYPE filter them) to at
// least COUNT. Because a slot is never split across calls, the cursor only moves forward in
// slot order and a key's slot never changes, a key that exists for the whole iteration is
// returned exactly once, however the keyspace changes between calls. Like Redis' COUNT,
// COUNT is a hint: a slot holding many keys is returned whole. Cursors from Redis (or beyond
// the last slot) are accepted as Redis accepts any number; one past the last slot ends the
// iteration.

var (
	genErrInvalidCursor = reply.Err("ERR invalid cursor")
	genAllSlots         = routing.Range{Start: 0, End: routing.NumSlots}
)

func genScanSpecs() []*Spec {
	return []*Spec{
		{
			Name: "keys", Arity: 2, Flags: FlagReadOnly,
			ACLCategories: []string{"@keyspace", "@read", "@slow", "@dangerous"},
			Group:         "generic", Since: "1.0.0",
			Summary:    "Find all keys matching the given pattern",
			Complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
			Kind:       KindServer, Server: genKeysCmd,
		},
		{
			Name: "scan", Arity: -2, Flags: FlagReadOnly,
			ACLCategories: genACLReadSlow,
			Group:         "generic", Since: "2.8.0",
			Summary:    "Incrementally iterate the keys space",
			Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
			Kind:       KindServer, Server: genScanCmd,
		},
		{
			Name: "randomkey", Arity: 1, Flags: FlagReadOnly,
			ACLCategories: genACLReadSlow,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Return a random key from the keyspace",
			Complexity: "O(1)",
			Kind:       KindServer, Server: genRandomKeyCmd,
		},
	}
}

// genMatcher returns the key filter for a pattern; "*" matches every key, the empty one
// included, as Redis' KEYS and SCAN special-case it.
func genMatcher(pattern []byte) func(key []byte) bool {
	if string(pattern) == "*" {
		return func([]byte) bool { return true }
	}
	return func(key []byte) bool { return glob.Match(pattern, key, false) }
}

// genPatternSlot returns the only slot that keys matching pattern can live in, when the
// pattern pins it: a pattern without wildcards names one key, and a pattern whose literal
// prefix holds a complete non-empty hash tag ("{user42}:*") pins the tag. KEYS and SCAN then
// read one slot instead of the whole keyspace, which is what makes hash-tagged patterns
// usable on a large cluster.
func genPatternSlot(pattern []byte) (uint16, bool) {
	lit := make([]byte, 0, len(pattern))
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*', '?', '[':
			return genPrefixSlot(lit)
		case '\\':
			if i+1 < len(pattern) {
				i++
				c = pattern[i]
			}
		}
		lit = append(lit, c)
	}
	return routing.Slot(lit), true
}

// genPrefixSlot returns the slot of every key starting with prefix, if the prefix fixes the
// key's hash tag.
func genPrefixSlot(prefix []byte) (uint16, bool) {
	for i, c := range prefix {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(prefix); j++ {
			if prefix[j] == '}' {
				if j == i+1 {
					return 0, false // "{}": the whole key is hashed
				}
				return routing.Slot(prefix[:j+1]), true
			}
		}
		return 0, false // the tag's end is not fixed by the prefix
	}
	return 0, false
}

// ReadRange runs the part of a keyspace read that falls in slot range r. args is KEYS, SCAN,
// RANDOMKEY, CLUSTER COUNTKEYSINSLOT or CLUSTER GETKEYSINSLOT as the client sent it, already
// checked by the command; a node serving one shard's part for another node calls it too (see
// Server.ReadShard), so anything else gets an error, never a panic. The replies are those of
// the command restricted to r, except SCAN's cursor, which is the raw next slot (r.End once r
// is done) for the caller to turn into 0 at the end of the whole iteration.
func ReadRange(tx *keyspace.Txn, r routing.Range, args [][]byte) reply.Value {
	if len(args) == 0 || r.Start >= r.End || r.End > routing.NumSlots {
		return reply.ErrInternal
	}
	switch {
	case genEqFold(args[0], "keys") && len(args) == 2:
		return genKeysIn(tx, r, genMatcher(args[1]))
	case genEqFold(args[0], "scan"):
		o, errReply := genParseScan(args)
		if errReply.IsError() {
			return errReply
		}
		return genScanIn(tx, r, o)
	case genEqFold(args[0], "randomkey"):
		return genRandomIn(tx, r)
	case genEqFold(args[0], "cluster") && len(args) == 3 && genEqFold(args[1], "countkeysinslot"):
		return reply.Int(tx.Counts().SlotKeys(r.Start))
	case genEqFold(args[0], "cluster") && len(args) == 4 && genEqFold(args[1], "getkeysinslot"):
		count, ok := genParseInt(args[3])
		if !ok || count <= 0 {
			return reply.ErrInternal
		}
		return clusterKeysIn(tx, r, count)
	}
	return reply.ErrInternal
}

func genKeysCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	r := genAllSlots
	if slot, ok := genPatternSlot(args[1]); ok {
		r = routing.Range{Start: slot, End: slot + 1}
	}
	if s.HoldsAllShards() {
		return s.ReadAll(ctx, func(tx *keyspace.Txn) reply.Value { return ReadRange(tx, r, args) })
	}
	var keys []reply.Value
	for _, part := range s.ShardRanges(r) {
		v := s.ReadShard(ctx, part, args)
		if v.IsError() {
			return v
		}
		keys = append(keys, v.Elems...)
	}
	return reply.Array(keys...)
}

func genKeysIn(tx *keyspace.Txn, r routing.Range, match func([]byte) bool) reply.Value {
	var keys []reply.Value
	_, err := tx.ScanSlots(r, r.Start, func(_ uint16, key []byte, _ *keyspace.Meta) bool {
		if match(key) {
			keys = append(keys, reply.Bulk(append([]byte(nil), key...)))
		}
		return true
	})
	if err != nil {
		return genTxnErr(err)
	}
	return reply.Array(keys...)
}

// genParseCursor parses a SCAN cursor as Redis' strtoul-based parser: optional sign (a
// negative number wraps around), decimal digits, nothing else; the empty string is 0.
func genParseCursor(b []byte) (uint64, bool) {
	s := b
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
		if len(s) == 0 {
			return 0, false
		}
	}
	if len(s) == 0 {
		return 0, true
	}
	n, err := strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// genScanOpts is a parsed SCAN call.
type genScanOpts struct {
	cursor   uint64
	count    int64
	match    func([]byte) bool
	pinned   uint16 // the only slot MATCH's pattern allows, if pinnedOK
	pinnedOK bool
	typeName []byte // nil: every type
}

func genParseScan(args [][]byte) (genScanOpts, reply.Value) {
	o := genScanOpts{count: 10, match: genMatcher([]byte("*"))}
	if len(args) < 2 {
		return o, reply.ErrInternal
	}
	var ok bool
	if o.cursor, ok = genParseCursor(args[1]); !ok {
		return o, genErrInvalidCursor
	}
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return o, reply.ErrSyntax
		}
		switch {
		case genEqFold(args[i], "count"):
			n, isInt := genParseInt(args[i+1])
			if !isInt {
				return o, reply.ErrNotInteger
			}
			if n < 1 {
				return o, reply.ErrSyntax
			}
			o.count = n
		case genEqFold(args[i], "match"):
			o.match = genMatcher(args[i+1])
			o.pinned, o.pinnedOK = genPatternSlot(args[i+1])
		case genEqFold(args[i], "type"):
			o.typeName = args[i+1]
		default:
			return o, reply.ErrSyntax
		}
	}
	return o, reply.Value{}
}

func genScanCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	o, errReply := genParseScan(args)
	if errReply.IsError() {
		return errReply
	}
	done := reply.Array(reply.BulkString("0"), reply.Array())
	if o.cursor >= routing.NumSlots {
		return done
	}
	r := genAllSlots
	if o.pinnedOK {
		if uint64(o.pinned) < o.cursor {
			return done
		}
		r = routing.Range{Start: o.pinned, End: o.pinned + 1}
	}
	var v reply.Value
	if s.HoldsAllShards() {
		v = s.ReadAll(ctx, func(tx *keyspace.Txn) reply.Value { return genScanIn(tx, r, o) })
	} else {
		// One shard per call: the part of r from the cursor on that its first shard owns.
		from := routing.Range{Start: max(uint16(o.cursor), r.Start), End: r.End}
		v = s.ReadShard(ctx, s.ShardRanges(from)[0], args)
	}
	if v.IsError() {
		return v
	}
	if len(v.Elems) != 2 {
		return reply.ErrInternal
	}
	if next, err := strconv.ParseUint(string(v.Elems[0].Str), 10, 16); err != nil || next >= uint64(r.End) {
		v.Elems[0] = reply.BulkString("0") // the last slot (or the only slot a pattern pins) is done
	}
	return v
}

// genScanIn scans r from the cursor (or r's start, if later) and answers [next slot, keys].
func genScanIn(tx *keyspace.Txn, r routing.Range, o genScanOpts) reply.Value {
	if o.cursor >= uint64(r.End) {
		return reply.Array(reply.BulkString(strconv.Itoa(int(r.End))), reply.Array())
	}
	var keys []reply.Value
	var seen int64
	next, err := tx.ScanSlots(r, max(uint16(o.cursor), r.Start), func(_ uint16, key []byte, m *keyspace.Meta) bool {
		seen++
		if o.match(key) && (o.typeName == nil || genEqFold(o.typeName, m.Type.String())) {
			keys = append(keys, reply.Bulk(append([]byte(nil), key...)))
		}
		return seen < o.count
	})
	if err != nil {
		return genTxnErr(err)
	}
	return reply.Array(reply.BulkString(strconv.FormatUint(uint64(next), 10)), reply.Array(keys...))
}

// genRandomKeyCmd picks a random slot, then a random key of the first non-empty slot at or
// after it (wrapping around). Keys in slots that follow empty ones are a little more likely
// than others, which RANDOMKEY's contract ("a random key") allows. Randomness is fine here:
// the command is a read served by one node, never part of a raft entry.
func genRandomKeyCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	if s.HoldsAllShards() {
		return s.ReadAll(ctx, func(tx *keyspace.Txn) reply.Value { return genRandomIn(tx, genAllSlots) })
	}
	parts := s.ShardRanges(genAllSlots)
	slot := uint16(rand.IntN(routing.NumSlots))
	first := 0
	for i, p := range parts {
		if p.Contains(slot) {
			first = i
		}
	}
	for i := range parts {
		v := s.ReadShard(ctx, parts[(first+i)%len(parts)], args)
		if v.Kind != reply.KindNull {
			return v
		}
	}
	return reply.Null
}

// genRandomIn is RANDOMKEY restricted to r: from a random slot of r, wrapping around in r.
func genRandomIn(tx *keyspace.Txn, r routing.Range) reply.Value {
	start := r.Start + uint16(rand.IntN(int(r.End-r.Start)))
	for _, part := range []routing.Range{{Start: start, End: r.End}, {Start: r.Start, End: start}} {
		if part.Start >= part.End {
			continue
		}
		var keys [][]byte
		_, err := tx.ScanSlots(part, part.Start, func(_ uint16, key []byte, _ *keyspace.Meta) bool {
			keys = append(keys, append([]byte(nil), key...))
			return false // the rest of this slot is still delivered
		})
		if err != nil {
			return genTxnErr(err)
		}
		if len(keys) > 0 {
			return reply.Bulk(keys[rand.IntN(len(keys))])
		}
	}
	return reply.Null
}
