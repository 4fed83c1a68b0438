package command

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/glob"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// srvHarness extends the harness with a fake node, so KindServer commands run on the same
// keyspace as key commands: ReadAll reads the harness DB, FlushAll span-deletes it.
type srvHarness struct {
	*harness
	srv *srvFake
}

func newSrvHarness(t testing.TB) *srvHarness {
	h := newHarness(t)
	return &srvHarness{harness: h, srv: &srvFake{h: h, config: newSrvFakeConfig(), lastSave: 1_699_999_000}}
}

// run executes one command like the node: key commands through harness.do, server commands
// after the unknown-command and arity checks.
func (g *srvHarness) run(args ...string) reply.Value {
	g.t.Helper()
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	spec := g.table.Lookup(bargs)
	if spec == nil || spec.Kind != KindServer {
		return g.do(args...)
	}
	if !spec.CheckArity(len(bargs)) {
		return reply.WrongArgs(spec.Name)
	}
	return spec.Server(context.Background(), g.srv, bargs)
}

func (g *srvHarness) expect(want string, args ...string) {
	g.t.Helper()
	if got := g.run(args...).String(); got != want {
		g.t.Errorf("%q = %s, want %s", args, got, want)
	}
}

// write runs fn on a write Txn committed like an applied entry.
func (g *srvHarness) write(fn func(tx *keyspace.Txn) error) {
	g.t.Helper()
	b := g.db.NewIndexedBatch()
	tx := keyspace.NewWriteTxn(b, g.now, g.index, g.counts)
	g.index++
	if err := fn(tx); err != nil {
		g.t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		g.t.Fatal(err)
	}
	g.counts.Publish(b)
}

// set stores a string directly, so these tests do not depend on the string family.
func (g *srvHarness) set(key, value string, ttlMs int64) {
	g.write(func(tx *keyspace.Txn) error {
		at := int64(0)
		if ttlMs > 0 {
			at = g.now + ttlMs
		}
		return tx.SetString([]byte(key), []byte(value), at)
	})
}

type srvFake struct {
	h        *harness
	config   *srvFakeConfig
	resets   int
	lastSave int64
	sections [][]string
	failNext bool
	// cluster, when set, is what Cluster returns instead of the standalone view.
	cluster *ClusterView
	// partial makes the fake a node without every shard: ReadAll is refused and keyspace
	// reads go shard by shard over srvFakeShards equal slot ranges.
	partial bool
}

const srvFakeShards = 4

var srvErrFake = errors.New("fake recNode failure")

func (f *srvFake) Now() time.Time { return time.UnixMilli(f.h.now) }

func (f *srvFake) DBSize(context.Context) (int64, error) {
	if f.failNext {
		f.failNext = false
		return 0, srvErrFake
	}
	return f.h.counts.Keys(routing.Range{Start: 0, End: routing.NumSlots}), nil
}

func (f *srvFake) FlushAll(context.Context) error {
	if f.failNext {
		f.failNext = false
		return srvErrFake
	}
	b := f.h.db.NewIndexedBatch()
	tx := keyspace.NewWriteTxn(b, f.h.now, f.h.index, f.h.counts)
	f.h.index++
	if err := tx.FlushRange(routing.Range{Start: 0, End: routing.NumSlots}); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	f.h.counts.Publish(b)
	return nil
}

func (f *srvFake) ReadAll(_ context.Context, fn func(tx *keyspace.Txn) reply.Value) reply.Value {
	if f.partial {
		return reply.Err("ERR fake: ReadAll on a node without every shard")
	}
	return fn(keyspace.NewReadTxn(f.h.db, f.h.now, f.h.counts))
}

func (f *srvFake) HoldsAllShards() bool { return !f.partial }

func (f *srvFake) ShardRanges(r routing.Range) []routing.Range {
	const width = routing.NumSlots / srvFakeShards
	var out []routing.Range
	for start := uint16(0); start < routing.NumSlots; start += width {
		part := routing.Range{Start: max(start, r.Start), End: min(start+width, r.End)}
		if part.Start < part.End {
			out = append(out, part)
		}
	}
	return out
}

func (f *srvFake) ReadShard(_ context.Context, r routing.Range, args [][]byte) reply.Value {
	if parts := f.ShardRanges(r); len(parts) != 1 || parts[0] != r {
		return reply.Err("ERR fake: ReadShard of a range crossing shards")
	}
	return ReadRange(keyspace.NewReadTxn(f.h.db, f.h.now, f.h.counts), r, args)
}

func (f *srvFake) Info(_ context.Context, sections []string) string {
	f.sections = append(f.sections, sections)
	return "# " + strings.Join(sections, ",") + "\r\n"
}

func (f *srvFake) Config() Config  { return f.config }
func (f *srvFake) ResetStats()     { f.resets++ }
func (f *srvFake) LastSave() int64 { return f.lastSave }

// srvFakeConfig holds a few of Redis 7.0's parameters with their default values (as CONFIG GET
// reports them on redis-server 7.0.15) and matches names as Redis does: glob, nocase.
type srvFakeConfig struct {
	values   map[string]string
	rewrites int
}

func newSrvFakeConfig() *srvFakeConfig {
	return &srvFakeConfig{values: map[string]string{
		"maxmemory": "0", "maxmemory-policy": "noeviction", "maxmemory-samples": "5",
		"maxmemory-eviction-tenacity": "10", "maxmemory-clients": "0",
		"timeout": "0", "hz": "10", "appendonly": "no", "save": "",
	}}
}

func (c *srvFakeConfig) Get(pattern string) [][2]string {
	var out [][2]string
	for k, v := range c.values {
		if glob.Match([]byte(pattern), []byte(k), true) {
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func (c *srvFakeConfig) Set(pairs [][2]string) error {
	for _, p := range pairs {
		if _, ok := c.values[strings.ToLower(p[0])]; !ok {
			return errors.New("Unknown option or number of arguments for CONFIG SET - '" + p[0] + "'")
		}
	}
	for _, p := range pairs {
		c.values[strings.ToLower(p[0])] = p[1]
	}
	return nil
}

// srvRewritingConfig is a Config that also implements ConfigRewriter.
type srvRewritingConfig struct {
	*srvFakeConfig
	err error
}

func (c srvRewritingConfig) Rewrite() error {
	c.rewrites++
	return c.err
}

// Cluster implements Server: f.cluster when a test set one, else a standalone node leading
// the single shard of all slots.
func (f *srvFake) ClusterMeet(_ context.Context, host string, busPort int) reply.Value {
	return reply.Simple(fmt.Sprintf("meet %s %d", host, busPort))
}

func (f *srvFake) ClusterForget(_ context.Context, name string) reply.Value {
	return reply.Simple("forget " + name)
}

func (f *srvFake) Cluster(context.Context) ClusterView {
	if f.cluster != nil {
		return *f.cluster
	}
	return ClusterView{
		Self:   1,
		Nodes:  []ClusterNode{{ID: 1, Name: "e1e2e3e4e5e6e7e8e9e0e1e2e3e4e5e6e7e8e9e0", Host: "127.0.0.1", Port: 6379, BusPort: 16379, Connected: true}},
		Shards: []ClusterShard{{Start: 0, End: routing.NumSlots, Leader: 1, Replicas: []uint64{1}}},
	}
}
