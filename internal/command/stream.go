package command

// Streamed replies: a read whose reply would hold at least streamMin elements (LRANGE 0 -1 of
// a list of millions) returns a reply.Stream over a detached sub-key iterator instead of the
// whole array. The command returns at once with the snapshot it read the metadata from; the
// connection then reads and sends the elements in chunks, so the reply never sits whole in
// memory and the read holds nothing but its snapshot (the shard's goroutine is never involved
// in a read). Where the Txn cannot hand its snapshot on (a write, a multi-key read on a
// shared snapshot), the reply is built whole as before. Writes that delete what they reply
// with (SPOP of a whole set, big list pops, ZPOPMIN of a whole zset) stream from a snapshot
// the apply loop takes just before the deletion (popReply, for setPopAll, listPopBig and
// zsetPopAll: see keyspace.DetachCommittedSubs for when it can).

import (
	"bytes"
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// streamMin is the element count from which a reply is streamed.
const streamMin = 4096

// subStream yields per elements for each of entries sub-keys of a detached iterator.
type subStream struct {
	it            *keyspace.SubIter
	entries, sent int
	per           int
	started       bool
	reverse       bool                                  // from the last sub-key down
	elem          func(sub, value []byte) []reply.Value // gets copies it may keep
	queue         []reply.Value                         // elements of the current entry not yet returned
}

func (s *subStream) Len() int { return s.entries * s.per }

func (s *subStream) Next() (reply.Value, bool, error) {
	if len(s.queue) > 0 {
		v := s.queue[0]
		s.queue = s.queue[1:]
		return v, true, nil
	}
	if s.sent == s.entries {
		return reply.Value{}, false, nil
	}
	var ok bool
	switch {
	case s.started && s.reverse:
		ok = s.it.Prev()
	case s.started:
		ok = s.it.Next()
	case s.reverse:
		ok, s.started = s.it.Last(), true
	default:
		ok, s.started = s.it.First(), true
	}
	if !ok {
		// Fewer sub-keys than the metadata counts: the collection is corrupt, or the
		// iterator failed.
		return reply.Value{}, false, keyspace.ErrCorrupt
	}
	s.sent++
	vals := s.elem(bytes.Clone(s.it.Sub()), bytes.Clone(s.it.Value()))
	if len(vals) != s.per {
		return reply.Value{}, false, keyspace.ErrCorrupt
	}
	s.queue = vals[1:]
	return vals[0], true, nil
}

func (s *subStream) Close() { _ = s.it.Close() }

// streamSubs returns a streamed array of n elements, one per sub-key of c within opts, or
// ok false when the reply must be built whole (see the file comment, and n < streamMin).
func streamSubs(tx *keyspace.Txn, c *keyspace.Coll, opts keyspace.SubIterOptions, n int64,
	elem func(sub, value []byte) reply.Value) (v reply.Value, ok bool) {
	return streamSubsKind(tx, c, opts, n, 1, reply.KindArray, func(sub, value []byte) []reply.Value {
		return []reply.Value{elem(sub, value)}
	})
}

// streamSubsKind is streamSubs for replies of per elements per sub-key (a map's field and
// value) and of another kind (KindMap, KindSet).
func streamSubsKind(tx *keyspace.Txn, c *keyspace.Coll, opts keyspace.SubIterOptions, entries, per int64,
	kind reply.Kind, elem func(sub, value []byte) []reply.Value) (v reply.Value, ok bool) {
	if entries*per < streamMin {
		return reply.Value{}, false
	}
	it, ok, err := tx.DetachSubs(c, opts)
	if err != nil {
		return reply.ErrInternal, true
	}
	if !ok {
		return reply.Value{}, false
	}
	return reply.StreamOf(kind, &subStream{it: it, entries: int(entries), per: int(per), elem: elem}), true
}

// popReply is the reply of a write about to delete n sub-keys of c within opts and answer
// with them, reverse for last-first: on a replica that drops replies, a null nobody reads;
// from streamMin sub-keys on, a stream of per elements each (elem) read from a snapshot taken
// now, before the deletion, where the Txn allows it (keyspace.DetachCommittedSubs); otherwise
// whole(), built from the Txn's view. The caller deletes afterwards, the same way in every
// case, and releases the reply (reply.Discard) if the deletion fails.
func popReply(tx *keyspace.Txn, c *keyspace.Coll, opts keyspace.SubIterOptions, n int64, per int, kind reply.Kind,
	reverse bool, elem func(sub, value []byte) []reply.Value, whole func() (reply.Value, error)) reply.Value {
	if tx.RepliesDropped() {
		return reply.NullArray
	}
	if n >= streamMin {
		it, ok, err := tx.DetachCommittedSubs(c, opts)
		if err != nil {
			return reply.ErrInternal
		}
		if ok {
			return reply.StreamOf(kind, &subStream{it: it, entries: int(n), per: per, reverse: reverse, elem: elem})
		}
	}
	v, err := whole()
	if err != nil {
		return reply.ErrInternal
	}
	return v
}

// randStream yields n random picks with repetition (HRANDFIELD/SRANDMEMBER with a negative
// count), drawn as they are sent, so a count of millions costs no memory.
type randStream struct {
	n, sent int
	pick    func() ([]reply.Value, error) // one pick: the member, or field and value
	queue   []reply.Value
	per     int
	close   func()
}

func (s *randStream) Len() int { return s.n * s.per }

func (s *randStream) Next() (reply.Value, bool, error) {
	if len(s.queue) > 0 {
		v := s.queue[0]
		s.queue = s.queue[1:]
		return v, true, nil
	}
	if s.sent == s.n {
		return reply.Value{}, false, nil
	}
	vals, err := s.pick()
	if err != nil {
		return reply.Value{}, false, err
	}
	if len(vals) != s.per {
		return reply.Value{}, false, keyspace.ErrCorrupt
	}
	s.sent++
	s.queue = vals[1:]
	return vals[0], true, nil
}

func (s *randStream) Close() {
	if s.close != nil {
		s.close()
	}
}

// streamRandPicks returns a stream of n random sub-keys of c with repetition (values too
// when withValues), or ok false when the reply should be built whole (n < streamMin, or the
// Txn cannot hand its snapshot on).
func streamRandPicks(tx *keyspace.Txn, c *keyspace.Coll, n int64, withValues bool, kind reply.Kind) (reply.Value, bool) {
	per := int64(1)
	if withValues {
		per = 2
	}
	if n*per < streamMin || n > math.MaxInt64/4 {
		return reply.Value{}, false
	}
	r := tx.Rand()
	render := func(sub, value []byte) []reply.Value {
		if withValues {
			return []reply.Value{reply.Bulk(sub), reply.Bulk(value)}
		}
		return []reply.Value{reply.Bulk(sub)}
	}
	if c.Meta.Enc != keyspace.EncBig {
		all, err := collAll(tx, c)
		if err != nil {
			return reply.ErrInternal, true
		}
		s := &randStream{n: int(n), per: int(per), pick: func() ([]reply.Value, error) {
			p := all[r.IntN(len(all))]
			return render(p[0], p[1]), nil
		}}
		return reply.StreamOf(kind, s), true
	}
	it, ok, err := tx.DetachSubs(c, keyspace.SubIterOptions{})
	if err != nil {
		return reply.ErrInternal, true
	}
	if !ok {
		return reply.Value{}, false
	}
	seek, err := randSeeker(it, r)
	if err != nil {
		_ = it.Close()
		return reply.ErrInternal, true
	}
	s := &randStream{n: int(n), per: int(per), close: func() { _ = it.Close() }, pick: func() ([]reply.Value, error) {
		if !seek() {
			return nil, keyspace.ErrCorrupt
		}
		return render(bytes.Clone(it.Sub()), bytes.Clone(it.Value())), nil
	}}
	return reply.StreamOf(kind, s), true
}
