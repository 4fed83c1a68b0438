package keyspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/store"
)

// Sub-keys: one Pebble key per hash field, list element, set member or sorted-set entry.
//
//	s | slot(2B) | version(8B) | sub  → value
//
// The user key's name is not part of a sub-key: the collection is identified by its version,
// which is unique within the shard's history (NewVersion), and the slot keeps the sub-keys in
// the slot's span so that snapshots, range moves and flushes carry them with the metadata.
// Consequences relied on elsewhere:
//   - all sub-keys of one collection form one contiguous span, so dropping a big collection
//     is a single range deletion, with no background collector;
//   - RENAME within a slot rewrites the metadata only;
//   - what "sub" means is the type's business (a field, a member, a list position, a score
//     index entry); keyspace only keeps it under the collection's span.

// subPrefixLen is the length of s|slot|version.
const subPrefixLen = 1 + 2 + 8

// appendSubPrefix appends s|slot|version to dst.
func appendSubPrefix(dst []byte, slot uint16, version uint64) []byte {
	dst = append(dst, store.PrefixSub)
	dst = binary.BigEndian.AppendUint16(dst, slot)
	return binary.BigEndian.AppendUint64(dst, version)
}

// subSpan returns [lower, upper) covering every sub-key of the collection (slot, version).
func subSpan(slot uint16, version uint64) (lower, upper []byte) {
	lower = appendSubPrefix(make([]byte, 0, subPrefixLen), slot, version)
	upper = appendSubPrefix(make([]byte, 0, subPrefixLen), slot, version+1)
	if version == ^uint64(0) {
		upper = appendSubPrefix(upper[:0], slot+1, 0)
	}
	return lower, upper
}

func (c *Coll) subKey(sub []byte) []byte {
	k := appendSubPrefix(make([]byte, 0, subPrefixLen+len(sub)), c.slot, c.Meta.Version)
	return append(k, sub...)
}

// GetSub returns the value stored under sub in c (a copy), and whether it exists.
func (t *Txn) GetSub(c *Coll, sub []byte) ([]byte, bool, error) {
	v, closer, err := t.reader(c).Get(c.subKey(sub))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read sub-key: %w", err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	closer.Close()
	return out, true, nil
}

// PutSub stores value under sub in c. It does not change c.Meta.Size: the type knows whether
// sub is new (most callers have just looked it up) and keeps the count itself.
func (t *Txn) PutSub(c *Coll, sub, value []byte) error {
	if t.b == nil {
		return ErrReadOnly
	}
	if err := t.b.Set(c.subKey(sub), value, nil); err != nil {
		return fmt.Errorf("write sub-key: %w", err)
	}
	return nil
}

// DeleteSub removes sub from c (absent: no effect). Like PutSub it leaves Size to the caller.
func (t *Txn) DeleteSub(c *Coll, sub []byte) error {
	if t.b == nil {
		return ErrReadOnly
	}
	if err := t.b.Delete(c.subKey(sub), nil); err != nil {
		return fmt.Errorf("delete sub-key: %w", err)
	}
	return nil
}

// DeleteSubRange deletes c's sub-keys in [from, to) with one range deletion: O(1) however
// many there are (a pop of millions of list elements). The caller adjusts c.Meta.Size.
func (t *Txn) DeleteSubRange(c *Coll, from, to []byte) error {
	if t.b == nil {
		return ErrReadOnly
	}
	if err := t.b.DeleteRange(c.subKey(from), c.subKey(to), nil); err != nil {
		return fmt.Errorf("delete sub-key range: %w", err)
	}
	return nil
}

// SubIterOptions bounds an iteration over a collection's sub-keys: [From, To) in sub-key
// order; nil means unbounded on that side.
type SubIterOptions struct {
	From, To []byte
}

// SubIter walks a collection's sub-keys in order. It is a thin wrapper over a Pebble
// iterator: positioning methods report whether the iterator is on an entry, Sub and Value
// are valid until the next move (copy them to keep them), and Close must be called.
//
// A write Txn's iterator sees the batch as of the iterator's creation: do not write the
// collection while iterating it; collect first, then write.
type SubIter struct {
	it     *pebble.Iterator
	prefix []byte           // s|slot|version
	snap   *pebble.Snapshot // owned by a detached iterator (DetachSubs); nil otherwise
}

// IterSubs opens an iterator over c's sub-keys within opts.
func (t *Txn) IterSubs(c *Coll, opts SubIterOptions) (*SubIter, error) {
	lower, upper := subSpan(c.slot, c.Meta.Version)
	if opts.From != nil {
		lower = append(lower, opts.From...)
	}
	if opts.To != nil {
		upper = append(appendSubPrefix(nil, c.slot, c.Meta.Version), opts.To...)
	}
	it, err := t.reader(c).NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("iterate sub-keys: %w", err)
	}
	return &SubIter{it: it, prefix: appendSubPrefix(nil, c.slot, c.Meta.Version)}, nil
}

// First moves to the smallest sub-key.
func (s *SubIter) First() bool { return s.it.First() }

// Last moves to the largest sub-key.
func (s *SubIter) Last() bool { return s.it.Last() }

// Next moves forward.
func (s *SubIter) Next() bool { return s.it.Next() }

// Prev moves backward.
func (s *SubIter) Prev() bool { return s.it.Prev() }

// Valid reports whether the iterator is on an entry.
func (s *SubIter) Valid() bool { return s.it.Valid() }

// SeekGE moves to the first sub-key >= sub.
func (s *SubIter) SeekGE(sub []byte) bool { return s.it.SeekGE(s.full(sub)) }

// SeekLT moves to the last sub-key < sub.
func (s *SubIter) SeekLT(sub []byte) bool { return s.it.SeekLT(s.full(sub)) }

func (s *SubIter) full(sub []byte) []byte {
	return append(append(make([]byte, 0, len(s.prefix)+len(sub)), s.prefix...), sub...)
}

// Sub returns the current sub-key (without the collection prefix).
func (s *SubIter) Sub() []byte { return s.it.Key()[len(s.prefix):] }

// Value returns the current value.
func (s *SubIter) Value() []byte { return s.it.Value() }

// Close releases the iterator, and the snapshot of a detached one.
func (s *SubIter) Close() error {
	err := s.it.Close()
	if s.snap != nil {
		if serr := s.snap.Close(); err == nil {
			err = serr
		}
		s.snap = nil
	}
	return err
}

// reader returns what c's sub-keys are read from: a read Txn that found c on the live DB
// pinned a snapshot in LookupCollection, so metadata and sub-keys agree.
func (t *Txn) reader(c *Coll) pebble.Reader {
	if c.snap != nil {
		return c.snap
	}
	return t.r
}

// dropSubs deletes every sub-key of the collection (slot, m). Small collections get point
// deletions (cheap to compact away); big ones one range deletion, which is O(1) here and lets
// Pebble reclaim the space in compactions: the request path never walks a big collection.
func (t *Txn) dropSubs(slot uint16, m *Meta) error {
	lower, upper := subSpan(slot, m.Version)
	if m.Size > smallDropLimit {
		if err := t.b.DeleteRange(lower, upper, nil); err != nil {
			return fmt.Errorf("drop collection: %w", err)
		}
		return nil
	}
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("drop collection: %w", err)
	}
	var keys [][]byte
	for it.First(); it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("drop collection: %w", err)
	}
	for _, k := range keys {
		if err := t.b.Delete(k, nil); err != nil {
			return fmt.Errorf("drop collection: %w", err)
		}
	}
	return nil
}

// smallDropLimit is the size up to which a collection is dropped key by key. A sorted set has
// two sub-keys per member, so this bounds the walk at 64 keys.
const smallDropLimit = 32

// copySubs copies every sub-key of the collection (fromSlot, from) to (toSlot, toVersion).
func (t *Txn) copySubs(fromSlot uint16, from uint64, toSlot uint16, toVersion uint64) error {
	lower, upper := subSpan(fromSlot, from)
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("copy collection: %w", err)
	}
	type kv struct{ k, v []byte }
	var all []kv
	for it.First(); it.Valid(); it.Next() {
		all = append(all, kv{bytes.Clone(it.Key()[subPrefixLen:]), bytes.Clone(it.Value())})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("copy collection: %w", err)
	}
	prefix := appendSubPrefix(nil, toSlot, toVersion)
	for _, e := range all {
		k := append(append(make([]byte, 0, len(prefix)+len(e.k)), prefix...), e.k...)
		if err := t.b.Set(k, e.v, nil); err != nil {
			return fmt.Errorf("copy collection: %w", err)
		}
	}
	return nil
}
