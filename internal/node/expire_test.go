package node

import (
	"fmt"
	"testing"
	"time"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// waitFor polls cond until it holds or the test timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestActiveExpiry: once the clock passes their deadline, keys are deleted by the expiry cycle
// without anyone touching them (more than one proposal's worth on a shard); keys whose TTL was
// extended or removed before the deadline stay.
func TestActiveExpiry(t *testing.T) {
	tn := newTestNode(t, func(c *Config) { c.ExpiryInterval = 5 * time.Millisecond })
	const dying = 2*expiryBatch + 50
	var segment [][]string
	for i := range dying {
		segment = append(segment, []string{"set", fmt.Sprintf("dying:%d", i), "v", "PX", "1000"})
	}
	// Most of them on one shard, to need several expiry proposals there.
	for i := range expiryBatch {
		segment = append(segment, []string{"set", fmt.Sprintf("{hot}:%d", i), "v", "PX", "1000"})
	}
	segment = append(segment,
		[]string{"set", "extended", "v", "PX", "1000"},
		[]string{"pexpire", "extended", "1000000"},
		[]string{"set", "persisted", "v", "PX", "1000"},
		[]string{"persist", "persisted"},
		[]string{"set", "plain", "v"},
	)
	for i, v := range tn.exec(segment...) {
		if v.IsError() {
			t.Fatalf("%q = %s", segment[i], v)
		}
	}
	total := int64(dying + expiryBatch + 3)
	if n := tn.dbsize(); n != total {
		t.Fatalf("DBSIZE = %d before the deadline, want %d", n, total)
	}
	// Several cycles before the deadline delete nothing.
	time.Sleep(50 * time.Millisecond)
	if n := tn.dbsize(); n != total {
		t.Fatalf("DBSIZE = %d before any deadline passed, want %d", n, total)
	}
	tn.clock.advance(2 * time.Second)
	all := routing.Range{Start: 0, End: routing.NumSlots}
	// Both the counters and the expiry index must show the deletions.
	waitFor(t, "the expiry cycle to delete the expired keys", func() bool {
		due, err := keyspace.DueExpiries(tn.db, all, tn.clock.ms.Load(), 1000)
		return err == nil && len(due) == 0 && tn.dbsize() == 3
	})
	for _, k := range []string{"extended", "persisted", "plain"} {
		tn.expect(`"v"`, "get", k)
	}
	if e := tn.n.Counts().Expires(all); e != 1 {
		t.Errorf("expiring-key counter = %d after the cycle, want 1 (extended)", e)
	}
	if due, err := keyspace.DueExpiries(tn.db, all, tn.clock.ms.Load(), 1000); err != nil || len(due) != 0 {
		t.Errorf("expiry index still lists %d due keys after the cycle (err %v)", len(due), err)
	}
}

// TestExpiryProposalRechecksDeadline: an expiry proposal names keys that were due when it was
// built; apply deletes only those still due at the proposal's stamped time, so a key whose TTL
// changed in between survives.
func TestExpiryProposalRechecksDeadline(t *testing.T) {
	tn := newTestNode(t, func(c *Config) { c.ExpiryInterval = time.Hour })
	k := keyOnShard(t, 2, "k")
	dead := keyOnShard(t, 2, "dead")
	tn.expect("+OK", "set", k, "v", "PX", "100")
	tn.expect("+OK", "set", dead, "v", "PX", "100")
	tn.expect(":1", "pexpire", k, "100000") // extended after a scan would have seen it due
	now := tn.clock.ms.Load() + 1000
	done := make(chan any, 1)
	tn.n.shardFor(2).Submit(encodePayload(kindExpire, now, [][]byte{[]byte(k), []byte(dead), []byte("missing")}),
		func(result any, err error) {
			if err != nil {
				done <- err
				return
			}
			done <- result
		})
	var res any
	select {
	case res = <-done:
	case <-time.After(testTimeout):
		t.Fatal("expiry proposal not answered")
	}
	if v, ok := res.(reply.Value); !ok || v.String() != ":1" {
		t.Errorf("expiry proposal result = %v, want :1 (only the key still due)", res)
	}
	tn.expect(`"v"`, "get", k)
	if n := tn.dbsize(); n != 1 {
		t.Errorf("DBSIZE = %d after the expiry proposal, want 1", n)
	}
}

// TestExpiredKeyInvisibleBeforeCycle: between deadline and cycle, reads see the key as absent
// while DBSIZE still counts it (as Redis).
func TestExpiredKeyInvisibleBeforeCycle(t *testing.T) {
	tn := newTestNode(t, func(c *Config) { c.ExpiryInterval = time.Hour })
	tn.expect("+OK", "set", "k", "v", "PX", "10")
	tn.clock.advance(time.Second)
	tn.expect("(nil)", "get", "k")
	tn.expect(":0", "exists", "k")
	tn.expect(":-2", "pttl", "k")
	if n := tn.dbsize(); n != 1 {
		t.Errorf("DBSIZE = %d, want 1: the key is not deleted until a write or the cycle", n)
	}
	// A write touching it deletes it at apply.
	tn.expect(":0", "del", "k")
	if n := tn.dbsize(); n != 0 {
		t.Errorf("DBSIZE = %d after DEL of the expired key, want 0", n)
	}
}

// TestSegmentClockRereadAfterBlocking: the reads of one pipeline segment share a clock
// reading, but one that follows a blocking command reads it again, so a key that expired
// while the client was blocked is gone for it.
func TestSegmentClockRereadAfterBlocking(t *testing.T) {
	// No active cycle: only the reads' own deadline check can hide the key.
	tn := newTestNode(t, func(c *Config) { c.ExpiryInterval = time.Hour })
	tn.expect("+OK", "set", "k", "v", "px", "1000")
	advanced := make(chan struct{})
	go func() {
		defer close(advanced)
		// Once BLPOP below is blocked, which is after the first GET has run.
		for tn.n.blocked.count() == 0 {
			time.Sleep(time.Millisecond)
		}
		tn.clock.advance(2 * time.Second)
	}()
	out := tn.exec(
		[]string{"get", "k"},
		[]string{"blpop", "nolist", "1"},
		[]string{"get", "k"},
	)
	<-advanced
	if got := out[0].String(); got != `"v"` {
		t.Errorf("GET before the deadline = %s, want \"v\"", got)
	}
	if got := out[2].String(); got != "(nil)" {
		t.Errorf("GET after a blocking command that outlived the key's deadline = %s, want (nil)", got)
	}
}
