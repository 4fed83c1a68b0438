package node

import (
	"context"
	"net"
	"slices"
	"strconv"

	"ferricd/internal/command"
)

// Cluster implements command.Server: the members with their client addresses, and every
// shard with its slot range, leader and replicas.
func (n *Node) Cluster(ctx context.Context) command.ClusterView {
	v := command.ClusterView{Self: n.self}
	ids := n.activeIDs()
	if !slices.Contains(ids, n.self) {
		ids = append(ids, n.self) // waiting to be met, or removed: still itself
		slices.Sort(ids)
	}
	for _, id := range ids {
		cn := command.ClusterNode{ID: id, Name: NodeName(id), Connected: id == n.self}
		if host, port, err := net.SplitHostPort(n.clientAddr(id)); err == nil {
			cn.Host = host
			cn.Port, _ = strconv.Atoi(port)
		}
		if n.bus != nil {
			cn.Connected = cn.Connected || n.bus.Connected(id)
		}
		cn.BusPort = n.busPort(id)
		v.Nodes = append(v.Nodes, cn)
	}
	for i := range n.byID {
		id := uint64(i + 1)
		r := n.routes.RangeOf(id)
		v.Shards = append(v.Shards, command.ClusterShard{
			Start: r.Start, End: r.End, Leader: n.leaderOf(id), Replicas: n.replicasOf(id),
		})
	}
	return v
}

// busPort returns node id's cluster bus port from the member list (standalone: the
// configured one).
func (n *Node) busPort(id uint64) int {
	if m, ok := n.directory().Get(id); ok {
		_, port, _ := net.SplitHostPort(m.BusAddr)
		v, _ := strconv.Atoi(port)
		return v
	}
	if n.cfg.Cluster != nil {
		_, port, _ := net.SplitHostPort(n.cfg.Cluster.ListenAddr)
		v, _ := strconv.Atoi(port)
		return v
	}
	return 0
}
