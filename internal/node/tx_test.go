package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"ferricd/internal/reply"
	"ferricd/internal/resp"
)

// execTx runs cmds as one transaction on n, watching watched, and renders the EXEC reply.
func execTx(t testing.TB, n *Node, watched []resp.Watched, cmds ...[]string) string {
	t.Helper()
	cs := calls(t, cmds)
	out := make([]reply.Value, len(cs))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if abort, ran := n.ExecTx(ctx, watched, cs, out); !ran {
		return abort.String()
	}
	return reply.Array(out...).String()
}

// watch returns what WATCH records for keys on n.
func watch(t testing.TB, n *Node, keys ...string) []resp.Watched {
	t.Helper()
	args := make([][]byte, len(keys))
	for i, k := range keys {
		args[i] = []byte(k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	versions, v := n.Watch(ctx, args)
	if v.IsError() {
		t.Fatalf("WATCH %q = %s", keys, v.String())
	}
	out := make([]resp.Watched, len(keys))
	for i := range keys {
		out[i] = resp.Watched{Key: args[i], Version: versions[i]}
	}
	return out
}

func TestTransactionRunsInOrderOnOneShard(t *testing.T) {
	tn := newTestNode(t, nil)
	got := execTx(t, tn.n, nil,
		[]string{"SET", "{t}a", "1"}, []string{"INCR", "{t}a"}, []string{"GET", "{t}a"},
		[]string{"RPUSH", "{t}l", "x", "y"}, []string{"LRANGE", "{t}l", "0", "-1"},
		[]string{"INCR", "{t}l"}, []string{"DEL", "{t}l"}, []string{"EXISTS", "{t}l"})
	want := `[+OK :2 "2" :2 ["x" "y"] -WRONGTYPE Operation against a key holding the wrong kind of value :1 :0]`
	if got != want {
		t.Fatalf("EXEC = %s\nwant   %s", got, want)
	}
	tn.expect(`"2"`, "GET", "{t}a")
}

func TestTransactionAcrossShardsIsRefused(t *testing.T) {
	tn := newTestNode(t, nil)
	a, b := keyOnShard(t, 1, "a"), keyOnShard(t, 2, "b")
	if got := execTx(t, tn.n, nil, []string{"SET", a, "1"}, []string{"SET", b, "1"}); got != "-"+string(reply.ErrCrossSlot.Str) {
		t.Fatalf("EXEC over shards 1 and 2 = %s, want CROSSSLOT", got)
	}
	if tn.dbsize() != 0 {
		t.Fatal("a refused transaction wrote keys")
	}
	queued := calls(t, [][]string{{"SET", a, "1"}})
	next := calls(t, [][]string{{"GET", b}})[0]
	if v := tn.n.CheckQueued(context.Background(), queued, next); v.String() != "-"+string(reply.ErrCrossSlot.Str) {
		t.Fatalf("CheckQueued of a key on another shard = %s, want CROSSSLOT", v.String())
	}
	// A watched key on another shard than the commands is refused too.
	if got := execTx(t, tn.n, watch(t, tn.n, b), []string{"SET", a, "1"}); got != "-"+string(reply.ErrCrossSlot.Str) {
		t.Fatalf("EXEC watching a key of another shard = %s, want CROSSSLOT", got)
	}
}

func TestBlockingCommandsInTransactionAnswerAsTimedOut(t *testing.T) {
	tn := newTestNode(t, nil)
	cs := calls(t, [][]string{
		{"BLPOP", "{t}l", "0"}, {"BLMOVE", "{t}l", "{t}m", "LEFT", "RIGHT", "0"},
		{"BRPOPLPUSH", "{t}l", "{t}m", "0"}, {"BZPOPMIN", "{t}z", "0"},
		{"RPUSH", "{t}l", "x"}, {"BLPOP", "{t}l", "0"}})
	out := make([]reply.Value, len(cs))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if abort, ran := tn.n.ExecTx(ctx, nil, cs, out); !ran {
		t.Fatalf("EXEC = %s", abort.String())
	}
	wantKinds := []reply.Kind{reply.KindNullArray, reply.KindNull, reply.KindNull, reply.KindNullArray, reply.KindInt, reply.KindArray}
	for i, v := range out {
		if v.Kind != wantKinds[i] {
			t.Errorf("%s in a transaction = %s (kind %d), want kind %d", cs[i].Args[0], v.String(), v.Kind, wantKinds[i])
		}
	}
	if got := out[5].String(); got != `["{t}l" "x"]` {
		t.Errorf("BLPOP after the push = %s", got)
	}
}

func TestPushInTransactionWakesBlockedClient(t *testing.T) {
	tn := newTestNode(t, nil)
	done := make(chan string, 1)
	go func() { done <- tn.do("BLPOP", "{t}q", "5").String() }()
	waitCount(t, tn, 1)
	execTx(t, tn.n, nil, []string{"SET", "{t}other", "1"}, []string{"RPUSH", "{t}q", "job"})
	select {
	case got := <-done:
		if want := `["{t}q" "job"]`; got != want {
			t.Fatalf("BLPOP = %s, want %s", got, want)
		}
	case <-time.After(testTimeout):
		t.Fatal("a push inside a transaction did not wake the blocked client")
	}
}

func TestWatchedKeyChanges(t *testing.T) {
	tests := []struct {
		name    string
		setup   [][]string
		between [][]string // run after WATCH, before EXEC
		advance time.Duration
		aborted bool
	}{
		{name: "untouched", setup: [][]string{{"SET", "{t}w", "1"}}},
		{name: "absent and still absent"},
		{name: "rewritten with the same value", setup: [][]string{{"SET", "{t}w", "1"}},
			between: [][]string{{"SET", "{t}w", "1"}}, aborted: true},
		{name: "deleted", setup: [][]string{{"SET", "{t}w", "1"}}, between: [][]string{{"DEL", "{t}w"}}, aborted: true},
		{name: "created", between: [][]string{{"RPUSH", "{t}w", "x"}}, aborted: true},
		{name: "collection member added", setup: [][]string{{"SADD", "{t}w", "a"}},
			between: [][]string{{"SADD", "{t}w", "b"}}, aborted: true},
		{name: "a failed write leaves it", setup: [][]string{{"SET", "{t}w", "x"}},
			between: [][]string{{"INCR", "{t}w"}}},
		{name: "another key of the shard written", setup: [][]string{{"SET", "{t}w", "1"}},
			between: [][]string{{"SET", "{t}neighbour", "1"}}},
		{name: "expired in between", setup: [][]string{{"SET", "{t}w", "1", "PX", "1000"}},
			advance: 2 * time.Second, aborted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTestNode(t, nil)
			for _, c := range tt.setup {
				tn.do(c...)
			}
			w := watch(t, tn.n, "{t}w")
			for _, c := range tt.between {
				tn.do(c...)
			}
			tn.clock.advance(tt.advance)
			got := execTx(t, tn.n, w, []string{"SET", "{t}out", "ran"})
			switch {
			case tt.aborted && got != "(nil)":
				t.Fatalf("EXEC = %s, want a null array (watched key changed)", got)
			case !tt.aborted && got != `[+OK]`:
				t.Fatalf("EXEC = %s, want it to run", got)
			}
			// A transaction without writes checks its watched keys as well.
			got = execTx(t, tn.n, w, []string{"GET", "{t}out"})
			if tt.aborted != (got == "(nil)") {
				t.Fatalf("read-only EXEC = %s, aborted %v expected", got, tt.aborted)
			}
		})
	}
}

func TestEmptyTransactionChecksWatchedKeys(t *testing.T) {
	tn := newTestNode(t, nil)
	w := watch(t, tn.n, "{t}w")
	if got := execTx(t, tn.n, w); got != "[]" {
		t.Fatalf("empty EXEC with an unchanged watched key = %s, want an empty array", got)
	}
	tn.do("SET", "{t}w", "1")
	if got := execTx(t, tn.n, w); got != "(nil)" {
		t.Fatalf("empty EXEC after the watched key changed = %s, want a null array", got)
	}
}

// TestTransactionsAreIsolated: concurrent transactions move one unit from {t}a to {t}b; no
// reader, in a transaction or with MGET, ever sees the total change, and none is lost.
func TestTransactionsAreIsolated(t *testing.T) {
	tn := newTestNode(t, nil)
	tn.do("SET", "{t}a", "1000")
	const writers, moves = 4, 50
	var wg sync.WaitGroup
	errs := make(chan string, writers+2)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range moves {
				if got := execTx(t, tn.n, nil, []string{"DECR", "{t}a"}, []string{"INCR", "{t}b"}); got[0] != '[' {
					errs <- "transfer: " + got
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	sum := func(a, b reply.Value) int64 {
		var x, y int64
		fmt.Sscan(string(a.Str), &x)
		fmt.Sscan(string(b.Str), &y)
		return x + y
	}
	for _, inTx := range []bool{true, false} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var a, b reply.Value
				if inTx {
					cs := calls(t, [][]string{{"GET", "{t}a"}, {"GET", "{t}b"}})
					out := make([]reply.Value, 2)
					ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
					_, ran := tn.n.ExecTx(ctx, nil, cs, out)
					cancel()
					if !ran {
						errs <- "read transaction did not run"
						return
					}
					a, b = out[0], out[1]
				} else {
					v := tn.do("MGET", "{t}a", "{t}b")
					a, b = v.Elems[0], v.Elems[1]
				}
				if s := sum(a, b); s != 1000 {
					errs <- fmt.Sprintf("reader (transaction %v) saw a+b = %d", inTx, s)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	tn.expect(fmt.Sprintf(`"%d"`, 1000-writers*moves), "GET", "{t}a")
	tn.expect(fmt.Sprintf(`"%d"`, writers*moves), "GET", "{t}b")
}

func TestTransactionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	tn := startNode(t, openDB(t, dir), clock, nil)
	execTx(t, tn.n, nil, []string{"SET", "{t}a", "1"}, []string{"RPUSH", "{t}l", "x", "y"}, []string{"INCR", "{t}a"})
	before := dumpData(t, tn.db)
	tn.close()
	tn = startNode(t, openDB(t, dir), clock, nil)
	if after := dumpData(t, tn.db); string(after) != string(before) {
		t.Fatalf("data changed across the restart: %s", firstDiff(before, after))
	}
	tn.expect(`"2"`, "GET", "{t}a")
	tn.expect(`["x" "y"]`, "LRANGE", "{t}l", "0", "-1")
}

// TestServerCommandInTransactionSeesEarlierCommands: a server command runs between the
// parts before and after it.
func TestServerCommandInTransactionSeesEarlierCommands(t *testing.T) {
	tn := newTestNode(t, nil)
	got := execTx(t, tn.n, nil, []string{"SET", "{t}a", "1"}, []string{"DBSIZE"},
		[]string{"FLUSHALL"}, []string{"SET", "{t}b", "1"}, []string{"DBSIZE"})
	if want := `[+OK :1 +OK +OK :1]`; got != want {
		t.Fatalf("EXEC = %s, want %s", got, want)
	}
}

// TestTransactionsThroughEveryMember: a transaction sent to any node of a 3-node cluster
// runs at its shard's leader (forwarded whole when that is another node), WATCH reads the
// versions there, and every replica ends with the same data.
func TestTransactionsThroughEveryMember(t *testing.T) {
	c := startMembers(t, 3)
	c.waitWritable(0)
	// The balancer may move a leader meanwhile: a refusal that says so is retried, and every
	// transaction gives the same result when it runs twice.
	retry := func(run func() string) string {
		got := run()
		for try := 0; try < 5 && (strings.Contains(got, "TRYAGAIN") || strings.Contains(got, "CLUSTERDOWN")); try++ {
			time.Sleep(50 * time.Millisecond)
			got = run()
		}
		return got
	}
	for id := uint64(1); id <= testShards; id++ {
		a := keyOnShard(t, id, "txa")
		tag := "{" + a + "}"
		for i, nd := range c.nodes {
			got := retry(func() string {
				return execTx(t, nd, nil, []string{"SET", a, fmt.Sprint(i + 1)},
					[]string{"SET", tag + "from" + fmt.Sprint(i), "v"}, []string{"GET", a})
			})
			if want := fmt.Sprintf(`[+OK +OK "%d"]`, i+1); got != want {
				t.Fatalf("shard %d through node %d: EXEC = %s, want %s", id, i+1, got, want)
			}
			w := watch(t, nd, a)
			if got := retry(func() string { return execTx(t, nd, w, []string{"GET", a}) }); got != fmt.Sprintf(`["%d"]`, i+1) {
				t.Fatalf("shard %d through node %d: watched read-only EXEC = %s", id, i+1, got)
			}
			c.exec((i+1)%3, false, []string{"SET", a, fmt.Sprint(i + 1)}) // same value, new version
			if got := retry(func() string { return execTx(t, nd, w, []string{"SET", a, "lost"}) }); got != "(nil)" {
				t.Fatalf("shard %d through node %d: EXEC after another node rewrote the watched key = %s", id, i+1, got)
			}
		}
		// Every replica ends with every transaction's writes.
		want := `["v" "v" "v"]`
		for i := range c.nodes {
			deadline := time.Now().Add(testTimeout)
			var got string
			for time.Now().Before(deadline) {
				got = c.exec(i, true, []string{"MGET", tag + "from0", tag + "from1", tag + "from2"})[0].String()
				if got == want {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got != want {
				t.Fatalf("shard %d: node %d's replica holds %s, want %s", id, i+1, got, want)
			}
		}
	}
}
