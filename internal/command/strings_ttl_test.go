package command

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// TestStringsRelativeTTLUsesTxnClock checks that relative expiries become absolute deadlines
// computed from the Txn's clock (the raft entry's time), and that keys vanish exactly at that
// deadline as the clock moves.
func TestStringsRelativeTTLUsesTxnClock(t *testing.T) {
	for _, c := range []struct {
		args []string
		ttl  int64 // ms after h.now
	}{
		{[]string{"SET", "k", "v", "EX", "10"}, 10_000},
		{[]string{"SET", "k", "v", "px", "1500"}, 1500},
		{[]string{"SETEX", "k", "7", "v"}, 7000},
		{[]string{"PSETEX", "k", "250", "v"}, 250},
	} {
		h := newHarness(t)
		start := h.now
		h.do(c.args...)
		if m, _ := h.strMeta("k"); m.ExpireAt != start+c.ttl {
			t.Errorf("%v: deadline %d, want now+%d = %d", c.args, m.ExpireAt, c.ttl, start+c.ttl)
		}
		h.advance(c.ttl - 1)
		h.expect(`"v"`, "GET", "k")
		h.advance(1)
		h.expect("(nil)", "GET", "k")
		// A write after the deadline sees the key gone: SET NX succeeds.
		h.expect("+OK", "SET", "k", "w", "NX")
	}
}

func TestStringsAbsoluteTTLAndKeepTTL(t *testing.T) {
	h := newHarness(t)
	at := h.now + 60_000
	h.expect("+OK", "SET", "k", "v", "PXAT", strconv.FormatInt(at, 10))
	h.expect("+OK", "SET", "k", "v2", "KEEPTTL")
	h.expect("-ERR value is not a valid float", "INCRBYFLOAT", "k", "1") // fails: no change
	if m, _ := h.strMeta("k"); m.ExpireAt != at || string(m.Value) != "v2" {
		t.Fatalf("after KEEPTTL: deadline %d value %q, want %d v2", m.ExpireAt, m.Value, at)
	}
	h.expect("+OK", "SET", "n", "5", "EXAT", strconv.FormatInt(at/1000, 10))
	h.expect(":6", "INCR", "n")
	if m, _ := h.strMeta("n"); m.ExpireAt != at/1000*1000 {
		t.Fatalf("INCR changed the deadline to %d", m.ExpireAt)
	}
	// GETEX EX is relative to the Txn clock too, also after the clock moved.
	h.advance(5000)
	h.expect(`"v2"`, "GETEX", "k", "EX", "3")
	if m, _ := h.strMeta("k"); m.ExpireAt != h.now+3000 {
		t.Fatalf("GETEX EX: deadline %d, want %d", m.ExpireAt, h.now+3000)
	}
	h.expect(`"v2"`, "GETEX", "k", "PERSIST")
	if m, _ := h.strMeta("k"); m.ExpireAt != 0 {
		t.Fatalf("GETEX PERSIST left deadline %d", m.ExpireAt)
	}
	// An absolute deadline equal to now is already past.
	h.expect(`"v2"`, "GETEX", "k", "PXAT", strconv.FormatInt(h.now, 10))
	h.expect("(nil)", "GET", "k")
	// SET with a deadline already past stores the key, which then reads as absent.
	h.expect("+OK", "SET", "p", "v", "PXAT", strconv.FormatInt(h.now, 10))
	h.expect("(nil)", "GET", "p")
	// Expiry arithmetic overflows against the Txn clock, not a local one.
	h.expect("-ERR invalid expire time in 'set' command", "SET", "k", "v", "PX", "9223372036854775807")
}

// TestStringsValidate checks that write commands with bad syntax are refused by Validate,
// before any proposal, with the same reply Run gives on its own (a replica applying an entry
// that skipped Validate must reach the same answer).
func TestStringsValidate(t *testing.T) {
	tab := New()
	bad := []struct {
		want string
		args []string
	}{
		{"-ERR syntax error", []string{"SET", "k", "v", "NX", "XX"}},
		{"-ERR syntax error", []string{"SET", "k", "v", "EX"}},
		{"-ERR invalid expire time in 'set' command", []string{"SET", "k", "v", "EX", "0"}},
		{"-ERR invalid expire time in 'set' command", []string{"SET", "k", "v", "EXAT", "9223372036854776"}},
		{"-ERR value is not an integer or out of range", []string{"SET", "k", "v", "PX", "x"}},
		{"-ERR invalid expire time in 'setex' command", []string{"SETEX", "k", "0", "v"}},
		{"-ERR value is not an integer or out of range", []string{"SETEX", "k", "x", "v"}},
		{"-ERR invalid expire time in 'psetex' command", []string{"PSETEX", "k", "-1", "v"}},
		{"-ERR syntax error", []string{"GETEX", "k", "KEEPTTL"}},
		{"-ERR wrong number of arguments for 'mset' command", []string{"MSET", "a", "1", "b"}},
		{"-ERR wrong number of arguments for 'msetnx' command", []string{"MSETNX", "a", "1", "b"}},
		{"-ERR value is not an integer or out of range", []string{"INCRBY", "k", "1.5"}},
		{"-ERR value is not an integer or out of range", []string{"DECRBY", "k", "x"}},
		{"-ERR decrement would overflow", []string{"DECRBY", "k", "-9223372036854775808"}},
		{"-ERR offset is out of range", []string{"SETRANGE", "k", "-1", "x"}},
		{"-ERR value is not an integer or out of range", []string{"SETRANGE", "k", "x", "x"}},
		{"-ERR bit offset is not an integer or out of range", []string{"SETBIT", "k", "4294967296", "1"}},
		{"-ERR bit is not an integer or out of range", []string{"SETBIT", "k", "0", "2"}},
		{"-ERR syntax error", []string{"BITOP", "NAND", "d", "a"}},
		{"-ERR BITOP NOT must be called with a single source key.", []string{"BITOP", "NOT", "d", "a", "b"}},
		{"-ERR Invalid OVERFLOW type specified", []string{"BITFIELD", "k", "OVERFLOW", "x"}},
		{"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.", []string{"BITFIELD", "k", "SET", "u64", "0", "1"}},
		{"-ERR bit offset is not an integer or out of range", []string{"BITFIELD", "k", "GET", "u8", "#-1"}},
		{"-ERR value is not an integer or out of range", []string{"BITFIELD", "k", "INCRBY", "u8", "0", "x"}},
		{"-ERR syntax error", []string{"BITFIELD", "k", "GET", "u8"}},
	}
	for _, c := range bad {
		args := strBytes(c.args)
		spec := tab.Lookup(args)
		if spec.Validate == nil {
			t.Errorf("%v: no Validate", c.args)
			continue
		}
		v, ok := spec.Validate(args)
		if ok || v.String() != c.want {
			t.Errorf("Validate %v = %v %s, want %s", c.args, ok, v, c.want)
		}
		h := newHarness(t)
		b := h.db.NewIndexedBatch()
		if got := spec.Run(keyspace.NewWriteTxn(b, h.now, 1, h.counts), args).String(); got != c.want {
			t.Errorf("Run %v = %s, want %s", c.args, got, c.want)
		}
		if !b.Empty() {
			t.Errorf("Run %v wrote despite the error", c.args)
		}
		b.Close()
	}
	// Inputs Redis rejects only after reading the key pass Validate (the error depends on
	// the data): GETEX's expiry value, INCRBYFLOAT's increment, SETRANGE's size limit.
	for _, a := range [][]string{
		{"SET", "k", "v", "EX", "9223372036854775"}, // overflows only once now is added
		{"GETEX", "k", "EX", "abc"},
		{"INCRBYFLOAT", "k", "abc"},
		{"SETRANGE", "k", "536870912", "x"},
		{"BITFIELD", "k"},
		{"SETNX", "k", "v"},
	} {
		args := strBytes(a)
		if spec := tab.Lookup(args); spec.Validate != nil {
			if v, ok := spec.Validate(args); !ok {
				t.Errorf("Validate %v refused: %s", a, v)
			}
		}
	}
}

func strBytes(args []string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// TestStringsReplyKinds checks the reply kinds RESP3 distinguishes.
func TestStringsReplyKinds(t *testing.T) {
	h := newHarness(t)
	h.do("SET", "a", "hello")
	h.do("SET", "b", "yellow")
	if v := h.do("GET", "nokey"); v.Kind != reply.KindNull {
		t.Errorf("GET missing: kind %d", v.Kind)
	}
	if v := h.do("LCS", "a", "b", "IDX"); v.Kind != reply.KindMap || len(v.Elems) != 4 {
		t.Errorf("LCS IDX: kind %d, %d elems", v.Kind, len(v.Elems))
	}
	if v := h.do("MGET", "a", "nokey"); v.Kind != reply.KindArray || v.Elems[1].Kind != reply.KindNull {
		t.Errorf("MGET: %v", v)
	}
	if v := h.do("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "4"); v.Kind != reply.KindArray || v.Elems[0].Kind != reply.KindNull {
		t.Errorf("BITFIELD FAIL: %v", v)
	}
	if v := h.do("INCRBYFLOAT", "x", "1.5"); v.Kind != reply.KindBulk {
		t.Errorf("INCRBYFLOAT: kind %d (Redis answers a bulk string)", v.Kind)
	}
	if v := h.do("GETRANGE", "nokey", "0", "1"); v.Kind != reply.KindBulk || len(v.Str) != 0 {
		t.Errorf("GETRANGE missing: %v", v)
	}
}

// TestStringsLCSMemoryLimit checks Redis' refusal of an LCS table over proto-max-bulk-len:
// (12000+1)×(11183+1) cells of 4 bytes is just over 512 MB. Answers from redis-server 7.0.15.
func TestStringsLCSMemoryLimit(t *testing.T) {
	h := newHarness(t)
	h.do("SET", "a", strings.Repeat("x", 12000))
	h.do("SET", "b", strings.Repeat("y", 11183))
	h.expect("-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len", "LCS", "a", "b")
	h.expect("-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len", "LCS", "a", "b", "LEN")
	h.expect("-ERR If you want both the length and indexes, please just use IDX.", "LCS", "a", "b", "IDX", "LEN")
	h.expect("-ERR syntax error", "LCS", "a", "b", "FOO")
}

// TestStringsSetbitNoChange checks that SETBIT leaves the key untouched (no new last-write
// index) when the bit already has the value, as Redis does not signal a modification then.
func TestStringsSetbitNoChange(t *testing.T) {
	h := newHarness(t)
	h.expect(":0", "SETBIT", "k", "3", "1")
	before, _ := h.strMeta("k")
	h.expect(":1", "SETBIT", "k", "3", "1")
	h.expect(":0", "SETBIT", "k", "2", "0")
	after, _ := h.strMeta("k")
	if after.LastWrite != before.LastWrite || !bytes.Equal(after.Value, []byte{0x10}) {
		t.Errorf("no-op SETBIT rewrote the key: index %d→%d, value %x", before.LastWrite, after.LastWrite, after.Value)
	}
	h.expect(":0", "SETBIT", "k", "9", "0") // grows the string: a write
	if m, _ := h.strMeta("k"); m.LastWrite == before.LastWrite || len(m.Value) != 2 {
		t.Errorf("growing SETBIT did not write: %+v", m)
	}
}
