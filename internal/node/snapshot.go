package node

import (
	"fmt"

	"ferricd/internal/keyspace"
	"ferricd/internal/shard"
)

// Raft snapshots replace a shard's data wholesale (see internal/shard). The shard's data is
// its slot range under every slot-ordered prefix, and what the node derives from it in
// memory, the slot counters and the metadata cache, is hidden during the replacement and
// rebuilt from Pebble after it.

var _ shard.SnapshotStateMachine = (*Node)(nil)

// Spans implements shard.SnapshotStateMachine: prefix|lo .. prefix|hi for each data prefix,
// [lo, hi) being the shard's slot range.
func (n *Node) Spans(shardID uint64) []shard.Span {
	r := n.routes.RangeOf(shardID)
	spans := make([]shard.Span, 0, len(keyspace.DataPrefixes))
	for _, p := range keyspace.DataPrefixes {
		lo, hi := keyspace.SpanBounds(p, r)
		spans = append(spans, shard.Span{Start: lo, End: hi})
	}
	return spans
}

// SnapshotInstalling implements shard.SnapshotStateMachine: the cache stops serving (and
// taking) entries until the new data is in.
func (n *Node) SnapshotInstalling(uint64) { n.cache.BeginReplace() }

// SnapshotInstalled implements shard.SnapshotStateMachine: it reloads the shard's slot
// counters from the installed data and lets the cache fill again.
func (n *Node) SnapshotInstalled(shardID uint64) {
	if err := n.counts.ReloadRange(n.db, n.routes.RangeOf(shardID)); err != nil {
		// Counters that disagree with the data would be wrong from now on, on this replica
		// only; like a failed apply, that must stop the process.
		panic(fmt.Sprintf("shard %d: reload counters after snapshot: %v", shardID, err))
	}
	n.cache.EndReplace()
}
