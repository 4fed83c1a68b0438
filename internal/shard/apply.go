package shard

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// apply applies committed entries on ab, writes the applied index into the same batch,
// commits it (NoSync: the log is the durable record, see the package doc) and then answers
// the waiters of this node's payloads.
func (a *actor) apply(ab *pebble.Batch, ents []*raftpb.Entry) {
	applied := 0
	var last uint64
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= a.st.applied {
			// Already applied in an earlier life; raft is told so through Config.Applied,
			// this is the belt to those braces.
			continue
		}
		switch e.GetType() {
		case raftpb.EntryNormal:
			if len(e.GetData()) > 0 { // the leader's empty entry carries nothing
				applied += a.applyNormal(ab, e)
			}
		case raftpb.EntryConfChange:
			cc := &raftpb.ConfChange{}
			a.mustUnmarshal(e, cc)
			a.applyConfChange(ab, cc)
		case raftpb.EntryConfChangeV2:
			cc := &raftpb.ConfChangeV2{}
			a.mustUnmarshal(e, cc)
			a.applyConfChange(ab, cc)
			a.noteConfApplied(cc)
		default:
			panic(fmt.Sprintf("shard %d: entry %d has unknown type %v", a.cfg.ShardID, idx, e.GetType()))
		}
		a.recent.add(len(e.GetData()))
		last = idx
	}
	if last != 0 {
		a.st.stageApplied(ab, last)
	}
	bc, hooked := a.cfg.SM.(BatchCommitter)
	if hooked {
		bc.BatchCommitting(ab)
	}
	if !ab.Empty() {
		a.mustCommit(ab, pebble.NoSync)
	}
	if hooked {
		// Before Close: Pebble pools batches, so the pointer is only this batch's until then.
		bc.BatchCommitted(ab)
	}
	_ = ab.Close()

	// The batch is visible now: a waiter that reads Pebble sees its own write, and one that
	// reads Status sees its index applied.
	a.publishStatus()
	// Counted before anyone is answered, so metrics never lag what clients have seen.
	if applied > 0 && a.obs != nil {
		a.obs.ProposalsCommitted(a.cfg.ShardID, applied)
	}
	for i := range a.completions {
		c := &a.completions[i]
		a.s.finish(c.done, c.result, nil)
	}
	a.completions = clearSlice(a.completions)
	a.answerConfDone()
	a.checkReads()
}

// applyNormal applies every payload of one of our framed entries and returns how many there
// were.
func (a *actor) applyNormal(ab *pebble.Batch, e *raftpb.Entry) int {
	idx := e.GetIndex()
	f, err := decodeFrame(e.GetData())
	if err != nil {
		panic(fmt.Sprintf("shard %d: entry %d: %v", a.cfg.ShardID, idx, err))
	}
	var dones []func(any, error)
	if f.node == a.cfg.NodeID && f.incarnation == a.incarnation {
		dones = a.takePending(f.seq)
		if dones != nil && uint64(len(dones)) != f.count {
			panic(fmt.Sprintf("shard %d: entry %d holds %d payloads, %d waiters", a.cfg.ShardID, idx, f.count, len(dones)))
		}
	}
	rsm, replyAware := a.cfg.SM.(ReplyingStateMachine)
	for i := range f.count {
		p, err := f.next()
		if err != nil {
			panic(fmt.Sprintf("shard %d: entry %d payload %d: %v", a.cfg.ShardID, idx, i, err))
		}
		var res any
		if replyAware {
			res = rsm.ApplyReplying(ab, idx, p, dones != nil)
		} else {
			res = a.cfg.SM.Apply(ab, idx, p)
		}
		if dones != nil {
			a.completions = append(a.completions, completion{done: dones[i], result: res})
		}
	}
	return int(f.count)
}

func (a *actor) mustUnmarshal(e *raftpb.Entry, m proto.Message) {
	if err := proto.Unmarshal(e.GetData(), m); err != nil {
		panic(fmt.Sprintf("shard %d: entry %d: bad conf change: %v", a.cfg.ShardID, e.GetIndex(), err))
	}
}

// applyConfChange hands the change to raft and persists the resulting ConfState in the apply
// batch, next to the applied index that covers it.
func (a *actor) applyConfChange(ab *pebble.Batch, cc raftpb.ConfChangeI) {
	// Conservative: no fast reads until updateFastRead has seen the new configuration.
	a.s.fastRead.Store(false)
	cs := a.rn.ApplyConfChange(cc)
	if err := a.st.stageConfState(ab, cs); err != nil {
		panic(fmt.Sprintf("shard %d: persist ConfState: %v", a.cfg.ShardID, err))
	}
	a.confChanged(cs)
	a.log.Info("applied conf change", "voters", cs.GetVoters(), "learners", cs.GetLearners())
}
