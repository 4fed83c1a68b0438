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
// also keeps every entry a recently active follower still lacks, since without snapshots (see
// the package doc) a follower that falls behind the log cannot catch up.
func (a *actor) maybeTruncate() {
	applied := a.st.applied
	if applied < a.lastTruncCheck+a.cfg.LogTruncateInterval {
		return
	}
	a.lastTruncCheck = applied
	if applied <= a.cfg.LogKeepEntries {
		return
	}
	target := applied - a.cfg.LogKeepEntries
	if a.isLeader {
		self := a.cfg.NodeID
		a.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
			if id != self && pr.RecentActive && pr.Match < target {
				target = pr.Match
			}
		})
	}
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
