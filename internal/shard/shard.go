package shard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// StateMachine is implemented by the node. Apply is called only from the shard's goroutine, in
// log order, once per payload passed to Submit (several payloads may share one raft entry). b
// is an indexed Pebble batch that the shard commits together with the applied index; index is
// the raft index of the entry holding the payload. The returned value is handed to the
// payload's waiter if it was submitted on this node and the waiter is still there. Apply must
// not block and must not modify or retain payload beyond the call unless it copies it.
type StateMachine interface {
	Apply(b *pebble.Batch, index uint64, payload []byte) any
}

// ReplyingStateMachine may be implemented by a StateMachine some of whose replies are costly
// to build or hold resources (a streamed reply pins a Pebble snapshot). The shard then calls
// ApplyReplying instead of Apply, with replying true when the payload has a waiter on this
// node to hand the result to, and false when the result will be dropped (the payload came
// from another node, or from an earlier incarnation of this one). What Apply writes into b
// must not depend on replying: every replica applies the same. A result handed to a waiter
// is the waiter's to release.
type ReplyingStateMachine interface {
	StateMachine
	ApplyReplying(b *pebble.Batch, index uint64, payload []byte, replying bool) any
}

// BatchCommitter may be implemented by a StateMachine that keeps in-memory state derived from
// what it applies (counters, caches) and must keep it consistent with Pebble for concurrent
// readers. Both methods are called on the shard goroutine around the commit of b, the batch
// earlier Apply calls wrote into: BatchCommitting right before it (hide what is about to
// change), BatchCommitted right after it and before any proposer is answered (publish). b must
// not be retained.
type BatchCommitter interface {
	BatchCommitting(b *pebble.Batch)
	BatchCommitted(b *pebble.Batch)
}

// Transport carries raft messages to other nodes. Send is called from the shard goroutine and
// must not block; messages it cannot deliver may be dropped (raft retransmits).
type Transport interface {
	Send(shardID uint64, msgs []*raftpb.Message)
}

// Observer receives metrics events. It is called from the shard goroutine and must not block.
type Observer interface {
	SyncDone(shardID uint64, d time.Duration) // a synced write of raft entries/HardState finished
	ProposalsCommitted(shardID uint64, n int) // n payloads applied
	ProposalsFailed(shardID uint64, n int)    // n payloads failed (dropped, leader change, stop)
	LeaderChanged(shardID uint64)
}

// Config configures Start. Zero values pick the documented defaults.
type Config struct {
	ShardID uint64 // >= 1
	NodeID  uint64 // this node's raft id, >= 1
	// Peers are the initial voters when the group is created for the first time; ignored on
	// restart, when the state comes from Pebble.
	Peers []uint64
	// Join starts a replica that is being added to an existing group: when the shard has no
	// raft state yet it starts with an empty log and configuration, does not bootstrap, and
	// waits for the leader, which sends it a snapshot once it is in the configuration.
	// Peers must then be empty.
	Join bool
	// DB is shared by all shards; the shard writes only keys under 'r'|ShardID, and the
	// state machine's spans when it installs a snapshot.
	DB       *pebble.DB
	SM       StateMachine
	Observer Observer     // may be nil
	Logger   *slog.Logger // may be nil

	TickInterval   time.Duration // default 100ms
	ElectionTicks  int           // default 10
	HeartbeatTicks int           // default 1

	Transport     Transport // nil for a single-node group
	MaxBatchBytes int       // max payload bytes per raft entry when batching; default 1 MiB

	// LogTruncateInterval is how many applied entries pass between log truncations; default
	// 1_000. LogTruncateBytes truncates sooner once that many bytes of entries were applied
	// since the last truncation; default 256 KiB.
	LogTruncateInterval uint64
	LogTruncateBytes    uint64
	// LogKeepEntries is how many applied entries truncation leaves in the log so slightly
	// lagging followers can catch up without a snapshot; default 100. Fewer are kept when
	// the last LogKeepBytes of entries (default 64 KiB) are fewer entries than that.
	//
	// Why so little: the log shares Pebble's memtables with the data, and an entry deleted
	// while its memtable is still in memory is dropped by the flush, while one that lives
	// longer is flushed, compacted and then deleted again. With a log of 10_000 entries per
	// shard, compactions of log entries took a fifth of the node's CPU under pipelined writes.
	// Followers that answer are not affected: the leader keeps what they lack (see
	// maybeTruncate).
	LogKeepEntries uint64
	LogKeepBytes   uint64
	// SubmitQueue is the capacity of the submit queue; Submit blocks while it is full.
	// Default 4096.
	SubmitQueue int
	// EntryCacheBytes bounds the in-memory cache of recent log entries; default 4 MiB.
	EntryCacheBytes int

	// LogMaxLagEntries bounds how far behind the applied index a recently active follower
	// may be for the leader to keep the log entries it lacks. A follower further behind is
	// left to catch up by snapshot. Used only when SM implements SnapshotStateMachine
	// (without snapshots the leader keeps whatever active followers lack); default 100_000.
	LogMaxLagEntries uint64
	// LogKeepForSilentBytes is how much log the leader keeps for a follower that has gone
	// silent (restarting, partitioned), estimated from the recent entries' average size: one
	// that comes back within it catches up from the log instead of by snapshot. Default
	// 4 MiB.
	LogKeepForSilentBytes uint64

	// FS and SnapshotDir say where incoming snapshots are staged as SST files before they
	// are ingested: a directory on the DB's filesystem (ideally on the same device as the
	// DB directory, so ingestion hard-links instead of copying), shared by the node's
	// shards; each shard uses SnapshotDir/<shard id> and empties it at Start. FS nil means
	// vfs.Default. Without a SnapshotDir this replica cannot receive snapshots.
	FS          vfs.FS
	SnapshotDir string
	// SnapshotTTL bounds how long a snapshot that raft handed to the Transport waits for
	// SendSnapshot before it is released and reported failed to raft; default 1 minute.
	SnapshotTTL time.Duration
	// MaxOutgoingSnapshots bounds the snapshots held open for sending at once; default 4.
	MaxOutgoingSnapshots int

	// testHook, if set, is called on the shard goroutine at named points of a snapshot
	// install, with the snapshot's index (tests crash the disk there).
	testHook func(point string, index uint64)
}

// Status is a point-in-time view of a shard, published after every Ready. Its slices and
// map are shared by every Status returned until they change and must not be modified.
type Status struct {
	ShardID, NodeID, LeaderID, Term, Commit, Applied, LastIndex, FirstIndex uint64
	IsLeader                                                                bool
	PendingProposals                                                        int

	// The applied configuration, each list sorted. VotersOutgoing is non-empty only while
	// the group is in a joint configuration; LearnersNext are voters of the outgoing
	// configuration that become learners when the joint configuration is left.
	Voters, VotersOutgoing, Learners, LearnersNext []uint64
	// Progress is set only on the leader: the replication progress of every replica (this
	// one included), refreshed on every tick and when leadership or the configuration
	// changes, so Match may lag by one tick.
	Progress map[uint64]PeerProgress
}

// PeerProgress is the leader's view of one replica's log.
type PeerProgress struct {
	// Match is the highest index known to be in the replica's log; a learner whose Match
	// has reached the leader's Commit has caught up.
	Match uint64
	// Next is the next index the leader will send.
	Next uint64
	// State is "probe", "replicate" or "snapshot".
	State string
	// RecentActive says the replica answered within the last election timeout.
	RecentActive bool
	// PendingSnapshot is the index of the snapshot being sent (State "snapshot").
	PendingSnapshot uint64
	IsLearner       bool
}

var (
	// ErrStopped is returned once the shard is stopped.
	ErrStopped = errors.New("shard: stopped")

	// ErrTryAgain means the payload's fate is unknown: it was dropped, or leadership changed
	// and this replica could not learn whether the entry committed. It may still commit later;
	// callers must treat the outcome as ambiguous.
	ErrTryAgain = errors.New("shard: proposal outcome unknown, try again")
	// ErrDropped means raft refused the proposal on this leader (a leadership transfer is
	// under way, or too much of the log is uncommitted): it was never proposed, so it is
	// safe to submit it again, here or at the next leader.
	ErrDropped = errors.New("shard: proposal dropped before it was proposed")
	// ErrNotLeader means this node does not lead the shard; the concrete error is a
	// NotLeaderError naming the leader if known.
	ErrNotLeader = errors.New("shard: not leader")
	// ErrConfChangeInProgress means a configuration change is still being applied (one
	// proposed here, one proposed by an earlier leader, or the automatic exit from a joint
	// configuration); nothing was proposed. Retry once it is applied.
	ErrConfChangeInProgress = errors.New("shard: a configuration change is in progress")
)

// NotLeaderError is returned when this node is not the shard's leader. LeaderID is 0 when no
// leader is known. errors.Is(err, ErrNotLeader) holds.
type NotLeaderError struct{ LeaderID uint64 }

func (e NotLeaderError) Error() string {
	if e.LeaderID == 0 {
		return "shard: not leader (leader unknown)"
	}
	return fmt.Sprintf("shard: not leader (leader is node %d)", e.LeaderID)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// As lets callers extract the error with either a NotLeaderError or a *NotLeaderError target.
func (e NotLeaderError) As(target any) bool {
	if p, ok := target.(**NotLeaderError); ok {
		*p = &NotLeaderError{LeaderID: e.LeaderID}
		return true
	}
	return false
}

// proposal is one Submit call waiting in the queue.
type proposal struct {
	payload []byte
	done    func(result any, err error)
}

// Shard is one raft group replica. All methods are safe for concurrent use.
type Shard struct {
	cfg Config
	log *slog.Logger

	propC chan proposal
	recvC chan *raftpb.Message
	readC chan *readReq
	// ctrlC carries rare operations (membership, leadership transfer, snapshot reports and
	// installs) to run on the actor.
	ctrlC chan func(*actor)
	stopC chan struct{}
	// loopDone is closed when the actor goroutine has returned.
	loopDone chan struct{}
	stopOnce sync.Once

	// submitMu makes Stop wait for Submits that are inside their channel send, so that
	// after Stop's final drain no payload can be left in propC without an answer.
	submitMu sync.RWMutex
	closed   bool

	// pending counts payloads accepted by Submit whose done has not been called yet.
	pending atomic.Int64
	// fastRead is true while ReadBarrier may answer without a ReadIndex round; see read.go.
	fastRead atomic.Bool

	statusMu sync.Mutex
	status   Status

	// Snapshots; see snapshot.go. snapSM is nil when the StateMachine cannot snapshot.
	snapSM   SnapshotStateMachine
	spans    []Span // sorted, disjoint; fixed at Start
	fs       vfs.FS
	out      outbox
	streams  streamGate
	stageSeq atomic.Uint64

	a *actor // owned by the goroutine once started
}

// Start opens (or bootstraps) the shard's raft state from Pebble and starts its goroutine.
// ctx bounds only the start itself; the goroutine runs until Stop.
func Start(ctx context.Context, cfg Config) (*Shard, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Shard{
		cfg:      cfg,
		log:      logger,
		propC:    make(chan proposal, cfg.SubmitQueue),
		recvC:    make(chan *raftpb.Message, 4096),
		readC:    make(chan *readReq, 1024),
		ctrlC:    make(chan func(*actor), 64),
		stopC:    make(chan struct{}),
		loopDone: make(chan struct{}),
		fs:       cfg.FS,
	}
	if err := s.initSnapshots(); err != nil {
		return nil, err
	}
	st, err := openStorage(cfg.DB, cfg.ShardID, cfg.EntryCacheBytes)
	if err != nil {
		return nil, err
	}
	if s.snapSM != nil {
		st.makeSnap = s.takeSnapshot
	}
	if st.isEmpty() {
		switch {
		case cfg.Join:
			// A new member of an existing group: empty log and configuration until the
			// leader's snapshot arrives.
		case len(cfg.Peers) == 0:
			return nil, fmt.Errorf("shard %d: no raft state and no peers to bootstrap", cfg.ShardID)
		default:
			if err := st.bootstrap(cfg.Peers); err != nil {
				return nil, err
			}
		}
	}
	a, err := newActor(s, st)
	if err != nil {
		return nil, err
	}
	s.a = a
	a.publishStatus()
	go a.run()
	return s, nil
}

func (c *Config) fill() error {
	if c.ShardID == 0 || c.NodeID == 0 {
		return errors.New("shard: ShardID and NodeID must be >= 1")
	}
	if c.DB == nil || c.SM == nil {
		return errors.New("shard: DB and SM are required")
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks <= 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks <= 0 {
		c.HeartbeatTicks = 1
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		return fmt.Errorf("shard: ElectionTicks (%d) must exceed HeartbeatTicks (%d)", c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 1 << 20
	}
	if c.LogTruncateInterval == 0 {
		c.LogTruncateInterval = 1_000
	}
	if c.LogTruncateBytes == 0 {
		c.LogTruncateBytes = 256 << 10
	}
	if c.LogKeepEntries == 0 {
		c.LogKeepEntries = 100
	}
	if c.LogKeepBytes == 0 {
		c.LogKeepBytes = 64 << 10
	}
	if c.SubmitQueue <= 0 {
		c.SubmitQueue = 4096
	}
	if c.EntryCacheBytes <= 0 {
		c.EntryCacheBytes = 4 << 20
	}
	if c.LogMaxLagEntries == 0 {
		c.LogMaxLagEntries = 100_000
	}
	if c.LogKeepForSilentBytes == 0 {
		c.LogKeepForSilentBytes = 4 << 20
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.SnapshotTTL <= 0 {
		c.SnapshotTTL = time.Minute
	}
	if c.MaxOutgoingSnapshots <= 0 {
		c.MaxOutgoingSnapshots = 4
	}
	if c.Join && len(c.Peers) > 0 {
		return errors.New("shard: Join and Peers are exclusive (a joining replica gets its configuration from the leader)")
	}
	return nil
}

// ID returns the shard id.
func (s *Shard) ID() uint64 { return s.cfg.ShardID }

// Stop stops the goroutine and fails every pending waiter with ErrStopped. It is idempotent
// and does not close the DB. It must not be called from a done callback or from Apply (it
// waits for the goroutine that runs them).
func (s *Shard) Stop() {
	s.stopOnce.Do(func() {
		close(s.stopC)
		<-s.loopDone
		// Streams notice the stop at their next frame; the pebble snapshots they read must be
		// closed before the DB is.
		s.streams.close()
		s.out.closeAll()
		// Wait for Submits inside their channel send, then refuse new ones; whatever they
		// managed to enqueue is answered here since the actor is gone.
		s.submitMu.Lock()
		s.closed = true
		s.submitMu.Unlock()
		for {
			select {
			case p := <-s.propC:
				s.finish(p.done, nil, ErrStopped)
			default:
				return
			}
		}
	})
}

// Submit enqueues payload for proposal. It blocks only while the submit queue is full. done is
// called exactly once: with the StateMachine's result once the payload's entry is committed and
// applied, or with ErrNotLeader (a NotLeaderError), ErrDropped (not proposed), ErrTryAgain
// (ambiguous) or ErrStopped.
//
// done runs on the shard goroutine (except for ErrStopped after Stop, see the package doc) and
// must not block; in particular it must not call Submit, which blocks while the queue is
// full, nor Stop. payload must not be modified after Submit.
func (s *Shard) Submit(payload []byte, done func(result any, err error)) {
	s.pending.Add(1)
	s.submitMu.RLock()
	if s.closed {
		s.submitMu.RUnlock()
		s.finish(done, nil, ErrStopped)
		return
	}
	select {
	case s.propC <- proposal{payload: payload, done: done}:
		s.submitMu.RUnlock()
	case <-s.stopC:
		s.submitMu.RUnlock()
		s.finish(done, nil, ErrStopped)
	}
}

// finish calls a waiter's done and keeps the pending count right.
func (s *Shard) finish(done func(any, error), result any, err error) {
	s.pending.Add(-1)
	done(result, err)
}

// Step queues an inbound raft message from the transport. It never blocks: when the inbound
// queue is full the message is dropped (raft retransmits) and ErrTryAgain is returned. A
// MsgSnap is refused: its data must come through ReceiveSnapshot.
func (s *Shard) Step(m *raftpb.Message) error {
	select {
	case <-s.stopC:
		return ErrStopped
	default:
	}
	if m.GetType() == raftpb.MsgSnap {
		return fmt.Errorf("shard %d: a MsgSnap must be delivered through ReceiveSnapshot", s.cfg.ShardID)
	}
	select {
	case s.recvC <- m:
		return nil
	default:
		return ErrTryAgain
	}
}

// ReportUnreachable tells raft that the last send to node id failed, so the leader stops
// pipelining appends to it until it answers again. Safe to call from any goroutine; it never
// blocks (the report is dropped if the inbound queue is full).
func (s *Shard) ReportUnreachable(id uint64) {
	_ = s.Step(&raftpb.Message{Type: raftpb.MsgUnreachable.Enum(), From: new(id)})
}

// Status returns the state published after the last Ready.
func (s *Shard) Status() Status {
	s.statusMu.Lock()
	st := s.status
	s.statusMu.Unlock()
	st.PendingProposals = int(s.pending.Load())
	return st
}

// newIncarnation returns a random id for this process's proposals; see the package doc.
func newIncarnation() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

// compile-time check that storage satisfies raft's interface.
var _ raft.Storage = (*storage)(nil)
