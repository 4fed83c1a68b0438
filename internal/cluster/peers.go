package cluster

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Peer is one member of the cluster as named on the command line: its raft node id and the
// address of its cluster bus.
type Peer struct {
	ID      uint64
	BusAddr string // host:port
}

// ParsePeers parses "1@host:port,2@host:port,..." (the --cluster-peers syntax). It checks the
// list itself (ids ≥ 1 and unique, addresses well-formed and unique) and that self is in it;
// the result is sorted by id.
func ParsePeers(s string, self uint64) ([]Peer, error) {
	var peers []Peer
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		idText, addr, ok := strings.Cut(item, "@")
		if !ok {
			return nil, fmt.Errorf("cluster peer %q: want <node-id>@<host>:<port>", item)
		}
		id, err := strconv.ParseUint(idText, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("cluster peer %q: node id must be an integer >= 1", item)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return nil, fmt.Errorf("cluster peer %q: address must be <host>:<port>", item)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("cluster peer %q: port must be 1..65535", item)
		}
		peers = append(peers, Peer{ID: id, BusAddr: net.JoinHostPort(host, port)})
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("cluster peers: empty list")
	}
	slices.SortFunc(peers, func(a, b Peer) int { return cmpUint(a.ID, b.ID) })
	seenAddr := make(map[string]uint64, len(peers))
	for i, p := range peers {
		if i > 0 && peers[i-1].ID == p.ID {
			return nil, fmt.Errorf("cluster peers: node id %d is listed twice", p.ID)
		}
		if other, dup := seenAddr[p.BusAddr]; dup {
			return nil, fmt.Errorf("cluster peers: nodes %d and %d share the address %s", other, p.ID, p.BusAddr)
		}
		seenAddr[p.BusAddr] = p.ID
	}
	if !slices.ContainsFunc(peers, func(p Peer) bool { return p.ID == self }) {
		return nil, fmt.Errorf("cluster peers: this node's id %d is not in the list", self)
	}
	return peers, nil
}

// FormatPeers is the inverse of ParsePeers.
func FormatPeers(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = fmt.Sprintf("%d@%s", p.ID, p.BusAddr)
	}
	return strings.Join(parts, ",")
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReplicationFactor is how many replicas each shard gets on a cluster of n nodes.
func ReplicationFactor(n int) int { return min(3, n) }

// Replicas returns the node ids holding shard (1-based) on a cluster whose members are ids
// (any order): ReplicationFactor(len(ids)) consecutive members in id order, starting at a
// member that rotates with the shard id, so shards spread evenly. It is a pure function:
// every node bootstrapping from the same list computes the same placement.
func Replicas(shard uint64, ids []uint64) []uint64 {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	n := len(sorted)
	rf := ReplicationFactor(n)
	out := make([]uint64, 0, rf)
	start := int((shard - 1) % uint64(n))
	for i := range rf {
		out = append(out, sorted[(start+i)%n])
	}
	slices.Sort(out)
	return out
}
