package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
)

// The directory is the member list a cluster agrees on without a consensus group of its own:
// a grow-only map from node id to (bus address, state) whose merge is a union in which
// Removed beats Active. Merging is commutative, associative and idempotent, so nodes that
// gossip their directories to each other converge on the same one whatever the order the
// changes reach them; and since a removed id stays removed, an id is never reused.
//
// Changes are made by operators: CLUSTER MEET adds an Active member, CLUSTER FORGET turns a
// member Removed. Nothing else changes the directory, in particular no failure detector:
// a node that is down stays a member (and a voter of its shards) until someone forgets it.

// MemberState is where a member is in its life.
type MemberState uint8

// Member states, in the order merging prefers them (the greater wins).
const (
	Active  MemberState = 1
	Removed MemberState = 2
)

// Member is one entry of the directory.
type Member struct {
	Peer
	State MemberState
}

// Directory is a set of members sorted by id. The zero value is empty; values are never
// modified in place (methods return new ones), so they may be shared between goroutines.
type Directory struct {
	// id names the cluster: nodes of different clusters never merge their directories. It
	// is derived from the bootstrap member list, so the nodes bootstrapping a cluster agree on
	// it without talking; a node waiting to be met has none (0) until it adopts one.
	id      uint64
	members []Member
}

// NewDirectory returns a directory of active members, named after them.
func NewDirectory(peers []Peer) Directory {
	var d Directory
	for _, p := range peers {
		d, _ = d.With(Member{Peer: p, State: Active})
	}
	if len(peers) > 0 {
		h := fnv.New64a()
		h.Write([]byte(FormatPeers(d.Active())))
		d.id = h.Sum64() | 1 // never 0
	}
	return d
}

// ClusterID names the directory's cluster (0: none yet).
func (d Directory) ClusterID() uint64 { return d.id }

// SameCluster reports whether o may be merged into d: both name the same cluster, or one
// names none.
func (d Directory) SameCluster(o Directory) bool { return d.id == 0 || o.id == 0 || d.id == o.id }

// Members returns every member, removed ones included, sorted by id.
func (d Directory) Members() []Member { return slices.Clone(d.members) }

// Len is the number of members, removed ones included.
func (d Directory) Len() int { return len(d.members) }

// Get returns the member with id.
func (d Directory) Get(id uint64) (Member, bool) {
	i, ok := d.find(id)
	if !ok {
		return Member{}, false
	}
	return d.members[i], true
}

// Active returns the active members' peers, sorted by id.
func (d Directory) Active() []Peer {
	var out []Peer
	for _, m := range d.members {
		if m.State == Active {
			out = append(out, m.Peer)
		}
	}
	return out
}

// ActiveIDs returns the active members' ids, sorted.
func (d Directory) ActiveIDs() []uint64 {
	var out []uint64
	for _, p := range d.Active() {
		out = append(out, p.ID)
	}
	return out
}

func (d Directory) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(d.members, id, func(m Member, id uint64) int { return cmpUint(m.ID, id) })
}

// With returns d with m merged in, and whether that changed anything. Two entries for one id
// merge to the greater state; if their addresses differ, the smaller address is kept, so
// every node picks the same one (CLUSTER MEET refuses such a conflict before it arises).
func (d Directory) With(m Member) (Directory, bool) {
	i, ok := d.find(m.ID)
	if !ok {
		out := make([]Member, 0, len(d.members)+1)
		out = append(out, d.members[:i]...)
		out = append(out, m)
		out = append(out, d.members[i:]...)
		return Directory{id: d.id, members: out}, true
	}
	cur := d.members[i]
	next := cur
	next.State = max(cur.State, m.State)
	if m.BusAddr < cur.BusAddr {
		next.BusAddr = m.BusAddr
	}
	if next == cur {
		return d, false
	}
	out := slices.Clone(d.members)
	out[i] = next
	return Directory{id: d.id, members: out}, true
}

// Merge returns the union of d and o, and whether it differs from d. The caller checks
// SameCluster first; d's cluster id is kept unless it has none.
func (d Directory) Merge(o Directory) (Directory, bool) {
	changed := false
	if d.id == 0 && o.id != 0 {
		d.id, changed = o.id, true
	}
	for _, m := range o.members {
		var c bool
		if d, c = d.With(m); c {
			changed = true
		}
	}
	return d, changed
}

// directoryVersion starts an encoded directory.
const directoryVersion byte = 2

// Encode returns the directory's wire and disk form:
//
//	version(1B) | cluster id (8B BE) | count uvarint | { id uvarint | state(1B) | addr length uvarint | addr }*
func (d Directory) Encode() []byte {
	b := []byte{directoryVersion}
	b = binary.BigEndian.AppendUint64(b, d.id)
	b = binary.AppendUvarint(b, uint64(len(d.members)))
	for _, m := range d.members {
		b = binary.AppendUvarint(b, m.ID)
		b = append(b, byte(m.State))
		b = binary.AppendUvarint(b, uint64(len(m.BusAddr)))
		b = append(b, m.BusAddr...)
	}
	return b
}

// DecodeDirectory parses Encode's output, checking every entry.
func DecodeDirectory(b []byte) (Directory, error) {
	if len(b) < 9 || b[0] != directoryVersion {
		return Directory{}, errors.New("cluster directory: unknown encoding")
	}
	d := Directory{id: binary.BigEndian.Uint64(b[1:9])}
	count, b, err := takeUvarint(b[9:])
	if err != nil || count > uint64(len(b)) {
		return Directory{}, errors.New("cluster directory: bad member count")
	}
	for range count {
		var id, n uint64
		if id, b, err = takeUvarint(b); err != nil || id == 0 || len(b) == 0 {
			return Directory{}, errors.New("cluster directory: bad member id")
		}
		state := MemberState(b[0])
		if state != Active && state != Removed {
			return Directory{}, fmt.Errorf("cluster directory: member %d has unknown state %d", id, state)
		}
		if n, b, err = takeUvarint(b[1:]); err != nil || n > uint64(len(b)) {
			return Directory{}, fmt.Errorf("cluster directory: member %d: bad address", id)
		}
		addr := string(b[:n])
		b = b[n:]
		if _, dup := d.find(id); dup {
			return Directory{}, fmt.Errorf("cluster directory: member %d listed twice", id)
		}
		d, _ = d.With(Member{Peer: Peer{ID: id, BusAddr: addr}, State: state})
	}
	if len(b) != 0 {
		return Directory{}, errors.New("cluster directory: trailing bytes")
	}
	return d, nil
}
