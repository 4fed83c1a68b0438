// Package command is the command table, the single source of truth about every command
// ferricd knows (arity, flags, key positions, docs) and the semantics of each command, one
// file per family.
//
// Who calls what:
//   - internal/resp handles KindConn commands itself (they change connection state) but still
//     looks them up here, so arity checks, COMMAND and the docs stay in one place.
//   - internal/node routes KindKeyRead/KindKeyWrite commands to the shards owning their keys.
//     A KindKeyRead Run gets a read Txn on the leader (possibly concurrently with other reads and
//     with apply); a KindKeyWrite Run is called by a shard's apply goroutine, in log order, with a
//     write Txn whose clock and index come from the raft entry: it must be deterministic (no
//     local clock, no randomness, no map-order dependence, no node identity).
//   - KindServer commands get the node through the Server interface.
//
// Validate (optional, write commands) runs on the proposer before anything is proposed, so that
// syntax errors cost no raft entry; Run must still reject bad input deterministically on its own.
// Error replies carry Redis 7.0's exact texts.
package command

import (
	"context"
	"strings"
	"time"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// Kind says where a command executes.
type Kind uint8

const (
	// KindKeyRead reads keys on the shard(s) owning them.
	KindKeyRead Kind = iota
	// KindKeyWrite is proposed to the owning shard's raft log and applied there.
	KindKeyWrite
	// KindServer runs against the whole node.
	KindServer
	// KindConn changes or reads connection state; internal/resp runs it.
	KindConn
)

// Flag is a Redis command flag, as COMMAND INFO reports it.
type Flag uint32

// Flags, in the order Redis 7.0 prints them.
const (
	FlagWrite Flag = 1 << iota
	FlagReadOnly
	FlagDenyOOM
	FlagModule
	FlagAdmin
	FlagPubSub
	FlagNoScript
	FlagBlocking
	FlagLoading
	FlagStale
	FlagSkipMonitor
	FlagSkipSlowlog
	FlagAsking
	FlagFast
	FlagNoAuth
	FlagMayReplicate
	FlagNoMandatoryKeys
	FlagNoMulti
	FlagAllowBusy
)

var flagNames = []string{"write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
	"blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
	"may_replicate", "no_mandatory_keys", "no_multi", "allow_busy"}

// Names returns the flag names set in f, in Redis' order.
func (f Flag) Names() []string {
	var out []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// KeyFunc runs a key command on a Txn.
type KeyFunc func(tx *keyspace.Txn, args [][]byte) reply.Value

// ServerFunc runs a node-wide command.
type ServerFunc func(ctx context.Context, s Server, args [][]byte) reply.Value

// Spec describes one command (or one subcommand of a container command such as CONFIG).
type Spec struct {
	// Name is lower case; a subcommand's is "container|sub" as in Redis 7 ("config|get").
	Name string
	// Arity follows Redis: n means exactly n arguments including the name, -n at least n.
	Arity int
	Flags Flag
	// FirstKey, LastKey (negative counts from the end) and Step give the key positions as in
	// COMMAND INFO; 0 means no keys.
	FirstKey, LastKey, Step int
	// Keys overrides FirstKey/LastKey/Step for commands whose keys cannot be described that way
	// (numkeys arguments, ...). It gets well-formed args (arity already checked).
	Keys func(args [][]byte) [][]byte
	// ACLCategories as in COMMAND INFO ("@string", "@fast", ...).
	ACLCategories []string

	// Docs for COMMAND DOCS and the README compatibility table.
	Group      string // "string", "generic", "server", "connection", ...
	Since      string
	Summary    string
	Complexity string

	Kind     Kind
	Run      KeyFunc // KindKeyRead, KindKeyWrite
	Validate func(args [][]byte) (reply.Value, bool)
	Server   ServerFunc // KindServer

	// BlockTimeoutArg marks a blocking command (BLPOP, BZPOPMIN, ...): the position of its
	// timeout argument, negative counting from the end (-1: last). Its Run is an ordinary
	// write that returns reply.Blocked, having written nothing, when it has nothing to serve;
	// the node then parks the client and runs it again when one of its keys is written, until
	// the timeout (0: forever) passes, when the client gets a null array.
	BlockTimeoutArg int

	// Subcommands of a container command, looked up by the second argument.
	Subcommands map[string]*Spec
	// Parent is the container of a subcommand.
	Parent *Spec
}

// KeyArgs returns the keys of a well-formed invocation. The result may share args' backing
// array: callers only read it.
func (s *Spec) KeyArgs(args [][]byte) [][]byte {
	if s.Keys != nil {
		return s.Keys(args)
	}
	if s.FirstKey <= 0 || s.FirstKey >= len(args) {
		return nil
	}
	last := s.LastKey
	if last < 0 {
		last = len(args) + last
	}
	if last >= len(args) {
		last = len(args) - 1
	}
	if last < s.FirstKey {
		return nil
	}
	step := max(s.Step, 1)
	if step == 1 {
		// Contiguous keys (GET, MGET, DEL, ...): a view of args, capacity clipped so that an
		// append can never overwrite the arguments after the keys.
		return args[s.FirstKey : last+1 : last+1]
	}
	keys := make([][]byte, 0, (last-s.FirstKey)/step+1)
	for i := s.FirstKey; i <= last; i += step {
		keys = append(keys, args[i])
	}
	return keys
}

// CheckArity reports whether n arguments (name included) fit s.
func (s *Spec) CheckArity(n int) bool {
	if s.Arity >= 0 {
		return n == s.Arity
	}
	return n >= -s.Arity
}

// Server is what node-wide commands may ask of the node. Implemented by internal/node.
type Server interface {
	// Now is the node's clock.
	Now() time.Time
	// DBSize returns the number of keys (expired-but-not-yet-deleted ones included).
	DBSize(ctx context.Context) (int64, error)
	// FlushAll deletes every key on every shard (each shard through its log).
	FlushAll(ctx context.Context) error
	// ReadAll runs fn on a read Txn that sees every key of every shard at one instant.
	ReadAll(ctx context.Context, fn func(tx *keyspace.Txn) reply.Value) reply.Value
	// HoldsAllShards reports whether this node has a replica of every shard, so that
	// ReadAll can serve.
	HoldsAllShards() bool
	// ShardRanges splits r into the parts owned by one shard each, in slot order.
	ShardRanges(r routing.Range) []routing.Range
	// ReadShard answers ReadRange(tx, r, args) for r, a range within one shard, on a Txn
	// that sees that shard at one instant after every write acknowledged before the call:
	// here if this node holds a replica of the shard, otherwise at the shard's leader.
	ReadShard(ctx context.Context, r routing.Range, args [][]byte) reply.Value
	// Info renders the INFO sections asked for (already lower-cased; "default", "all",
	// "everything" are expanded by the node).
	Info(ctx context.Context, sections []string) string
	// Config is the node's parameter store for CONFIG GET/SET/RESETSTAT.
	Config() Config
	// ResetStats resets INFO counters (CONFIG RESETSTAT).
	ResetStats()
	// LastSave is the Unix time (s) of the last point at which all data was durable.
	LastSave() int64
	// Cluster describes the cluster for the CLUSTER commands (a standalone node is a
	// cluster of one node leading every shard).
	Cluster(ctx context.Context) ClusterView
	// ClusterMeet adds the node whose cluster bus listens at host:busPort to this node's
	// cluster and answers OK, or the error saying why it could not.
	ClusterMeet(ctx context.Context, host string, busPort int) reply.Value
	// ClusterForget removes the member called name (its 40-character name or its id) from
	// the cluster for good.
	ClusterForget(ctx context.Context, name string) reply.Value
}

// ReplyError is an error of a Server method that carries the reply the client should see
// (a Redis error such as CLUSTERDOWN or TRYAGAIN), where other errors become ERR internal
// error.
type ReplyError struct{ Value reply.Value }

func (e ReplyError) Error() string { return string(e.Value.Str) }

// ClusterView is the cluster as the CLUSTER commands show it.
type ClusterView struct {
	Self   uint64         // this node's id
	Nodes  []ClusterNode  // every member, by id
	Shards []ClusterShard // every shard, by slot range
}

// ClusterNode is one member.
type ClusterNode struct {
	ID        uint64
	Name      string // 40 hex characters, stable for the id
	Host      string // where clients reach it ("" if not known yet)
	Port      int    // client port (0 if not known yet)
	BusPort   int
	Connected bool // a bus connection to it is up (always true for Self)
}

// ClusterShard is one shard: a slot range and the nodes replicating it.
type ClusterShard struct {
	Start, End uint16   // slots [Start, End)
	Leader     uint64   // 0 if no leader is known
	Replicas   []uint64 // every node holding a replica, the leader included, by id
}

// Config is the parameter store behind CONFIG GET/SET.
type Config interface {
	// Get returns name/value pairs of every parameter matching the glob pattern.
	Get(pattern string) [][2]string
	// Set sets several parameters atomically; the error text is Redis' reply (without "ERR ").
	Set(pairs [][2]string) error
}

// Table is the command table: every Spec by lower-case name. Immutable after New.
type Table struct {
	byName map[string]*Spec
}

// New builds the table of every command ferricd knows.
func New() *Table {
	t := &Table{byName: make(map[string]*Spec)}
	for _, register := range families {
		register(t)
	}
	return t
}

// families register their commands; each family file appends itself in an init-free way
// through this list, so the table has no global mutable state.
var families = []func(*Table){
	registerStrings,
	registerKeys,
	registerServer,
	registerConnection,
	registerTransactions,
	registerCluster,
	registerLists,
	registerZsets,
	registerHashes,
	registerSets,
}

// Add registers a command; it panics on a duplicate (a table bug found at start).
func (t *Table) Add(s *Spec) {
	if _, dup := t.byName[s.Name]; dup {
		panic("command: duplicate " + s.Name)
	}
	for _, sub := range s.Subcommands {
		sub.Parent = s
	}
	t.byName[s.Name] = s
}

// Lookup finds the command named by args[0] (case-insensitive), descending into a container's
// subcommand when args has one. It returns nil for an unknown command; for an unknown
// subcommand it returns the container (whose Kind and Run decide the error).
func (t *Table) Lookup(args [][]byte) *Spec {
	if len(args) == 0 {
		return nil
	}
	var buf [32]byte
	s := t.byName[string(lowerInto(buf[:0], args[0]))]
	if s == nil || len(s.Subcommands) == 0 || len(args) < 2 {
		return s
	}
	if sub := s.Subcommands[string(lowerInto(buf[:0], args[1]))]; sub != nil {
		return sub
	}
	return s
}

// lowerInto appends b lower-cased (ASCII) to dst. With a stack buffer and the map index
// string(...) conversion, a lookup allocates nothing whatever the client's letter case.
func lowerInto(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Get returns the command with the exact lower-case name ("get", "config").
func (t *Table) Get(name string) *Spec { return t.byName[name] }

// All returns every top-level command.
func (t *Table) All() []*Spec {
	out := make([]*Spec, 0, len(t.byName))
	for _, s := range t.byName {
		out = append(out, s)
	}
	return out
}

// lower lower-cases ASCII without allocating when b already is lower case.
func lower(b []byte) string {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			return strings.ToLower(string(b))
		}
	}
	return string(b)
}
