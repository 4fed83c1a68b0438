package node

import (
	"context"
	"net"
	"strconv"

	"ferricd/internal/command"
)

// Cluster implements command.Server: the members with their client addresses, and every
// shard with its slot range, leader and replicas.
func (n *Node) Cluster(ctx context.Context) command.ClusterView {
	v := command.ClusterView{Self: n.self}
	for _, id := range n.memberIDs() {
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
	for _, p := range n.members {
		if p.ID == id {
			_, port, _ := net.SplitHostPort(p.BusAddr)
			v, _ := strconv.Atoi(port)
			return v
		}
	}
	if n.cfg.Cluster != nil {
		_, port, _ := net.SplitHostPort(n.cfg.Cluster.ListenAddr)
		v, _ := strconv.Atoi(port)
		return v
	}
	return 0
}
