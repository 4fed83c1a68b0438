package resp

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"ferricd/internal/reply"
)

// The fake backend's transactions: keys starting with "far:" are on "another shard"
// (CheckQueued refuses them); ExecTx checks the watched versions, then runs the calls.

func (b *fakeBackend) CheckQueued(_ context.Context, _ []Call, c Call) reply.Value {
	for _, k := range c.Spec.KeyArgs(c.Args) {
		if bytes.HasPrefix(k, []byte("far:")) {
			return reply.ErrCrossSlot
		}
	}
	return reply.Value{}
}

func (b *fakeBackend) ExecTx(ctx context.Context, watched []Watched, calls []Call, out []reply.Value) (reply.Value, bool) {
	b.mu.Lock()
	for _, w := range watched {
		if b.ver[string(w.Key)] != w.Version {
			b.mu.Unlock()
			return reply.NullArray, false
		}
	}
	b.mu.Unlock()
	for i, c := range calls {
		out[i] = b.run(ctx, c)
	}
	return reply.Value{}, true
}

func (b *fakeBackend) Watch(_ context.Context, keys [][]byte) ([]uint64, reply.Value) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]uint64, len(keys))
	for i, k := range keys {
		out[i] = b.ver[string(k)]
	}
	return out, reply.Value{}
}

// step is one command of a transaction script and its exact reply.
type step struct {
	cmd  string // space-separated arguments
	want string
}

func runSteps(t *testing.T, c *rawClient, steps []step) {
	t.Helper()
	for _, s := range steps {
		if got := c.do(strings.Fields(s.cmd)...); got != s.want {
			t.Fatalf("%s:\n got %q\nwant %q", s.cmd, got, s.want)
		}
	}
}

const (
	ok       = "+OK\r\n"
	queued   = "+QUEUED\r\n"
	execAbrt = "-EXECABORT Transaction discarded because of previous errors.\r\n"
)

func TestTransactions(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"commands queue and run at EXEC, connection commands in their places", []step{
			{"MULTI", ok}, {"SET a 1", queued}, {"INCR a", queued}, {"PING", queued},
			{"GET a", queued}, {"ECHO hi", queued},
			{"EXEC", "*5\r\n+OK\r\n:2\r\n+PONG\r\n$1\r\n2\r\n$2\r\nhi\r\n"},
			{"GET a", "$1\r\n2\r\n"},
		}},
		{"an empty transaction answers an empty array", []step{
			{"MULTI", ok}, {"EXEC", "*0\r\n"},
		}},
		{"a command's own error is its element, the others run", []step{
			{"SET s x", ok}, {"MULTI", ok}, {"INCR s", queued}, {"SET t 1", queued},
			{"EXEC", "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"},
		}},
		{"nested MULTI is an error that keeps the transaction", []step{
			{"MULTI", ok}, {"MULTI", "-ERR MULTI calls can not be nested\r\n"}, {"SET n 1", queued},
			{"EXEC", "*1\r\n+OK\r\n"},
		}},
		{"an unknown command aborts EXEC", []step{
			{"MULTI", ok}, {"SET u 1", queued},
			{"NOSUCH x", "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"},
			{"EXEC", execAbrt}, {"GET u", "$-1\r\n"},
		}},
		{"a wrong arity aborts EXEC", []step{
			{"MULTI", ok}, {"SET w", "-ERR wrong number of arguments for 'set' command\r\n"},
			{"EXEC", execAbrt},
		}},
		{"a no-multi command aborts EXEC", []step{
			{"MULTI", ok}, {"SAVE", "-ERR Command not allowed inside a transaction\r\n"},
			{"EXEC", execAbrt},
		}},
		{"a refusal of the backend aborts EXEC", []step{
			{"MULTI", ok}, {"SET far:x 1", "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
			{"EXEC", execAbrt},
		}},
		{"EXEC with arguments discards the transaction with its reason", []step{
			{"MULTI", ok}, {"SET e 1", queued},
			{"EXEC extra", "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"},
			{"EXEC", "-ERR EXEC without MULTI\r\n"}, {"GET e", "$-1\r\n"},
		}},
		{"DISCARD with arguments aborts EXEC", []step{
			{"MULTI", ok}, {"DISCARD extra", "-ERR wrong number of arguments for 'discard' command\r\n"},
			{"EXEC", execAbrt},
		}},
		{"EXEC and DISCARD outside MULTI", []step{
			{"EXEC", "-ERR EXEC without MULTI\r\n"}, {"DISCARD", "-ERR DISCARD without MULTI\r\n"},
		}},
		{"DISCARD drops the queue", []step{
			{"MULTI", ok}, {"SET d 1", queued}, {"DISCARD", ok}, {"GET d", "$-1\r\n"},
			{"EXEC", "-ERR EXEC without MULTI\r\n"},
		}},
		{"RESET ends the transaction", []step{
			{"MULTI", ok}, {"SET r 1", queued}, {"RESET", "+RESET\r\n"},
			{"EXEC", "-ERR EXEC without MULTI\r\n"}, {"GET r", "$-1\r\n"},
		}},
		{"WATCH inside MULTI is refused without aborting", []step{
			{"MULTI", ok}, {"WATCH a", "-ERR WATCH inside MULTI is not allowed\r\n"},
			{"SET wm 1", queued}, {"EXEC", "*1\r\n+OK\r\n"},
		}},
		{"an unchanged watched key lets EXEC run", []step{
			{"WATCH k1 k2", ok}, {"MULTI", ok}, {"SET k1 v", queued}, {"EXEC", "*1\r\n+OK\r\n"},
		}},
		{"UNWATCH inside MULTI is queued", []step{
			{"MULTI", ok}, {"UNWATCH", queued}, {"EXEC", "*1\r\n+OK\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, nil)
			runSteps(t, dialRaw(t, s.addr), tt.steps)
		})
	}
}

func TestWatchedKeyWrittenByAnotherClientAbortsExec(t *testing.T) {
	s := startServer(t, nil)
	c, other := dialRaw(t, s.addr), dialRaw(t, s.addr)
	runSteps(t, c, []step{{"WATCH w", ok}, {"MULTI", ok}, {"SET out 1", queued}})
	runSteps(t, other, []step{{"SET w changed", ok}})
	runSteps(t, c, []step{
		{"EXEC", "*-1\r\n"},
		{"GET out", "$-1\r\n"},
		// EXEC forgot the watched key: the next transaction runs.
		{"MULTI", ok}, {"SET out 2", queued}, {"EXEC", "*1\r\n+OK\r\n"},
	})
}

func TestUnwatchForgetsWatchedKeys(t *testing.T) {
	s := startServer(t, nil)
	c, other := dialRaw(t, s.addr), dialRaw(t, s.addr)
	runSteps(t, c, []step{{"WATCH w", ok}})
	runSteps(t, other, []step{{"SET w changed", ok}})
	runSteps(t, c, []step{{"UNWATCH", ok}, {"MULTI", ok}, {"SET out 1", queued}, {"EXEC", "*1\r\n+OK\r\n"}})
}

// TestQueuedArgumentsOutliveTheReadBuffer queues commands from separate reads, with other
// traffic in between, so that arguments still pointing into the reader's buffer would be
// overwritten before EXEC.
func TestQueuedArgumentsOutliveTheReadBuffer(t *testing.T) {
	s := startServer(t, nil)
	c := dialRaw(t, s.addr)
	runSteps(t, c, []step{{"MULTI", ok}})
	want := "*20\r\n"
	for i := range 20 {
		v := strings.Repeat(string(rune('a'+i)), 100+i)
		runSteps(t, c, []step{{"SET k" + v[:1] + " " + v, queued}})
		want += ok
	}
	runSteps(t, c, []step{{"EXEC", want}})
	for i := range 20 {
		v := strings.Repeat(string(rune('a'+i)), 100+i)
		runSteps(t, c, []step{{"GET k" + v[:1], "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"}})
	}
}

func TestClientListShowsTransactions(t *testing.T) {
	s := startServer(t, nil)
	c, other := dialRaw(t, s.addr), dialRaw(t, s.addr)
	runSteps(t, c, []step{{"MULTI", ok}, {"SET a 1", queued}, {"SET b 2", queued}})
	list := other.do("CLIENT", "LIST")
	if !strings.Contains(list, "flags=x ") || !strings.Contains(list, " multi=2 ") {
		t.Fatalf("CLIENT LIST does not show the queued transaction: %q", list)
	}
	runSteps(t, c, []step{{"DISCARD", ok}})
	if list := other.do("CLIENT", "LIST"); strings.Contains(list, "flags=x ") || strings.Contains(list, " multi=2 ") {
		t.Fatalf("CLIENT LIST still shows a discarded transaction: %q", list)
	}
}

func TestTransactionQueueIsBounded(t *testing.T) {
	s := startServer(t, func(cfg *Config) { cfg.ClientQueryBufferLimit = func() int64 { return 1000 } })
	c := dialRaw(t, s.addr)
	v := strings.Repeat("v", 400)
	runSteps(t, c, []step{
		{"MULTI", ok}, {"SET a " + v, queued}, {"SET b " + v, queued},
		{"SET c " + v, "-ERR the commands queued in MULTI exceed client-query-buffer-limit; the transaction will be discarded\r\n"},
		{"EXEC", execAbrt}, {"GET a", "$-1\r\n"},
	})
}
