package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// stagedSnap is a received snapshot written to SST files, on its way to the actor. Whoever
// owns it removes its directory: the receiver until the actor takes it, the actor after.
type stagedSnap struct {
	id    uint64
	dir   string
	files []string
	done  chan error // buffered: the actor never blocks answering
	state atomic.Int32
}

const (
	stageQueued int32 = iota
	stageTaken
	stageAbandoned
)

func (ss *stagedSnap) take() bool    { return ss.state.CompareAndSwap(stageQueued, stageTaken) }
func (ss *stagedSnap) abandon() bool { return ss.state.CompareAndSwap(stageQueued, stageAbandoned) }

func (s *Shard) stagingRoot() string {
	return s.fs.PathJoin(s.cfg.SnapshotDir, strconv.FormatUint(s.cfg.ShardID, 10))
}

// ReceiveSnapshot reads a snapshot stream written by the leader's SendSnapshot for m (the
// MsgSnap the transport carried alongside), writes it into SST files under
// SnapshotDir/<shard>, checks it (checksums, completeness, metadata equal to m's, spans equal
// to this replica's), and steps m into raft with Data naming the staged files. It returns
// once m was stepped and, if raft accepted the snapshot, once it is installed; raft ignores a
// snapshot that is not newer than what this replica has, which is not an error. A bad or
// truncated stream, ctx's end or Stop returns an error and leaves no file behind; the stream
// is never read past its end block.
//
// It runs on the caller's goroutine; Stop waits for it (it notices Stop between blocks).
func (s *Shard) ReceiveSnapshot(ctx context.Context, m *raftpb.Message, r io.Reader) error {
	if !s.streams.enter() {
		return ErrStopped
	}
	defer s.streams.leave()
	switch {
	case s.snapSM == nil:
		return fmt.Errorf("shard %d: %w", s.cfg.ShardID, errSnapshotsUnsupported)
	case s.cfg.SnapshotDir == "":
		return fmt.Errorf("shard %d: no SnapshotDir configured to stage snapshots in", s.cfg.ShardID)
	case m.GetType() != raftpb.MsgSnap || m.GetTo() != s.cfg.NodeID || m.GetSnapshot().GetMetadata() == nil:
		return fmt.Errorf("shard %d: ReceiveSnapshot given a %v for node %d", s.cfg.ShardID, m.GetType(), m.GetTo())
	}
	md := m.GetSnapshot().GetMetadata()
	id := s.stageSeq.Add(1)
	dir := s.fs.PathJoin(s.stagingRoot(), strconv.FormatUint(id, 10))
	files, err := s.stageSnapshot(ctx, md, r, dir)
	if err != nil {
		_ = s.fs.RemoveAll(dir)
		return fmt.Errorf("shard %d: receive snapshot at %d: %w", s.cfg.ShardID, md.GetIndex(), err)
	}
	msg := proto.Clone(m).(*raftpb.Message)
	msg.Snapshot.Data = makeToken(stageTokenMagic, s.out.epoch, id)
	ss := &stagedSnap{id: id, dir: dir, files: files, done: make(chan error, 1)}
	if !s.control(func(a *actor) { a.stepSnapshot(ss, msg) }) {
		_ = s.fs.RemoveAll(dir)
		return ErrStopped
	}
	select {
	case err := <-ss.done:
		return err
	case <-ctx.Done():
	case <-s.loopDone:
	}
	if ss.abandon() {
		_ = s.fs.RemoveAll(dir)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrStopped
	}
	// The actor took it: it answers within this loop iteration (or at shutdown).
	return <-ss.done
}

// stageSnapshot reads the stream into one SST per span under dir and returns their paths.
func (s *Shard) stageSnapshot(ctx context.Context, md *raftpb.SnapshotMetadata, r io.Reader, dir string) ([]string, error) {
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	br := &blockReader{r: r}
	kind, p, err := br.next()
	if err != nil {
		return nil, err
	}
	if kind != blockHeader {
		return nil, fmt.Errorf("stream starts with block %q, not a header", kind)
	}
	h, err := decodeHeader(p)
	if err != nil {
		return nil, err
	}
	switch {
	case h.shardID != s.cfg.ShardID:
		return nil, fmt.Errorf("stream is for shard %d", h.shardID)
	case h.index != md.GetIndex() || h.term != md.GetTerm() || !proto.Equal(h.conf, md.GetConfState()):
		return nil, fmt.Errorf("stream at %d/%d does not match the MsgSnap at %d/%d", h.index, h.term, md.GetIndex(), md.GetTerm())
	case !slices.EqualFunc(h.spans, s.spans, func(a, b Span) bool {
		return bytes.Equal(a.Start, b.Start) && bytes.Equal(a.End, b.End)
	}):
		return nil, errors.New("stream's spans differ from this replica's")
	}
	sw := &spanWriter{fs: s.fs, dir: dir, format: s.cfg.DB.TableFormat(), spans: s.spans, cur: -1}
	defer sw.abort()
	for {
		if err := s.alive(ctx); err != nil {
			return nil, err
		}
		kind, p, err := br.next()
		if err != nil {
			return nil, err
		}
		switch kind {
		case blockKVs:
			for len(p) > 0 {
				var k, v []byte
				var ok bool
				if k, p, ok = takeBytes(p); !ok {
					return nil, errors.New("bad key record")
				}
				if v, p, ok = takeBytes(p); !ok {
					return nil, errors.New("bad value record")
				}
				if err := sw.add(k, v); err != nil {
					return nil, err
				}
			}
		case blockEnd:
			if len(p) != 16 {
				return nil, errors.New("bad end block")
			}
			if n, b := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:]); n != sw.count || b != sw.bytes {
				return nil, fmt.Errorf("stream ended after %d keys (%d bytes), sender wrote %d (%d bytes)", sw.count, sw.bytes, n, b)
			}
			return sw.finish()
		default:
			return nil, fmt.Errorf("unknown block %q", kind)
		}
	}
}

// spanWriter writes one SST per span, in span order. Each SST starts with a range deletion of
// its whole span: ingested, it replaces everything the span held, while its own points, which
// share the SST's sequence number, survive the deletion.
type spanWriter struct {
	fs     vfs.FS
	dir    string
	format sstable.TableFormat
	spans  []Span
	cur    int // span being written, -1 before the first
	w      *sstable.Writer
	files  []string
	prev   []byte
	count  uint64
	bytes  uint64
}

func (sw *spanWriter) open(i int) error {
	path := sw.fs.PathJoin(sw.dir, fmt.Sprintf("span-%03d.sst", i))
	f, err := sw.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	sw.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: sw.format})
	sw.files = append(sw.files, path)
	return sw.w.DeleteRange(sw.spans[i].Start, sw.spans[i].End)
}

// closeCur finishes the current SST; closing syncs it, as Ingest requires.
func (sw *spanWriter) closeCur() error {
	if sw.w == nil {
		return nil
	}
	w := sw.w
	sw.w = nil
	return w.Close()
}

func (sw *spanWriter) add(k, v []byte) error {
	if sw.prev != nil && bytes.Compare(k, sw.prev) <= 0 {
		return fmt.Errorf("key %q out of order", k)
	}
	for sw.cur < 0 || bytes.Compare(k, sw.spans[sw.cur].End) >= 0 {
		if err := sw.closeCur(); err != nil {
			return err
		}
		sw.cur++
		if sw.cur == len(sw.spans) {
			return fmt.Errorf("key %q outside the shard's spans", k)
		}
		if err := sw.open(sw.cur); err != nil {
			return err
		}
	}
	if bytes.Compare(k, sw.spans[sw.cur].Start) < 0 {
		return fmt.Errorf("key %q outside the shard's spans", k)
	}
	if err := sw.w.Set(k, v); err != nil {
		return err
	}
	sw.prev = append(sw.prev[:0], k...)
	sw.count++
	sw.bytes += uint64(len(k) + len(v))
	return nil
}

// finish writes the SSTs of the spans after the last key (they only delete) and returns every
// file.
func (sw *spanWriter) finish() ([]string, error) {
	for sw.cur < len(sw.spans)-1 {
		if err := sw.closeCur(); err != nil {
			return nil, err
		}
		sw.cur++
		if err := sw.open(sw.cur); err != nil {
			return nil, err
		}
	}
	if err := sw.closeCur(); err != nil {
		return nil, err
	}
	return sw.files, nil
}

// abort closes a writer left open by an error; the caller removes the directory.
func (sw *spanWriter) abort() { _ = sw.closeCur() }
