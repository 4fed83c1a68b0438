package shard

import (
	"context"
	"encoding/binary"

	"go.etcd.io/raft/v3"
)

// readReq is one ReadBarrier call handed to the actor.
type readReq struct {
	ctx   context.Context
	ch    chan error // buffered: the actor never blocks answering
	index uint64     // applied index the read waits for, once known
}

func (r *readReq) answer(err error) { r.ch <- err }

// ReadBarrier returns nil once reading the applied state (Pebble) is linearizable: every write
// whose Submit was answered before ReadBarrier was called is visible. It returns a
// NotLeaderError if this node does not lead the shard, ErrStopped after Stop, or ctx's error.
//
// Fast path: while this node leads a group whose only voter it is and has applied the first
// entry of its term, no other node can commit anything, so the barrier holds at once without
// involving the shard goroutine. Otherwise a ReadIndex round is run.
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
	if bs := a.rn.BasicStatus(); bs.RaftState != raft.StateLeader {
		for _, r := range reqs {
			r.answer(NotLeaderError{LeaderID: bs.Lead})
		}
		return
	}
	a.nextReadID++
	id := a.nextReadID
	a.rounds[id] = reqs
	var rctx [8]byte
	binary.BigEndian.PutUint64(rctx[:], id)
	a.rn.ReadIndex(rctx[:])
}

// handleReadStates turns answered rounds into reads waiting for the applied index.
func (a *actor) handleReadStates(states []raft.ReadState) {
	for _, rs := range states {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(rs.RequestCtx)
		reqs, ok := a.rounds[id]
		if !ok {
			continue
		}
		delete(a.rounds, id)
		// A single voter answers ReadIndex with its commit index even before entries of
		// earlier terms are committed again; waiting for the leader's first entry covers
		// those (see the package doc).
		index := max(rs.Index, a.leaderStart)
		for _, r := range reqs {
			r.index = index
			a.waiting = append(a.waiting, r)
		}
	}
	a.checkReads()
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
	for id, reqs := range a.rounds {
		for _, r := range reqs {
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
	for id, reqs := range a.rounds {
		a.newReads = append(a.newReads, reqs...)
		delete(a.rounds, id)
	}
}

// sweepReads forgets reads whose caller gave up, so that rounds raft never answers (it
// drops ReadIndex requests it cannot serve) do not accumulate.
func (a *actor) sweepReads() {
	for id, reqs := range a.rounds {
		live := reqs[:0]
		for _, r := range reqs {
			if r.ctx.Err() == nil {
				live = append(live, r)
			}
		}
		if len(live) == 0 {
			delete(a.rounds, id)
		} else {
			a.rounds[id] = live
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
