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

// KEYS, SCAN and RANDOMKEY read the whole keyspace through Server.ReadAll, one Txn that sees
// every shard at one instant, and walk it in slot order with Txn.ScanSlots.
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

func genKeysCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	pattern := args[1]
	match := genMatcher(pattern)
	r := genAllSlots
	if slot, ok := genPatternSlot(pattern); ok {
		r = routing.Range{Start: slot, End: slot + 1}
	}
	return s.ReadAll(ctx, func(tx *keyspace.Txn) reply.Value {
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
	})
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

func genScanCmd(ctx context.Context, s Server, args [][]byte) reply.Value {
	cursor, ok := genParseCursor(args[1])
	if !ok {
		return genErrInvalidCursor
	}
	count := int64(10)
	match := genMatcher([]byte("*"))
	pinned, pinnedOK := uint16(0), false
	var typeName []byte
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return reply.ErrSyntax
		}
		switch {
		case genEqFold(args[i], "count"):
			n, isInt := genParseInt(args[i+1])
			if !isInt {
				return reply.ErrNotInteger
			}
			if n < 1 {
				return reply.ErrSyntax
			}
			count = n
		case genEqFold(args[i], "match"):
			match = genMatcher(args[i+1])
			pinned, pinnedOK = genPatternSlot(args[i+1])
		case genEqFold(args[i], "type"):
			typeName = args[i+1]
		default:
			return reply.ErrSyntax
		}
	}
	done := reply.Array(reply.BulkString("0"), reply.Array())
	if cursor >= routing.NumSlots {
		return done
	}
	r := genAllSlots
	if pinnedOK {
		if uint64(pinned) < cursor {
			return done
		}
		r = routing.Range{Start: pinned, End: pinned + 1}
	}
	return s.ReadAll(ctx, func(tx *keyspace.Txn) reply.Value {
		var keys []reply.Value
		var seen int64
		next, err := tx.ScanSlots(r, max(uint16(cursor), r.Start), func(_ uint16, key []byte, m *keyspace.Meta) bool {
			seen++
			if match(key) && (typeName == nil || genEqFold(typeName, m.Type.String())) {
				keys = append(keys, reply.Bulk(append([]byte(nil), key...)))
			}
			return seen < count
		})
		if err != nil {
			return genTxnErr(err)
		}
		if next >= r.End {
			next = 0 // the last slot (or the only slot a pattern pins) is done
		}
		return reply.Array(reply.BulkString(strconv.FormatUint(uint64(next), 10)), reply.Array(keys...))
	})
}

// genRandomKeyCmd picks a random slot, then a random key of the first non-empty slot at or
// after it (wrapping around). Keys in slots that follow empty ones are a little more likely
// than others, which RANDOMKEY's contract ("a random key") allows. Randomness is fine here:
// the command is a read served by one node, never part of a raft entry.
func genRandomKeyCmd(ctx context.Context, s Server, _ [][]byte) reply.Value {
	start := uint16(rand.IntN(routing.NumSlots))
	return s.ReadAll(ctx, func(tx *keyspace.Txn) reply.Value {
		for _, r := range []routing.Range{{Start: start, End: routing.NumSlots}, {Start: 0, End: start}} {
			var keys [][]byte
			_, err := tx.ScanSlots(r, r.Start, func(_ uint16, key []byte, _ *keyspace.Meta) bool {
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
	})
}
