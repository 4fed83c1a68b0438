package keyspace

import (
	"encoding/binary"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// metaKeyPrefixLen is the length of a metadata key before its user key: prefix byte, slot.
// The user key may be empty, so a metadata key may be exactly this long.
const metaKeyPrefixLen = 1 + 2

// MetaKey returns the metadata key of a user key.
func MetaKey(key []byte) []byte {
	return appendMetaKey(make([]byte, 0, metaKeyPrefixLen+len(key)), routing.Slot(key), key)
}

func appendMetaKey(dst []byte, slot uint16, key []byte) []byte {
	dst = append(dst, store.PrefixData)
	dst = binary.BigEndian.AppendUint16(dst, slot)
	return append(dst, key...)
}

func expiryKey(slot uint16, at int64, key []byte) []byte {
	b := make([]byte, 0, 11+len(key))
	b = append(b, store.PrefixExpiry)
	b = binary.BigEndian.AppendUint16(b, slot)
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	return append(b, key...)
}

func countKey(slot uint16) []byte {
	return []byte{store.PrefixCount, byte(slot >> 8), byte(slot)}
}

// slotPrefix returns prefix|slot, the start of slot's span under prefix.
func slotPrefix(prefix byte, slot uint16) []byte {
	return []byte{prefix, byte(slot >> 8), byte(slot)}
}

// SpanBounds returns [lower, upper) covering slots r under prefix.
func SpanBounds(prefix byte, r routing.Range) (lower, upper []byte) {
	lower = slotPrefix(prefix, r.Start)
	if r.End >= routing.NumSlots {
		return lower, []byte{prefix + 1}
	}
	return lower, slotPrefix(prefix, r.End)
}

// DataPrefixes lists every slot-ordered prefix whose span belongs to a slot range; a range
// move or flush covers all of them.
var DataPrefixes = []byte{store.PrefixData, store.PrefixExpiry, store.PrefixSub, store.PrefixCount}
