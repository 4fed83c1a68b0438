package keyspace

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/store"
)

// presence is a Bloom filter over every user key that has metadata in the DB. A write's
// lookup of a key never written before (a SET of a new key still needs the old metadata:
// counters, TTL index, a collection's sub-keys) misses the MetaCache and would search every
// memtable and sstable level; when the filter says the key was never there, the lookup ends
// at once. Profiles of 3-node clusters under redis-benchmark SET load put those Pebble
// lookups at ~12% of a node's CPU.
//
// A false positive costs only the Pebble lookup. A false negative would make a write ignore
// an existing value, so the filter answers only while it is known to cover the DB:
//
//   - Txn.put adds a key before its batch is committed, whether or not the filter is valid
//     (a batch that is then discarded leaves harmless extra bits).
//   - A build scans the metadata keys of a Pebble snapshot into the same bits. Keys
//     committed after the snapshot were added by their put, so when the scan ends every key
//     in the DB is covered, unless Pebble's contents were replaced meanwhile.
//   - Replacements (a raft snapshot ingested, a replica's data dropped) write Pebble behind
//     put's back: BeginReplace invalidates the filter and EndReplace asks for a rebuild;
//     a build that overlapped a replacement does not validate.
//
// Bits are never cleared (deleted keys keep theirs) and the size is fixed when the cache is
// made, so the false-positive rate grows with the number of distinct keys ever written
// since the process started; it degrades to a Pebble lookup per miss, never to a wrong
// answer. Each key sets presenceProbes bits within one 64-bit word (a blocked filter), so
// a check costs one memory access.
type presence struct {
	seed  maphash.Seed
	words []atomic.Uint64
	shift uint // 64 - log2(len(words))

	valid atomic.Bool

	mu        sync.Mutex
	replacing int    // replacements in progress
	gen       uint64 // bumped by every replacement's start and end
	wake      chan struct{}
}

const (
	presenceProbes = 4
	// presenceCacheRatio: the filter gets 1 bit per this many bytes of cache budget (128
	// MiB of cache: 2 MiB of filter, ~1.6M keys at 10 bits a key).
	presenceCacheRatio = 8
	presenceMinWords   = 1 << 10
)

func newPresence(cacheBytes int64) *presence {
	words := max(cacheBytes/presenceCacheRatio/64, presenceMinWords)
	shift := uint(bits.LeadingZeros64(uint64(words))) + 1 // round down to a power of two
	return &presence{seed: maphash.MakeSeed(), words: make([]atomic.Uint64, 1<<(64-shift)), shift: shift,
		wake: make(chan struct{}, 1)}
}

// locate returns key's word and the bits it sets there.
func (p *presence) locate(key []byte) (*atomic.Uint64, uint64) {
	h := maphash.Bytes(p.seed, key)
	w := &p.words[h>>p.shift]
	var mask uint64
	for i := range presenceProbes {
		mask |= 1 << ((h >> (6 * i)) & 63)
	}
	return w, mask
}

func (p *presence) add(key []byte) {
	w, mask := p.locate(key)
	if w.Load()&mask != mask {
		w.Or(mask)
	}
}

// absent reports whether key certainly has no metadata in the DB.
func (p *presence) absent(key []byte) bool {
	if !p.valid.Load() {
		return false
	}
	w, mask := p.locate(key)
	return w.Load()&mask != mask
}

func (p *presence) beginReplace() {
	p.mu.Lock()
	p.replacing++
	p.gen++
	p.valid.Store(false)
	p.mu.Unlock()
}

func (p *presence) endReplace() {
	p.mu.Lock()
	p.replacing--
	p.gen++
	done := p.replacing == 0
	p.mu.Unlock()
	if done {
		p.requestBuild()
	}
}

func (p *presence) requestBuild() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// build scans db's metadata keys into the filter and validates it unless a replacement
// started or ran meanwhile.
func (p *presence) build(ctx context.Context, db *pebble.DB) error {
	p.mu.Lock()
	if p.replacing > 0 {
		p.mu.Unlock()
		return nil // its EndReplace asks again
	}
	gen := p.gen
	snap := db.NewSnapshot()
	p.mu.Unlock()
	defer func() { _ = snap.Close() }()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{store.PrefixData},
		UpperBound: []byte{store.PrefixData + 1}})
	if err != nil {
		return fmt.Errorf("key presence filter: %w", err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if k := it.Key(); len(k) >= metaKeyPrefixLen {
			p.add(k[metaKeyPrefixLen:])
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("key presence filter: %w", err)
	}
	if ctx.Err() != nil {
		return nil
	}
	p.mu.Lock()
	if p.gen == gen && p.replacing == 0 {
		p.valid.Store(true)
	}
	p.mu.Unlock()
	return nil
}

// RunPresenceFilter builds the cache's key presence filter from db and rebuilds it after
// every replacement of Pebble's contents, until ctx ends. Until a build completes, lookups
// do not use the filter. The node runs it on a goroutine of its own; errors go to onErr and
// leave the filter unused until the next replacement asks for a build again.
func (c *MetaCache) RunPresenceFilter(ctx context.Context, db *pebble.DB, onErr func(error)) {
	if c == nil {
		return
	}
	p := c.present
	p.requestBuild()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		if err := p.build(ctx, db); err != nil {
			onErr(err)
		}
	}
}
