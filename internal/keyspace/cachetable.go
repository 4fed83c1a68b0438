package keyspace

import "bytes"

// metaTable is one cache stripe's hash table: open addressing with linear probing over a
// flat slot array, keyed by the 64-bit hash the stripe was chosen by.
//
// Why not a Go map[string][]byte: a lookup in one touches the map's control word, its slot,
// the key's bytes and then the value's bytes, four cache misses on a table far larger than
// the CPU cache (profiles of GET showed the map at a fifth of the node's CPU, almost all of
// it memory stalls). Here a slot holds the full hash next to one buffer holding the key and
// then the value: the slot is one miss, and comparing the key brings in the value it is
// followed by. A slot whose hash differs is skipped without touching its buffer.
//
// Invariants: a used slot's entry is reachable from its home slot (hash & mask) through used
// slots only, which del keeps by shifting later entries back instead of leaving tombstones;
// at most maxLoadNum/maxLoadDen of the slots are used. A buffer is never written after it is
// installed, so the value slices get hands out stay valid and unchanged.
type metaTable struct {
	slots []tableSlot
	used  int
	// evictAt is where dropOne resumes its walk, so successive evictions spread over the
	// table instead of emptying its start.
	evictAt int
}

type tableSlot struct {
	hash  uint64
	kv    []byte // key, then the encoded metadata
	klen  uint32
	flags uint8
}

const (
	slotUsed   uint8 = 1 << iota
	slotAbsent       // the key is known to have no metadata (cached nil)

	minTableSlots = 8
	maxLoadNum    = 3
	maxLoadDen    = 4
)

func (s *tableSlot) key() []byte { return s.kv[:s.klen:s.klen] }

// enc returns the cached encoding, nil for a key known absent. Its capacity ends at its
// length, so nobody can append into the shared buffer.
func (s *tableSlot) enc() []byte {
	if s.flags&slotAbsent != 0 {
		return nil
	}
	return s.kv[s.klen:len(s.kv):len(s.kv)]
}

// find returns the index of key's slot, or -1.
func (t *metaTable) find(h uint64, key []byte) int {
	if t.used == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.flags&slotUsed == 0 {
			return -1
		}
		if s.hash == h && bytes.Equal(s.key(), key) {
			return i
		}
	}
}

// get returns key's cached encoding; ok reports whether the key is cached at all.
func (t *metaTable) get(h uint64, key []byte) (enc []byte, ok bool) {
	i := t.find(h, key)
	if i < 0 {
		return nil, false
	}
	return t.slots[i].enc(), true
}

// set caches enc (nil: absent) for key, which must not be cached already (callers del first,
// to account for the old entry's size). key and enc are copied.
func (t *metaTable) set(h uint64, key, enc []byte) {
	if (t.used+1)*maxLoadDen > len(t.slots)*maxLoadNum {
		t.grow()
	}
	kv := make([]byte, len(key)+len(enc))
	copy(kv, key)
	copy(kv[len(key):], enc)
	flags := slotUsed
	if enc == nil {
		flags |= slotAbsent
	}
	t.place(tableSlot{hash: h, kv: kv, klen: uint32(len(key)), flags: flags})
	t.used++
}

// place puts e in the first free slot of its probe sequence.
func (t *metaTable) place(e tableSlot) {
	mask := len(t.slots) - 1
	i := int(e.hash) & mask
	for t.slots[i].flags&slotUsed != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = e
}

func (t *metaTable) grow() {
	old := t.slots
	t.slots = make([]tableSlot, max(minTableSlots, 2*len(old)))
	for i := range old {
		if old[i].flags&slotUsed != 0 {
			t.place(old[i])
		}
	}
}

// del removes key's entry and returns its size (key plus encoding bytes); ok is false if the
// key was not cached.
func (t *metaTable) del(h uint64, key []byte) (size int, ok bool) {
	i := t.find(h, key)
	if i < 0 {
		return 0, false
	}
	size = len(t.slots[i].kv)
	t.removeAt(i)
	return size, true
}

// removeAt empties slot i and shifts back the entries after it that would otherwise become
// unreachable from their home slots (backward-shift deletion).
func (t *metaTable) removeAt(i int) {
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j].flags&slotUsed != 0; j = (j + 1) & mask {
		home := int(t.slots[j].hash) & mask
		// The entry at j may move to the hole at i iff its home is not in the cyclic
		// interval (i, j]: then i lies on its probe path.
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = tableSlot{}
	t.used--
}

// dropOne removes some entry (there must be one) and returns its size, as del does.
func (t *metaTable) dropOne() (size int) {
	mask := len(t.slots) - 1
	i := t.evictAt & mask
	for t.slots[i].flags&slotUsed == 0 {
		i = (i + 1) & mask
	}
	size = len(t.slots[i].kv)
	t.removeAt(i)
	t.evictAt = i + 1
	return size
}

// each calls fn for every entry (enc nil: absent); fn must not modify the table.
func (t *metaTable) each(fn func(key, enc []byte)) {
	for i := range t.slots {
		if s := &t.slots[i]; s.flags&slotUsed != 0 {
			fn(s.key(), s.enc())
		}
	}
}

func (t *metaTable) len() int { return t.used }

// reset empties the table and releases its memory.
func (t *metaTable) reset() { *t = metaTable{} }
