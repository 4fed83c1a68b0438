package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

func member(id uint64, addr string, st MemberState) Member {
	return Member{Peer: Peer{ID: id, BusAddr: addr}, State: st}
}

func TestDirectoryMergeConverges(t *testing.T) {
	changes := []Member{
		member(1, "a:1", Active), member(2, "b:1", Active), member(3, "c:1", Active),
		member(3, "c:1", Removed), member(4, "d:1", Active), member(2, "a:9", Active),
	}
	want := "1@a:1 2@a:9 -3@c:1 4@d:1"
	// Every order of applying the changes, in any grouping, gives the same directory.
	for perm := range 200 {
		order := slices.Clone(changes)
		for i := range order {
			j := (perm*7 + i*13) % len(order)
			order[i], order[j] = order[j], order[i]
		}
		var left, right Directory
		for i, m := range order {
			if i%2 == 0 {
				left, _ = left.With(m)
			} else {
				right, _ = right.With(m)
			}
		}
		got, _ := left.Merge(right)
		if s := dirString(got); s != want {
			t.Fatalf("order %v merged to %q, want %q", order, s, want)
		}
		again, changed := got.Merge(right)
		if changed || dirString(again) != want {
			t.Fatalf("merging again changed the directory: %q (changed %v)", dirString(again), changed)
		}
	}
}

func TestDirectoryClusterID(t *testing.T) {
	a := NewDirectory([]Peer{{2, "b:1"}, {1, "a:1"}})
	b := NewDirectory([]Peer{{1, "a:1"}, {2, "b:1"}})
	if a.ClusterID() != b.ClusterID() {
		t.Fatal("the same bootstrap list in another order names another cluster")
	}
	c := NewDirectory([]Peer{{1, "a:1"}, {2, "b:2"}})
	if a.SameCluster(c) {
		t.Fatal("different bootstrap lists name the same cluster")
	}
	var joiner Directory
	if !joiner.SameCluster(a) {
		t.Fatal("a node waiting to be met cannot adopt a directory")
	}
	if got, _ := joiner.Merge(a); got.ClusterID() != a.ClusterID() {
		t.Fatal("adopting a directory did not adopt its cluster id")
	}
}

func TestDirectoryRemovedStaysRemoved(t *testing.T) {
	d := NewDirectory([]Peer{{1, "a:1"}, {2, "b:1"}})
	d, _ = d.With(member(2, "b:1", Removed))
	if d2, changed := d.With(member(2, "b:1", Active)); changed || dirString(d2) != "1@a:1 -2@b:1" {
		t.Fatalf("re-adding a removed id changed the directory to %q", dirString(d2))
	}
	if got := d.ActiveIDs(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("active ids %v, want [1]", got)
	}
}

func TestDirectoryEncodeRoundTrip(t *testing.T) {
	d := NewDirectory([]Peer{{1, "127.0.0.1:17001"}, {7, "[::1]:9"}})
	d, _ = d.With(member(3, "h:3", Removed))
	back, err := DecodeDirectory(d.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if dirString(back) != dirString(d) {
		t.Fatalf("round trip gave %q, want %q", dirString(back), dirString(d))
	}
	enc := d.Encode()
	if back.ClusterID() != d.ClusterID() || d.ClusterID() == 0 {
		t.Fatalf("cluster id %x after the round trip, want %x (non-zero)", back.ClusterID(), d.ClusterID())
	}
	zero := make([]byte, 8)
	for _, bad := range [][]byte{nil, {9}, enc[:len(enc)-1], append(slices.Clone(enc), 0),
		append(append([]byte{2}, zero...), 1, 0, 1, 0), append(append([]byte{2}, zero...), 1, 5, 3, 0)} {
		if _, err := DecodeDirectory(bad); err == nil {
			t.Errorf("DecodeDirectory(%x) accepted garbage", bad)
		}
	}
}

func dirString(d Directory) string {
	var parts []string
	for _, m := range d.Members() {
		p := fmt.Sprintf("%d@%s", m.ID, m.BusAddr)
		if m.State == Removed {
			p = "-" + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// startLone starts a transport that knows only itself, as a node waiting to be met.
func startLone(t *testing.T, id uint64) (*Transport, *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rec := &recorder{}
	tr, err := New(Config{NodeID: id, ListenAddr: addr, ClientAddr: fmt.Sprintf("127.0.0.1:%d", 7000+id),
		Peers: []Peer{{ID: id, BusAddr: addr}}, Shards: 4, Handler: rec, HandshakeTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr, rec
}

func TestMeetLearnsIDAndHandsOverDirectory(t *testing.T) {
	tn := newTestNet(t, 2)
	tn.waitConnected()
	joiner, rec := startLone(t, 9)
	addr := joiner.Addr().String()
	var sawClient string
	id, err := tn.trs[1].Meet(context.Background(), addr, func(id uint64, clientAddr string) ([]byte, error) {
		sawClient = clientAddr
		d := NewDirectory(append(slices.Clone(tn.peers), Peer{ID: id, BusAddr: addr}))
		return d.Encode(), nil
	})
	if err != nil || id != 9 || sawClient != "127.0.0.1:7009" {
		t.Fatalf("Meet = %d, %v (client addr %q), want node 9 at 127.0.0.1:7009", id, err, sawClient)
	}
	rec.mu.Lock()
	adopted := slices.Clone(rec.adopted)
	rec.mu.Unlock()
	if len(adopted) != 1 || len(adopted[0].ActiveIDs()) != 3 {
		t.Fatalf("joiner adopted %v, want one directory of 3 members", adopted)
	}
	// Once both sides know each other, they connect (the lower id dials).
	d := adopted[0]
	joiner.SetDirectory(d)
	tn.trs[1].SetDirectory(d)
	tn.trs[2].SetDirectory(d)
	waitFor(t, "node 9 connected to 1 and 2", func() bool {
		return joiner.Connected(1) && joiner.Connected(2) && tn.trs[1].Connected(9)
	})
}

func TestMeetRefusalIsReported(t *testing.T) {
	tn := newTestNet(t, 1)
	joiner, rec := startLone(t, 5)
	rec.refuse = "already a member of another cluster"
	_, err := tn.trs[1].Meet(context.Background(), joiner.Addr().String(), func(id uint64, _ string) ([]byte, error) {
		return NewDirectory([]Peer{{ID: id, BusAddr: "x:1"}}).Encode(), nil
	})
	if err == nil || !strings.Contains(err.Error(), "already a member of another cluster") {
		t.Fatalf("Meet error %v, want the joiner's refusal", err)
	}
	_, err = tn.trs[1].Meet(context.Background(), joiner.Addr().String(), func(id uint64, _ string) ([]byte, error) {
		return nil, fmt.Errorf("node id %d was removed", id)
	})
	if err == nil || !strings.Contains(err.Error(), "node id 5 was removed") {
		t.Fatalf("Meet error %v, want the decider's refusal", err)
	}
}

func TestRemovedMemberIsDisconnectedAndRefused(t *testing.T) {
	tn := newTestNet(t, 3)
	tn.waitConnected()
	d := NewDirectory(tn.peers)
	d, _ = d.With(member(3, tn.peers[2].BusAddr, Removed))
	tn.trs[1].SetDirectory(d)
	tn.trs[2].SetDirectory(d)
	// For the grace period it still gets raft messages (so that its replicas can hand
	// their leaderships over), and may still open connections: a leader it still is sends
	// snapshots to the replicas that take its place, each over a connection of its own.
	tn.trs[1].Send(1, []*raftpb.Message{heartbeat(1, 3)})
	waitFor(t, "a raft message to node 3 during the grace", func() bool {
		tn.recs[3].mu.Lock()
		defer tn.recs[3].mu.Unlock()
		return len(tn.recs[3].msgs) > 0
	})
	snap := &raftpb.Message{Type: raftpb.MsgSnap.Enum(), From: new(uint64(3)), To: new(uint64(1)), Term: new(uint64(4)),
		Snapshot: &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(9)), Term: new(uint64(4))}}}
	tn.trs[3].Send(2, []*raftpb.Message{snap})
	waitFor(t, "node 3's snapshot to node 1 during the grace reported", func() bool {
		tn.recs[3].mu.Lock()
		defer tn.recs[3].mu.Unlock()
		return len(tn.recs[3].reported) == 1
	})
	if !tn.recs[3].reported[0] {
		t.Fatal("a removed member could not send a snapshot during its grace period")
	}
	waitFor(t, "node 3 disconnected", func() bool {
		return !tn.trs[1].Connected(3) && !tn.trs[2].Connected(3) && !tn.trs[3].Connected(1)
	})
	if _, err := tn.trs[1].Call(context.Background(), 3, []byte("x")); err == nil {
		t.Fatal("a call to a removed member succeeded")
	}
	// Node 3 dials nobody (it is the highest id) and nodes 1 and 2 no longer dial it:
	// after a while it is still disconnected.
	time.Sleep(300 * time.Millisecond)
	if tn.trs[3].Connected(1) || tn.trs[3].Connected(2) {
		t.Fatal("a removed member reconnected")
	}
	if !tn.trs[1].Connected(2) {
		t.Fatal("removing node 3 broke the connection between 1 and 2")
	}
}
