package shard

import (
	"context"
	"encoding/binary"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// readReq is one ReadBarrier call handed to the actor.
type readReq struct {
	ctx   context.Context
	ch    chan error // buffered: the actor never blocks answering
	index uint64     // applied index the read waits for, once known
}

func (r *readReq) answer(err error) { r.ch <- err }

// ReadBarrier returns nil once reading the applied state (Pebble) is linearizable: every write
// whose Submit was answered before ReadBarrier was called, on any replica, is visible. It
// works on the leader and on followers and learners alike. It returns NotLeaderError{0} at
// once when this replica knows no leader, a NotLeaderError naming the leader when this
// replica is not in its own applied configuration yet (a joining replica before its
// snapshot), an error matching ErrTryAgain when the read could
// not be confirmed in time (see below), ErrStopped after Stop, or ctx's error.
//
// Fast path: while this node leads a group whose only voter it is and has applied the first
// entry of its term, no other node can commit anything, so the barrier holds at once without
// involving the shard goroutine. Otherwise a ReadIndex round is run: on the leader, raft
// confirms with a heartbeat quorum that it still leads and returns its commit index; a
// follower forwards the request to the leader and gets that index back. The barrier then
// holds once this replica has applied the index.
//
// A read never hangs on an unreachable leader: a round not answered within one election
// timeout fails (errors.Is(err, ErrTryAgain)); losing leadership fails the leader's reads with a
// NotLeaderError, and a follower that loses its leader (it campaigns after an election
// timeout without hearing from it) fails its reads with NotLeaderError{0}. Callers should
// still pass a ctx with a deadline, which also bounds the wait for the apply.
func (s *Shard) ReadBarrier(ctx context.Context) error {
	select {
	case <-s.stopC:
		return ErrStopped
	default:
	}
	if s.fastRead.Load() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &readReq{ctx: ctx, ch: make(chan error, 1)}
	select {
	case s.readC <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopC:
		return ErrStopped
	}
	select {
	case err := <-r.ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopC:
		return ErrStopped
	}
}

// errReadNotConfirmed fails a read whose ReadIndex round went unanswered. It matches
// ErrTryAgain (errors.Is), without the ambiguity that error has for writes: a read changes
// nothing.
var errReadNotConfirmed error = readRetryError{}

type readRetryError struct{}

func (readRetryError) Error() string {
	return "shard: read not confirmed by the leader within an election timeout, try again"
}

func (readRetryError) Is(target error) bool { return target == ErrTryAgain }

// readRound is one ReadIndex request in flight.
type readRound struct {
	reqs    []*readReq
	started uint64 // actor tick
}

// readCtxLen is the size of a ReadIndex request context: node id, incarnation and round id.
// It must be unique cluster-wide, since the leader keys pending requests of every replica by
// it (a duplicate would be ignored).
const readCtxLen = 24

// fastReadOK reports whether the fast-path condition holds (see ReadBarrier).
func (a *actor) fastReadOK() bool {
	return a.isLeader && a.singleVoter && a.leaderStart != 0 && a.st.applied >= a.leaderStart
}

func (a *actor) updateFastRead() {
	ok := a.fastReadOK()
	if a.s.fastRead.Load() != ok {
		a.s.fastRead.Store(ok)
	}
}

// startReads starts one ReadIndex round for all reads that arrived since the last one: a
// single round proves leadership for all of them, and its context is unique.
func (a *actor) startReads() {
	if len(a.newReads) == 0 || a.electingSelf() {
		return
	}
	reqs := a.newReads[:0:0]
	for _, r := range a.newReads {
		if r.ctx.Err() == nil { // the caller already gave up otherwise
			reqs = append(reqs, r)
		}
	}
	a.newReads = clearSlice(a.newReads)
	if len(reqs) == 0 {
		return
	}
	if a.fastReadOK() {
		for _, r := range reqs {
			r.answer(nil)
		}
		return
	}
	if bs := a.rn.BasicStatus(); bs.RaftState != raft.StateLeader && (bs.Lead == raft.None || !a.conf.has(a.cfg.NodeID)) {
		// With no leader raft would drop the request. A replica not yet in its own
		// configuration (a joining one before its snapshot) drops the leader's answer, which
		// comes from a peer it does not track: send the reader to the leader.
		for _, r := range reqs {
			r.answer(NotLeaderError{LeaderID: bs.Lead})
		}
		return
	}
	a.nextReadID++
	id := a.nextReadID
	a.rounds[id] = &readRound{reqs: reqs, started: a.ticks}
	rctx := make([]byte, 0, readCtxLen)
	rctx = binary.BigEndian.AppendUint64(rctx, a.cfg.NodeID)
	rctx = binary.BigEndian.AppendUint64(rctx, a.incarnation)
	rctx = binary.BigEndian.AppendUint64(rctx, id)
	a.rn.ReadIndex(rctx)
}

// handleReadStates turns answered rounds into reads waiting for the applied index.
func (a *actor) handleReadStates(states []raft.ReadState) {
	for _, rs := range states {
		c := rs.RequestCtx
		if len(c) != readCtxLen || binary.BigEndian.Uint64(c) != a.cfg.NodeID ||
			binary.BigEndian.Uint64(c[8:]) != a.incarnation {
			continue
		}
		id := binary.BigEndian.Uint64(c[16:])
		round, ok := a.rounds[id]
		if !ok {
			continue
		}
		delete(a.rounds, id)
		index := rs.Index
		if a.isLeader {
			// A single voter answers ReadIndex with its commit index even before entries
			// of earlier terms are committed again; waiting for the leader's first entry
			// covers those (see the package doc).
			index = max(index, a.leaderStart)
		}
		for _, r := range round.reqs {
			r.index = index
			a.waiting = append(a.waiting, r)
		}
	}
	a.checkReads()
}

// deferReadIndex holds back a follower's (or learner's) ReadIndex request on a single voter
// that has not committed the first entry of its term yet: raft answers such a request at once
// with its commit index, which after a restart may trail entries that were acknowledged
// before the crash (the HardState rides NoSync in apply batches). Held requests are released
// once the leader's first entry is committed (or the node stops being a single voter); beyond
// a bound they are dropped and the follower's round times out.
func (a *actor) deferReadIndex(m *raftpb.Message) bool {
	if !a.singleVoter || a.singleLeaderCaughtUp() {
		return false
	}
	if len(a.deferredReads) < 1024 {
		a.deferredReads = append(a.deferredReads, m)
	}
	return true
}

func (a *actor) singleLeaderCaughtUp() bool {
	return a.isLeader && a.leaderStart != 0 && a.commit >= a.leaderStart
}

func (a *actor) releaseReadIndex() {
	if len(a.deferredReads) == 0 || (a.singleVoter && !a.singleLeaderCaughtUp()) {
		return
	}
	held := a.deferredReads
	a.deferredReads = nil
	for _, m := range held {
		a.step(m)
	}
}

// readsAfterLeaderChange settles the reads a leadership change affects.
func (a *actor) readsAfterLeaderChange(lostLeadership, termChanged, leaderChanged bool) {
	switch {
	case lostLeadership:
		a.failReads(NotLeaderError{LeaderID: a.lead})
	case !a.isLeader && leaderChanged && a.lead == raft.None:
		// The follower stopped hearing from its leader and campaigns: the old leader
		// may never answer, and entries may not arrive to apply for a while.
		a.failReads(NotLeaderError{})
	case leaderChanged || termChanged:
		// A new leader (or this one re-elected) never saw, or forgot, the rounds in
		// flight: retry them with new request contexts. Indexes already obtained stay
		// valid.
		a.retryRounds()
	}
}

// checkReads answers the waiting reads whose index has been applied.
func (a *actor) checkReads() {
	if len(a.waiting) == 0 {
		return
	}
	applied := a.st.applied
	keep := a.waiting[:0]
	for _, r := range a.waiting {
		if r.index <= applied {
			r.answer(nil)
		} else {
			keep = append(keep, r)
		}
	}
	clear(a.waiting[len(keep):])
	a.waiting = keep
}

// failReads answers every outstanding read with err (leadership lost, or stop).
func (a *actor) failReads(err error) {
	for id, round := range a.rounds {
		for _, r := range round.reqs {
			r.answer(err)
		}
		delete(a.rounds, id)
	}
	for _, r := range a.waiting {
		r.answer(err)
	}
	a.waiting = clearSlice(a.waiting)
}

// retryRounds puts the reads of unanswered rounds back in line for a new round.
func (a *actor) retryRounds() {
	for id, round := range a.rounds {
		a.newReads = append(a.newReads, round.reqs...)
		delete(a.rounds, id)
	}
}

// sweepReads forgets reads whose caller gave up, and fails rounds unanswered for an election
// timeout (raft drops ReadIndex requests it cannot serve, and a forwarded one or its answer
// can be lost), so neither accumulate nor hang.
func (a *actor) sweepReads() {
	for id, round := range a.rounds {
		if a.ticks-round.started > uint64(a.cfg.ElectionTicks) {
			for _, r := range round.reqs {
				r.answer(errReadNotConfirmed)
			}
			delete(a.rounds, id)
			continue
		}
		live := round.reqs[:0]
		for _, r := range round.reqs {
			if r.ctx.Err() == nil {
				live = append(live, r)
			}
		}
		if len(live) == 0 {
			delete(a.rounds, id)
		} else {
			round.reqs = live
		}
	}
	keep := a.waiting[:0]
	for _, r := range a.waiting {
		if r.ctx.Err() == nil {
			keep = append(keep, r)
		}
	}
	clear(a.waiting[len(keep):])
	a.waiting = keep
}
