package shard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"ferricd/internal/store"
)

// Kinds of raft keys under 'r'|shard; see the package doc for the layout.
const (
	kindApplied   byte = 'a'
	kindConfState byte = 'c'
	kindHardState byte = 'h'
	kindLog       byte = 'l'
	kindTruncated byte = 't'
)

// The state a shard is bootstrapped with, as if restored from an empty snapshot at this
// position; see the package doc.
const (
	bootstrapIndex uint64 = 10
	bootstrapTerm  uint64 = 5
)

const (
	prefixLen  = 1 + 8
	logKeyLen  = prefixLen + 1 + 8
	entryHdrSz = 8 + 1 // term, type
)

// keys builds the keys of one shard. Only log keys are built per call; they are small fixed
// arrays so building one does not allocate.
type keys struct {
	prefix [prefixLen]byte
}

func newKeys(shardID uint64) keys {
	var k keys
	k.prefix[0] = store.PrefixRaft
	binary.BigEndian.PutUint64(k.prefix[1:], shardID)
	return k
}

func (k *keys) state(kind byte) []byte {
	b := make([]byte, prefixLen+1)
	copy(b, k.prefix[:])
	b[prefixLen] = kind
	return b
}

func (k *keys) log(index uint64) [logKeyLen]byte {
	var b [logKeyLen]byte
	copy(b[:], k.prefix[:])
	b[prefixLen] = kindLog
	binary.BigEndian.PutUint64(b[prefixLen+1:], index)
	return b
}

// logEnd is the exclusive upper bound of every log key of the shard.
func (k *keys) logEnd() []byte {
	b := k.state(kindLog + 1)
	return b
}

// storage implements raft.Storage on Pebble. It is used only from the actor goroutine (raft
// calls it from inside RawNode methods), so it is not locked. In-memory fields mirror what is
// on disk; the stage* methods write to a batch and update the mirror at once, which is fine
// because a failed commit is fatal (the actor panics) and nothing reads the mirror between
// staging and committing.
type storage struct {
	db *pebble.DB
	k  keys

	// Cached singleton keys, built once.
	hardKey, confKey, truncKey, appliedKey []byte

	hs        hardState
	hsPresent bool
	conf      *raftpb.ConfState
	truncIdx  uint64 // index of the last entry removed from the log (0: none)
	truncTerm uint64
	lastIdx   uint64 // last index in the log, truncIdx when the log is empty
	applied   uint64 // persisted applied index (as of the last apply batch staged)

	cache entryCache

	// makeSnap registers a pebble snapshot of the state machine's spans, taken now, and
	// returns the token raft carries in Snapshot.Data; nil when the state machine cannot
	// snapshot.
	makeSnap func(index, term uint64, conf *raftpb.ConfState) ([]byte, error)
}

type hardState struct{ term, vote, commit uint64 }

func openStorage(db *pebble.DB, shardID uint64, cacheBytes int) (*storage, error) {
	st := &storage{db: db, k: newKeys(shardID)}
	st.hardKey = st.k.state(kindHardState)
	st.confKey = st.k.state(kindConfState)
	st.truncKey = st.k.state(kindTruncated)
	st.appliedKey = st.k.state(kindApplied)
	st.cache.maxBytes = cacheBytes
	if err := st.load(); err != nil {
		return nil, fmt.Errorf("shard %d: load raft state: %w", shardID, err)
	}
	return st, nil
}

// get returns a copy of key's value, or nil if it is absent.
func (st *storage) get(key []byte) ([]byte, error) {
	v, closer, err := st.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := slices.Clone(v)
	return out, closer.Close()
}

func (st *storage) load() error {
	v, err := st.get(st.hardKey)
	if err != nil {
		return err
	}
	if v != nil {
		if len(v) != 24 {
			return fmt.Errorf("corrupt HardState (%d bytes)", len(v))
		}
		st.hs = hardState{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v[16:])}
		st.hsPresent = true
	}
	st.conf = &raftpb.ConfState{}
	if v, err = st.get(st.confKey); err != nil {
		return err
	} else if v != nil {
		if err := proto.Unmarshal(v, st.conf); err != nil {
			return fmt.Errorf("corrupt ConfState: %w", err)
		}
	}
	if v, err = st.get(st.truncKey); err != nil {
		return err
	} else if v != nil {
		if len(v) != 16 {
			return fmt.Errorf("corrupt truncated state (%d bytes)", len(v))
		}
		st.truncIdx, st.truncTerm = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	}
	if v, err = st.get(st.appliedKey); err != nil {
		return err
	} else if v != nil {
		if len(v) != 8 {
			return fmt.Errorf("corrupt applied index (%d bytes)", len(v))
		}
		st.applied = binary.BigEndian.Uint64(v)
	}
	// The last index is the last log key, or the truncation point if the log is empty.
	lo := st.k.log(0)
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: lo[:], UpperBound: st.k.logEnd()})
	if err != nil {
		return err
	}
	st.lastIdx = st.truncIdx
	if it.Last() {
		st.lastIdx = binary.BigEndian.Uint64(it.Key()[prefixLen+1:])
	}
	if err := it.Close(); err != nil {
		return err
	}
	if st.hsPresent && (st.lastIdx < st.truncIdx || st.applied < st.truncIdx || st.applied > st.hs.commit) {
		return fmt.Errorf("inconsistent raft state: truncated %d, last %d, applied %d, commit %d",
			st.truncIdx, st.lastIdx, st.applied, st.hs.commit)
	}
	return nil
}

func (st *storage) isEmpty() bool { return !st.hsPresent }

// bootstrap writes the initial state of a new group; see the package doc.
func (st *storage) bootstrap(peers []uint64) error {
	voters := slices.Clone(peers)
	slices.Sort(voters)
	voters = slices.Compact(voters)
	b := st.db.NewBatch()
	defer b.Close()
	st.conf = &raftpb.ConfState{Voters: voters}
	if err := st.stageConfState(b, st.conf); err != nil {
		return err
	}
	st.stageTruncated(b, bootstrapIndex, bootstrapTerm)
	st.stageApplied(b, bootstrapIndex)
	st.stageHardState(b, &raftpb.HardState{Term: new(bootstrapTerm), Commit: new(bootstrapIndex)})
	st.lastIdx = bootstrapIndex
	return b.Commit(pebble.Sync)
}

func (st *storage) stageHardState(b *pebble.Batch, hs *raftpb.HardState) {
	st.hs = hardState{hs.GetTerm(), hs.GetVote(), hs.GetCommit()}
	st.hsPresent = true
	op := b.SetDeferred(len(st.hardKey), 24)
	copy(op.Key, st.hardKey)
	st.hs.encode(op.Value)
	mustNil(op.Finish())
}

// encode writes the 24-byte on-disk form into v.
func (hs hardState) encode(v []byte) {
	binary.BigEndian.PutUint64(v, hs.term)
	binary.BigEndian.PutUint64(v[8:], hs.vote)
	binary.BigEndian.PutUint64(v[16:], hs.commit)
}

// resetToSnapshot points the in-memory mirror at a just-installed snapshot: the log is empty
// and starts after index, which is applied.
func (st *storage) resetToSnapshot(index, term uint64, conf *raftpb.ConfState, hs hardState) {
	st.hs, st.hsPresent = hs, true
	st.conf = proto.Clone(conf).(*raftpb.ConfState)
	st.truncIdx, st.truncTerm = index, term
	st.lastIdx = index
	st.applied = index
	st.cache.reset()
}

func (st *storage) stageConfState(b *pebble.Batch, cs *raftpb.ConfState) error {
	v, err := proto.Marshal(cs)
	if err != nil {
		return err
	}
	st.conf = proto.Clone(cs).(*raftpb.ConfState)
	return b.Set(st.confKey, v, nil)
}

func (st *storage) stageTruncated(b *pebble.Batch, index, term uint64) {
	st.truncIdx, st.truncTerm = index, term
	var v [16]byte
	binary.BigEndian.PutUint64(v[:], index)
	binary.BigEndian.PutUint64(v[8:], term)
	mustNil(b.Set(st.truncKey, v[:], nil))
}

func (st *storage) stageApplied(b *pebble.Batch, index uint64) {
	st.applied = index
	op := b.SetDeferred(len(st.appliedKey), 8)
	copy(op.Key, st.appliedKey)
	binary.BigEndian.PutUint64(op.Value, index)
	mustNil(op.Finish())
}

// stageAppend writes ents (consecutive, as handed out by Ready) and deletes whatever log tail
// they replace: raft only hands out entries that overwrite a conflicting suffix, so every
// index above the new last one is stale.
func (st *storage) stageAppend(b *pebble.Batch, ents []*raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	first, last := ents[0].GetIndex(), ents[len(ents)-1].GetIndex()
	if first <= st.truncIdx {
		panic(fmt.Sprintf("shard: append at %d below truncated index %d", first, st.truncIdx))
	}
	if first > st.lastIdx+1 {
		panic(fmt.Sprintf("shard: append at %d leaves a gap after last index %d", first, st.lastIdx))
	}
	for _, e := range ents {
		key := st.k.log(e.GetIndex())
		data := e.GetData()
		op := b.SetDeferred(len(key), entryHdrSz+len(data))
		copy(op.Key, key[:])
		binary.BigEndian.PutUint64(op.Value, e.GetTerm())
		op.Value[8] = byte(e.GetType())
		copy(op.Value[entryHdrSz:], data)
		mustNil(op.Finish())
	}
	if last < st.lastIdx {
		from, to := st.k.log(last+1), st.k.log(st.lastIdx+1)
		mustNil(b.DeleteRange(from[:], to[:], nil))
	}
	st.lastIdx = last
	st.cache.append(ents)
}

// stageTruncate removes log entries up to and including index.
func (st *storage) stageTruncate(b *pebble.Batch, index uint64) error {
	term, err := st.Term(index)
	if err != nil {
		return err
	}
	from, to := st.k.log(st.truncIdx+1), st.k.log(index+1)
	if err := b.DeleteRange(from[:], to[:], nil); err != nil {
		return err
	}
	st.stageTruncated(b, index, term)
	st.cache.dropThrough(index)
	return nil
}

// InitialState implements raft.Storage.
func (st *storage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	var hs *raftpb.HardState
	if st.hsPresent {
		hs = &raftpb.HardState{Term: new(st.hs.term), Vote: new(st.hs.vote), Commit: new(st.hs.commit)}
	}
	return hs, proto.Clone(st.conf).(*raftpb.ConfState), nil
}

// FirstIndex implements raft.Storage.
func (st *storage) FirstIndex() (uint64, error) { return st.truncIdx + 1, nil }

// LastIndex implements raft.Storage.
func (st *storage) LastIndex() (uint64, error) { return st.lastIdx, nil }

// Snapshot implements raft.Storage. raft calls it on the actor goroutine when a follower
// needs entries that were truncated. The snapshot is taken at the applied index, with the
// ConfState as of that index (the current one: an older one would be refused forever by a
// member added since), so it is built fresh on every call; see snapshot.go for how its data
// travels.
func (st *storage) Snapshot() (*raftpb.Snapshot, error) {
	if st.makeSnap == nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	index := st.applied
	term, err := st.Term(index)
	if err != nil {
		// raft panics on any other error; a follower will ask again.
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	conf := proto.Clone(st.conf).(*raftpb.ConfState)
	// The message raft builds shares conf with whoever reads it; the stream gets its own.
	token, err := st.makeSnap(index, term, proto.Clone(conf).(*raftpb.ConfState))
	if err != nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return &raftpb.Snapshot{
		Data:     token,
		Metadata: &raftpb.SnapshotMetadata{ConfState: conf, Index: new(index), Term: new(term)},
	}, nil
}

// Term implements raft.Storage.
func (st *storage) Term(i uint64) (uint64, error) {
	switch {
	case i == st.truncIdx:
		return st.truncTerm, nil
	case i < st.truncIdx:
		return 0, raft.ErrCompacted
	case i > st.lastIdx:
		return 0, raft.ErrUnavailable
	}
	if e := st.cache.get(i); e != nil {
		return e.GetTerm(), nil
	}
	key := st.k.log(i)
	v, closer, err := st.db.Get(key[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, raft.ErrUnavailable
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) < entryHdrSz {
		return 0, fmt.Errorf("corrupt log entry %d", i)
	}
	return binary.BigEndian.Uint64(v), nil
}

// Entries implements raft.Storage. It returns exactly the entries [lo, hi) unless maxSize cuts
// them short (raft reads a short answer as "size limit reached").
func (st *storage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	if lo <= st.truncIdx {
		return nil, raft.ErrCompacted
	}
	if hi > st.lastIdx+1 || lo > hi {
		return nil, fmt.Errorf("shard: entries [%d, %d) out of bounds (last %d)", lo, hi, st.lastIdx)
	}
	if lo == hi {
		return nil, nil
	}
	if cf := st.cache.first(); cf != 0 && lo >= cf {
		return st.cache.slice(lo, hi, maxSize), nil
	}
	// Read the part below the cache from Pebble, then continue from the cache.
	diskHi := hi
	if cf := st.cache.first(); cf != 0 && cf < hi {
		diskHi = cf
	}
	ents, size, err := st.readLog(lo, diskHi, maxSize)
	if err != nil {
		return nil, err
	}
	if uint64(len(ents)) < diskHi-lo || diskHi == hi {
		return ents, nil
	}
	for i := diskHi; i < hi; i++ {
		e := st.cache.get(i)
		if e == nil {
			return nil, raft.ErrUnavailable
		}
		size += entrySize(e)
		if size > maxSize {
			break
		}
		ents = append(ents, e)
	}
	return ents, nil
}

// readLog reads [lo, hi) from Pebble, stopping early once maxSize is exceeded (always
// returning at least one entry).
func (st *storage) readLog(lo, hi, maxSize uint64) ([]*raftpb.Entry, uint64, error) {
	from, to := st.k.log(lo), st.k.log(hi)
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: from[:], UpperBound: to[:]})
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	ents := make([]*raftpb.Entry, 0, min(hi-lo, 64))
	var size uint64
	next := lo
	for valid := it.First(); valid; valid = it.Next() {
		idx := binary.BigEndian.Uint64(it.Key()[prefixLen+1:])
		if idx != next {
			return nil, 0, raft.ErrUnavailable
		}
		e, err := decodeEntry(idx, it.Value())
		if err != nil {
			return nil, 0, err
		}
		size += entrySize(e)
		if size > maxSize && len(ents) > 0 {
			return ents, size, nil
		}
		ents = append(ents, e)
		next++
	}
	if err := it.Error(); err != nil {
		return nil, 0, err
	}
	if next != hi {
		return nil, 0, raft.ErrUnavailable
	}
	return ents, size, nil
}

func decodeEntry(index uint64, v []byte) (*raftpb.Entry, error) {
	if len(v) < entryHdrSz {
		return nil, fmt.Errorf("corrupt log entry %d", index)
	}
	e := &raftpb.Entry{
		Index: new(index),
		Term:  new(binary.BigEndian.Uint64(v)),
		Type:  raftpb.EntryType(v[8]).Enum(),
	}
	if len(v) > entryHdrSz {
		e.Data = slices.Clone(v[entryHdrSz:])
	}
	return e, nil
}

// entrySize approximates raft's accounting (the protobuf size) without reflection: three
// small varint fields plus the data.
func entrySize(e *raftpb.Entry) uint64 { return uint64(len(e.Data)) + 16 }

func mustNil(err error) {
	if err != nil {
		panic(fmt.Sprintf("shard: pebble batch: %v", err))
	}
}
