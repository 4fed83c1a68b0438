package metrics

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const (
	namespace = "ferricd"
	// maxCommandNames bounds the cmd label. Redis 7.0 has about 240 commands and 160
	// subcommands, so this only trips if a caller passes unchecked client input.
	maxCommandNames = 1024
	otherCommand    = "other"
)

// Latency buckets, in seconds: from 50µs (a pipelined GET) to 1s (a big quorum write under
// load). Raft syncs get two more, because an fsync on a busy disk can take seconds.
func commandBuckets() []float64 {
	return []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
}

func syncBuckets() []float64 { return append(commandBuckets(), 2.5, 5) }

// ShardStatus is one shard's raft state as the node sees it, read at scrape time.
type ShardStatus struct {
	Shard    uint64
	LeaderID uint64 // 0 when the shard knows no leader
	Term     uint64
	Commit   uint64
	Applied  uint64
	IsLeader bool // this node leads the shard
}

// Sources are the functions the collector calls at scrape time. Any of them may be nil; the
// corresponding metrics are then absent (and /readyz reports not ready without Ready).
type Sources struct {
	Shards func() []ShardStatus
	Pebble func() *pebble.Metrics
	// Keys returns the number of keys and of keys with an expiry.
	Keys func() (keys, expiring int64)
	// Ready returns nil when the node can serve clients, else the reason it cannot.
	Ready func() error
}

// Options configure New.
type Options struct {
	// Version is reported as ferricd_build_info{version}.
	Version string
	Sources Sources
	// Pprof adds Go's profiler under /debug/pprof/ to Handler.
	Pprof bool
	// Debug adds handlers by ServeMux pattern (fault injection in tests).
	Debug map[string]http.Handler
}

// Metrics is a node's instrumentation. All methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	sources atomic.Pointer[Sources]
	version string
	desc    descs
	pprof   bool
	debug   map[string]http.Handler

	// Event counters; all monotonic except the connected gauge.
	connected                    atomic.Int64
	connsReceived, connsRejected atomic.Uint64
	hits, misses, expired        atomic.Uint64
	netIn, netOut                atomic.Uint64
	commands                     cowMap[string, *commandStats]
	shards                       cowMap[uint64, *shardStats]
	cmdDuration                  *prometheus.HistogramVec
	syncDuration                 *prometheus.HistogramVec

	statsMu sync.Mutex // orders Snapshot and ResetStats; guards base
	base    baseline
}

type commandStats struct {
	calls, failed, nanos atomic.Uint64
	duration             prometheus.Observer
}

type shardStats struct {
	committed, failed, leaderChanges atomic.Uint64
	sync                             prometheus.Observer
}

// baseline is what the INFO-visible totals were at the last ResetStats.
type baseline struct {
	connsReceived, connsRejected, hits, misses, expired, netIn, netOut uint64
	commands                                                           map[string]CommandStats
}

// New builds a Metrics with its own registry holding the Go runtime, process and build-info
// collectors and ferricd's own.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), version: opts.Version, desc: newDescs(), pprof: opts.Pprof, debug: opts.Debug}
	if m.version == "" {
		m.version = "unknown"
	}
	m.SetSources(opts.Sources)
	m.cmdDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "command_duration_seconds",
		Help:    "Time to execute a command, by command.",
		Buckets: commandBuckets(),
	}, []string{"cmd"})
	m.syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "raft_sync_duration_seconds",
		Help:    "Time to persist a raft Ready (entries and hard state, fsync included).",
		Buckets: syncBuckets(),
	}, []string{"shard"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.cmdDuration,
		m.syncDuration,
		(*collector)(m),
	)
	return m
}

// SetSources replaces the scrape-time sources; the node calls it once its shards exist.
func (m *Metrics) SetSources(s Sources) { m.sources.Store(&s) }

// Registry is the registry /metrics serves, for collectors of other parts of the node.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// resp.Observer

// ClientConnected counts an accepted client.
func (m *Metrics) ClientConnected() {
	m.connected.Add(1)
	m.connsReceived.Add(1)
}

// ClientDisconnected counts a client gone.
func (m *Metrics) ClientDisconnected() { m.connected.Add(-1) }

// ClientRejected counts a connection refused (maxclients); it is neither received nor connected,
// as in Redis' INFO.
func (m *Metrics) ClientRejected() { m.connsRejected.Add(1) }

// CommandDone records one executed command. name must come from the command table, lower case
// ("get", "config|get"), never from unchecked input.
func (m *Metrics) CommandDone(name string, d time.Duration, failed bool) {
	c := m.command(name)
	c.calls.Add(1)
	if failed {
		c.failed.Add(1)
	}
	if d > 0 {
		c.nanos.Add(uint64(d))
	}
	c.duration.Observe(d.Seconds())
}

func (m *Metrics) command(name string) *commandStats {
	if c, ok := m.commands.load(name); ok {
		return c
	}
	if m.commands.len() >= maxCommandNames {
		name = otherCommand
	}
	return m.commands.loadOrStore(name, func() *commandStats {
		return &commandStats{duration: m.cmdDuration.WithLabelValues(name)}
	})
}

// NetInput counts bytes read from clients.
func (m *Metrics) NetInput(n int) {
	if n > 0 {
		m.netIn.Add(uint64(n))
	}
}

// NetOutput counts bytes written to clients.
func (m *Metrics) NetOutput(n int) {
	if n > 0 {
		m.netOut.Add(uint64(n))
	}
}

// shard.Observer

// SyncDone records the time one raft Ready took to persist.
func (m *Metrics) SyncDone(shardID uint64, d time.Duration) {
	m.shard(shardID).sync.Observe(d.Seconds())
}

// ProposalsCommitted counts proposals committed (and applied) on shardID.
func (m *Metrics) ProposalsCommitted(shardID uint64, n int) {
	if n > 0 {
		m.shard(shardID).committed.Add(uint64(n))
	}
}

// ProposalsFailed counts proposals that failed (dropped, lost on a leader change, timed out).
func (m *Metrics) ProposalsFailed(shardID uint64, n int) {
	if n > 0 {
		m.shard(shardID).failed.Add(uint64(n))
	}
}

// LeaderChanged counts a leader change seen by shardID.
func (m *Metrics) LeaderChanged(shardID uint64) { m.shard(shardID).leaderChanges.Add(1) }

func (m *Metrics) shard(id uint64) *shardStats {
	if s, ok := m.shards.load(id); ok {
		return s
	}
	return m.shards.loadOrStore(id, func() *shardStats {
		return &shardStats{sync: m.syncDuration.WithLabelValues(shardLabel(id))}
	})
}

// cowMap is a copy-on-write map for keys that are added rarely (once per command name or
// shard) and looked up on every event: a lookup is one atomic load and a plain map read, with
// no lock and no interface hashing; an insert copies the map under a mutex.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex // serialises inserts
	m  atomic.Pointer[map[K]V]
}

func (c *cowMap[K, V]) load(k K) (V, bool) {
	if p := c.m.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *cowMap[K, V]) len() int {
	if p := c.m.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// all returns the current map, which must not be modified.
func (c *cowMap[K, V]) all() map[K]V {
	if p := c.m.Load(); p != nil {
		return *p
	}
	return nil
}

// loadOrStore returns k's value, creating it with create if k is absent.
func (c *cowMap[K, V]) loadOrStore(k K, create func() V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.all()
	if v, ok := old[k]; ok {
		return v
	}
	next := make(map[K]V, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	v := create()
	next[k] = v
	c.m.Store(&next)
	return v
}

// Node-level keyspace counters.

// KeyspaceHits counts successful key lookups.
func (m *Metrics) KeyspaceHits(n int64) {
	if n > 0 {
		m.hits.Add(uint64(n))
	}
}

// KeyspaceMisses counts lookups of missing keys.
func (m *Metrics) KeyspaceMisses(n int64) {
	if n > 0 {
		m.misses.Add(uint64(n))
	}
}

// ExpiredKeys counts keys deleted because their TTL passed.
func (m *Metrics) ExpiredKeys(n int64) {
	if n > 0 {
		m.expired.Add(uint64(n))
	}
}

// Stats are the INFO-visible totals since the start or the last ResetStats.
type Stats struct {
	ConnectedClients    int64 // current, not reset by ResetStats
	ConnectionsReceived uint64
	RejectedConnections uint64
	CommandsProcessed   uint64
	KeyspaceHits        uint64
	KeyspaceMisses      uint64
	ExpiredKeys         uint64
	NetInputBytes       uint64
	NetOutputBytes      uint64
	// Commands holds every command called since the last reset, sorted by name.
	Commands []CommandStats
}

// CommandStats is one line of INFO commandstats.
type CommandStats struct {
	Name   string
	Calls  uint64
	Failed uint64
	Time   time.Duration // total execution time
}

// Usec is the total time in microseconds, as INFO commandstats prints it.
func (c CommandStats) Usec() uint64 { return uint64(c.Time / time.Microsecond) }

// UsecPerCall is the mean time per call in microseconds.
func (c CommandStats) UsecPerCall() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.Time) / float64(time.Microsecond) / float64(c.Calls)
}

// Snapshot returns the totals since the last ResetStats.
func (m *Metrics) Snapshot() Stats {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	b := &m.base
	st := Stats{
		ConnectedClients:    m.connected.Load(),
		ConnectionsReceived: m.connsReceived.Load() - b.connsReceived,
		RejectedConnections: m.connsRejected.Load() - b.connsRejected,
		KeyspaceHits:        m.hits.Load() - b.hits,
		KeyspaceMisses:      m.misses.Load() - b.misses,
		ExpiredKeys:         m.expired.Load() - b.expired,
		NetInputBytes:       m.netIn.Load() - b.netIn,
		NetOutputBytes:      m.netOut.Load() - b.netOut,
	}
	for _, c := range m.commandTotals() {
		old := b.commands[c.Name]
		c.Calls -= old.Calls
		c.Failed -= old.Failed
		c.Time -= old.Time
		if c.Calls == 0 && c.Failed == 0 {
			continue // Redis drops commands from commandstats until they are called again
		}
		st.CommandsProcessed += c.Calls
		st.Commands = append(st.Commands, c)
	}
	return st
}

// ResetStats starts the INFO totals again from zero (CONFIG RESETSTAT). Prometheus counters
// are not touched: the current values become the baseline Snapshot subtracts.
func (m *Metrics) ResetStats() {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	b := baseline{
		connsReceived: m.connsReceived.Load(),
		connsRejected: m.connsRejected.Load(),
		hits:          m.hits.Load(),
		misses:        m.misses.Load(),
		expired:       m.expired.Load(),
		netIn:         m.netIn.Load(),
		netOut:        m.netOut.Load(),
		commands:      make(map[string]CommandStats),
	}
	for _, c := range m.commandTotals() {
		b.commands[c.Name] = c
	}
	m.base = b
}

// commandTotals reads every command's monotonic totals, sorted by name.
func (m *Metrics) commandTotals() []CommandStats {
	all := m.commands.all()
	out := make([]CommandStats, 0, len(all))
	for name, c := range all {
		// failed is read before calls, and both only grow, so a concurrent CommandDone can
		// never make Failed exceed Calls in the result.
		failed := c.failed.Load()
		out = append(out, CommandStats{Name: name, Failed: failed, Calls: c.calls.Load(), Time: time.Duration(c.nanos.Load())})
	}
	slices.SortFunc(out, func(a, b CommandStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}
