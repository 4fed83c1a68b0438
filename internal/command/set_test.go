package command

import (
	"fmt"
	"strconv"
	"testing"

	"ferricd/internal/keyspace"
)

// TestSetCommands checks replies and error texts against what redis-server 7.0.15 answers
// for the same sequence (recorded with redis-cli).
func TestSetCommands(t *testing.T) {
	h := newHarness(t)
	wrong := "-WRONGTYPE Operation against a key holding the wrong kind of value"
	for _, c := range []struct {
		want string
		args []string
	}{
		{":3", []string{"SADD", "s", "3", "1", "2"}},
		{":0", []string{"SADD", "s", "1"}},
		{`["1" "2" "3"]`, []string{"SMEMBERS", "s"}},
		{`"intset"`, []string{"OBJECT", "ENCODING", "s"}},
		{"+set", []string{"TYPE", "s"}},
		{":2", []string{"SADD", "s", "-5", "10"}},
		{`["-5" "1" "2" "3" "10"]`, []string{"SMEMBERS", "s"}},
		{":1", []string{"SADD", "t", "01"}},
		{`"hashtable"`, []string{"OBJECT", "ENCODING", "t"}},
		{":1", []string{"SISMEMBER", "s", "2"}},
		{":0", []string{"SISMEMBER", "s", "9"}},
		{"[:1 :0 :1]", []string{"SMISMEMBER", "s", "1", "x", "10"}},
		{":5", []string{"SCARD", "s"}},
		{":0", []string{"SCARD", "nokey"}},
		{":2", []string{"SREM", "s", "-5", "10", "99"}},
		{"[]", []string{"SRANDMEMBER", "nokey", "0"}},
		{"[]", []string{"SRANDMEMBER", "s", "0"}},
		{"(nil)", []string{"SRANDMEMBER", "nokey"}},
		{"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807", []string{"SRANDMEMBER", "s", "-9223372036854775808"}},
		{"-ERR value is not an integer or out of range", []string{"SRANDMEMBER", "s", "x"}},
		{"-ERR syntax error", []string{"SRANDMEMBER", "s", "1", "2"}},
		{`["1" "2" "3"]`, []string{"SRANDMEMBER", "s", "10"}},
		{"-ERR value is out of range, must be positive", []string{"SPOP", "s", "-1"}},
		{"-ERR value is out of range, must be positive", []string{"SPOP", "s", "x"}},
		{"-ERR syntax error", []string{"SPOP", "s", "1", "2"}},
		{"[]", []string{"SPOP", "nokey", "0"}},
		{"[]", []string{"SPOP", "s", "0"}},
		{"(nil)", []string{"SPOP", "nokey"}},
		{"-ERR numkeys should be greater than 0", []string{"SINTERCARD", "0", "s"}},
		{"-ERR numkeys should be greater than 0", []string{"SINTERCARD", "x", "s"}},
		{"-ERR Number of keys can't be greater than number of args", []string{"SINTERCARD", "2", "s"}},
		{"-ERR LIMIT can't be negative", []string{"SINTERCARD", "1", "s", "LIMIT", "-1"}},
		{"-ERR LIMIT can't be negative", []string{"SINTERCARD", "1", "s", "LIMIT", "x"}},
		{"-ERR syntax error", []string{"SINTERCARD", "1", "s", "foo", "1"}},
		{":3", []string{"SINTERCARD", "1", "s"}},
		{":2", []string{"SINTERCARD", "1", "s", "LIMIT", "2"}},
		{":3", []string{"SADD", "{x}a", "1", "2", "b"}},
		{":2", []string{"SADD", "{x}b", "2", "b"}},
		{`["2" "b"]`, []string{"SINTER", "{x}a", "{x}b"}},
		{"[]", []string{"SINTER", "{x}a", "{x}none"}},
		{`["1" "2" "b"]`, []string{"SUNION", "{x}a", "{x}b", "{x}none"}},
		{`["1"]`, []string{"SDIFF", "{x}a", "{x}b"}},
		{":1", []string{"SDIFFSTORE", "{x}d", "{x}a", "{x}b"}},
		{`"intset"`, []string{"OBJECT", "ENCODING", "{x}d"}},
		{":3", []string{"SUNIONSTORE", "{x}d", "{x}a", "{x}b"}},
		{`"hashtable"`, []string{"OBJECT", "ENCODING", "{x}d"}},
		{":0", []string{"SINTERSTORE", "{x}d", "{x}a", "{x}none"}},
		{":0", []string{"EXISTS", "{x}d"}},
		{"+OK", []string{"SET", "{x}str", "v"}},
		{wrong, []string{"SINTER", "{x}none", "{x}str"}},
		{wrong, []string{"SUNION", "{x}none", "{x}str"}},
		{":2", []string{"SUNIONSTORE", "{x}str", "{x}b"}},
		{"+set", []string{"TYPE", "{x}str"}},
		{":0", []string{"SMOVE", "{x}a", "{x}b", "zz"}},
		{":1", []string{"SMOVE", "{x}a", "{x}b", "1"}},
		{":1", []string{"SMOVE", "{x}a", "{x}a", "2"}},
		{":0", []string{"SMOVE", "{x}a", "{x}a", "99"}},
		{`["1" "2" "b"]`, []string{"SMEMBERS", "{x}b"}},
		{`["0" ["1" "2" "3"]]`, []string{"SSCAN", "s", "0"}},
		{`["0" ["2"]]`, []string{"SSCAN", "s", "0", "MATCH", "2"}},
		{"-ERR invalid cursor", []string{"SSCAN", "s", "x"}},
		{"+OK", []string{"SET", "str", "v"}},
		{wrong, []string{"SADD", "str", "a"}},
		{wrong, []string{"SMEMBERS", "str"}},
		{wrong, []string{"SPOP", "str"}},
		{wrong, []string{"SMOVE", "s", "str", "1"}},
		{wrong, []string{"SSCAN", "str", "0"}},
		{`["1" "2" "3"]`, []string{"SPOP", "s", "3"}},
		{":0", []string{"EXISTS", "s"}},
	} {
		h.expect(c.want, c.args...)
	}
}

func TestSetIntsetConverts(t *testing.T) {
	h := newHarness(t)
	args := []string{"SADD", "ints"}
	for i := range setMaxIntsetEntries {
		args = append(args, strconv.Itoa(i))
	}
	h.do(args...)
	h.expect(`"intset"`, "OBJECT", "ENCODING", "ints")
	h.do("SADD", "ints", "512")
	h.expect(`"hashtable"`, "OBJECT", "ENCODING", "ints")
	h.do("SREM", "ints", "512", "1", "2")
	h.expect(`"hashtable"`, "OBJECT", "ENCODING", "ints")
}

// SPOP's choice depends only on the raft entry (index and time) and the set: replaying the
// same entry on the same state pops the same members.
func TestSetPopIsDeterministicPerEntry(t *testing.T) {
	run := func() string {
		h := newHarness(t)
		args := []string{"SADD", "s"}
		for i := range 1000 {
			args = append(args, "m"+strconv.Itoa(i))
		}
		h.do(args...)
		return h.do("SPOP", "s", "5").String() + h.do("SPOP", "s").String()
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("two replicas popped different members: %s vs %s", a, b)
	}
}

func TestSetPopAndRandmemberOnBigSet(t *testing.T) {
	h := newHarness(t)
	args := []string{"SADD", "big"}
	for i := range 2000 {
		args = append(args, "m"+strconv.Itoa(i))
	}
	h.do(args...)
	v := h.do("SPOP", "big", "700")
	seen := map[string]bool{}
	for _, e := range v.Elems {
		if seen[string(e.Str)] {
			t.Fatalf("SPOP 700 popped %s twice", e.Str)
		}
		seen[string(e.Str)] = true
	}
	if len(seen) != 700 {
		t.Fatalf("SPOP 700 popped %d members", len(seen))
	}
	h.expect(":1300", "SCARD", "big")
	for m := range seen {
		h.expect(":0", "SISMEMBER", "big", m)
	}
	if v := h.do("SRANDMEMBER", "big", "-5000"); len(v.Elems) != 5000 {
		t.Fatalf("SRANDMEMBER -5000 returned %d members", len(v.Elems))
	}
}

// A huge negative count is streamed: the reply is drawn as it is sent.
func TestSetRandmemberHugeNegativeCountStreams(t *testing.T) {
	h := newHarness(t)
	h.do("SADD", "s", "a", "b", "c")
	v := h.do("SRANDMEMBER", "s", "-10000")
	if len(v.Elems) != 10000 {
		t.Fatalf("SRANDMEMBER -10000 returned %d members", len(v.Elems))
	}
	for _, e := range v.Elems {
		if s := string(e.Str); s != "a" && s != "b" && s != "c" {
			t.Fatalf("SRANDMEMBER returned %q, not a member", s)
		}
	}
	h.do("HSET", "h", "f", "v")
	if v := h.do("HRANDFIELD", "h", "-5000", "WITHVALUES"); len(v.Elems) != 10000 || string(v.Elems[1].Str) != "v" {
		t.Fatalf("HRANDFIELD -5000 WITHVALUES: %d elements", len(v.Elems))
	}
}

// Members sharing a long prefix ("element:…", as redis-benchmark writes them) must still be
// picked from all over a big set, not only from its start.
func TestSetRandomPicksSpreadOverCommonPrefixes(t *testing.T) {
	h := newHarness(t)
	args := []string{"SADD", "big"}
	for i := range 2000 {
		args = append(args, "element:"+strconv.Itoa(i))
	}
	h.do(args...)
	seen := map[string]bool{}
	for _, e := range h.do("SRANDMEMBER", "big", "-2000").Elems {
		seen[string(e.Str)] = true
	}
	if len(seen) < 400 {
		t.Fatalf("2000 picks hit only %d distinct members of 2000", len(seen))
	}
}

// collVersion returns the collection version of key, of type typ.
func collVersion(t *testing.T, h *harness, key string, typ keyspace.Type) uint64 {
	t.Helper()
	tx := keyspace.NewReadTxn(h.db, h.now, h.counts)
	defer tx.Close()
	c, err := tx.LookupCollection([]byte(key), typ)
	if err != nil || c == nil {
		t.Fatalf("set %s: %v, %v", key, c, err)
	}
	return c.Meta.Version
}

// A big set drained to half its peak is repacked under a new version: the old span is gone,
// and members and SPOP's picks (seeded by the entry) are those of a set that never held the
// popped members.
func TestSetDrainedToHalfIsRepackedWithSamePicks(t *testing.T) {
	drained, fresh := newHarness(t), newHarness(t)
	all, kept := []string{"SADD", "s"}, []string{"SADD", "s"}
	srem := []string{"SREM", "s"}
	for i := range 2000 {
		m := fmt.Sprintf("m%04d", i)
		all = append(all, m)
		if i < 1200 {
			srem = append(srem, m)
		} else {
			kept = append(kept, m)
		}
	}
	drained.do(all...)
	before := collVersion(t, drained, "s", keyspace.TypeSet)
	drained.expect(":1200", srem...)
	if collVersion(t, drained, "s", keyspace.TypeSet) == before {
		t.Fatal("a set drained from 2000 to 800 members kept its version: it was not repacked")
	}
	drained.expect(":1", "SREM", "s", "m1999") // far from the next halving: no second repack
	fresh.do(kept...)
	fresh.expect(":1", "SREM", "s", "m1999")
	fresh.index = drained.index // the same entry index seeds the same picks
	for _, args := range [][]string{{"SPOP", "s", "7"}, {"SPOP", "s"}, {"SCARD", "s"}, {"SMEMBERS", "s"}} {
		if a, b := drained.do(args...).String(), fresh.do(args...).String(); a != b {
			t.Fatalf("%q on the repacked set = %s, on a fresh set with the same members = %s", args, a, b)
		}
	}
}
