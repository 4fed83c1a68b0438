package keyspace

import (
	"bytes"
	"context"
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
	return snapSubIter(snap, c, opts)
}

// DetachCommittedSubs is DetachSubs for a write Txn whose command is about to delete the
// sub-keys of c within opts and reply with them (SPOP of the whole set, LPOP of thousands of
// elements): the iterator reads a snapshot of the DB taken now, during apply, so the reply is
// streamed after the command instead of built in the shard's apply loop. The snapshot holds c as committed by earlier batches, which
// is c as t sees it only if this batch has not changed c yet. Every change to a live
// collection sets its metadata key (its size at least, or a new version when it was deleted
// and created again), so ok is false, with no iterator, when the batch holds a value for c's
// metadata key (or, as a second guard, for one of its sub-keys); a deletion alone cannot
// have happened, since c is live in t. ok is false too when t's replies are not
// ReplyStreamed. The caller then builds its reply whole.
func (t *Txn) DetachCommittedSubs(c *Coll, opts SubIterOptions) (it *SubIter, ok bool, err error) {
	if t.b == nil || t.replies != ReplyStreamed || t.db == nil {
		return nil, false, nil
	}
	meta := appendMetaKey(nil, c.slot, c.Key)
	lower, upper := subSpan(c.slot, c.Meta.Version)
	for _, span := range [][2][]byte{{meta, append(bytes.Clone(meta), 0)}, {lower, upper}} {
		written, err := t.batchWrites(span[0], span[1])
		if err != nil || written {
			return nil, false, err
		}
	}
	return snapSubIter(t.db.NewSnapshot(), c, opts)
}

// snapSubIter opens an iterator over c's sub-keys within opts on snap, which it then owns:
// the iterator's Close releases it (and so does a failure here).
func snapSubIter(snap *pebble.Snapshot, c *Coll, opts SubIterOptions) (*SubIter, bool, error) {
	lower, upper := subSpan(c.slot, c.Meta.Version)
	prefix := appendSubPrefix(nil, c.slot, c.Meta.Version)
	if opts.From != nil {
		lower = append(bytes.Clone(prefix), opts.From...)
	}
	if opts.To != nil {
		upper = append(bytes.Clone(prefix), opts.To...)
	}
	pit, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		_ = snap.Close()
		return nil, false, fmt.Errorf("iterate sub-keys: %w", err)
	}
	return &SubIter{it: pit, prefix: prefix, snap: snap}, true, nil
}

// batchWrites reports whether t's batch sets a key in [lower, upper) (deletions in the batch
// are invisible to it).
func (t *Txn) batchWrites(lower, upper []byte) (bool, error) {
	it, err := t.b.NewBatchOnlyIter(context.Background(), &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, fmt.Errorf("iterate batch: %w", err)
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("iterate batch: %w", err)
	}
	return found, nil
}
