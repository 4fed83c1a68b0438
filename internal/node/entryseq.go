package node

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// entrySeqs keeps, for each apply batch in flight, the version sequence of the raft entry
// being applied into it (keyspace.Txn.WithEntrySeq). Apply runs one Txn per payload, and the
// payloads of one entry share its index, which is the high part of every collection version
// they create: without a sequence shared across them, two collections created in one entry
// in one slot would get the same version and share their sub-keys.
//
// Each shard applies on its own goroutine into its own batch, so an entry's sequence is only
// touched by one goroutine; the lock guards the map, which all shards share. The sequence
// restarts at zero with every entry, so every replica numbers the versions of an entry alike
// whatever entries its batches group together. Entries are removed when their batch is
// committed (BatchCommitted).
type entrySeqs struct {
	mu sync.Mutex
	m  map[*pebble.Batch]*entrySeq
}

type entrySeq struct {
	index uint64
	seq   uint64
}

// forEntry returns the sequence of entry index applied into b.
func (e *entrySeqs) forEntry(b *pebble.Batch, index uint64) *uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[*pebble.Batch]*entrySeq)
	}
	s := e.m[b]
	if s == nil {
		s = &entrySeq{index: index}
		e.m[b] = s
	}
	if s.index != index {
		s.index, s.seq = index, 0
	}
	return &s.seq
}

// done forgets b, which is committed (Pebble may hand the same pointer out again).
func (e *entrySeqs) done(b *pebble.Batch) {
	e.mu.Lock()
	delete(e.m, b)
	e.mu.Unlock()
}
