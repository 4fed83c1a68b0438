package node

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/goleak"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/resp"
	"ferricd/internal/routing"
	"ferricd/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait of a test.
const testTimeout = 20 * time.Second

// testShards is the number of shards test nodes run.
const testShards = 4

// testCacheBytes is the key metadata cache every test node runs with unless configure changes
// it: small enough that busy tests evict, so every node test also exercises the cache.
const testCacheBytes = 1 << 20

// startMs is the Unix-ms time test clocks start at.
const startMs int64 = 1_700_000_000_000

// testClock is a clock the test moves by hand; the node reads it from several goroutines.
type testClock struct{ ms atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ms.Store(startMs)
	return c
}

func (c *testClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// testParams is a parameter store with nothing in it.
type testParams struct{}

func (testParams) Get(string) [][2]string { return nil }
func (testParams) Set([][2]string) error  { return nil }

var testTable = command.New()

// testNode is a running node on its own Pebble DB.
type testNode struct {
	t     testing.TB
	n     *Node
	db    *pebble.DB
	clock *testClock
	cfg   Config
}

// openDB opens a node DB: in memory when dir is "", else on disk in dir.
func openDB(t testing.TB, dir string) *pebble.DB {
	t.Helper()
	opts := store.Options{Dir: dir}
	if dir == "" {
		opts.FS = vfs.NewMem()
	}
	db, err := store.Open(opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return db
}

// startNode opens a node on db with a controlled clock and a testCacheBytes key cache;
// configure may adjust the Config (CacheBytes 0 disables the cache). The node is closed, then
// the DB, when the test ends (unless the test closed them first).
func startNode(t testing.TB, db *pebble.DB, clock *testClock, configure func(*Config)) *testNode {
	t.Helper()
	if clock == nil {
		clock = newTestClock()
	}
	cfg := Config{DB: db, Shards: testShards, Table: testTable, Params: testParams{}, Clock: clock.Now,
		CacheBytes: testCacheBytes}
	if configure != nil {
		configure(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open node: %v", err)
	}
	tn := &testNode{t: t, n: n, db: db, clock: clock, cfg: cfg}
	t.Cleanup(tn.close)
	tn.waitSettled()
	return tn
}

// newTestNode is a node on a fresh in-memory DB.
func newTestNode(t testing.TB, configure func(*Config)) *testNode {
	t.Helper()
	return startNode(t, openDB(t, ""), nil, configure)
}

// close stops the node, then closes its DB; it is idempotent.
func (tn *testNode) close() {
	if tn.n != nil {
		tn.n.Close()
		tn.n = nil
	}
	if tn.db != nil {
		if err := tn.db.Close(); err != nil {
			tn.t.Errorf("close pebble: %v", err)
		}
		tn.db = nil
	}
}

// waitSettled waits until every shard leads and has applied everything in its log.
func (tn *testNode) waitSettled() {
	tn.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		settled := true
		for _, st := range tn.n.Shards() {
			if !st.IsLeader || st.Applied != st.LastIndex || st.Commit != st.LastIndex || st.PendingProposals != 0 {
				settled = false
			}
		}
		if settled {
			return
		}
		if time.Now().After(deadline) {
			tn.t.Fatalf("shards did not settle: %+v", tn.n.Shards())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// calls turns command lines into resp.Calls, failing the test on an unknown command or a
// wrong arity (internal/resp never passes those to Exec).
func calls(t testing.TB, cmds [][]string) []resp.Call {
	t.Helper()
	out := make([]resp.Call, len(cmds))
	for i, c := range cmds {
		args := make([][]byte, len(c))
		for j, a := range c {
			args[j] = []byte(a)
		}
		spec := testTable.Lookup(args)
		if spec == nil || !spec.CheckArity(len(args)) {
			t.Fatalf("test bug: %q is not a well-formed call", c)
		}
		out[i] = resp.Call{Spec: spec, Args: args}
	}
	return out
}

// exec runs cmds as one pipeline segment and returns the replies.
func (tn *testNode) exec(cmds ...[]string) []reply.Value {
	tn.t.Helper()
	cs := calls(tn.t, cmds)
	out := make([]reply.Value, len(cs))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tn.n.Exec(ctx, cs, out)
	return out
}

// do runs one command in its own segment.
func (tn *testNode) do(args ...string) reply.Value {
	tn.t.Helper()
	return tn.exec(args)[0]
}

// expect runs one command and checks its reply's rendering (reply.Value.String).
func (tn *testNode) expect(want string, args ...string) {
	tn.t.Helper()
	if got := tn.do(args...).String(); got != want {
		tn.t.Errorf("%q = %s, want %s", args, got, want)
	}
}

// dbsize returns DBSIZE through Exec.
func (tn *testNode) dbsize() int64 {
	tn.t.Helper()
	v := tn.do("dbsize")
	if v.Kind != reply.KindInt {
		tn.t.Fatalf("DBSIZE = %s, want an integer", v)
	}
	return v.Int
}

// keyOnShard returns a key named prefix+N owned by shard id of a testShards-shard table.
func keyOnShard(t testing.TB, id uint64, prefix string) string {
	t.Helper()
	routes, err := routing.NewTable(testShards)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if routes.ShardOf(routing.Slot([]byte(k))) == id {
			return k
		}
	}
	t.Fatalf("no key with prefix %q on shard %d", prefix, id)
	return ""
}

// shardOf returns the shard owning key in a testShards-shard table.
func shardOf(t testing.TB, key string) uint64 {
	t.Helper()
	routes, err := routing.NewTable(testShards)
	if err != nil {
		t.Fatal(err)
	}
	return routes.ShardOf(routing.Slot([]byte(key)))
}

// dumpData renders every key and value under the keyspace's slot-ordered prefixes ('d', 'e',
// 's', 'c'), the state every replica must agree on byte for byte.
func dumpData(t testing.TB, r pebble.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range keyspace.DataPrefixes {
		lo, hi := keyspace.SpanBounds(p, routing.Range{Start: 0, End: routing.NumSlots})
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			t.Fatal(err)
		}
		for it.First(); it.Valid(); it.Next() {
			fmt.Fprintf(&b, "%x = %x\n", it.Key(), it.Value())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// firstDiff returns the first differing line of two dumps, for failure messages.
func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y []byte
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d: %q vs %q", i, x, y)
		}
	}
	return "no difference"
}
