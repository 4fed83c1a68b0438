package command

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// TestHashCommands checks replies and error texts against what redis-server 7.0.15 answers
// for the same sequence (recorded with redis-cli; field order is byte order here).
func TestHashCommands(t *testing.T) {
	h := newHarness(t)
	wrong := "-WRONGTYPE Operation against a key holding the wrong kind of value"
	for _, c := range []struct {
		want string
		args []string
	}{
		{":2", []string{"HSET", "h", "b", "2", "a", "1"}},
		{":0", []string{"HSET", "h", "a", "one"}},
		{"-ERR wrong number of arguments for 'hset' command", []string{"HSET", "h", "a"}},
		{"-ERR wrong number of arguments for 'hmset' command", []string{"HMSET", "h", "a", "1", "b"}},
		{"+OK", []string{"HMSET", "h", "c", "3"}},
		{`"one"`, []string{"HGET", "h", "a"}},
		{"(nil)", []string{"HGET", "h", "zz"}},
		{"(nil)", []string{"HGET", "nokey", "a"}},
		{`["one" (nil) "3"]`, []string{"HMGET", "h", "a", "zz", "c"}},
		{`[(nil) (nil)]`, []string{"HMGET", "nokey", "a", "b"}},
		{":0", []string{"HSETNX", "h", "a", "x"}},
		{":1", []string{"HSETNX", "h", "d", "4"}},
		{":4", []string{"HLEN", "h"}},
		{":3", []string{"HSTRLEN", "h", "a"}},
		{":0", []string{"HSTRLEN", "h", "zz"}},
		{":1", []string{"HEXISTS", "h", "a"}},
		{":0", []string{"HEXISTS", "h", "zz"}},
		{`["a" "b" "c" "d"]`, []string{"HKEYS", "h"}},
		{`["one" "2" "3" "4"]`, []string{"HVALS", "h"}},
		{`["a" "one" "b" "2" "c" "3" "d" "4"]`, []string{"HGETALL", "h"}},
		{"[]", []string{"HGETALL", "nokey"}},
		{":2", []string{"HDEL", "h", "c", "d", "zz"}},
		{":0", []string{"HDEL", "h", "zz"}},
		{":12", []string{"HINCRBY", "h", "b", "10"}},
		{":-5", []string{"HINCRBY", "h", "n", "-5"}},
		{"-ERR hash value is not an integer", []string{"HINCRBY", "h", "a", "1"}},
		{"-ERR value is not an integer or out of range", []string{"HINCRBY", "h", "b", "x"}},
		{"-ERR increment or decrement would overflow", []string{"HINCRBY", "h", "b", "9223372036854775807"}},
		{`"12.5"`, []string{"HINCRBYFLOAT", "h", "b", "0.5"}},
		{`"1.5"`, []string{"HINCRBYFLOAT", "h", "f", "1.5"}},
		{"-ERR hash value is not a float", []string{"HINCRBYFLOAT", "h", "a", "1"}},
		{"-ERR value is not a valid float", []string{"HINCRBYFLOAT", "h", "b", "x"}},
		{"-ERR value is NaN or Infinity", []string{"HINCRBYFLOAT", "h", "b", "inf"}},
		{"-ERR value is not an integer or out of range", []string{"HRANDFIELD", "h", "x"}},
		{"-ERR syntax error", []string{"HRANDFIELD", "h", "1", "withvalue"}},
		{"-ERR value is out of range", []string{"HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"}},
		{"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807", []string{"HRANDFIELD", "h", "-9223372036854775808"}},
		{"(nil)", []string{"HRANDFIELD", "nokey"}},
		{"[]", []string{"HRANDFIELD", "nokey", "3"}},
		{"[]", []string{"HRANDFIELD", "h", "0"}},
		{`["a" "one" "b" "12.5" "f" "1.5" "n" "-5"]`, []string{"HRANDFIELD", "h", "10", "WITHVALUES"}},
		{`["0" ["a" "one" "b" "12.5" "f" "1.5" "n" "-5"]]`, []string{"HSCAN", "h", "0"}},
		{`["0" ["b" "12.5"]]`, []string{"HSCAN", "h", "0", "MATCH", "b*", "COUNT", "1"}},
		{"-ERR invalid cursor", []string{"HSCAN", "h", "x"}},
		{"-ERR syntax error", []string{"HSCAN", "h", "0", "COUNT", "0"}},
		{"-ERR value is not an integer or out of range", []string{"HSCAN", "h", "0", "COUNT", "x"}},
		{"-ERR syntax error", []string{"HSCAN", "h", "0", "foo"}},
		{`["0" []]`, []string{"HSCAN", "nokey", "0", "COUNT", "0"}},
		{"+hash", []string{"TYPE", "h"}},
		{`"listpack"`, []string{"OBJECT", "ENCODING", "h"}},
		{"+OK", []string{"SET", "s", "x"}},
		{wrong, []string{"HGET", "s", "a"}},
		{wrong, []string{"HSET", "s", "a", "1"}},
		{wrong, []string{"HGETALL", "s"}},
		{wrong, []string{"HSCAN", "s", "0"}},
		{wrong, []string{"HRANDFIELD", "s"}},
		{":4", []string{"HDEL", "h", "a", "b", "f", "n"}},
		{":0", []string{"EXISTS", "h"}},
	} {
		h.expect(c.want, c.args...)
	}
}

func TestHashEncodingConverts(t *testing.T) {
	h := newHarness(t)
	args := []string{"HSET", "many"}
	for i := range hashMaxListpackEntries {
		args = append(args, "f"+strconv.Itoa(i), "v")
	}
	h.do(args...)
	h.expect(`"listpack"`, "OBJECT", "ENCODING", "many")
	h.do("HSET", "many", "one-more", "v")
	h.expect(`"hashtable"`, "OBJECT", "ENCODING", "many")
	h.do("HDEL", "many", "one-more", "f1", "f2")
	h.expect(`"hashtable"`, "OBJECT", "ENCODING", "many") // never converted back

	h.do("HSET", "long", "f", strings.Repeat("v", hashMaxListpackValue))
	h.expect(`"listpack"`, "OBJECT", "ENCODING", "long")
	h.do("HSET", "long", "g", strings.Repeat("v", hashMaxListpackValue+1))
	h.expect(`"hashtable"`, "OBJECT", "ENCODING", "long")
}

// A full HSCAN of a big hash returns every field exactly once, whatever COUNT, also when
// many fields share a long prefix.
func TestHashScanBigHashReturnsEveryFieldOnce(t *testing.T) {
	h := newHarness(t)
	const n = 1000
	args := []string{"HSET", "big"}
	for i := range n {
		f := "field:" + strconv.Itoa(i)
		if i%3 == 0 {
			f = "sharedprefix-" + strconv.Itoa(i) // 13-byte common prefix
		}
		args = append(args, f, "v")
	}
	h.do(args...)
	for _, count := range []string{"1", "7", "100", "5000"} {
		seen := map[string]int{}
		cursor := "0"
		for calls := 0; ; calls++ {
			if calls > 2*n {
				t.Fatalf("COUNT %s: the iteration does not end", count)
			}
			v := h.do("HSCAN", "big", cursor, "COUNT", count)
			cursor = string(v.Elems[0].Str)
			for i := 0; i < len(v.Elems[1].Elems); i += 2 {
				seen[string(v.Elems[1].Elems[i].Str)]++
			}
			if cursor == "0" {
				break
			}
		}
		if len(seen) != n {
			t.Fatalf("COUNT %s: %d distinct fields, want %d", count, len(seen), n)
		}
		for f, k := range seen {
			if k != 1 {
				t.Fatalf("COUNT %s: field %s returned %d times", count, f, k)
			}
		}
	}
}

func TestHashRandfieldBigHash(t *testing.T) {
	h := newHarness(t)
	args := []string{"HSET", "big"}
	for i := range 500 {
		args = append(args, "f"+strconv.Itoa(i), strconv.Itoa(i))
	}
	h.do(args...)
	v := h.do("HRANDFIELD", "big", "300")
	seen := map[string]bool{}
	for _, e := range v.Elems {
		if seen[string(e.Str)] {
			t.Fatalf("HRANDFIELD 300 repeated %s", e.Str)
		}
		seen[string(e.Str)] = true
	}
	if len(seen) != 300 {
		t.Fatalf("HRANDFIELD 300 returned %d fields", len(seen))
	}
	if v := h.do("HRANDFIELD", "big", "-1000", "WITHVALUES"); len(v.Elems) != 2000 {
		t.Fatalf("HRANDFIELD -1000 WITHVALUES returned %d elements, want 2000", len(v.Elems))
	}
	if v := h.do("HRANDFIELD", "big"); v.Kind != reply.KindBulk || !seenField(v.Str) {
		t.Fatalf("HRANDFIELD of a big hash = %s", v)
	}
}

func seenField(f []byte) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(string(f), "f"))
	return err == nil && n >= 0 && n < 500
}

// A big hash drained by HDEL to half its peak is repacked too, with the same fields after.
func TestHashDrainedToHalfIsRepacked(t *testing.T) {
	h := newHarness(t)
	hset, hdel := []string{"HSET", "h"}, []string{"HDEL", "h"}
	for i := range 1000 {
		f := fmt.Sprintf("f%04d", i)
		hset = append(hset, f, "v"+f)
		if i%3 != 0 {
			hdel = append(hdel, f)
		}
	}
	h.do(hset...)
	before := collVersion(t, h, "h", keyspace.TypeHash)
	h.expect(":666", hdel...)
	if collVersion(t, h, "h", keyspace.TypeHash) == before {
		t.Fatal("a hash drained from 1000 to 334 fields kept its version: it was not repacked")
	}
	h.expect(":334", "HLEN", "h")
	h.expect(`"vf0999"`, "HGET", "h", "f0999")
	h.expect("(nil)", "HGET", "h", "f0998")
	if got := h.do("HKEYS", "h"); len(got.Elems) != 334 || string(got.Elems[0].Str) != "f0000" || string(got.Elems[333].Str) != "f0999" {
		t.Fatalf("HKEYS after the repack = %d fields (%v…)", len(got.Elems), got.Elems[:min(2, len(got.Elems))])
	}
}
