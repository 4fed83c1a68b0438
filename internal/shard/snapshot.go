package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"ferricd/internal/store"
)

// Span is a half-open key range [Start, End) of user data.
type Span struct{ Start, End []byte }

// SnapshotStateMachine is implemented by a StateMachine whose replicas can be caught up by
// snapshot. Without it the shard never sends or accepts one.
//
// Spans returns the key spans holding the shard's data; it is called once, at Start, and must
// describe the same spans for the shard's whole life and on every replica. Spans must be
// disjoint and must not touch the raft keys ('r' prefix).
//
// When a snapshot is installed, the shard goroutine calls SnapshotInstalling right before the
// spans are replaced (hide derived in-memory state from concurrent readers) and
// SnapshotInstalled right after, before any later Apply (reload it from Pebble). Neither may
// block for long; a failure to reload must panic, as an apply failure does.
type SnapshotStateMachine interface {
	StateMachine
	Spans(shardID uint64) []Span
	SnapshotInstalling(shardID uint64)
	SnapshotInstalled(shardID uint64)
}

// Snapshot tokens travel in raftpb.Snapshot.Data: magic | epoch (8B) | id (8B). The leader's
// names a pebble snapshot registered in its outbox; a receiver replaces it by one naming its
// staged SST files before stepping the message. Neither means anything to another process,
// and the epoch, drawn at Start, keeps a MsgSnap of an earlier Shard instance (still queued in
// a transport) from naming a snapshot of a later one.
var (
	outTokenMagic   = []byte("fsnd")
	stageTokenMagic = []byte("fstg")
)

func makeToken(magic []byte, epoch, id uint64) []byte {
	b := binary.BigEndian.AppendUint64(slices.Clone(magic), epoch)
	return binary.BigEndian.AppendUint64(b, id)
}

func parseToken(magic []byte, epoch uint64, data []byte) (uint64, bool) {
	if len(data) != len(magic)+16 || !bytes.HasPrefix(data, magic) ||
		binary.BigEndian.Uint64(data[len(magic):]) != epoch {
		return 0, false
	}
	return binary.BigEndian.Uint64(data[len(magic)+8:]), true
}

// initSnapshots fixes the shard's spans and empties its staging directory (leftovers of a
// crash or of a stop during a transfer).
func (s *Shard) initSnapshots() error {
	ssm, ok := s.cfg.SM.(SnapshotStateMachine)
	if !ok {
		return nil
	}
	spans, err := checkSpans(ssm.Spans(s.cfg.ShardID))
	if err != nil {
		return fmt.Errorf("shard %d: %w", s.cfg.ShardID, err)
	}
	s.snapSM, s.spans = ssm, spans
	s.out.epoch = newIncarnation()
	if s.cfg.SnapshotDir != "" {
		if err := s.fs.RemoveAll(s.stagingRoot()); err != nil {
			return fmt.Errorf("shard %d: clean snapshot staging: %w", s.cfg.ShardID, err)
		}
	}
	return nil
}

// checkSpans returns spans sorted, after checking that they are well formed, disjoint, and
// clear of the raft keys (an ingest covering both would lose one or the other).
func checkSpans(in []Span) ([]Span, error) {
	spans := make([]Span, len(in))
	for i, sp := range in {
		if len(sp.Start) == 0 || bytes.Compare(sp.Start, sp.End) >= 0 {
			return nil, fmt.Errorf("bad snapshot span [%q, %q)", sp.Start, sp.End)
		}
		spans[i] = Span{Start: slices.Clone(sp.Start), End: slices.Clone(sp.End)}
	}
	slices.SortFunc(spans, func(a, b Span) int { return bytes.Compare(a.Start, b.Start) })
	raftLo, raftHi := []byte{store.PrefixRaft}, []byte{store.PrefixRaft + 1}
	for i, sp := range spans {
		if i > 0 && bytes.Compare(spans[i-1].End, sp.Start) > 0 {
			return nil, fmt.Errorf("snapshot spans [%q, %q) and [%q, %q) overlap",
				spans[i-1].Start, spans[i-1].End, sp.Start, sp.End)
		}
		if bytes.Compare(sp.Start, raftHi) < 0 && bytes.Compare(raftLo, sp.End) < 0 {
			return nil, fmt.Errorf("snapshot span [%q, %q) overlaps the raft keys", sp.Start, sp.End)
		}
	}
	return spans, nil
}

// outSnap is a pebble snapshot taken for raft, waiting to be streamed.
type outSnap struct {
	id           uint64
	snap         *pebble.EventuallyFileOnlySnapshot
	index, term  uint64
	conf         *raftpb.ConfState
	created      time.Time
	to           uint64 // follower it was sent to, once the MsgSnap left the actor
	handedToSend bool
}

// outbox registers the snapshots raft asked for until SendSnapshot takes them, they expire,
// or the shard stops. It is shared by the actor and the transport's goroutines.
type outbox struct {
	epoch uint64 // set at Start, see makeToken

	mu     sync.Mutex
	next   uint64
	snaps  map[uint64]*outSnap
	closed bool
}

func (o *outbox) add(os *outSnap, limit int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || len(o.snaps) >= limit {
		return false
	}
	if o.snaps == nil {
		o.snaps = make(map[uint64]*outSnap)
	}
	o.next++
	os.id = o.next
	o.snaps[os.id] = os
	return true
}

// take removes and returns snapshot id; the caller closes it.
func (o *outbox) take(id uint64) *outSnap {
	o.mu.Lock()
	defer o.mu.Unlock()
	os := o.snaps[id]
	delete(o.snaps, id)
	return os
}

func (o *outbox) sentTo(id, to uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if os := o.snaps[id]; os != nil {
		os.to, os.handedToSend = to, true
	}
}

// expired removes and returns the snapshots older than ttl; the caller closes them.
func (o *outbox) expired(now time.Time, ttl time.Duration) []*outSnap {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*outSnap
	for id, os := range o.snaps {
		if now.Sub(os.created) > ttl {
			out = append(out, os)
			delete(o.snaps, id)
		}
	}
	return out
}

// closeAll releases every registered snapshot and refuses new ones.
func (o *outbox) closeAll() {
	o.mu.Lock()
	snaps := o.snaps
	o.snaps, o.closed = nil, true
	o.mu.Unlock()
	for _, os := range snaps {
		_ = os.snap.Close()
	}
}

// streamGate counts the SendSnapshot and ReceiveSnapshot calls in progress so that Stop can
// wait for them: they hold pebble snapshots and staging files.
type streamGate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (g *streamGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *streamGate) leave() { g.wg.Done() }

func (g *streamGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// takeSnapshot is storage.makeSnap: it runs on the actor, right after the apply batch of
// index was committed, so the pebble snapshot holds exactly the state at index.
func (s *Shard) takeSnapshot(index, term uint64, conf *raftpb.ConfState) ([]byte, error) {
	ranges := make([]pebble.KeyRange, len(s.spans))
	for i, sp := range s.spans {
		ranges[i] = pebble.KeyRange{Start: sp.Start, End: sp.End}
	}
	os := &outSnap{index: index, term: term, conf: conf, created: time.Now()}
	os.snap = s.cfg.DB.NewEventuallyFileOnlySnapshot(ranges)
	if !s.out.add(os, s.cfg.MaxOutgoingSnapshots) {
		_ = os.snap.Close()
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	s.log.Info("snapshot taken for a follower", "index", index, "term", term)
	return makeToken(outTokenMagic, s.out.epoch, os.id), nil
}

// noteSentSnapshots records to whom the MsgSnaps of a Ready go, so that an expired one can be
// reported failed, and releases them at once when there is no transport.
func (a *actor) noteSentSnapshots(msgs []*raftpb.Message) {
	for _, m := range msgs {
		if m.GetType() != raftpb.MsgSnap {
			continue
		}
		id, ok := parseToken(outTokenMagic, a.s.out.epoch, m.GetSnapshot().GetData())
		if !ok {
			continue
		}
		if a.cfg.Transport == nil {
			if os := a.s.out.take(id); os != nil {
				_ = os.snap.Close()
			}
			a.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
			continue
		}
		a.s.out.sentTo(id, m.GetTo())
	}
}

// expireSnapshots releases snapshots the transport never streamed (it may drop messages),
// and tells raft, which otherwise waits for a report forever before trying again.
func (a *actor) expireSnapshots(now time.Time) {
	for _, os := range a.s.out.expired(now, a.cfg.SnapshotTTL) {
		_ = os.snap.Close()
		a.log.Warn("snapshot never streamed, released", "index", os.index, "to", os.to)
		if os.handedToSend {
			a.rn.ReportSnapshot(os.to, raft.SnapshotFailure)
		}
	}
}

// SendSnapshot streams the data of m, a MsgSnap this shard handed to Transport.Send, to w:
// the snapshot's raft metadata and every key of the shard's spans as of its index, in the
// framed, checksummed format ReceiveSnapshot reads (see snapstream.go). The transport carries
// m itself separately. It runs on the caller's goroutine, concurrently with the shard; it
// returns an error if ctx ends, the shard stops, w fails, or the snapshot is unknown (already
// streamed, expired, or from another incarnation of the shard). Each snapshot can be streamed
// once: a retry needs a new MsgSnap, which raft sends after ReportSnapshot(to, false).
//
// Stop waits for SendSnapshot calls in progress, which notice it between frames; a transport
// must therefore not let a write to w block forever (deadlines, or closing the connection).
func (s *Shard) SendSnapshot(ctx context.Context, m *raftpb.Message, w io.Writer) error {
	if !s.streams.enter() {
		return ErrStopped
	}
	defer s.streams.leave()
	if m.GetType() != raftpb.MsgSnap {
		return fmt.Errorf("shard %d: SendSnapshot given a %v", s.cfg.ShardID, m.GetType())
	}
	id, ok := parseToken(outTokenMagic, s.out.epoch, m.GetSnapshot().GetData())
	if !ok {
		return fmt.Errorf("shard %d: MsgSnap carries no snapshot token of this shard instance", s.cfg.ShardID)
	}
	os := s.out.take(id)
	if os == nil {
		return fmt.Errorf("shard %d: snapshot %d already streamed or expired", s.cfg.ShardID, id)
	}
	defer os.snap.Close()
	if md := m.GetSnapshot().GetMetadata(); md.GetIndex() != os.index || md.GetTerm() != os.term {
		return fmt.Errorf("shard %d: MsgSnap at %d/%d does not match snapshot %d at %d/%d",
			s.cfg.ShardID, md.GetIndex(), md.GetTerm(), id, os.index, os.term)
	}
	err := s.writeSnapshot(ctx, os, w)
	if err != nil {
		return fmt.Errorf("shard %d: send snapshot at %d: %w", s.cfg.ShardID, os.index, err)
	}
	return nil
}

// alive returns ctx's error or ErrStopped once the shard stops.
func (s *Shard) alive(ctx context.Context) error {
	select {
	case <-s.stopC:
		return ErrStopped
	default:
		return ctx.Err()
	}
}

// ReportSnapshot tells raft how streaming a snapshot to node `to` ended. The transport must
// call it once per MsgSnap it was given, also when it dropped the message: until then raft
// sends that follower nothing else. ok means the follower received and stepped it. It blocks
// only while the shard's control queue is full.
func (s *Shard) ReportSnapshot(to uint64, ok bool) {
	status := raft.SnapshotFinish
	if !ok {
		status = raft.SnapshotFailure
	}
	s.control(func(a *actor) { a.rn.ReportSnapshot(to, status) })
}

// control queues fn to run on the actor; it is dropped if the shard stops first.
func (s *Shard) control(fn func(*actor)) bool {
	select {
	case <-s.stopC:
		return false
	default:
	}
	select {
	case s.ctrlC <- fn:
		return true
	case <-s.stopC:
		return false
	}
}

// errSnapshotsUnsupported is returned when the state machine cannot snapshot.
var errSnapshotsUnsupported = errors.New("shard: the state machine does not support snapshots")
