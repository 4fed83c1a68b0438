package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"ferricd/internal/cluster"
	"ferricd/internal/reply"
	"ferricd/internal/shard"
)

// Placement. Where a shard's replicas should be is a pure function of the directory
// (cluster.Replicas over the active members); where they are is the shard's raft
// configuration. Every node runs placementLoop, which closes the gap one safe step at a time:
//
//   - a node the directory places a shard on, without a local replica, starts an empty one
//     (shard.Config.Join) that waits for the leader;
//   - the leader of a shard adds the missing replicas as learners (raft sends them a
//     snapshot), promotes a learner to voter once it has caught up, and only when every
//     wanted replica votes, removes one unwanted voter (handing leadership over first if the
//     unwanted voter is itself), then unwanted learners;
//   - a node holding a replica the directory no longer places there destroys it once the
//     shard's committed configuration no longer has it (its own applied configuration says
//     so, or the leader does).
//
// Each step is one raft configuration change, so the group is never without a quorum of the
// replicas it had; a replica is never removed for an id the directory does not know (a node
// with an older directory does not undo a newer one's placement), and nothing is removed
// because a node is down: only CLUSTER FORGET makes a member go.

// placementInterval is how often a node compares its shards with the directory.
const placementInterval = 300 * time.Millisecond

// caughtUpLag is how far behind the leader's commit index a learner may be to be promoted.
const caughtUpLag = 100

// confOp, as a forwarded call's first argument, asks the leader of the shard named by the
// second (8 bytes) whether node (third, 8 bytes) is in the shard's configuration: Int 1 or 0.
const confOp = "\x00conf"

// startReplicas starts the replicas recorded in the DB and, while bootstrapping, creates
// those the initial member list places here.
func (n *Node) startReplicas(ctx context.Context, bootstrapping bool) error {
	n.replicaMu.Lock()
	defer n.replicaMu.Unlock()
	for id := uint64(1); id <= uint64(n.routes.Shards()); id++ {
		has, err := shard.HasState(n.db, id)
		if err != nil {
			return err
		}
		want := n.desiredReplicas(id)
		switch {
		case n.bus == nil:
			err = n.startReplica(ctx, id, []uint64{n.self}, false)
		case has:
			err = n.startReplica(ctx, id, nil, true)
		case !slices.Contains(want, n.self):
		case bootstrapping:
			err = n.startReplica(ctx, id, want, false)
		default:
			err = n.startReplica(ctx, id, nil, true)
		}
		if err != nil {
			return err
		}
	}
	if bootstrapping {
		return finishBootstrap(n.db)
	}
	return nil
}

// startReplica starts the local replica of shard id: bootstrapped with peers as voters, or
// joining (an existing raft state is resumed either way). replicaMu is held.
func (n *Node) startReplica(ctx context.Context, id uint64, peers []uint64, join bool) error {
	var transport shard.Transport
	if n.bus != nil {
		transport = n.bus
	}
	var obs shard.Observer
	if n.cfg.Observer != nil {
		obs = n.cfg.Observer
	}
	s, err := shard.Start(ctx, shard.Config{
		ShardID:      id,
		NodeID:       n.self,
		Peers:        peers,
		Join:         join,
		DB:           n.db,
		SM:           n,
		Observer:     obs,
		Logger:       n.log.With("shard", id),
		Transport:    transport,
		TickInterval: n.cfg.TickInterval,
		FS:           n.cfg.FS,
		SnapshotDir:  n.cfg.SnapshotDir,

		LogTruncateInterval:   n.cfg.RaftLog.TruncateInterval,
		LogTruncateBytes:      n.cfg.RaftLog.TruncateBytes,
		LogKeepEntries:        n.cfg.RaftLog.KeepEntries,
		LogKeepBytes:          n.cfg.RaftLog.KeepBytes,
		LogMaxLagEntries:      n.cfg.RaftLog.MaxLagEntries,
		LogKeepForSilentBytes: n.cfg.RaftLog.KeepForSilentBytes,
	})
	if err != nil {
		return fmt.Errorf("start shard %d: %w", id, err)
	}
	n.byID[id-1].Store(s)
	return nil
}

func (n *Node) placementLoop(ctx context.Context) {
	every(ctx, placementInterval, func() { n.placeOnce(ctx) })
}

// placeOnce takes at most one step per shard towards the directory's placement.
func (n *Node) placeOnce(ctx context.Context) {
	dir := n.directory()
	active := dir.ActiveIDs()
	if len(active) == 0 {
		return // waiting to be met
	}
	selfActive := slices.Contains(active, n.self)
	for id := uint64(1); id <= uint64(n.routes.Shards()); id++ {
		if ctx.Err() != nil {
			return
		}
		want := cluster.Replicas(id, active)
		wantHere := selfActive && slices.Contains(want, n.self)
		s := n.shardFor(id)
		if s == nil {
			if wantHere {
				n.addReplica(ctx, id)
			}
			continue
		}
		st := s.Status()
		switch {
		case st.IsLeader:
			n.moveReplicas(ctx, s, &st, want, dir)
		case !wantHere:
			n.maybeDestroy(ctx, s, &st)
		}
	}
}

// addReplica starts an empty local replica of shard id for its leader to fill.
func (n *Node) addReplica(ctx context.Context, id uint64) {
	n.replicaMu.Lock()
	defer n.replicaMu.Unlock()
	if n.closing.Load() || n.shardFor(id) != nil {
		return
	}
	if err := n.startReplica(ctx, id, nil, true); err != nil {
		n.log.Error("start a replica placed here", "shard", id, "err", err)
		return
	}
	n.log.Info("started a replica placed here; waiting for the shard's leader", "shard", id)
}

// moveReplicas is the leader's step: see the top of the file.
func (n *Node) moveReplicas(ctx context.Context, s *shard.Shard, st *shard.Status, want []uint64, dir cluster.Directory) {
	if len(st.VotersOutgoing) > 0 {
		return // a joint configuration: raft leaves it by itself
	}
	known := func(id uint64) bool { _, ok := dir.Get(id); return ok }
	isVoter := func(id uint64) bool { return slices.Contains(st.Voters, id) }
	isLearner := func(id uint64) bool { return slices.Contains(st.Learners, id) }
	for _, id := range want {
		if !isVoter(id) && !isLearner(id) {
			n.changeConf(ctx, s, raftpb.ConfChangeAddLearnerNode, id)
			return
		}
	}
	for _, id := range st.Learners {
		if slices.Contains(want, id) && caughtUp(st, id) {
			n.changeConf(ctx, s, raftpb.ConfChangeAddNode, id)
			return
		}
	}
	if slices.ContainsFunc(want, func(id uint64) bool { return !isVoter(id) }) {
		return // wait until every wanted replica votes before removing any
	}
	for _, id := range st.Voters {
		if slices.Contains(want, id) || !known(id) {
			continue
		}
		if id == n.self {
			if to := caughtUpVoter(st, want); to != 0 {
				n.log.Info("handing over leadership before leaving the shard", "shard", st.ShardID, "to", to)
				s.TransferLeadership(to)
			}
			return
		}
		n.changeConf(ctx, s, raftpb.ConfChangeRemoveNode, id)
		return
	}
	for _, id := range st.Learners {
		if !slices.Contains(want, id) && known(id) {
			n.changeConf(ctx, s, raftpb.ConfChangeRemoveNode, id)
			return
		}
	}
}

// caughtUp reports whether replica id's log is close behind the leader's commit index.
func caughtUp(st *shard.Status, id uint64) bool {
	p, ok := st.Progress[id]
	return ok && p.State == "replicate" && p.RecentActive && p.Match+caughtUpLag >= st.Commit
}

// caughtUpVoter returns a wanted voter, other than this node, fit to take leadership (0: none).
func caughtUpVoter(st *shard.Status, want []uint64) uint64 {
	for _, id := range want {
		if id != st.NodeID && slices.Contains(st.Voters, id) && caughtUp(st, id) {
			return id
		}
	}
	return 0
}

func (n *Node) changeConf(ctx context.Context, s *shard.Shard, typ raftpb.ConfChangeType, id uint64) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc := &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: typ.Enum(), NodeId: &id}}}
	err := s.ChangeMembership(ctx, cc)
	switch {
	case err == nil:
		n.log.Info("shard configuration changed", "shard", s.ID(), "change", typ.String(), "node", id)
	case errors.Is(err, shard.ErrConfChangeInProgress), errors.Is(err, shard.ErrStopped), ctx.Err() != nil:
		n.log.Debug("shard configuration change postponed", "shard", s.ID(), "change", typ.String(), "node", id, "err", err)
	default:
		n.log.Warn("shard configuration change failed", "shard", s.ID(), "change", typ.String(), "node", id, "err", err)
	}
}

// maybeDestroy destroys local replica s, which the directory no longer places here, once the
// shard's committed configuration has dropped this node.
func (n *Node) maybeDestroy(ctx context.Context, s *shard.Shard, st *shard.Status) {
	inConf := slices.Contains(st.Voters, n.self) || slices.Contains(st.Learners, n.self) ||
		slices.Contains(st.VotersOutgoing, n.self)
	if inConf {
		// This replica may not have heard of its removal (the leader stops sending to a
		// replica once it has applied the change): ask the leader.
		if st.LeaderID == 0 || st.LeaderID == n.self {
			return
		}
		in, err := n.askConf(ctx, st.LeaderID, st.ShardID)
		if err != nil || in {
			return
		}
	}
	n.destroyReplica(st.ShardID, s)
}

// askConf asks node leader, which should lead shard id, whether this node is in the shard's
// configuration.
func (n *Node) askConf(ctx context.Context, leader, id uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	call := [][]byte{[]byte(confOp), binary.BigEndian.AppendUint64(nil, id), binary.BigEndian.AppendUint64(nil, n.self)}
	out, err := n.callForward(ctx, leader, [][][]byte{call}, false)
	if err != nil {
		return false, err
	}
	if v := out[0]; v.Kind == reply.KindInt {
		return v.Int != 0, nil
	}
	return false, fmt.Errorf("node %d does not lead shard %d", leader, id)
}

// confLocal answers a confOp call.
func (n *Node) confLocal(args [][]byte) reply.Value {
	s, refusal := n.ledShard(args, 3)
	if s == nil {
		return refusal
	}
	node := binary.BigEndian.Uint64(args[2])
	st := s.Status()
	if slices.Contains(st.Voters, node) || slices.Contains(st.Learners, node) || slices.Contains(st.VotersOutgoing, node) {
		return reply.Int(1)
	}
	return reply.Int(0)
}

// destroyReplica stops local replica s of shard id and deletes its raft state and data.
func (n *Node) destroyReplica(id uint64, s *shard.Shard) {
	n.replicaMu.Lock()
	defer n.replicaMu.Unlock()
	if n.closing.Load() || n.shardFor(id) != s {
		return
	}
	n.byID[id-1].Store(nil)
	s.Stop()
	n.cache.BeginReplace()
	defer n.cache.EndReplace()
	if err := shard.Destroy(n.db, id, n.Spans(id)); err != nil {
		// The replica restarts with the node and is destroyed then.
		n.log.Error("destroy a replica moved away", "shard", id, "err", err)
		return
	}
	if err := n.counts.ReloadRange(n.db, n.routes.RangeOf(id)); err != nil {
		panic(fmt.Sprintf("shard %d: reload counters after destroying the replica: %v", id, err))
	}
	n.log.Info("destroyed a replica moved to other nodes", "shard", id)
}
