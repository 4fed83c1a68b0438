package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/cluster"
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

// membership is who this node is and which nodes form its cluster (none: standalone).
type membership struct {
	self  uint64
	peers []cluster.Peer
}

// checkMembership pins a data directory to one node id and one member list. The first start
// records them (self 0 means 1; given nil means standalone); a restart uses what was recorded,
// so a node rejoins its cluster whatever list it is started with, and refuses another node id
// (its raft state belongs to the recorded one) or turning a standalone node into a cluster
// member (its shards were bootstrapped with a single voter).
func checkMembership(db *pebble.DB, self uint64, given []cluster.Peer) (membership, error) {
	v, closer, err := db.Get(nodeIDKey)
	if errors.Is(err, pebble.ErrNotFound) {
		if self == 0 {
			self = 1
		}
		batch := db.NewBatch()
		defer batch.Close()
		_ = batch.Set(nodeIDKey, binary.BigEndian.AppendUint64(nil, self), nil)
		_ = batch.Set(membersKey, []byte(cluster.FormatPeers(given)), nil)
		if err := batch.Commit(pebble.Sync); err != nil {
			return membership{}, fmt.Errorf("record cluster membership: %w", err)
		}
		return membership{self: self, peers: given}, nil
	}
	if err != nil {
		return membership{}, fmt.Errorf("read node id: %w", err)
	}
	if len(v) != 8 {
		closer.Close()
		return membership{}, fmt.Errorf("read node id: corrupt value %x", v)
	}
	have := binary.BigEndian.Uint64(v)
	closer.Close()
	if self != 0 && have != self {
		return membership{}, fmt.Errorf("the data directory belongs to node %d; start it with --node-id %d", have, have)
	}
	v, closer, err = db.Get(membersKey)
	if err != nil {
		return membership{}, fmt.Errorf("read cluster members: %w", err)
	}
	defer closer.Close()
	if len(v) == 0 {
		if len(given) > 0 {
			return membership{}, errors.New("the data directory belongs to a standalone node; it cannot join a cluster (start with an empty --dir)")
		}
		return membership{self: have}, nil
	}
	peers, err := cluster.ParsePeers(string(v), have)
	if err != nil {
		return membership{}, fmt.Errorf("recorded cluster members: %w", err)
	}
	return membership{self: have, peers: peers}, nil
}
