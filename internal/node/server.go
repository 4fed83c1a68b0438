package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
	"ferricd/internal/shard"
)

// The node is the command.Server of node-wide commands.
var _ command.Server = (*Node)(nil)

// Now implements command.Server.
func (n *Node) Now() time.Time { return n.now() }

// DBSize implements command.Server. In a cluster the local replicas' counters are read after
// their read barriers, so the count includes every write acknowledged before.
func (n *Node) DBSize(ctx context.Context) (int64, error) {
	if len(n.localShards()) != len(n.byID) {
		return n.dbSizeAcross(ctx)
	}
	if err := n.barrierAll(ctx); err != nil {
		return 0, command.ReplyError{Value: submitErr(err)}
	}
	return n.counts.Keys(routing.Range{Start: 0, End: routing.NumSlots}), nil
}

// dbSizeAcross sums the key counts of every shard on a node that lacks some: local replicas
// count after their read barrier, the others are asked of their leaders (countOp). Each
// shard's count is linearizable on its own; the sum is not taken at one instant.
func (n *Node) dbSizeAcross(ctx context.Context) (int64, error) {
	var total int64
	for id := uint64(1); id <= uint64(len(n.byID)); id++ {
		if s := n.shardFor(id); s != nil {
			if err := s.ReadBarrier(ctx); err == nil {
				total += n.counts.Keys(n.routes.RangeOf(id))
				continue
			}
		}
		v := n.askLeader(ctx, id, [][]byte{[]byte(countOp), binary.BigEndian.AppendUint64(nil, id)}, n.countLocal)
		if v.Kind != reply.KindInt {
			return 0, command.ReplyError{Value: v}
		}
		total += v.Int
	}
	return total, nil
}

// countLocal answers a countOp call: the key count of a shard led here.
func (n *Node) countLocal(ctx context.Context, args [][]byte) reply.Value {
	s, refusal := n.ledShard(args, 2)
	if s == nil {
		return refusal
	}
	if err := s.ReadBarrier(ctx); err != nil {
		return submitErr(err)
	}
	return reply.Int(n.counts.Keys(n.routes.RangeOf(s.ID())))
}

// errNotAllLocal refuses node-wide reads on a node that does not hold every shard.
var errNotAllLocal = errors.New("not every shard has a replica on this node")

// barrierAll passes the read barrier of every shard; all must be local. On a standalone node
// (or a leader of everything) it costs nothing.
func (n *Node) barrierAll(ctx context.Context) error {
	local := n.localShards()
	if len(local) != len(n.byID) {
		return errNotAllLocal
	}
	for _, s := range local {
		if err := s.ReadBarrier(ctx); err != nil {
			return err
		}
	}
	return nil
}

// submitFlush proposes the deletion of local shard s's slot range.
func (n *Node) submitFlush(s *shard.Shard) *pending {
	p := newPending()
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], s.ID())
	s.Submit(encodePayload(kindFlush, n.nowMs(), [][]byte{id[:]}), func(_ any, err error) {
		if err != nil {
			p.answer(submitErr(err))
		} else {
			p.answer(reply.OK)
		}
	})
	return p
}

// FlushAll implements command.Server: every shard deletes its slot range through its log,
// proposed here for the shards led here and by their leaders for the others.
func (n *Node) FlushAll(ctx context.Context) error {
	ps := make([]*pending, 0, len(n.byID))
	var seg segment
	for i := range n.byID {
		id := uint64(i + 1)
		s := n.shardFor(id)
		if s != nil && (n.bus == nil || s.Status().IsLeader) {
			ps = append(ps, n.submitFlush(s))
			continue
		}
		leader := n.awaitLeader(ctx, id)
		if leader == 0 {
			return fmt.Errorf("flush shard %d: no leader", id)
		}
		ps = append(ps, seg.forwardLater(leader, id, [][]byte{[]byte(flushOp), binary.BigEndian.AppendUint64(nil, id)}))
	}
	n.flushForwards(ctx, &seg, execOpts{})
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
	if err := n.barrierAll(ctx); err != nil {
		if errors.Is(err, errNotAllLocal) {
			// The command saw HoldsAllShards, then a replica moved away.
			return reply.Err("TRYAGAIN this node's replicas changed during the command; retry")
		}
		return submitErr(err)
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
