package command

import (
	"encoding/binary"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// collRepackMin is how many members a big set or hash must have lost since its peak, and at
// least half of that peak, before collSave repacks it (keyspace.RepackCollection): the copy
// costs what the collection still holds, so it is paid at most once per halving.
const collRepackMin = 256

// collSave saves c, a set or a hash (whose Extra is otherwise unused). A big one's Extra holds
// its peak size since its sub-keys were last (re)written: one drained by SPOP, SREM or HDEL to
// half of it or less is repacked, so that later random picks (which sample from the first
// member on) and scans do not step over the tombstones of everything deleted before.
func collSave(tx *keyspace.Txn, c *keyspace.Coll) (reply.Value, bool) {
	if c.Meta.Enc == keyspace.EncBig && c.Meta.Size > 0 {
		peak := int64(0)
		if len(c.Meta.Extra) == 8 {
			peak = int64(binary.BigEndian.Uint64(c.Meta.Extra))
		}
		switch {
		case c.Meta.Size > peak:
			peak = c.Meta.Size
		case peak-c.Meta.Size >= collRepackMin && peak >= 2*c.Meta.Size:
			if err := tx.RepackCollection(c); err != nil {
				return reply.ErrInternal, false
			}
			peak = c.Meta.Size
		}
		c.Meta.Extra = binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(peak))
	}
	if err := tx.SaveCollection(c); err != nil {
		return reply.ErrInternal, false
	}
	return reply.Value{}, true
}
