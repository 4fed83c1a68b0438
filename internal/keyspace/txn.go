package keyspace

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
)

// ErrWrongType is returned when a key holds a value of another type than the command needs.
var ErrWrongType = errors.New("keyspace: wrong type")

// ErrReadOnly is returned by a write on a read Txn; it means a command table bug.
var ErrReadOnly = errors.New("keyspace: write on a read-only txn")

// Txn is the view one command (or one batch of commands in a raft entry) runs on.
//
// A write Txn wraps an indexed Pebble batch, so reads see the batch's own earlier writes; it
// is used only by a shard's apply goroutine, and the shard commits the batch together with its
// applied index. A read Txn wraps a Pebble snapshot or the DB and never writes. A Txn is not
// safe for concurrent use.
type Txn struct {
	r     pebble.Reader
	b     *pebble.Batch
	now   int64
	index uint64
	seq   uint64
	// entrySeq, when set, is the version sequence shared by every Txn of one raft entry.
	entrySeq *uint64
	counts   *Counts
	cache    *MetaCache
	// live: a read Txn on the DB itself (not a snapshot), which may use the cache.
	live bool
	// last caches the metadata of the key a write Txn touched last: commands look a key up
	// and then write it, and the write needs the old metadata again (TTL index, counters).
	last struct {
		valid, ok bool
		key       []byte
		m         Meta
	}

	// Hits and Misses count key lookups of a read Txn (INFO keyspace_hits/misses).
	Hits, Misses int64
	// Expired counts keys this Txn deleted because their deadline had passed.
	Expired int64

	// replies says what becomes of a write Txn's replies; db is what ReplyStreamed snapshots.
	replies ReplyMode
	db      *pebble.DB

	// snaps are the snapshots a read Txn pinned for collection reads; Close releases them.
	snaps []*pebble.Snapshot
	rng   *rand.Rand
}

// NewReadTxn returns a read-only view on r (a snapshot, a batch or the DB) at time now (Unix
// ms, the caller's clock).
func NewReadTxn(r pebble.Reader, now int64, counts *Counts) *Txn {
	return InitReadTxn(new(Txn), r, now, counts)
}

// InitReadTxn makes t, a Txn that is unused or closed, a new read Txn as NewReadTxn would
// return, and returns it: a caller running many reads in turn reuses one Txn instead of
// allocating one each.
func InitReadTxn(t *Txn, r pebble.Reader, now int64, counts *Counts) *Txn {
	*t = Txn{r: r, now: now, counts: counts}
	return t
}

// NewWriteTxn returns a view that writes into b, an indexed batch. now and index come from the
// raft entry being applied.
func NewWriteTxn(b *pebble.Batch, now int64, index uint64, counts *Counts) *Txn {
	return &Txn{r: b, b: b, now: now, index: index, counts: counts}
}

// WithCache makes t use c (nil: none). A read Txn must pass live=true only when it reads the
// DB itself, not a snapshot: the cache holds the latest committed state.
func (t *Txn) WithCache(c *MetaCache, live bool) *Txn {
	t.cache, t.live = c, live
	return t
}

// ReplyMode says what becomes of the replies of the commands a write Txn runs.
type ReplyMode uint8

const (
	// ReplyWhole: replies are built in full during the command (the default).
	ReplyWhole ReplyMode = iota
	// ReplyStreamed: a reply may be a stream on a snapshot of the DB, taken during apply and
	// released by whoever reads (or discards) the reply (DetachCommittedSubs).
	ReplyStreamed
	// ReplyDropped: nobody reads the replies (a replica applying another node's proposal), so
	// a command may skip building a costly one. Its writes must be the same in every mode.
	ReplyDropped
)

// WithReplies sets what becomes of a write Txn's replies; db is the database its batch
// commits to, which ReplyStreamed snapshots.
func (t *Txn) WithReplies(mode ReplyMode, db *pebble.DB) *Txn {
	t.replies, t.db = mode, db
	return t
}

// RepliesDropped reports whether nobody reads the replies of this Txn's commands.
func (t *Txn) RepliesDropped() bool { return t.replies == ReplyDropped }

// Now returns the Txn's time in Unix milliseconds.
func (t *Txn) Now() int64 { return t.now }

// Index returns the raft index of the entry a write Txn applies (0 for a read Txn).
func (t *Txn) Index() uint64 { return t.index }

// Writable reports whether t can write.
func (t *Txn) Writable() bool { return t.b != nil }

// Counts returns the slot counters t maintains.
func (t *Txn) Counts() *Counts { return t.counts }

// NewVersion returns a collection version unique within the shard's history: the entry index
// in the high bits, a per-entry sequence below. The sequence is the entry's (WithEntrySeq)
// when the caller runs several Txns for one entry: two collections of one slot created by
// two payloads of the same entry must not share a version, or their sub-keys would mix.
func (t *Txn) NewVersion() uint64 {
	seq := &t.seq
	if t.entrySeq != nil {
		seq = t.entrySeq
	}
	*seq++
	return t.index<<16 | *seq&0xffff
}

// WithEntrySeq makes NewVersion count with *seq, a counter the caller keeps for the whole
// raft entry t's index names (zero at the entry's first payload, on every replica alike).
func (t *Txn) WithEntrySeq(seq *uint64) *Txn {
	t.entrySeq = seq
	return t
}

// rawMeta reads key's metadata with no expiry check.
func (t *Txn) rawMeta(key []byte) (Meta, bool, error) {
	if t.last.valid && bytes.Equal(t.last.key, key) {
		// Callers may modify what they get (SETBIT edits the value in place), so a hit hands
		// out its own copy, as a read from Pebble does.
		m := t.last.m
		m.Value, m.Extra = bytes.Clone(m.Value), bytes.Clone(m.Extra)
		return m, t.last.ok, nil
	}
	enc, found, err := t.encodedMeta(key)
	if err != nil {
		return Meta{}, false, err
	}
	if !found {
		t.remember(key, nil)
		return Meta{}, false, nil
	}
	m, err := decodeMeta(enc)
	if err != nil {
		return Meta{}, false, err
	}
	if t.b != nil {
		// enc may be a cached slice, which is immutable; a writer gets its own copy.
		m.Value, m.Extra = bytes.Clone(m.Value), bytes.Clone(m.Extra)
	}
	t.remember(key, &m)
	return m, true, nil
}

// encodedMeta returns key's encoded metadata from, in order: the writes this Txn's batch
// staged, the cache, Pebble (filling the cache). The result must not be modified.
func (t *Txn) encodedMeta(key []byte) ([]byte, bool, error) {
	c := t.cache
	if c != nil && t.b != nil {
		if st := c.peekStage(t.b); st != nil {
			if st.flushed {
				c = nil // the batch deleted whole ranges: only the batch itself knows
			} else if enc, ok := st.writes[string(key)]; ok {
				return enc, enc != nil, nil
			}
		}
	}
	useCache := c != nil && (t.b != nil || t.live)
	var seq uint64
	if useCache {
		enc, hit, s := c.get(key)
		if hit {
			return enc, enc != nil, nil
		}
		seq = s
		if c.present.absent(key) {
			if t.b == nil {
				c.fill(key, nil, seq) // a writer is about to install its own value
			}
			return nil, false, nil
		}
	}
	v, closer, err := t.r.Get(MetaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		if useCache {
			c.fill(key, nil, seq)
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read metadata: %w", err)
	}
	enc := bytes.Clone(v)
	closer.Close()
	if useCache {
		c.fill(key, enc, seq)
	}
	return enc, true, nil
}

// remember caches key's current metadata (nil: absent) in a write Txn.
func (t *Txn) remember(key []byte, m *Meta) {
	if t.b == nil {
		return
	}
	t.last.valid, t.last.ok = true, m != nil
	t.last.key = append(t.last.key[:0], key...)
	value, extra := t.last.m.Value[:0], t.last.m.Extra[:0]
	if m != nil {
		// Copied: the caller keeps ownership of the buffers it passed to Put.
		t.last.m = *m
		t.last.m.Value = append(value, m.Value...)
		t.last.m.Extra = append(extra, m.Extra...)
	} else {
		t.last.m = Meta{Value: value, Extra: extra}
	}
}

// Lookup returns key's metadata. An expired key reads as absent; a write Txn also deletes it.
func (t *Txn) Lookup(key []byte) (Meta, bool, error) {
	m, ok, err := t.rawMeta(key)
	if err != nil || !ok {
		if t.b == nil && err == nil {
			t.Misses++
		}
		return m, false, err
	}
	if m.ExpireAt != 0 && m.ExpireAt <= t.now {
		if t.b == nil {
			t.Misses++
			return Meta{}, false, nil
		}
		if err := t.remove(key, &m); err != nil {
			return Meta{}, false, err
		}
		t.Expired++
		return Meta{}, false, nil
	}
	if t.b == nil {
		t.Hits++
	}
	return m, true, nil
}

// LastWrite returns the raft index of the entry that last wrote key, 0 when the key is
// absent or expired: WATCH's version of the key. It counts no hit or miss and, unlike
// Lookup, deletes nothing: EXEC compares versions before its commands run.
func (t *Txn) LastWrite(key []byte) (uint64, error) {
	m, ok, err := t.rawMeta(key)
	if err != nil || !ok || m.ExpireAt != 0 && m.ExpireAt <= t.now {
		return 0, err
	}
	return m.LastWrite, nil
}

// LookupType is Lookup that fails with ErrWrongType when key exists with another type.
func (t *Txn) LookupType(key []byte, typ Type) (Meta, bool, error) {
	m, ok, err := t.Lookup(key)
	if err == nil && ok && m.Type != typ {
		return Meta{}, false, ErrWrongType
	}
	return m, ok, err
}

// GetString returns a string key's value.
func (t *Txn) GetString(key []byte) ([]byte, bool, error) {
	m, ok, err := t.LookupType(key, TypeString)
	return m.Value, ok, err
}

// Put writes key's metadata as m, replacing whatever key held (a collection's old sub-keys
// become unreachable). LastWrite is stamped by Put.
func (t *Txn) Put(key []byte, m Meta) error {
	if t.b == nil {
		return ErrReadOnly
	}
	old, existed, err := t.rawMeta(key)
	if err != nil {
		return err
	}
	var prev *Meta
	if existed {
		prev = &old
	}
	return t.put(key, prev, &m)
}

// SetString stores a string value with deadline expireAt (0: none).
func (t *Txn) SetString(key, value []byte, expireAt int64) error {
	return t.Put(key, Meta{Type: TypeString, Value: value, ExpireAt: expireAt})
}

// SetStringEnc is SetString with an encoding hint other than EncAuto.
func (t *Txn) SetStringEnc(key, value []byte, expireAt int64, enc Encoding) error {
	return t.Put(key, Meta{Type: TypeString, Value: value, ExpireAt: expireAt, Enc: enc})
}

func (t *Txn) put(key []byte, old, m *Meta) error {
	slot := routing.Slot(key)
	m.LastWrite = t.index
	var dkeys, dexp int64
	if old == nil {
		dkeys = 1
	}
	oldAt := int64(0)
	if old != nil {
		oldAt = old.ExpireAt
	}
	if oldAt != m.ExpireAt {
		if oldAt != 0 {
			if err := t.b.Delete(expiryKey(slot, oldAt, key), nil); err != nil {
				return err
			}
			dexp--
		}
		if m.ExpireAt != 0 {
			if err := t.b.Set(expiryKey(slot, m.ExpireAt, key), nil, nil); err != nil {
				return err
			}
			dexp++
		}
	}
	if old != nil && isCollection(old.Type) && (!isCollection(m.Type) || old.Version != m.Version) {
		// The key now holds another value: its old sub-keys go with it.
		if err := t.dropSubs(slot, old); err != nil {
			return err
		}
	}
	enc := encodeMeta(nil, m)
	if t.cache != nil {
		t.cache.present.add(key) // before the batch can commit: see presence
	}
	if err := t.b.Set(appendMetaKey(nil, slot, key), enc, nil); err != nil {
		return err
	}
	if t.cache != nil {
		t.cache.stage(t.b).writes[string(key)] = enc
	}
	t.remember(key, m)
	if dkeys != 0 || dexp != 0 {
		return t.counts.add(t.b, slot, dkeys, dexp)
	}
	return nil
}

// remove deletes key whose current metadata is m, a collection's sub-keys included.
func (t *Txn) remove(key []byte, m *Meta) error {
	if isCollection(m.Type) {
		if err := t.dropSubs(routing.Slot(key), m); err != nil {
			return err
		}
	}
	return t.removeMeta(key, m)
}

// removeMeta deletes key's metadata (and expiry entry) only.
func (t *Txn) removeMeta(key []byte, m *Meta) error {
	slot := routing.Slot(key)
	var dexp int64
	if m.ExpireAt != 0 {
		if err := t.b.Delete(expiryKey(slot, m.ExpireAt, key), nil); err != nil {
			return err
		}
		dexp = -1
	}
	if err := t.b.Delete(appendMetaKey(nil, slot, key), nil); err != nil {
		return err
	}
	if t.cache != nil {
		t.cache.stage(t.b).writes[string(key)] = nil
	}
	t.remember(key, nil)
	return t.counts.add(t.b, slot, -1, dexp)
}

// Delete removes key; it reports whether a live key was there.
func (t *Txn) Delete(key []byte) (bool, error) {
	if t.b == nil {
		return false, ErrReadOnly
	}
	m, ok, err := t.Lookup(key)
	if err != nil || !ok {
		return false, err
	}
	return true, t.remove(key, &m)
}

// SetExpire sets a live key's deadline (0 removes it); it reports whether the key exists.
func (t *Txn) SetExpire(key []byte, at int64) (bool, error) {
	if t.b == nil {
		return false, ErrReadOnly
	}
	m, ok, err := t.Lookup(key)
	if err != nil || !ok {
		return false, err
	}
	old := m
	m.ExpireAt = at
	return true, t.put(key, &old, &m)
}

// ExpireIfDue deletes key if its deadline has passed at the Txn's time (active expiry); it
// reports whether it did.
func (t *Txn) ExpireIfDue(key []byte) (bool, error) {
	before := t.Expired
	_, _, err := t.Lookup(key)
	return t.Expired > before, err
}

// FlushRange deletes every key in slots r: a span delete per data prefix.
func (t *Txn) FlushRange(r routing.Range) error {
	if t.b == nil {
		return ErrReadOnly
	}
	for _, p := range DataPrefixes {
		lo, hi := SpanBounds(p, r)
		if err := t.b.DeleteRange(lo, hi, nil); err != nil {
			return fmt.Errorf("flush span %c: %w", p, err)
		}
	}
	t.counts.resetRange(t.b, r)
	if t.cache != nil {
		t.cache.stage(t.b).flushed = true
	}
	t.last.valid = false
	return nil
}
