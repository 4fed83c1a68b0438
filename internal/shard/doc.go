// Package shard runs one Raft group ("shard") of a ferricd node: an etcd raft RawNode owned by
// a single goroutine (the actor), its log and hard state kept in the node's shared Pebble DB,
// proposal batching, deterministic apply through a StateMachine, linearizable read barriers on
// leader and followers, log truncation, snapshots and membership changes.
//
// # Goroutines and ownership
//
// Start launches exactly one goroutine per shard. It owns the RawNode, the raft Storage, the
// table of pending proposals and the outstanding read requests; nothing else touches them, so
// none of them is locked. Other goroutines talk to it through four bounded channels (payloads
// from Submit, raft messages from Step, read requests from ReadBarrier, and a control queue of
// functions run on the actor for the rare operations: ChangeMembership, TransferLeadership,
// ReportSnapshot and the hand-over of a received snapshot) and read its progress through
// Status, which the actor publishes under a mutex after every Ready (the configuration and,
// on the leader, every replica's progress, shared read-only). SendSnapshot and
// ReceiveSnapshot run on the transport's goroutines; what they share with the actor (the
// registry of outgoing snapshots) is locked. Stop closes the stop channel, waits for the
// goroutine to exit, then for the snapshot streams in progress (they notice the stop between
// blocks), and releases every pebble snapshot still registered; the shard never closes the
// DB, which the node shares among all its shards.
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
// Log keys are never SingleDeleted: after a leader change an index can be written twice. The
// state machine's data lives elsewhere, in the spans SnapshotStateMachine.Spans names.
// Received snapshots are staged as SST files under Config.SnapshotDir/<shard id>, which Start
// empties.
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
// A replica added to an existing group starts with Config.Join: no raft state, an empty log
// and configuration. It never campaigns (it is in no configuration) and waits for the leader,
// which, once the replica is added to the configuration, probes it and sends a snapshot.
//
// # Ready loop and durability
//
// Each Ready is handled in this order:
//
//  0. A snapshot, if the Ready carries one (see Snapshots), is installed first: its entries
//     follow it and its messages acknowledge it.
//  1. New entries, the overwritten log tail (DeleteRange) and the HardState go into one Pebble
//     batch, committed with Sync iff Ready.MustSync. When nothing but the commit index changed
//     the HardState rides in the apply batch instead and costs no separate commit.
//  2. Messages are handed to the Transport (only after step 1: a vote or an append
//     acknowledgement must never leave before what it promises is durable). Exception: a
//     leader whose term did not change in this Ready sends its appends and heartbeats
//     before step 1, so its fsync overlaps its followers'; commit still waits for the
//     leader's write, because acknowledgements are stepped only after this Ready.
//  3. Committed entries are applied on one indexed batch: every payload goes to
//     StateMachine.Apply, the applied index (and the ConfState after a conf change) is written
//     into the same batch, and the batch is committed NoSync. Durability of applied state comes
//     from the synced log: after a crash, entries whose apply was lost are applied again when
//     raft hands them back, and the applied index, atomically written with the data, makes sure
//     no entry is ever applied twice (Apply need not be idempotent). Waiters are completed only
//     after this commit, so a caller that reads Pebble after its done callback sees its write.
//     A ReplyingStateMachine gets ApplyReplying instead, told whether the payload has a waiter
//     here: a result nobody receives need not be built (a follower's SPOP of a whole set
//     reads no members), and one that is received may hold resources the waiter releases.
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
// it and has been lost. Waiters fail with ErrDropped when raft refuses the proposal (it was
// never proposed: the caller may submit it again), and with ErrTryAgain when their fate
// cannot be learnt. Losing leadership (or a term change) does not fail them at once: the
// entries may be in the new leader's log and commit there, and the old leader, now a
// follower, answers their waiters when it applies them. They fail with ErrTryAgain once the
// applied index passes the last index the log had when leadership was lost (anything not
// applied by then was cut off), or after two election timeouts without that (a replica cut
// off from the others). ErrTryAgain is ambiguous: the entry may still commit later. Nothing
// is ever re-proposed.
//
// done is called exactly once. It is called from the shard goroutine, with one exception: a
// Submit that arrives after Stop (or races with it) is failed with ErrStopped on the goroutine
// that called Submit or Stop.
//
// # Reads
//
// ReadBarrier answers without involving the actor while this node leads a group whose only
// voter it is and has applied the first entry of its term (everything committed before it
// became leader). Otherwise the actor starts a ReadIndex round (one request context per round,
// unique cluster-wide: node id, incarnation, round id; reads that arrive together share a
// round) and the barrier returns once the applied index reaches the round's index. On the
// leader raft confirms its leadership with a heartbeat quorum (ReadOnlySafe) and the index is
// max(commit index, first index of the leader's term); the second bound matters for a single
// voter, for which raft answers ReadIndex at once with its commit index even before the
// entries of earlier terms have been committed again after a restart. For the same reason a
// single voter holds back followers' ReadIndex requests until its first entry is committed.
// A follower or learner forwards the request to the leader, which answers with its confirmed
// commit index: followers serve linearizable reads from their own Pebble. A replica that is
// not in its own applied configuration (joining, before its snapshot) would drop the answer
// (raft ignores responses from peers it does not track), so it answers NotLeaderError naming
// the leader instead.
//
// Reads never hang on a lost leader: with no leader known they fail at once
// (NotLeaderError{0}); a round unanswered for an election timeout fails with an error matching
// ErrTryAgain (a forwarded request or its answer may be lost, and raft drops requests it
// cannot serve); a leader that loses leadership fails its reads with a NotLeaderError
// (CheckQuorum makes an isolated leader step down within an election timeout); a follower
// whose leader goes silent campaigns after an election timeout, which makes it forget the
// leader and fail its reads with NotLeaderError{0}; a change to another known leader retries
// the rounds in flight with it (indexes already obtained stay valid). Callers pass a ctx with
// a deadline as the final bound, which also covers waiting for the apply.
//
// # Snapshots
//
// A state machine that implements SnapshotStateMachine names the key spans of its data; the
// shard then makes, streams and installs raft snapshots of them (without it, Storage.Snapshot
// always answers ErrSnapshotTemporarilyUnavailable and a follower behind the log waits).
//
// Making: raft calls Storage.Snapshot on the actor when a follower needs truncated entries.
// It is built at the applied index (term of that entry, ConfState as of that index, which is
// the current one, as a newly added member requires), right after that index's apply batch was
// committed, so an EventuallyFileOnlySnapshot of the spans taken then holds exactly that
// state. The pebble snapshot is registered in an outbox under a token carried in
// Snapshot.Data; at most MaxOutgoingSnapshots are open (raft retries later otherwise).
// SendSnapshot takes it out of the outbox, streams it and closes it; one never streamed
// (the transport dropped the MsgSnap) is closed after SnapshotTTL and reported failed to
// raft, which otherwise waits for a report forever; Stop closes the rest.
//
// Streaming: the stream is framed in checksummed blocks (header with shard id, index, term,
// ConfState and spans; key/value blocks; an end block with counts; see snapstream.go). The
// transport carries the MsgSnap itself and the bytes; it calls ReportSnapshot once per MsgSnap.
//
// Receiving: ReceiveSnapshot checks the header against the MsgSnap and its own spans, writes
// one SST per span, each starting with a range deletion of its whole span followed by the
// span's keys, checks the end block, and only then hands the MsgSnap, its Data replaced by a
// token naming the staged files, to the actor (Step refuses MsgSnap, so no snapshot reaches
// raft without its data). A bad or truncated stream is refused and its files removed.
//
// Installing: if raft accepts the snapshot (it ignores one not newer than its commit index),
// the next Ready carries it and the actor writes one more SST replacing every raft key of the
// shard ('r'|shard: range deletion plus applied index = truncated index = snapshot index,
// ConfState, HardState committing the snapshot), then ingests all SSTs in one Pebble Ingest.
// The ingest is atomic and durable (files and manifest, or a WAL record, are synced before it
// returns), and within an ingested SST a range deletion does not delete the SST's own points
// (they share its sequence number), so a crash leaves either the old state or the new one. The
// in-memory mirror is then reset (log empty after the snapshot, entry cache cleared),
// SnapshotInstalling/SnapshotInstalled let the state machine hide and reload derived state,
// pending proposals fail with ErrTryAgain (a follower has none) and waiting reads are checked
// against the new applied index. The Ready's entries and HardState are persisted after that.
//
// # Log truncation
//
// Every LogTruncateInterval applied entries, or LogTruncateBytes of them, the actor removes
// log entries up to the applied index less a short tail (LogKeepEntries, or fewer when they
// make LogKeepBytes), never above an applied index known to be durable (it issues a synced
// empty LogData first if needed: Pebble's WAL is sequential, so a synced write makes every
// earlier NoSync apply durable). The log is kept short on purpose: it shares the memtables
// with the data, and entries deleted before their memtable is flushed never reach an sstable.
// As leader it also keeps what recently active followers lack (for one being sent a
// snapshot, up to the snapshot's index), but only for followers at most LogMaxLagEntries
// behind, and for a follower silent for an election timeout only about LogKeepForSilentBytes
// of log: one further behind catches up by snapshot instead. Without snapshot support every
// recently active follower is waited for.
//
// # Membership
//
// ChangeMembership proposes a ConfChangeV2 on the leader and returns once it is applied
// there. One change at a time: the shard refuses (ErrConfChangeInProgress, nothing proposed)
// while its own change is unapplied, while the leader has not applied its first entry (raft
// would silently drop the change: an earlier leader's change may be pending), and while the
// configuration is joint (except for an explicit leave). It also validates the change against
// the applied configuration the way raft will when applying it (raft panics on an invalid
// change then, on every replica). The proposer recognizes its entry by a tag prefixed to the
// change's Context. Simple changes and joint consensus are both supported; adding a replica
// is: start it with Join, add it as a learner, wait until Status().Progress shows its Match at
// the commit index, promote it with ConfChangeAddNode. StepDownOnRemoval makes a removed
// leader step down. TransferLeadership hands raft's MsgTransferLeader to the actor.
package shard
