package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferricd/internal/cluster"
	"ferricd/internal/reply"
)

// Members. The cluster's member list is a cluster.Directory: CLUSTER MEET adds a node,
// CLUSTER FORGET removes one, and every node gossips its directory to the others, who merge
// it into theirs. A node records every change in Pebble before acting on it, so a restarted
// node knows at least what it acted on. What the directory drives is in placement.go.

// directory returns the current directory (empty on a standalone node).
func (n *Node) directory() cluster.Directory { return *n.dir.Load() }

// learnDirectory merges d into the directory; a change is recorded durably, then the bus
// follows it. It returns the merged directory.
func (n *Node) learnDirectory(d cluster.Directory) (cluster.Directory, error) {
	n.dirMu.Lock()
	defer n.dirMu.Unlock()
	cur := n.directory()
	if !cur.SameCluster(d) {
		return cur, fmt.Errorf("directory of cluster %x offered to a member of cluster %x", d.ClusterID(), cur.ClusterID())
	}
	merged, changed := cur.Merge(d)
	if !changed {
		return cur, nil
	}
	if err := recordMembership(n.db, membership{self: n.self, dir: merged, cluster: true}); err != nil {
		return cur, err
	}
	n.dir.Store(&merged)
	n.bus.SetDirectory(merged)
	for _, m := range merged.Members() {
		if old, ok := cur.Get(m.ID); ok && old == m {
			continue
		}
		switch {
		case m.State == cluster.Active:
			n.log.Info("cluster member added", "node", m.ID, "bus", m.BusAddr)
		case m.ID == n.self:
			n.log.Error("this node was removed from the cluster (CLUSTER FORGET); its replicas move to other nodes and it can no longer serve")
		default:
			n.removedAt.Store(time.Now().UnixNano())
			n.log.Info("cluster member removed", "node", m.ID)
		}
	}
	return merged, nil
}

// removedSelf reports whether the directory says this node was removed.
func (n *Node) removedSelf() bool {
	m, ok := n.directory().Get(n.self)
	return ok && m.State == cluster.Removed
}

// AdoptDirectory implements cluster.Handler: member `from` meets this node. A node that is
// not in a cluster yet adopts the directory; a member accepts it again from a fellow member
// (meeting twice is harmless), but not from another cluster.
func (h busHandler) AdoptDirectory(from uint64, body []byte) error {
	n := h.n
	d, err := cluster.DecodeDirectory(body)
	if err != nil {
		return err
	}
	if m, ok := d.Get(n.self); !ok || m.State != cluster.Active {
		return fmt.Errorf("the directory of node %d does not list node %d as an active member", from, n.self)
	}
	if n.removedSelf() {
		return fmt.Errorf("node %d was removed from its cluster", n.self)
	}
	if !n.directory().SameCluster(d) {
		return fmt.Errorf("node %d already belongs to another cluster", n.self)
	}
	_, err = n.learnDirectory(d)
	return err
}

// ClusterMeet implements command.Server.
func (n *Node) ClusterMeet(ctx context.Context, host string, busPort int) reply.Value {
	if n.bus == nil {
		return reply.Err("ERR This instance has cluster support disabled")
	}
	if n.directory().Len() == 0 {
		return reply.Err("ERR this node has not joined a cluster yet: run CLUSTER MEET on a member of the cluster")
	}
	addr := net.JoinHostPort(host, strconv.Itoa(busPort))
	// The node adopts the directory with itself in it before this node records it: a
	// node that refuses (it belongs to another cluster) never becomes a member. If this
	// node fails in between, running MEET again finishes the job.
	var refusal error
	var next cluster.Directory
	id, err := n.bus.Meet(ctx, addr, func(id uint64, _ string) ([]byte, error) {
		if refusal = n.admit(id, addr); refusal != nil {
			return nil, refusal
		}
		next, _ = n.directory().With(cluster.Member{Peer: cluster.Peer{ID: id, BusAddr: addr}, State: cluster.Active})
		return next.Encode(), nil
	})
	switch {
	case refusal != nil:
		return reply.Err("ERR " + refusal.Error())
	case err != nil && id != 0:
		// The node answered but refused: its reason is ferricd's own text.
		n.log.Warn("cluster meet refused", "addr", addr, "err", err)
		return reply.Err("ERR " + firstLine(err.Error()))
	case err != nil:
		n.log.Warn("cluster meet", "addr", addr, "err", err)
		return reply.Err("ERR Invalid node address specified: no ferricd cluster bus answered at " + addr)
	}
	if _, err := n.learnDirectory(next); err != nil {
		n.log.Error("cluster meet: record directory", "err", err)
		return reply.Err("ERR could not record the new member; run CLUSTER MEET again")
	}
	n.gossipDirectory()
	return reply.OK
}

// admit decides whether node id, met at addr, may join.
func (n *Node) admit(id uint64, addr string) error {
	if id == n.self {
		return errors.New("a node cannot meet itself")
	}
	m, ok := n.directory().Get(id)
	switch {
	case !ok:
		return nil
	case m.State == cluster.Removed:
		return fmt.Errorf("node id %d was removed from this cluster and cannot join again: start the new node with an unused --node-id and an empty --dir", id)
	case m.BusAddr != addr:
		return fmt.Errorf("node id %d is already a member at %s", id, m.BusAddr)
	}
	return nil // met again: hand it the directory once more
}

// ClusterForget implements command.Server.
func (n *Node) ClusterForget(ctx context.Context, name string) reply.Value {
	if n.bus == nil {
		return reply.Err("ERR This instance has cluster support disabled")
	}
	id, ok := n.memberByName(name)
	if !ok {
		return reply.Err("ERR Unknown node " + name)
	}
	if id == n.self {
		return reply.Err("ERR I tried hard but I can't forget myself...")
	}
	m, _ := n.directory().Get(id)
	if m.State == cluster.Removed {
		return reply.OK
	}
	m.State = cluster.Removed
	next, _ := n.directory().With(m)
	// Broadcast before the bus retires the forgotten node, so that it hears of its removal
	// too (the bus keeps its connection up a little longer for that).
	n.bus.Broadcast(directoryGossip(next))
	if _, err := n.learnDirectory(next); err != nil {
		n.log.Error("cluster forget: record directory", "err", err)
		return reply.Err("ERR could not record the change of membership")
	}
	return reply.OK
}

// memberByName finds a member (active or removed) by its 40-character name or its id.
func (n *Node) memberByName(name string) (uint64, bool) {
	for _, m := range n.directory().Members() {
		if strings.EqualFold(name, NodeName(m.ID)) || name == strconv.FormatUint(m.ID, 10) {
			return m.ID, true
		}
	}
	return 0, false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// activeIDs returns the ids of the active members (just this node when standalone).
func (n *Node) activeIDs() []uint64 {
	if n.bus == nil {
		return []uint64{n.self}
	}
	return n.directory().ActiveIDs()
}

// desiredReplicas returns the nodes that should hold shard id under the current directory.
func (n *Node) desiredReplicas(id uint64) []uint64 {
	active := n.activeIDs()
	if len(active) == 0 {
		return nil
	}
	return cluster.Replicas(id, active)
}

// replicasOf returns the nodes holding shard id, as far as this node knows: the applied
// configuration of a local replica, else the placement the directory asks for.
func (n *Node) replicasOf(id uint64) []uint64 {
	if s := n.shardFor(id); s != nil {
		if st := s.Status(); len(st.Voters) > 0 {
			return slices.Clone(st.Voters)
		}
	}
	return n.desiredReplicas(id)
}
