// Package keyspace owns how Redis values are laid out in Pebble and the deterministic Txn view
// that commands run on.
//
// Layout (prefixes are allocated in internal/store):
//
//	d | slot | key            → metadata: type, flags, last-write raft index, [expire at],
//	                            [version, size, type extra] for collections, value for strings
//	e | slot | at | key       → (empty) expiry index: keys with a TTL ordered by deadline
//	c | slot                  → key count and expiring-key count of the slot
//	s | slot | ...            → collection sub-keys (one per field/element/member)
//
// Invariants, kept by Txn and relied on by every command:
//   - a key has an expiry-index entry iff its metadata has an expiry, with the same deadline;
//   - the counters of a slot equal the number of metadata keys (and of those with an expiry)
//     in that slot, expired-but-not-yet-deleted keys included (as Redis' DBSIZE);
//   - every write stamps the key's metadata with the raft index of the entry that made it,
//     so WATCH can detect any change, including A→B→A.
//
// Determinism: a write Txn takes "now" from the raft entry being applied, never from the local
// clock, so every replica expires exactly the same keys at the same log position. A read Txn
// takes now from the caller (the leader's clock) and never writes: expired keys simply read as
// absent until an active-expiry or write entry deletes them.
package keyspace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Type is the Redis type of a key.
type Type uint8

// Types, stored in the first metadata byte; values are persisted, never renumber.
const (
	TypeNone   Type = 0
	TypeString Type = 1
	TypeList   Type = 2
	TypeSet    Type = 3
	TypeZSet   Type = 4
	TypeHash   Type = 5
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeHash:
		return "hash"
	}
	return "none"
}

const (
	flagExpire byte = 1 << 0
	// Bits 1-2 hold a string's Encoding.
	encShift      = 1
	encMask  byte = 3 << encShift
)

// Encoding records how Redis would have encoded a string, which depends on the command that
// wrote it, not only on the value (OBJECT ENCODING reports it; clients and tests look at it).
type Encoding uint8

// Encodings; persisted, never renumber.
const (
	// EncAuto: as SET leaves it: "int" for a canonical integer, else "embstr" up to 44 bytes,
	// else "raw" (Redis' tryObjectEncoding).
	EncAuto Encoding = 0
	// EncRaw: modified in place (APPEND, SETRANGE, SETBIT, BITFIELD, BITOP): always "raw".
	EncRaw Encoding = 1
	// EncNoInt: built from a formatted number (INCRBYFLOAT): "embstr" up to 44 bytes, else "raw".
	EncNoInt Encoding = 2
)

// Meta is a key's decoded metadata.
type Meta struct {
	Type Type
	// ExpireAt is the absolute deadline in Unix milliseconds; 0 means no expiry.
	ExpireAt int64
	// LastWrite is the raft index of the entry that last wrote the key.
	LastWrite uint64
	// Version tags a collection's sub-keys; a new collection gets a fresh version, so the
	// sub-keys of a deleted one are unreachable at once and can be collected later.
	Version uint64
	// Size is a collection's element count.
	Size int64
	// Extra is type-specific collection state (list head/tail, ...).
	Extra []byte
	// Value is a string's value.
	Value []byte
	// Enc is a string's encoding hint.
	Enc Encoding
}

// ErrCorrupt reports metadata that does not decode; it means a bug or disk corruption.
var ErrCorrupt = errors.New("keyspace: corrupt metadata")

func isCollection(t Type) bool { return t >= TypeList && t <= TypeHash }

// encodeMeta appends m's encoding to dst.
func encodeMeta(dst []byte, m *Meta) []byte {
	var flags byte
	if m.ExpireAt != 0 {
		flags |= flagExpire
	}
	flags |= byte(m.Enc) << encShift & encMask
	if dst == nil {
		// Sized up front: every SET encodes one, and growing by appends cost it two or
		// three allocations.
		dst = make([]byte, 0, encodedMetaLen(m))
	}
	dst = append(dst, byte(m.Type), flags)
	dst = binary.BigEndian.AppendUint64(dst, m.LastWrite)
	if m.ExpireAt != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.ExpireAt))
	}
	if isCollection(m.Type) {
		dst = binary.BigEndian.AppendUint64(dst, m.Version)
		dst = binary.BigEndian.AppendUint64(dst, uint64(m.Size))
		dst = binary.AppendUvarint(dst, uint64(len(m.Extra)))
		dst = append(dst, m.Extra...)
		return dst
	}
	return append(dst, m.Value...)
}

// encodedMetaLen is the length encodeMeta gives m (at most, for a collection: its Extra's
// length prefix is a varint).
func encodedMetaLen(m *Meta) int {
	n := 2 + 8
	if m.ExpireAt != 0 {
		n += 8
	}
	if isCollection(m.Type) {
		return n + 8 + 8 + binary.MaxVarintLen64 + len(m.Extra)
	}
	return n + len(m.Value)
}

// decodeMeta decodes b; the returned Value and Extra alias b.
func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < 10 {
		return m, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	m.Type = Type(b[0])
	flags := b[1]
	m.Enc = Encoding(flags & encMask >> encShift)
	m.LastWrite = binary.BigEndian.Uint64(b[2:10])
	b = b[10:]
	if flags&flagExpire != 0 {
		if len(b) < 8 {
			return m, fmt.Errorf("%w: short expiry", ErrCorrupt)
		}
		m.ExpireAt = int64(binary.BigEndian.Uint64(b))
		b = b[8:]
	}
	switch {
	case m.Type == TypeString:
		m.Value = b
	case isCollection(m.Type):
		if len(b) < 16 {
			return m, fmt.Errorf("%w: short collection header", ErrCorrupt)
		}
		m.Version = binary.BigEndian.Uint64(b)
		m.Size = int64(binary.BigEndian.Uint64(b[8:]))
		n, w := binary.Uvarint(b[16:])
		if w <= 0 || uint64(len(b)-16-w) < n {
			return m, fmt.Errorf("%w: bad extra", ErrCorrupt)
		}
		m.Extra = b[16+w : 16+w+int(n)]
	default:
		return m, fmt.Errorf("%w: type %d", ErrCorrupt, m.Type)
	}
	return m, nil
}
