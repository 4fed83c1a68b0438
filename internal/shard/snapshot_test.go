package shard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

type kv struct{ k, v string }

// spanKVs returns every key of sp in db.
func spanKVs(t testing.TB, r pebble.Reader, sp Span) []kv {
	t.Helper()
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: sp.Start, UpperBound: sp.End})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []kv
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, kv{string(it.Key()), string(it.Value())})
	}
	return out
}

// TestIngestedRangeDeletionKeepsItsOwnPoints pins the Pebble behaviour snapshot install relies
// on: an ingested SST's range deletion removes what the DB held in the span, but not the
// points of the same SST (they share its sequence number); keys outside the span are left
// alone, and an SST holding only the deletion empties the span.
func TestIngestedRangeDeletionKeepsItsOwnPoints(t *testing.T) {
	spans := []Span{{Start: []byte("b"), End: []byte("d")}, {Start: []byte("f"), End: []byte("h")}}
	for _, tc := range []struct {
		name   string
		before []kv // in the DB, spans and outside
		stream []kv // the snapshot's keys, all inside spans
	}{
		{"replace", []kv{{"a", "1"}, {"b1", "old"}, {"c", "old"}, {"e", "1"}, {"g", "old"}, {"z", "1"}},
			[]kv{{"b1", "new"}, {"b2", "new"}, {"g2", "new"}}},
		{"empty snapshot", []kv{{"a", "1"}, {"b1", "old"}, {"g", "old"}, {"z", "1"}}, nil},
		{"empty db", nil, []kv{{"b", "new"}, {"c9", "new"}, {"f", "new"}}},
		{"boundary keys", []kv{{"d", "outside"}, {"h", "outside"}}, []kv{{"b", "new"}, {"gzzz", "new"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			db := openDB(t, fs, "db")
			defer db.Close()
			for _, p := range tc.before {
				if err := db.Set([]byte(p.k), []byte(p.v), pebble.NoSync); err != nil {
					t.Fatal(err)
				}
			}
			sw := &spanWriter{fs: fs, dir: "stage", format: db.TableFormat(), spans: spans, cur: -1}
			if err := fs.MkdirAll("stage", 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.stream {
				if err := sw.add([]byte(p.k), []byte(p.v)); err != nil {
					t.Fatal(err)
				}
			}
			files, err := sw.finish()
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(spans) {
				t.Fatalf("%d files for %d spans", len(files), len(spans))
			}
			if err := db.Ingest(context.Background(), files); err != nil {
				t.Fatal(err)
			}
			var want []kv
			for _, p := range tc.before {
				if !inSpans(spans, p.k) {
					want = append(want, p)
				}
			}
			want = append(want, tc.stream...)
			slices.SortFunc(want, func(a, b kv) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
			got := spanKVs(t, db, Span{Start: []byte{0}, End: []byte{0xff}})
			if !slices.Equal(got, want) {
				t.Fatalf("after ingest %v, want %v", got, want)
			}
		})
	}
}

func inSpans(spans []Span, k string) bool {
	for _, sp := range spans {
		if k >= string(sp.Start) && k < string(sp.End) {
			return true
		}
	}
	return false
}

// streamFixture is a DB with data in two spans and a Shard shell able to stream it.
type streamFixture struct {
	fs  vfs.FS
	db  *pebble.DB
	s   *Shard
	md  *raftpb.SnapshotMetadata
	raw []byte // a valid stream of the snapshot
}

func newStreamFixture(t *testing.T) *streamFixture {
	fs := vfs.NewMem()
	db := openDB(t, fs, "db")
	t.Cleanup(func() { db.Close() })
	spans := []Span{{Start: []byte("b"), End: []byte("d")}, {Start: []byte("f"), End: []byte("h")}}
	for i := range 2000 {
		for _, p := range []string{"a", "b", "f", "z"} {
			k := fmt.Sprintf("%s%05d", p, i)
			if err := db.Set([]byte(k), bytes.Repeat([]byte{byte(i)}, i%500), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := &Shard{
		cfg:   Config{ShardID: 7, NodeID: 2, DB: db, SnapshotDir: "snap"},
		fs:    fs,
		spans: spans,
		stopC: make(chan struct{}),
	}
	s.cfg.SM = newTestSM(7)
	conf := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	f := &streamFixture{fs: fs, db: db, s: s, md: &raftpb.SnapshotMetadata{ConfState: conf, Index: new(uint64(500)), Term: new(uint64(6))}}
	f.raw = f.stream(t)
	return f
}

// stream takes a snapshot and streams it.
func (f *streamFixture) stream(t *testing.T) []byte {
	t.Helper()
	ranges := []pebble.KeyRange{}
	for _, sp := range f.s.spans {
		ranges = append(ranges, pebble.KeyRange{Start: sp.Start, End: sp.End})
	}
	os := &outSnap{snap: f.db.NewEventuallyFileOnlySnapshot(ranges), index: 500, term: 6, conf: f.md.GetConfState()}
	defer os.snap.Close()
	var buf bytes.Buffer
	if err := f.s.writeSnapshot(context.Background(), os, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *streamFixture) stage(raw []byte, md *raftpb.SnapshotMetadata) ([]string, error) {
	dir := "snap/7/x"
	files, err := f.s.stageSnapshot(context.Background(), md, bytes.NewReader(raw), dir)
	_ = f.fs.RemoveAll(dir)
	return files, err
}

func TestSnapshotStreamRoundTrip(t *testing.T) {
	f := newStreamFixture(t)
	if len(f.raw) < 3*targetBlockBytes {
		t.Fatalf("stream of %d bytes: want several key/value blocks", len(f.raw))
	}
	// Staged and ingested into a second DB, the spans equal the source's, and nothing else
	// is written.
	dst := openDB(t, f.fs, "db2")
	defer dst.Close()
	if err := dst.Set([]byte("c-stale"), []byte("x"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := dst.Set([]byte("y"), []byte("outside"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	dir := "snap/7/1"
	// A trailing byte is never read: the stream ends at its end block.
	r := bytes.NewReader(append(slices.Clone(f.raw), 0xee))
	files, err := f.s.stageSnapshot(context.Background(), f.md, r, dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 1 {
		t.Fatalf("%d bytes left unread, want 1", r.Len())
	}
	if err := dst.Ingest(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	for _, sp := range f.s.spans {
		if got, want := spanKVs(t, dst, sp), spanKVs(t, f.db, sp); !slices.Equal(got, want) {
			t.Fatalf("span [%s, %s): %d keys after ingest, want %d", sp.Start, sp.End, len(got), len(want))
		}
	}
	if got := spanKVs(t, dst, Span{Start: []byte("x"), End: []byte("zz")}); len(got) != 1 {
		t.Fatalf("keys outside the spans: %v", got)
	}
}

// TestSnapshotStreamRejectsDamage checks that every truncation and a corrupted byte anywhere
// in the stream, or a stream that does not match the MsgSnap, is refused.
func TestSnapshotStreamRejectsDamage(t *testing.T) {
	f := newStreamFixture(t)
	raw := f.raw
	type tc struct {
		name string
		raw  []byte
		md   *raftpb.SnapshotMetadata
	}
	var cases []tc
	for _, n := range []int{0, 1, 4, 5, 9, 40, len(raw) / 3, len(raw) / 2, len(raw) - 21, len(raw) - 5, len(raw) - 1} {
		cases = append(cases, tc{fmt.Sprintf("truncated at %d", n), raw[:n], f.md})
	}
	for _, at := range []int{0, 1, 3, 6, 20, 30, 60, 100, 1000, len(raw) / 2, len(raw) - 30, len(raw) - 10, len(raw) - 1} {
		bad := slices.Clone(raw)
		bad[at] ^= 0x40
		cases = append(cases, tc{fmt.Sprintf("byte %d flipped", at), bad, f.md})
	}
	other := func(mut func(md *raftpb.SnapshotMetadata)) *raftpb.SnapshotMetadata {
		md := &raftpb.SnapshotMetadata{ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}, Index: new(uint64(500)), Term: new(uint64(6))}
		mut(md)
		return md
	}
	cases = append(cases,
		tc{"other index", raw, other(func(md *raftpb.SnapshotMetadata) { md.Index = new(uint64(501)) })},
		tc{"other term", raw, other(func(md *raftpb.SnapshotMetadata) { md.Term = new(uint64(7)) })},
		tc{"other conf", raw, other(func(md *raftpb.SnapshotMetadata) { md.ConfState.Learners = []uint64{4} })},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := f.stage(c.raw, c.md); err == nil {
				t.Fatal("damaged stream accepted")
			}
		})
	}
	t.Run("other spans", func(t *testing.T) {
		saved := f.s.spans
		defer func() { f.s.spans = saved }()
		f.s.spans = []Span{{Start: []byte("b"), End: []byte("e")}, saved[1]}
		if _, err := f.stage(raw, f.md); err == nil {
			t.Fatal("stream of other spans accepted")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write(raw[:len(raw)/2])
			close(f.s.stopC)
			_, _ = pw.Write(raw[len(raw)/2:])
			pw.Close()
		}()
		_, err := f.s.stageSnapshot(context.Background(), f.md, pr, "snap/7/y")
		pr.Close()
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("stageSnapshot after stop: %v, want ErrStopped", err)
		}
	})
}

func TestCheckSpans(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spans []Span
		ok    bool
	}{
		{"none", nil, true},
		{"sorted on return", []Span{{[]byte("x"), []byte("y")}, {[]byte("a"), []byte("b")}}, true},
		{"adjacent", []Span{{[]byte("a"), []byte("b")}, {[]byte("b"), []byte("c")}}, true},
		{"overlap", []Span{{[]byte("a"), []byte("c")}, {[]byte("b"), []byte("d")}}, false},
		{"empty", []Span{{[]byte("a"), []byte("a")}}, false},
		{"reversed", []Span{{[]byte("b"), []byte("a")}}, false},
		{"no start", []Span{{nil, []byte("a")}}, false},
		{"raft keys", []Span{{[]byte("q"), []byte("s")}}, false},
		{"inside raft keys", []Span{{[]byte("r\x00"), []byte("r\x01")}}, false},
		{"next to raft keys", []Span{{[]byte("q"), []byte("r")}, {[]byte("s"), []byte("t")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := checkSpans(tc.spans)
			if (err == nil) != tc.ok {
				t.Fatalf("checkSpans: %v, want ok=%v", err, tc.ok)
			}
			if err == nil && !slices.IsSortedFunc(out, func(a, b Span) int { return bytes.Compare(a.Start, b.Start) }) {
				t.Fatalf("not sorted: %v", out)
			}
		})
	}
}

func TestTruncationTarget(t *testing.T) {
	const applied, keep, maxLag, silentLag = 10_000, 100, 1_000, 500
	for _, tc := range []struct {
		name    string
		canSnap bool
		peers   []peerLog
		want    uint64
	}{
		{"no followers", true, nil, 9_900},
		{"caught up", true, []peerLog{{10_000, true}, {9_950, true}}, 9_900},
		{"slightly behind keeps its entries", true, []peerLog{{9_500, true}}, 9_500},
		{"too far behind gets a snapshot", true, []peerLog{{8_000, true}, {9_700, true}}, 9_700},
		{"without snapshots waits for anyone active", false, []peerLog{{8_000, true}}, 8_000},
		{"silent and far behind is ignored", false, []peerLog{{10, false}}, 9_900},
		{"silent but close is waited for", true, []peerLog{{9_700, false}}, 9_700},
		{"silent beyond its lag gets a snapshot", true, []peerLog{{9_000, false}, {9_800, true}}, 9_800},
		{"ahead of the applied index", true, []peerLog{{10_005, true}}, 9_900},
		{"at the lag limit", true, []peerLog{{9_000, true}}, 9_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncationTarget(applied, keep, maxLag, silentLag, tc.canSnap, tc.peers); got != tc.want {
				t.Fatalf("target %d, want %d", got, tc.want)
			}
		})
	}
}

// TestNoSnapshotsWithoutSupport: a state machine that cannot snapshot makes raft wait.
func TestNoSnapshotsWithoutSupport(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	defer db.Close()
	cfg := testConfig(db, plainSM{newTestSM(7)})
	s := mustStart(t, cfg)
	defer s.Stop()
	waitFor(t, "leadership", 2*time.Second, func() bool { return s.Status().IsLeader })
	if s.snapSM != nil {
		t.Fatal("snapshots enabled for a plain state machine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m := &raftpb.Message{Type: raftpb.MsgSnap.Enum(), To: new(uint64(1)), Snapshot: &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{}}}
	if err := s.ReceiveSnapshot(ctx, m, bytes.NewReader(nil)); !errors.Is(err, errSnapshotsUnsupported) {
		t.Fatalf("ReceiveSnapshot: %v", err)
	}
	if err := s.Step(m); err == nil {
		t.Fatal("Step accepted a MsgSnap")
	}
}

func TestSnapshotTokens(t *testing.T) {
	tok := makeToken(outTokenMagic, 42, 7)
	for _, tc := range []struct {
		name  string
		magic []byte
		epoch uint64
		data  []byte
		ok    bool
	}{
		{"round trip", outTokenMagic, 42, tok, true},
		{"other epoch", outTokenMagic, 43, tok, false},
		{"other magic", stageTokenMagic, 42, tok, false},
		{"short", outTokenMagic, 42, tok[:len(tok)-1], false},
		{"empty", outTokenMagic, 42, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := parseToken(tc.magic, tc.epoch, tc.data)
			if ok != tc.ok || (ok && id != 7) {
				t.Fatalf("parseToken = %d, %v", id, ok)
			}
		})
	}
}

// TestSendSnapshotOnce: a registered snapshot streams once; unknown, foreign or repeated
// tokens are refused; Stop releases what was never streamed (the DB closes cleanly).
func TestSendSnapshotOnce(t *testing.T) {
	checkLeaks(t)
	db := openDB(t, vfs.NewMem(), "db")
	s := mustStart(t, testConfig(db, newTestSM(7)))
	waitFor(t, "leadership", 2*time.Second, func() bool { return s.Status().IsLeader })
	if _, err := submit(t, s, "x"); err != nil {
		t.Fatal(err)
	}
	conf := &raftpb.ConfState{Voters: []uint64{1}}
	msg := func(token []byte, index uint64) *raftpb.Message {
		return &raftpb.Message{Type: raftpb.MsgSnap.Enum(), From: new(uint64(1)), To: new(uint64(2)),
			Snapshot: &raftpb.Snapshot{Data: token, Metadata: &raftpb.SnapshotMetadata{ConfState: conf, Index: new(index), Term: new(uint64(6))}}}
	}
	ctx := context.Background()
	tok, err := s.takeSnapshot(20, 6, conf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.takeSnapshot(20, 6, conf); err != nil {
		t.Fatal(err)
	}
	if err := s.SendSnapshot(ctx, msg(tok, 21), io.Discard); err == nil {
		t.Fatal("metadata mismatch accepted")
	}
	tok2, err := s.takeSnapshot(20, 6, conf)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.SendSnapshot(ctx, msg(tok2, 20), &buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Fatal("nothing streamed")
	}
	if err := s.SendSnapshot(ctx, msg(tok2, 20), io.Discard); err == nil {
		t.Fatal("a snapshot streamed twice")
	}
	if err := s.SendSnapshot(ctx, msg(makeToken(outTokenMagic, s.out.epoch+1, 2), 20), io.Discard); err == nil {
		t.Fatal("a token of another instance accepted")
	}
	if err := s.SendSnapshot(ctx, &raftpb.Message{Type: raftpb.MsgApp.Enum()}, io.Discard); err == nil {
		t.Fatal("a MsgApp accepted")
	}
	if _, open := s.out.taken(); open != 1 {
		t.Fatalf("%d snapshots open, want 1", open)
	}
	s.Stop()
	if _, err := s.takeSnapshot(20, 6, conf); err == nil {
		t.Fatal("snapshot registered after Stop")
	}
	if err := s.SendSnapshot(ctx, msg(tok2, 20), io.Discard); !errors.Is(err, ErrStopped) {
		t.Fatalf("SendSnapshot after Stop: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
