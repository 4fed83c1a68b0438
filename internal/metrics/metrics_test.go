package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The method sets the rest of ferricd relies on (resp.Observer, shard.Observer and the node's
// keyspace counters), restated here so a signature drift breaks this package's build.
type (
	respObserver interface {
		ClientConnected()
		ClientDisconnected()
		ClientRejected()
		CommandDone(name string, d time.Duration, failed bool)
		NetInput(n int)
		NetOutput(n int)
	}
	shardObserver interface {
		SyncDone(shardID uint64, d time.Duration)
		ProposalsCommitted(shardID uint64, n int)
		ProposalsFailed(shardID uint64, n int)
		LeaderChanged(shardID uint64)
	}
	keyspaceObserver interface {
		KeyspaceHits(n int64)
		KeyspaceMisses(n int64)
		ExpiredKeys(n int64)
	}
)

var (
	_ respObserver     = (*Metrics)(nil)
	_ shardObserver    = (*Metrics)(nil)
	_ keyspaceObserver = (*Metrics)(nil)
)

// families gathers m's registry into name -> family.
func families(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// find returns the metric of family name whose labels include all of labels ("k=v").
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for _, want := range labels {
			k, v, _ := strings.Cut(want, "=")
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return float64(m.GetHistogram().GetSampleCount())
}

func TestCountersMove(t *testing.T) {
	m := New(Options{Version: "1.2.3"})
	m.ClientConnected()
	m.ClientConnected()
	m.ClientDisconnected()
	m.ClientRejected()
	m.CommandDone("get", 80*time.Microsecond, false)
	m.CommandDone("get", 3*time.Millisecond, false)
	m.CommandDone("set", time.Millisecond, true)
	m.NetInput(100)
	m.NetOutput(40)
	m.NetInput(-1) // ignored
	m.KeyspaceHits(3)
	m.KeyspaceMisses(2)
	m.ExpiredKeys(1)
	m.SyncDone(1, 2*time.Millisecond)
	m.ProposalsCommitted(1, 5)
	m.ProposalsFailed(1, 2)
	m.LeaderChanged(1)
	m.LeaderChanged(2)

	fams := families(t, m)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ferricd_build_info", []string{"version=1.2.3"}, 1},
		{"ferricd_connected_clients", nil, 1},
		{"ferricd_connections_received_total", nil, 2},
		{"ferricd_rejected_connections_total", nil, 1},
		{"ferricd_commands_total", []string{"cmd=get"}, 2},
		{"ferricd_commands_total", []string{"cmd=set"}, 1},
		{"ferricd_commands_failed_total", []string{"cmd=get"}, 0},
		{"ferricd_commands_failed_total", []string{"cmd=set"}, 1},
		{"ferricd_commands_processed_total", nil, 3},
		{"ferricd_command_duration_seconds", []string{"cmd=get"}, 2},
		{"ferricd_net_input_bytes_total", nil, 100},
		{"ferricd_net_output_bytes_total", nil, 40},
		{"ferricd_keyspace_hits_total", nil, 3},
		{"ferricd_keyspace_misses_total", nil, 2},
		{"ferricd_expired_keys_total", nil, 1},
		{"ferricd_raft_sync_duration_seconds", []string{"shard=1"}, 1},
		{"ferricd_raft_proposals_committed_total", []string{"shard=1"}, 5},
		{"ferricd_raft_proposals_failed_total", []string{"shard=1"}, 2},
		{"ferricd_raft_leader_changes_seen_total", []string{"shard=1"}, 1},
		{"ferricd_raft_leader_changes_seen_total", []string{"shard=2"}, 1},
	} {
		if got := value(find(t, fams, tc.name, tc.labels...)); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	// The histogram puts 80µs above the 50µs bucket and 3ms in the 5ms one.
	h := find(t, fams, "ferricd_command_duration_seconds", "cmd=get").GetHistogram()
	if b := h.GetBucket()[0]; b.GetUpperBound() != 0.00005 || b.GetCumulativeCount() != 0 {
		t.Errorf("first bucket %v: %d", b.GetUpperBound(), b.GetCumulativeCount())
	}
	if b := h.GetBucket()[1]; b.GetUpperBound() != 0.0001 || b.GetCumulativeCount() != 1 {
		t.Errorf("second bucket %v: %d", b.GetUpperBound(), b.GetCumulativeCount())
	}
	if got := h.GetSampleSum(); got < 0.00307 || got > 0.00309 {
		t.Errorf("sum %v", got)
	}
}

func TestScrapeTimeSources(t *testing.T) {
	pm := &pebble.Metrics{}
	pm.Compact.Count = 7
	pm.BlockCache.Hits, pm.BlockCache.Misses = 10, 4
	pm.MemTable.Size = 4096
	pm.Levels[0].TablesCount, pm.Levels[0].Sublevels = 3, 2
	pm.Levels[6].TablesCount, pm.Levels[6].TablesSize, pm.Levels[6].Sublevels = 5, 1000, 1
	pm.WAL.PhysicalSize = 500

	m := New(Options{})
	fams := families(t, m)
	if fams["ferricd_raft_term"] != nil || fams["ferricd_db_keys"] != nil || fams["ferricd_pebble_l0_files"] != nil {
		t.Error("metrics from absent sources")
	}
	m.SetSources(Sources{
		Shards: func() []ShardStatus {
			return []ShardStatus{
				{Shard: 1, LeaderID: 3, Term: 4, Commit: 100, Applied: 99, IsLeader: true},
				{Shard: 2, Term: 1},
			}
		},
		Pebble: func() *pebble.Metrics { return pm },
		Keys:   func() (int64, int64) { return 42, 7 },
	})
	fams = families(t, m)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ferricd_raft_has_leader", []string{"shard=1"}, 1},
		{"ferricd_raft_has_leader", []string{"shard=2"}, 0},
		{"ferricd_raft_is_leader", []string{"shard=1"}, 1},
		{"ferricd_raft_is_leader", []string{"shard=2"}, 0},
		{"ferricd_raft_term", []string{"shard=1"}, 4},
		{"ferricd_raft_commit_index", []string{"shard=1"}, 100},
		{"ferricd_raft_applied_index", []string{"shard=1"}, 99},
		{"ferricd_db_keys", []string{"db=db0"}, 42},
		{"ferricd_db_keys_expiring", []string{"db=db0"}, 7},
		{"ferricd_pebble_compactions_total", nil, 7},
		{"ferricd_pebble_block_cache_hits_total", nil, 10},
		{"ferricd_pebble_block_cache_misses_total", nil, 4},
		{"ferricd_pebble_memtable_size_bytes", nil, 4096},
		{"ferricd_pebble_l0_files", nil, 3},
		{"ferricd_pebble_l0_sublevels", nil, 2},
		{"ferricd_pebble_read_amplification", nil, 3},
		{"ferricd_pebble_level_files", []string{"level=6"}, 5},
		{"ferricd_pebble_level_size_bytes", []string{"level=6"}, 1000},
		{"ferricd_pebble_wal_size_bytes", nil, 500},
		{"ferricd_pebble_disk_usage_bytes", nil, 500},
	} {
		if got := value(find(t, fams, tc.name, tc.labels...)); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// A Pebble source that has nothing yet (DB not open) is skipped, not a panic.
	m.SetSources(Sources{Pebble: func() *pebble.Metrics { return nil }})
	_ = families(t, m)
}

func TestResetStatsKeepsCountersMonotonic(t *testing.T) {
	m := New(Options{})
	m.ClientConnected()
	m.CommandDone("get", time.Millisecond, false)
	m.CommandDone("get", time.Millisecond, true)
	m.CommandDone("del", 2*time.Millisecond, false)
	m.KeyspaceHits(5)
	m.NetInput(10)

	st := m.Snapshot()
	if st.CommandsProcessed != 3 || st.ConnectionsReceived != 1 || st.ConnectedClients != 1 ||
		st.KeyspaceHits != 5 || st.NetInputBytes != 10 || len(st.Commands) != 2 {
		t.Fatalf("before reset: %+v", st)
	}
	if c := st.Commands[1]; c.Name != "get" || c.Calls != 2 || c.Failed != 1 || c.Usec() != 2000 || c.UsecPerCall() != 1000 {
		t.Errorf("get stats: %+v", c)
	}

	m.ResetStats()
	st = m.Snapshot()
	if st.CommandsProcessed != 0 || st.ConnectionsReceived != 0 || st.KeyspaceHits != 0 ||
		st.NetInputBytes != 0 || len(st.Commands) != 0 {
		t.Errorf("after reset: %+v", st)
	}
	if st.ConnectedClients != 1 {
		t.Errorf("reset must not touch connected clients: %d", st.ConnectedClients)
	}
	fams := families(t, m)
	if v := value(find(t, fams, "ferricd_commands_total", "cmd=get")); v != 2 {
		t.Errorf("prometheus counter went from 2 to %v on reset", v)
	}
	if v := value(find(t, fams, "ferricd_keyspace_hits_total")); v != 5 {
		t.Errorf("prometheus hits went from 5 to %v on reset", v)
	}

	m.CommandDone("get", time.Millisecond, false)
	m.KeyspaceHits(1)
	st = m.Snapshot()
	if st.CommandsProcessed != 1 || st.KeyspaceHits != 1 || len(st.Commands) != 1 || st.Commands[0].Calls != 1 ||
		st.Commands[0].Failed != 0 || st.Commands[0].Time != time.Millisecond {
		t.Errorf("after reset and one more get: %+v", st)
	}
	if v := value(find(t, families(t, m), "ferricd_commands_total", "cmd=get")); v != 3 {
		t.Errorf("prometheus counter = %v, want 3", v)
	}
}

// Many goroutines reporting at once lose nothing (run with -race).
func TestConcurrentCommandDone(t *testing.T) {
	m := New(Options{})
	const workers, perWorker = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				m.CommandDone([]string{"get", "set", "incr"}[i%3], time.Duration(i)*time.Microsecond, i%10 == 0)
				m.NetInput(1)
				if i%100 == 0 {
					m.ProposalsCommitted(uint64(w%2), 1)
				}
			}
		})
	}
	wg.Go(func() { // scrapes and snapshots while writers run
		for range 20 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
			st := m.Snapshot()
			for _, c := range st.Commands {
				if c.Failed > c.Calls {
					t.Errorf("%s: failed %d > calls %d", c.Name, c.Failed, c.Calls)
				}
			}
		}
	})
	wg.Wait()
	st := m.Snapshot()
	if st.CommandsProcessed != workers*perWorker || st.NetInputBytes != workers*perWorker {
		t.Errorf("processed %d, net in %d, want %d", st.CommandsProcessed, st.NetInputBytes, workers*perWorker)
	}
	fams := families(t, m)
	// "get" is every third call, starting with the first.
	if n := value(find(t, fams, "ferricd_command_duration_seconds", "cmd=get")); n != workers*((perWorker+2)/3) {
		t.Errorf("get observations %v", n)
	}
}

// Unchecked names cannot blow up the cmd label.
func TestCommandNamesBounded(t *testing.T) {
	m := New(Options{})
	for i := range maxCommandNames + 100 {
		m.CommandDone(fmt.Sprintf("cmd%d", i), time.Microsecond, false)
	}
	fams := families(t, m)
	if n := len(fams["ferricd_commands_total"].GetMetric()); n != maxCommandNames+1 {
		t.Errorf("%d cmd labels, want %d", n, maxCommandNames+1)
	}
	if v := value(find(t, fams, "ferricd_commands_total", "cmd=other")); v != 100 {
		t.Errorf("other = %v, want 100", v)
	}
}

// ferricd's metric names and help texts pass Prometheus' own linter. (promlint directly:
// prometheus/testutil would need a module this repository's go.sum does not carry.)
func TestLint(t *testing.T) {
	m := New(Options{})
	m.CommandDone("get", time.Millisecond, false)
	m.LeaderChanged(1)
	m.SetSources(Sources{
		Shards: func() []ShardStatus { return []ShardStatus{{Shard: 1}} },
		Pebble: func() *pebble.Metrics { return &pebble.Metrics{} },
		Keys:   func() (int64, int64) { return 0, 0 },
	})
	var ours []*dto.MetricFamily
	for name, f := range families(t, m) {
		if strings.HasPrefix(name, namespace+"_") {
			ours = append(ours, f)
		}
	}
	if len(ours) < 40 {
		t.Fatalf("only %d ferricd families", len(ours))
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func BenchmarkCommandDone(b *testing.B) {
	m := New(Options{})
	names := []string{"get", "set", "incr", "del", "mget", "hset", "lpush", "zadd"}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.CommandDone(names[i%len(names)], 100*time.Microsecond, false)
			i++
		}
	})
}
