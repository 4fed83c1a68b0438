package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// applyIn applies one entry of payloads as the shard does, in reply mode mode (through Apply
// for ReplyWhole, ApplyReplying otherwise), and returns the raw results once the batch is
// committed and published.
func (r *replica) applyIn(t *testing.T, mode keyspace.ReplyMode, index uint64, payloads ...[]byte) []reply.Value {
	t.Helper()
	b := r.db.NewIndexedBatch()
	out := make([]reply.Value, len(payloads))
	for i, p := range payloads {
		var res any
		switch mode {
		case keyspace.ReplyWhole:
			res = r.n.Apply(b, index, p)
		default:
			res = r.n.ApplyReplying(b, index, p, mode == keyspace.ReplyStreamed)
		}
		out[i] = res.(reply.Value)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	r.n.BatchCommitted(b)
	_ = b.Close()
	return out
}

func cmdPayload(args ...string) []byte {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return encodePayload(kindCommand, startMs, bs)
}

// bigSetPayload is SADD key m00000 … of n members: past streamMin and the compact encodings.
func bigSetPayload(key string, n int) []byte {
	args := []string{"sadd", key}
	for i := range n {
		args = append(args, fmt.Sprintf("m%05d", i))
	}
	return cmdPayload(args...)
}

// materialize renders v's elements (streamed or not) as strings.
func materialize(t *testing.T, v reply.Value) []string {
	t.Helper()
	m, err := reply.Materialize(v)
	if err != nil {
		t.Fatalf("materialize: %v", err)
	}
	out := make([]string, len(m.Elems))
	for i, e := range m.Elems {
		out[i] = string(e.Str)
	}
	return out
}

// SPOP of a whole big set: a replica whose reply is read gets a stream that still reads every
// member after the deletion committed, one whose reply is dropped reads none, and all of them
// write the same data as a reply built whole.
func TestPopWholeSetSameDataInEveryReplyMode(t *testing.T) {
	const members = 5000
	modes := []keyspace.ReplyMode{keyspace.ReplyWhole, keyspace.ReplyStreamed, keyspace.ReplyDropped}
	replicas := make([]*replica, len(modes))
	var pops []reply.Value
	for i, mode := range modes {
		r := newReplica(t)
		replicas[i] = r
		r.applyIn(t, mode, 11, bigSetPayload("big", members))
		pops = append(pops, r.applyIn(t, mode, 12, cmdPayload("spop", "big", "100000"))[0])
	}
	if pops[1].Kind != reply.KindStream {
		t.Fatalf("streamed SPOP of %d members replied kind %v, want a stream", members, pops[1].Kind)
	}
	whole, streamed := materialize(t, pops[0]), materialize(t, pops[1])
	if len(whole) != members || fmt.Sprint(whole) != fmt.Sprint(streamed) {
		t.Fatalf("SPOP replies differ: whole %d members, streamed %d (first %v / %v)", len(whole), len(streamed), whole[:1], streamed[:min(1, len(streamed))])
	}
	want := dumpData(t, replicas[0].db)
	for i, r := range replicas[1:] {
		if got := dumpData(t, r.db); !bytes.Equal(got, want) {
			t.Errorf("replica in mode %d wrote other data than the whole-reply one: %s", modes[i+1], firstDiff(want, got))
		}
		tx := keyspace.NewReadTxn(r.db, startMs, r.n.counts)
		c, err := tx.LookupCollection([]byte("big"), keyspace.TypeSet)
		tx.Close()
		if err != nil || c != nil {
			t.Errorf("replica in mode %d: the set survived SPOP of all its members (%v, %v)", modes[i+1], c, err)
		}
	}
}

// A set changed earlier in the same batch is not what a snapshot of the DB holds: the reply is
// built whole from the batch's view and includes that change.
func TestPopWholeSetChangedInSameBatchIsBuiltWhole(t *testing.T) {
	r := newReplica(t)
	r.applyIn(t, keyspace.ReplyStreamed, 11, bigSetPayload("big", 5000))
	res := r.applyIn(t, keyspace.ReplyStreamed, 12, cmdPayload("sadd", "big", "extra"), cmdPayload("spop", "big", "100000"))
	if res[1].Kind == reply.KindStream {
		t.Fatal("SPOP after an SADD of the same batch was streamed from a snapshot without that SADD")
	}
	got := materialize(t, res[1])
	if len(got) != 5001 || !bytes.Contains([]byte(fmt.Sprint(got)), []byte("extra")) {
		t.Fatalf("SPOP after SADD in one batch = %d members (want 5001 with extra)", len(got))
	}
}

// closeCounter is a stream that records whether it was closed.
type closeCounter struct{ closed int }

func (s *closeCounter) Len() int                         { return 0 }
func (s *closeCounter) Next() (reply.Value, bool, error) { return reply.Value{}, false, nil }
func (s *closeCounter) Close()                           { s.closed++ }

// A write whose waiter gave up (timeout) releases the stream answered afterwards; one answered
// first is still handed to a waiter that gives up too late.
func TestAbandonedPendingReleasesLateStream(t *testing.T) {
	timeout := reply.Err("TRYAGAIN timed out")

	p := newPending()
	if v := p.abandon(timeout); v.Kind != timeout.Kind || string(v.Str) != string(timeout.Str) {
		t.Fatalf("abandon of an open pending = %v, want the timeout reply", v)
	}
	late := &closeCounter{}
	p.answer(reply.StreamArray(late))
	if late.closed != 1 {
		t.Fatalf("a stream answered after its waiter gave up was closed %d times, want 1", late.closed)
	}

	p = newPending()
	early := &closeCounter{}
	p.answer(reply.StreamArray(early))
	if v := p.abandon(timeout); v.Kind != reply.KindStream || early.closed != 0 {
		t.Fatalf("abandon after the answer = kind %v (closed %d), want the answered stream, open", v.Kind, early.closed)
	}
}

// wait gives up after the write timeout, and a second wait on the same pending (a read of
// the same segment, then the write's own reply) does not block again.
func TestWaitAbandonsOnce(t *testing.T) {
	n := &Node{}
	n.cfg.WriteTimeout = 20 * time.Millisecond
	p := newPending()
	start := time.Now()
	first := n.wait(context.Background(), p)
	second := n.wait(context.Background(), p)
	if !first.IsError() || !second.IsError() {
		t.Fatalf("wait on a write never answered = %v, %v; want timeout errors", first, second)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("two waits took %v; the second should not wait again", d)
	}
	s := &closeCounter{}
	p.answer(reply.StreamArray(s))
	if s.closed != 1 {
		t.Fatalf("the late answer's stream was closed %d times, want 1", s.closed)
	}
}

// bigListPayload is RPUSH key e00000 … of n elements.
func bigListPayload(key string, n int) []byte {
	args := []string{"rpush", key}
	for i := range n {
		args = append(args, fmt.Sprintf("e%05d", i))
	}
	return cmdPayload(args...)
}

// Pops of thousands of list elements are one range deletion and a streamed reply: every reply
// mode writes the same data, and the streamed replies hold the elements in pop order.
func TestPopManyListElementsSameDataInEveryReplyMode(t *testing.T) {
	const elems = 15000
	pops := []struct {
		args  []string
		first string // the first element of the popped array
		count int
	}{
		{[]string{"lpop", "l", "5000"}, "e00000", 5000},
		{[]string{"rpop", "l", "4500"}, "e14999", 4500},
		{[]string{"lmpop", "1", "l", "left", "count", "100000"}, "e05000", 5500},
	}
	modes := []keyspace.ReplyMode{keyspace.ReplyWhole, keyspace.ReplyStreamed, keyspace.ReplyDropped}
	replicas := make([]*replica, len(modes))
	for i, mode := range modes {
		replicas[i] = newReplica(t)
		replicas[i].applyIn(t, mode, 11, bigListPayload("l", elems))
	}
	for j, pop := range pops {
		var replies [][]string
		for i, mode := range modes[:2] {
			v := replicas[i].applyIn(t, mode, uint64(12+j), cmdPayload(pop.args...))[0]
			if pop.args[0] == "lmpop" {
				if len(v.Elems) != 2 {
					t.Fatalf("%v = %v, want [key, elements]", pop.args, v)
				}
				v = v.Elems[1]
			}
			if mode == keyspace.ReplyStreamed && v.Kind != reply.KindStream {
				t.Errorf("%v in streamed mode replied kind %v, want a stream", pop.args, v.Kind)
			}
			replies = append(replies, materialize(t, v))
		}
		replicas[2].applyIn(t, keyspace.ReplyDropped, uint64(12+j), cmdPayload(pop.args...))
		if len(replies[0]) != pop.count || replies[0][0] != pop.first || fmt.Sprint(replies[0]) != fmt.Sprint(replies[1]) {
			t.Fatalf("%v: whole reply %d elements from %q, streamed %d; want %d from %q, equal",
				pop.args, len(replies[0]), replies[0][0], len(replies[1]), pop.count, pop.first)
		}
		want := dumpData(t, replicas[0].db)
		for i, r := range replicas[1:] {
			if got := dumpData(t, r.db); !bytes.Equal(got, want) {
				t.Fatalf("after %v the replica in mode %d holds other data: %s", pop.args, modes[i+1], firstDiff(want, got))
			}
		}
	}
	tx := keyspace.NewReadTxn(replicas[0].db, startMs, replicas[0].n.counts)
	defer tx.Close()
	if c, err := tx.LookupCollection([]byte("l"), keyspace.TypeList); err != nil || c != nil {
		t.Errorf("the list survived popping all its elements: %v, %v", c, err)
	}
}

// ZPOPMAX/ZMPOP of a whole big sorted set: the same data in every reply mode, and the same
// reply streamed as built whole.
func TestPopWholeZsetSameDataInEveryReplyMode(t *testing.T) {
	zadd := []string{"zadd", "z"}
	for i := range 5000 {
		zadd = append(zadd, fmt.Sprint(i%97), fmt.Sprintf("z%05d", i))
	}
	for _, pop := range [][]string{{"zpopmax", "z", "100000"}, {"zmpop", "1", "z", "min", "count", "5000"}} {
		modes := []keyspace.ReplyMode{keyspace.ReplyWhole, keyspace.ReplyStreamed, keyspace.ReplyDropped}
		var dumps [][]byte
		var replies []string
		for _, mode := range modes {
			r := newReplica(t)
			r.applyIn(t, mode, 11, cmdPayload(zadd...))
			v := r.applyIn(t, mode, 12, cmdPayload(pop...))[0]
			if pop[0] == "zmpop" && mode != keyspace.ReplyDropped {
				v = v.Elems[1]
			}
			if mode == keyspace.ReplyStreamed && v.Kind != reply.KindStream {
				t.Errorf("%v in streamed mode replied kind %v, want a stream", pop, v.Kind)
			}
			m, err := reply.Materialize(v)
			if err != nil {
				t.Fatalf("%v: %v", pop, err)
			}
			replies = append(replies, fmt.Sprint(m.Kind, len(m.Elems), m.Elems))
			dumps = append(dumps, dumpData(t, r.db))
		}
		if replies[0] != replies[1] || len(replies[0]) < 5000 {
			t.Errorf("%v: the streamed reply differs from the whole one (%.80s… / %.80s…)", pop, replies[1], replies[0])
		}
		for i := 1; i < len(modes); i++ {
			if !bytes.Equal(dumps[i], dumps[0]) {
				t.Errorf("%v: the replica in mode %d holds other data: %s", pop, modes[i], firstDiff(dumps[0], dumps[i]))
			}
		}
	}
}
