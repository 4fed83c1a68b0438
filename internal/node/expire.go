package node

import (
	"context"

	"ferricd/internal/keyspace"
)

// expiryBatch bounds the keys one active-expiry proposal deletes, so one cycle never holds a
// shard's apply loop for long.
const expiryBatch = 256

// expiryLoop is the active expiry cycle: every interval, each shard this node leads has its
// due keys (read from the expiry index) deleted through its log. The deadline check is
// repeated at apply with the proposal's stamped time, so a key whose TTL was changed in the
// meantime is left alone. Keys that expire between cycles are still invisible to reads (lazy
// expiry), so the cycle only bounds how long dead keys occupy space.
func (n *Node) expiryLoop(ctx context.Context) {
	every(ctx, n.cfg.ExpiryInterval, func() { n.expireOnce(ctx) })
}

// expireOnce is one cycle of expiryLoop.
func (n *Node) expireOnce(ctx context.Context) {
	if n.cfg.Info != nil {
		n.ops.add(n.now(), n.cfg.Info.Snapshot().CommandsProcessed)
	}
	n.sampleMemory()
	for _, s := range n.localShards() {
		if !s.Status().IsLeader {
			continue
		}
		// A bounded number of rounds per tick keeps one busy shard from starving the others.
		for round := 0; round < 16 && ctx.Err() == nil; round++ {
			now := n.nowMs()
			keys, err := keyspace.DueExpiries(n.db, n.routes.RangeOf(s.ID()), now, expiryBatch)
			if err != nil {
				n.log.Warn("active expiry scan failed", "shard", s.ID(), "err", err)
				break
			}
			if len(keys) == 0 {
				break
			}
			done := make(chan error, 1)
			s.Submit(encodePayload(kindExpire, now, keys), func(_ any, err error) { done <- err })
			select {
			case err = <-done:
			case <-ctx.Done():
				return
			}
			if err != nil || len(keys) < expiryBatch {
				break
			}
		}
	}
}
