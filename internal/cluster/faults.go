package cluster

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
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

// ServeHTTP lets tests that run nodes as processes inject faults (it is mounted only when
// fault injection is enabled): POST ?block=FROM-TO[&block=...] adds one-way blocks, POST
// ?heal=1 removes every fault. Every node is told about every block; each applies the
// directions that touch it.
func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	if q.Get("heal") != "" {
		f.Heal()
	}
	for _, b := range q["block"] {
		from, to, ok := strings.Cut(b, "-")
		fromID, err1 := strconv.ParseUint(from, 10, 64)
		toID, err2 := strconv.ParseUint(to, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			http.Error(w, "block wants FROM-TO node ids", http.StatusBadRequest)
			return
		}
		f.Block(fromID, toID)
	}
	w.WriteHeader(http.StatusNoContent)
}
