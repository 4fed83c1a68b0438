package command

import (
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/keyspace"
)

// strCase is a script run on a fresh harness: each step is {want, args...}. The wants were
// captured from redis-server 7.0.15 (FLUSHALL before each script), rendered the way
// reply.Value.String renders replies.
type strCase struct {
	name  string
	steps [][]string
}

// strRunCases runs every script. Two commands belong to other families and are emulated
// here so the scripts can use them: RPUSH key x (creates a one-element list, to provoke
// WRONGTYPE) and TTL key (Redis' rounding of the remaining time, read from the metadata).
func strRunCases(t *testing.T, cases []strCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			for _, step := range c.steps {
				want, args := step[0], step[1:]
				if got := h.strDo(args...); got != want {
					t.Errorf("%q = %s, want %s", args, got, want)
				}
			}
		})
	}
}

func (h *harness) strDo(args ...string) string {
	switch strings.ToUpper(args[0]) {
	case "RPUSH":
		h.strMakeList(args[1])
		return ":1"
	case "TTL":
		return h.strTTL(args[1])
	}
	return h.do(args...).String()
}

// strMakeList stores a list header under key (no elements are needed to provoke WRONGTYPE).
func (h *harness) strMakeList(key string) {
	h.t.Helper()
	b := h.db.NewIndexedBatch()
	tx := keyspace.NewWriteTxn(b, h.now, h.index, h.counts)
	h.index++
	if err := tx.Put([]byte(key), keyspace.Meta{Type: keyspace.TypeList, Version: tx.NewVersion(), Size: 1}); err != nil {
		h.t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		h.t.Fatal(err)
	}
	h.counts.Publish(b)
}

// strMeta reads key's metadata as a read command would see it.
func (h *harness) strMeta(key string) (keyspace.Meta, bool) {
	h.t.Helper()
	m, ok, err := keyspace.NewReadTxn(h.db, h.now, h.counts).Lookup([]byte(key))
	if err != nil {
		h.t.Fatal(err)
	}
	return m, ok
}

// strTTL answers as Redis' TTL: -2 missing, -1 no deadline, else seconds rounded.
func (h *harness) strTTL(key string) string {
	m, ok := h.strMeta(key)
	switch {
	case !ok:
		return ":-2"
	case m.ExpireAt == 0:
		return ":-1"
	}
	return ":" + strconv.FormatInt((m.ExpireAt-h.now+500)/1000, 10)
}

func TestStringsCases(t *testing.T)    { strRunCases(t, strCases) }
func TestStringsFloat(t *testing.T)    { strRunCases(t, strFloatCases) }
func TestStringsLCS(t *testing.T)      { strRunCases(t, strLCSCases) }
func TestStringsBits(t *testing.T)     { strRunCases(t, strBitCases) }
func TestStringsBitfield(t *testing.T) { strRunCases(t, strBitfieldCases) }

// TestStringsCommandInfo pins the table entries to Redis 7.0.15's COMMAND INFO / DOCS.
func TestStringsCommandInfo(t *testing.T) {
	tab := New()
	for _, c := range []struct {
		name              string
		arity             int
		flags             string
		first, last, step int
		acl, group, since string
	}{
		{"get", 2, "readonly fast", 1, 1, 1, "@read @string @fast", "string", "1.0.0"},
		{"set", -3, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "1.0.0"},
		{"setnx", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0"},
		{"setex", 4, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "2.0.0"},
		{"psetex", 4, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "2.6.0"},
		{"getset", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0"},
		{"getdel", 2, "write fast", 1, 1, 1, "@write @string @fast", "string", "6.2.0"},
		{"getex", -2, "write fast", 1, 1, 1, "@write @string @fast", "string", "6.2.0"},
		{"mget", -2, "readonly fast", 1, -1, 1, "@read @string @fast", "string", "1.0.0"},
		{"mset", -3, "write denyoom", 1, -1, 2, "@write @string @slow", "string", "1.0.1"},
		{"msetnx", -3, "write denyoom", 1, -1, 2, "@write @string @slow", "string", "1.0.1"},
		{"incr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0"},
		{"decr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0"},
		{"incrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0"},
		{"decrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0"},
		{"incrbyfloat", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "2.6.0"},
		{"append", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "2.0.0"},
		{"strlen", 2, "readonly fast", 1, 1, 1, "@read @string @fast", "string", "2.2.0"},
		{"getrange", 4, "readonly", 1, 1, 1, "@read @string @slow", "string", "2.4.0"},
		{"setrange", 4, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "2.2.0"},
		{"substr", 4, "readonly", 1, 1, 1, "@read @string @slow", "string", "1.0.0"},
		{"lcs", -3, "readonly", 1, 2, 1, "@read @string @slow", "string", "7.0.0"},
		{"setbit", 4, "write denyoom", 1, 1, 1, "@write @bitmap @slow", "bitmap", "2.2.0"},
		{"getbit", 3, "readonly fast", 1, 1, 1, "@read @bitmap @fast", "bitmap", "2.2.0"},
		{"bitcount", -2, "readonly", 1, 1, 1, "@read @bitmap @slow", "bitmap", "2.6.0"},
		{"bitpos", -3, "readonly", 1, 1, 1, "@read @bitmap @slow", "bitmap", "2.8.7"},
		{"bitop", -4, "write denyoom", 2, -1, 1, "@write @bitmap @slow", "bitmap", "2.6.0"},
		{"bitfield", -2, "write denyoom", 1, 1, 1, "@write @bitmap @slow", "bitmap", "3.2.0"},
		{"bitfield_ro", -2, "readonly fast", 1, 1, 1, "@read @bitmap @fast", "bitmap", "6.0.0"},
	} {
		s := tab.Get(c.name)
		if s == nil {
			t.Errorf("%s not registered", c.name)
			continue
		}
		got := []string{strconv.Itoa(s.Arity), strings.Join(s.Flags.Names(), " "),
			strconv.Itoa(s.FirstKey), strconv.Itoa(s.LastKey), strconv.Itoa(s.Step),
			strings.Join(s.ACLCategories, " "), s.Group, s.Since}
		want := []string{strconv.Itoa(c.arity), c.flags, strconv.Itoa(c.first), strconv.Itoa(c.last),
			strconv.Itoa(c.step), c.acl, c.group, c.since}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: got %q, want %q", c.name, got, want)
		}
		if s.Summary == "" || s.Complexity == "" || s.Run == nil {
			t.Errorf("%s: missing summary, complexity or Run", c.name)
		}
		wantKind := KindKeyRead
		if s.Flags&FlagWrite != 0 {
			wantKind = KindKeyWrite
		}
		if s.Kind != wantKind {
			t.Errorf("%s: kind %d, want %d", c.name, s.Kind, wantKind)
		}
		if s.Kind == KindKeyRead && s.Validate != nil {
			t.Errorf("%s: a read command has a Validate", c.name)
		}
	}
}

// TestStringsKeyArgs checks the key positions the node routes by.
func TestStringsKeyArgs(t *testing.T) {
	tab := New()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "a"}, "a"},
		{[]string{"MGET", "a", "b", "c"}, "a b c"},
		{[]string{"MSET", "a", "1", "b", "2"}, "a b"},
		{[]string{"MSETNX", "a", "1", "b", "2"}, "a b"},
		{[]string{"BITOP", "AND", "d", "a", "b"}, "d a b"},
		{[]string{"LCS", "a", "b", "IDX"}, "a b"},
		{[]string{"BITFIELD", "a", "GET", "u8", "0"}, "a"},
	} {
		bargs := make([][]byte, len(c.args))
		for i, a := range c.args {
			bargs[i] = []byte(a)
		}
		var keys []string
		for _, k := range tab.Lookup(bargs).KeyArgs(bargs) {
			keys = append(keys, string(k))
		}
		if got := strings.Join(keys, " "); got != c.want {
			t.Errorf("%v: keys %q, want %q", c.args, got, c.want)
		}
	}
}
