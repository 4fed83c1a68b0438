package command

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/keyspace"
)

// Behaviour that Redis cannot be asked about: generic commands on a bare collection record and
// storage faults.

func TestGenericOnCollections(t *testing.T) {
	g := newSrvHarness(t)
	g.write(func(tx *keyspace.Txn) error {
		return tx.Put([]byte("l"), keyspace.Meta{Type: keyspace.TypeList, Version: tx.NewVersion(), Size: 3})
	})
	for _, c := range []struct {
		want string
		args []string
	}{
		{"+list", []string{"TYPE", "l"}},
		{`"quicklist"`, []string{"OBJECT", "ENCODING", "l"}},
		{":1", []string{"OBJECT", "REFCOUNT", "l"}},
		{":96", []string{"MEMORY", "USAGE", "l"}},
		{`["0" ["l"]]`, []string{"SCAN", "0", "TYPE", "LIST"}},
		{`["0" []]`, []string{"SCAN", "0", "TYPE", "string"}},
		// RENAME and COPY move a collection's metadata (and sub-keys) to the new name.
		{"+OK", []string{"RENAME", "l", "m"}},
		{":0", []string{"EXISTS", "l"}},
		{":1", []string{"COPY", "m", "l"}},
		{"+list", []string{"TYPE", "m"}},
		{":1", []string{"DEL", "m"}},
		{":1", []string{"EXPIRE", "l", "100"}},
		{":100", []string{"TTL", "l"}},
		{":1", []string{"PERSIST", "l"}},
		{":1", []string{"DEL", "l"}},
		{"+none", []string{"TYPE", "l"}},
	} {
		g.expect(c.want, c.args...)
	}
}

func TestStorageFaults(t *testing.T) {
	g := newSrvHarness(t)
	// Metadata that does not decode: every command reports Redis' internal error, never the
	// Go text.
	if err := g.db.Set(keyspace.MetaKey([]byte("bad")), []byte{1, 2}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"DEL", "bad"}, {"EXISTS", "bad"}, {"TYPE", "bad"}, {"RENAME", "bad", "x"},
		{"RENAME", "x", "bad"}, {"COPY", "bad", "x"}, {"EXPIRE", "bad", "10"}, {"TTL", "bad"},
		{"PERSIST", "bad"}, {"OBJECT", "ENCODING", "bad"}, {"MEMORY", "USAGE", "bad"},
		{"KEYS", "*"}, {"SCAN", "0"},
	} {
		g.set("x", "1", 0)
		g.expect("-ERR internal error", args...)
	}
	g.expect(":1", "DEL", "x")
	for range 20 { // whatever slot it starts at, RANDOMKEY reaches the only key
		g.expect("-ERR internal error", "RANDOMKEY")
	}
}
