// Package node is one ferricd process's data plane: it owns the local shards, routes each
// command to the shard owning its keys, stamps and proposes writes, serves reads, runs the
// active expiry cycle, and answers node-wide commands (the command.Server interface).
//
// Request path. internal/resp hands Exec a pipeline segment of well-formed calls. Writes are
// encoded as payloads (payload.go) stamped with the node's clock and submitted to their
// shard without waiting, so a pipeline's writes to one shard share a raft entry (and an
// fsync). Reads run inline on the connection's goroutine against Pebble after the shard's
// ReadBarrier, but first wait for the writes submitted earlier in the same segment to the
// shards they read: a pipeline observes its own writes, as in Redis. Replies are returned in
// request order.
//
// Apply path. Every payload is applied by its shard's goroutine through Node.Apply (the
// shard.StateMachine): it rebuilds a write Txn from the payload's stamped time and the entry
// index, so replicas compute identical effects.
//
// Multi-key commands: a read whose keys live on several local shards reads them from one Pebble
// snapshot (atomic, since all shards of a node share the DB); a write whose keys span shards is
// refused with CROSSSLOT until the cross-shard protocol (internal/xshard) exists.
//
// Transactions (tx.go): MULTI/EXEC of one shard is one kindMulti payload, applied on one Txn;
// WATCH compares each key's last-write index at apply.
package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"ferricd/internal/cluster"
	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
	"ferricd/internal/shard"
)

// Observer receives the node's metric events; internal/metrics implements it.
type Observer interface {
	shard.Observer
	KeyspaceHits(n int64)
	KeyspaceMisses(n int64)
	ExpiredKeys(n int64)
}

// Config wires a node.
type Config struct {
	DB     *pebble.DB
	Shards int
	NodeID uint64
	Table  *command.Table
	// Params is the parameter store CONFIG GET/SET work on.
	Params command.Config
	// Info supplies the counters INFO reports (from internal/metrics); may be nil.
	Info       InfoSource
	InfoStatic InfoStatic
	Observer   Observer
	Logger     *slog.Logger
	// Clock returns the time stamped on proposals and used by reads; nil means time.Now.
	Clock func() time.Time
	// ExpiryInterval is the active expiry period; 0 means 100ms.
	ExpiryInterval time.Duration
	// WriteTimeout bounds how long a write waits for its shard before TRYAGAIN; 0 means 10s.
	WriteTimeout time.Duration
	// CacheBytes bounds the key metadata cache; 0 disables it.
	CacheBytes int64
	// Cluster configures the cluster bus; nil runs a standalone node (and refuses a data
	// directory that belongs to a cluster).
	Cluster *ClusterConfig
	// TickInterval is the raft tick of every shard; 0 means 100ms (elections after 1s).
	TickInterval time.Duration
	// FS is the DB's filesystem (nil: the OS's) and SnapshotDir a directory on it where
	// incoming raft snapshots are staged before they are ingested; without one, a replica
	// that falls too far behind cannot catch up.
	FS          vfs.FS
	SnapshotDir string
	// RaftLog tunes log truncation of every shard (zero values: internal/shard's defaults).
	RaftLog RaftLogConfig
}

// RaftLogConfig is internal/shard's log truncation policy; see shard.Config.
type RaftLogConfig struct {
	TruncateInterval, TruncateBytes, KeepEntries, KeepBytes uint64
	MaxLagEntries, KeepForSilentBytes                       uint64
}

// Node is the running data plane of one process.
type Node struct {
	cfg    Config
	db     *pebble.DB
	routes *routing.Table
	// byID[id-1] is the local replica of shard id, nil if none here. Replicas come and go at
	// run time in a cluster (placement.go); replicaMu serializes starting and destroying them.
	byID      []atomic.Pointer[shard.Shard]
	replicaMu sync.Mutex
	closing   atomic.Bool
	self      uint64
	// Cluster state; all nil/empty on a standalone node. dir is the member directory
	// (members.go); dirMu serializes its changes and their recording.
	dir      atomic.Pointer[cluster.Directory]
	dirMu    sync.Mutex
	bus      *cluster.Transport
	leaders  leaderTable
	redirect bool
	// leaderSeen[id-1] is when (Unix ns, wall clock: the node's clock may be a test's) shard
	// id last had a known leader; the node's start counts as such a time.
	leaderSeen []atomic.Int64
	// removedAt is when (Unix ns) this node last learnt that a member was forgotten: for a
	// while after, a shard whose known leader is that member is taken to be electing another.
	removedAt atomic.Int64
	counts    *keyspace.Counts
	cache     *keyspace.MetaCache
	table     *command.Table
	obs       Observer
	log       *slog.Logger
	now       func() time.Time
	start     time.Time

	runID string
	ops   opsSampler
	// usedMemory is the last sampled heap size, checked against maxmemory; peakMemory the
	// largest sample.
	usedMemory, peakMemory atomic.Uint64

	// blocked holds the clients parked in blocking commands (block.go).
	blocked *blockedClients
	// writesInFlight counts client writes (and transactions) submitted to a local shard and
	// not yet answered; see WritesInFlight.
	writesInFlight atomic.Int64
	// timers are the write-timeout timers wait reuses (see writeTimer).
	timers sync.Pool
	// versions numbers the collection versions of each entry being applied (entryseq.go).
	versions entrySeqs

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open starts every local shard and the background loops.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ExpiryInterval == 0 {
		cfg.ExpiryInterval = 100 * time.Millisecond
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	routes, err := routing.NewTable(cfg.Shards)
	if err != nil {
		return nil, err
	}
	if err := checkShardCount(cfg.DB, cfg.Shards); err != nil {
		return nil, err
	}
	var given []cluster.Peer
	if cfg.Cluster != nil {
		given = cfg.Cluster.Peers
	}
	join := cfg.Cluster != nil && cfg.Cluster.Join
	mem, err := checkMembership(cfg.DB, cfg.NodeID, given, join)
	if err != nil {
		return nil, err
	}
	if mem.cluster && cfg.Cluster == nil {
		return nil, errors.New("the data directory belongs to a cluster member; start it with its cluster options")
	}
	cfg.NodeID = mem.self
	counts, err := keyspace.LoadCounts(cfg.DB)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, db: cfg.DB, routes: routes, counts: counts, table: cfg.Table,
		obs: cfg.Observer, log: cfg.Logger, now: cfg.Clock, start: cfg.Clock(),
		runID: newRunID(), cache: keyspace.NewMetaCache(cfg.CacheBytes), blocked: newBlockedClients(),
		self: mem.self, byID: make([]atomic.Pointer[shard.Shard], routes.Shards()),
		leaderSeen: make([]atomic.Int64, routes.Shards()),
	}
	n.dir.Store(&mem.dir)
	for i := range n.leaderSeen {
		n.leaderSeen[i].Store(time.Now().UnixNano())
	}
	if mem.cluster {
		n.redirect = cfg.Cluster.Redirect
		if n.bus, err = n.newBus(cfg.Cluster); err != nil {
			return nil, err
		}
	}
	if err := n.startReplicas(ctx, mem.bootstrap); err != nil {
		n.stopShards()
		return nil, err
	}
	if n.bus != nil {
		if err := n.bus.Start(ctx); err != nil {
			n.stopShards()
			return nil, err
		}
	}
	n.sampleMemory()
	loopCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.expiryLoop(loopCtx)
	}()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.cache.RunPresenceFilter(loopCtx, n.db, func(err error) {
			n.log.Error("key presence filter not built", "err", err)
		})
	}()
	if n.bus != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.gossipLoop(loopCtx)
		}()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.placementLoop(loopCtx)
		}()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.balanceLoop(loopCtx)
		}()
	}
	return n, nil
}

// Close stops the background loops and the shards. The caller closes the DB afterwards.
func (n *Node) Close() {
	n.closing.Store(true)
	n.cancel()
	n.wg.Wait()
	// The bus first: nothing inbound reaches a stopped shard, and forwarded requests end.
	if n.bus != nil {
		n.bus.Close()
	}
	n.stopShards()
}

func (n *Node) stopShards() {
	n.replicaMu.Lock()
	defer n.replicaMu.Unlock()
	for _, s := range n.localShards() {
		s.Stop()
	}
}

// localShards returns the local replicas, in shard id order.
func (n *Node) localShards() []*shard.Shard {
	out := make([]*shard.Shard, 0, len(n.byID))
	for i := range n.byID {
		if s := n.byID[i].Load(); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Shards returns the status of every local shard.
func (n *Node) Shards() []shard.Status {
	local := n.localShards()
	out := make([]shard.Status, len(local))
	for i, s := range local {
		out[i] = s.Status()
	}
	return out
}

// Counts returns the keyspace counters.
func (n *Node) Counts() *keyspace.Counts { return n.counts }

// WritesInFlight is the number of client writes submitted to this node's shards and not
// answered yet. The WAL sync delay uses it: holding a sync back only pays when other writes
// can join it, and a lone client would just wait. It may be read from any goroutine.
func (n *Node) WritesInFlight() int64 { return n.writesInFlight.Load() }

// shardFor returns the local replica of shard id, or nil if it has none here.
func (n *Node) shardFor(id uint64) *shard.Shard { return n.byID[id-1].Load() }

func (n *Node) nowMs() int64 { return n.now().UnixMilli() }

// Apply implements shard.StateMachine. It runs on the shard's goroutine. Its reply is built
// whole; the shard calls ApplyReplying instead.
func (n *Node) Apply(b *pebble.Batch, index uint64, payload []byte) any {
	return n.apply(b, index, payload, keyspace.ReplyWhole)
}

// ApplyReplying implements shard.ReplyingStateMachine: a reply that will be read may be a
// stream on a snapshot (SPOP of a whole set), one that will not need not be built.
func (n *Node) ApplyReplying(b *pebble.Batch, index uint64, payload []byte, replying bool) any {
	if replying {
		return n.apply(b, index, payload, keyspace.ReplyStreamed)
	}
	return n.apply(b, index, payload, keyspace.ReplyDropped)
}

func (n *Node) apply(b *pebble.Batch, index uint64, payload []byte, mode keyspace.ReplyMode) any {
	kind, nowMs, args, err := decodePayload(payload)
	if err != nil {
		// Every replica sees the same bytes and fails the same way, so answering an error
		// keeps them identical; it can only come from a bug in the proposer.
		n.log.Error("undecodable payload", "index", index, "err", err)
		return reply.ErrInternal
	}
	if kind == kindMulti && mode == keyspace.ReplyStreamed {
		// An EXEC reply is one array, forwarded whole between nodes: no streamed elements.
		mode = keyspace.ReplyWhole
	}
	tx := keyspace.NewWriteTxn(b, nowMs, index, n.counts).WithCache(n.cache, false).WithReplies(mode, n.db).
		WithEntrySeq(n.versions.forEntry(b, index))
	var v reply.Value
	switch kind {
	case kindCommand:
		spec := n.table.Lookup(args)
		if spec == nil || spec.Kind != command.KindKeyWrite || !spec.CheckArity(len(args)) {
			n.log.Error("payload names no write command", "index", index)
			return reply.ErrInternal
		}
		v = spec.Run(tx, args)
		if v.Kind != reply.KindBlocked && v.Kind != reply.KindError {
			n.blocked.wakeKeys(spec.KeyArgs(args))
		}
	case kindMulti:
		v = n.applyTx(tx, index, args)
	case kindExpire:
		for _, key := range args {
			if _, err := tx.ExpireIfDue(key); err != nil {
				panic(fmt.Sprintf("apply active expiry at index %d: %v", index, err))
			}
		}
		v = reply.Int(tx.Expired)
	case kindFlush:
		// The shard owning this batch is the one whose range is flushed; the range is
		// recovered from the first argument, the shard id, stamped by the proposer.
		if len(args) != 1 || len(args[0]) != 8 {
			return reply.ErrInternal
		}
		id := binary.BigEndian.Uint64(args[0])
		if id < 1 || id > uint64(n.routes.Shards()) {
			return reply.ErrInternal
		}
		if err := tx.FlushRange(n.routes.RangeOf(id)); err != nil {
			panic(fmt.Sprintf("apply flush at index %d: %v", index, err))
		}
		v = reply.OK
	default:
		n.log.Error("unknown payload kind", "kind", kind, "index", index)
		return reply.ErrInternal
	}
	if tx.Expired > 0 && n.obs != nil {
		n.obs.ExpiredKeys(tx.Expired)
	}
	return v
}

// newRunID returns 40 random hex characters, like Redis' run_id.
func newRunID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// submitErr maps a shard error to the reply a client sees; internal errors never reach
// clients as Go strings.
func submitErr(err error) reply.Value {
	switch {
	case errors.Is(err, shard.ErrTryAgain), errors.Is(err, shard.ErrNotLeader), errors.Is(err, shard.ErrDropped):
		return reply.ErrTryAgain
	case errors.Is(err, shard.ErrStopped):
		// The node is shutting down, or the replica was just moved to other nodes; either
		// way, another node (or this one, forwarding) can take the command.
		return reply.Err("TRYAGAIN the shard's replica on this node stopped (shutdown, or the replica moved); retry")
	case errors.Is(err, context.DeadlineExceeded):
		return reply.Err("TRYAGAIN write timed out waiting for its shard; it may or may not have been applied")
	}
	return reply.ErrInternal
}

// BatchCommitting implements shard.BatchCommitter: the cache stops serving the keys the batch
// changes until BatchCommitted publishes their new values.
func (n *Node) BatchCommitting(b *pebble.Batch) { n.cache.Prepare(b) }

// BatchCommitted implements shard.BatchCommitter: the key counters and cache entries staged by
// Apply become visible once their batch is in Pebble.
func (n *Node) BatchCommitted(b *pebble.Batch) {
	n.counts.Publish(b)
	n.cache.Publish(b)
	n.versions.done(b)
}
