package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// serve runs m.ServeListener on a loopback port until the test ends and returns its base URL.
func serve(t *testing.T, m *Metrics) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.ServeListener(ctx, ln); err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// get fetches url without keeping connections alive, so no client goroutine outlives the test.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestMetricsEndpoint(t *testing.T) {
	m := New(Options{Version: "test"})
	m.SetSources(Sources{
		Shards: func() []ShardStatus { return []ShardStatus{{Shard: 1, LeaderID: 1, IsLeader: true}} },
		Pebble: func() *pebble.Metrics { return &pebble.Metrics{} },
		Keys:   func() (int64, int64) { return 1, 0 },
	})
	m.ClientConnected()
	m.CommandDone("ping", time.Microsecond, false)
	m.KeyspaceMisses(1)
	m.ExpiredKeys(1)
	m.NetOutput(1)
	m.ClientRejected()
	m.KeyspaceHits(1)
	m.SyncDone(1, time.Millisecond)
	m.ProposalsCommitted(1, 1)
	m.ProposalsFailed(1, 1)
	m.LeaderChanged(1)
	base := serve(t, m)

	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, name := range []string{
		`ferricd_build_info{version="test"} 1`,
		`ferricd_commands_total{cmd="ping"} 1`,
		`ferricd_commands_failed_total{cmd="ping"} 0`,
		`ferricd_command_duration_seconds_bucket{cmd="ping",le="5e-05"} 1`,
		"ferricd_commands_processed_total 1",
		"ferricd_connected_clients 1",
		"ferricd_connections_received_total 1",
		"ferricd_rejected_connections_total 1",
		"ferricd_keyspace_hits_total 1",
		"ferricd_keyspace_misses_total 1",
		"ferricd_expired_keys_total 1",
		"ferricd_net_input_bytes_total 0",
		"ferricd_net_output_bytes_total 1",
		`ferricd_db_keys{db="db0"} 1`,
		`ferricd_db_keys_expiring{db="db0"} 0`,
		`ferricd_raft_has_leader{shard="1"} 1`,
		`ferricd_raft_is_leader{shard="1"} 1`,
		`ferricd_raft_term{shard="1"} 0`,
		`ferricd_raft_commit_index{shard="1"} 0`,
		`ferricd_raft_applied_index{shard="1"} 0`,
		`ferricd_raft_leader_changes_seen_total{shard="1"} 1`,
		`ferricd_raft_proposals_committed_total{shard="1"} 1`,
		`ferricd_raft_proposals_failed_total{shard="1"} 1`,
		`ferricd_raft_sync_duration_seconds_count{shard="1"} 1`,
		"ferricd_pebble_disk_usage_bytes ",
		"ferricd_pebble_read_amplification ",
		"ferricd_pebble_compactions_total ",
		"ferricd_pebble_block_cache_hits_total ",
		"ferricd_pebble_block_cache_misses_total ",
		"ferricd_pebble_memtable_size_bytes ",
		"ferricd_pebble_l0_files ",
		`ferricd_pebble_level_files{level="6"} `,
		"go_goroutines ",
		"go_build_info{",
		"process_start_time_seconds ",
		"promhttp_metric_handler_requests_total{",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _ := get(t, base+"/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}

func TestReadyzFlips(t *testing.T) {
	m := New(Options{})
	base := serve(t, m)

	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready: starting\n" {
		t.Errorf("without a Ready source: %d %q", code, body)
	}
	var ready atomic.Bool
	m.SetSources(Sources{Ready: func() error {
		if !ready.Load() {
			return errors.New("shard 3 has no leader")
		}
		return nil
	}})
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready: shard 3 has no leader\n" {
		t.Errorf("not ready: %d %q", code, body)
	}
	ready.Store(true)
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("ready: %d %q", code, body)
	}
	ready.Store(false)
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("ready again: %d", code)
	}
	// /healthz does not care about readiness.
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while not ready: %d", code)
	}
}

// Serve returns promptly once its context ends, with its goroutines gone (goleak checks at
// exit), and reports a listen error at once.
func TestServeLifecycle(t *testing.T) {
	m := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, "127.0.0.1:0") }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}

	if err := m.Serve(context.Background(), "256.0.0.1:1"); err == nil {
		t.Error("Serve on a bad address succeeded")
	}
}
