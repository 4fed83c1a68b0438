package shard

import (
	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// maybeTruncate removes old log entries every LogTruncateInterval applied entries, or
// sooner once LogTruncateBytes of entries were applied since the last attempt.
//
// What it removes must never be needed again by this node: only entries whose application is
// durable (a crash must not bring back an applied index below the truncation point, or the
// entries to re-apply would be gone), minus a short tail (LogKeepEntries, or LogKeepBytes
// if fewer entries make that much) of slack for followers. A leader also keeps what recently
// active followers still lack (the index a snapshot being sent brings them to counts as
// theirs), as long as they are at most LogMaxLagEntries behind, and what a silent follower
// lacks while that is at most about LogKeepForSilentBytes: a follower further behind is
// cheaper to catch up by snapshot than by keeping an unbounded log. Without snapshots (the
// state machine cannot make them) every recently active follower is waited for, whatever
// its lag.
func (a *actor) maybeTruncate() {
	applied := a.st.applied
	if applied < a.lastTruncCheck+a.cfg.LogTruncateInterval && a.recent.since < a.cfg.LogTruncateBytes {
		return
	}
	a.lastTruncCheck = applied
	a.recent.checked()
	keep := a.recent.keep(a.cfg.LogKeepEntries, a.cfg.LogKeepBytes)
	if applied <= keep {
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
	silentLag := a.cfg.LogMaxLagEntries
	if avg := a.recent.averageSize(); avg > 0 {
		silentLag = min(silentLag, a.cfg.LogKeepForSilentBytes/avg)
	}
	target := truncationTarget(applied, keep, a.cfg.LogMaxLagEntries, silentLag, a.s.snapSM != nil, peers)
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
// applied > keep. A follower that answers is waited for while it is at most maxLag entries
// behind (any lag without snapshots); a silent one while it is at most silentLag behind, so
// that a restart or a short partition is caught up from the log.
func truncationTarget(applied, keep, maxLag, silentLag uint64, canSnap bool, peers []peerLog) uint64 {
	target := applied - keep
	for _, p := range peers {
		lag := applied - min(p.has, applied)
		switch {
		case p.has >= target:
		case !p.active && lag > silentLag:
		case p.active && canSnap && lag > maxLag:
		default:
			target = p.has
		}
	}
	return target
}

// recentEntries remembers the sizes of the last applied entries, so that truncation can keep
// the log's tail by bytes as well as by count, and counts the bytes applied since the last
// truncation attempt. Entries are applied in index order, so the ring holds consecutive
// indexes ending at the applied index. What it knows is lost on restart and dropped by a
// snapshot; keep then falls back to the entry count until it has seen enough again.
type recentEntries struct {
	sizes []uint64 // circular, the newest at next-1
	next  int
	n     int    // sizes held
	since uint64 // bytes applied since the last truncation attempt
}

// entryOverhead approximates what an entry costs in Pebble beyond its data: the log key and
// the term and type stored with it.
const entryOverhead = 32

func newRecentEntries(capacity int) recentEntries {
	return recentEntries{sizes: make([]uint64, max(capacity, 1))}
}

func (r *recentEntries) add(dataLen int) {
	size := uint64(dataLen) + entryOverhead
	r.sizes[r.next] = size
	r.next = (r.next + 1) % len(r.sizes)
	r.n = min(r.n+1, len(r.sizes))
	r.since += size
}

func (r *recentEntries) checked() { r.since = 0 }

// averageSize is the mean size of the entries held, 0 when none are.
func (r *recentEntries) averageSize() uint64 {
	if r.n == 0 {
		return 0
	}
	var sum uint64
	for k := 1; k <= r.n; k++ {
		sum += r.sizes[(r.next-k+len(r.sizes))%len(r.sizes)]
	}
	return sum / uint64(r.n)
}

func (r *recentEntries) reset() { r.n, r.since = 0, 0 }

// keep returns how many of the newest entries truncation leaves: maxEntries, or fewer when
// fewer of them already add up to maxBytes (the entry that reaches it is kept).
func (r *recentEntries) keep(maxEntries, maxBytes uint64) uint64 {
	var sum uint64
	for k := 1; k <= r.n && uint64(k) <= maxEntries; k++ {
		sum += r.sizes[(r.next-k+len(r.sizes))%len(r.sizes)]
		if sum >= maxBytes {
			return uint64(k)
		}
	}
	return maxEntries
}
