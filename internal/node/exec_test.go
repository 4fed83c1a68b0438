package node

import (
	"fmt"
	"testing"

	"ferricd/internal/routing"
)

// TestExecPipelineObservesOwnWrites: in one segment, reads see the writes sent before them
// (on the same and on other shards), and every reply lands at its command's index.
func TestExecPipelineObservesOwnWrites(t *testing.T) {
	tn := newTestNode(t, nil)
	a, b := keyOnShard(t, 1, "a"), keyOnShard(t, 3, "b")
	cmds := []struct {
		args []string
		want string
	}{
		{[]string{"set", a, "1"}, "+OK"},
		{[]string{"get", a}, `"1"`},
		{[]string{"incr", a}, ":2"},
		{[]string{"get", a}, `"2"`},
		{[]string{"set", b, "x"}, "+OK"},
		{[]string{"append", b, "y"}, ":2"},
		{[]string{"get", b}, `"xy"`},
		{[]string{"mget", a, b, "nosuchkey"}, `["2" "xy" (nil)]`},
		{[]string{"exists", a, b}, ":2"},
		{[]string{"del", a}, ":1"},
		{[]string{"get", a}, "(nil)"},
		{[]string{"incrby", a, "10"}, ":10"},
		{[]string{"strlen", b}, ":2"},
		{[]string{"dbsize"}, ":2"},
		{[]string{"getdel", b}, `"xy"`},
		{[]string{"type", b}, "+none"},
		{[]string{"get", a}, `"10"`},
	}
	for round := range 5 {
		var segment [][]string
		for _, c := range cmds {
			segment = append(segment, c.args)
		}
		out := tn.exec(segment...)
		for i, c := range cmds {
			if got := out[i].String(); got != c.want {
				t.Errorf("round %d, reply %d to %q = %s, want %s", round, i, c.args, got, c.want)
			}
		}
		tn.exec([]string{"del", a}, []string{"del", b})
	}
}

// TestExecWritesToEveryShard: one segment writing keys owned by every shard completes every
// write, and each shard applies its own.
func TestExecWritesToEveryShard(t *testing.T) {
	tn := newTestNode(t, nil)
	before := tn.n.Shards()
	var segment [][]string
	perShard := map[uint64]int{}
	for i := range 200 {
		k := fmt.Sprintf("key:%d", i)
		perShard[shardOf(t, k)]++
		segment = append(segment, []string{"set", k, fmt.Sprint(i)})
	}
	for i, v := range tn.exec(segment...) {
		if v.String() != "+OK" {
			t.Errorf("reply %d to %q = %s, want +OK", i, segment[i], v)
		}
	}
	if len(perShard) != testShards {
		t.Fatalf("test bug: the keys cover %d shards, want %d", len(perShard), testShards)
	}
	for i, st := range tn.n.Shards() {
		if st.Applied <= before[i].Applied {
			t.Errorf("shard %d applied index stayed at %d after %d writes to it", st.ShardID, st.Applied, perShard[st.ShardID])
		}
	}
	var reads [][]string
	for i := range 200 {
		reads = append(reads, []string{"get", fmt.Sprintf("key:%d", i)})
	}
	for i, v := range tn.exec(reads...) {
		if want := fmt.Sprintf("%q", fmt.Sprint(i)); v.String() != want {
			t.Errorf("GET key:%d = %s, want %s", i, v, want)
		}
	}
	if n := tn.dbsize(); n != 200 {
		t.Errorf("DBSIZE = %d, want 200", n)
	}
}

// TestExecCrossShard: a write whose keys live on several shards is refused with CROSSSLOT and
// changes nothing; keys sharing a hash tag (or a shard) write fine; a read across shards works.
func TestExecCrossShard(t *testing.T) {
	tn := newTestNode(t, nil)
	a, b := keyOnShard(t, 1, "a"), keyOnShard(t, 2, "b")
	a2 := keyOnShard(t, 1, "other") // same shard as a, another slot
	if routing.Slot([]byte(a)) == routing.Slot([]byte(a2)) {
		t.Fatalf("test bug: %q and %q share a slot", a, a2)
	}
	const crossSlot = "-CROSSSLOT Keys in request don't hash to the same slot"
	tn.expect("+OK", "set", a, "va")
	tn.expect("+OK", "set", b, "vb")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mset", a, "1", b, "2"}, crossSlot},
		{[]string{"msetnx", a, "1", b, "2"}, crossSlot},
		{[]string{"del", a, b}, crossSlot},
		{[]string{"unlink", b, a}, crossSlot},
		{[]string{"rename", a, b}, crossSlot},
		{[]string{"copy", a, b}, crossSlot},
		{[]string{"mset", "{tag}x", "1", "{tag}y", "2"}, "+OK"},
		{[]string{"mget", "{tag}x", "{tag}y"}, `["1" "2"]`},
		{[]string{"mset", a, "3", a2, "4"}, "+OK"},
		{[]string{"mget", a, b, a2}, `["3" "vb" "4"]`},
		{[]string{"exists", a, b, a2, "{tag}x"}, ":4"},
		{[]string{"get", b}, `"vb"`},
	} {
		if got := tn.do(c.args...).String(); got != c.want {
			t.Errorf("%q = %s, want %s", c.args, got, c.want)
		}
	}
	// The refused commands must not have written anything.
	if n := tn.dbsize(); n != 5 {
		t.Errorf("DBSIZE = %d after the refused writes, want 5", n)
	}
}

// TestExecValidateErrorsNotProposed: syntax errors found by Validate are answered at once and
// cost no raft entry.
func TestExecValidateErrorsNotProposed(t *testing.T) {
	tn := newTestNode(t, nil)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "k", "v", "EX", "abc"}, "-ERR value is not an integer or out of range"},
		{[]string{"set", "k", "v", "EX", "0"}, "-ERR invalid expire time in 'set' command"},
		{[]string{"set", "k", "v", "NX", "XX"}, "-ERR syntax error"},
		{[]string{"setex", "k", "-1", "v"}, "-ERR invalid expire time in 'setex' command"},
		{[]string{"expire", "k", "soon"}, "-ERR value is not an integer or out of range"},
		{[]string{"incrby", "k", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"mset", "k", "v", "k2"}, "-ERR wrong number of arguments for 'mset' command"},
	} {
		tn.waitSettled()
		before := tn.n.Shards()
		out := tn.exec(c.args, []string{"exists", "k"})
		if got := out[0].String(); got != c.want {
			t.Errorf("%q = %s, want %s", c.args, got, c.want)
		}
		if got := out[1].String(); got != ":0" {
			t.Errorf("after %q, EXISTS k = %s, want :0", c.args, got)
		}
		for i, st := range tn.n.Shards() {
			if st.LastIndex != before[i].LastIndex {
				t.Errorf("%q: shard %d log grew from %d to %d; a refused command must not be proposed",
					c.args, st.ShardID, before[i].LastIndex, st.LastIndex)
			}
		}
	}
}

// TestExecConnCommandRefused: a connection command reaching Exec gets an error at its index and
// does not disturb its neighbours.
func TestExecConnCommandRefused(t *testing.T) {
	tn := newTestNode(t, nil)
	out := tn.exec([]string{"set", "k", "v"}, []string{"ping"}, []string{"get", "k"})
	want := []string{"+OK", "-ERR command not allowed here", `"v"`}
	for i, w := range want {
		if got := out[i].String(); got != w {
			t.Errorf("reply %d = %s, want %s", i, got, w)
		}
	}
}
