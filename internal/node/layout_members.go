package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/cluster"
	"ferricd/internal/store"
)

// membership is who this node is and what it knows of its cluster.
type membership struct {
	self uint64
	// dir is the cluster directory; empty for a standalone node and for a node waiting to be
	// met (joining).
	dir     cluster.Directory
	cluster bool // a member of a cluster, or waiting to become one
	// bootstrap: the shards placed here by the first member list are still to be created
	// (the first start, or a later one after a crash before they all were).
	bootstrap bool
}

// bootstrapKey marks a bootstrap in progress. It is written with the first membership record,
// in the same batch, and deleted once every shard exists (finishBootstrap).
var bootstrapKey = []byte{store.PrefixNode, 'b', 'o', 'o', 't'}

// The record under membersKey: absent or empty means standalone; otherwise an encoded
// cluster.Directory (empty: a node started with cluster-join that has not been met yet).

// checkMembership pins a data directory to one node id and one cluster. The first start
// records them (self 0 means 1; given nil and join false mean standalone; join means a node
// waiting to be met); a restart uses what was recorded, so a node rejoins its cluster
// whatever list it is started with, and refuses another node id (its raft state belongs to
// the recorded one), turning a standalone node into a cluster member (its shards were
// bootstrapped with a single voter), and a node that was removed from its cluster.
func checkMembership(db *pebble.DB, self uint64, given []cluster.Peer, join bool) (membership, error) {
	v, closer, err := db.Get(nodeIDKey)
	if errors.Is(err, pebble.ErrNotFound) {
		if self == 0 {
			self = 1
		}
		m := membership{self: self, dir: cluster.NewDirectory(given), cluster: len(given) > 0 || join, bootstrap: true}
		if err := recordMembership(db, m); err != nil {
			return membership{}, err
		}
		return m, nil
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
	boot, err := hasKey(db, bootstrapKey)
	if err != nil {
		return membership{}, err
	}
	if len(v) == 0 {
		if len(given) > 0 || join {
			return membership{}, errors.New("the data directory belongs to a standalone node; it cannot join a cluster (start with an empty --dir)")
		}
		return membership{self: have, bootstrap: boot}, nil
	}
	dir, err := cluster.DecodeDirectory(v)
	if err != nil {
		return membership{}, fmt.Errorf("recorded cluster members: %w", err)
	}
	if m, ok := dir.Get(have); ok && m.State == cluster.Removed {
		return membership{}, fmt.Errorf("node %d was removed from its cluster (CLUSTER FORGET); its data directory cannot serve again: start a new node with an empty --dir, an unused --node-id and --cluster-join yes", have)
	}
	return membership{self: have, dir: dir, cluster: true, bootstrap: boot}, nil
}

func hasKey(db *pebble.DB, key []byte) (bool, error) {
	_, closer, err := db.Get(key)
	switch {
	case err == nil:
		closer.Close()
		return true, nil
	case errors.Is(err, pebble.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("read %q: %w", key, err)
}

// finishBootstrap records that every shard of the first member list exists.
func finishBootstrap(db *pebble.DB) error {
	if err := db.Delete(bootstrapKey, pebble.Sync); err != nil {
		return fmt.Errorf("record bootstrap: %w", err)
	}
	return nil
}

// recordMembership writes m durably.
func recordMembership(db *pebble.DB, m membership) error {
	batch := db.NewBatch()
	defer batch.Close()
	_ = batch.Set(nodeIDKey, binary.BigEndian.AppendUint64(nil, m.self), nil)
	var members []byte
	if m.cluster {
		members = m.dir.Encode()
	}
	_ = batch.Set(membersKey, members, nil)
	if m.bootstrap {
		_ = batch.Set(bootstrapKey, nil, nil)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("record cluster membership: %w", err)
	}
	return nil
}
