package node

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ferricd/internal/metrics"
	"ferricd/internal/routing"
)

// InfoSource supplies the counters INFO reports that the node does not keep itself.
type InfoSource interface {
	Snapshot() metrics.Stats
	ResetStats()
}

// InfoStatic is what INFO reports about the process that the node cannot know.
type InfoStatic struct {
	Version    string // ferricd's version
	Port       int
	ConfigFile string
	MaxClients func() int64
	MaxMemory  func() uint64
}

// RedisVersion is the Redis release whose behaviour ferricd reproduces; INFO reports it as
// redis_version because client libraries gate features on it.
const RedisVersion = "7.0.15"

var defaultSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"}

// opsSampler keeps recent samples of the processed-command count for
// instantaneous_ops_per_sec, as Redis does: a small ring sampled on a timer.
type opsSampler struct {
	mu      sync.Mutex
	samples [16]struct {
		at  time.Time
		ops uint64
	}
	next int
}

func (s *opsSampler) add(at time.Time, ops uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples[s.next%len(s.samples)] = struct {
		at  time.Time
		ops uint64
	}{at, ops}
	s.next++
}

func (s *opsSampler) rate() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next < 2 {
		return 0
	}
	newest := s.samples[(s.next-1)%len(s.samples)]
	oldest := s.samples[max(0, s.next-len(s.samples))%len(s.samples)]
	dt := newest.at.Sub(oldest.at).Seconds()
	if dt <= 0 || newest.ops < oldest.ops {
		return 0
	}
	return int64(float64(newest.ops-oldest.ops) / dt)
}

// Info implements command.Server.
func (n *Node) Info(_ context.Context, sections []string) string {
	want := map[string]bool{}
	if len(sections) == 0 {
		sections = []string{"default"}
	}
	for _, s := range sections {
		switch s {
		case "default":
			for _, d := range defaultSections {
				want[d] = true
			}
		case "all", "everything":
			for _, d := range defaultSections {
				want[d] = true
			}
			want["commandstats"] = true
		default:
			want[s] = true
		}
	}
	var stats metrics.Stats
	if n.cfg.Info != nil {
		stats = n.cfg.Info.Snapshot()
	}
	var b strings.Builder
	section := func(name, title string, body func(w func(k string, v any))) {
		if !want[name] {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + title + "\r\n")
		body(func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) })
	}
	st := n.cfg.InfoStatic
	now := n.now()
	section("server", "Server", func(w func(string, any)) {
		exe, _ := os.Executable()
		up := now.Sub(n.start)
		w("redis_version", RedisVersion)
		w("ferricd_version", st.Version)
		w("redis_git_sha1", "00000000")
		w("redis_git_dirty", 0)
		w("redis_mode", "standalone")
		w("os", runtime.GOOS+" "+runtime.GOARCH)
		w("arch_bits", strconv.IntSize)
		w("multiplexing_api", "go")
		w("go_version", runtime.Version())
		w("process_id", os.Getpid())
		w("process_supervised", "no")
		w("run_id", n.runID)
		w("tcp_port", st.Port)
		w("server_time_usec", now.UnixMicro())
		w("uptime_in_seconds", int64(up.Seconds()))
		w("uptime_in_days", int64(up.Hours()/24))
		w("hz", 10)
		w("configured_hz", 10)
		w("executable", exe)
		w("config_file", st.ConfigFile)
		w("io_threads_active", 0)
	})
	section("clients", "Clients", func(w func(string, any)) {
		w("connected_clients", stats.ConnectedClients)
		w("cluster_connections", 0)
		w("maxclients", callInt(st.MaxClients))
		w("blocked_clients", n.blocked.count())
		w("tracking_clients", 0)
		w("clients_in_timeout_table", 0)
	})
	section("memory", "Memory", func(w func(string, any)) {
		// The heap as sampled every 100 ms (the figure maxmemory is checked against), not
		// runtime.ReadMemStats, which stops the world on every INFO.
		used, peak := n.usedMemory.Load(), n.peakMemory.Load()
		rss := residentBytes()
		var maxmem uint64
		if st.MaxMemory != nil {
			maxmem = st.MaxMemory()
		}
		w("used_memory", used)
		w("used_memory_human", human(used))
		w("used_memory_rss", rss)
		w("used_memory_rss_human", human(rss))
		w("used_memory_peak", peak)
		w("used_memory_peak_human", human(peak))
		w("total_system_memory", 0)
		w("maxmemory", maxmem)
		w("maxmemory_human", human(maxmem))
		w("maxmemory_policy", "noeviction")
		w("mem_allocator", "go")
		w("key_cache_keys", n.cache.Len())
		if m := n.db.Metrics(); m != nil {
			w("pebble_disk_usage", m.DiskSpaceUsage())
		}
	})
	section("persistence", "Persistence", func(w func(string, any)) {
		w("loading", 0)
		w("async_loading", 0)
		w("rdb_changes_since_last_save", 0)
		w("rdb_bgsave_in_progress", 0)
		w("rdb_last_save_time", n.LastSave())
		w("rdb_last_bgsave_status", "ok")
		w("aof_enabled", 1)
		w("aof_rewrite_in_progress", 0)
		w("aof_last_write_status", "ok")
		w("durability", "raft-log-fsync-per-batch")
	})
	section("stats", "Stats", func(w func(string, any)) {
		w("total_connections_received", stats.ConnectionsReceived)
		w("total_commands_processed", stats.CommandsProcessed)
		w("instantaneous_ops_per_sec", n.ops.rate())
		w("total_net_input_bytes", stats.NetInputBytes)
		w("total_net_output_bytes", stats.NetOutputBytes)
		w("rejected_connections", stats.RejectedConnections)
		w("expired_keys", stats.ExpiredKeys)
		w("evicted_keys", 0)
		w("keyspace_hits", stats.KeyspaceHits)
		w("keyspace_misses", stats.KeyspaceMisses)
		w("pubsub_channels", 0)
		w("pubsub_patterns", 0)
	})
	section("replication", "Replication", func(w func(string, any)) {
		w("role", "master")
		w("connected_slaves", 0)
		w("master_failover_state", "no-failover")
		w("master_repl_offset", 0)
		leading := 0
		for _, s := range n.localShards() {
			if s.Status().IsLeader {
				leading++
			}
		}
		w("raft_shards", len(n.localShards()))
		w("raft_shards_leading", leading)
	})
	section("cpu", "CPU", func(w func(string, any)) {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		w("used_cpu_sys", fmt.Sprintf("%.6f", tvSeconds(ru.Stime)))
		w("used_cpu_user", fmt.Sprintf("%.6f", tvSeconds(ru.Utime)))
	})
	section("modules", "Modules", func(func(string, any)) {})
	section("errorstats", "Errorstats", func(func(string, any)) {})
	section("cluster", "Cluster", func(w func(string, any)) { w("cluster_enabled", 0) })
	section("keyspace", "Keyspace", func(w func(string, any)) {
		all := routing.Range{Start: 0, End: routing.NumSlots}
		if keys := n.counts.Keys(all); keys > 0 {
			w("db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", keys, n.counts.Expires(all)))
		}
	})
	section("commandstats", "Commandstats", func(w func(string, any)) {
		for _, c := range stats.Commands {
			w("cmdstat_"+c.Name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=0,failed_calls=%d",
				c.Calls, c.Usec(), c.UsecPerCall(), c.Failed))
		}
	})
	return b.String()
}

func callInt(f func() int64) int64 {
	if f == nil {
		return 0
	}
	return f()
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// residentBytes reads the process' resident set size from /proc (0 where unavailable).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// human formats bytes as Redis' *_human fields do (1.50M, 512.00K, 100B).
func human(n uint64) string {
	f := float64(n)
	switch {
	case f < 1024:
		return fmt.Sprintf("%dB", n)
	case f < 1024*1024:
		return fmt.Sprintf("%.2fK", f/1024)
	case f < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", f/1024/1024)
	case f < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", f/1024/1024/1024)
	}
	return fmt.Sprintf("%.2fT", f/1024/1024/1024/1024)
}
