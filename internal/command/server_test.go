package command

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// Node-dependent answers of the server family, on the fake node of server_fake_test.go. The
// reply shapes are Redis 7.0's (recorded in server_cases.txt); the values are the node's.

func TestConfigCommands(t *testing.T) {
	g := newSrvHarness(t)
	// Several patterns, each parameter once, as a map (RESP3 %, flat array in RESP2).
	v := g.run("CONFIG", "GET", "maxmemory", "MAXMEMORY", "maxmemory-p*", "hz")
	if v.Kind != reply.KindMap {
		t.Errorf("CONFIG GET kind %d, want a map", v.Kind)
	}
	if got := v.String(); got != `["maxmemory" "0" "maxmemory-policy" "noeviction" "hz" "10"]` {
		t.Errorf("CONFIG GET = %s", got)
	}
	g.expect(`[]`, "CONFIG", "GET", "nosuch")
	g.expect("+OK", "CONFIG", "SET", "maxmemory", "100mb", "HZ", "20")
	g.expect(`["hz" "20" "maxmemory" "100mb"]`, "CONFIG", "GET", "hz", "maxmemory")
	// The Config's error text gets Redis' ERR prefix and nothing is applied.
	g.expect("-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'", "CONFIG", "SET", "hz", "30", "nosuch", "1")
	g.expect(`["hz" "20"]`, "CONFIG", "GET", "hz")

	g.expect("+OK", "CONFIG", "RESETSTAT")
	g.expect("+OK", "config", "resetstat")
	if g.srv.resets != 2 {
		t.Errorf("ResetStats called %d times, want 2", g.srv.resets)
	}

	g.expect("-ERR The server is running without a config file", "CONFIG", "REWRITE")
	rw := srvRewritingConfig{srvFakeConfig: g.srv.config}
	srv := &srvWithConfig{srvFake: g.srv, cfg: &rw}
	spec := g.table.Lookup([][]byte{[]byte("config"), []byte("rewrite")})
	if got := spec.Server(t.Context(), srv, [][]byte{[]byte("CONFIG"), []byte("REWRITE")}).String(); got != "+OK" {
		t.Errorf("CONFIG REWRITE with a rewriter = %s", got)
	}
	rw.err = errors.New("Rewriting config file: Permission denied")
	if got := spec.Server(t.Context(), srv, [][]byte{[]byte("CONFIG"), []byte("REWRITE")}).String(); got != "-ERR Rewriting config file: Permission denied" {
		t.Errorf("CONFIG REWRITE failing = %s", got)
	}
}

// srvWithConfig swaps the fake node's Config.
type srvWithConfig struct {
	*srvFake
	cfg Config
}

func (s *srvWithConfig) Config() Config { return s.cfg }

func TestTimeLastsaveInfo(t *testing.T) {
	g := newSrvHarness(t)
	g.now = 1_700_000_123_456
	g.expect(`["1700000123" "456000"]`, "TIME")
	g.expect(":1699999000", "LASTSAVE")

	v := g.run("INFO")
	if v.Kind != reply.KindVerbatim {
		t.Errorf("INFO kind %d, want verbatim text", v.Kind)
	}
	g.expect(`"# server,clients\r\n"`, "info", "SERVER", "Clients")
	g.expect(`"# everything\r\n"`, "INFO", "everything")
	want := [][]string{{"default"}, {"server", "clients"}, {"everything"}}
	if fmt.Sprint(g.srv.sections) != fmt.Sprint(want) {
		t.Errorf("Info asked for %v, want %v", g.srv.sections, want)
	}
}

func TestNodeFailures(t *testing.T) {
	g := newSrvHarness(t)
	g.srv.failNext = true
	g.expect("-ERR internal error", "DBSIZE")
	g.srv.failNext = true
	g.expect("-ERR internal error", "FLUSHALL")
	g.set("a", "1", 0)
	g.expect(":1", "DBSIZE")
}

func TestFlushAllEmptiesEverySlot(t *testing.T) {
	g := newSrvHarness(t)
	for i := range 200 {
		g.set(fmt.Sprint("k", i), "v", int64(i%3)*1000)
	}
	g.expect(":200", "DBSIZE")
	g.expect("+OK", "FLUSHDB")
	g.expect(":0", "DBSIZE")
	g.expect("[]", "KEYS", "*")
	g.expect("(nil)", "RANDOMKEY")
}

// srvLayouts runs a keyspace-read test on a node holding every shard (one ReadAll) and on
// one holding only some (shard by shard through ReadShard).
func srvLayouts(t *testing.T, test func(t *testing.T, g *srvHarness)) {
	for _, partial := range []bool{false, true} {
		t.Run(map[bool]string{false: "all-shards", true: "shard-by-shard"}[partial], func(t *testing.T) {
			g := newSrvHarness(t)
			g.srv.partial = partial
			test(t, g)
		})
	}
}

func TestRandomKeyCoversKeys(t *testing.T) { srvLayouts(t, randomKeyCoversKeys) }

func randomKeyCoversKeys(t *testing.T, g *srvHarness) {
	keys := []string{"a", "b", "c", "{t}1", "{t}2", "{t}3"}
	for _, k := range keys {
		g.set(k, "v", 0)
	}
	seen := map[string]bool{}
	for range 2000 {
		v := g.run("RANDOMKEY")
		if v.Kind != reply.KindBulk || !slices.Contains(keys, string(v.Str)) {
			t.Fatalf("RANDOMKEY = %s", v)
		}
		seen[string(v.Str)] = true
	}
	if len(seen) != len(keys) {
		t.Errorf("RANDOMKEY returned only %v", seen)
	}
}

// TestScanIteration checks the cursor guarantee on a keyspace that changes between calls:
// every key present throughout is returned, and exactly once.
func TestScanIteration(t *testing.T) { srvLayouts(t, scanIteration) }

func scanIteration(t *testing.T, g *srvHarness) {
	for i := range 500 {
		g.set(fmt.Sprint("stable:", i), "v", 0)
	}
	seen := map[string]int{}
	cursor, calls := "0", 0
	for {
		v := g.run("SCAN", cursor, "COUNT", "7", "MATCH", "stable:*")
		cursor = string(v.Elems[0].Str)
		for _, k := range v.Elems[1].Elems {
			seen[string(k.Str)]++
		}
		calls++
		// Churn: other keys come and go everywhere in the keyspace.
		g.set(fmt.Sprint("churn:", calls), "v", 0)
		g.write(func(tx *keyspace.Txn) error {
			_, err := tx.Delete([]byte(fmt.Sprint("churn:", calls-1)))
			return err
		})
		if cursor == "0" {
			break
		}
	}
	if len(seen) != 500 {
		t.Errorf("SCAN returned %d of 500 keys", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s returned %d times", k, n)
		}
	}
	if calls < 500/7/2 {
		t.Errorf("SCAN took only %d calls: COUNT ignored?", calls)
	}
}

func TestKeysInSlotOrder(t *testing.T) { srvLayouts(t, keysInSlotOrder) }

// keysInSlotOrder checks KEYS (every key once, in slot order, pattern and hash-tag pinning)
// and the CLUSTER commands reading one slot.
func keysInSlotOrder(t *testing.T, g *srvHarness) {
	var want []string
	for i := range 300 {
		k := fmt.Sprint("k:", i)
		g.set(k, "v", 0)
		want = append(want, k)
	}
	g.set("{tag}a", "v", 0)
	g.set("{tag}b", "v", 0)
	v := g.run("KEYS", "k:*")
	var got []string
	last := -1
	for _, e := range v.Elems {
		got = append(got, string(e.Str))
		if slot := int(routing.Slot(e.Str)); slot < last {
			t.Fatalf("KEYS out of slot order at %s", e.Str)
		} else {
			last = slot
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("KEYS k:* returned %d keys, want the %d written", len(got), len(want))
	}
	g.expect(`["{tag}a" "{tag}b"]`, "KEYS", "{tag}*")
	g.expect(`["k:7"]`, "KEYS", "k:7")
	slot := fmt.Sprint(routing.Slot([]byte("{tag}")))
	g.expect(":2", "CLUSTER", "COUNTKEYSINSLOT", slot)
	g.expect(`["{tag}a"]`, "CLUSTER", "GETKEYSINSLOT", slot, "1")
	g.expect(`["0" ["{tag}a" "{tag}b"]]`, "SCAN", "0", "MATCH", "{tag}*")
}

func TestPatternSlot(t *testing.T) {
	for _, c := range []struct {
		pattern string
		key     string // a key the pattern pins, or "" when it pins none
	}{
		{"foo", "foo"},
		{`fo\*o`, "fo*o"},
		{`foo\`, `foo\`},
		{"", ""},
		{"{user1}:*", "{user1}"},
		{"{user1}:[ab]", "{user1}"},
		{"x{user1}?", "{user1}"},
		{"{}*", "-"},
		{"{user*", "-"},
		{"*{user1}", "-"},
		{"foo*", "-"},
		{"fo?", "-"},
		{"[f]oo", "-"},
		{`{a\}b}*`, "{a}"},
	} {
		slot, ok := genPatternSlot([]byte(c.pattern))
		switch {
		case c.key == "-" && ok:
			t.Errorf("%q pins slot %d, want none", c.pattern, slot)
		case c.key != "-" && (!ok || slot != routing.Slot([]byte(c.key))):
			t.Errorf("%q: slot %d %v, want %d", c.pattern, slot, ok, routing.Slot([]byte(c.key)))
		}
	}
}

func TestParseCursor(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"", 0, true}, {"42", 42, true}, {"+7", 7, true}, {"-0", 0, true},
		{"-1", 1<<64 - 1, true}, {"18446744073709551615", 1<<64 - 1, true},
		{"18446744073709551616", 0, false}, {"-", 0, false}, {"+", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {"0x10", 0, false}, {"1.5", 0, false}, {"--1", 0, false},
	} {
		got, ok := genParseCursor([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("genParseCursor(%q) = %d %v, want %d %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestJemallocSizeClasses(t *testing.T) {
	// jemalloc's small and large classes on x86-64 (LG_QUANTUM 4).
	want := map[int64]int64{1: 8, 8: 8, 9: 16, 17: 32, 48: 48, 49: 64, 128: 128, 129: 160,
		160: 160, 161: 192, 257: 320, 506: 512, 513: 640, 1006: 1024, 5006: 5120, 14337: 16384,
		16385: 20480, 1 << 20: 1 << 20, 1<<20 + 1: 1280 << 10}
	for n, w := range want {
		if got := genJemallocSize(n); got != w {
			t.Errorf("genJemallocSize(%d) = %d, want %d", n, got, w)
		}
	}
}

// TestReplyTypes checks RESP3 wire types (what the typed format shows) against replies
// recorded from redis-server 7.0.15 over RESP3 after SET k 123.
func TestReplyTypes(t *testing.T) {
	g := newSrvHarness(t)
	g.set("k", "123", 0)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"TYPE", "k"}, `+"string"`},
		{[]string{"OBJECT", "ENCODING", "k"}, `$"int"`},
		{[]string{"OBJECT", "ENCODING", "nokey"}, `_`},
		{[]string{"OBJECT", "REFCOUNT", "k"}, `:2147483647`},
		{[]string{"MEMORY", "USAGE", "k"}, `:48`},
		{[]string{"SCAN", "0"}, `*[$"0" *[$"k"]]`},
		{[]string{"KEYS", "k"}, `*[$"k"]`},
		{[]string{"RANDOMKEY"}, `$"k"`},
		{[]string{"TTL", "k"}, `:-1`},
		{[]string{"DEL", "nokey"}, `:0`},
		{[]string{"COPY", "k", "k2"}, `:1`},
		{[]string{"RENAME", "k2", "k3"}, `+"OK"`},
		{[]string{"CONFIG", "GET", "maxmemory"}, `%[$"maxmemory" $"0"]`},
		{[]string{"FUNCTION", "LIST"}, `*[]`},
		{[]string{"FUNCTION", "FLUSH"}, `+"OK"`},
		{[]string{"COMMAND", "GETKEYSANDFLAGS", "copy", "a", "b"}, `*[*[$"a" ~[+"RO" +"access"]] *[$"b" ~[+"OW" +"update"]]]`},
		{[]string{"COMMAND", "GETKEYS", "copy", "a", "b"}, `*[$"a" $"b"]`},
		{[]string{"COMMAND", "LIST", "FILTERBY", "PATTERN", "ttl"}, `*[$"ttl"]`},
		{[]string{"BGSAVE"}, `+"Background saving started"`},
		{[]string{"SAVE"}, `+"OK"`},
		{[]string{"FLUSHALL"}, `+"OK"`},
		{[]string{"DBSIZE"}, `:0`},
		{[]string{"RANDOMKEY"}, `_`},
		{[]string{"EXISTS", "k"}, `:0`},
	} {
		if got := recTyped(g.run(c.args...)); got != c.want {
			t.Errorf("%q = %s, want %s", c.args, got, c.want)
		}
	}
}
