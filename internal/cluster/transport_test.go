package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that records what reaches it.
type recorder struct {
	mu          sync.Mutex
	msgs        []*raftpb.Message
	unreachable int
	gossip      [][]byte
	snapshots   []string
	reported    []bool
	adopted     []Directory
	refuse      string // AdoptDirectory's error, if set
}

func (r *recorder) StepRaft(shard uint64, m *raftpb.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}
func (r *recorder) ReportUnreachable(shard, to uint64) {
	r.mu.Lock()
	r.unreachable++
	r.mu.Unlock()
}
func (r *recorder) HandleRequest(ctx context.Context, from uint64, req []byte) []byte {
	if string(req) == "slow" {
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	}
	return fmt.Appendf(nil, "from %d: %s", from, req)
}
func (r *recorder) HandleGossip(from uint64, body []byte) {
	r.mu.Lock()
	r.gossip = append(r.gossip, body)
	r.mu.Unlock()
}
func (r *recorder) SendSnapshot(ctx context.Context, shard uint64, m *raftpb.Message, w io.Writer) error {
	_, err := fmt.Fprintf(w, "snapshot of shard %d at %d\n", shard, m.GetSnapshot().GetMetadata().GetIndex())
	return err
}
func (r *recorder) ReceiveSnapshot(ctx context.Context, shard uint64, m *raftpb.Message, rd io.Reader) error {
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(rd, buf, 10)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.snapshots = append(r.snapshots, string(buf[:n]))
	r.mu.Unlock()
	return nil
}
func (r *recorder) ReportSnapshot(shard, to uint64, ok bool) {
	r.mu.Lock()
	r.reported = append(r.reported, ok)
	r.mu.Unlock()
}

func (r *recorder) AdoptDirectory(from uint64, body []byte) error {
	d, err := DecodeDirectory(body)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.adopted = append(r.adopted, d)
	r.mu.Unlock()
	if r.refuse != "" {
		return errors.New(r.refuse)
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

type testNet struct {
	t      *testing.T
	peers  []Peer
	trs    map[uint64]*Transport
	recs   map[uint64]*recorder
	faults map[uint64]*Faults
}

// testRetireGrace is the test nets' Config.RetireGrace.
const testRetireGrace = 500 * time.Millisecond

// newTestNet starts n transports on loopback ports.
func newTestNet(t *testing.T, n int) *testNet {
	t.Helper()
	tn := &testNet{t: t, trs: map[uint64]*Transport{}, recs: map[uint64]*recorder{}, faults: map[uint64]*Faults{}}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tn.peers = append(tn.peers, Peer{ID: uint64(i), BusAddr: ln.Addr().String()})
		ln.Close()
	}
	for i := 1; i <= n; i++ {
		tn.start(uint64(i))
	}
	t.Cleanup(func() {
		for _, tr := range tn.trs {
			tr.Close()
		}
	})
	return tn
}

func (tn *testNet) start(id uint64) {
	tn.t.Helper()
	rec := &recorder{}
	f := &Faults{}
	tr, err := New(Config{
		NodeID: id, ListenAddr: tn.peers[id-1].BusAddr, ClientAddr: fmt.Sprintf("127.0.0.1:%d", 7000+id),
		Peers: tn.peers, Shards: 4, Handler: rec, Faults: f, HandshakeTimeout: time.Second,
		RetireGrace: testRetireGrace,
	})
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := tr.Start(context.Background()); err != nil {
		tn.t.Fatal(err)
	}
	tn.trs[id], tn.recs[id], tn.faults[id] = tr, rec, f
}

func (tn *testNet) waitConnected() {
	tn.t.Helper()
	waitFor(tn.t, "every pair connected", func() bool {
		for id, tr := range tn.trs {
			for other := range tn.trs {
				if other != id && !tr.Connected(other) {
					return false
				}
			}
		}
		return true
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func heartbeat(from, to uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), From: new(from), To: new(to), Term: new(uint64(3))}
}

func TestTransportDeliversRaftMessagesBothWays(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.waitConnected()
	for i := range 100 {
		tn.trs[1].Send(2, []*raftpb.Message{heartbeat(1, 3)})
		tn.trs[3].Send(uint64(i%4+1), []*raftpb.Message{heartbeat(3, 1), heartbeat(3, 2)})
	}
	waitFor(t, "300 messages", func() bool {
		return tn.recs[3].count() == 100 && tn.recs[1].count() == 100 && tn.recs[2].count() == 100
	})
	if m := tn.recs[3].msgs[0]; m.GetFrom() != 1 || m.GetType() != raftpb.MsgHeartbeat || m.GetTerm() != 3 {
		t.Fatalf("message arrived altered: %v", m)
	}
	if got := tn.trs[1].ClientAddr(3); got != "127.0.0.1:7003" {
		t.Fatalf("ClientAddr(3) = %q, want the address node 3 announced", got)
	}
}

func TestTransportCallAndGossip(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.waitConnected()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			resp, err := tn.trs[2].Call(ctx, 1, fmt.Appendf(nil, "req %d", i))
			if err != nil || string(resp) != fmt.Sprintf("from 2: req %d", i) {
				t.Errorf("Call %d = %q, %v", i, resp, err)
			}
		})
	}
	wg.Wait()
	tn.trs[1].Broadcast([]byte("leaders"))
	waitFor(t, "gossip", func() bool {
		tn.recs[2].mu.Lock()
		defer tn.recs[2].mu.Unlock()
		return len(tn.recs[2].gossip) == 1 && string(tn.recs[2].gossip[0]) == "leaders"
	})
}

func TestTransportReconnectsAfterPeerRestart(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.waitConnected()
	tn.trs[2].Close()
	waitFor(t, "node 1 to notice", func() bool { return !tn.trs[1].Connected(2) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tn.trs[1].Call(ctx, 2, []byte("x")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Call to a stopped peer = %v, want ErrUnreachable", err)
	}
	tn.start(2)
	tn.waitConnected()
	if resp, err := tn.trs[1].Call(ctx, 2, []byte("again")); err != nil || string(resp) != "from 1: again" {
		t.Fatalf("Call after reconnect = %q, %v", resp, err)
	}
}

func TestTransportConnectionLossFailsOutstandingCalls(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.waitConnected()
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := tn.trs[1].Call(ctx, 2, []byte("slow"))
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	tn.trs[2].Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("outstanding call = %v, want ErrConnectionLost", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("outstanding call not failed after the connection broke")
	}
}

func TestTransportFaultsDropAndHeal(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.waitConnected()
	tn.faults[1].Block(1, 2) // one way: 1 -> 2 lost, 1 -> 3 fine
	tn.trs[1].Send(1, []*raftpb.Message{heartbeat(1, 2), heartbeat(1, 3)})
	waitFor(t, "message to node 3", func() bool { return tn.recs[3].count() == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := tn.recs[2].count(); n != 0 {
		t.Fatalf("node 2 received %d messages across a blocked direction", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := tn.trs[1].Call(ctx, 2, []byte("x")); err == nil {
		t.Fatal("a call across a blocked direction succeeded")
	}
	tn.faults[1].Heal()
	tn.trs[1].Send(1, []*raftpb.Message{heartbeat(1, 2)})
	waitFor(t, "message after heal", func() bool { return tn.recs[2].count() == 1 })
}

func TestTransportSnapshotStream(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.waitConnected()
	snap := &raftpb.Message{Type: raftpb.MsgSnap.Enum(), From: new(uint64(2)), To: new(uint64(1)), Term: new(uint64(4)),
		Snapshot: &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(77)), Term: new(uint64(4))}}}
	tn.trs[2].Send(3, []*raftpb.Message{snap})
	waitFor(t, "snapshot reported", func() bool {
		tn.recs[2].mu.Lock()
		defer tn.recs[2].mu.Unlock()
		return len(tn.recs[2].reported) == 1
	})
	if !tn.recs[2].reported[0] {
		t.Fatal("snapshot reported as failed")
	}
	if got := tn.recs[1].snapshots; len(got) != 1 || got[0] != "snapshot of shard 3 at 77\n" {
		t.Fatalf("receiver got %q", got)
	}
}

func TestTransportDropsGarbageConnections(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.waitConnected()
	for _, garbage := range []string{"GET / HTTP/1.1\r\n\r\n", "FRCD\x01\x00" + string(make([]byte, 30)), "\x00\x01\x02"} {
		c, err := net.Dial("tcp", tn.peers[0].BusAddr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(garbage))
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("garbage %q: connection not closed by the node: %v", garbage, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tn.trs[2].Call(ctx, 1, []byte("still")); err != nil {
		t.Fatalf("peers disturbed by garbage connections: %v", err)
	}
}
