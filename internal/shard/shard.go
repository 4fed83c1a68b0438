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
	Peers    []uint64
	DB       *pebble.DB // shared by all shards; only keys under 'r'|ShardID are touched
	SM       StateMachine
	Observer Observer     // may be nil
	Logger   *slog.Logger // may be nil

	TickInterval   time.Duration // default 100ms
	ElectionTicks  int           // default 10
	HeartbeatTicks int           // default 1

	Transport     Transport // nil for a single-node group
	MaxBatchBytes int       // max payload bytes per raft entry when batching; default 1 MiB

	// LogTruncateInterval is how many applied entries pass between log truncations; default
	// 10_000.
	LogTruncateInterval uint64
	// LogKeepEntries is how many applied entries truncation leaves in the log so slightly
	// lagging followers can catch up without a snapshot; default 1_000.
	LogKeepEntries uint64
	// SubmitQueue is the capacity of the submit queue; Submit blocks while it is full.
	// Default 4096.
	SubmitQueue int
	// EntryCacheBytes bounds the in-memory cache of recent log entries; default 4 MiB.
	EntryCacheBytes int
}

// Status is a point-in-time view of a shard, published after every Ready.
type Status struct {
	ShardID, NodeID, LeaderID, Term, Commit, Applied, LastIndex, FirstIndex uint64
	IsLeader                                                                bool
	PendingProposals                                                        int
}

var (
	// ErrStopped is returned once the shard is stopped.
	ErrStopped = errors.New("shard: stopped")
	// ErrTryAgain means the payload's fate is unknown: it was dropped, or leadership or the
	// term changed before it was applied. It may still commit later; callers must treat the
	// outcome as ambiguous.
	ErrTryAgain = errors.New("shard: proposal outcome unknown, try again")
	// ErrNotLeader means this node does not lead the shard; the concrete error is a
	// NotLeaderError naming the leader if known.
	ErrNotLeader = errors.New("shard: not leader")
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
		stopC:    make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	st, err := openStorage(cfg.DB, cfg.ShardID, cfg.EntryCacheBytes)
	if err != nil {
		return nil, err
	}
	if st.isEmpty() {
		if len(cfg.Peers) == 0 {
			return nil, fmt.Errorf("shard %d: no raft state and no peers to bootstrap", cfg.ShardID)
		}
		if err := st.bootstrap(cfg.Peers); err != nil {
			return nil, err
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
		c.LogTruncateInterval = 10_000
	}
	if c.LogKeepEntries == 0 {
		c.LogKeepEntries = 1_000
	}
	if c.SubmitQueue <= 0 {
		c.SubmitQueue = 4096
	}
	if c.EntryCacheBytes <= 0 {
		c.EntryCacheBytes = 4 << 20
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
// applied, or with ErrNotLeader (a NotLeaderError), ErrTryAgain (ambiguous) or ErrStopped.
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
// queue is full the message is dropped (raft retransmits) and ErrTryAgain is returned.
func (s *Shard) Step(m *raftpb.Message) error {
	select {
	case <-s.stopC:
		return ErrStopped
	default:
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
