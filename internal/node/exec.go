package node

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/resp"
	"ferricd/internal/routing"
	"ferricd/internal/shard"
)

// pending is a write submitted to a shard (or a call forwarded to another node) and not yet
// answered. done is closed after v is set, by answer; a waiter that gives up first (timeout,
// cancellation) abandons it, and a later answer is then discarded instead: a streamed reply
// holds a Pebble snapshot that only its reader releases, so one that nobody will read must be
// closed by the one who knows it.
type pending struct {
	done  chan struct{}
	v     reply.Value
	state atomic.Int32 // pendingOpen, then pendingAnswered or pendingAbandoned
}

const (
	pendingOpen int32 = iota
	pendingAnswered
	pendingAbandoned
)

func newPending() *pending { return &pending{done: make(chan struct{})} }

// answer sets p's reply, unless its waiter gave up, in which case v is released.
func (p *pending) answer(v reply.Value) {
	if !p.state.CompareAndSwap(pendingOpen, pendingAnswered) {
		reply.Discard(v)
		return
	}
	p.v = v
	close(p.done)
}

// abandon is called by a waiter giving up with reply v: it returns v, or p's reply if the
// answer won the race.
func (p *pending) abandon(v reply.Value) reply.Value {
	if p.state.CompareAndSwap(pendingOpen, pendingAbandoned) || p.state.Load() == pendingAbandoned {
		return v
	}
	<-p.done // answered: done is about to be closed, if it is not yet
	return p.v
}

// segment tracks the writes of one Exec call, per shard, so reads can wait for exactly the
// earlier writes they must observe.
type segment struct {
	// writes are the segment's submitted writes in order; unwaited says, per shard, which of
	// them a later read of that shard must still wait for. Both start over inline arrays: a
	// segment is usually one command, and a map here cost every SET three allocations.
	writes      []queuedWrite
	writesBuf   [4]queuedWrite
	unwaited    []shardWrites
	unwaitedBuf [4]shardWrites
	fwd         map[uint64]*fwdBatch     // forwarded calls not sent yet, by node
	sent        map[uint64]chan struct{} // closed when the last batch sent to a node is answered
	// passed holds the shards whose read barrier passed during this segment: one barrier
	// serves every later read of the segment, since all of them were sent before it began.
	// A slice over passedBuf: a segment names a shard or two, and a map cost every GET an
	// allocation and a hash insert.
	passed    []uint64
	passedBuf [4]uint64
	// readTx is the Txn every local read of the segment runs on in turn (see read).
	readTx keyspace.Txn
	// readNow is the clock the segment's reads see (Unix ms; 0: read it again): one clock
	// read per run of reads instead of one per command. Anything that waits (for a write, a
	// read barrier, a blocking command) resets it, so no read sees a clock older than what
	// it waited for.
	readNow int64
}

func (seg *segment) barrierPassed(id uint64) bool {
	for _, x := range seg.passed {
		if x == id {
			return true
		}
	}
	return false
}

func (seg *segment) barrierPasses(id uint64) {
	if seg.passed == nil {
		seg.passed = seg.passedBuf[:0]
	}
	seg.passed = append(seg.passed, id)
}

func (seg *segment) now(n *Node) int64 {
	if seg.readNow == 0 {
		seg.readNow = n.nowMs()
	}
	return seg.readNow
}

// queuedWrite is a submitted write, its shard and the index of its reply in Exec's out.
type queuedWrite struct {
	p     *pending
	out   int
	shard uint64
}

// shardWrites says where a shard's writes that no read has waited for begin in seg.writes:
// first is the index of the earliest, -1 when there is none.
type shardWrites struct {
	shard uint64
	first int
}

func (seg *segment) track(id uint64, p *pending, out int) {
	if seg.writes == nil {
		seg.writes = seg.writesBuf[:0]
	}
	seg.writes = append(seg.writes, queuedWrite{p: p, out: out, shard: id})
	at := len(seg.writes) - 1
	if u := seg.unwaitedOf(id); u != nil {
		if u.first < 0 {
			u.first = at
		}
		return
	}
	if seg.unwaited == nil {
		seg.unwaited = seg.unwaitedBuf[:0]
	}
	seg.unwaited = append(seg.unwaited, shardWrites{shard: id, first: at})
}

func (seg *segment) unwaitedOf(id uint64) *shardWrites {
	for i := range seg.unwaited {
		if seg.unwaited[i].shard == id {
			return &seg.unwaited[i]
		}
	}
	return nil
}

// hasUnwaited reports whether shard id has writes in the segment no read has waited for.
func (seg *segment) hasUnwaited(id uint64) bool {
	u := seg.unwaitedOf(id)
	return u != nil && u.first >= 0
}

// waitShard waits for shard id's writes that no read has waited for yet. Each write is
// looked at by one such wait at most per shard, so a long pipeline of writes and reads
// stays linear.
func (n *Node) waitShard(ctx context.Context, seg *segment, id uint64) {
	u := seg.unwaitedOf(id)
	if u == nil || u.first < 0 {
		return
	}
	for _, w := range seg.writes[u.first:] {
		if w.shard == id {
			n.wait(ctx, w.p)
		}
	}
	u.first = -1
}

// execOpts says on whose behalf calls run.
type execOpts struct {
	// forwarded: the calls were forwarded by another node; they are never forwarded again
	// (a shard led elsewhere answers notLeaderReply).
	forwarded bool
	// readOnly: the client sent READONLY, so a local follower may serve its reads.
	readOnly bool
	// blockOnce: a blocking command is proposed once and its reply.Blocked returned, not
	// waited on (execBlocking's attempts).
	blockOnce bool
}

// Exec implements resp.Backend.
func (n *Node) Exec(ctx context.Context, calls []resp.Call, out []reply.Value) {
	var o execOpts
	if n.bus != nil {
		if sess, ok := resp.SessionFromContext(ctx); ok {
			o.readOnly = sess.ReadOnly
		}
	}
	n.exec(ctx, calls, out, o)
}

func (n *Node) exec(ctx context.Context, calls []resp.Call, out []reply.Value, o execOpts) {
	var seg segment
	for i, c := range calls {
		switch c.Spec.Kind {
		case command.KindKeyWrite:
			id, v, ok := n.checkWrite(c)
			if !ok {
				out[i] = v
				continue
			}
			if c.Spec.BlockTimeoutArg != 0 && !o.forwarded && !o.blockOnce {
				// A blocking command runs after everything before it and before everything
				// after it, as in Redis, where a blocked client reads no further commands.
				n.waitAll(ctx, &seg, o)
				out[i] = n.execBlocking(ctx, c, o)
				continue
			}
			if s := n.shardFor(id); s != nil && (n.bus == nil || s.Status().IsLeader) {
				seg.track(id, n.submitWrite(ctx, s, id, c, o), i)
				continue
			}
			n.routeRemote(ctx, c, id, o, &seg, i, out)
		case command.KindKeyRead:
			n.routeRead(ctx, c, o, &seg, i, out)
		case command.KindServer:
			// Node-wide commands observe every earlier write of the segment.
			n.waitAll(ctx, &seg, o)
			out[i] = c.Spec.Server(ctx, n, c.Args)
		default:
			out[i] = reply.Err("ERR command not allowed here")
		}
	}
	n.flushForwards(ctx, &seg, o)
	for _, w := range seg.writes {
		out[w.out] = n.wait(ctx, w.p)
	}
}

// checkWrite validates a write and returns the shard owning its keys, or the reply that
// decides it at once.
func (n *Node) checkWrite(c resp.Call) (uint64, reply.Value, bool) {
	if n.overMemory(c.Spec) {
		return 0, errOOM, false
	}
	if c.Spec.Validate != nil {
		if v, ok := c.Spec.Validate(c.Args); !ok {
			return 0, v, false
		}
	}
	var buf [4]uint64
	ids := n.shardsOf(buf[:0], c.Spec.KeyArgs(c.Args))
	if len(ids) != 1 {
		return 0, reply.ErrCrossSlot, false
	}
	return ids[0], reply.Value{}, true
}

// submitWrite proposes a write to the local replica s of shard id. A proposal this replica
// refused without proposing it (it lost leadership, or a leadership transfer is under way) is
// handed to the shard's leader, once it is known, on a goroutine of its own (the callback runs
// on the shard's goroutine and must not block); calls forwarded by another node are answered
// with notLeaderReply instead, and that node retries.
func (n *Node) submitWrite(ctx context.Context, s *shard.Shard, id uint64, c resp.Call, o execOpts) *pending {
	p := newPending()
	n.propose(s, encodePayload(kindCommand, n.nowMs(), c.Args), func(v reply.Value, refused bool, leader uint64) {
		switch {
		case refused && o.forwarded:
			p.answer(notLeaderReply(leader))
		case refused && n.bus != nil:
			go func() { p.answer(n.forwardOne(ctx, c.Args, id, leader, o)) }()
		default:
			p.answer(v)
		}
	})
	return p
}

// propose submits payload to s as a client write, counted in writesInFlight until it is
// decided, and hands done the reply: apply's, or the error that ended it. refused reports
// a proposal the replica refused without proposing it (it lost leadership, or a leadership
// transfer is under way), which is safe to send to leader (0: unknown). done runs on the
// shard's goroutine and must not block.
func (n *Node) propose(s *shard.Shard, payload []byte, done func(v reply.Value, refused bool, leader uint64)) {
	n.writesInFlight.Add(1)
	s.Submit(payload, func(result any, err error) {
		n.writesInFlight.Add(-1)
		if err != nil {
			// Declared here: errors.As moves it to the heap, which every write paid for.
			var nl shard.NotLeaderError
			refused := errors.As(err, &nl) || errors.Is(err, shard.ErrDropped)
			done(submitErr(err), refused, nl.LeaderID)
			return
		}
		v, ok := result.(reply.Value)
		if !ok {
			v = reply.ErrInternal
		}
		done(v, false, 0)
	})
}

// routeRemote sends a call for shard id, which this node does not lead, to its leader: as a
// MOVED redirection for cluster-aware clients, or forwarded.
func (n *Node) routeRemote(ctx context.Context, c resp.Call, id uint64, o execOpts, seg *segment, i int, out []reply.Value) {
	if o.forwarded {
		out[i] = notLeaderReply(n.leaderOf(id))
		return
	}
	leader := n.awaitLeader(ctx, id)
	switch {
	case leader == 0:
		out[i] = errClusterDown
	case leader == n.self:
		// Elected while we waited: the shard is local and led here now.
		if c.Spec.Kind == command.KindKeyWrite {
			seg.track(id, n.submitWrite(ctx, n.shardFor(id), id, c, o), i)
		} else {
			out[i] = n.read(ctx, c, seg, o, true)
		}
	case n.redirect:
		out[i] = n.moved(c, leader)
	default:
		seg.track(id, seg.forwardLater(leader, id, c.Args), i)
	}
}

// moved is the MOVED redirection to node leader for c's first key.
func (n *Node) moved(c resp.Call, leader uint64) reply.Value {
	addr := n.clientAddr(leader)
	keys := c.Spec.KeyArgs(c.Args)
	if addr == "" || len(keys) == 0 {
		return errClusterDown
	}
	return reply.Err(fmt.Sprintf("MOVED %d %s", routing.Slot(keys[0]), addr))
}

// routeRead decides where a read runs: here when this node leads every shard it reads (or
// holds them all and the client accepts stale reads), at the leader otherwise.
func (n *Node) routeRead(ctx context.Context, c resp.Call, o execOpts, seg *segment, i int, out []reply.Value) {
	if n.bus == nil {
		out[i] = n.read(ctx, c, seg, o, true)
		return
	}
	var buf [4]uint64
	ids := n.shardsOf(buf[:0], c.Spec.KeyArgs(c.Args))
	allLocal, allLed := true, true
	for _, id := range ids {
		s := n.shardFor(id)
		if s == nil {
			allLocal, allLed = false, false
			break
		}
		if !s.Status().IsLeader {
			allLed = false
		}
	}
	switch {
	case allLocal && o.readOnly:
		out[i] = n.read(ctx, c, seg, o, false)
	case allLed:
		out[i] = n.read(ctx, c, seg, o, true)
	case len(ids) == 1:
		n.routeRemote(ctx, c, ids[0], o, seg, i, out)
	default:
		out[i] = reply.ErrCrossSlot
	}
}

func (n *Node) waitAll(ctx context.Context, seg *segment, o execOpts) {
	seg.readNow = 0
	n.flushForwards(ctx, seg, o)
	for _, w := range seg.writes {
		n.wait(ctx, w.p)
	}
	for i := range seg.unwaited {
		seg.unwaited[i].first = -1 // waited for just now: later reads need not look again
	}
}

// wait returns p's reply once it is answered, or a retryable error when the write timeout
// passes first. p itself is never changed here: the shard may still answer later, and that
// answer is dropped, which is safe because the client was told the outcome is unknown.
func (n *Node) wait(ctx context.Context, p *pending) reply.Value {
	if p.state.Load() == pendingAbandoned {
		// An earlier wait of the same segment gave up on it.
		return submitErr(context.DeadlineExceeded)
	}
	select {
	case <-p.done:
		return p.v
	default:
	}
	t := n.writeTimer()
	defer n.releaseWriteTimer(t)
	select {
	case <-p.done:
		return p.v
	case <-t.C:
		return p.abandon(submitErr(context.DeadlineExceeded))
	case <-ctx.Done():
		return p.abandon(submitErr(ctx.Err()))
	}
}

// writeTimer returns a timer that fires after the write timeout. Timers are reused: one per
// waited write was a tenth of a SET's allocations. Reuse is safe because, since Go 1.23, a
// stopped or reset timer never delivers a stale tick.
func (n *Node) writeTimer() *time.Timer {
	if t, ok := n.timers.Get().(*time.Timer); ok {
		t.Reset(n.cfg.WriteTimeout)
		return t
	}
	return time.NewTimer(n.cfg.WriteTimeout)
}

func (n *Node) releaseWriteTimer(t *time.Timer) {
	t.Stop()
	n.timers.Put(t)
}

// read runs a read command on the local replicas after the writes it must observe; with
// barrier, after each shard's read barrier (linearizable), else from whatever is applied here.
func (n *Node) read(ctx context.Context, c resp.Call, seg *segment, o execOpts, barrier bool) reply.Value {
	keys := c.Spec.KeyArgs(c.Args)
	var buf [4]uint64
	ids := n.shardsOf(buf[:0], keys)
	for _, id := range ids {
		if seg.hasUnwaited(id) {
			n.flushForwards(ctx, seg, o)
			n.waitShard(ctx, seg, id)
			seg.readNow = 0
		}
		if !barrier || seg.barrierPassed(id) {
			continue
		}
		seg.readNow = 0
		if err := n.shardFor(id).ReadBarrier(ctx); err != nil {
			var nl shard.NotLeaderError
			lost := errors.As(err, &nl)
			if o.forwarded && lost {
				return notLeaderReply(nl.LeaderID)
			}
			if barrier && n.bus != nil && !o.forwarded && len(ids) == 1 && (lost || errors.Is(err, shard.ErrTryAgain)) {
				return n.rerouteRead(ctx, c, id, nl.LeaderID, o)
			}
			return submitErr(err)
		}
		seg.barrierPasses(id)
	}
	// One key: a point read of the live DB (and the cache) is atomic. Several keys are read
	// from one snapshot, which the cache cannot serve.
	// The segment's Txn is reused: a read allocates none of its own.
	tx := &seg.readTx
	if len(keys) <= 1 {
		keyspace.InitReadTxn(tx, n.db, seg.now(n), n.counts).WithCache(n.cache, true)
	} else {
		snap := n.db.NewSnapshot()
		defer snap.Close()
		keyspace.InitReadTxn(tx, snap, seg.now(n), n.counts)
	}
	defer tx.Close()
	v := c.Spec.Run(tx, c.Args)
	n.countHits(tx)
	return v
}

// rerouteRead sends a one-shard read whose barrier failed here (this replica lost leadership
// while confirming it, as in a leadership transfer made by the balancer, or the round went
// unanswered) to the shard's leader: a read changes nothing, so it is safe to repeat, and a
// client should not see TRYAGAIN for a leader change the cluster made by itself. With
// --cluster-redirect the client is told where the leader is now (MOVED), as Redis Cluster
// does after a failover; otherwise the read is forwarded. A shard with no leader ends in
// CLUSTERDOWN, as forwardOne decides.
func (n *Node) rerouteRead(ctx context.Context, c resp.Call, id, hint uint64, o execOpts) reply.Value {
	if n.redirect {
		if hint == 0 {
			hint = n.awaitLeader(ctx, id)
		}
		if hint != 0 && hint != n.self {
			return n.moved(c, hint)
		}
	}
	return n.forwardOne(ctx, c.Args, id, hint, o)
}

func (n *Node) countHits(tx *keyspace.Txn) {
	if n.obs == nil {
		return
	}
	if tx.Hits > 0 {
		n.obs.KeyspaceHits(tx.Hits)
	}
	if tx.Misses > 0 {
		n.obs.KeyspaceMisses(tx.Misses)
	}
}

// shardOfKey returns the shard that owns key's slot.
func (n *Node) shardOfKey(key []byte) uint64 { return n.routes.ShardOf(routing.Slot(key)) }

// shardsOf appends to dst the distinct shards owning keys (shard 1 when there are none).
// Callers pass a small array's slice: every command routes, and most name one key.
func (n *Node) shardsOf(dst []uint64, keys [][]byte) []uint64 {
	if len(keys) == 0 {
		return append(dst, 1)
	}
	ids := append(dst, n.shardOfKey(keys[0]))
	for _, k := range keys[1:] {
		id := n.shardOfKey(k)
		seen := false
		for _, x := range ids {
			if x == id {
				seen = true
				break
			}
		}
		if !seen {
			ids = append(ids, id)
		}
	}
	return ids
}
