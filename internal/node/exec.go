package node

import (
	"context"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/resp"
	"ferricd/internal/routing"
)

// pending is a write submitted to a shard and not yet answered. done is closed after v is set.
type pending struct {
	done chan struct{}
	v    reply.Value
}

// segment tracks the writes of one Exec call, per shard, so reads can wait for exactly the
// earlier writes they must observe.
type segment struct {
	byShard map[uint64][]*pending
	writes  []queuedWrite
}

// queuedWrite is a submitted write and the index of its reply in Exec's out.
type queuedWrite struct {
	p   *pending
	out int
}

// Exec implements resp.Backend.
func (n *Node) Exec(ctx context.Context, calls []resp.Call, out []reply.Value) {
	var seg segment
	for i, c := range calls {
		switch c.Spec.Kind {
		case command.KindKeyWrite:
			if id, p := n.submitWrite(c, &out[i]); p != nil {
				if seg.byShard == nil {
					seg.byShard = make(map[uint64][]*pending, 2)
				}
				seg.byShard[id] = append(seg.byShard[id], p)
				seg.writes = append(seg.writes, queuedWrite{p: p, out: i})
			}
		case command.KindKeyRead:
			out[i] = n.read(ctx, c, &seg)
		case command.KindServer:
			// Node-wide commands observe every earlier write of the segment.
			n.waitAll(ctx, &seg)
			out[i] = c.Spec.Server(ctx, n, c.Args)
		default:
			out[i] = reply.Err("ERR command not allowed here")
		}
	}
	for _, w := range seg.writes {
		out[w.out] = n.wait(ctx, w.p)
	}
}

// submitWrite validates and proposes a write to the shard owning its keys, which it returns
// with the pending reply. It returns a nil pending when the reply was decided at once
// (written to *out).
func (n *Node) submitWrite(c resp.Call, out *reply.Value) (uint64, *pending) {
	if n.overMemory(c.Spec) {
		*out = errOOM
		return 0, nil
	}
	if c.Spec.Validate != nil {
		if v, ok := c.Spec.Validate(c.Args); !ok {
			*out = v
			return 0, nil
		}
	}
	ids := n.shardsOf(c.Spec.KeyArgs(c.Args))
	if len(ids) != 1 {
		*out = reply.ErrCrossSlot
		return 0, nil
	}
	id := ids[0]
	p := &pending{done: make(chan struct{})}
	n.shardFor(id).Submit(encodePayload(kindCommand, n.nowMs(), c.Args), func(result any, err error) {
		if err != nil {
			p.v = submitErr(err)
		} else if v, ok := result.(reply.Value); ok {
			p.v = v
		} else {
			p.v = reply.ErrInternal
		}
		close(p.done)
	})
	return id, p
}

func (n *Node) waitAll(ctx context.Context, seg *segment) {
	for _, w := range seg.writes {
		n.wait(ctx, w.p)
	}
}

// wait returns p's reply once it is answered, or a retryable error when the write timeout
// passes first. p itself is never changed here: the shard may still answer later, and that
// answer is dropped, which is safe because the client was told the outcome is unknown.
func (n *Node) wait(ctx context.Context, p *pending) reply.Value {
	select {
	case <-p.done:
		return p.v
	default:
	}
	t := time.NewTimer(n.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.v
	case <-t.C:
		return submitErr(context.DeadlineExceeded)
	case <-ctx.Done():
		return submitErr(ctx.Err())
	}
}

// read runs a read command after the writes it must observe.
func (n *Node) read(ctx context.Context, c resp.Call, seg *segment) reply.Value {
	keys := c.Spec.KeyArgs(c.Args)
	ids := n.shardsOf(keys)
	for _, id := range ids {
		for _, p := range seg.byShard[id] {
			n.wait(ctx, p)
		}
		if err := n.shardFor(id).ReadBarrier(ctx); err != nil {
			return submitErr(err)
		}
	}
	// One key: a point read of the live DB (and the cache) is atomic. Several keys are read
	// from one snapshot, which the cache cannot serve.
	var tx *keyspace.Txn
	if len(keys) <= 1 {
		tx = keyspace.NewReadTxn(n.db, n.nowMs(), n.counts).WithCache(n.cache, true)
	} else {
		snap := n.db.NewSnapshot()
		defer snap.Close()
		tx = keyspace.NewReadTxn(snap, n.nowMs(), n.counts)
	}
	v := c.Spec.Run(tx, c.Args)
	n.countHits(tx)
	return v
}

func (n *Node) countHits(tx *keyspace.Txn) {
	if n.obs == nil {
		return
	}
	if tx.Hits > 0 {
		n.obs.KeyspaceHits(tx.Hits)
	}
	if tx.Misses > 0 {
		n.obs.KeyspaceMisses(tx.Misses)
	}
}

// shardsOf returns the distinct shards owning keys (shard 1 when there are none).
func (n *Node) shardsOf(keys [][]byte) []uint64 {
	if len(keys) == 0 {
		return []uint64{1}
	}
	first := n.routes.ShardOf(routing.Slot(keys[0]))
	ids := []uint64{first}
	for _, k := range keys[1:] {
		id := n.routes.ShardOf(routing.Slot(k))
		seen := false
		for _, x := range ids {
			if x == id {
				seen = true
				break
			}
		}
		if !seen {
			ids = append(ids, id)
		}
	}
	return ids
}
