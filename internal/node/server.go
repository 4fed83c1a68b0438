package node

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// The node is the command.Server of node-wide commands.
var _ command.Server = (*Node)(nil)

// Now implements command.Server.
func (n *Node) Now() time.Time { return n.now() }

// DBSize implements command.Server.
func (n *Node) DBSize(context.Context) (int64, error) {
	return n.counts.Keys(routing.Range{Start: 0, End: routing.NumSlots}), nil
}

// FlushAll implements command.Server: every shard deletes its slot range through its log.
func (n *Node) FlushAll(ctx context.Context) error {
	now := n.nowMs()
	ps := make([]*pending, len(n.shards))
	for i, s := range n.shards {
		p := &pending{done: make(chan struct{})}
		ps[i] = p
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], s.ID())
		s.Submit(encodePayload(kindFlush, now, [][]byte{id[:]}), func(_ any, err error) {
			if err != nil {
				p.v = submitErr(err)
			}
			close(p.done)
		})
	}
	for _, p := range ps {
		if v := n.wait(ctx, p); v.IsError() {
			return errors.New(string(v.Str))
		}
	}
	return nil
}

// ReadAll implements command.Server: fn sees every shard at one instant through one snapshot
// of the node's DB, taken after every shard's read barrier.
func (n *Node) ReadAll(ctx context.Context, fn func(tx *keyspace.Txn) reply.Value) reply.Value {
	for _, s := range n.shards {
		if err := s.ReadBarrier(ctx); err != nil {
			return submitErr(err)
		}
	}
	snap := n.db.NewSnapshot()
	defer snap.Close()
	tx := keyspace.NewReadTxn(snap, n.nowMs(), n.counts)
	return fn(tx)
}

// Config implements command.Server.
func (n *Node) Config() command.Config { return n.cfg.Params }

// ResetStats implements command.Server.
func (n *Node) ResetStats() {
	if n.cfg.Info != nil {
		n.cfg.Info.ResetStats()
	}
}

// LastSave implements command.Server: every acknowledged write is already on disk, so the last
// save is always now.
func (n *Node) LastSave() int64 { return n.now().Unix() }
