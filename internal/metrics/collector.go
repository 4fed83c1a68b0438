package metrics

import (
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// descs are the descriptions of every metric the collector emits.
type descs struct {
	buildInfo *prometheus.Desc

	commands, commandsFailed, commandsProcessed *prometheus.Desc
	connected, connsReceived, connsRejected     *prometheus.Desc
	hits, misses, expired, netIn, netOut        *prometheus.Desc
	dbKeys, dbKeysExpiring                      *prometheus.Desc

	hasLeader, isLeader, term, commit, applied  *prometheus.Desc
	leaderChanges, proposalsOK, proposalsFailed *prometheus.Desc

	pebbleDisk, pebbleReadAmp, pebbleCompactions, pebbleCompactDebt *prometheus.Desc
	pebbleFlushes, pebbleCacheHits, pebbleCacheMisses, pebbleCache  *prometheus.Desc
	pebbleMemtable, pebbleMemtables, pebbleL0Files, pebbleL0Sub     *prometheus.Desc
	pebbleLevelFiles, pebbleLevelBytes, pebbleWAL, pebbleWALWritten *prometheus.Desc
	pebbleIters, pebbleSnapshots                                    *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return descs{
		buildInfo: d("build_info", "Always 1; the version label is ferricd's version.", "version"),

		commands:          d("commands_total", "Commands executed, by command.", "cmd"),
		commandsFailed:    d("commands_failed_total", "Commands that replied with an error, by command.", "cmd"),
		commandsProcessed: d("commands_processed_total", "Commands executed, all commands together."),
		connected:         d("connected_clients", "Clients connected now."),
		connsReceived:     d("connections_received_total", "Client connections accepted."),
		connsRejected:     d("rejected_connections_total", "Client connections refused because of maxclients."),
		hits:              d("keyspace_hits_total", "Lookups that found their key."),
		misses:            d("keyspace_misses_total", "Lookups of keys that do not exist."),
		expired:           d("expired_keys_total", "Keys deleted because their TTL passed."),
		netIn:             d("net_input_bytes_total", "Bytes read from clients."),
		netOut:            d("net_output_bytes_total", "Bytes written to clients."),
		dbKeys:            d("db_keys", "Keys in the database (ferricd has one, db0).", "db"),
		dbKeysExpiring:    d("db_keys_expiring", "Keys with an expiry in the database.", "db"),

		hasLeader:       d("raft_has_leader", "1 if the shard knows a leader, else 0.", "shard"),
		isLeader:        d("raft_is_leader", "1 if this node leads the shard, else 0.", "shard"),
		term:            d("raft_term", "The shard's current raft term.", "shard"),
		commit:          d("raft_commit_index", "The shard's raft commit index.", "shard"),
		applied:         d("raft_applied_index", "The shard's applied index.", "shard"),
		leaderChanges:   d("raft_leader_changes_seen_total", "Leader changes seen by the shard.", "shard"),
		proposalsOK:     d("raft_proposals_committed_total", "Proposals committed by the shard.", "shard"),
		proposalsFailed: d("raft_proposals_failed_total", "Proposals that failed on the shard.", "shard"),

		pebbleDisk:        d("pebble_disk_usage_bytes", "Disk space used by Pebble (live and obsolete files)."),
		pebbleReadAmp:     d("pebble_read_amplification", "Pebble's read amplification (L0 sublevels plus non-empty levels)."),
		pebbleCompactions: d("pebble_compactions_total", "Compactions run by Pebble."),
		pebbleCompactDebt: d("pebble_compaction_debt_bytes", "Estimated bytes Pebble must compact to reach a stable LSM."),
		pebbleFlushes:     d("pebble_flushes_total", "Memtable flushes run by Pebble."),
		pebbleCacheHits:   d("pebble_block_cache_hits_total", "Pebble block cache hits."),
		pebbleCacheMisses: d("pebble_block_cache_misses_total", "Pebble block cache misses."),
		pebbleCache:       d("pebble_block_cache_size_bytes", "Bytes in Pebble's block cache."),
		pebbleMemtable:    d("pebble_memtable_size_bytes", "Bytes allocated by Pebble's memtables."),
		pebbleMemtables:   d("pebble_memtables", "Number of Pebble memtables."),
		pebbleL0Files:     d("pebble_l0_files", "Number of sstables in L0 (write stalls grow with it)."),
		pebbleL0Sub:       d("pebble_l0_sublevels", "Number of L0 sublevels."),
		pebbleLevelFiles:  d("pebble_level_files", "Number of sstables per LSM level.", "level"),
		pebbleLevelBytes:  d("pebble_level_size_bytes", "Bytes of sstables per LSM level.", "level"),
		pebbleWAL:         d("pebble_wal_size_bytes", "Physical size of Pebble's live WAL files."),
		pebbleWALWritten:  d("pebble_wal_bytes_written_total", "Bytes written to Pebble's WAL."),
		pebbleIters:       d("pebble_table_iterators", "Open sstable iterators."),
		pebbleSnapshots:   d("pebble_snapshots", "Open Pebble snapshots."),
	}
}

// collector is Metrics seen as a prometheus.Collector: it turns the atomics and the Sources
// into metrics at scrape time.
type collector Metrics

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.desc
	for _, x := range []*prometheus.Desc{
		d.buildInfo, d.commands, d.commandsFailed, d.commandsProcessed, d.connected, d.connsReceived,
		d.connsRejected, d.hits, d.misses, d.expired, d.netIn, d.netOut, d.dbKeys, d.dbKeysExpiring,
		d.hasLeader, d.isLeader, d.term, d.commit, d.applied, d.leaderChanges, d.proposalsOK,
		d.proposalsFailed, d.pebbleDisk, d.pebbleReadAmp, d.pebbleCompactions, d.pebbleCompactDebt,
		d.pebbleFlushes, d.pebbleCacheHits, d.pebbleCacheMisses, d.pebbleCache, d.pebbleMemtable,
		d.pebbleMemtables, d.pebbleL0Files, d.pebbleL0Sub, d.pebbleLevelFiles, d.pebbleLevelBytes,
		d.pebbleWAL, d.pebbleWALWritten, d.pebbleIters, d.pebbleSnapshots,
	} {
		ch <- x
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := (*Metrics)(c)
	d := &c.desc
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	gauge(d.buildInfo, 1, m.version)
	var processed uint64
	for _, s := range m.commandTotals() {
		counter(d.commands, s.Calls, s.Name)
		counter(d.commandsFailed, s.Failed, s.Name)
		processed += s.Calls
	}
	counter(d.commandsProcessed, processed)
	gauge(d.connected, float64(m.connected.Load()))
	counter(d.connsReceived, m.connsReceived.Load())
	counter(d.connsRejected, m.connsRejected.Load())
	counter(d.hits, m.hits.Load())
	counter(d.misses, m.misses.Load())
	counter(d.expired, m.expired.Load())
	counter(d.netIn, m.netIn.Load())
	counter(d.netOut, m.netOut.Load())

	// Event counters of every shard that has reported, then the state of every shard the node
	// knows; the two sets are the same once the node runs.
	for shardID, s := range m.shards.all() {
		id := shardLabel(shardID)
		counter(d.leaderChanges, s.leaderChanges.Load(), id)
		counter(d.proposalsOK, s.committed.Load(), id)
		counter(d.proposalsFailed, s.failed.Load(), id)
	}

	src := m.sources.Load()
	if src.Shards != nil {
		for _, s := range src.Shards() {
			id := shardLabel(s.Shard)
			gauge(d.hasLeader, boolValue(s.LeaderID != 0), id)
			gauge(d.isLeader, boolValue(s.IsLeader), id)
			gauge(d.term, float64(s.Term), id)
			gauge(d.commit, float64(s.Commit), id)
			gauge(d.applied, float64(s.Applied), id)
		}
	}
	if src.Keys != nil {
		keys, expiring := src.Keys()
		gauge(d.dbKeys, float64(keys), "db0")
		gauge(d.dbKeysExpiring, float64(expiring), "db0")
	}
	if src.Pebble != nil {
		if pm := src.Pebble(); pm != nil {
			c.collectPebble(ch, pm)
		}
	}
}

func (c *collector) collectPebble(ch chan<- prometheus.Metric, pm *pebble.Metrics) {
	d := &c.desc
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v)
	}
	gauge(d.pebbleDisk, float64(pm.DiskSpaceUsage()))
	gauge(d.pebbleReadAmp, float64(pm.ReadAmp()))
	counter(d.pebbleCompactions, float64(pm.Compact.Count))
	gauge(d.pebbleCompactDebt, float64(pm.Compact.EstimatedDebt))
	counter(d.pebbleFlushes, float64(pm.Flush.Count))
	counter(d.pebbleCacheHits, float64(pm.BlockCache.Hits))
	counter(d.pebbleCacheMisses, float64(pm.BlockCache.Misses))
	gauge(d.pebbleCache, float64(pm.BlockCache.Size))
	gauge(d.pebbleMemtable, float64(pm.MemTable.Size))
	gauge(d.pebbleMemtables, float64(pm.MemTable.Count))
	gauge(d.pebbleL0Files, float64(pm.Levels[0].TablesCount))
	gauge(d.pebbleL0Sub, float64(pm.Levels[0].Sublevels))
	for i := range pm.Levels {
		level := strconv.Itoa(i)
		gauge(d.pebbleLevelFiles, float64(pm.Levels[i].TablesCount), level)
		gauge(d.pebbleLevelBytes, float64(pm.Levels[i].TablesSize), level)
	}
	gauge(d.pebbleWAL, float64(pm.WAL.PhysicalSize))
	counter(d.pebbleWALWritten, float64(pm.WAL.BytesWritten))
	gauge(d.pebbleIters, float64(pm.TableIters))
	gauge(d.pebbleSnapshots, float64(pm.Snapshots.Count))
}

func shardLabel(id uint64) string { return strconv.FormatUint(id, 10) }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
