package routing

import "fmt"

// Range is a half-open span of slots [Start, End).
type Range struct{ Start, End uint16 }

// Contains reports whether slot is in r.
func (r Range) Contains(slot uint16) bool { return slot >= r.Start && slot < r.End }

// Table is the static slot → shard map: shard i (1-based id) of n owns one contiguous range.
// Immutable after NewTable; safe for concurrent use.
type Table struct {
	ranges  []Range // index i: shard id i+1
	bySlot  [NumSlots]uint16
	nshards int
}

// NewTable splits the slots evenly over n shards with ids 1..n.
func NewTable(n int) (*Table, error) {
	if n < 1 || n > 1024 {
		return nil, fmt.Errorf("shard count %d out of range 1..1024", n)
	}
	t := &Table{nshards: n}
	for i := range n {
		r := Range{Start: uint16(i * NumSlots / n)}
		end := (i + 1) * NumSlots / n
		r.End = uint16(end) // NumSlots fits: 16384 < 65536
		t.ranges = append(t.ranges, r)
		for s := int(r.Start); s < end; s++ {
			t.bySlot[s] = uint16(i + 1)
		}
	}
	return t, nil
}

// Shards returns the number of shards.
func (t *Table) Shards() int { return t.nshards }

// ShardOf returns the id (1-based) of the shard owning slot.
func (t *Table) ShardOf(slot uint16) uint64 { return uint64(t.bySlot[slot&(NumSlots-1)]) }

// RangeOf returns the slots owned by shard id.
func (t *Table) RangeOf(id uint64) Range { return t.ranges[id-1] }
