package command

import (
	"testing"

	"ferricd/internal/keyspace"
)

// The GET/SET paths are benchmarked against Redis; these keep an eye on what the command
// layer itself adds (option parsing must not allocate) on top of the Txn.

func BenchmarkStringsSet(b *testing.B) {
	h := newHarness(b)
	spec := h.table.Get("set")
	args := strBytes([]string{"SET", "key:000042", "some-value-of-moderate-size", "PX", "60000"})
	batch := h.db.NewIndexedBatch()
	tx := keyspace.NewWriteTxn(batch, h.now, 1, h.counts)
	b.ReportAllocs()
	for b.Loop() {
		if v := spec.Run(tx, args); v.IsError() {
			b.Fatal(v)
		}
	}
}

func BenchmarkStringsGet(b *testing.B) {
	h := newHarness(b)
	h.do("SET", "key:000042", "some-value-of-moderate-size")
	spec := h.table.Get("get")
	args := strBytes([]string{"GET", "key:000042"})
	tx := keyspace.NewReadTxn(h.db, h.now, h.counts)
	b.ReportAllocs()
	for b.Loop() {
		if v := spec.Run(tx, args); v.IsError() {
			b.Fatal(v)
		}
	}
}

func BenchmarkStringsSetOptionParse(b *testing.B) {
	args := strBytes([]string{"SET", "k", "v", "nx", "GET", "PX", "60000"})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := strParseSetOpts(args, 3, true); !ok {
			b.Fatal("parse")
		}
	}
}
