package command

import (
	"strconv"
	"testing"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// TestListCommands checks replies and error texts against what redis-server 7.0.15 answers
// for the same sequence (recorded with redis-cli).
func TestListCommands(t *testing.T) {
	h := newHarness(t)
	wrong := "-WRONGTYPE Operation against a key holding the wrong kind of value"
	for _, c := range []struct {
		want string
		args []string
	}{
		{":4", []string{"RPUSH", "l", "a", "b", "c", "d"}},
		{`"d"`, []string{"LINDEX", "l", "-1"}},
		{"(nil)", []string{"LINDEX", "l", "10"}},
		{"-ERR index out of range", []string{"LSET", "l", "10", "x"}},
		{"-ERR no such key", []string{"LSET", "nokey", "0", "x"}},
		{"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list", []string{"LPOS", "l", "b", "RANK", "0"}},
		{"-ERR COUNT can't be negative", []string{"LPOS", "l", "b", "COUNT", "-1"}},
		{"-ERR MAXLEN can't be negative", []string{"LPOS", "l", "b", "MAXLEN", "-1"}},
		{"-ERR value is out of range, must be positive", []string{"LPOP", "l", "-1"}},
		{"[]", []string{"LPOP", "l", "0"}},
		{"-ERR syntax error", []string{"LINSERT", "l", "middle", "a", "x"}},
		{`["b" "c"]`, []string{"LRANGE", "l", "1", "-2"}},
		{"+OK", []string{"SET", "s", "x"}},
		{wrong, []string{"LLEN", "s"}},
		{wrong, []string{"RPUSH", "s", "x"}},
		{"-ERR numkeys should be greater than 0", []string{"LMPOP", "0", "l", "LEFT"}},
		{"-ERR count should be greater than 0", []string{"LMPOP", "1", "l", "LEFT", "COUNT", "0"}},
		{`["l" ["a" "b"]]`, []string{"LMPOP", "1", "l", "LEFT", "COUNT", "2"}},
		{"-ERR value is not an integer or out of range", []string{"LTRIM", "l", "0", "x"}},
		{"-ERR value is not an integer or out of range", []string{"LREM", "l", "x", "a"}},
		{":-1", []string{"LINSERT", "l", "before", "zz", "x"}},
		{"-ERR syntax error", []string{"LMOVE", "l", "l", "up", "left"}},
		{`"d"`, []string{"LMOVE", "l", "l", "RIGHT", "LEFT"}},
		{`["d" "c"]`, []string{"LRANGE", "l", "0", "-1"}},
		{`["c" "d"]`, []string{"RPOP", "l", "5"}},
		{":0", []string{"EXISTS", "l"}},
	} {
		h.expect(c.want, c.args...)
	}
}

// TestListEndsOfBigList checks that indexes near both ends of a long list address the right
// elements (positions are computed, not scanned).
func TestListEndsOfBigList(t *testing.T) {
	h := newHarness(t)
	const n = 10_000
	args := []string{"RPUSH", "big"}
	for i := range n {
		args = append(args, strconv.Itoa(i))
	}
	h.expect(":"+strconv.Itoa(n), args...)
	h.expect(`"0"`, "LINDEX", "big", "0")
	h.expect(`"9999"`, "LINDEX", "big", "-1")
	h.expect(`["9997" "9998" "9999"]`, "LRANGE", "big", "-3", "-1")
	h.expect(`["0" "1"]`, "LRANGE", "big", "0", "1")
	h.expect("+OK", "LSET", "big", "-2", "x")
	h.expect(`"x"`, "LINDEX", "big", "9998")
	h.expect(":10001", "LPUSH", "big", "head")
	h.expect(`"head"`, "LINDEX", "big", "0")
	h.expect(`"x"`, "LINDEX", "big", "-2")
}

// A range of streamMin elements or more is streamed from a snapshot: the reply still holds
// every element in order, and a write after the command returned is not in it.
func TestListLrangeStreamsBigRanges(t *testing.T) {
	h := newHarness(t)
	const n = streamMin + 500
	args := []string{"RPUSH", "big"}
	for i := range n {
		args = append(args, strconv.Itoa(i))
	}
	h.do(args...)
	for _, r := range [][2]int{{0, n - 1}, {3, n - 2}, {100, 100 + streamMin - 1}} {
		v := h.do("LRANGE", "big", strconv.Itoa(r[0]), strconv.Itoa(r[1]))
		if len(v.Elems) != r[1]-r[0]+1 {
			t.Fatalf("LRANGE %d %d: %d elements, want %d", r[0], r[1], len(v.Elems), r[1]-r[0]+1)
		}
		for i, e := range v.Elems {
			if want := strconv.Itoa(r[0] + i); string(e.Str) != want {
				t.Fatalf("LRANGE %d %d: element %d = %q, want %q", r[0], r[1], i, e.Str, want)
			}
		}
	}
}

func TestListStreamedRangeReadsItsSnapshot(t *testing.T) {
	h := newHarness(t)
	args := []string{"RPUSH", "big"}
	for i := range streamMin {
		args = append(args, strconv.Itoa(i))
	}
	h.do(args...)
	tx := keyspace.NewReadTxn(h.db, h.now, h.counts)
	v := listLrangeCmd(tx, [][]byte{[]byte("LRANGE"), []byte("big"), []byte("0"), []byte("-1")})
	tx.Close()
	if v.Kind != reply.KindStream {
		t.Fatalf("LRANGE of %d elements replied %s, want a stream", streamMin, v)
	}
	h.do("LSET", "big", "0", "changed")
	h.do("DEL", "big")
	m, err := reply.Materialize(v)
	if err != nil {
		t.Fatalf("reading the stream after the list was deleted: %v", err)
	}
	if len(m.Elems) != streamMin || string(m.Elems[0].Str) != "0" {
		t.Fatalf("stream saw later writes: %d elements, first %q", len(m.Elems), m.Elems[0].Str)
	}
}
