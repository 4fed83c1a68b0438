package node

// Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
//
// A blocking command's Run is an ordinary replicated write that serves at once when it can
// and otherwise returns reply.Blocked having written nothing. The node turns that into
// waiting, on the client's own goroutine:
//
//  1. the client is parked as a waiter at the back of the FIFO of each of its keys, BEFORE
//     its first attempt is proposed, so that no write applied after that moment can be
//     missed;
//  2. an attempt is proposed through raft like any write; a reply other than Blocked (an
//     element, an error) ends the command;
//  3. otherwise it waits for a wake, its timeout (null array, as Redis answers a timeout),
//     CLIENT UNBLOCK, or the end of its connection;
//  4. Apply, on every replica that applies a write, wakes the waiter at the head of the
//     FIFO of each key the write names (any write: a wake is only a hint to try again);
//  5. a waiter that leaves (served, timed out, unblocked, gone) wakes the new head of each
//     of its keys: that is the chain that serves the next waiter when one push brought
//     several elements, and hands on a wake the leaver may have swallowed.
//
// So waiters are served in the order they blocked, a push of N elements serves N waiters
// (the (N+1)th tries once, finds nothing and waits on in its place), and only heads are
// woken, so a push to a key with a thousand waiters costs one retry, not a thousand.
//
// Departures from Redis, written down:
//   - Redis serves the waiters inside the pushing command's event-loop turn; here a woken
//     waiter proposes a new entry, so a client that is not blocked (an LPOP, or a BLPOP that
//     finds data on its first attempt) can take the element between the push and the
//     waiter's retry. The waiter then waits on at the head of its queue.
//   - When a woken waiter's retry finds a key of another type (WRONGTYPE), it waits on, as
//     Redis 7.0 keeps a client blocked on a key that turned into another type.
//   - Inside MULTI a blocking command never blocks (tx.go answers it as timed out).
//   - A node that holds no replica of the shard (large clusters) sees no applies for the
//     key; its waiters retry every blockPollInterval instead.

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/reply"
	"ferricd/internal/resp"
)

// blockPollInterval is how often a waiter retries when no local replica can wake it.
const blockPollInterval = 100 * time.Millisecond

// errUnblocked is the reply of a client unblocked by CLIENT UNBLOCK ... ERROR (Redis' text).
var errUnblocked = reply.Err("UNBLOCKED client unblocked via CLIENT UNBLOCK")

// waiter is one client parked in a blocking command.
type waiter struct {
	keys   []string
	client uint64 // connection id; 0 when the call has no session (tests, internal calls)
	// wake has room for one signal: a wake that arrives while the waiter is trying is kept
	// for its next wait, and further wakes add nothing.
	wake chan struct{}
	// unblock carries CLIENT UNBLOCK's choice: true for ERROR, false for TIMEOUT.
	unblock chan bool
}

func (w *waiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// blockedClients is the node's registry of waiters, by key (FIFO) and by client. Its methods
// are called by client goroutines and, for wakeKeys, by every shard's apply goroutine.
type blockedClients struct {
	// n is the number of waiters, read without the lock by the apply path so that a node
	// with no blocked client pays one atomic load per write.
	n        atomic.Int64
	mu       sync.Mutex
	byKey    map[string][]*waiter
	byClient map[uint64]*waiter
}

func newBlockedClients() *blockedClients {
	return &blockedClients{byKey: map[string][]*waiter{}, byClient: map[uint64]*waiter{}}
}

// count returns the number of parked clients (INFO blocked_clients).
func (b *blockedClients) count() int64 { return b.n.Load() }

// add appends w to the back of the queue of each of its keys.
func (b *blockedClients) add(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range w.keys {
		b.byKey[k] = append(b.byKey[k], w)
	}
	if w.client != 0 {
		b.byClient[w.client] = w
	}
	b.n.Add(1)
}

// remove takes w out of every queue and wakes the new head of each.
func (b *blockedClients) remove(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range w.keys {
		q := b.byKey[k]
		for i, x := range q {
			if x == w {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(b.byKey, k)
			continue
		}
		b.byKey[k] = q
		q[0].signal()
	}
	if b.byClient[w.client] == w {
		delete(b.byClient, w.client)
	}
	b.n.Add(-1)
}

// wakeKeys wakes the head waiter of each of keys. It must not block: it runs on a shard's
// apply goroutine. A nil registry (a Node built bare by a test of Apply) wakes nobody.
func (b *blockedClients) wakeKeys(keys [][]byte) {
	if b == nil || b.n.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if q := b.byKey[string(k)]; len(q) > 0 {
			q[0].signal()
		}
	}
}

// unblock hands CLIENT UNBLOCK's choice to client id's waiter; false when it is not blocked.
func (b *blockedClients) unblock(id uint64, withError bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.byClient[id]
	if !ok {
		return false
	}
	select {
	case w.unblock <- withError:
		return true
	default:
		return false // already being unblocked
	}
}

// Unblock implements resp.Unblocker (CLIENT UNBLOCK).
func (n *Node) Unblock(clientID uint64, withError bool) bool {
	return n.blocked.unblock(clientID, withError)
}

// blockTimeout returns the timeout of a blocking call (0: none). Run has validated it on the
// first attempt already; what fails to parse here is answered by that attempt.
func blockTimeout(spec *command.Spec, args [][]byte) time.Duration {
	i := spec.BlockTimeoutArg
	if i < 0 {
		i += len(args)
	}
	if i <= 0 || i >= len(args) {
		return 0
	}
	f, err := strconv.ParseFloat(string(args[i]), 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	ms := math.Ceil(f * 1000)
	if ms >= float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0 // beyond any lifetime: as good as forever
	}
	return time.Duration(ms) * time.Millisecond
}

// execBlocking runs a blocking call to its end: served, failed, timed out, unblocked, or its
// connection gone (the reply is then never sent).
func (n *Node) execBlocking(ctx context.Context, c resp.Call, o execOpts) reply.Value {
	keys := c.Spec.KeyArgs(c.Args)
	w := &waiter{keys: make([]string, len(keys)), wake: make(chan struct{}, 1), unblock: make(chan bool, 1)}
	for i, k := range keys {
		w.keys[i] = string(k)
	}
	if sess, ok := resp.SessionFromContext(ctx); ok {
		w.client = sess.ID
	}
	n.blocked.add(w)
	defer n.blocked.remove(w)

	var deadline <-chan time.Time
	if d := blockTimeout(c.Spec, c.Args); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	var poll <-chan time.Time
	if !n.holdsShardsOf(keys) {
		tk := time.NewTicker(blockPollInterval)
		defer tk.Stop()
		poll = tk.C
	}
	stopWatch := func() {}
	defer func() { stopWatch() }()

	once := o
	once.blockOnce = true
	for attempt := 0; ; attempt++ {
		out := []reply.Value{{}}
		n.exec(ctx, []resp.Call{c}, out, once)
		v := out[0]
		if v.Kind != reply.KindBlocked && !(attempt > 0 && isWrongType(v)) {
			return v
		}
		if attempt == 0 {
			// Parked from now on: notice the client hanging up while it waits.
			stopWatch = resp.WatchHangup(ctx)
		}
		select {
		case <-w.wake:
		case <-poll:
		case <-deadline:
			return reply.NullArray
		case withErr := <-w.unblock:
			if withErr {
				return errUnblocked
			}
			return reply.NullArray
		case <-ctx.Done():
			return reply.NullArray
		}
	}
}

func isWrongType(v reply.Value) bool {
	return v.Kind == reply.KindError && len(v.Str) >= 9 && string(v.Str[:9]) == "WRONGTYPE"
}

// holdsShardsOf reports whether this node has a local replica of every shard owning keys,
// so that its applies wake waiters on them.
func (n *Node) holdsShardsOf(keys [][]byte) bool {
	var buf [4]uint64
	for _, id := range n.shardsOf(buf[:0], keys) {
		if n.shardFor(id) == nil {
			return false
		}
	}
	return true
}
