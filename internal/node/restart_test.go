package node

import (
	"bytes"
	"fmt"
	"testing"

	"ferricd/internal/routing"
)

// TestRestartKeepsDataAndCounts: after closing the node and its DB and reopening both on the
// same directory, values, TTLs, the slot counters and the data spans are exactly as before,
// and the keyspace keeps working.
func TestRestartKeepsDataAndCounts(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	tn := startNode(t, openDB(t, dir), clock, nil)
	var segment [][]string
	for i := range 300 {
		k := fmt.Sprintf("key:%d", i)
		switch i % 4 {
		case 0:
			segment = append(segment, []string{"set", k, fmt.Sprint("v", i)})
		case 1:
			segment = append(segment, []string{"set", k, fmt.Sprint("v", i), "PX", fmt.Sprint(100000 + i)})
		case 2:
			segment = append(segment, []string{"incrby", k, fmt.Sprint(i)})
		case 3:
			segment = append(segment, []string{"append", k, "x"}, []string{"append", k, "y"})
		}
	}
	segment = append(segment, []string{"del", "key:0"}, []string{"incr", "counter"}, []string{"incr", "counter"})
	for i, v := range tn.exec(segment...) {
		if v.IsError() {
			t.Fatalf("%q = %s", segment[i], v)
		}
	}
	var reads [][]string
	for i := range 300 {
		k := fmt.Sprintf("key:%d", i)
		reads = append(reads, []string{"get", k}, []string{"pttl", k})
	}
	reads = append(reads, []string{"get", "counter"}, []string{"dbsize"})
	before := tn.exec(reads...)
	all := routing.Range{Start: 0, End: routing.NumSlots}
	keysBefore, expBefore := tn.n.Counts().Keys(all), tn.n.Counts().Expires(all)
	dataBefore := dumpData(t, tn.db)
	if keysBefore != 300 || expBefore != 75 {
		t.Fatalf("before restart: counters keys=%d expires=%d, want 300 and 75", keysBefore, expBefore)
	}

	tn.close()
	tn = startNode(t, openDB(t, dir), clock, nil)

	if d := dumpData(t, tn.db); !bytes.Equal(d, dataBefore) {
		t.Errorf("data spans changed across the restart: %s", firstDiff(dataBefore, d))
	}
	if k, e := tn.n.Counts().Keys(all), tn.n.Counts().Expires(all); k != keysBefore || e != expBefore {
		t.Errorf("after restart: counters keys=%d expires=%d, want %d and %d", k, e, keysBefore, expBefore)
	}
	after := tn.exec(reads...)
	for i := range reads {
		if after[i].String() != before[i].String() {
			t.Errorf("%q = %s after restart, %s before", reads[i], after[i], before[i])
		}
	}
	tn.expect(":3", "incr", "counter")
	tn.expect("+OK", "set", "new", "v")
	if n := tn.dbsize(); n != keysBefore+1 {
		t.Errorf("DBSIZE after restart and one new key = %d, want %d", n, keysBefore+1)
	}
}
