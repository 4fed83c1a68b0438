package node

import (
	"context"
	"encoding/binary"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// Keyspace reads shard by shard. KEYS, SCAN, RANDOMKEY and the CLUSTER commands reading a
// slot need, on a node without a replica of every shard (clusters of more than 3 nodes), to
// read some shards at other nodes. command.ReadRange is the part of such a read that one
// shard answers; ReadShard runs it on the local replica after the shard's read barrier, or
// sends it as a rangeOp to the shard's leader, which does the same there. Either way the
// part sees every write acknowledged before the call.

// HoldsAllShards implements command.Server.
func (n *Node) HoldsAllShards() bool { return len(n.localShards()) == len(n.byID) }

// ShardRanges implements command.Server.
func (n *Node) ShardRanges(r routing.Range) []routing.Range {
	var out []routing.Range
	for id := uint64(1); id <= uint64(len(n.byID)); id++ {
		own := n.routes.RangeOf(id)
		part := routing.Range{Start: max(own.Start, r.Start), End: min(own.End, r.End)}
		if part.Start < part.End {
			out = append(out, part)
		}
	}
	return out
}

// ReadShard implements command.Server.
func (n *Node) ReadShard(ctx context.Context, r routing.Range, args [][]byte) reply.Value {
	if r.Start >= r.End || r.End > routing.NumSlots {
		return reply.ErrInternal
	}
	id := n.routes.ShardOf(r.Start)
	if own := n.routes.RangeOf(id); r.End > own.End {
		return reply.ErrInternal // the command split r wrongly
	}
	if s := n.shardFor(id); s != nil {
		err := s.ReadBarrier(ctx)
		if err == nil {
			return n.readRange(r, args)
		}
		if n.bus == nil {
			return submitErr(err)
		}
		// A replica that cannot pass its barrier (no leader it can reach, or just
		// stopped because it moved): the leader, wherever it is, may still answer.
	}
	call := make([][]byte, 0, 4+len(args))
	call = append(call, []byte(rangeOp), binary.BigEndian.AppendUint64(nil, id),
		binary.BigEndian.AppendUint64(nil, uint64(r.Start)), binary.BigEndian.AppendUint64(nil, uint64(r.End)))
	call = append(call, args...)
	return n.askLeader(ctx, id, call, n.rangeLocal)
}

// rangeLocal answers a rangeOp call for a shard led here.
func (n *Node) rangeLocal(ctx context.Context, args [][]byte) reply.Value {
	if len(args) < 5 {
		return reply.ErrInternal
	}
	s, refusal := n.ledShard(args[:4], 4)
	if s == nil {
		return refusal
	}
	start, end := binary.BigEndian.Uint64(args[2]), binary.BigEndian.Uint64(args[3])
	own := n.routes.RangeOf(s.ID())
	if start >= end || start < uint64(own.Start) || end > uint64(own.End) {
		return reply.ErrInternal
	}
	if err := s.ReadBarrier(ctx); err != nil {
		return submitErr(err)
	}
	return n.readRange(routing.Range{Start: uint16(start), End: uint16(end)}, args[4:])
}

// readRange runs command.ReadRange on a snapshot of the node's DB; the caller has passed the
// read barrier of the shard owning r.
func (n *Node) readRange(r routing.Range, args [][]byte) reply.Value {
	snap := n.db.NewSnapshot()
	defer snap.Close()
	return command.ReadRange(keyspace.NewReadTxn(snap, n.nowMs(), n.counts), r, args)
}

// askLeader sends an internal op call about shard id to the shard's leader (running it with
// local when that is this node) and returns its reply, following a leader that moves.
func (n *Node) askLeader(ctx context.Context, id uint64, call [][]byte, local func(context.Context, [][]byte) reply.Value) reply.Value {
	for attempt := range askAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return forwardErr(ctx.Err())
			case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
			}
		}
		leader := n.awaitLeader(ctx, id)
		if leader == 0 {
			return errClusterDown
		}
		var v reply.Value
		if leader == n.self {
			v = local(ctx, call)
		} else {
			out, err := n.callForward(ctx, leader, [][][]byte{call}, false)
			if err != nil {
				return forwardErr(err)
			}
			v = out[0]
		}
		if _, moved := notLeaderHint(v); !moved {
			return v
		}
	}
	return reply.ErrTryAgain
}
