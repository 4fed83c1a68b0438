package node

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"ferricd/internal/cluster"
	"ferricd/internal/shard"
)

// ClusterConfig is how a node joins a cluster.
type ClusterConfig struct {
	// Peers are the members (this node included) when the data directory is new; a restarted
	// node uses the members it recorded, so this may then be empty.
	Peers      []cluster.Peer
	ListenAddr string // the cluster bus address to listen on
	ClientAddr string // where clients reach this node (MOVED, CLUSTER SLOTS), told to peers
	// Redirect answers MOVED for keys whose shard another node leads, instead of forwarding.
	Redirect bool
	// Faults injects network faults into the bus (tests); may be nil.
	Faults *cluster.Faults
	// Join starts a new node (empty data directory, no Peers) that waits to be added to a
	// running cluster by CLUSTER MEET on one of its members.
	Join bool
}

// Clustered reports whether the node is a member of a multi-node cluster.
func (n *Node) Clustered() bool { return n.bus != nil }

func (n *Node) newBus(cc *ClusterConfig) (*cluster.Transport, error) {
	return cluster.New(cluster.Config{
		NodeID:     n.self,
		ListenAddr: cc.ListenAddr,
		ClientAddr: cc.ClientAddr,
		Peers:      n.busPeers(cc),
		Shards:     n.routes.Shards(),
		Handler:    busHandler{n},
		Logger:     n.log.With("component", "cluster-bus"),
		Faults:     cc.Faults,
	})
}

// NodeName is the 40-character name Redis Cluster commands show for node id.
func NodeName(id uint64) string {
	sum := sha1.Sum(fmt.Appendf(nil, "ferricd-node-%d", id))
	return hex.EncodeToString(sum[:])
}

// clientAddr returns where clients reach node id ("" if not known yet).
func (n *Node) clientAddr(id uint64) string {
	if n.bus == nil {
		if n.cfg.Cluster != nil {
			return n.cfg.Cluster.ClientAddr
		}
		return ""
	}
	return n.bus.ClientAddr(id)
}

// electionAfterRemoval bounds, in leaderWaits, how long after the bus lets a forgotten member
// go (cluster.DefaultRetireGrace) the shards it led are assumed to be electing a new leader.
const electionAfterRemoval = 3

// leaderOf returns the node leading shard id as far as this node knows, 0 if none is known.
func (n *Node) leaderOf(id uint64) uint64 {
	var l uint64
	if s := n.shardFor(id); s != nil {
		l = s.Status().LeaderID
	}
	if l == 0 {
		// No local replica, or one that has not heard from its leader (a replica just
		// placed here waits for the leader to add it): what peers gossip.
		l = n.leaders.get(id)
	}
	if l != 0 && l != n.self {
		if m, ok := n.directory().Get(l); ok && m.State == cluster.Removed && (n.bus == nil || !n.bus.Connected(l)) {
			// A forgotten member no longer connected (a connected one, within the bus'
			// grace period, still serves as leader): the replicas it led
			// elect another leader once they notice, an election timeout later. For a
			// while after the removal the shard counts as having had a leader just now,
			// so that awaitLeader waits for that election instead of failing at once.
			if time.Since(time.Unix(0, n.removedAt.Load())) < cluster.DefaultRetireGrace+electionAfterRemoval*n.leaderWait() {
				n.leaderSeen[id-1].Store(time.Now().UnixNano())
			}
			return 0
		}
	}
	if l != 0 {
		n.leaderSeen[id-1].Store(time.Now().UnixNano())
	}
	return l
}

// awaitLeader waits until shard id has a known leader and returns it; 0 means none
// appeared. It waits only while the shard has been without a leader for less than
// leaderWait (an election may be under way): a shard that stays leaderless (no quorum)
// answers at once, so requests fail fast instead of each waiting again.
func (n *Node) awaitLeader(ctx context.Context, id uint64) uint64 {
	if l := n.leaderOf(id); l != 0 {
		return l
	}
	deadline := time.Unix(0, n.leaderSeen[id-1].Load()).Add(n.leaderWait())
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0
		case <-t.C:
		}
		if l := n.leaderOf(id); l != 0 {
			return l
		}
	}
	return 0
}

// leaderWait is how long a request waits for a shard to elect a leader before CLUSTERDOWN:
// two election timeouts.
func (n *Node) leaderWait() time.Duration {
	tick := n.cfg.TickInterval
	if tick == 0 {
		tick = 100 * time.Millisecond
	}
	return 20 * tick
}

// leaderTable holds what peers gossip about the leaders of shards with no replica here.
type leaderTable struct {
	mu sync.RWMutex
	m  map[uint64]leaderInfo
}

type leaderInfo struct{ term, leader uint64 }

func (t *leaderTable) get(id uint64) uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[id].leader
}

// learn keeps, per shard, the report of the highest term.
func (t *leaderTable) learn(id, term, leader uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[uint64]leaderInfo)
	}
	if cur, ok := t.m[id]; !ok || term >= cur.term {
		t.m[id] = leaderInfo{term: term, leader: leader}
	}
}

// Gossip bodies start with a tag.
const (
	gossipLeaders   byte = 'L' // { uvarint shard | uvarint term | uvarint leader }*
	gossipDirectory byte = 'D' // cluster.Directory.Encode()
)

// directoryEvery is how many leader gossip rounds pass between two of the directory.
const directoryEvery = 5

// busPeers is the member list the bus starts with: the active members, or just this node
// (at the bus address it listens on) when it waits to be met.
func (n *Node) busPeers(cc *ClusterConfig) []cluster.Peer {
	peers := n.directory().Active()
	if !slices.ContainsFunc(peers, func(p cluster.Peer) bool { return p.ID == n.self }) {
		peers = append(peers, cluster.Peer{ID: n.self, BusAddr: cc.ListenAddr})
	}
	return peers
}

func directoryGossip(d cluster.Directory) []byte {
	return append([]byte{gossipDirectory}, d.Encode()...)
}

// gossipDirectory sends the directory to every connected peer.
func (n *Node) gossipDirectory() {
	if d := n.directory(); d.Len() > 0 {
		n.bus.Broadcast(directoryGossip(d))
	}
}

// gossipLoop tells every peer, a few times a second, the leaders of the shards replicated
// here, so that nodes without a replica of a shard know where to forward its commands; and,
// every directoryEvery rounds, the directory, so that members converge on it.
func (n *Node) gossipLoop(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if round%directoryEvery == 0 {
			n.gossipDirectory()
		}
		b := []byte{gossipLeaders}
		for _, s := range n.localShards() {
			st := s.Status()
			if st.LeaderID == 0 {
				continue
			}
			b = binary.AppendUvarint(b, st.ShardID)
			b = binary.AppendUvarint(b, st.Term)
			b = binary.AppendUvarint(b, st.LeaderID)
		}
		if len(b) > 1 {
			n.bus.Broadcast(b)
		}
	}
}

// busHandler is the node as the cluster bus sees it.
type busHandler struct{ n *Node }

func (h busHandler) StepRaft(id uint64, m *raftpb.Message) {
	if s := h.local(id); s != nil {
		_ = s.Step(m) // a full inbound queue drops the message; raft retransmits
	}
}

func (h busHandler) ReportUnreachable(id, to uint64) {
	if s := h.local(id); s != nil {
		s.ReportUnreachable(to)
	}
}

func (h busHandler) HandleRequest(ctx context.Context, from uint64, req []byte) []byte {
	return h.n.serveForwarded(ctx, req)
}

func (h busHandler) HandleGossip(from uint64, body []byte) {
	if len(body) == 0 {
		return
	}
	tag, body := body[0], body[1:]
	if tag == gossipDirectory {
		d, err := cluster.DecodeDirectory(body)
		if err != nil {
			h.n.log.Warn("undecodable directory gossip", "from", from, "err", err)
			return
		}
		if _, err := h.n.learnDirectory(d); err != nil {
			h.n.log.Error("record gossiped directory", "from", from, "err", err)
		}
		return
	}
	if tag != gossipLeaders {
		return
	}
	for len(body) > 0 {
		var v [3]uint64
		for i := range v {
			x, k := binary.Uvarint(body)
			if k <= 0 {
				return
			}
			v[i], body = x, body[k:]
		}
		if v[0] >= 1 && v[0] <= uint64(len(h.n.byID)) {
			h.n.leaders.learn(v[0], v[1], v[2])
		}
	}
}

func (h busHandler) SendSnapshot(ctx context.Context, id uint64, m *raftpb.Message, w io.Writer) error {
	s := h.local(id)
	if s == nil {
		return fmt.Errorf("no replica of shard %d here", id)
	}
	return s.SendSnapshot(ctx, m, w)
}

func (h busHandler) ReceiveSnapshot(ctx context.Context, id uint64, m *raftpb.Message, r io.Reader) error {
	s := h.local(id)
	if s == nil {
		return fmt.Errorf("no replica of shard %d here", id)
	}
	return s.ReceiveSnapshot(ctx, m, r)
}

func (h busHandler) ReportSnapshot(id, to uint64, ok bool) {
	if s := h.local(id); s != nil {
		s.ReportSnapshot(to, ok)
	}
}

func (h busHandler) local(id uint64) *shard.Shard {
	if id < 1 || id > uint64(len(h.n.byID)) {
		return nil
	}
	return h.n.byID[id-1].Load()
}
