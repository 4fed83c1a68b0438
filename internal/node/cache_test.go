package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"ferricd/internal/reply"
)

// versionedKey is one key of TestCacheConcurrentReadsMonotonic, written by exactly one writer
// whose successive states carry increasing versions.
//
// A string key goes, in round r, through SET "r:" (version 4r), APPEND "+" (4r+1, value
// "r:+"), EXPIRE (no new version) and, in some rounds, DEL (4r+2, absent). A counter key's
// version is its integer value (absent: 0); its writer only INCRs it, sets it to the next
// value, or changes its TTL.
type versionedKey struct {
	name    string
	counter bool
	// issued is the highest version a write was submitted for, acked the highest one
	// acknowledged; both are updated by the writer only (issued before Exec, acked after).
	issued, acked atomic.Int64

	// initial is the version of the key before any write (it is absent).
	initial int64

	mu     sync.Mutex
	absent []int64 // versions at which the key was absent, increasing, initial first
}

// absentAtOrAfter returns the first version >= from at which the key is absent, or false.
func (k *versionedKey) absentAtOrAfter(from int64) (int64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := sort.Search(len(k.absent), func(i int) bool { return k.absent[i] >= from })
	if i == len(k.absent) {
		return 0, false
	}
	return k.absent[i], true
}

// version parses a GET reply of k: its version, or ok=false for an absent key.
func (k *versionedKey) version(v reply.Value) (ver int64, present bool, err error) {
	switch v.Kind {
	case reply.KindNull:
		return 0, false, nil
	case reply.KindBulk:
	default:
		return 0, false, fmt.Errorf("GET %s = %s", k.name, v)
	}
	s := string(v.Str)
	if k.counter {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("GET %s = %q, not a counter value", k.name, s)
		}
		return n, true, nil
	}
	r, rest, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(r, 10, 64)
	if !ok || err != nil || n <= 0 || rest != "" && rest != "+" {
		return 0, false, fmt.Errorf("GET %s = %q, not a value its writer writes", k.name, s)
	}
	if rest == "+" {
		return 4*n + 1, true, nil
	}
	return 4 * n, true, nil
}

// execOne runs cmds as one pipeline segment from a goroutine (no Fatal) and returns the replies.
func execOne(tn *testNode, cmds ...[]string) []reply.Value {
	cs := calls(tn.t, cmds)
	out := make([]reply.Value, len(cs))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tn.n.Exec(ctx, cs, out)
	return out
}

// TestCacheConcurrentReadsMonotonic: readers GET a small set of keys (single GETs and pipelines
// of GETs, all served through the cache) while one writer per key SETs, APPENDs, EXPIREs, DELs
// or INCRs it, one command per segment or pipelined. Every value a reader gets must have been
// written by an acknowledged or in-flight write, be at least as new as every write
// acknowledged before the read started, and never older than what the same reader already saw
// for that key. At the end, reads return the final values. Run it with -race.
//
// With the default test cache nothing is evicted; with the tiny one each stripe holds about one
// entry and readers also GET absent noise keys, so the keys are evicted and refilled all the
// time and fills race with writes.
func TestCacheConcurrentReadsMonotonic(t *testing.T) {
	t.Run("default cache", func(t *testing.T) { testReadsMonotonic(t, testCacheBytes, 0) })
	t.Run("tiny cache", func(t *testing.T) { testReadsMonotonic(t, 64*100, 500) })
}

func testReadsMonotonic(t *testing.T, cacheBytes int64, noiseKeys int) {
	tn := newTestNode(t, func(c *Config) { c.CacheBytes = cacheBytes })
	if tn.n.cache == nil {
		t.Fatal("test nodes should run with the key cache")
	}
	const (
		strKeys = 6
		ctrKeys = 3
		rounds  = 120
		readers = 3
	)
	var keys []*versionedKey
	for i := range strKeys {
		keys = append(keys, &versionedKey{name: fmt.Sprintf("str:%d", i), absent: []int64{-1}})
	}
	for i := range ctrKeys {
		keys = append(keys, &versionedKey{name: fmt.Sprintf("ctr:%d", i), counter: true, absent: []int64{0}})
	}
	for _, k := range keys {
		k.initial = k.absent[0]
		k.issued.Store(k.initial)
		k.acked.Store(k.initial)
	}

	var writers sync.WaitGroup
	for wi, k := range keys {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(wi), 77))
			// write submits cmds as one segment whose last write leaves version v, checks
			// the replies against want, and publishes the versions around it.
			write := func(v int64, del bool, want []string, cmds ...[]string) {
				if del {
					k.mu.Lock()
					k.absent = append(k.absent, v)
					k.mu.Unlock()
				}
				k.issued.Store(v)
				out := execOne(tn, cmds...)
				for i, o := range out {
					if got := o.String(); got != want[i] {
						t.Errorf("writer of %s: %q = %s, want %s", k.name, cmds[i], got, want[i])
					}
				}
				k.acked.Store(v)
			}
			if k.counter {
				n := int64(0)
				for range rounds * 3 {
					switch r := rng.IntN(10); {
					case r < 5:
						n++
						write(n, false, []string{fmt.Sprint(":", n)}, []string{"incr", k.name})
					case r < 7:
						n += 3
						write(n, false, []string{fmt.Sprint(":", n-2), fmt.Sprint(":", n-1), fmt.Sprint(":", n)},
							[]string{"incr", k.name}, []string{"incr", k.name}, []string{"incr", k.name})
					case r < 8:
						n++
						write(n, false, []string{"+OK"}, []string{"set", k.name, fmt.Sprint(n)})
					default:
						if n == 0 {
							continue
						}
						write(n, false, []string{":1", ":1"}, []string{"expire", k.name, "1000"}, []string{"persist", k.name})
					}
				}
				return
			}
			for r := int64(1); r <= rounds; r++ {
				set := fmt.Sprintf("%d:", r)
				del := rng.IntN(2) == 0 && r < rounds
				if rng.IntN(2) == 0 {
					// Pipelined: the segment's writes share raft entries and apply batches.
					cmds := [][]string{{"set", k.name, set}, {"append", k.name, "+"}, {"expire", k.name, "1000"}}
					want := []string{"+OK", fmt.Sprint(":", len(set)+1), ":1"}
					v := 4*r + 1
					if del {
						cmds = append(cmds, []string{"del", k.name})
						want = append(want, ":1")
						v = 4*r + 2
					}
					write(v, del, want, cmds...)
					continue
				}
				write(4*r, false, []string{"+OK"}, []string{"set", k.name, set})
				write(4*r+1, false, []string{fmt.Sprint(":", len(set)+1)}, []string{"append", k.name, "+"})
				write(4*r+1, false, []string{":1"}, []string{"expire", k.name, "1000"})
				if del {
					write(4*r+2, true, []string{":1"}, []string{"del", k.name})
				}
			}
		})
	}

	var done atomic.Bool
	var reads, stale atomic.Int64
	var rwg sync.WaitGroup
	for ri := range readers {
		rwg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(ri), 99))
			seen := make([]int64, len(keys)) // per key: the newest version this reader saw
			for i, k := range keys {
				seen[i] = k.initial
			}
			for !done.Load() {
				n := 1 + rng.IntN(4)
				idx := make([]int, n)
				cmds := make([][]string, n)
				floor := make([]int64, n)
				for j := range n {
					if noiseKeys > 0 && rng.IntN(3) == 0 {
						idx[j] = -1
						cmds[j] = []string{"get", fmt.Sprintf("noise:%d", rng.IntN(noiseKeys))}
						continue
					}
					idx[j] = rng.IntN(len(keys))
					cmds[j] = []string{"get", keys[idx[j]].name}
					floor[j] = keys[idx[j]].acked.Load()
				}
				out := execOne(tn, cmds...)
				for j, o := range out {
					i := idx[j]
					if i < 0 {
						if o.Kind != reply.KindNull {
							t.Errorf("reader %d: %q = %s, a key nobody writes", ri, cmds[j], o)
						}
						continue
					}
					k := keys[i]
					issued := k.issued.Load()
					reads.Add(1)
					lower := max(floor[j], seen[i])
					v, present, err := k.version(o)
					if err != nil {
						t.Error(err)
						continue
					}
					if !present {
						a, ok := k.absentAtOrAfter(lower)
						if !ok || a > issued {
							stale.Add(1)
							t.Errorf("reader %d: GET %s = nil, but the key exists at every version from %d (acked before the read %d, seen %d) to the highest issued %d",
								ri, k.name, lower, floor[j], seen[i], issued)
							continue
						}
						v = a
					}
					if v > issued {
						t.Errorf("reader %d: GET %s = %s (version %d), beyond every write issued (%d)", ri, k.name, o, v, issued)
					}
					if v < floor[j] {
						stale.Add(1)
						t.Errorf("reader %d: GET %s = %s (version %d), older than the write acknowledged before the read (%d)", ri, k.name, o, v, floor[j])
					}
					if v < seen[i] {
						stale.Add(1)
						t.Errorf("reader %d: GET %s = %s (version %d) after this reader saw version %d: reads went back in time", ri, k.name, o, v, seen[i])
					}
					seen[i] = max(seen[i], v)
				}
			}
		})
	}
	writers.Wait()
	done.Store(true)
	rwg.Wait()
	t.Logf("%d reads checked, %d stale, %d keys cached", reads.Load(), stale.Load(), tn.n.cache.Len())

	for _, k := range keys {
		var want string
		switch {
		case k.counter:
			want = fmt.Sprintf("%q", fmt.Sprint(k.acked.Load()))
		default:
			want = fmt.Sprintf("%q", fmt.Sprintf("%d:+", rounds))
		}
		for range 2 {
			tn.expect(want, "get", k.name)
		}
	}
	if noiseKeys == 0 && tn.n.cache.Len() == 0 {
		t.Error("the key cache is empty after the test: reads did not go through it")
	}
}

// TestCacheFlushAllWarm: FLUSHALL with every key cached (values and known-absent keys) empties
// the keyspace for every later read, in the same pipeline and in later ones, and keys written
// after it read back their new values.
func TestCacheFlushAllWarm(t *testing.T) {
	tn := newTestNode(t, nil)
	var keys []string
	for id := uint64(1); id <= testShards; id++ {
		keys = append(keys, keyOnShard(t, id, fmt.Sprintf("warm%d:", id)), keyOnShard(t, id, fmt.Sprintf("cold%d:", id)))
	}
	for i, k := range keys {
		if i%2 == 0 {
			tn.expect("+OK", "set", k, "v-"+k)
		}
	}
	tn.expect("+OK", "set", "ctr", "41")
	tn.expect(":42", "incr", "ctr")
	for range 2 { // fill, then hit
		for i, k := range keys {
			want := "(nil)"
			if i%2 == 0 {
				want = fmt.Sprintf("%q", "v-"+k)
			}
			tn.expect(want, "get", k)
		}
		tn.expect(`"42"`, "get", "ctr")
	}
	if n := tn.n.cache.Len(); n < len(keys)+1 {
		t.Fatalf("cache holds %d keys after reading %d: the test needs a warm cache", n, len(keys)+1)
	}

	tn.expect("+OK", "flushall")
	for range 2 {
		for _, k := range append(keys, "ctr") {
			tn.expect("(nil)", "get", k)
			tn.expect(":0", "exists", k)
		}
	}
	if n := tn.dbsize(); n != 0 {
		t.Errorf("DBSIZE after FLUSHALL = %d", n)
	}
	tn.expect(":1", "incr", "ctr")
	tn.expect(`"1"`, "get", "ctr")

	// Warm again, then a pipeline: SET, FLUSHALL, GET, SET, GET, INCR.
	tn.expect(`"1"`, "get", "ctr")
	tn.expect("+OK", "set", keys[0], "again")
	tn.expect(`"again"`, "get", keys[0])
	out := tn.exec(
		[]string{"set", keys[1], "x"},
		[]string{"flushall"},
		[]string{"get", keys[0]},
		[]string{"get", keys[1]},
		[]string{"set", keys[2], "after"},
		[]string{"get", keys[2]},
		[]string{"incr", "ctr"},
		[]string{"get", "ctr"},
	)
	want := []string{"+OK", "+OK", "(nil)", "(nil)", "+OK", `"after"`, ":1", `"1"`}
	for i, v := range out {
		if v.String() != want[i] {
			t.Errorf("pipeline reply %d = %s, want %s", i, v, want[i])
		}
	}
	for _, k := range keys {
		want := "(nil)"
		if k == keys[2] {
			want = `"after"`
		}
		tn.expect(want, "get", k)
	}
}

// TestCachePipelineSeesStagedWrites: the writes of one pipeline segment usually share an
// apply batch, where each one runs as its own Txn and must see the earlier ones' staged
// metadata (a staged delete included) rather than the cache's committed value.
func TestCachePipelineSeesStagedWrites(t *testing.T) {
	tn := newTestNode(t, nil)
	key := keyOnShard(t, 2, "staged:")
	for i := range 50 {
		tn.expect("+OK", "set", key, "old")
		tn.expect(`"old"`, "get", key) // cached
		out := tn.exec(
			[]string{"del", key},
			[]string{"append", key, "x"},
			[]string{"append", key, "y"},
			[]string{"get", key},
			[]string{"set", key, "5"},
			[]string{"incr", key},
			[]string{"expire", key, "1000"},
			[]string{"del", key},
			[]string{"del", key},
			[]string{"incr", key},
			[]string{"get", key},
		)
		want := []string{":1", ":1", ":2", `"xy"`, "+OK", ":6", ":1", ":1", ":0", ":1", `"1"`}
		for j, v := range out {
			if v.String() != want[j] {
				t.Fatalf("iteration %d: pipeline reply %d = %s, want %s", i, j, v, want[j])
			}
		}
		tn.expect(`"1"`, "get", key)
		tn.expect(":-1", "ttl", key)
	}
}

// TestCacheCommitPublishWindowNode is TestCacheCommitPublishWindow at the node level: it
// applies a write the way the shard goroutine does (Apply, BatchCommitting, Commit,
// BatchCommitted) and reads between the commit and the publish: an MGET (snapshot, no cache)
// and then a GET (cache) must both return the new value.
func TestCacheCommitPublishWindowNode(t *testing.T) {
	tn := newTestNode(t, nil)
	key := keyOnShard(t, 1, "window:")
	other := keyOnShard(t, 1, "other:")
	tn.expect("+OK", "set", key, "v1")
	tn.expect(`"v1"`, "get", key) // cached

	b := tn.db.NewIndexedBatch()
	res := tn.n.Apply(b, 1<<40, encodePayload(kindCommand, tn.n.nowMs(), [][]byte{[]byte("set"), []byte(key), []byte("v2")}))
	if v, ok := res.(reply.Value); !ok || v.String() != "+OK" {
		t.Fatalf("Apply(SET) = %v", res)
	}
	tn.n.BatchCommitting(b)
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	mget := tn.do("mget", key, other).String()
	get := tn.do("get", key).String()
	tn.n.BatchCommitted(b)
	b.Close()
	if mget != `["v2" (nil)]` || get != `"v2"` {
		t.Errorf("MGET returned %s, then GET returned %s; want v2 both times", mget, get)
	}
}
