package node

import (
	"runtime/metrics"

	"ferricd/internal/command"
	"ferricd/internal/reply"
)

// errOOM is Redis' refusal of a denyoom command above maxmemory.
var errOOM = reply.Err("OOM command not allowed when used memory > 'maxmemory'.")

// heapMetric is the live Go heap: what ferricd holds in memory (caches, buffers, pending
// replies). Pebble's block cache lives on the Go heap too (no cgo), so it counts.
const heapMetric = "/memory/classes/heap/objects:bytes"

// sampleMemory refreshes the memory figure maxmemory is checked against. Sampling (on the
// expiry tick) keeps runtime/metrics off the request path.
func (n *Node) sampleMemory() {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		used := s[0].Value.Uint64()
		n.usedMemory.Store(used)
		for peak := n.peakMemory.Load(); used > peak && !n.peakMemory.CompareAndSwap(peak, used); {
			peak = n.peakMemory.Load()
		}
	}
}

// overMemory reports whether a call must be refused with OOM: it may grow memory (denyoom)
// and the node is above maxmemory. Reads and deletions always go through, as in Redis.
func (n *Node) overMemory(spec *command.Spec) bool {
	if spec.Flags&command.FlagDenyOOM == 0 || n.cfg.InfoStatic.MaxMemory == nil {
		return false
	}
	limit := n.cfg.InfoStatic.MaxMemory()
	return limit > 0 && n.usedMemory.Load() > limit
}
