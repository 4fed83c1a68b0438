package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferricd/internal/glob"
)

// Store is a node's parameter set. All methods are safe for concurrent use.
type Store struct {
	defs  []def
	index map[string]int // lower-case name or alias -> defs index
	names []nameRef      // every name and alias, sorted, for glob matching

	mu       sync.Mutex // serialises writers: Set, LoadConfig, startup options, OnChange
	watchers []func(changed []string)

	cur   atomic.Pointer[snapshot] // the published values; replaced, never mutated
	level slog.LevelVar
}

type nameRef struct {
	name string
	def  int
}

// snapshot is one consistent set of values plus typed copies of the ones the node reads on hot
// paths, so accessors neither lock nor parse.
type snapshot struct {
	vals []string // canonical value, by defs index

	port, metricsPort, shards, databases int
	enablePprof                          bool
	keyCacheSize, blockCacheSize         int64
	walSyncDelay                         time.Duration
	maxClients                           int64
	protoMaxBulkLen, clientQueryBufLimit int64
	maxMemory                            uint64
	timeout, tcpKeepAlive                time.Duration
	bind                                 []string
	dir, requirePass, logFile, logLevel  string
}

// New returns a Store holding every parameter at its default.
func New() *Store {
	s := &Store{defs: table(), index: make(map[string]int)}
	vals := make([]string, len(s.defs))
	for i := range s.defs {
		d := &s.defs[i]
		vals[i] = d.Default
		for _, n := range append([]string{d.Name}, d.Aliases...) {
			if _, dup := s.index[n]; dup {
				panic("config: duplicate parameter " + n) // a table bug, found by every test
			}
			s.index[n] = i
			s.names = append(s.names, nameRef{n, i})
		}
	}
	slices.SortFunc(s.names, func(a, b nameRef) int { return strings.Compare(a.name, b.name) })
	s.publish(vals)
	return s
}

// publish makes vals the current values. Callers hold mu (or own s exclusively, as New does).
func (s *Store) publish(vals []string) {
	n := &snapshot{vals: vals}
	get := func(name string) string { return vals[s.index[name]] }
	atoi := func(name string) int64 {
		v, _ := strconv.ParseInt(get(name), 10, 64) // canonical values always parse
		return v
	}
	n.port = int(atoi("port"))
	n.metricsPort = int(atoi("metrics-port"))
	n.enablePprof = get("enable-pprof") == "yes"
	n.keyCacheSize = atoi("key-cache-size")
	n.blockCacheSize = atoi("block-cache-size")
	n.walSyncDelay = time.Duration(atoi("wal-sync-delay")) * time.Microsecond
	n.shards = int(atoi("shards"))
	n.databases = int(atoi("databases"))
	n.maxClients = atoi("maxclients")
	n.protoMaxBulkLen = atoi("proto-max-bulk-len")
	n.clientQueryBufLimit = atoi("client-query-buffer-limit")
	n.maxMemory, _ = strconv.ParseUint(get("maxmemory"), 10, 64)
	n.timeout = time.Duration(atoi("timeout")) * time.Second
	n.tcpKeepAlive = time.Duration(atoi("tcp-keepalive")) * time.Second
	n.bind = strings.Fields(get("bind"))
	n.dir = get("dir")
	n.requirePass = get("requirepass")
	n.logFile = get("logfile")
	n.logLevel = get("loglevel")
	s.level.Set(slogLevel(n.logLevel))
	s.cur.Store(n)
}

// slogLevel maps Redis' log levels onto slog's: verbose sits between debug and info.
func slogLevel(l string) slog.Level {
	switch l {
	case "debug":
		return slog.LevelDebug
	case "verbose":
		return slog.LevelDebug + 2
	case "warning":
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// render is the value CONFIG GET shows for defs[i].
func (s *Store) render(snap *snapshot, i int) string {
	if s.defs[i].Effect == Fixed {
		return s.defs[i].fixed
	}
	return snap.vals[i]
}

// Get returns the name/value pairs of every parameter matching the glob pattern
// (case-insensitive), sorted by name. A pattern without glob characters is an exact lookup
// whose reply carries the name as given, like Redis.
func (s *Store) Get(pattern string) [][2]string {
	return s.get(s.cur.Load(), pattern, nil)
}

// GetMany is CONFIG GET with several patterns: the union of their matches, each name once,
// sorted by name, all read from one snapshot.
func (s *Store) GetMany(patterns ...string) [][2]string {
	snap := s.cur.Load()
	var out [][2]string
	for _, p := range patterns {
		out = s.get(snap, p, out)
	}
	slices.SortStableFunc(out, func(a, b [2]string) int {
		return strings.Compare(strings.ToLower(a[0]), strings.ToLower(b[0]))
	})
	return slices.CompactFunc(out, func(a, b [2]string) bool { return strings.EqualFold(a[0], b[0]) })
}

// get appends the matches of pattern in snap to out.
func (s *Store) get(snap *snapshot, pattern string, out [][2]string) [][2]string {
	if !strings.ContainsAny(pattern, "*?[") {
		if i, ok := s.index[strings.ToLower(pattern)]; ok {
			out = append(out, [2]string{pattern, s.render(snap, i)})
		}
		return out
	}
	pat := []byte(pattern)
	for _, n := range s.names {
		if glob.Match(pat, []byte(n.name), true) {
			out = append(out, [2]string{n.name, s.render(snap, n.def)})
		}
	}
	return out
}

// Value returns one parameter's value as CONFIG GET shows it.
func (s *Store) Value(name string) (string, bool) {
	i, ok := s.index[strings.ToLower(name)]
	if !ok {
		return "", false
	}
	return s.render(s.cur.Load(), i), true
}

// Set is CONFIG SET: it applies every pair or none. The error's text is Redis' reply without
// the "ERR " prefix.
func (s *Store) Set(pairs [][2]string) error {
	if len(pairs) == 0 {
		return nil // CONFIG SET's arity check rejects this before it gets here
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	// Names first, as Redis does: the first unknown, immutable, protected or repeated name
	// fails the whole command, named as the client typed it.
	idx := make([]int, len(pairs))
	seen := make(map[string]bool, len(pairs))
	for k, p := range pairs {
		key := strings.ToLower(p[0])
		i, ok := s.index[key]
		switch {
		case !ok:
			return fmt.Errorf("Unknown option or number of arguments for CONFIG SET - '%s'", p[0])
		case !s.defs[i].Mutable:
			return setError(p[0], errImmutable)
		case s.defs[i].protected && !s.protectedAllowed():
			return setError(p[0], errProtected)
		case seen[key]:
			return setError(p[0], errDuplicate)
		}
		seen[key] = true
		idx[k] = i
	}

	// Then values, in order, on a copy: nothing is visible until all are valid.
	vals := slices.Clone(s.cur.Load().vals)
	changed := make([]string, 0, len(pairs))
	for k, p := range pairs {
		d := &s.defs[idx[k]]
		v, err := d.parse(setArgs(d, p[1]), vals[idx[k]])
		if err != nil {
			return setError(strings.ToLower(p[0]), err.Error())
		}
		vals[idx[k]] = v
		if !slices.Contains(changed, d.Name) {
			changed = append(changed, d.Name)
		}
	}
	s.publish(vals)
	s.notify(changed)
	return nil
}

func setError(name, reason string) error {
	return fmt.Errorf("CONFIG SET failed (possibly related to argument '%s') - %s", name, reason)
}

// protectedAllowed: Redis also allows "local" for connections from loopback, which a Store
// cannot see; only "yes" lifts the protection here.
func (s *Store) protectedAllowed() bool {
	v, _ := s.Value("enable-protected-configs")
	return v == "yes"
}

// setArgs splits a CONFIG SET value into words the way Redis 7.0 does for list parameters:
// on every single space (so "a  b" has an empty word), and "" is no words at all.
func setArgs(d *def, value string) []string {
	if !d.multi {
		return []string{value}
	}
	if value == "" {
		return nil
	}
	return strings.Split(value, " ")
}

// OnChange registers fn to be called after each successful Set or LoadConfig with the
// canonical names of the parameters that were assigned. fn runs while the Store's writer lock is
// held, so notifications arrive in order; it must not call Set itself.
func (s *Store) OnChange(fn func(changed []string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

func (s *Store) notify(changed []string) {
	for _, fn := range s.watchers {
		fn(changed)
	}
}

// assign applies one startup assignment (config file line or command-line option) to vals:
// unlike Set, immutable and protected parameters are allowed.
func (s *Store) assign(vals []string, name string, args []string) (string, error) {
	i, ok := s.index[strings.ToLower(name)]
	if !ok {
		if why := unsupportedDirective(strings.ToLower(name)); why != "" {
			return "", errors.New(why)
		}
		return "", fmt.Errorf("unknown parameter '%s'", name)
	}
	d := &s.defs[i]
	if len(args) == 0 || !d.multi && len(args) != 1 {
		return "", fmt.Errorf("%s: %w", d.Name, errNumArgs)
	}
	v, err := d.parse(args, vals[i])
	if err != nil {
		return "", fmt.Errorf("%s: %w", d.Name, err)
	}
	vals[i] = v
	return d.Name, nil
}

// unsupportedDirective explains redis.conf directives that are not parameters, which deserve a
// clearer error than "unknown parameter".
func unsupportedDirective(name string) string {
	switch name {
	case "include":
		return "'include' is not supported by ferricd: use one config file"
	case "user":
		return "'user' (ACL users) is not supported by ferricd: use requirepass"
	case "rename-command", "loadmodule", "sentinel":
		return "'" + name + "' is not supported by ferricd"
	}
	return ""
}

// Typed accessors: each reads the current snapshot without locking.

// Port is the TCP port for clients.
func (s *Store) Port() int { return s.cur.Load().port }

// Bind is the bind list as configured ("127.0.0.1", "* -::*", ...).
func (s *Store) Bind() []string { return slices.Clone(s.cur.Load().bind) }

// Listener is one address to listen on.
type Listener struct {
	// Addr is host:port for net.Listen ("*" became 0.0.0.0, "::*" became ::).
	Addr string
	// Optional is set for addresses written with a leading "-": a failure to listen there (no
	// IPv6, say) is not fatal.
	Optional bool
}

// Listeners turns bind and port into the addresses to listen on.
func (s *Store) Listeners() []Listener {
	snap := s.cur.Load()
	out := make([]Listener, 0, len(snap.bind))
	for _, b := range snap.bind {
		host, optional := strings.CutPrefix(b, "-")
		switch host {
		case "*":
			host = "0.0.0.0"
		case "::*":
			host = "::"
		}
		out = append(out, Listener{Addr: net.JoinHostPort(host, strconv.Itoa(snap.port)), Optional: optional})
	}
	return out
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.cur.Load().dir }

// Shards is the number of shards on this node.
func (s *Store) Shards() int { return s.cur.Load().shards }

// Databases is how many databases SELECT accepts (only 0 holds keys).
func (s *Store) Databases() int { return s.cur.Load().databases }

// RequirePass is the password clients must AUTH with; empty means none.
func (s *Store) RequirePass() string { return s.cur.Load().requirePass }

// MaxClients is the maximum number of simultaneous clients.
func (s *Store) MaxClients() int64 { return s.cur.Load().maxClients }

// ProtoMaxBulkLen is the largest bulk string accepted in a request, in bytes.
func (s *Store) ProtoMaxBulkLen() int64 { return s.cur.Load().protoMaxBulkLen }

// ClientQueryBufferLimit is the largest pending request per client, in bytes.
func (s *Store) ClientQueryBufferLimit() int64 { return s.cur.Load().clientQueryBufLimit }

// MaxMemory is the memory limit for writes in bytes; 0 means none.
func (s *Store) MaxMemory() uint64 { return s.cur.Load().maxMemory }

// MetricsPort is the port of the metrics HTTP endpoint; 0 means disabled.
func (s *Store) MetricsPort() int { return s.cur.Load().metricsPort }

// KeyCacheSize is the byte budget of the key metadata cache (0: disabled).
func (s *Store) KeyCacheSize() int64 { return s.cur.Load().keyCacheSize }

// BlockCacheSize is the byte size of Pebble's block cache.
func (s *Store) BlockCacheSize() int64 { return s.cur.Load().blockCacheSize }

// WALSyncDelay is the least time between two WAL syncs (Pebble's WALMinSyncInterval). It is
// read for every sync, so CONFIG SET applies at once.
func (s *Store) WALSyncDelay() time.Duration { return s.cur.Load().walSyncDelay }

// EnablePprof reports whether the metrics endpoint also serves /debug/pprof/.
func (s *Store) EnablePprof() bool { return s.cur.Load().enablePprof }

// Timeout is how long a client may stay idle; 0 means forever.
func (s *Store) Timeout() time.Duration { return s.cur.Load().timeout }

// TCPKeepAlive is the keep-alive period of client connections; 0 means off.
func (s *Store) TCPKeepAlive() time.Duration { return s.cur.Load().tcpKeepAlive }

// LogFile is the log file path; empty means standard error.
func (s *Store) LogFile() string { return s.cur.Load().logFile }

// LogLevel is the Redis log level name (debug, verbose, notice, warning).
func (s *Store) LogLevel() string { return s.cur.Load().logLevel }

// LogLevelVar follows loglevel: hand it to a slog handler (HandlerOptions.Level) and CONFIG SET
// loglevel takes effect at once.
func (s *Store) LogLevelVar() *slog.LevelVar { return &s.level }
