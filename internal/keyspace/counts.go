package keyspace

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// Counts holds every slot's key count and expiring-key count in memory, mirrored durably
// under the 'c' prefix. Writers are apply goroutines (a slot belongs to one shard, and one
// shard applies sequentially, so each slot has one writer at a time); readers (DBSIZE, INFO,
// CLUSTER COUNTKEYSINSLOT) may run concurrently.
//
// Changes are staged per Pebble batch and become visible to readers only when the batch's
// owner calls Publish after committing it, so a reader never counts a key it could not yet
// read (DBSIZE then KEYS must not go backwards). Within a batch, later writes see the staged
// values of earlier ones. A batch that is discarded instead of committed must be Discarded.
type Counts struct {
	keys    [routing.NumSlots]atomic.Int64
	expires [routing.NumSlots]atomic.Int64

	mu     sync.Mutex
	staged map[*pebble.Batch]map[uint16]*slotDelta
}

// slotDelta is a batch's uncommitted change to one slot's counters.
type slotDelta struct {
	reset          bool // the batch flushed the slot: start from zero
	keys, expiring int64
}

// LoadCounts reads the durable counters.
func LoadCounts(r pebble.Reader) (*Counts, error) {
	c := &Counts{staged: map[*pebble.Batch]map[uint16]*slotDelta{}}
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

// delta returns b's staged change to slot, creating it.
func (c *Counts) delta(b *pebble.Batch, slot uint16) *slotDelta {
	c.mu.Lock()
	defer c.mu.Unlock()
	byslot := c.staged[b]
	if byslot == nil {
		byslot = map[uint16]*slotDelta{}
		c.staged[b] = byslot
	}
	d := byslot[slot]
	if d == nil {
		d = &slotDelta{}
		byslot[slot] = d
	}
	return d
}

// add stages a delta to slot's counters in b and records the resulting values in b.
func (c *Counts) add(b *pebble.Batch, slot uint16, dkeys, dexpires int64) error {
	d := c.delta(b, slot)
	d.keys += dkeys
	d.expiring += dexpires
	k, e := d.keys, d.expiring
	if !d.reset {
		k += c.keys[slot].Load()
		e += c.expires[slot].Load()
	}
	var v [16]byte
	binary.BigEndian.PutUint64(v[:], uint64(k))
	binary.BigEndian.PutUint64(v[8:], uint64(e))
	return b.Set(countKey(slot), v[:], nil)
}

// resetRange stages zeroed counters for r in b (their durable keys are range-deleted by the
// caller in the same batch).
func (c *Counts) resetRange(b *pebble.Batch, r routing.Range) {
	for s := int(r.Start); s < int(r.End); s++ {
		*c.delta(b, uint16(s)) = slotDelta{reset: true}
	}
}

// Publish makes b's staged changes visible; call it once b is committed.
func (c *Counts) Publish(b *pebble.Batch) {
	c.mu.Lock()
	byslot := c.staged[b]
	delete(c.staged, b)
	c.mu.Unlock()
	for slot, d := range byslot {
		if d.reset {
			c.keys[slot].Store(d.keys)
			c.expires[slot].Store(d.expiring)
			continue
		}
		c.keys[slot].Add(d.keys)
		c.expires[slot].Add(d.expiring)
	}
}

// Discard forgets b's staged changes; call it when b is closed without being committed.
func (c *Counts) Discard(b *pebble.Batch) {
	c.mu.Lock()
	delete(c.staged, b)
	c.mu.Unlock()
}
