package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

// regInput is one operation on a register (a key).
type regInput struct {
	key   string
	write bool
	value int64 // written value
}

// regOutput is what the operation observed. unknown marks a write whose outcome the client
// could not learn (it may have taken effect, at any time after its call).
type regOutput struct {
	value   int64 // read value; 0 = absent
	unknown bool
}

// registerModel is a map of independent registers, partitioned by key so each is checked
// on its own.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(regInput), output.(regOutput)
		if in.write {
			return true, in.value
		}
		return out.value == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		if in.write {
			return fmt.Sprintf("set(%s, %d) unknown=%v", in.key, in.value, out.unknown)
		}
		return fmt.Sprintf("get(%s) -> %d", in.key, out.value)
	},
}

// history collects operations from concurrent clients.
type history struct {
	mu  sync.Mutex
	ops []porcupine.Operation
}

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// TestRegisterHistoryIsLinearizable runs concurrent GET/SET clients against every node while
// a nemesis isolates nodes and kills one, then checks the history with porcupine.
func TestRegisterHistoryIsLinearizable(t *testing.T) {
	nodes := testserver.StartCluster(t, 3, "--shards", "4", "--enable-fault-injection", "yes")
	waitWritable(t, nodes[0], 15*time.Second)
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var h history
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const clients, keys = 6, 4
	for cid := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cid), 7))
			c := client(nodes[cid%len(nodes)])
			defer func() { c.Close() }()
			for seq := int64(1); ctx.Err() == nil; seq++ {
				key := "reg:" + strconv.Itoa(rng.IntN(keys))
				octx, cancel := context.WithTimeout(ctx, 5*time.Second)
				call := now()
				if rng.IntN(2) == 0 {
					v := int64(cid+1)*1_000_000 + seq
					err := c.Set(octx, key, v, 0).Err()
					ret := now()
					out := regOutput{}
					if err != nil {
						// Failed or unknown: it may still take effect, any time later.
						out.unknown, ret = true, math.MaxInt64
					}
					h.add(porcupine.Operation{ClientId: cid, Input: regInput{key: key, write: true, value: v}, Call: call, Output: out, Return: ret})
				} else {
					s, err := c.Get(octx, key).Result()
					ret := now()
					switch {
					case errors.Is(err, redis.Nil):
						h.add(porcupine.Operation{ClientId: cid, Input: regInput{key: key}, Call: call, Output: regOutput{}, Return: ret})
					case err == nil:
						v, perr := strconv.ParseInt(s, 10, 64)
						if perr != nil {
							t.Errorf("GET %s = %q: not a value any client wrote", key, s)
						}
						h.add(porcupine.Operation{ClientId: cid, Input: regInput{key: key}, Call: call, Output: regOutput{value: v}, Return: ret})
					}
					// A failed read observed nothing and is left out.
				}
				cancel()
				if ctx.Err() == nil && rng.IntN(50) == 0 {
					// Move to another node now and then, so each client sees several.
					c.Close()
					c = client(nodes[rng.IntN(len(nodes))])
				}
			}
		})
	}
	nemesis := []struct {
		after time.Duration
		what  string
		do    func()
	}{
		{1 * time.Second, "isolate node 1", func() { isolate(t, nodes, 1) }},
		{3 * time.Second, "heal", func() { setFaults(t, nodes, true) }},
		{4 * time.Second, "isolate node 3", func() { isolate(t, nodes, 3) }},
		{6 * time.Second, "heal", func() { setFaults(t, nodes, true) }},
		{7 * time.Second, "kill node 2", func() { nodes[1].Kill() }},
		{9 * time.Second, "restart node 2", func() { nodes[1].Restart() }},
		{11 * time.Second, "one-way: node 1 hears nobody", func() { setFaults(t, nodes, true, "2-1", "3-1") }},
		{13 * time.Second, "heal", func() { setFaults(t, nodes, true) }},
	}
	for _, step := range nemesis {
		time.Sleep(time.Until(start.Add(step.after)))
		t.Logf("%v: %s", time.Since(start).Round(time.Millisecond), step.what)
		step.do()
	}
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()

	writes, reads, unknown := 0, 0, 0
	for _, op := range h.ops {
		if op.Input.(regInput).write {
			writes++
			if op.Output.(regOutput).unknown {
				unknown++
			}
		} else {
			reads++
		}
	}
	t.Logf("history: %d writes (%d with unknown outcome), %d reads", writes, unknown, reads)
	if reads < 100 || writes < 100 {
		t.Fatalf("too little completed to check anything: %d reads, %d writes", reads, writes)
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, h.ops, 60*time.Second)
	switch res {
	case porcupine.Illegal:
		path := t.TempDir() + "/linearizability.html"
		if err := porcupine.VisualizePath(registerModel, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
		t.Fatal("the history is not linearizable")
	case porcupine.Unknown:
		t.Log("the linearizability check timed out (inconclusive)")
	}
}

// TestRegisterModelRejectsStaleRead is the checker's negative control: a read that returns a
// value overwritten before the read began must be caught.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	ops := []porcupine.Operation{
		{ClientId: 0, Input: regInput{key: "a", write: true, value: 1}, Call: 0, Output: regOutput{}, Return: 10},
		{ClientId: 0, Input: regInput{key: "a", write: true, value: 2}, Call: 20, Output: regOutput{}, Return: 30},
		{ClientId: 1, Input: regInput{key: "a"}, Call: 40, Output: regOutput{value: 1}, Return: 50},
	}
	if porcupine.CheckOperations(registerModel, ops) {
		t.Fatal("a stale read was accepted as linearizable")
	}
	// The same read concurrent with the second write is fine.
	ops[2].Call = 25
	if !porcupine.CheckOperations(registerModel, ops) {
		t.Fatal("a read concurrent with a write was rejected")
	}
	// A write with unknown outcome may never take effect.
	ops[1].Output, ops[1].Return = regOutput{unknown: true}, math.MaxInt64
	ops[2].Call = 40
	if !porcupine.CheckOperations(registerModel, ops) {
		t.Fatal("a write of unknown outcome was forced to take effect")
	}
}
