package keyspace

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
)

// Collections (lists, sets, sorted sets, hashes) are a metadata key holding the type, size,
// version, expiry and a type-specific Extra, plus one sub-key per element (sub.go).
//
// Who calls what: a command looks a collection up (LookupCollection), or makes one
// (CreateCollection, LookupOrCreateCollection), reads and writes its sub-keys through the Txn,
// adjusts Meta.Size and Meta.Extra itself, and ends with SaveCollection, which writes the
// metadata, or deletes the key when Size has dropped to 0: Redis never keeps an empty
// collection. A command that changes nothing should not call SaveCollection, so that the key's
// last-write index (WATCH) stays.
//
// Encoding: Meta.Enc of a collection is EncCompact while Redis would still hold it in its
// small encoding (listpack, intset) and EncBig once it has converted, which in Redis 7.0 is
// never undone; the type decides when to convert.

// Collection encodings (Meta.Enc of a collection); persisted, never renumber.
const (
	EncCompact Encoding = 0
	EncBig     Encoding = 1
)

// Coll is a collection being read or written by one command.
type Coll struct {
	Key  []byte
	Meta Meta
	slot uint16
	// snap is the snapshot a read Txn pinned so that the metadata and the sub-keys read
	// agree; nil for a write Txn or a read Txn already on a snapshot.
	snap *pebble.Snapshot
}

// Slot returns the slot of the collection's key.
func (c *Coll) Slot() uint16 { return c.slot }

// LookupCollection returns the live collection at key, nil when key is absent, and
// ErrWrongType when key holds another type.
func (t *Txn) LookupCollection(key []byte, typ Type) (*Coll, error) {
	m, ok, err := t.LookupType(key, typ)
	if err != nil || !ok {
		return nil, err
	}
	c := &Coll{Key: key, Meta: m, slot: routing.Slot(key)}
	db, onDB := t.r.(*pebble.DB)
	if t.b != nil || !onDB {
		return c, nil
	}
	// A read on the live DB: the metadata just read and the sub-keys read next could come
	// from different commits. Pin a snapshot and take the metadata from it.
	snap := db.NewSnapshot()
	t.snaps = append(t.snaps, snap)
	v, closer, err := snap.Get(MetaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	m, err = decodeMeta(v)
	if err == nil {
		m.Extra = append([]byte(nil), m.Extra...)
	}
	closer.Close()
	if err != nil {
		return nil, err
	}
	if m.ExpireAt != 0 && m.ExpireAt <= t.now {
		return nil, nil
	}
	if m.Type != typ {
		return nil, ErrWrongType
	}
	c.Meta, c.snap = m, snap
	return c, nil
}

// CreateCollection returns a new empty collection of type typ at key with a fresh version.
// Nothing is written until SaveCollection, which replaces whatever key holds then.
func (t *Txn) CreateCollection(key []byte, typ Type) *Coll {
	return &Coll{
		Key:  key,
		Meta: Meta{Type: typ, Version: t.NewVersion()},
		slot: routing.Slot(key),
	}
}

// LookupOrCreateCollection returns the collection at key, or a new one if key is absent
// (created reports which); ErrWrongType when key holds another type.
func (t *Txn) LookupOrCreateCollection(key []byte, typ Type) (c *Coll, created bool, err error) {
	c, err = t.LookupCollection(key, typ)
	if err != nil || c != nil {
		return c, false, err
	}
	return t.CreateCollection(key, typ), true, nil
}

// SaveCollection writes c's metadata, or deletes the key (and c's sub-keys) when c is empty.
func (t *Txn) SaveCollection(c *Coll) error {
	if t.b == nil {
		return ErrReadOnly
	}
	if c.Meta.Size > 0 {
		return t.Put(c.Key, c.Meta)
	}
	old, ok, err := t.rawMeta(c.Key)
	if err != nil {
		return err
	}
	if ok && isCollection(old.Type) && old.Version == c.Meta.Version {
		return t.remove(c.Key, &old)
	}
	// Never stored under this version: drop any sub-keys the command wrote before emptying.
	return t.dropSubs(c.slot, &c.Meta)
}

// RenameKey moves src, whose live metadata is m, to dst (replacing dst), TTL included. A
// collection moved within its slot keeps its sub-keys where they are; into another slot
// they are copied, which is O(N).
func (t *Txn) RenameKey(src, dst []byte, m Meta) error {
	if t.b == nil {
		return ErrReadOnly
	}
	if !isCollection(m.Type) {
		if err := t.Put(dst, m); err != nil {
			return err
		}
		_, err := t.Delete(src)
		return err
	}
	srcSlot, dstSlot := routing.Slot(src), routing.Slot(dst)
	if srcSlot == dstSlot {
		if err := t.Put(dst, m); err != nil {
			return err
		}
		return t.removeMeta(src, &m)
	}
	moved := m
	moved.Version = t.NewVersion()
	if err := t.copySubs(srcSlot, m.Version, dstSlot, moved.Version); err != nil {
		return err
	}
	if err := t.Put(dst, moved); err != nil {
		return err
	}
	return t.remove(src, &m)
}

// RepackCollection moves c's sub-keys to a fresh version and drops the old version's span
// with one range deletion. A collection that lost most of its members to point deletions
// keeps their tombstones in its span until Pebble compacts them away, and every iterator over
// the span steps over them (SPOP's random pick samples from the first member on); the new
// span has none. Members, values and their order are unchanged, so every read and every
// random pick gives what it gave before; only the version moves. The caller saves c.
func (t *Txn) RepackCollection(c *Coll) error {
	if t.b == nil {
		return ErrReadOnly
	}
	old := c.Meta.Version
	c.Meta.Version = t.NewVersion()
	if err := t.copySubs(c.slot, old, c.slot, c.Meta.Version); err != nil {
		return err
	}
	lower, upper := subSpan(c.slot, old)
	if err := t.b.DeleteRange(lower, upper, nil); err != nil {
		return fmt.Errorf("repack collection: %w", err)
	}
	return nil
}

// CopyKey writes a copy of m, src's live metadata, at dst (replacing dst), TTL included.
func (t *Txn) CopyKey(src, dst []byte, m Meta) error {
	if t.b == nil {
		return ErrReadOnly
	}
	if !isCollection(m.Type) {
		return t.Put(dst, m)
	}
	cp := m
	cp.Version = t.NewVersion()
	if err := t.copySubs(routing.Slot(src), m.Version, routing.Slot(dst), cp.Version); err != nil {
		return err
	}
	return t.Put(dst, cp)
}

// Close releases what a read Txn pinned (snapshots for collection reads). The Txn's results,
// sub-key values included, stay valid: they are copies.
func (t *Txn) Close() {
	for _, s := range t.snaps {
		_ = s.Close()
	}
	t.snaps = nil
}

// Rand returns the random source a command must use for its choices (SPOP, ZRANDMEMBER, ...).
// A write Txn's source is seeded from the raft entry (index and time), so every replica makes
// the same choices without shipping them; a read Txn's is seeded from the caller's clock.
// Repeated calls return the same source, so one command's draws are one sequence.
func (t *Txn) Rand() *rand.Rand {
	if t.rng == nil {
		if t.b != nil {
			t.rng = rand.New(rand.NewPCG(t.index, uint64(t.now)))
		} else {
			t.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		}
	}
	return t.rng
}
