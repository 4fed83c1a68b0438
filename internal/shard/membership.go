package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/confchange"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// confTagMagic starts the tag this shard puts in front of a proposed ConfChangeV2's Context,
// so that the proposer recognizes its change when it is applied; see ChangeMembership.
var confTagMagic = []byte("fcc1")

// confWaiter is the ChangeMembership call whose change is in the log.
type confWaiter struct {
	tag  []byte
	done chan error // buffered
}

// ChangeMembership proposes a configuration change on this replica, which must lead the
// shard, and returns once the change is applied here (the applied ConfState, visible in
// Status, includes it). Errors: a NotLeaderError; ErrConfChangeInProgress when another change
// is not applied yet (nothing was proposed); an error describing an invalid change (removing
// the last voter, leaving a joint configuration that does not exist, …; nothing was
// proposed); ErrTryAgain if leadership or the term changed before the change applied (it may
// still apply: check Status before retrying); ctx's error (the change may still apply);
// ErrStopped.
//
// Any ConfChangeV2 raft accepts may be used. Simple changes (one voter added or removed, or
// learners added, promoted or removed) take effect in one step; to add a replica, add it as a
// learner, wait until Status().Progress shows it caught up, then promote it with
// ConfChangeAddNode. Changes touching several voters go through joint consensus: with
// Transition auto the group leaves the joint configuration by itself, otherwise send an empty
// ConfChangeV2 to leave it; until then other changes get ErrConfChangeInProgress. cc's
// Context reaches the log prefixed by a tag of this shard's.
func (s *Shard) ChangeMembership(ctx context.Context, cc *raftpb.ConfChangeV2) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	cc = proto.Clone(cc).(*raftpb.ConfChangeV2)
	done := make(chan error, 1)
	if !s.control(func(a *actor) { a.proposeConfChange(cc, done) }) {
		return ErrStopped
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopC:
		return ErrStopped
	}
}

// TransferLeadership asks the leader to hand leadership to voter `to`: raft brings it up to
// date, then makes it campaign at once. It returns without waiting; watch Status().LeaderID.
// On a follower raft forwards the request to the leader (it is dropped while no leader is
// known); a transfer to a non-voter, or not completed within an election timeout, is
// abandoned. Proposals are refused (ErrDropped) while a transfer is in progress.
func (s *Shard) TransferLeadership(to uint64) {
	s.control(func(a *actor) { a.rn.TransferLeader(to) })
}

func (a *actor) proposeConfChange(cc *raftpb.ConfChangeV2, done chan error) {
	if bs := a.rn.BasicStatus(); bs.RaftState != raft.StateLeader {
		done <- NotLeaderError{LeaderID: bs.Lead}
		return
	}
	// raft silently turns a conf change into an empty entry while an earlier one may be
	// unapplied: it counts everything before the leader's first entry as such. So refuse
	// here while that could be the case, and the waiter will see its change applied.
	if !a.isLeader || a.confWait != nil || a.st.applied < a.leaderStart {
		done <- ErrConfChangeInProgress
		return
	}
	if err := a.checkConfChange(cc); err != nil {
		done <- err
		return
	}
	a.nextConfSeq++
	tag := slices.Clone(confTagMagic)
	tag = binary.BigEndian.AppendUint64(tag, a.cfg.NodeID)
	tag = binary.BigEndian.AppendUint64(tag, a.incarnation)
	tag = binary.BigEndian.AppendUint64(tag, a.nextConfSeq)
	cc.Context = append(tag, cc.GetContext()...)
	if err := a.rn.ProposeConfChange(cc); err != nil {
		done <- a.proposeErr(err)
		return
	}
	a.confWait = &confWaiter{tag: tag, done: done}
}

// checkConfChange refuses what raft would drop silently (a change while joint, leaving a
// joint configuration that raft leaves by itself) or panic on when applying (an invalid
// change: raft validates only then, on every replica).
func (a *actor) checkConfChange(cc *raftpb.ConfChangeV2) error {
	cs := a.st.conf
	joint, leave := len(cs.GetVotersOutgoing()) > 0, cc.LeaveJoint()
	switch {
	case joint && !leave, joint && cs.GetAutoLeave():
		return ErrConfChangeInProgress
	case !joint && leave:
		return errors.New("shard: invalid configuration change: not in a joint configuration")
	}
	chg := confchange.Changer{Tracker: tracker.MakeProgressTracker(1, 0), LastIndex: a.st.lastIdx}
	cfg, prs, err := confchange.Restore(chg, cs)
	if err != nil {
		return fmt.Errorf("shard: restore configuration: %w", err)
	}
	chg.Tracker.Config, chg.Tracker.Progress = cfg, prs
	if leave {
		_, _, err = chg.LeaveJoint()
	} else if auto, ok := cc.EnterJoint(); ok {
		_, _, err = chg.EnterJoint(auto, cc.GetChanges()...)
	} else {
		_, _, err = chg.Simple(cc.GetChanges()...)
	}
	if err != nil {
		return fmt.Errorf("shard: invalid configuration change: %w", err)
	}
	return nil
}

// noteConfApplied is called when a ConfChangeV2 entry is applied: if it is the one this
// replica's waiter proposed, the waiter is answered once the apply batch is committed.
func (a *actor) noteConfApplied(cc *raftpb.ConfChangeV2) {
	if a.confWait != nil && bytes.HasPrefix(cc.GetContext(), a.confWait.tag) {
		a.confDone = append(a.confDone, a.confWait)
		a.confWait = nil
	}
}

func (a *actor) answerConfDone() {
	for _, w := range a.confDone {
		w.done <- nil
	}
	a.confDone = clearSlice(a.confDone)
}

// failConf fails the waiting ChangeMembership, if any.
func (a *actor) failConf(err error) {
	if a.confWait != nil {
		a.confWait.done <- err
		a.confWait = nil
	}
}

// confView is the applied configuration as Status shows it; its slices are never modified.
type confView struct {
	voters, votersOutgoing, learners, learnersNext []uint64
}

// has reports whether id is a member (voter or learner) of the configuration.
func (c *confView) has(id uint64) bool {
	return slices.Contains(c.voters, id) || slices.Contains(c.votersOutgoing, id) || slices.Contains(c.learners, id)
}

// confChanged records a new applied configuration.
func (a *actor) confChanged(cs *raftpb.ConfState) {
	a.singleVoter = isSingleVoter(cs, a.cfg.NodeID)
	sorted := func(ids []uint64) []uint64 {
		if len(ids) == 0 {
			return nil
		}
		out := slices.Clone(ids)
		slices.Sort(out)
		return out
	}
	a.conf = confView{
		voters:         sorted(cs.GetVoters()),
		votersOutgoing: sorted(cs.GetVotersOutgoing()),
		learners:       sorted(cs.GetLearners()),
		learnersNext:   sorted(cs.GetLearnersNext()),
	}
	a.refreshProgress()
}

// refreshProgress updates the replication progress Status shows on the leader. The map is
// replaced only when something changed, since Status hands it out shared.
func (a *actor) refreshProgress() {
	if !a.isLeader {
		a.progress = nil
		return
	}
	same, n := a.progress != nil, 0
	a.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		n++
		if same {
			old, ok := a.progress[id]
			same = ok && old == peerProgress(&pr)
		}
	})
	if same && n == len(a.progress) {
		return
	}
	m := make(map[uint64]PeerProgress, n)
	a.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		m[id] = peerProgress(&pr)
	})
	a.progress = m
}

func peerProgress(pr *tracker.Progress) PeerProgress {
	state := "probe"
	switch pr.State {
	case tracker.StateReplicate:
		state = "replicate"
	case tracker.StateSnapshot:
		state = "snapshot"
	}
	return PeerProgress{
		Match:           pr.Match,
		Next:            pr.Next,
		State:           state,
		RecentActive:    pr.RecentActive,
		PendingSnapshot: pr.PendingSnapshot,
		IsLearner:       pr.IsLearner,
	}
}
