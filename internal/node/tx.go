package node

// Transactions (MULTI/EXEC/WATCH), resp.Transactor.
//
// A transaction's key commands must all be on one shard (and so must its watched keys):
// they then travel as one kindMulti raft entry and apply on one Txn, in order, with nothing
// between them, on every replica alike: atomic and isolated as in Redis, and durable like
// any write. A transaction without writes is not proposed: it runs on one Pebble snapshot
// taken after the shard's read barrier. Keys on several shards answer CROSSSLOT, when the
// command is queued and again at EXEC (the cross-shard protocol of DESIGN.md §6 is not
// built yet).
//
// Server commands (FLUSHALL, DBSIZE, INFO, KEYS, ...) inside a transaction run at their
// place between the parts of the transaction before and after them, each part atomic on
// its own: the transaction as a whole is then not isolated from other clients. Redis runs
// them atomically with the rest; ferricd cannot without the cross-shard protocol, since
// they span every shard.
//
// Inside a transaction, a blocking command never blocks: with nothing to serve it answers
// as Redis 7.0 does there, a null array (BLMOVE and BRPOPLPUSH: a null bulk string).
//
// The leader of the shard runs the transaction: a node that does not lead it forwards the
// whole transaction as one txOp call (askLeader), or with --cluster-redirect answers MOVED
// (at queue time, so that cluster clients send the transaction to the right node).
//
// WATCH reads each key's version, the raft index of its last write (0: absent or expired),
// on the shard's leader after a read barrier. Apply compares them before running the
// commands; any write in between (even of the same value), a deletion or an expiry changes
// the version and EXEC answers a null array. A key that was absent at WATCH, then created
// and deleted again before EXEC, is not seen as changed (Redis would abort).

import (
	"context"
	"encoding/binary"
	"errors"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/resp"
	"ferricd/internal/shard"
)

const (
	// txOp, as a forwarded call's first argument, asks the leader of the shard named by the
	// second (8 bytes, big-endian) to run a transaction: the arguments after it are those of
	// a kindMulti payload (watched keys, then one argument list per command).
	txOp = "\x00tx"
	// watchOp asks the leader of the shard named by the second argument for the version of
	// each key in the arguments after it (an array of integers).
	watchOp = "\x00watch"
)

// CheckQueued implements resp.Transactor.
func (n *Node) CheckQueued(_ context.Context, queued []resp.Call, c resp.Call) reply.Value {
	keys := txKeys(c)
	if len(keys) == 0 {
		return reply.Value{}
	}
	var buf [4]uint64
	ids := n.shardsOf(buf[:0], keys)
	if len(ids) != 1 {
		return reply.ErrCrossSlot
	}
	if id, ok := n.txShard(nil, queued); ok && id != ids[0] {
		return reply.ErrCrossSlot
	}
	if n.redirect && n.bus != nil {
		if leader := n.leaderOf(ids[0]); leader != 0 && leader != n.self {
			return n.moved(c, leader)
		}
	}
	return reply.Value{}
}

// txShard returns the shard of the first key among watched and calls; ok is false when
// there is none.
func (n *Node) txShard(watched []resp.Watched, calls []resp.Call) (uint64, bool) {
	if len(watched) > 0 {
		return n.shardOfKey(watched[0].Key), true
	}
	for _, c := range calls {
		if keys := txKeys(c); len(keys) > 0 {
			return n.shardOfKey(keys[0]), true
		}
	}
	return 0, false
}

// txKeys returns the keys that route c within a transaction: none for a server command,
// nor for a malformed command (a bad numkeys, say), whose keys are meaningless and which
// answers its error when it runs, as in Redis Cluster.
func txKeys(c resp.Call) [][]byte {
	if c.Spec.Kind == command.KindServer {
		return nil
	}
	if c.Spec.Validate != nil {
		if _, ok := c.Spec.Validate(c.Args); !ok {
			return nil
		}
	}
	return c.Spec.KeyArgs(c.Args)
}

// txRoute returns the one shard that holds every key of the transaction (shard 1 when it
// names none), or ok false when they are on several.
func (n *Node) txRoute(watched []resp.Watched, calls []resp.Call) (id uint64, ok bool) {
	id, keyed := n.txShard(watched, calls)
	if !keyed {
		return 1, true
	}
	for _, w := range watched {
		if n.shardOfKey(w.Key) != id {
			return 0, false
		}
	}
	for _, c := range calls {
		for _, k := range txKeys(c) {
			if n.shardOfKey(k) != id {
				return 0, false
			}
		}
	}
	return id, true
}

// ExecTx implements resp.Transactor.
func (n *Node) ExecTx(ctx context.Context, watched []resp.Watched, calls []resp.Call, out []reply.Value) (reply.Value, bool) {
	id, ok := n.txRoute(watched, calls)
	if !ok {
		return reply.ErrCrossSlot, false
	}
	for _, c := range calls {
		if n.overMemory(c.Spec) {
			return reply.Err("EXECABORT Transaction discarded because of: " + string(errOOM.Str)), false
		}
	}
	// Parts between server commands; the first carries the watched keys.
	start := 0
	for i := 0; i <= len(calls); i++ {
		if i < len(calls) && calls[i].Spec.Kind != command.KindServer {
			continue
		}
		if i > start || start == 0 && len(watched) > 0 {
			var w []resp.Watched
			if start == 0 {
				w = watched
			}
			if abort, ran := n.txPart(ctx, id, w, calls[start:i], out[start:i]); !ran {
				if start == 0 {
					return abort, false
				}
				for j := start; j < i; j++ {
					out[j] = abort
				}
			}
		}
		if i < len(calls) {
			out[i] = wholeReply(calls[i].Spec.Server(ctx, n, calls[i].Args))
		}
		start = i + 1
	}
	return reply.Value{}, true
}

// txPart runs calls, all key commands of shard id, as one unit at the shard's leader.
func (n *Node) txPart(ctx context.Context, id uint64, watched []resp.Watched, calls []resp.Call, out []reply.Value) (reply.Value, bool) {
	op := make([][]byte, 0, 3+len(calls))
	op = append(op, []byte(txOp), binary.BigEndian.AppendUint64(nil, id), encodeWatched(watched))
	for _, c := range calls {
		op = append(op, appendArgs(make([]byte, 0, argsSize(c.Args)), c.Args))
	}
	if n.redirect && n.bus != nil {
		leader := n.awaitLeader(ctx, id)
		switch {
		case leader == 0:
			return errClusterDown, false
		case leader != n.self:
			for _, c := range calls {
				if len(c.Spec.KeyArgs(c.Args)) > 0 {
					return n.moved(c, leader), false
				}
			}
		}
	}
	v := n.askLeader(ctx, id, op, n.txLocal)
	if v.Kind != reply.KindArray {
		return v, false
	}
	if len(v.Elems) != len(calls) {
		return reply.ErrInternal, false
	}
	copy(out, v.Elems)
	return reply.Value{}, true
}

func encodeWatched(watched []resp.Watched) []byte {
	args := make([][]byte, 0, 2*len(watched))
	for _, w := range watched {
		args = append(args, w.Key, binary.BigEndian.AppendUint64(nil, w.Version))
	}
	return appendArgs(nil, args)
}

func decodeWatched(b []byte) ([]resp.Watched, error) {
	args, err := decodeArgs(b)
	if err != nil || len(args)%2 != 0 {
		return nil, errBadPayload
	}
	watched := make([]resp.Watched, len(args)/2)
	for i := range watched {
		v := args[2*i+1]
		if len(v) != 8 {
			return nil, errBadPayload
		}
		watched[i] = resp.Watched{Key: args[2*i], Version: binary.BigEndian.Uint64(v)}
	}
	return watched, nil
}

// decodeTxCommands decodes a kindMulti payload's commands (every argument after the
// watched keys), checking that each is a well-formed key command.
func (n *Node) decodeTxCommands(encoded [][]byte) ([]resp.Call, error) {
	calls := make([]resp.Call, len(encoded))
	for i, e := range encoded {
		args, err := decodeArgs(e)
		if err != nil {
			return nil, err
		}
		spec := n.table.Lookup(args)
		if spec == nil || spec.Kind != command.KindKeyRead && spec.Kind != command.KindKeyWrite || !spec.CheckArity(len(args)) {
			return nil, errBadPayload
		}
		calls[i] = resp.Call{Spec: spec, Args: args}
	}
	return calls, nil
}

// txLocal runs a txOp call on this node if it leads the shard: proposed as one kindMulti
// entry when it writes, else read from one snapshot.
func (n *Node) txLocal(ctx context.Context, args [][]byte) reply.Value {
	if len(args) < 3 {
		return reply.ErrInternal
	}
	s, refusal := n.ledShard(args[:2], 2)
	if s == nil {
		return refusal
	}
	watched, err := decodeWatched(args[2])
	if err != nil {
		return reply.ErrInternal
	}
	calls, err := n.decodeTxCommands(args[3:])
	if err != nil {
		return reply.ErrInternal
	}
	writes := false
	for _, c := range calls {
		writes = writes || c.Spec.Kind == command.KindKeyWrite
	}
	if !writes {
		return n.snapshotRead(ctx, s, func(tx *keyspace.Txn) reply.Value {
			if held, err := watchesHold(tx, watched); err != nil {
				return reply.ErrInternal
			} else if !held {
				return reply.NullArray
			}
			vals := make([]reply.Value, len(calls))
			for i, c := range calls {
				vals[i] = wholeReply(c.Spec.Run(tx, c.Args))
			}
			n.countHits(tx)
			return reply.Array(vals...)
		})
	}
	p := newPending()
	n.propose(s, encodePayload(kindMulti, n.nowMs(), args[2:]), func(v reply.Value, refused bool, leader uint64) {
		if refused {
			v = notLeaderReply(leader) // never proposed: askLeader may send it to the leader
		}
		p.answer(v)
	})
	return n.wait(ctx, p)
}

// snapshotRead runs fn on a read Txn over one Pebble snapshot taken after s's read barrier.
// A barrier that fails on a leader change answers notLeaderReply, which askLeader follows:
// a read is safe to repeat at the new leader.
func (n *Node) snapshotRead(ctx context.Context, s *shard.Shard, fn func(tx *keyspace.Txn) reply.Value) reply.Value {
	if err := s.ReadBarrier(ctx); err != nil {
		var nl shard.NotLeaderError
		if errors.As(err, &nl) || errors.Is(err, shard.ErrTryAgain) {
			return notLeaderReply(nl.LeaderID)
		}
		return submitErr(err)
	}
	snap := n.db.NewSnapshot()
	defer snap.Close()
	tx := keyspace.NewReadTxn(snap, n.nowMs(), n.counts)
	defer tx.Close()
	return fn(tx)
}

// wholeReply builds a streamed reply whole: an EXEC reply is one array, forwarded whole
// between nodes.
func wholeReply(v reply.Value) reply.Value {
	m, err := reply.Materialize(v)
	if err != nil {
		return reply.ErrInternal
	}
	return m
}

// watchesHold reports whether every watched key still has its version.
func watchesHold(tx *keyspace.Txn, watched []resp.Watched) (bool, error) {
	for _, w := range watched {
		v, err := tx.LastWrite(w.Key)
		if err != nil {
			return false, err
		}
		if v != w.Version {
			return false, nil
		}
	}
	return true, nil
}

// applyTx applies a kindMulti payload on tx: the watched keys are checked, then every
// command runs in order. Its reply is the EXEC array, or a null array when a watched key
// changed.
func (n *Node) applyTx(tx *keyspace.Txn, index uint64, args [][]byte) reply.Value {
	if len(args) == 0 {
		return reply.ErrInternal
	}
	watched, err := decodeWatched(args[0])
	if err != nil {
		n.log.Error("undecodable transaction", "index", index, "err", err)
		return reply.ErrInternal
	}
	calls, err := n.decodeTxCommands(args[1:])
	if err != nil {
		n.log.Error("undecodable transaction", "index", index, "err", err)
		return reply.ErrInternal
	}
	held, err := watchesHold(tx, watched)
	if err != nil {
		panic("apply transaction: read watched keys: " + err.Error())
	}
	if !held {
		return reply.NullArray
	}
	vals := make([]reply.Value, len(calls))
	for i, c := range calls {
		v := c.Spec.Run(tx, c.Args)
		switch {
		case v.Kind == reply.KindBlocked:
			v = blockedInMulti(c.Spec)
		case c.Spec.Kind == command.KindKeyWrite && v.Kind != reply.KindError:
			n.blocked.wakeKeys(c.Spec.KeyArgs(c.Args))
		}
		vals[i] = v
	}
	return reply.Array(vals...)
}

// blockedInMulti is what a blocking command with nothing to serve answers inside a
// transaction: Redis 7.0 runs it as if its timeout had passed, and BLMOVE and BRPOPLPUSH
// then reply a null bulk string where the others reply a null array.
func blockedInMulti(spec *command.Spec) reply.Value {
	switch spec.Name {
	case "blmove", "brpoplpush":
		return reply.Null
	}
	return reply.NullArray
}

// Watch implements resp.Transactor.
func (n *Node) Watch(ctx context.Context, keys [][]byte) ([]uint64, reply.Value) {
	var buf [4]uint64
	ids := n.shardsOf(buf[:0], keys)
	if len(ids) != 1 {
		return nil, reply.ErrCrossSlot
	}
	op := append([][]byte{[]byte(watchOp), binary.BigEndian.AppendUint64(nil, ids[0])}, keys...)
	v := n.askLeader(ctx, ids[0], op, n.watchLocal)
	if v.Kind != reply.KindArray {
		return nil, v
	}
	if len(v.Elems) != len(keys) {
		return nil, reply.ErrInternal
	}
	versions := make([]uint64, len(keys))
	for i, e := range v.Elems {
		versions[i] = uint64(e.Int)
	}
	return versions, reply.Value{}
}

// watchLocal answers a watchOp call if this node leads the shard.
func (n *Node) watchLocal(ctx context.Context, args [][]byte) reply.Value {
	if len(args) < 3 {
		return reply.ErrInternal
	}
	s, refusal := n.ledShard(args[:2], 2)
	if s == nil {
		return refusal
	}
	return n.snapshotRead(ctx, s, func(tx *keyspace.Txn) reply.Value {
		vals := make([]reply.Value, len(args)-2)
		for i, k := range args[2:] {
			v, err := tx.LastWrite(k)
			if err != nil {
				return reply.ErrInternal
			}
			vals[i] = reply.Int(int64(v))
		}
		return reply.Array(vals...)
	})
}
