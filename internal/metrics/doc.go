// Package metrics is a ferricd node's instrumentation: the counters the request path and the
// shards report into, their Prometheus exposition, the INFO-visible totals, and the HTTP
// endpoint serving /metrics, /healthz and /readyz. It imports no other ferricd package: the
// parts that report implement nothing, they call methods (Metrics satisfies resp.Observer and
// shard.Observer by method set), and the values read at scrape time come in as functions
// (Sources).
//
// # Design
//
// Event counters (commands, connections, bytes, keyspace hits, raft proposals) are plain
// atomics that only grow. Prometheus reads them at scrape time through a custom collector, so
// the hot path pays one atomic add per counter and never touches a prometheus label map. The
// per-command record (counters plus a histogram child) is created once per command name and
// found again through a copy-on-write map (one atomic load and a plain map read, no lock); the
// same holds per shard. Histograms are prometheus histograms, created through a HistogramVec once per
// label value and then observed directly.
//
// INFO's totals are the same atomics minus a baseline: ResetStats (CONFIG RESETSTAT) records the
// current values as the new baseline instead of zeroing anything, so Prometheus counters stay
// monotonic while INFO starts again from zero.
//
// Gauges that describe state rather than events (raft term and indexes, leadership, Pebble's
// LSM, the key count) are read from Sources when Prometheus scrapes, so they are never stale and
// cost nothing between scrapes.
//
// Metric names follow redis_exporter for server-level metrics (ferricd_commands_total{cmd},
// ferricd_connected_clients, ferricd_keyspace_hits_total, ferricd_db_keys{db}, ...) so existing
// Redis dashboards work with the prefix changed, and etcd for raft (ferricd_raft_has_leader{shard},
// ferricd_raft_leader_changes_seen_total{shard}, ...).
//
// # Invariants
//
//   - Labels come from bounded sets only: cmd from the command table (and at most
//     maxCommandNames distinct values; later ones are counted under "other"), shard from the
//     node's shards, db is always "db0", level is 0..6. Never a key or client-supplied text.
//   - Every exported counter is monotonic for the life of the process.
//   - No package-level state: everything hangs off a Metrics, with its own registry.
//   - The only goroutines are those of Serve, which returns only after they have stopped.
package metrics
