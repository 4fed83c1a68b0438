package keyspace

import (
	"hash/maphash"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// MetaCache keeps the encoded metadata (a string's value included) of recently used keys in
// memory, so that most reads and most writes' lookups of the previous value skip Pebble, whose
// memtables are crowded by the raft log. It is a cache of committed state only:
//
//   - Writes reach it through the same per-batch staging as the counters: a write Txn stages
//     every metadata change of its batch. Before the batch is committed, Prepare evicts the
//     batch's keys and blocks fills on their stripes; after the commit, Publish installs the
//     new values and unblocks (internal/shard calls both around its commit, and Publish before
//     it answers the batch's proposers). So while Pebble may already hold the new value, the
//     cache holds neither version of the key: readers go to Pebble, and no reader can see the
//     new value and then the old one.
//   - A reader that misses reads Pebble and may fill the entry, but only if no write to the
//     entry's stripe was prepared or published in between (the stripe's sequence number is
//     unchanged) and none is in flight (the stripe is not blocked), so a fill can never
//     install a value older than one a reader could already have seen.
//   - A batch that deletes a whole slot range (FlushRange) publishes by clearing the cache.
//
// Cached byte slices are immutable: a new value always replaces the slice, so readers may keep
// what they got. Absent keys are cached too (nil value), which spares SET of a new key its
// lookup. Memory is bounded per stripe; eviction drops arbitrary entries (table order). Each
// stripe's table is a flat hash table (cachetable.go), not a Go map: see there why.
type MetaCache struct {
	seed     maphash.Seed
	stripes  [cacheStripes]cacheStripe
	maxBytes int64 // per stripe
	present  *presence

	mu     sync.Mutex
	staged map[*pebble.Batch]*cacheStage
}

const cacheStripes = 64

// entryOverhead approximates an entry's bookkeeping (its slot), so small keys count for
// something.
const entryOverhead = 64

// entryCost is what an entry of size bytes (key plus encoding) counts against its stripe.
func entryCost(size int) int64 { return int64(size + entryOverhead) }

type cacheStripe struct {
	mu    sync.Mutex
	seq   uint64
	bytes int64
	// blocked counts prepared, not yet published writes to keys of this stripe; fills wait.
	blocked int
	t       metaTable // nil encoding: known absent
}

// cacheStage is one batch's uncommitted metadata changes, in order.
type cacheStage struct {
	flushed  bool
	prepared bool
	writes   map[string][]byte // nil: deleted
}

// NewMetaCache returns a cache bounded to about maxBytes; maxBytes <= 0 returns nil, and a nil
// *MetaCache is valid and caches nothing.
func NewMetaCache(maxBytes int64) *MetaCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &MetaCache{seed: maphash.MakeSeed(), maxBytes: max(maxBytes/cacheStripes, 1), staged: map[*pebble.Batch]*cacheStage{},
		present: newPresence(maxBytes)}
	return c
}

// locate returns key's stripe and hash; the stripe is chosen by the hash's low bits, which
// the stripe's table therefore ignores (see metaTable).
func (c *MetaCache) locate(key []byte) (*cacheStripe, uint64) {
	h := maphash.Bytes(c.seed, key)
	return &c.stripes[h%cacheStripes], h / cacheStripes
}

// get returns key's cached encoded metadata: hit reports whether the cache knows the key
// (enc == nil then means absent); on a miss seq is the token Fill needs.
func (c *MetaCache) get(key []byte) (enc []byte, hit bool, seq uint64) {
	if c == nil {
		return nil, false, 0
	}
	s, h := c.locate(key)
	s.mu.Lock()
	enc, hit = s.t.get(h, key)
	seq = s.seq
	s.mu.Unlock()
	return enc, hit, seq
}

// fill caches what a reader found in Pebble (nil: absent) unless a write to the stripe was
// published since get returned seq.
func (c *MetaCache) fill(key, enc []byte, seq uint64) {
	if c == nil {
		return
	}
	s, h := c.locate(key)
	s.mu.Lock()
	if s.seq == seq && s.blocked == 0 {
		c.install(s, h, key, enc)
	}
	s.mu.Unlock()
}

// evict removes key's entry (h is its hash from locate); the stripe lock is held.
func (s *cacheStripe) evict(h uint64, key []byte) {
	if size, ok := s.t.del(h, key); ok {
		s.bytes -= entryCost(size)
	}
}

// reset empties the stripe; its lock is held.
func (s *cacheStripe) reset() {
	s.t.reset()
	s.bytes = 0
}

// install sets key's entry; the stripe lock is held. A value larger than a stripe's whole
// budget is not cached: it would only push out everything else.
func (c *MetaCache) install(s *cacheStripe, h uint64, key, enc []byte) {
	s.evict(h, key)
	cost := entryCost(len(key) + len(enc))
	if cost > c.maxBytes {
		return
	}
	s.t.set(h, key, enc)
	s.bytes += cost
	for s.bytes > c.maxBytes {
		s.bytes -= entryCost(s.t.dropOne())
	}
}

// stage returns b's staged changes, creating them.
func (c *MetaCache) stage(b *pebble.Batch) *cacheStage {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.staged[b]
	if st == nil {
		st = &cacheStage{writes: map[string][]byte{}}
		c.staged[b] = st
	}
	return st
}

// peekStage returns b's staged changes or nil.
func (c *MetaCache) peekStage(b *pebble.Batch) *cacheStage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.staged[b]
}

// Prepare evicts b's staged keys and blocks fills of their stripes; call it right before b is
// committed, and Publish (or Discard) right after.
func (c *MetaCache) Prepare(b *pebble.Batch) {
	if c == nil {
		return
	}
	st := c.peekStage(b)
	if st == nil || st.prepared {
		return
	}
	st.prepared = true
	if st.flushed {
		c.eachStripe(func(s *cacheStripe) {
			s.seq++
			s.blocked++
			s.reset()
		})
		return
	}
	for k := range st.writes {
		s, h := c.locate([]byte(k))
		s.mu.Lock()
		s.seq++
		s.blocked++
		s.evict(h, []byte(k))
		s.mu.Unlock()
	}
}

// Publish installs b's staged changes and unblocks what Prepare blocked; call it once b is
// committed.
func (c *MetaCache) Publish(b *pebble.Batch) { c.finish(b, true) }

// Discard forgets b's staged changes (b was closed without being committed).
func (c *MetaCache) Discard(b *pebble.Batch) { c.finish(b, false) }

func (c *MetaCache) finish(b *pebble.Batch, committed bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	st := c.staged[b]
	delete(c.staged, b)
	c.mu.Unlock()
	if st == nil {
		return
	}
	unblock := 0
	if st.prepared {
		unblock = 1
	}
	if st.flushed {
		c.eachStripe(func(s *cacheStripe) {
			s.seq++
			s.blocked -= unblock
			s.reset()
		})
		return
	}
	for k, enc := range st.writes {
		s, h := c.locate([]byte(k))
		s.mu.Lock()
		s.seq++
		s.blocked -= unblock
		if committed {
			c.install(s, h, []byte(k), enc)
		} else {
			s.evict(h, []byte(k))
		}
		s.mu.Unlock()
	}
}

func (c *MetaCache) eachStripe(fn func(s *cacheStripe)) {
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		fn(s)
		s.mu.Unlock()
	}
}

// Len returns the number of cached keys (for INFO and tests).
func (c *MetaCache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		n += s.t.len()
		s.mu.Unlock()
	}
	return n
}

// clear empties the cache (fills in flight are refused: the sequence moves).
func (c *MetaCache) clear() {
	c.eachStripe(func(s *cacheStripe) {
		s.seq++
		s.reset()
	})
}
