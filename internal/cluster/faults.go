package cluster

import (
	"errors"
	"sync"
)

var errMalformed = errors.New("cluster: malformed frame")

// Faults injects network faults into a transport, for tests: a blocked direction loses every
// frame in it (raft messages silently, requests until their caller's deadline), as a
// partition would. A nil *Faults injects nothing. Safe for concurrent use.
type Faults struct {
	mu  sync.RWMutex
	cut map[[2]uint64]bool // {from, to}
}

// Block loses everything sent from `from` to `to` (one way).
func (f *Faults) Block(from, to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut == nil {
		f.cut = make(map[[2]uint64]bool)
	}
	f.cut[[2]uint64{from, to}] = true
}

// Isolate blocks both directions between node and every other node in others.
func (f *Faults) Isolate(node uint64, others ...uint64) {
	for _, o := range others {
		f.Block(node, o)
		f.Block(o, node)
	}
}

// Heal removes every fault.
func (f *Faults) Heal() {
	f.mu.Lock()
	f.cut = nil
	f.mu.Unlock()
}

func (f *Faults) blocked(from, to uint64) bool {
	if f == nil {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cut[[2]uint64{from, to}]
}
