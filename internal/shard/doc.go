// Package shard runs one Raft group ("shard") of a ferricd node: an etcd raft RawNode owned by
// a single goroutine (the actor), its log and hard state kept in the node's shared Pebble DB,
// proposal batching, deterministic apply through a StateMachine, linearizable read barriers and
// log truncation.
//
// # Goroutines and ownership
//
// Start launches exactly one goroutine per shard. It owns the RawNode, the raft Storage, the
// table of pending proposals and the outstanding read requests; nothing else touches them, so
// none of them is locked. Other goroutines talk to it through three bounded channels (payloads
// from Submit, raft messages from Step, read requests from ReadBarrier) and read its progress
// through Status, which the actor publishes under a mutex after every Ready. Stop closes the
// stop channel and waits for the goroutine to exit; the shard never closes the DB, which the
// node shares among all its shards.
//
// # On-disk layout
//
// Every key of a shard lives under 'r' | shard id (8 bytes big-endian) | kind (see
// internal/store for the allocation of first bytes):
//
//	r|shard|'a'             applied index (8B BE), written in the same batch as the data it covers
//	r|shard|'c'             ConfState (protobuf), written in the batch that applies a conf change
//	r|shard|'h'             HardState: term, vote, commit (3 x 8B BE)
//	r|shard|'l'|index(8B)   log entry: term (8B BE) | entry type (1B) | data
//	r|shard|'t'             truncated state: index, term (2 x 8B BE) of the last entry removed
//
// Log keys are big-endian so the log is one contiguous, ordered span: the last index is found
// with one reverse seek, truncation is one DeleteRange, and so is deleting an overwritten tail.
// Log keys are never SingleDeleted: after a leader change an index can be written twice.
//
// # Bootstrap
//
// A shard whose HardState is missing is created from scratch, in one synced batch, as if it had
// been restored from an empty snapshot at index 10, term 5 whose ConfState names cfg.Peers as
// voters (the layout CockroachDB uses). Every initial peer writes the identical state, so their
// logs agree on that prefix without any bootstrap entries, and a log that starts above index 1
// makes raft send a snapshot, never entries from index 1, to a replica created later. On every
// later start all state comes from Pebble and cfg.Peers is ignored.
//
// # Ready loop and durability
//
// Each Ready is handled in this order:
//
//  1. New entries, the overwritten log tail (DeleteRange) and the HardState go into one Pebble
//     batch, committed with Sync iff Ready.MustSync. When nothing but the commit index changed
//     the HardState rides in the apply batch instead and costs no separate commit.
//  2. Messages are handed to the Transport (only after step 1: a vote or an append
//     acknowledgement must never leave before what it promises is durable).
//  3. Committed entries are applied on one indexed batch: every payload goes to
//     StateMachine.Apply, the applied index (and the ConfState after a conf change) is written
//     into the same batch, and the batch is committed NoSync. Durability of applied state comes
//     from the synced log: after a crash, entries whose apply was lost are applied again when
//     raft hands them back, and the applied index, atomically written with the data, makes sure
//     no entry is ever applied twice (Apply need not be idempotent). Waiters are completed only
//     after this commit, so a caller that reads Pebble after its done callback sees its write.
//  4. ReadIndex results are matched to waiting reads; Advance.
//
// On restart raft is configured with Applied = the persisted applied index; committed entries
// above it come back through Ready.CommittedEntries. Entries at or below the applied index are
// skipped defensively as well.
//
// # Proposals and waiters
//
// Submit enqueues (payload, done) on a bounded channel. The actor drains everything waiting and
// packs payloads into as few raft entries as MaxBatchBytes allows (group commit: while one
// fsync is in flight new submissions accumulate and go into the next entry). An entry's data
// is
//
//	version(1B)=1 | uvarint node id | incarnation (8B) | uvarint seq | uvarint count |
//	count x (uvarint len | payload)
//
// The incarnation is a random number drawn at Start and seq counts this incarnation's entries,
// so only the proposing process completes waiters, and an entry written by an earlier process
// with the same node id never matches. Pending entries are kept in proposal order. Because
// proposals are never forwarded (raft's proposal forwarding is disabled and followers answer
// ErrNotLeader), a proposer's entries reach the log in seq order; so when entry seq S of this
// incarnation is applied, every pending entry with a smaller seq can no longer commit ahead of
// it and has been lost. Pending waiters fail with ErrTryAgain when the proposal is dropped, the
// term changes or leadership is lost (after the Ready's committed entries were applied, so a
// proposal that did commit is reported as such); ErrTryAgain is ambiguous, the entry may still
// commit later. Nothing is ever re-proposed.
//
// done is called exactly once. It is called from the shard goroutine, with one exception: a
// Submit that arrives after Stop (or races with it) is failed with ErrStopped on the goroutine
// that called Submit or Stop.
//
// # Reads
//
// ReadBarrier answers without involving the actor while this node leads a group whose only
// voter it is and has applied the first entry of its term (everything committed before it
// became leader). Otherwise the actor starts a ReadIndex round (one unique request context per
// round; reads that arrive together share a round) and the barrier returns once the applied
// index reaches max(read index, first index of the leader's term). The second bound matters for
// a single voter, for which raft answers ReadIndex at once with its commit index even before
// the entries of earlier terms have been committed again after a restart.
//
// # Log truncation and snapshots
//
// Every LogTruncateInterval applied entries the actor removes log entries up to
// applied - LogKeepEntries, never above an applied index known to be durable (it issues a
// synced empty LogData first if needed: Pebble's WAL is sequential, so a synced write makes
// every earlier NoSync apply durable). As leader it also keeps what recently active followers
// have not yet acknowledged. Snapshots are not implemented yet: Storage.Snapshot returns
// raft.ErrSnapshotTemporarilyUnavailable, so a follower that falls behind the truncated log (or
// a replica added after bootstrap) cannot catch up until snapshot transfer lands, and a Ready
// carrying a snapshot makes the actor panic rather than silently diverge.
package shard
