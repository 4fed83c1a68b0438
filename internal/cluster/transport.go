package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// Handler is the node side of the transport. The transport calls it from its connection
// goroutines, concurrently.
type Handler interface {
	// StepRaft delivers an inbound raft message for shard. It must not block.
	StepRaft(shard uint64, m *raftpb.Message)
	// ReportUnreachable tells shard's raft that a message to node `to` could not be sent.
	// It must not block.
	ReportUnreachable(shard, to uint64)
	// HandleRequest serves a request sent with Call by node from; it runs on its own
	// goroutine and its answer is sent back. ctx ends when the transport closes.
	HandleRequest(ctx context.Context, from uint64, req []byte) []byte
	// HandleGossip receives a Broadcast of node from. It must not block.
	HandleGossip(from uint64, body []byte)
	// SendSnapshot writes the data of the snapshot in m (a MsgSnap of shard) to w.
	SendSnapshot(ctx context.Context, shard uint64, m *raftpb.Message, w io.Writer) error
	// ReceiveSnapshot reads what the leader's SendSnapshot wrote and steps m into shard.
	ReceiveSnapshot(ctx context.Context, shard uint64, m *raftpb.Message, r io.Reader) error
	// ReportSnapshot tells shard's raft how sending a snapshot to node `to` ended.
	ReportSnapshot(shard, to uint64, ok bool)
	// AdoptDirectory is called when member `from` meets this node (see Meet) with the
	// encoded directory of its cluster; an error refuses to join and is told to `from`.
	AdoptDirectory(from uint64, directory []byte) error
}

// Config configures New.
type Config struct {
	NodeID     uint64
	ListenAddr string // the cluster bus address to listen on
	ClientAddr string // host:port clients use to reach this node, told to peers
	Peers      []Peer // every member, this node included
	Shards     int    // refused: peers running a different shard count
	Handler    Handler
	Logger     *slog.Logger
	Faults     *Faults // nil: no fault injection
	// QueueSize bounds each peer's send queue, in frames; raft messages beyond it are
	// dropped and reported unreachable. Default 4096.
	QueueSize int
	// SnapshotTimeout bounds one snapshot transfer; default 10 minutes.
	SnapshotTimeout time.Duration
	// HandshakeTimeout bounds the exchange of hellos on a new connection; default 5s.
	HandshakeTimeout time.Duration
	// RetireGrace is how long a removed member's connection outlives its removal; default
	// 30s. See SetDirectory.
	RetireGrace time.Duration
}

// Errors of Call.
var (
	// ErrUnreachable: no connection to the peer; the request was not sent.
	ErrUnreachable = errors.New("cluster: peer unreachable")
	// ErrConnectionLost: the connection broke after the request may have been sent; its
	// outcome is unknown.
	ErrConnectionLost = errors.New("cluster: connection to peer lost")
	// ErrRefused: the peer answered that it could not serve the request.
	ErrRefused = errors.New("cluster: peer refused the request")
	// ErrClosed: the transport is closed.
	ErrClosed = errors.New("cluster: transport closed")
)

// Transport connects this node to its peers. Every method is safe for concurrent use.
type Transport struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	nextID atomic.Uint64 // request ids

	// peersMu guards peers and removed: members come and go at run time (SetDirectory).
	peersMu sync.RWMutex
	peers   map[uint64]*peer
	removed map[uint64]bool // ids the directory says were removed: refused at handshake once retired
	started bool            // Start ran: new peers are dialed at once
	// retiring are the removed peers kept for Config.RetireGrace; see SetDirectory.
	retiring map[*peer]*time.Timer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	connsMu sync.Mutex
	conns   map[net.Conn]struct{} // every open connection, closed by Close
}

// New checks cfg and builds a transport; Start listens and connects.
func New(cfg Config) (*Transport, error) {
	if cfg.Handler == nil || cfg.NodeID == 0 || cfg.Shards <= 0 {
		return nil, errors.New("cluster: Handler, NodeID and Shards are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	if cfg.SnapshotTimeout <= 0 {
		cfg.SnapshotTimeout = 10 * time.Minute
	}
	if cfg.RetireGrace <= 0 {
		cfg.RetireGrace = DefaultRetireGrace
	}
	t := &Transport{cfg: cfg, log: cfg.Logger, peers: make(map[uint64]*peer), removed: make(map[uint64]bool),
		conns: make(map[net.Conn]struct{})}
	self := false
	for _, p := range cfg.Peers {
		if p.ID == cfg.NodeID {
			self = true
			continue
		}
		t.peers[p.ID] = newPeer(p, cfg.QueueSize)
	}
	if !self {
		return nil, fmt.Errorf("cluster: node %d is not among the peers", cfg.NodeID)
	}
	return t, nil
}

// Start listens on the bus address and starts connecting to the peers. ctx bounds only the
// start; Close stops everything.
func (t *Transport) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", t.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("cluster bus: %w", err)
	}
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(1)
	go t.acceptLoop()
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	t.started = true
	for _, p := range t.peers {
		t.startDialing(p)
	}
	return nil
}

// startDialing starts p's dial loop if this node is the one that dials p: the lower id
// dials, so each pair has one connection. peersMu is held, and Start has run.
func (t *Transport) startDialing(p *peer) {
	if t.cfg.NodeID < p.id {
		t.wg.Add(1)
		go t.dialLoop(p)
	}
}

// peer returns the state of member id, nil if it is not a (current) member.
func (t *Transport) peer(id uint64) *peer {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	return t.peers[id]
}

// SetDirectory brings the peer set in line with d: active members that are new get a peer
// (and a connection); removed members lose their peer RetireGrace later (their connections
// are closed, their calls fail with ErrUnreachable) and are refused at handshake from then
// on. Within the grace a removed member may still open connections: a leader being moved
// off its shards sends snapshots to the new replicas over connections of their own.
// An id, once removed, is never added back.
//
// Why the grace: a forgotten member is still a voter, maybe a leader, of its shards until
// their leaders move the replicas away by conf change. Kept connected meanwhile, it hears
// that it was removed, hands its leaderships over and votes in its groups; cut off at once,
// the shards it led would stay leaderless for an election and the others one voter short.
func (t *Transport) SetDirectory(d Directory) {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	for _, m := range d.Members() {
		if m.ID == t.cfg.NodeID {
			continue
		}
		p := t.peers[m.ID]
		switch {
		case m.State == Removed && !t.removed[m.ID]:
			t.removed[m.ID] = true
			if p != nil {
				t.retireLater(p)
				t.log.Info("cluster bus: member removed", "peer", m.ID)
			}
		case m.State == Active && p == nil && !t.removed[m.ID]:
			p = newPeer(m.Peer, t.cfg.QueueSize)
			t.peers[m.ID] = p
			if t.started && t.ctx.Err() == nil {
				t.startDialing(p)
			}
			t.log.Info("cluster bus: member added", "peer", m.ID, "addr", m.BusAddr)
		}
	}
}

// DefaultRetireGrace is Config.RetireGrace's default.
const DefaultRetireGrace = 30 * time.Second

// retireLater drops and retires p after RetireGrace (at once if the transport is closed
// first); it stays a peer meanwhile. peersMu is held.
func (t *Transport) retireLater(p *peer) {
	if t.retiring == nil {
		t.retiring = make(map[*peer]*time.Timer)
	}
	t.retiring[p] = time.AfterFunc(t.cfg.RetireGrace, func() {
		t.peersMu.Lock()
		delete(t.retiring, p)
		if t.peers[p.id] == p {
			delete(t.peers, p.id)
		}
		t.peersMu.Unlock()
		p.retire()
	})
}

// snapshotPeers returns the current peers.
func (t *Transport) snapshotPeers() []*peer {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	out := make([]*peer, 0, len(t.peers))
	for _, p := range t.peers {
		out = append(out, p)
	}
	return out
}

// Addr is the bus listener's address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Close stops every goroutine and closes every connection; outstanding calls fail.
func (t *Transport) Close() {
	if t.cancel == nil {
		return
	}
	t.cancel()
	_ = t.ln.Close()
	t.peersMu.Lock()
	for p, timer := range t.retiring {
		if timer.Stop() {
			p.retire()
		}
	}
	t.retiring = nil
	t.peersMu.Unlock()
	t.connsMu.Lock()
	for c := range t.conns {
		_ = c.Close()
	}
	t.connsMu.Unlock()
	t.wg.Wait()
	for _, p := range t.snapshotPeers() {
		p.failCalls(ErrClosed)
	}
}

// track registers c so that Close closes it; it returns false once closing has begun.
func (t *Transport) track(c net.Conn) bool {
	t.connsMu.Lock()
	defer t.connsMu.Unlock()
	if t.ctx.Err() != nil {
		_ = c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	_ = c.Close()
	t.connsMu.Lock()
	delete(t.conns, c)
	t.connsMu.Unlock()
}

// Send implements shard.Transport: it queues msgs without blocking. A message that cannot be
// queued (no connection, queue full, injected fault) is dropped and reported unreachable, as
// raft expects; snapshots go on a connection of their own.
func (t *Transport) Send(shard uint64, msgs []*raftpb.Message) {
	if t.ctx == nil || t.ctx.Err() != nil {
		return // not started, or closed: raft retransmits once there is a network again
	}
	for _, m := range msgs {
		to := m.GetTo()
		p := t.peer(to)
		if p == nil {
			continue
		}
		if m.GetType() == raftpb.MsgSnap {
			t.wg.Add(1)
			go t.sendSnapshot(p, shard, m)
			continue
		}
		if t.cfg.Faults.blocked(t.cfg.NodeID, to) {
			continue // a partition loses messages silently
		}
		if !p.connected.Load() || !p.enqueue(outFrame{typ: frameRaft, shard: shard, msg: m}) {
			t.cfg.Handler.ReportUnreachable(shard, to)
		}
	}
}

// Broadcast sends body to every connected peer, dropping it for peers whose queue is full.
func (t *Transport) Broadcast(body []byte) {
	for _, p := range t.snapshotPeers() {
		if p.connected.Load() && !t.cfg.Faults.blocked(t.cfg.NodeID, p.id) {
			p.enqueue(outFrame{typ: frameGossip, body: body})
		}
	}
}

// Call sends req to node `to` and waits for its answer. Errors: ErrUnreachable (not sent),
// ErrConnectionLost and ctx errors (outcome unknown), ErrRefused, ErrClosed.
func (t *Transport) Call(ctx context.Context, to uint64, req []byte) ([]byte, error) {
	p := t.peer(to)
	if p == nil {
		return nil, fmt.Errorf("cluster: unknown node %d: %w", to, ErrUnreachable)
	}
	if t.cfg.Faults.blocked(t.cfg.NodeID, to) || !p.connected.Load() {
		return nil, ErrUnreachable
	}
	c := &call{id: t.nextID.Add(1), done: make(chan struct{})}
	if !p.register(c) {
		return nil, ErrUnreachable
	}
	if !p.enqueue(outFrame{typ: frameRequest, call: c, body: req}) {
		p.unregister(c.id)
		return nil, ErrUnreachable
	}
	select {
	case <-c.done:
		return c.resp, c.err
	case <-ctx.Done():
		c.cancelled.Store(true) // not written yet: the writer skips it
		p.unregister(c.id)
		return nil, ctx.Err()
	case <-t.ctx.Done():
		return nil, ErrClosed
	}
}

// ClientAddr returns the client address node id announced, or "" if it has not connected yet.
func (t *Transport) ClientAddr(id uint64) string {
	if id == t.cfg.NodeID {
		return t.cfg.ClientAddr
	}
	if p := t.peer(id); p != nil {
		if a := p.clientAddr.Load(); a != nil {
			return *a
		}
	}
	return ""
}

// Connected reports whether a connection to node id is up.
func (t *Transport) Connected(id uint64) bool {
	p := t.peer(id)
	return p != nil && p.connected.Load()
}

func (t *Transport) helloFor(kind byte, to uint64) hello {
	return hello{kind: kind, from: t.cfg.NodeID, to: to, shards: uint32(t.cfg.Shards), clientAddr: t.cfg.ClientAddr}
}

// checkHello validates what a peer said about itself.
func (t *Transport) checkHello(h hello, wantFrom uint64) error {
	if h.to != t.cfg.NodeID && (h.kind != connMeet || h.to != 0) {
		return fmt.Errorf("peer addressed node %d, this is node %d", h.to, t.cfg.NodeID)
	}
	if wantFrom != 0 && h.from != wantFrom {
		return fmt.Errorf("expected node %d, got node %d", wantFrom, h.from)
	}
	if int(h.shards) != t.cfg.Shards {
		return fmt.Errorf("node %d runs %d shards, this node %d", h.from, h.shards, t.cfg.Shards)
	}
	if h.kind == connMeet {
		return nil // a node being met, or meeting this one, need not be a member yet
	}
	t.peersMu.RLock()
	known, removed := t.peers[h.from] != nil, t.removed[h.from]
	t.peersMu.RUnlock()
	switch {
	case removed && !known:
		return fmt.Errorf("node %d was removed from this cluster", h.from)
	case !known:
		return fmt.Errorf("node %d is not a member of this cluster", h.from)
	}
	return nil
}

func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	backoff := 50 * time.Millisecond
	for t.ctx.Err() == nil && !p.isRetired() {
		if err := t.dialOnce(p); err != nil {
			t.log.Debug("cluster bus dial", "peer", p.id, "addr", p.busAddr, "err", err)
		} else {
			backoff = 50 * time.Millisecond
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, 2*time.Second)
		select {
		case <-t.ctx.Done():
		case <-p.retired:
		case <-time.After(sleep):
		}
	}
}

// dialOnce connects to p and serves the connection until it breaks.
func (t *Transport) dialOnce(p *peer) error {
	d := net.Dialer{Timeout: 2 * time.Second, KeepAlive: 10 * time.Second}
	c, err := d.DialContext(t.ctx, "tcp", p.busAddr)
	if err != nil {
		return err
	}
	if !t.track(c) {
		return ErrClosed
	}
	defer t.untrack(c)
	r := bufio.NewReaderSize(c, 64<<10)
	_ = c.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if err := writeHello(c, t.helloFor(connMain, p.id)); err != nil {
		return err
	}
	h, err := readHello(r)
	if err != nil {
		return err
	}
	if err := t.checkHello(h, p.id); err != nil {
		t.log.Warn("cluster bus: refusing peer", "peer", p.id, "err", err)
		return err
	}
	_ = c.SetDeadline(time.Time{})
	t.serveConn(p, c, r, h)
	return nil
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() == nil {
				t.log.Error("cluster bus accept", "err", err)
			}
			return
		}
		if !t.track(c) {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer t.untrack(c)
			if err := t.accepted(c); err != nil && t.ctx.Err() == nil {
				t.log.Debug("cluster bus connection", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func (t *Transport) accepted(c net.Conn) error {
	r := bufio.NewReaderSize(c, 64<<10)
	_ = c.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	h, err := readHello(r)
	if err != nil {
		return err
	}
	if err := t.checkHello(h, 0); err != nil {
		t.log.Warn("cluster bus: refusing connection", "remote", c.RemoteAddr().String(), "err", err)
		return err
	}
	if h.kind == connMeet {
		return t.met(c, r, h)
	}
	p := t.peer(h.from)
	if p == nil {
		return fmt.Errorf("node %d is no longer a member", h.from)
	}
	if h.kind == connSnapshot {
		_ = c.SetDeadline(time.Time{})
		return t.receiveSnapshot(c, r, h.from)
	}
	if h.from > t.cfg.NodeID {
		return fmt.Errorf("node %d dialed but the lower id dials", h.from)
	}
	if err := writeHello(c, t.helloFor(connMain, h.from)); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Time{})
	t.serveConn(p, c, r, h)
	return nil
}
