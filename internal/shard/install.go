package shard

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"ferricd/internal/store"
)

// stepSnapshot steps a received MsgSnap whose Data names staged files. raft either restores
// it (the next Ready carries it and handleReady installs it) or ignores it (not newer than
// this replica's commit index); settleStaged then cleans up whatever was not installed.
func (a *actor) stepSnapshot(ss *stagedSnap, m *raftpb.Message) {
	if !ss.take() {
		return // the receiver gave up and removes the files itself
	}
	a.staged[ss.id] = ss
	a.step(m)
}

// settleStaged answers the staged snapshots that were stepped but not installed and removes
// their files.
func (a *actor) settleStaged(err error) {
	for id, ss := range a.staged {
		delete(a.staged, id)
		_ = a.s.fs.RemoveAll(ss.dir)
		ss.done <- err
	}
}

func (a *actor) hook(point string, index uint64) {
	if a.cfg.testHook != nil {
		a.cfg.testHook(point, index)
	}
}

// installSnapshot replaces the shard's data spans and its raft state with the snapshot of rd
// in one atomic, durable Pebble ingest: one SST per data span (staged by ReceiveSnapshot)
// plus one for the raft keys, each deleting its whole span and holding the new keys. A crash
// leaves either the old state or the new one. The log after the snapshot is empty; the
// Ready's entries and HardState are persisted afterwards, as usual.
func (a *actor) installSnapshot(rd *raft.Ready) {
	md := rd.Snapshot.GetMetadata()
	index, term := md.GetIndex(), md.GetTerm()
	id, ok := parseToken(stageTokenMagic, a.s.out.epoch, rd.Snapshot.GetData())
	ss := a.staged[id]
	if !ok || ss == nil {
		// Only ReceiveSnapshot steps MsgSnaps, always with a staged token.
		panic(fmt.Sprintf("shard %d: snapshot at %d has no staged data", a.cfg.ShardID, index))
	}
	delete(a.staged, id)

	// The HardState written with the snapshot commits exactly the snapshot: the Ready's own
	// HardState may commit entries that are only persisted after the ingest.
	hs := a.st.hs
	if h := rd.HardState; !raft.IsEmptyHardState(h) {
		hs.term, hs.vote = h.GetTerm(), h.GetVote()
	}
	hs.commit = index
	conf := md.GetConfState()
	raftSST, err := a.writeRaftSST(ss.dir, index, term, conf, hs)
	if err != nil {
		panic(fmt.Sprintf("shard %d: stage raft state of snapshot %d: %v", a.cfg.ShardID, index, err))
	}
	a.hook("staged", index)
	a.s.snapSM.SnapshotInstalling(a.cfg.ShardID)
	// Ingest syncs the files and the manifest (or, overlapping a memtable, a WAL record)
	// before it returns, and removes the staged files.
	if err := a.db.Ingest(context.Background(), append(ss.files, raftSST)); err != nil {
		panic(fmt.Sprintf("shard %d: ingest snapshot %d: %v", a.cfg.ShardID, index, err))
	}
	a.hook("ingested", index)
	a.st.resetToSnapshot(index, term, conf, hs)
	a.durableApplied, a.lastTruncCheck = index, index
	a.recent.reset()
	a.commit = max(a.commit, index)
	a.confChanged(conf)
	a.s.snapSM.SnapshotInstalled(a.cfg.ShardID)
	_ = a.s.fs.RemoveAll(ss.dir)
	ss.done <- nil
	// A follower has no proposals of its own; anything pending cannot be matched any more.
	a.failPending(ErrTryAgain)
	a.checkReads()
	a.log.Info("snapshot installed", "index", index, "term", term, "voters", conf.GetVoters(), "learners", conf.GetLearners())
}

// writeRaftSST writes the SST that replaces every raft key of the shard: the log and the old
// state go, the state of a log that starts after the snapshot comes in.
func (a *actor) writeRaftSST(dir string, index, term uint64, conf *raftpb.ConfState, hs hardState) (string, error) {
	fs := a.s.fs
	path := fs.PathJoin(dir, "raft.sst")
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return "", err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: a.db.TableFormat()})
	lo, hi := raftSpan(a.cfg.ShardID)
	confBytes, err := proto.Marshal(conf)
	if err != nil {
		_ = w.Close()
		return "", err
	}
	var applied [8]byte
	binary.BigEndian.PutUint64(applied[:], index)
	var hsv [24]byte
	hs.encode(hsv[:])
	var trunc [16]byte
	binary.BigEndian.PutUint64(trunc[:], index)
	binary.BigEndian.PutUint64(trunc[8:], term)
	// In key order: 'a' < 'c' < 'h' < 't'.
	for _, kv := range []struct{ k, v []byte }{
		{a.st.appliedKey, applied[:]},
		{a.st.confKey, confBytes},
		{a.st.hardKey, hsv[:]},
		{a.st.truncKey, trunc[:]},
	} {
		if err := w.Set(kv.k, kv.v); err != nil {
			_ = w.Close()
			return "", err
		}
	}
	if err := w.DeleteRange(lo, hi); err != nil {
		_ = w.Close()
		return "", err
	}
	return path, w.Close()
}

// raftSpan returns [lo, hi) covering every raft key of a shard.
func raftSpan(shardID uint64) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint64([]byte{store.PrefixRaft}, shardID)
	if shardID == ^uint64(0) {
		return lo, []byte{store.PrefixRaft + 1}
	}
	return lo, binary.BigEndian.AppendUint64([]byte{store.PrefixRaft}, shardID+1)
}
