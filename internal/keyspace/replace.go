package keyspace

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// This file serves wholesale replacement of a slot range's data behind the apply path's
// back (a raft snapshot ingested into Pebble): the in-memory state derived from that data
// must be hidden while it changes and rebuilt from Pebble afterwards.

// ReloadRange re-reads the counters of slots r from Pebble, zeroing the slots that have
// none. The caller must be the only writer of those slots (their shard's goroutine) and have
// no batch staged for them.
func (c *Counts) ReloadRange(rd pebble.Reader, r routing.Range) error {
	var keys, expires [routing.NumSlots]int64
	lo, hi := SpanBounds(store.PrefixCount, r)
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("reload slot counts: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 3 || len(v) != 16 {
			_ = it.Close()
			return fmt.Errorf("reload slot counts: %w: counter %x", ErrCorrupt, k)
		}
		slot := binary.BigEndian.Uint16(k[1:]) & (routing.NumSlots - 1)
		keys[slot] = int64(binary.BigEndian.Uint64(v))
		expires[slot] = int64(binary.BigEndian.Uint64(v[8:]))
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("reload slot counts: %w", err)
	}
	for s := int(r.Start); s < int(r.End); s++ {
		c.keys[s].Store(keys[s])
		c.expires[s].Store(expires[s])
	}
	return nil
}

// BeginReplace empties the cache and keeps it from being filled until EndReplace: while
// Pebble's contents change outside of any batch, readers must go to Pebble. Calls nest.
func (c *MetaCache) BeginReplace() {
	if c == nil {
		return
	}
	c.present.beginReplace()
	c.eachStripe(func(s *cacheStripe) {
		s.seq++
		s.blocked++
		s.reset()
	})
}

// EndReplace ends a BeginReplace once the new contents are in Pebble: it empties the cache
// again (a reader may have filled nothing, but entries read before the replacement must not
// survive it) and lets fills resume.
func (c *MetaCache) EndReplace() {
	if c == nil {
		return
	}
	c.eachStripe(func(s *cacheStripe) {
		s.seq++
		s.blocked--
		s.reset()
	})
	c.present.endReplace()
}
