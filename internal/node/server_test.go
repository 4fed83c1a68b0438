package node

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferricd/internal/reply"
	"ferricd/internal/routing"
)

// fillKeys writes n keys spread over every shard, plus groups of keys sharing a hash tag (so
// some slots hold many keys), and returns them sorted.
func fillKeys(t *testing.T, tn *testNode, n int) []string {
	t.Helper()
	var keys []string
	var segment [][]string
	for i := range n {
		k := fmt.Sprintf("key:%d", i)
		if i%5 == 0 {
			k = fmt.Sprintf("{group%d}:%d", i%7, i) // 7 slots holding many keys each
		}
		keys = append(keys, k)
		segment = append(segment, []string{"set", k, "v"})
	}
	for i, v := range tn.exec(segment...) {
		if v.String() != "+OK" {
			t.Fatalf("SET %s = %s", keys[i], v)
		}
	}
	sort.Strings(keys)
	return keys
}

func bulkStrings(t *testing.T, v reply.Value) []string {
	t.Helper()
	if v.Kind != reply.KindArray {
		t.Fatalf("reply %s is not an array", v)
	}
	out := make([]string, len(v.Elems))
	for i, e := range v.Elems {
		if e.Kind != reply.KindBulk {
			t.Fatalf("array element %s is not a bulk string", e)
		}
		out[i] = string(e.Str)
	}
	return out
}

func TestServerKeysAndDBSize(t *testing.T) {
	tn := newTestNode(t, nil)
	keys := fillKeys(t, tn, 300)
	if n := tn.dbsize(); n != 300 {
		t.Errorf("DBSIZE = %d, want 300", n)
	}
	got := bulkStrings(t, tn.do("keys", "*"))
	sort.Strings(got)
	if !slices.Equal(got, keys) {
		t.Errorf("KEYS * returned %d keys, want the %d written", len(got), len(keys))
	}
	got = bulkStrings(t, tn.do("keys", "{group3}:*"))
	for _, k := range got {
		if !strings.HasPrefix(k, "{group3}:") {
			t.Errorf("KEYS {group3}:* returned %q", k)
		}
	}
	if len(got) == 0 {
		t.Error("KEYS {group3}:* returned nothing")
	}
}

// TestServerScanFullIteration: a SCAN iteration from cursor 0 back to 0 returns every key
// exactly once, whatever COUNT.
func TestServerScanFullIteration(t *testing.T) {
	tn := newTestNode(t, nil)
	keys := fillKeys(t, tn, 500)
	for _, count := range []string{"1", "7", "10", "100", "100000"} {
		seen := map[string]int{}
		cursor, calls := "0", 0
		for {
			calls++
			if calls > 2000 {
				t.Fatalf("COUNT %s: iteration did not end after %d calls (cursor %s)", count, calls, cursor)
			}
			v := tn.do("scan", cursor, "COUNT", count)
			if v.Kind != reply.KindArray || len(v.Elems) != 2 {
				t.Fatalf("SCAN %s = %s, want [cursor keys]", cursor, v)
			}
			for _, k := range bulkStrings(t, v.Elems[1]) {
				seen[k]++
			}
			next := string(v.Elems[0].Str)
			if next == "0" {
				break
			}
			if n, _ := strconv.Atoi(next); n <= mustAtoi(t, cursor) {
				t.Fatalf("COUNT %s: cursor went from %s to %s", count, cursor, next)
			}
			cursor = next
		}
		for _, k := range keys {
			if seen[k] != 1 {
				t.Errorf("COUNT %s: key %q returned %d times, want once", count, k, seen[k])
			}
		}
		if len(seen) != len(keys) {
			t.Errorf("COUNT %s: iteration returned %d distinct keys, want %d", count, len(seen), len(keys))
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("cursor %q is not a number", s)
	}
	return n
}

func TestServerFlushAll(t *testing.T) {
	tn := newTestNode(t, nil)
	fillKeys(t, tn, 200)
	tn.expect("+OK", "set", "ttl", "v", "EX", "1000")
	// FLUSHALL in the same segment as writes observes them, and reads after it see nothing.
	out := tn.exec([]string{"set", "late", "v"}, []string{"flushall"}, []string{"get", "late"}, []string{"dbsize"})
	want := []string{"+OK", "+OK", "(nil)", ":0"}
	for i, w := range want {
		if got := out[i].String(); got != w {
			t.Errorf("reply %d = %s, want %s", i, got, w)
		}
	}
	all := routing.Range{Start: 0, End: routing.NumSlots}
	if k, e := tn.n.Counts().Keys(all), tn.n.Counts().Expires(all); k != 0 || e != 0 {
		t.Errorf("counters after FLUSHALL: keys=%d expires=%d, want 0", k, e)
	}
	if got := tn.do("keys", "*"); len(got.Elems) != 0 {
		t.Errorf("KEYS * after FLUSHALL = %s", got)
	}
	if d := dumpData(t, tn.db); len(d) != 0 {
		t.Errorf("data left after FLUSHALL:\n%s", d)
	}
	// The keyspace works normally afterwards.
	tn.expect("+OK", "set", "again", "1")
	tn.expect(":2", "incr", "again")
	if n := tn.dbsize(); n != 1 {
		t.Errorf("DBSIZE after FLUSHALL and one SET = %d, want 1", n)
	}
}

func TestServerInfoKeyspace(t *testing.T) {
	tn := newTestNode(t, nil)
	if info := string(tn.do("info", "keyspace").Str); strings.Contains(info, "db0:") {
		t.Errorf("INFO keyspace of an empty node lists db0:\n%s", info)
	}
	fillKeys(t, tn, 20)
	tn.expect("+OK", "set", "t1", "v", "EX", "100")
	tn.expect(":1", "expire", "key:1", "100")
	for _, args := range [][]string{{"info"}, {"info", "keyspace"}, {"info", "all"}} {
		v := tn.do(args...)
		if v.Kind != reply.KindVerbatim {
			t.Fatalf("%q = %s, want verbatim text", args, v)
		}
		if info := string(v.Str); !strings.Contains(info, "# Keyspace\r\ndb0:keys=21,expires=2,avg_ttl=0\r\n") {
			t.Errorf("%q lacks the keyspace line db0:keys=21,expires=2:\n%s", args, info)
		}
	}
	if info := tn.n.Info(context.Background(), []string{"replication"}); !strings.Contains(info, fmt.Sprintf("raft_shards:%d\r\nraft_shards_leading:%d", testShards, testShards)) {
		t.Errorf("INFO replication does not report %d shards, all leading:\n%s", testShards, info)
	}
}

// TestServerScanWithChurn: keys that exist for the whole iteration are returned exactly once
// even while other keys are added and deleted between SCAN calls.
func TestServerScanWithChurn(t *testing.T) {
	tn := newTestNode(t, nil)
	stable := fillKeys(t, tn, 300)
	seen := map[string]int{}
	cursor := "0"
	for call := 0; ; call++ {
		if call > 1000 {
			t.Fatal("SCAN iteration did not end")
		}
		// Churn: new keys, deletions of earlier churn keys, expiring keys.
		tn.exec(
			[]string{"set", fmt.Sprintf("churn:%d", call), "v"},
			[]string{"set", fmt.Sprintf("{group2}:churn:%d", call), "v"},
			[]string{"del", fmt.Sprintf("churn:%d", call-3)},
			[]string{"set", fmt.Sprintf("short:%d", call), "v", "PX", "1"},
		)
		tn.clock.advance(2 * time.Millisecond)
		v := tn.do("scan", cursor, "COUNT", "9")
		for _, k := range bulkStrings(t, v.Elems[1]) {
			seen[k]++
			if strings.HasPrefix(k, "short:") {
				t.Errorf("SCAN returned %q after its deadline", k)
			}
		}
		if cursor = string(v.Elems[0].Str); cursor == "0" {
			break
		}
	}
	for _, k := range stable {
		if seen[k] != 1 {
			t.Errorf("stable key %q returned %d times, want once", k, seen[k])
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("key %q returned %d times", k, n)
		}
	}
}

func TestServerRandomKey(t *testing.T) {
	tn := newTestNode(t, nil)
	tn.expect("(nil)", "randomkey")
	keys := fillKeys(t, tn, 50)
	for range 20 {
		v := tn.do("randomkey")
		if v.Kind != reply.KindBulk || !slices.Contains(keys, string(v.Str)) {
			t.Fatalf("RANDOMKEY = %s, want one of the written keys", v)
		}
	}
}

// TestServerTimeUsesClock: TIME and LASTSAVE report the node's clock.
func TestServerTimeUsesClock(t *testing.T) {
	tn := newTestNode(t, nil)
	tn.clock.advance(1500 * time.Millisecond)
	want := startMs + 1500
	tn.expect(fmt.Sprintf(`["%d" "%d"]`, want/1000, want%1000*1000), "time")
	tn.expect(fmt.Sprintf(":%d", want/1000), "lastsave")
}
