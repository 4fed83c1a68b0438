package shard

import (
	"go.etcd.io/raft/v3/raftpb"
)

// entryCache keeps the most recent log entries in memory so that the committed entries raft
// hands back through Ready (on a leader they have just left raft's unstable log) and the Term
// lookups of log matching are answered without reading Pebble.
//
// Invariant: when non-empty, the cache holds consecutive entries ending at the log's last
// index (it is a suffix of the log). Entries are immutable once appended to the log, so the
// cache shares the pointers raft hands out and hands them out again.
type entryCache struct {
	maxBytes int
	ents     []*raftpb.Entry // ents[head:] are live
	head     int
	bytes    int
}

func (c *entryCache) len() int { return len(c.ents) - c.head }

// first returns the first cached index, or 0 if the cache is empty.
func (c *entryCache) first() uint64 {
	if c.len() == 0 {
		return 0
	}
	return c.ents[c.head].GetIndex()
}

func (c *entryCache) get(i uint64) *raftpb.Entry {
	f := c.first()
	if f == 0 || i < f {
		return nil
	}
	off := int(i - f)
	if off >= c.len() {
		return nil
	}
	return c.ents[c.head+off]
}

// append adds ents, which may overwrite a suffix of the cache (after a leader change).
func (c *entryCache) append(ents []*raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	start := ents[0].GetIndex()
	f := c.first()
	switch {
	case f == 0 || start < f:
		// Empty cache, or the new entries replace everything cached.
		c.reset()
	case start <= f+uint64(c.len())-1:
		// Cut the overwritten tail.
		cut := c.head + int(start-f)
		for _, e := range c.ents[cut:] {
			c.bytes -= int(entrySize(e))
		}
		clear(c.ents[cut:])
		c.ents = c.ents[:cut]
	case start != f+uint64(c.len()):
		// A gap cannot happen while the cache is a suffix of the log; start over anyway.
		c.reset()
	}
	for _, e := range ents {
		c.bytes += int(entrySize(e))
	}
	c.ents = append(c.ents, ents...)
	c.evict()
}

// dropThrough removes entries up to and including index (log truncation).
func (c *entryCache) dropThrough(index uint64) {
	for c.len() > 0 && c.ents[c.head].GetIndex() <= index {
		c.popFront()
	}
	c.compact()
}

func (c *entryCache) evict() {
	// Keep at least one entry: the newest is the one most likely to be read next.
	for c.bytes > c.maxBytes && c.len() > 1 {
		c.popFront()
	}
	c.compact()
}

func (c *entryCache) popFront() {
	c.bytes -= int(entrySize(c.ents[c.head]))
	c.ents[c.head] = nil
	c.head++
}

// compact moves the live entries to the front once the dead prefix dominates, so appends do
// not grow the backing array forever.
func (c *entryCache) compact() {
	if c.head == 0 || c.head < len(c.ents)/2 {
		return
	}
	n := copy(c.ents, c.ents[c.head:])
	clear(c.ents[n:])
	c.ents = c.ents[:n]
	c.head = 0
}

func (c *entryCache) reset() {
	clear(c.ents)
	c.ents = c.ents[:0]
	c.head = 0
	c.bytes = 0
}

// slice returns [lo, hi), all cached, cut after maxSize bytes (at least one entry). The
// result is a fresh slice: raft may append to it.
func (c *entryCache) slice(lo, hi, maxSize uint64) []*raftpb.Entry {
	f := c.first()
	from, to := c.head+int(lo-f), c.head+int(hi-f)
	var size uint64
	n := 0
	for _, e := range c.ents[from:to] {
		size += entrySize(e)
		if size > maxSize && n > 0 {
			break
		}
		n++
	}
	out := make([]*raftpb.Entry, n)
	copy(out, c.ents[from:from+n])
	return out
}
