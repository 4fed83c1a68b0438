package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"ferricd/internal/command"
	"ferricd/internal/keyspace"
	"ferricd/internal/resp"
	"ferricd/internal/routing"
)

// replica is a state machine on its own DB, applied directly (no raft): what a follower does
// with the committed log.
type replica struct {
	db *pebble.DB
	n  *Node
}

func newReplica(t *testing.T) *replica {
	t.Helper()
	db := openDB(t, "")
	t.Cleanup(func() { db.Close() })
	counts, err := keyspace.LoadCounts(db)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := routing.NewTable(testShards)
	if err != nil {
		t.Fatal(err)
	}
	// Only what Apply uses: the command table, the counters, the routes and a logger.
	n := &Node{db: db, counts: counts, routes: routes, table: testTable, log: slog.New(slog.DiscardHandler)}
	return &replica{db: db, n: n}
}

// logEntry is one raft entry of one shard: its index and the payloads it carries.
type logEntry struct {
	shard    uint64
	index    uint64
	payloads [][]byte
}

// apply applies e as the shard's apply loop does (one indexed batch per entry) and returns the
// rendered results.
func (r *replica) apply(t *testing.T, e logEntry) []string {
	t.Helper()
	b := r.db.NewIndexedBatch()
	out := make([]string, len(e.payloads))
	for i, p := range e.payloads {
		orig := bytes.Clone(p)
		res := r.n.Apply(b, e.index, p)
		if !bytes.Equal(p, orig) {
			t.Fatalf("Apply modified its payload at index %d", e.index)
		}
		out[i] = fmt.Sprint(res)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	r.n.BatchCommitted(b)
	return out
}

// randomLog builds per-shard logs of write commands on a small key pool (keys of one shard per
// entry, as the node routes them), active-expiry and flush payloads, with stamped times that
// mostly advance but sometimes go back (proposals from concurrent connections).
func randomLog(t *testing.T, seed uint64, entries int) []logEntry {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	pools := map[uint64][]string{}
	for id := uint64(1); id <= testShards; id++ {
		for i := range 6 {
			pools[id] = append(pools[id], keyOnShard(t, id, fmt.Sprintf("s%d:k%d:", id, i)))
		}
		// Keys sharing a tag, for multi-key commands.
		tag := keyOnShard(t, id, fmt.Sprintf("tag%d:", id))
		for i := range 3 {
			pools[id] = append(pools[id], fmt.Sprintf("{%s}%d", tag, i))
		}
	}
	next := map[uint64]uint64{1: 11, 2: 11, 3: 11, 4: 11}
	now := startMs
	var log []logEntry
	var txCmds [][]byte
	for range entries {
		id := uint64(1 + rng.IntN(testShards))
		pool := pools[id]
		key := func() string { return pool[rng.IntN(len(pool))] }
		num := func() string { return fmt.Sprint(rng.IntN(200)) }
		e := logEntry{shard: id, index: next[id]}
		next[id]++
		for range 1 + rng.IntN(6) {
			now += int64(rng.IntN(40)) - 10
			var args []string
			switch rng.IntN(22) {
			case 0:
				args = []string{"set", key(), num()}
			case 1:
				args = []string{"set", key(), num(), "PX", fmt.Sprint(1 + rng.IntN(300))}
			case 2:
				args = []string{"set", key(), num(), "EX", "1", "GET"}
			case 3:
				args = []string{"set", key(), num(), "KEEPTTL", "NX"}
			case 4:
				args = []string{"incr", key()}
			case 5:
				args = []string{"incrbyfloat", key(), "1.5"}
			case 6:
				args = []string{"append", key(), num()}
			case 7:
				args = []string{"del", key(), key()}
			case 8:
				args = []string{"pexpire", key(), fmt.Sprint(rng.IntN(300) - 20)}
			case 9:
				args = []string{"expireat", key(), fmt.Sprint(now/1000 + int64(rng.IntN(3)))}
			case 10:
				args = []string{"persist", key()}
			case 11:
				args = []string{"getex", key(), "PX", fmt.Sprint(1 + rng.IntN(300))}
			case 12:
				args = []string{"getdel", key()}
			case 13:
				args = []string{"setrange", key(), fmt.Sprint(rng.IntN(10)), "abc"}
			case 14:
				args = []string{"setbit", key(), fmt.Sprint(rng.IntN(64)), fmt.Sprint(rng.IntN(2))}
			case 15:
				args = []string{"rename", key(), key()}
			case 16:
				args = []string{"copy", key(), key(), "REPLACE"}
			case 17:
				args = []string{"psetex", key(), fmt.Sprint(1 + rng.IntN(100)), "v"}
			case 18:
				args = []string{"bitfield", key(), "INCRBY", "u8", "0", "7"}
			case 19:
				// Active expiry of whatever the proposer thought was due.
				e.payloads = append(e.payloads, encodePayload(kindExpire, now, [][]byte{[]byte(key()), []byte(key())}))
				continue
			case 20:
				if rng.IntN(20) == 0 {
					var idb [8]byte
					for i := range idb {
						idb[i] = byte(id >> (56 - 8*i))
					}
					e.payloads = append(e.payloads, encodePayload(kindFlush, now, [][]byte{idb[:]}))
					continue
				}
				args = []string{"mset", pool[len(pool)-1], num(), pool[len(pool)-2], num()}
			case 21:
				args = []string{"getset", key(), num()}
			}
			bargs := make([][]byte, len(args))
			for i, a := range args {
				bargs[i] = []byte(a)
			}
			if spec := testTable.Lookup(bargs); spec == nil || spec.Kind != command.KindKeyWrite || !spec.CheckArity(len(bargs)) {
				t.Fatalf("test bug: %q is not a well-formed write", args)
			}
			if rng.IntN(5) == 0 {
				// Into this entry's transaction (kindMulti), sent after its other payloads.
				txCmds = append(txCmds, appendArgs(nil, bargs))
				continue
			}
			e.payloads = append(e.payloads, encodePayload(kindCommand, now, bargs))
		}
		if len(txCmds) > 0 {
			var watched []resp.Watched
			if rng.IntN(2) == 0 {
				// A version that may or may not be the key's: both outcomes get exercised.
				watched = append(watched, resp.Watched{Key: []byte(key()), Version: uint64(rng.IntN(int(e.index)))})
			}
			e.payloads = append(e.payloads, encodePayload(kindMulti, now, append([][]byte{encodeWatched(watched)}, txCmds...)))
			txCmds = nil
		}
		log = append(log, e)
	}
	return log
}

// TestApplyDeterministic: two replicas applying the same log compute the same results and
// hold byte-identical data spans after every entry.
func TestApplyDeterministic(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			log := randomLog(t, seed, 1000)
			a, b := newReplica(t), newReplica(t)
			replies, errReplies := 0, 0
			for i, e := range log {
				ra, rb := a.apply(t, e), b.apply(t, e)
				for j := range ra {
					replies++
					if strings.HasPrefix(ra[j], "-") {
						errReplies++
					}
					if ra[j] != rb[j] {
						t.Fatalf("entry %d (shard %d index %d) payload %d: replicas answered %s and %s", i, e.shard, e.index, j, ra[j], rb[j])
					}
					if strings.Contains(ra[j], "ERR internal error") {
						t.Fatalf("entry %d payload %d: Apply answered %s", i, j, ra[j])
					}
				}
				if i%100 == 99 || i == len(log)-1 {
					da, db := dumpData(t, a.db), dumpData(t, b.db)
					if !bytes.Equal(da, db) {
						t.Fatalf("after entry %d the replicas' data differ: %s", i, firstDiff(da, db))
					}
				}
			}
			if errReplies*4 > replies {
				t.Errorf("test bug: %d of %d payloads were answered with errors; the log exercises little", errReplies, replies)
			}
			all := routing.Range{Start: 0, End: routing.NumSlots}
			if a.n.counts.Keys(all) != b.n.counts.Keys(all) || a.n.counts.Expires(all) != b.n.counts.Expires(all) {
				t.Errorf("replica counters differ: %d/%d vs %d/%d", a.n.counts.Keys(all), a.n.counts.Expires(all),
					b.n.counts.Keys(all), b.n.counts.Expires(all))
			}
			if a.n.counts.Keys(all) == 0 {
				t.Error("test bug: the log left no keys to compare")
			}
		})
	}
}

// TestApplyRejectsBadPayloads: payloads a correct proposer never makes are answered with an
// internal error by every replica alike, without touching the data.
func TestApplyRejectsBadPayloads(t *testing.T) {
	r := newReplica(t)
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"truncated", []byte{kindCommand, 0, 0}},
		{"read command", encodePayload(kindCommand, startMs, [][]byte{[]byte("get"), []byte("k")})},
		{"server command", encodePayload(kindCommand, startMs, [][]byte{[]byte("flushall")})},
		{"unknown command", encodePayload(kindCommand, startMs, [][]byte{[]byte("nosuch"), []byte("k")})},
		{"unknown kind", encodePayload(99, startMs, [][]byte{[]byte("k")})},
		{"flush without shard", encodePayload(kindFlush, startMs, nil)},
		{"flush of shard 0", encodePayload(kindFlush, startMs, [][]byte{make([]byte, 8)})},
		{"flush of shard 5", encodePayload(kindFlush, startMs, [][]byte{{0, 0, 0, 0, 0, 0, 0, 5}})},
	} {
		got := r.apply(t, logEntry{index: 20, payloads: [][]byte{c.payload}})
		if got[0] != "-ERR internal error" {
			t.Errorf("%s payload: Apply = %s, want -ERR internal error", c.name, got[0])
		}
	}
	if d := dumpData(t, r.db); len(d) != 0 {
		t.Errorf("bad payloads wrote data:\n%s", d)
	}
}

// TestTwoNodesSameCommandsSameData: two nodes with the same fixed clock, fed the same commands
// one at a time, end with byte-identical data spans (raft indexes, stamped times and the
// values derived from them included).
func TestTwoNodesSameCommandsSameData(t *testing.T) {
	fixed := func(c *Config) { c.ExpiryInterval = time.Hour }
	n1, n2 := newTestNode(t, fixed), newTestNode(t, fixed)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 400 {
		k := fmt.Sprintf("k%d", rng.IntN(30))
		var args []string
		switch rng.IntN(6) {
		case 0:
			args = []string{"set", k, fmt.Sprint(i), "PX", fmt.Sprint(1 + rng.IntN(5000))}
		case 1:
			args = []string{"incr", k}
		case 2:
			args = []string{"append", k, "x"}
		case 3:
			args = []string{"del", k}
		case 4:
			args = []string{"expire", k, fmt.Sprint(rng.IntN(100))}
		case 5:
			args = []string{"set", k, "v"}
		}
		r1, r2 := n1.do(args...), n2.do(args...)
		if r1.String() != r2.String() {
			t.Fatalf("%q: nodes answered %s and %s", args, r1, r2)
		}
		if i%50 == 0 {
			n1.clock.advance(time.Second)
			n2.clock.advance(time.Second)
		}
	}
	d1, d2 := dumpData(t, n1.db), dumpData(t, n2.db)
	if !bytes.Equal(d1, d2) {
		t.Errorf("the nodes' data differ: %s", firstDiff(d1, d2))
	}
	if len(d1) == 0 {
		t.Error("test bug: no data to compare")
	}
}
