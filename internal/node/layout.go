package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/store"
)

var shardCountKey = []byte{store.PrefixNode, 's', 'h', 'a', 'r', 'd', 's'}

// checkShardCount pins the shard count of a data directory: the slot → shard table is derived
// from it, and each shard's raft log holds writes for the slots it owned, so reopening with
// another count would route keys to shards whose logs never saw them. The first start records
// the count; later starts must match it.
func checkShardCount(db *pebble.DB, shards int) error {
	v, closer, err := db.Get(shardCountKey)
	if errors.Is(err, pebble.ErrNotFound) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(shards))
		if err := db.Set(shardCountKey, b[:], pebble.Sync); err != nil {
			return fmt.Errorf("record shard count: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read shard count: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return fmt.Errorf("read shard count: corrupt value %x", v)
	}
	if have := int(binary.BigEndian.Uint64(v)); have != shards {
		return fmt.Errorf("the data directory was created with %d shards; start with --shards %d (changing the shard count of existing data is not supported)", have, have)
	}
	return nil
}

var (
	nodeIDKey  = []byte{store.PrefixNode, 'n', 'o', 'd', 'e', '-', 'i', 'd'}
	membersKey = []byte{store.PrefixNode, 'p', 'e', 'e', 'r', 's'}
)
