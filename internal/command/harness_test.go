package command

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// harness runs commands the way a single-shard node does, without raft: a write command runs
// on a write Txn over an indexed batch that is committed afterwards (as apply does), a read
// command on a read Txn over the DB. Its clock is explicit so TTL tests need no sleeping.
type harness struct {
	t      testing.TB
	db     *pebble.DB
	counts *keyspace.Counts
	table  *Table
	now    int64  // Unix ms
	index  uint64 // raft index of the next write
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), FormatMajorVersion: pebble.FormatNewest})
	if err != nil {
		t.Fatalf("open pebble: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	counts, err := keyspace.LoadCounts(db)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, db: db, counts: counts, table: New(), now: 1_700_000_000_000, index: 1}
}

// do runs one command and returns its reply. Arity and unknown-command errors are produced as
// the node produces them.
func (h *harness) do(args ...string) reply.Value {
	h.t.Helper()
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	spec := h.table.Lookup(bargs)
	if spec == nil {
		return reply.UnknownCommand(bargs)
	}
	if !spec.CheckArity(len(bargs)) {
		return reply.WrongArgs(spec.Name)
	}
	if spec.Validate != nil {
		if v, ok := spec.Validate(bargs); !ok {
			return v
		}
	}
	switch spec.Kind {
	case KindKeyRead:
		tx := keyspace.NewReadTxn(h.db, h.now, h.counts)
		defer tx.Close()
		// A streamed reply is read whole here, as a connection would send it.
		v, err := reply.Materialize(spec.Run(tx, bargs))
		if err != nil {
			h.t.Fatalf("%q: %v", args, err)
		}
		return v
	case KindKeyWrite:
		b := h.db.NewIndexedBatch()
		tx := keyspace.NewWriteTxn(b, h.now, h.index, h.counts)
		h.index++
		v := spec.Run(tx, bargs)
		if err := b.Commit(pebble.NoSync); err != nil {
			h.t.Fatalf("commit: %v", err)
		}
		h.counts.Publish(b)
		return v
	default:
		h.t.Fatalf("harness cannot run %s (kind %d)", spec.Name, spec.Kind)
		return reply.Value{}
	}
}

// expect runs a command and fails the test when its reply renders differently from want
// (reply.Value.String form: +OK, :1, "bulk", (nil), -ERR ..., [a b]).
func (h *harness) expect(want string, args ...string) {
	h.t.Helper()
	if got := h.do(args...).String(); got != want {
		h.t.Errorf("%v = %s, want %s", args, got, want)
	}
}

func (h *harness) advance(ms int64) { h.now += ms }

var _ = fmt.Sprint
