package node

import (
	"testing"

	"ferricd/internal/cluster"
)

// A crash after the first membership record and before every shard was bootstrapped must
// leave the next start bootstrapping, not joining a group that never existed.
func TestBootstrapPendingSurvivesACrashBeforeItEnds(t *testing.T) {
	db := openDB(t, "")
	defer db.Close()
	peers := []cluster.Peer{{ID: 1, BusAddr: "127.0.0.1:1"}, {ID: 2, BusAddr: "127.0.0.1:2"}}
	for i, step := range []struct {
		finish bool
		want   bool
	}{{false, true}, {false, true}, {true, true}, {false, false}} {
		m, err := checkMembership(db, 1, peers, false)
		if err != nil {
			t.Fatal(err)
		}
		if m.bootstrap != step.want {
			t.Fatalf("start %d: bootstrap pending %v, want %v", i+1, m.bootstrap, step.want)
		}
		if step.finish {
			if err := finishBootstrap(db); err != nil {
				t.Fatal(err)
			}
		}
	}
}
