package shard

import (
	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// maybeTruncate removes old log entries every LogTruncateInterval applied entries.
//
// What it removes must never be needed again by this node: only entries whose application is
// durable (a crash must not bring back an applied index below the truncation point, or the
// entries to re-apply would be gone), minus LogKeepEntries of slack for followers. A leader
// also keeps what recently active followers still lack (the index a snapshot being sent
// brings them to counts as theirs), as long as they are at most LogMaxLagEntries behind: a
// follower further behind, or silent, is cheaper to catch up by snapshot than by keeping
// an unbounded log. Without snapshots (the state machine cannot make them) every recently
// active follower is waited for, whatever its lag.
func (a *actor) maybeTruncate() {
	applied := a.st.applied
	if applied < a.lastTruncCheck+a.cfg.LogTruncateInterval {
		return
	}
	a.lastTruncCheck = applied
	if applied <= a.cfg.LogKeepEntries {
		return
	}
	var peers []peerLog
	if a.isLeader {
		self := a.cfg.NodeID
		a.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if id == self {
				return
			}
			has := pr.Match
			if pr.State == tracker.StateSnapshot {
				has = max(has, pr.PendingSnapshot)
			}
			peers = append(peers, peerLog{has: has, active: pr.RecentActive})
		})
	}
	target := truncationTarget(applied, a.cfg.LogKeepEntries, a.cfg.LogMaxLagEntries, a.s.snapSM != nil, peers)
	if target <= a.st.truncIdx {
		return
	}
	if a.durableApplied < target {
		// Make every apply batch committed so far durable: a synced write flushes the whole
		// (sequential) WAL up to it.
		if err := a.db.LogData(nil, pebble.Sync); err != nil {
			a.log.Error("sync before log truncation", "err", err)
			return
		}
		a.durableApplied = a.st.applied
	}
	b := a.db.NewBatch()
	if err := a.st.stageTruncate(b, target); err != nil {
		_ = b.Close()
		a.log.Error("log truncation", "index", target, "err", err)
		return
	}
	// NoSync: losing the truncation in a crash only brings old entries back.
	a.mustCommit(b, pebble.NoSync)
	_ = b.Close()
	a.log.Debug("log truncated", "through", target)
}

// peerLog is what truncation needs to know of a follower: the index its log reaches (or a
// snapshot being sent brings it to) and whether it answered recently.
type peerLog struct {
	has    uint64
	active bool
}

// truncationTarget is the policy of maybeTruncate: the index up to which the log may go, given
// applied > keep.
func truncationTarget(applied, keep, maxLag uint64, canSnap bool, peers []peerLog) uint64 {
	target := applied - keep
	for _, p := range peers {
		if !p.active || p.has >= target || (canSnap && applied-p.has > maxLag) {
			continue
		}
		target = p.has
	}
	return target
}
