package node

import (
	"fmt"
	"testing"

	"ferricd/internal/keyspace"
)

// TestOneEntryCollectionsOfOneSlotStayApart: payloads of one raft entry run on Txns of their
// own but share the entry's index; collections they create in one slot must still get
// versions of their own, or each would hold the other's members.
func TestOneEntryCollectionsOfOneSlotStayApart(t *testing.T) {
	r := newReplica(t)
	r.applyIn(t, keyspace.ReplyWhole, 11,
		cmdPayload("sadd", "{t}a", "x"),
		cmdPayload("sadd", "{t}b", "y"),
		cmdPayload("sadd", "{t}c", "z"))
	// A later entry of the same batch numbers its versions afresh, and apart from these.
	r.applyIn(t, keyspace.ReplyWhole, 12, cmdPayload("sadd", "{t}d", "w"))
	for key, want := range map[string]string{"{t}a": "[x]", "{t}b": "[y]", "{t}c": "[z]", "{t}d": "[w]"} {
		if got := fmt.Sprint(subsOf(t, r, key)); got != want {
			t.Errorf("members of %s = %s, want %s", key, got, want)
		}
	}
}

// subsOf lists the sub-keys of the set at key, as stored.
func subsOf(t *testing.T, r *replica, key string) []string {
	t.Helper()
	tx := keyspace.NewReadTxn(r.db, startMs, r.n.counts)
	defer tx.Close()
	c, err := tx.LookupCollection([]byte(key), keyspace.TypeSet)
	if err != nil || c == nil {
		t.Fatalf("set %s: %v, %v", key, c, err)
	}
	it, err := tx.IterSubs(c, keyspace.SubIterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, string(it.Sub()))
	}
	return out
}
