package command

// HSCAN, SSCAN and ZSCAN over a collection's sub-keys.
//
// A compact collection (Redis' listpack or intset) is returned whole with cursor 0, as Redis
// does, whatever COUNT says. A big one is walked in sub-key order in pages of about COUNT
// entries. The cursor names where the next page starts without any server-side state:
//
//	cursor = (p >> 1) + 1, p = the first 8 bytes of the next sub, zero-padded, big-endian
//
// so it is never 0 (0 ends the iteration). Resuming seeks to the smallest sub with that
// 63-bit prefix (the prefix bytes with their trailing zero bytes removed), which is at or
// before the entry the page stopped at. A page never ends between two subs of the same
// 63-bit prefix, so resuming never goes back into the page before and the iteration always
// moves forward: every entry present for the whole iteration is returned, at most once
// (pages may run past COUNT when many subs share a prefix; SCAN allows that). Entries added
// or removed during the iteration may or may not be returned, as in Redis.

import (
	"bytes"
	"encoding/binary"

	"ferricd/internal/glob"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// scanOpts are the parsed MATCH and COUNT options.
type scanOpts struct {
	match []byte // nil: everything
	count int64
}

// parseScanOpts parses [MATCH pattern] [COUNT count] from args as scanGenericCommand.
func parseScanOpts(args [][]byte) (scanOpts, reply.Value, bool) {
	o := scanOpts{count: 10}
	for i := 0; i < len(args); i += 2 {
		rest := len(args) - i
		switch {
		case strEqFold(args[i], "count") && rest >= 2:
			n, ok := strParseInt(args[i+1])
			if !ok {
				return o, reply.ErrNotInteger, false
			}
			if n < 1 {
				return o, reply.ErrSyntax, false
			}
			o.count = n
		case strEqFold(args[i], "match") && rest >= 2:
			o.match = args[i+1]
			if len(o.match) == 1 && o.match[0] == '*' {
				o.match = nil
			}
		default:
			return o, reply.ErrSyntax, false
		}
	}
	return o, reply.Value{}, true
}

// scanPrefix is the 63-bit prefix of sub that cursors are made of.
func scanPrefix(sub []byte) uint64 {
	var b [8]byte
	copy(b[:], sub)
	return binary.BigEndian.Uint64(b[:]) >> 1
}

// scanResume is the smallest sub whose 63-bit prefix is cursor-1.
func scanResume(cursor uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, (cursor-1)<<1)
	return bytes.TrimRight(b, "\x00")
}

// collScan returns one page of c's sub-keys within [from, to) (nil: unbounded; from and to
// confine the walk to the part of the sub-key space that holds the type's entries, and the
// cursor is taken relative to from), calling emit for each entry whose sub (after strip
// bytes) matches o.match, and the cursor of the next page (0 at the end).
func collScan(tx *keyspace.Txn, c *keyspace.Coll, cursor uint64, o scanOpts, from, to []byte, strip int,
	emit func(sub, value []byte)) (uint64, error) {
	opts := keyspace.SubIterOptions{From: from, To: to}
	it, err := tx.IterSubs(c, opts)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	compact := c.Meta.Enc != keyspace.EncBig
	var ok bool
	if compact || cursor == 0 {
		ok = it.First()
		cursor = 0
	} else {
		ok = it.SeekGE(append(append([]byte(nil), from...), scanResume(cursor)...))
	}
	seen := int64(0)
	var last uint64
	var arena copyArena
	for ; ok; ok = it.Next() {
		sub := it.Sub()[strip:]
		if !compact && seen >= o.count {
			if p := scanPrefix(sub); p != last {
				return p + 1, nil
			}
		}
		seen++
		last = scanPrefix(sub)
		if o.match == nil || glob.Match(o.match, sub, false) {
			emit(arena.copy(sub), arena.copy(it.Value()))
		}
	}
	return 0, nil
}

// scanReply is [cursor, elements].
func scanReply(cursor uint64, elems []reply.Value) reply.Value {
	return reply.Array(reply.BulkString(strconvU(cursor)), reply.Array(elems...))
}

func strconvU(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

var emptyScan = reply.Array(reply.BulkString("0"), reply.Array())

// hashScanCmd is HSCAN key cursor [MATCH pattern] [COUNT count].
func hashScanCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	cursor, ok := genParseCursor(args[2])
	if !ok {
		return genErrInvalidCursor
	}
	c, rv, ok := hashLookup(tx, args[1])
	if !ok {
		return rv
	}
	if c == nil {
		return emptyScan
	}
	o, rv, ok := parseScanOpts(args[3:])
	if !ok {
		return rv
	}
	var out []reply.Value
	next, err := collScan(tx, c, cursor, o, nil, nil, 0, func(sub, value []byte) {
		out = append(out, reply.Bulk(sub), reply.Bulk(value))
	})
	if err != nil {
		return reply.ErrInternal
	}
	return scanReply(next, out)
}
