package cluster

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePeers(t *testing.T) {
	for _, tc := range []struct {
		in, err string
		self    uint64
	}{
		{in: "2@127.0.0.1:17002, 1@127.0.0.1:17001", self: 1},
		{in: "1@[::1]:17001", self: 1},
		{in: "1@a:1,1@b:2", self: 1, err: "listed twice"},
		{in: "1@a:1,2@a:1", self: 1, err: "share the address"},
		{in: "1@a:1,2@b:2", self: 3, err: "not in the list"},
		{in: "x@a:1", self: 1, err: "integer >= 1"},
		{in: "0@a:1", self: 1, err: "integer >= 1"},
		{in: "1a:1", self: 1, err: "<node-id>@"},
		{in: "1@a", self: 1, err: "<host>:<port>"},
		{in: "1@a:99999", self: 1, err: "1..65535"},
		{in: "", self: 1, err: "empty"},
	} {
		peers, err := ParsePeers(tc.in, tc.self)
		if tc.err == "" {
			if err != nil {
				t.Errorf("ParsePeers(%q) = %v", tc.in, err)
			} else if !slices.IsSortedFunc(peers, func(a, b Peer) int { return cmpUint(a.ID, b.ID) }) {
				t.Errorf("ParsePeers(%q) not sorted: %v", tc.in, peers)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParsePeers(%q) = %v, want an error containing %q", tc.in, err, tc.err)
		}
	}
}

func TestReplicasSpreadShards(t *testing.T) {
	ids := []uint64{5, 1, 3, 9, 7}
	perNode := map[uint64]int{}
	for shard := uint64(1); shard <= 10; shard++ {
		r := Replicas(shard, ids)
		if len(r) != 3 || !slices.IsSorted(r) || len(slices.Compact(slices.Clone(r))) != 3 {
			t.Fatalf("Replicas(%d) = %v, want 3 distinct sorted ids", shard, r)
		}
		for _, id := range r {
			perNode[id]++
		}
	}
	for _, id := range ids {
		if perNode[id] != 6 {
			t.Fatalf("node %d holds %d of 30 replicas, want an even 6: %v", id, perNode[id], perNode)
		}
	}
	if r := Replicas(4, []uint64{2, 1}); !slices.Equal(r, []uint64{1, 2}) {
		t.Fatalf("two nodes: Replicas = %v, want both", r)
	}
}
