package shard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

// testSM appends every payload it is given to a per-shard list in Pebble:
// 'T'|shard|'n' holds the count, 'T'|shard|'p'|position holds index|payload. It is not
// idempotent on purpose: applying an entry twice shows up as a duplicate record.
type testSM struct {
	shardID uint64

	mu      sync.Mutex
	entries map[uint64]bool // distinct raft indexes seen in this process
	calls   int

	// If gate is non-nil, Apply signals entered (without blocking) and then waits for gate
	// to be closed.
	gate, entered chan struct{}

	installing, installed atomic.Int64
}

// Spans, SnapshotInstalling and SnapshotInstalled make testSM a SnapshotStateMachine: its
// data is everything under 'T'|shard.
func (m *testSM) Spans(shardID uint64) []Span {
	return []Span{smSpan(shardID)}
}

func smSpan(shardID uint64) Span {
	return Span{
		Start: binary.BigEndian.AppendUint64([]byte{'T'}, shardID),
		End:   binary.BigEndian.AppendUint64([]byte{'T'}, shardID+1),
	}
}

func (m *testSM) SnapshotInstalling(uint64) { m.installing.Add(1) }

func (m *testSM) SnapshotInstalled(uint64) {
	if m.installing.Load() != m.installed.Load()+1 {
		panic("SnapshotInstalled without SnapshotInstalling")
	}
	m.installed.Add(1)
}

// plainSM hides testSM's snapshot methods: a state machine that cannot snapshot.
type plainSM struct{ sm *testSM }

func (p plainSM) Apply(b *pebble.Batch, index uint64, payload []byte) any {
	return p.sm.Apply(b, index, payload)
}

func newTestSM(shardID uint64) *testSM {
	return &testSM{shardID: shardID, entries: make(map[uint64]bool)}
}

func smKey(shardID uint64, kind byte, pos uint64) []byte {
	k := make([]byte, 0, 18)
	k = append(k, 'T')
	k = binary.BigEndian.AppendUint64(k, shardID)
	k = append(k, kind)
	if kind == 'p' {
		k = binary.BigEndian.AppendUint64(k, pos)
	}
	return k
}

func (m *testSM) Apply(b *pebble.Batch, index uint64, payload []byte) any {
	if m.gate != nil {
		select {
		case m.entered <- struct{}{}:
		default:
		}
		<-m.gate
	}
	countKey := smKey(m.shardID, 'n', 0)
	var n uint64
	v, closer, err := b.Get(countKey)
	switch {
	case err == nil:
		n = binary.BigEndian.Uint64(v)
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		panic(err)
	}
	n++
	val := binary.BigEndian.AppendUint64(nil, index)
	val = append(val, payload...)
	if err := b.Set(smKey(m.shardID, 'p', n), val, nil); err != nil {
		panic(err)
	}
	if err := b.Set(countKey, binary.BigEndian.AppendUint64(nil, n), nil); err != nil {
		panic(err)
	}
	m.mu.Lock()
	m.entries[index] = true
	m.calls++
	m.mu.Unlock()
	return index
}

func (m *testSM) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

func (m *testSM) distinctEntries() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

type record struct {
	index   uint64
	payload string
}

// readRecords returns everything the test state machine of shardID applied, in order.
func readRecords(t testing.TB, db *pebble.DB, shardID uint64) []record {
	t.Helper()
	lo, hi := smKey(shardID, 'p', 0), smKey(shardID, 'p', ^uint64(0))
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []record
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		out = append(out, record{index: binary.BigEndian.Uint64(v), payload: string(v[8:])})
	}
	return out
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func openDB(t testing.TB, fs vfs.FS, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{
		FS:                 fs,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietLogger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func checkLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

func testConfig(db *pebble.DB, sm StateMachine) Config {
	return Config{
		ShardID:      7,
		NodeID:       1,
		Peers:        []uint64{1},
		DB:           db,
		SM:           sm,
		TickInterval: 10 * time.Millisecond,
	}
}

func mustStart(t testing.TB, cfg Config) *Shard {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type result struct {
	v   any
	err error
}

// submit submits and waits for the answer, failing the test after a timeout.
func submit(t testing.TB, s *Shard, payload string) (any, error) {
	t.Helper()
	ch := make(chan result, 1)
	s.Submit([]byte(payload), func(v any, err error) { ch <- result{v, err} })
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("submit %q: no answer", payload)
		return nil, nil
	}
}

// waitFor polls cond until it holds or the timeout expires.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// countingObserver counts observer events.
type countingObserver struct {
	syncs, committed, failed, leaderChanges atomic.Int64
}

func (o *countingObserver) SyncDone(uint64, time.Duration)     { o.syncs.Add(1) }
func (o *countingObserver) ProposalsCommitted(_ uint64, n int) { o.committed.Add(int64(n)) }
func (o *countingObserver) ProposalsFailed(_ uint64, n int)    { o.failed.Add(int64(n)) }
func (o *countingObserver) LeaderChanged(uint64)               { o.leaderChanges.Add(1) }

// testNet delivers raft messages between in-process shards, with per-node isolation. A
// MsgSnap is carried out of band, as a real transport does: a goroutine streams it from the
// sender's SendSnapshot to the receiver's ReceiveSnapshot over a pipe and reports the outcome
// to the sender.
type testNet struct {
	mu       sync.Mutex
	shards   map[uint64]*Shard
	isolated map[uint64]bool
	deaf     map[uint64]bool // receives nothing, but what it sends is delivered
	// mangle, if set, may alter each chunk written on a snapshot stream.
	mangle func(p []byte) []byte
	// dropSnaps loses MsgSnaps without a word to the sender, as a transport that drops a
	// message it cannot queue might.
	dropSnaps atomic.Bool
	active    atomic.Int64 // transfers in flight

	wg                   sync.WaitGroup
	snapsSent, snapsOK   atomic.Int64
	snapErrMu            sync.Mutex
	lastSendErr, lastErr error
}

func newTestNet() *testNet {
	return &testNet{shards: make(map[uint64]*Shard), isolated: make(map[uint64]bool), deaf: make(map[uint64]bool)}
}

// wait waits for the snapshot transfers in flight (they end once either side stops).
func (n *testNet) wait() { n.wg.Wait() }

func (n *testNet) setMangle(f func([]byte) []byte) {
	n.mu.Lock()
	n.mangle = f
	n.mu.Unlock()
}

type mangleWriter struct {
	w io.Writer
	f func([]byte) []byte
}

func (m mangleWriter) Write(p []byte) (int, error) {
	if _, err := m.w.Write(m.f(append([]byte(nil), p...))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n *testNet) sendSnapshot(fromID uint64, m *raftpb.Message) {
	n.mu.Lock()
	from, to := n.shards[fromID], n.shards[m.GetTo()]
	cut := n.isolated[fromID] || n.isolated[m.GetTo()]
	mangle := n.mangle
	n.mu.Unlock()
	if from == nil || n.dropSnaps.Load() {
		return
	}
	n.snapsSent.Add(1)
	n.active.Add(1)
	n.wg.Go(func() {
		defer n.active.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if to == nil || cut {
			// Dropped on the way: the sender still learns it failed.
			_ = from.SendSnapshot(ctx, m, io.Discard)
			from.ReportSnapshot(m.GetTo(), false)
			return
		}
		pr, pw := io.Pipe()
		var w io.Writer = pw
		if mangle != nil {
			w = mangleWriter{w: pw, f: mangle}
		}
		sent := make(chan error, 1)
		go func() {
			err := from.SendSnapshot(ctx, m, w)
			pw.CloseWithError(err)
			sent <- err
		}()
		// A real transport serializes: the receiver gets its own copy.
		recvErr := to.ReceiveSnapshot(ctx, proto.Clone(m).(*raftpb.Message), pr)
		pr.CloseWithError(errors.New("receiver done"))
		sendErr := <-sent
		n.snapErrMu.Lock()
		n.lastSendErr, n.lastErr = sendErr, recvErr
		n.snapErrMu.Unlock()
		ok := sendErr == nil && recvErr == nil
		if ok {
			n.snapsOK.Add(1)
		}
		from.ReportSnapshot(m.GetTo(), ok)
	})
}

func (n *testNet) lastSnapErrs() (send, recv error) {
	n.snapErrMu.Lock()
	defer n.snapErrMu.Unlock()
	return n.lastSendErr, n.lastErr
}

func (n *testNet) set(id uint64, s *Shard) {
	n.mu.Lock()
	n.shards[id] = s
	n.mu.Unlock()
}

func (n *testNet) isolate(id uint64, on bool) {
	n.mu.Lock()
	n.isolated[id] = on
	n.mu.Unlock()
}

// deafen cuts (on) or restores the messages sent to id, leaving those it sends alone.
func (n *testNet) deafen(id uint64, on bool) {
	n.mu.Lock()
	n.deaf[id] = on
	n.mu.Unlock()
}

type netEndpoint struct {
	net  *testNet
	from uint64
}

func (e netEndpoint) Send(_ uint64, msgs []*raftpb.Message) {
	for _, m := range msgs {
		if m.GetType() == raftpb.MsgSnap {
			e.net.sendSnapshot(e.from, proto.Clone(m).(*raftpb.Message))
			continue
		}
		e.net.mu.Lock()
		to := e.net.shards[m.GetTo()]
		cut := e.net.isolated[e.from] || e.net.isolated[m.GetTo()] || e.net.deaf[m.GetTo()]
		e.net.mu.Unlock()
		if to == nil || cut {
			continue
		}
		// A real transport serializes: never share a message between two RawNodes.
		_ = to.Step(proto.Clone(m).(*raftpb.Message))
	}
}
