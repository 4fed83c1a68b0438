package resp

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//
// The connection owns the queue. Between MULTI and EXEC every command except EXEC, DISCARD,
// MULTI, WATCH, QUIT and RESET is checked as usual and queued (+QUEUED) instead of run, as
// Redis does; one rejected while queueing (unknown, wrong arity, a no-multi command, or a
// refusal of the Backend's CheckQueued: CROSSSLOT, MOVED) gets its error at once and makes
// EXEC answer EXECABORT. EXEC hands the queued data and server commands to the Backend's
// ExecTx as one transaction, then runs the queued connection commands (PING, ECHO, CLIENT
// ...) in their places: they touch no data, so running them after the data commands changes
// no reply except the protocol of the array (a HELLO inside MULTI takes effect from the
// next command on, not part way through the EXEC reply).
//
// WATCH asks the Backend for the version (last-write index) of each key and keeps it; EXEC
// passes the watched keys to ExecTx, which runs the transaction only if none changed. EXEC,
// DISCARD, RESET and UNWATCH forget the watched keys; so does a connection's end.

import (
	"bytes"
	"context"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/reply"
)

// Watched is a key WATCH recorded and the version the Backend reported for it.
type Watched struct {
	Key     []byte
	Version uint64
}

// Transactor is the part of the Backend that runs transactions. Its methods are called on
// the connection's goroutine, one at a time per connection, concurrently with every other
// connection's calls.
type Transactor interface {
	// CheckQueued is asked before c joins a transaction whose calls so far are queued
	// (connection commands among them, which name no keys): an error reply refuses c and
	// aborts the transaction (keys that no one shard holds: CROSSSLOT; with cluster
	// redirection, keys another node serves: MOVED); an empty Value accepts it.
	CheckQueued(ctx context.Context, queued []Call, c Call) reply.Value
	// ExecTx runs calls (no KindConn command among them) as one transaction, after
	// checking that no watched key changed since WATCH, and fills out[i] with the reply of
	// calls[i] (ran is true). Otherwise nothing ran and abort answers the whole EXEC:
	// reply.NullArray when a watched key changed, or an error. No reply it sets is a
	// KindStream.
	ExecTx(ctx context.Context, watched []Watched, calls []Call, out []reply.Value) (abort reply.Value, ran bool)
	// Watch returns the current version of each key, or the error that answers WATCH.
	Watch(ctx context.Context, keys [][]byte) ([]uint64, reply.Value)
}

var (
	errNestedMulti   = reply.Err("ERR MULTI calls can not be nested")
	errExecNoMulti   = reply.Err("ERR EXEC without MULTI")
	errDiscardNoMult = reply.Err("ERR DISCARD without MULTI")
	errWatchInMulti  = reply.Err("ERR WATCH inside MULTI is not allowed")
	errNotInMulti    = reply.Err("ERR Command not allowed inside a transaction")
	errExecAbort     = reply.Err("EXECABORT Transaction discarded because of previous errors.")
	errQueueTooBig   = reply.Err("ERR the commands queued in MULTI exceed client-query-buffer-limit; the transaction will be discarded")
)

// txState is the connection's transaction in progress (nil outside MULTI).
type txState struct {
	queued []Call
	bytes  int64 // the queued arguments' size
	dirty  bool  // a command was refused while queueing: EXEC aborts
}

// runsInMulti reports whether spec runs at once inside MULTI instead of being queued.
func runsInMulti(spec *command.Spec) bool {
	if spec == nil {
		return false
	}
	switch spec.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// queue adds a command to the transaction and returns its reply: +QUEUED, or the error
// that refuses it (rejected, when check already refused it).
func (c *conn) queue(spec *command.Spec, args [][]byte, rejected reply.Value) reply.Value {
	tx := c.tx
	if rejected.Kind == reply.KindError {
		tx.dirty = true
		return rejected
	}
	if spec.Flags&command.FlagNoMulti != 0 {
		tx.dirty = true
		return errNotInMulti
	}
	size := int64(0)
	for _, a := range args {
		size += int64(len(a))
	}
	if tx.bytes+size > c.limits().maxQuery {
		// Redis has no such bound, but an unbounded queue is how one client exhausts the
		// server's memory. The queue is dropped at once; EXEC will abort.
		tx.queued, tx.dirty = nil, true
		return errQueueTooBig
	}
	tx.bytes += size
	call := Call{Spec: spec, Args: cloneArgs(args)}
	if spec.Kind != command.KindConn {
		if v := c.srv.cfg.Backend.CheckQueued(c.ctx, tx.queued, call); v.Kind == reply.KindError {
			tx.dirty = true
			return v
		}
	}
	tx.queued = append(tx.queued, call)
	c.setMulti(len(tx.queued))
	return reply.Queued
}

// cloneArgs copies args out of the reader's buffer, which the next read reuses, into one
// allocation.
func cloneArgs(args [][]byte) [][]byte {
	size := 0
	for _, a := range args {
		size += len(a)
	}
	buf := make([]byte, 0, size)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// rejectInMulti answers a command that runs at once inside MULTI but failed check (wrong
// arity): Redis flags the transaction, and for EXEC itself discards it with the reason.
func (c *conn) rejectInMulti(spec *command.Spec, rejected reply.Value) reply.Value {
	if spec.Name != "exec" {
		c.tx.dirty = true
		return rejected
	}
	c.discardTx()
	msg := bytes.TrimPrefix(rejected.Str, []byte("ERR "))
	return reply.Err("EXECABORT Transaction discarded because of: " + string(msg))
}

func (c *conn) multi() reply.Value {
	if c.tx != nil {
		return errNestedMulti
	}
	c.tx = &txState{}
	c.setMulti(0)
	return reply.OK
}

func (c *conn) discard() reply.Value {
	if c.tx == nil {
		return errDiscardNoMult
	}
	c.discardTx()
	return reply.OK
}

// discardTx ends the transaction and forgets the watched keys.
func (c *conn) discardTx() {
	c.tx = nil
	c.watched = nil
	c.setMulti(-1)
}

// setMulti publishes the queue's length (-1: not in MULTI) for CLIENT LIST.
func (c *conn) setMulti(n int) {
	c.mu.Lock()
	c.st.multi = n
	c.mu.Unlock()
}

func (c *conn) watch(args [][]byte) reply.Value {
	if c.tx != nil {
		return errWatchInMulti
	}
	keys := args[1:]
	versions, v := c.srv.cfg.Backend.Watch(c.ctx, keys)
	if v.Kind == reply.KindError {
		return v
	}
	for i, k := range keys {
		c.watched = append(c.watched, Watched{Key: bytes.Clone(k), Version: versions[i]})
	}
	return reply.OK
}

// exec runs the transaction: the data and server commands through the Backend as one unit,
// then the connection commands in their places.
func (c *conn) exec() reply.Value {
	if c.tx == nil {
		return errExecNoMulti
	}
	tx, watched := c.tx, c.watched
	c.discardTx()
	if tx.dirty {
		return errExecAbort
	}
	start := time.Now()
	var data []Call
	for _, call := range tx.queued {
		if call.Spec.Kind != command.KindConn {
			data = append(data, call)
		}
	}
	out := make([]reply.Value, len(data))
	if len(data) > 0 || len(watched) > 0 {
		if abort, ran := c.srv.cfg.Backend.ExecTx(c.ctx, watched, data, out); !ran {
			return abort
		}
	}
	replies := make([]reply.Value, len(tx.queued))
	next := 0
	for i, call := range tx.queued {
		if call.Spec.Kind == command.KindConn {
			replies[i] = c.runConn(call.Spec, call.Args)
			continue
		}
		replies[i] = out[next]
		next++
	}
	// Redis counts a transaction's commands when EXEC runs them.
	each := time.Since(start) / time.Duration(max(len(tx.queued), 1))
	for i, call := range tx.queued {
		c.srv.obs.CommandDone(call.Spec.Name, each, replies[i].IsError())
	}
	return reply.Array(replies...)
}
