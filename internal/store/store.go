// Package store opens the node's single Pebble database and owns the allocation of its key
// space among the packages that share it.
//
// One Pebble DB per node holds every local shard's raft state and user data, so one WAL sync
// makes a batch of raft entries from several shards durable at once (group commit across
// shards), and a write that is synced makes every earlier unsynced write durable too (the WAL
// is sequential). internal/shard relies on the latter to truncate its log safely.
//
// Top-level prefixes (first byte of every key), each owned by one package:
//
//	'r'  raft state, per shard         internal/shard     r | shard(8B BE) | kind | ...
//	'd'  key metadata + string values  internal/keyspace  d | slot(2B BE) | user key
//	'e'  expiry index                  internal/keyspace  e | slot(2B BE) | at(8B BE) | user key
//	's'  collection sub-keys           internal/keyspace  s | slot(2B BE) | ...
//	'c'  per-slot key counters         internal/keyspace  c | slot(2B BE)
//	'n'  node metadata (shard count)    internal/node      n | name
//
// User data is ordered slot first, so the data of a slot range is one contiguous span per
// prefix: snapshots, range moves and FLUSHALL of a shard are span operations.
package store

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Prefix bytes; see the package doc.
const (
	PrefixRaft   byte = 'r'
	PrefixData   byte = 'd'
	PrefixExpiry byte = 'e'
	PrefixSub    byte = 's'
	PrefixCount  byte = 'c'
	PrefixNode   byte = 'n'
)

// Options configures Open.
type Options struct {
	Dir string
	// FS overrides the filesystem (tests use vfs.NewMem or a crashable FS); nil means disk.
	FS vfs.FS
	// CacheBytes is the block cache size; 0 picks 64 MiB.
	CacheBytes int64
	// WALSyncDelay, when set, is asked before every WAL sync for the least time since the
	// previous one: syncs requested sooner wait, so that the writes of every shard arriving
	// meanwhile share one fsync. A commit is still durable when it returns.
	WALSyncDelay func() time.Duration
	Logger       *slog.Logger
}

// Open opens (creating if needed) the node's database.
func Open(o Options) (*pebble.DB, error) {
	cacheBytes := o.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = 64 << 20
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		// Named explicitly: the zero value creates an old format on which IngestAndExcise,
		// needed for snapshots and range moves, fails.
		FormatMajorVersion:          pebble.FormatNewest,
		Cache:                       cache,
		FS:                          o.FS,
		MemTableSize:                8 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               64 << 20,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
		Logger:                      pebbleLogger{o.Logger},
		WALMinSyncInterval:          o.WALSyncDelay,
	}
	for i := range opts.Levels {
		// Point lookups dominate (every command reads a key's metadata): bloom filters on
		// every level, which Pebble leaves off by default.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(o.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %q: %w", o.Dir, err)
	}
	return db, nil
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l != nil {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

// Fatalf is Pebble's report of a storage failure it cannot continue from (a data file that
// vanished, a corrupt manifest). Like Pebble's own default logger it ends the process:
// Pebble calls it holding its locks, and a panic unwinding through them ends in a second,
// misleading fatal error ("unlock of unlocked mutex") instead of this message. Everything
// acknowledged is already durable, and a restart recovers from the WAL or refuses clearly.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf("pebble: "+format, args...)
	if p.l != nil {
		p.l.Error("storage failure; stopping", "err", msg)
	}
	fmt.Fprintln(os.Stderr, "fatal:", msg)
	os.Exit(3)
}
