package node

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/metrics"
	"ferricd/internal/routing"
)

// MetricSources returns the scrape-time sources internal/metrics reads.
func (n *Node) MetricSources() metrics.Sources {
	all := routing.Range{Start: 0, End: routing.NumSlots}
	return metrics.Sources{
		Shards: func() []metrics.ShardStatus {
			local := n.localShards()
			out := make([]metrics.ShardStatus, len(local))
			for i, s := range local {
				st := s.Status()
				out[i] = metrics.ShardStatus{Shard: st.ShardID, LeaderID: st.LeaderID, Term: st.Term,
					Commit: st.Commit, Applied: st.Applied, IsLeader: st.IsLeader}
			}
			return out
		},
		Pebble: func() *pebble.Metrics { return n.db.Metrics() },
		Keys:   func() (int64, int64) { return n.counts.Keys(all), n.counts.Expires(all) },
		Ready:  n.readyErr,
	}
}

// readyErr is nil once every local shard has a leader.
func (n *Node) readyErr() error {
	var missing []uint64
	for _, s := range n.localShards() {
		if s.Status().LeaderID == 0 {
			missing = append(missing, s.ID())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("shards without a leader: %v", missing)
	}
	if len(n.localShards()) == 0 {
		return errors.New("no shards")
	}
	return nil
}
