package keyspace

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// Counts holds every slot's key count and expiring-key count in memory, mirrored durably
// under the 'c' prefix. Writers are apply goroutines (a slot belongs to one shard, and one
// shard applies sequentially, so each slot has one writer at a time); readers (DBSIZE, INFO,
// CLUSTER COUNTKEYSINSLOT) may run concurrently and see each slot's latest applied value.
type Counts struct {
	keys    [routing.NumSlots]atomic.Int64
	expires [routing.NumSlots]atomic.Int64
}

// LoadCounts reads the durable counters.
func LoadCounts(r pebble.Reader) (*Counts, error) {
	c := &Counts{}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{store.PrefixCount}, UpperBound: []byte{store.PrefixCount + 1}})
	if err != nil {
		return nil, fmt.Errorf("load slot counts: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 3 || len(v) != 16 {
			return nil, fmt.Errorf("load slot counts: %w: counter %x", ErrCorrupt, k)
		}
		slot := binary.BigEndian.Uint16(k[1:]) & (routing.NumSlots - 1)
		c.keys[slot].Store(int64(binary.BigEndian.Uint64(v)))
		c.expires[slot].Store(int64(binary.BigEndian.Uint64(v[8:])))
	}
	return c, it.Error()
}

// Keys returns the number of keys in slots r.
func (c *Counts) Keys(r routing.Range) int64 {
	var n int64
	for s := int(r.Start); s < int(r.End); s++ {
		n += c.keys[s].Load()
	}
	return n
}

// Expires returns the number of keys with a TTL in slots r.
func (c *Counts) Expires(r routing.Range) int64 {
	var n int64
	for s := int(r.Start); s < int(r.End); s++ {
		n += c.expires[s].Load()
	}
	return n
}

// SlotKeys returns the number of keys in one slot.
func (c *Counts) SlotKeys(slot uint16) int64 { return c.keys[slot&(routing.NumSlots-1)].Load() }

// add applies a delta to slot's counters and records the new values in b.
func (c *Counts) add(b *pebble.Batch, slot uint16, dkeys, dexpires int64) error {
	k := c.keys[slot].Add(dkeys)
	e := c.expires[slot].Add(dexpires)
	var v [16]byte
	binary.BigEndian.PutUint64(v[:], uint64(k))
	binary.BigEndian.PutUint64(v[8:], uint64(e))
	return b.Set(countKey(slot), v[:], nil)
}

// resetRange zeroes the in-memory counters of r (their durable keys are range-deleted by
// the caller in the same batch).
func (c *Counts) resetRange(r routing.Range) {
	for s := int(r.Start); s < int(r.End); s++ {
		c.keys[s].Store(0)
		c.expires[s].Store(0)
	}
}
