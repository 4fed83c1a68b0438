package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"ferricd/internal/cluster"
	"ferricd/internal/command"
	"ferricd/internal/reply"
	"ferricd/internal/resp"
	"ferricd/internal/shard"
)

// Forwarding. A command whose shard another node leads is sent to that node over the
// cluster bus and runs there as if a client of that node had sent it (the leader stamps and
// proposes it), except that it is never forwarded again: a node that is no longer the
// leader answers notLeaderPrefix and the leader it knows, and the forwarding node retries
// (a refused proposal was never proposed, so retrying cannot apply it twice). Calls of one
// pipeline segment going to one node travel in one request, and requests from one segment
// to one node are sent one after the other, so the leader proposes them in client order.
//
// Request:  version(1) | flags(1) | uvarint count | count x (uvarint argc | argc x (uvarint len | bytes))
// Response: uvarint count | count x reply.AppendBinary
const (
	forwardVersion  byte = 1
	forwardReadOnly byte = 1 << 0

	// notLeaderPrefix marks a reply that only ever travels between nodes.
	notLeaderPrefix = "FERRICD-NOTLEADER "
	// flushOp, as a call's first argument, asks the leader of the shard named by the second
	// (8 bytes, big-endian) to flush it (FLUSHALL reaches every shard this way).
	flushOp = "\x00flush"
	// countOp asks the leader of the shard named by the second argument for its key count
	// (DBSIZE on a node without every shard).
	countOp = "\x00count"
	// rangeOp asks the leader of the shard named by the second argument for
	// command.ReadRange over slots [third, fourth) of the command in the arguments after.
	rangeOp = "\x00range"
	// forwardAttempts bounds how often forwardOne chases a moving leader.
	forwardAttempts = 4
	// askAttempts bounds how often an internal op chases a moving leader (askLeader).
	askAttempts = 4
)

var (
	errClusterDown     = reply.Err("CLUSTERDOWN The cluster is down")
	errForwardUnknown  = reply.Err("TRYAGAIN the connection to the shard's leader broke; the command may or may not have been applied")
	errForwardRejected = reply.Err("TRYAGAIN the shard's leader could not take the command; retry")
)

func encodeForward(calls [][][]byte, readOnly bool) []byte {
	size := 8
	for _, args := range calls {
		for _, a := range args {
			size += len(a) + 5
		}
	}
	b := make([]byte, 0, size)
	var flags byte
	if readOnly {
		flags |= forwardReadOnly
	}
	b = append(b, forwardVersion, flags)
	b = binary.AppendUvarint(b, uint64(len(calls)))
	for _, args := range calls {
		b = binary.AppendUvarint(b, uint64(len(args)))
		for _, a := range args {
			b = binary.AppendUvarint(b, uint64(len(a)))
			b = append(b, a...)
		}
	}
	return b
}

var errBadForward = errors.New("malformed forwarded request")

func decodeForward(b []byte) (calls [][][]byte, readOnly bool, err error) {
	if len(b) < 2 || b[0] != forwardVersion {
		return nil, false, errBadForward
	}
	readOnly = b[1]&forwardReadOnly != 0
	b = b[2:]
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 || v > uint64(len(b)) { // every count or length is backed by bytes
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	n, ok := next()
	if !ok {
		return nil, false, errBadForward
	}
	calls = make([][][]byte, 0, n)
	for range n {
		argc, ok := next()
		if !ok || argc == 0 {
			return nil, false, errBadForward
		}
		args := make([][]byte, argc)
		for j := range args {
			l, ok := next()
			if !ok || l > uint64(len(b)) {
				return nil, false, errBadForward
			}
			args[j], b = b[:l:l], b[l:]
		}
		calls = append(calls, args)
	}
	return calls, readOnly, nil
}

// serveForwarded runs calls another node forwarded here.
func (n *Node) serveForwarded(ctx context.Context, req []byte) []byte {
	argsList, readOnly, err := decodeForward(req)
	if err != nil {
		n.log.Warn("forwarded request", "err", err)
		return binary.AppendUvarint(nil, 0)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.WriteTimeout)
	defer cancel()
	out := make([]reply.Value, len(argsList))
	calls := make([]resp.Call, 0, len(argsList))
	idx := make([]int, 0, len(argsList))
	for i, args := range argsList {
		switch string(args[0]) {
		case flushOp:
			out[i] = n.flushLocal(ctx, args)
			continue
		case confOp:
			out[i] = n.confLocal(args)
			continue
		case countOp:
			out[i] = n.countLocal(ctx, args)
			continue
		case rangeOp:
			out[i] = n.rangeLocal(ctx, args)
			continue
		case txOp:
			out[i] = n.txLocal(ctx, args)
			continue
		case watchOp:
			out[i] = n.watchLocal(ctx, args)
			continue
		}
		spec := n.table.Lookup(args)
		if spec == nil || !spec.CheckArity(len(args)) || (spec.Kind != command.KindKeyRead && spec.Kind != command.KindKeyWrite) {
			out[i] = reply.ErrInternal // the forwarding node checked all of this
			continue
		}
		calls = append(calls, resp.Call{Spec: spec, Args: args})
		idx = append(idx, i)
	}
	if len(calls) > 0 {
		vals := make([]reply.Value, len(calls))
		n.exec(ctx, calls, vals, execOpts{forwarded: true, readOnly: readOnly})
		for j, v := range vals {
			out[idx[j]] = v
		}
	}
	b := binary.AppendUvarint(nil, uint64(len(out)))
	for _, v := range out {
		b = reply.AppendBinary(b, v)
	}
	return b
}

// ledShard resolves an internal op call (flushOp, countOp, confOp, rangeOp: argc arguments, each after
// the op 8 bytes big-endian, the first a shard id) to the shard's local replica if this node
// leads it; otherwise it returns the reply to send instead.
func (n *Node) ledShard(args [][]byte, argc int) (*shard.Shard, reply.Value) {
	if len(args) != argc {
		return nil, reply.ErrInternal
	}
	for _, a := range args[1:] {
		if len(a) != 8 {
			return nil, reply.ErrInternal
		}
	}
	id := binary.BigEndian.Uint64(args[1])
	if id < 1 || id > uint64(len(n.byID)) {
		return nil, reply.ErrInternal
	}
	s := n.shardFor(id)
	if s == nil || !s.Status().IsLeader {
		return nil, notLeaderReply(n.leaderOf(id))
	}
	return s, reply.Value{}
}

// flushLocal flushes the shard named in a flushOp call if this node leads it.
func (n *Node) flushLocal(ctx context.Context, args [][]byte) reply.Value {
	s, refusal := n.ledShard(args, 2)
	if s == nil {
		return refusal
	}
	return n.wait(ctx, n.submitFlush(s))
}

func notLeaderReply(leader uint64) reply.Value {
	return reply.Err(notLeaderPrefix + strconv.FormatUint(leader, 10))
}

// notLeaderHint reports whether v is a notLeaderReply and the leader it names (0: unknown).
func notLeaderHint(v reply.Value) (uint64, bool) {
	if v.Kind != reply.KindError || !bytes.HasPrefix(v.Str, []byte(notLeaderPrefix)) {
		return 0, false
	}
	id, _ := strconv.ParseUint(string(v.Str[len(notLeaderPrefix):]), 10, 64)
	return id, true
}

// callForward sends calls to node `to` and returns one reply per call.
func (n *Node) callForward(ctx context.Context, to uint64, calls [][][]byte, readOnly bool) ([]reply.Value, error) {
	resp, err := n.bus.Call(ctx, to, encodeForward(calls, readOnly))
	if err != nil {
		return nil, err
	}
	count, k := binary.Uvarint(resp)
	if k <= 0 || count != uint64(len(calls)) {
		return nil, fmt.Errorf("node %d answered %d replies to %d calls", to, count, len(calls))
	}
	resp = resp[k:]
	out := make([]reply.Value, count)
	for i := range out {
		if out[i], resp, err = reply.DecodeBinary(resp); err != nil {
			return nil, fmt.Errorf("reply from node %d: %w", to, err)
		}
	}
	return out, nil
}

// forwardErr maps a bus error to the client's reply.
func forwardErr(err error) reply.Value {
	switch {
	case errors.Is(err, cluster.ErrUnreachable):
		return errClusterDown
	case errors.Is(err, cluster.ErrRefused), errors.Is(err, cluster.ErrClosed):
		return errForwardRejected
	}
	return errForwardUnknown // lost connection, timeout: the outcome is unknown
}

// fwdBatch is the calls of one segment going to one node, not sent yet.
type fwdBatch struct {
	to    uint64
	args  [][][]byte
	ids   []uint64 // shard of each call
	pends []*pending
}

// forwardLater adds a call for node `to` to the segment's open batch for that node.
func (seg *segment) forwardLater(to, shardID uint64, args [][]byte) *pending {
	if seg.fwd == nil {
		seg.fwd = make(map[uint64]*fwdBatch, 2)
	}
	b := seg.fwd[to]
	if b == nil {
		b = &fwdBatch{to: to}
		seg.fwd[to] = b
	}
	p := newPending()
	b.args = append(b.args, args)
	b.ids = append(b.ids, shardID)
	b.pends = append(b.pends, p)
	return p
}

// flushForwards sends every open batch. Each is sent after the previous batch of the same
// segment to the same node has been answered, which keeps their order on the leader.
func (n *Node) flushForwards(ctx context.Context, seg *segment, o execOpts) {
	for to, b := range seg.fwd {
		delete(seg.fwd, to)
		if seg.sent == nil {
			seg.sent = make(map[uint64]chan struct{}, 2)
		}
		prev := seg.sent[to]
		done := make(chan struct{})
		seg.sent[to] = done
		go func() {
			defer close(done)
			if prev != nil {
				<-prev
			}
			n.sendBatch(ctx, b, o)
		}()
	}
}

func (n *Node) sendBatch(ctx context.Context, b *fwdBatch, o execOpts) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.WriteTimeout)
	defer cancel()
	vals, err := n.callForward(ctx, b.to, b.args, o.readOnly)
	for i, p := range b.pends {
		switch {
		case err != nil && errors.Is(err, cluster.ErrUnreachable):
			// Not sent: safe to look for the leader again.
			p.answer(n.forwardOne(ctx, b.args[i], b.ids[i], 0, o))
		case err != nil:
			p.answer(forwardErr(err))
		default:
			if hint, ok := notLeaderHint(vals[i]); ok {
				p.answer(n.forwardOne(ctx, b.args[i], b.ids[i], hint, o))
			} else {
				p.answer(vals[i])
			}
		}
	}
}

// forwardOne chases the leader of shard id for one call that was refused (or not sent): to
// the hinted leader, or the one this node learns of, at most forwardAttempts times. A shard
// that is electing is waited for by awaitLeader (leaderOf, in turn, counts a leader that was
// forgotten and cut off as none); a leader that cannot be reached, or keeps refusing, ends
// in CLUSTERDOWN quickly, as a minority must answer.
func (n *Node) forwardOne(ctx context.Context, args [][]byte, id, hint uint64, o execOpts) reply.Value {
	for attempt := 1; attempt < forwardAttempts; attempt++ {
		v, retry := n.forwardAttempt(ctx, args, id, hint, o, attempt)
		if !retry {
			return v
		}
		hint, _ = notLeaderHint(v)
	}
	return errClusterDown
}

// forwardAttempt makes one attempt of forwardOne, after a backoff that grows with attempt.
// retry reports a refusal or an unreachable leader, worth another attempt; v then holds the
// refusal (a notLeaderReply naming the next leader to try, if any), or is empty for an
// unreachable leader.
func (n *Node) forwardAttempt(ctx context.Context, args [][]byte, id, hint uint64, o execOpts, attempt int) (v reply.Value, retry bool) {
	select {
	case <-ctx.Done():
		return forwardErr(ctx.Err()), false
	case <-time.After(time.Duration(min(attempt, 10)) * 20 * time.Millisecond):
	}
	leader := hint
	if leader == 0 {
		leader = n.awaitLeader(ctx, id)
	}
	if leader == 0 {
		return errClusterDown, false
	}
	if leader == n.self {
		spec := n.table.Lookup(args)
		if spec == nil {
			return reply.ErrInternal, false
		}
		out := []reply.Value{{}}
		n.exec(ctx, []resp.Call{{Spec: spec, Args: args}}, out, execOpts{forwarded: true, readOnly: o.readOnly})
		v = out[0]
	} else {
		vals, err := n.callForward(ctx, leader, [][][]byte{args}, o.readOnly)
		if errors.Is(err, cluster.ErrUnreachable) {
			return reply.Value{}, true // not sent: safe to try again
		}
		if err != nil {
			return forwardErr(err), false
		}
		v = vals[0]
	}
	if next, ok := notLeaderHint(v); ok {
		if next == leader {
			v = notLeaderReply(0) // it named itself but refused: wait for the election to settle
		}
		return v, true
	}
	return v, false
}
