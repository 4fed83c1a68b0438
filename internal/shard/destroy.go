package shard

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// A replica moved to another node is destroyed on the node it left: its raft state and its
// data go in one synced Pebble batch, so a crash leaves either the whole replica (which is
// destroyed again at the next check) or nothing. Destroying is safe only once the group's
// committed configuration no longer has this node: a voter that forgot its log could vote
// or acknowledge as if it had never seen entries the group counted on it for. The caller
// checks that; the functions here only do the deleting.

// HasState reports whether shardID has raft state on db: a replica of it lived here and was
// not destroyed.
func HasState(db *pebble.DB, shardID uint64) (bool, error) {
	lo, hi := raftSpan(shardID)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return false, fmt.Errorf("shard %d: look for raft state: %w", shardID, err)
	}
	found := it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, fmt.Errorf("shard %d: look for raft state: %w", shardID, err)
	}
	return found, nil
}

// Destroy deletes the raft state of shardID and the data spans, in one synced batch. The
// shard must be stopped.
func Destroy(db *pebble.DB, shardID uint64, spans []Span) error {
	b := db.NewBatch()
	defer b.Close()
	lo, hi := raftSpan(shardID)
	for _, sp := range append([]Span{{Start: lo, End: hi}}, spans...) {
		if err := b.DeleteRange(sp.Start, sp.End, nil); err != nil {
			return fmt.Errorf("shard %d: destroy: %w", shardID, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("shard %d: destroy: %w", shardID, err)
	}
	return nil
}
