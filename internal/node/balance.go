package node

import (
	"context"
	"time"
)

// balanceInterval is how often a node checks whether it leads more than its share of shards.
const balanceInterval = 2 * time.Second

// balanceLoop spreads shard leadership evenly: elections pick leaders at random, and a node
// that leads most shards would carry most of the writes (and forward nothing), so each node
// hands leadership of its surplus shards, one per round, to the least-loaded replica that is
// caught up. Every node runs it on its own view (local statuses plus gossip); the counts
// converge because a transfer only goes from a node above the even share to one below it.
func (n *Node) balanceLoop(ctx context.Context) {
	every(ctx, balanceInterval, func() { n.balanceOnce() })
}

// every runs fn each interval until ctx ends; the node's background loops are built on it.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// balanceOnce starts at most one leadership transfer; it reports whether it did.
func (n *Node) balanceOnce() bool {
	members := n.activeIDs()
	if len(members) == 0 {
		return false
	}
	led := make(map[uint64]int, len(members))
	for i := range n.byID {
		l := n.leaderOf(uint64(i + 1))
		if l == 0 {
			return false // an election is under way: let it settle first
		}
		led[l]++
	}
	shards := len(n.byID)
	most := (shards + len(members) - 1) / len(members) // the even share, rounded up
	if led[n.self] <= most {
		return false
	}
	for _, s := range n.localShards() {
		st := s.Status()
		if !st.IsLeader {
			continue
		}
		var to uint64
		for _, id := range st.Voters {
			// Close behind is enough: raft sends the transferee what it lacks before
			// handing over, and under steady writes a follower is rarely exactly level.
			if id == n.self || !caughtUp(&st, id) {
				continue
			}
			if led[id] < most && (to == 0 || led[id] < led[to]) {
				to = id
			}
		}
		if to != 0 {
			n.log.Info("transferring shard leadership to balance load", "shard", st.ShardID, "to", to,
				"leading_here", led[n.self], "even_share", most)
			s.TransferLeadership(to)
			return true
		}
	}
	return false
}
