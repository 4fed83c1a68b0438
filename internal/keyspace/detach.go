package keyspace

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// DetachSubs opens an iterator over c's sub-keys within opts that outlives t: the snapshot a
// read Txn pinned for c (LookupCollection on the live DB) is handed to the iterator, whose
// Close releases both. It is how a read streams a huge reply after its command has returned
// and the Txn is closed (reply.Stream).
//
// ok is false, with no iterator, when c is not read from a snapshot of its own (a write Txn,
// or a read Txn already on a snapshot that its caller closes): the caller then builds its
// reply whole. After a successful call c must not be read through t again.
func (t *Txn) DetachSubs(c *Coll, opts SubIterOptions) (it *SubIter, ok bool, err error) {
	if c.snap == nil || t.b != nil {
		return nil, false, nil
	}
	snap := c.snap
	for i, s := range t.snaps {
		if s == snap {
			t.snaps = append(t.snaps[:i:i], t.snaps[i+1:]...)
			break
		}
	}
	c.snap = nil
	lower, upper := subSpan(c.slot, c.Meta.Version)
	prefix := appendSubPrefix(nil, c.slot, c.Meta.Version)
	if opts.From != nil {
		lower = append(append([]byte(nil), prefix...), opts.From...)
	}
	if opts.To != nil {
		upper = append(append([]byte(nil), prefix...), opts.To...)
	}
	pit, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		_ = snap.Close()
		return nil, false, fmt.Errorf("iterate sub-keys: %w", err)
	}
	return &SubIter{it: pit, prefix: prefix, snap: snap}, true, nil
}
