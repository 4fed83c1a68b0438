package config

import (
	"math"
	"strings"
)

// Bounds as Redis 7.0 prints them in "argument must be between ... inclusive".
const (
	intMin   = math.MinInt32
	intMax   = math.MaxInt32
	uintMax  = math.MaxUint32
	llMax    = math.MaxInt64
	ullMax   = math.MaxUint64
	portMax  = 65535
	megabyte = 1024 * 1024
)

// Builders for table entries. Every entry starts as a mutable, kept Redis parameter; the
// modifiers below say otherwise.

func boolean(name, dflt string) def { return newDef(name, dflt, KindBool) }

func integer(name, dflt string, lo int64, hi uint64) def {
	d := newDef(name, dflt, KindInt)
	d.Min, d.Max = lo, hi
	return d
}

func memory(name, dflt string, lo int64, hi uint64) def {
	d := newDef(name, dflt, KindMemory)
	d.Min, d.Max = lo, hi
	return d
}

func enum(name, dflt string, values ...string) def {
	d := newDef(name, dflt, KindEnum)
	d.Enum = values
	return d
}

func str(name, dflt string) def { return newDef(name, dflt, KindString) }

// special builds a parameter with its own parser; multi says its value is a list of words.
func special(name, dflt string, multi bool, fn func([]string, string) (string, error)) def {
	d := newDef(name, dflt, KindSpecial)
	d.multi, d.special = multi, fn
	return d
}

func newDef(name, dflt string, k Kind) def {
	return def{Param: Param{Name: name, Default: dflt, Kind: k, Effect: Kept, Mutable: true, Redis: true}}
}

func (d def) immutable() def { d.Mutable = false; return d }
func (d def) protect() def   { d.protected = true; return d }
func (d def) own() def       { d.Redis = false; return d }
func (d def) doc(s string) def {
	d.Doc = s
	return d
}
func (d def) used(doc string) def { d.Effect, d.Doc = Used, doc; return d }
func (d def) alias(names ...string) def {
	d.Aliases = names
	return d
}
func (d def) fixedAt(v, doc string) def { d.Effect, d.fixed, d.Doc = Fixed, v, doc; return d }
func (d def) words(w string) def {
	d.Enum = strings.Fields(w)
	return d
}
func (d def) clamped(fn func(int64) int64) def {
	d.clamp = fn
	return d
}

// table returns every parameter ferricd knows. Built afresh for each Store: no shared state.
func table() []def {
	pct := memory("maxmemory-clients", "0", -100, llMax)
	pct.percent = true
	perm := integer("unixsocketperm", "0", 0, 0777).immutable()
	perm.octal = true
	oom := enum("oom-score-adj", "no", "no", "yes", "relative", "absolute")
	oom.synonyms = map[string]string{"relative": "yes"}
	yesNoLocal := []string{"no", "yes", "local"}

	return []def{
		// ferricd's own parameters.
		integer("shards", "8", 1, 1024).immutable().own().
			used("Number of shards (raft groups) on this node. Fixed once the data directory exists."),
		integer("metrics-port", "9121", 0, portMax).immutable().own().
			used("Port of the HTTP endpoint serving /metrics, /healthz and /readyz; 0 disables it."),
		memory("key-cache-size", "134217728", 0, llMax).immutable().own().
			used("Memory for the cache of recently used keys' metadata and string values (reads and writes skip Pebble on a hit), plus 1/64 of it for a Bloom filter of every key present (lookups of keys never written skip Pebble); 0 disables both."),
		memory("block-cache-size", "67108864", 1<<20, llMax).immutable().own().
			used("Pebble's block cache."),
		integer("wal-sync-delay", "250", 0, 100000).own().
			used("Microseconds a WAL sync may wait after the previous one, so that the writes of every shard arriving meanwhile share it (group commit). Writes are still answered only once synced; 0 syncs as soon as asked. Applied only while at least two client writes are in flight, so a lone client never waits. 250 made SET about 15% faster, and pipelined SET about 25%, on a 2-core machine with ~0.2 ms fsyncs."),
		boolean("enable-pprof", "no").immutable().own().
			used("Also serve Go's profiler under /debug/pprof/ on the metrics port."),
		integer("node-id", "0", 0, llMax).immutable().own().
			used("This node's id in its cluster (>= 1). 0: the id recorded in the data directory, or 1 for a new node."),
		str("cluster-peers", "").immutable().own().
			used("Members of a new cluster, the same list on every node: id@host:bus-port,... (this node included). Empty: standalone. Recorded in the data directory at the first start; later starts use the recorded list."),
		boolean("cluster-join", "no").immutable().own().
			used("yes: start a new node that waits to be added to a running cluster by CLUSTER MEET on one of its members (needs node-id, an id never used in that cluster). Ignored once the data directory belongs to a cluster."),
		boolean("enable-fault-injection", "no").immutable().own().
			used("For tests only: serve POST /debug/faults on the metrics port, which drops cluster bus traffic between chosen nodes."),
		boolean("cluster-redirect", "no").immutable().own().
			used("yes: answer MOVED for keys whose shard another node leads (for cluster-aware clients); no: forward such commands to the leader."),

		// Parameters the node acts on.
		integer("port", "6379", 0, portMax).immutable().
			used("TCP port for clients (0: the OS picks one). Immutable, unlike Redis."),
		special("bind", "127.0.0.1", true, parseBind).immutable().
			used("Addresses to listen on. Default 127.0.0.1 (Redis: \"* -::*\"). Immutable, unlike Redis."),
		special("dir", "./ferricd-data", false, parseDir).immutable().
			used("Data directory (Pebble, raft logs). Immutable."),
		str("requirepass", "").used("Password of the default user; takes effect for new AUTHs at once."),
		integer("maxclients", "10000", 1, uintMax).used("Maximum simultaneous clients; checked at each accept."),
		memory("proto-max-bulk-len", "536870912", megabyte, llMax).used("Largest bulk string accepted in a request."),
		memory("client-query-buffer-limit", "1073741824", megabyte, llMax).
			used("Largest pending request per client; the client is closed beyond it."),
		memory("maxmemory", "0", 0, ullMax).used("Write commands fail with OOM above this much memory in use; 0: no limit."),
		integer("timeout", "0", 0, intMax).used("Close clients idle for this many seconds; 0: never."),
		integer("tcp-keepalive", "300", 0, intMax).used("TCP keep-alive period for clients, in seconds; 0: off."),
		enum("loglevel", "notice", "debug", "verbose", "notice", "warning").used("Log verbosity; takes effect at once."),
		str("logfile", "").immutable().used("Log file; empty: standard error."),
		integer("databases", "16", 1, intMax).immutable().used("Reported to clients; only database 0 exists: SELECT of any other index answers Redis' out-of-range error."),
		boolean("appendonly", "yes").fixedAt("yes", "Always yes: every acknowledged write is in the raft log and Pebble."),
		special("save", "", true, parseSave).fixedAt("", "Always empty: there are no RDB snapshots (data is durable on every write)."),

		// Kept: accepted, validated and reported, without effect.
		enum("acl-pubsub-default", "resetchannels", "allchannels", "resetchannels"),
		str("aclfile", "").immutable(),
		integer("acllog-max-len", "128", 0, llMax),
		integer("active-defrag-cycle-max", "25", 1, 99),
		integer("active-defrag-cycle-min", "1", 1, 99),
		memory("active-defrag-ignore-bytes", "104857600", 1, llMax),
		integer("active-defrag-max-scan-fields", "1000", 1, llMax),
		integer("active-defrag-threshold-lower", "10", 0, 1000),
		integer("active-defrag-threshold-upper", "100", 0, 1000),
		integer("active-expire-effort", "1", 1, 10),
		boolean("activedefrag", "no"),
		boolean("activerehashing", "yes"),
		boolean("always-show-logo", "no").immutable(),
		boolean("aof-disable-auto-gc", "no"),
		boolean("aof-load-truncated", "yes"),
		boolean("aof-rewrite-incremental-fsync", "yes"),
		boolean("aof-timestamp-enabled", "no"),
		boolean("aof-use-rdb-preamble", "yes"),
		str("aof_rewrite_cpulist", "").immutable(),
		str("appenddirname", "appendonlydir").immutable(),
		str("appendfilename", "appendonly.aof").immutable(),
		enum("appendfsync", "everysec", "everysec", "always", "no").
			doc("Without effect: raft entries are always fsynced before they are acknowledged."),
		memory("auto-aof-rewrite-min-size", "67108864", 0, llMax),
		integer("auto-aof-rewrite-percentage", "100", 0, intMax),
		str("bgsave_cpulist", "").immutable(),
		str("bind-source-addr", ""),
		str("bio_cpulist", "").immutable(),
		integer("busy-reply-threshold", "5000", 0, llMax).alias("lua-time-limit"),
		special("client-output-buffer-limit", defaultOutputBufferLimit, true, parseOutputBufferLimit),
		boolean("cluster-allow-pubsubshard-when-down", "yes"),
		boolean("cluster-allow-reads-when-down", "no"),
		boolean("cluster-allow-replica-migration", "yes"),
		integer("cluster-announce-bus-port", "0", 0, portMax),
		str("cluster-announce-hostname", ""),
		str("cluster-announce-ip", "").immutable().
			used("Address peers and clients are told to reach this node at (MOVED, CLUSTER SLOTS). Empty: the first bind address."),
		integer("cluster-announce-port", "0", 0, portMax),
		integer("cluster-announce-tls-port", "0", 0, portMax),
		str("cluster-config-file", "nodes.conf").immutable(),
		boolean("cluster-enabled", "no").immutable(),
		memory("cluster-link-sendbuf-limit", "0", 0, ullMax),
		integer("cluster-migration-barrier", "1", 0, intMax),
		integer("cluster-node-timeout", "15000", 0, llMax),
		integer("cluster-port", "0", 0, portMax).immutable().
			used("Cluster bus port (raft traffic, forwarded commands, snapshots). 0: port + 10000, as Redis Cluster."),
		enum("cluster-preferred-endpoint-type", "ip", "ip", "hostname", "unknown-endpoint"),
		boolean("cluster-replica-no-failover", "no").alias("cluster-slave-no-failover"),
		integer("cluster-replica-validity-factor", "10", 0, intMax).alias("cluster-slave-validity-factor"),
		boolean("cluster-require-full-coverage", "yes"),
		boolean("crash-log-enabled", "yes"),
		boolean("crash-memcheck-enabled", "yes"),
		boolean("daemonize", "no").immutable().doc("Without effect: ferricd always runs in the foreground."),
		str("dbfilename", "dump.rdb").protect(),
		boolean("disable-thp", "yes").immutable(),
		boolean("dynamic-hz", "yes"),
		enum("enable-debug-command", "no", yesNoLocal...).immutable(),
		enum("enable-module-command", "no", yesNoLocal...).immutable(),
		enum("enable-protected-configs", "no", yesNoLocal...).immutable().
			doc("Only \"yes\" lifts the protection (\"local\" cannot be told apart here)."),
		integer("hash-max-listpack-entries", "512", 0, llMax).alias("hash-max-ziplist-entries"),
		memory("hash-max-listpack-value", "64", 0, llMax).alias("hash-max-ziplist-value"),
		memory("hll-sparse-max-bytes", "3000", 0, llMax),
		integer("hz", "10", 0, intMax).clamped(func(n int64) int64 { return min(max(n, 1), 500) }),
		str("ignore-warnings", ""),
		integer("io-threads", "1", 1, 128).immutable(),
		boolean("io-threads-do-reads", "no").immutable(),
		boolean("jemalloc-bg-thread", "yes"),
		integer("latency-monitor-threshold", "0", 0, llMax),
		boolean("latency-tracking", "yes"),
		special("latency-tracking-info-percentiles", "50 99 99.9", true, parsePercentiles),
		boolean("lazyfree-lazy-eviction", "no"),
		boolean("lazyfree-lazy-expire", "no"),
		boolean("lazyfree-lazy-server-del", "no"),
		boolean("lazyfree-lazy-user-del", "no"),
		boolean("lazyfree-lazy-user-flush", "no"),
		integer("lfu-decay-time", "1", 0, intMax),
		integer("lfu-log-factor", "10", 0, intMax),
		integer("list-compress-depth", "0", 0, intMax),
		integer("list-max-listpack-size", "-2", intMin, intMax).alias("list-max-ziplist-size"),
		str("masterauth", ""),
		str("masteruser", ""),
		pct,
		integer("maxmemory-eviction-tenacity", "10", 0, 100),
		enum("maxmemory-policy", "noeviction", "volatile-lru", "volatile-lfu", "volatile-random",
			"volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction").
			doc("Without effect: ferricd never evicts; above maxmemory writes fail, as with noeviction."),
		integer("maxmemory-samples", "5", 1, intMax),
		integer("min-replicas-max-lag", "10", 0, intMax).alias("min-slaves-max-lag"),
		integer("min-replicas-to-write", "0", 0, intMax).alias("min-slaves-to-write"),
		boolean("no-appendfsync-on-rewrite", "no"),
		special("notify-keyspace-events", "", false, parseNotifyKeyspaceEvents),
		oom,
		special("oom-score-adj-values", "0 200 800", true, parseOOMScoreAdjValues),
		str("pidfile", "").immutable(),
		str("proc-title-template", "{title} {listen-addr} {server-mode}"),
		enum("propagation-error-behavior", "ignore", "ignore", "panic", "panic-on-replicas"),
		boolean("protected-mode", "yes"),
		boolean("rdb-del-sync-files", "no"),
		boolean("rdb-save-incremental-fsync", "yes"),
		boolean("rdbchecksum", "yes").immutable(),
		boolean("rdbcompression", "yes"),
		memory("repl-backlog-size", "1048576", 1, llMax).clamped(func(n int64) int64 { return max(n, minReplBacklog) }),
		integer("repl-backlog-ttl", "3600", 0, llMax),
		boolean("repl-disable-tcp-nodelay", "no"),
		enum("repl-diskless-load", "disabled", "disabled", "on-empty-db", "swapdb"),
		boolean("repl-diskless-sync", "yes"),
		integer("repl-diskless-sync-delay", "5", 0, intMax),
		integer("repl-diskless-sync-max-replicas", "0", 0, intMax),
		integer("repl-ping-replica-period", "10", 1, intMax).alias("repl-ping-slave-period"),
		integer("repl-timeout", "60", 1, intMax),
		str("replica-announce-ip", "").alias("slave-announce-ip"),
		integer("replica-announce-port", "0", 0, portMax).alias("slave-announce-port"),
		boolean("replica-announced", "yes"),
		boolean("replica-ignore-disk-write-errors", "no"),
		boolean("replica-ignore-maxmemory", "yes").alias("slave-ignore-maxmemory"),
		boolean("replica-lazy-flush", "no").alias("slave-lazy-flush"),
		integer("replica-priority", "100", 0, intMax).alias("slave-priority"),
		boolean("replica-read-only", "yes").alias("slave-read-only"),
		boolean("replica-serve-stale-data", "yes").alias("slave-serve-stale-data"),
		special("replicaof", "", true, parseReplicaOf).immutable().alias("slaveof").
			doc("Must stay empty (or \"no one\"): ferricd replicates through raft."),
		enum("sanitize-dump-payload", "no", "no", "yes", "clients"),
		str("server_cpulist", "").immutable(),
		integer("set-max-intset-entries", "512", 0, llMax),
		boolean("set-proc-title", "yes").immutable(),
		special("shutdown-on-sigint", "default", true, parseShutdownFlags).words(shutdownWords),
		special("shutdown-on-sigterm", "default", true, parseShutdownFlags).words(shutdownWords),
		integer("shutdown-timeout", "10", 0, intMax),
		integer("slowlog-log-slower-than", "10000", -1, llMax),
		integer("slowlog-max-len", "128", 0, llMax),
		integer("socket-mark-id", "0", 0, uintMax).immutable(),
		boolean("stop-writes-on-bgsave-error", "yes"),
		memory("stream-node-max-bytes", "4096", 0, llMax),
		integer("stream-node-max-entries", "100", 0, llMax),
		enum("supervised", "no", "upstart", "systemd", "auto", "no").immutable(),
		boolean("syslog-enabled", "no").immutable(),
		enum("syslog-facility", "local0", "user", "local0", "local1", "local2", "local3", "local4",
			"local5", "local6", "local7").immutable(),
		str("syslog-ident", "redis").immutable(),
		integer("tcp-backlog", "511", 0, intMax).immutable(),
		enum("tls-auth-clients", "yes", "no", "yes", "optional"),
		str("tls-ca-cert-dir", ""),
		str("tls-ca-cert-file", ""),
		str("tls-cert-file", ""),
		str("tls-ciphers", ""),
		str("tls-ciphersuites", ""),
		str("tls-client-cert-file", ""),
		str("tls-client-key-file", ""),
		str("tls-client-key-file-pass", ""),
		boolean("tls-cluster", "no"),
		str("tls-dh-params-file", ""),
		str("tls-key-file", ""),
		str("tls-key-file-pass", ""),
		integer("tls-port", "0", 0, portMax),
		boolean("tls-prefer-server-ciphers", "no"),
		str("tls-protocols", ""),
		boolean("tls-replication", "no"),
		integer("tls-session-cache-size", "20480", 0, intMax),
		integer("tls-session-cache-timeout", "300", 0, intMax),
		boolean("tls-session-caching", "yes"),
		integer("tracking-table-max-keys", "1000000", 0, llMax),
		str("unixsocket", "").immutable(),
		perm,
		integer("zset-max-listpack-entries", "128", 0, llMax).alias("zset-max-ziplist-entries"),
		memory("zset-max-listpack-value", "64", 0, llMax).alias("zset-max-ziplist-value"),
	}
}

// Table returns the metadata of every parameter, sorted by name.
func Table() []Param {
	defs := table()
	out := make([]Param, len(defs))
	for i := range defs {
		out[i] = defs[i].Param
		out[i].Aliases = append([]string(nil), defs[i].Aliases...)
		out[i].Enum = append([]string(nil), defs[i].Enum...)
	}
	sortParams(out)
	return out
}
