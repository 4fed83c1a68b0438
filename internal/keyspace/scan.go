package keyspace

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/routing"
	"ferricd/internal/store"
)

// ScanSlots calls fn for every live key in slots [from, r.End) of r, in slot then key order,
// until fn returns false. key and m are only valid during the call. It returns the slot after
// the last one it finished (r.End when it saw everything), so callers can resume at whole-slot
// boundaries: a slot is always reported completely or not at all.
func (t *Txn) ScanSlots(r routing.Range, from uint16, fn func(slot uint16, key []byte, m *Meta) bool) (uint16, error) {
	if from < r.Start {
		from = r.Start
	}
	lo, hi := SpanBounds(store.PrefixData, routing.Range{Start: from, End: r.End})
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return from, fmt.Errorf("scan keys: %w", err)
	}
	defer it.Close()
	cur := from
	stop := false
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		slot := binary.BigEndian.Uint16(k[1:3])
		if slot != cur {
			if stop {
				return slot, it.Error()
			}
			cur = slot
		}
		m, err := decodeMeta(it.Value())
		if err != nil {
			return cur, err
		}
		if m.ExpireAt != 0 && m.ExpireAt <= t.now {
			continue
		}
		if !fn(slot, k[metaKeyPrefixLen:], &m) {
			stop = true
		}
	}
	if err := it.Error(); err != nil {
		return cur, err
	}
	return r.End, nil
}

// DueExpiries returns up to limit keys in slots r whose deadline is at or before now, read
// from the expiry index. It skips slots without due keys with one seek each, so its cost is
// proportional to the slots that have expiring keys, not to the range.
func DueExpiries(rd pebble.Reader, r routing.Range, now int64, limit int) ([][]byte, error) {
	lo, hi := SpanBounds(store.PrefixExpiry, r)
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("scan expiry index: %w", err)
	}
	defer it.Close()
	var keys [][]byte
	for valid := it.First(); valid && len(keys) < limit; {
		k := it.Key()
		if len(k) < 11 {
			return keys, fmt.Errorf("%w: expiry key %x", ErrCorrupt, k)
		}
		slot := binary.BigEndian.Uint16(k[1:3])
		at := int64(binary.BigEndian.Uint64(k[3:11]))
		if at <= now {
			keys = append(keys, bytes.Clone(k[11:]))
			valid = it.Next()
			continue
		}
		if int(slot)+1 >= routing.NumSlots {
			break
		}
		valid = it.SeekGE(slotPrefix(store.PrefixExpiry, slot+1))
	}
	return keys, it.Error()
}
