package shard

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkSubmit measures a single-node group under 64 concurrent closed-loop submitters of
// 64-byte payloads, on an in-memory FS (CPU bound) and on disk (fsync bound).
func BenchmarkSubmit(b *testing.B) {
	for _, c := range []struct {
		name string
		disk bool
	}{{"mem", false}, {"disk", true}} {
		b.Run(c.name, func(b *testing.B) {
			fs, dir := vfs.FS(vfs.NewMem()), "db"
			if c.disk {
				fs, dir = vfs.Default, b.TempDir()
			}
			db := openDB(b, fs, dir)
			defer db.Close()
			sm := newTestSM(7)
			s := mustStart(b, testConfig(db, sm))
			defer s.Stop()
			waitFor(b, "leader", time.Second, func() bool { return s.Status().IsLeader })

			payload := make([]byte, 64)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range 64 {
				wg.Go(func() {
					done := make(chan error, 1)
					cb := func(_ any, err error) { done <- err }
					for next.Add(1) <= int64(b.N) {
						s.Submit(payload, cb)
						if err := <-done; err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "payloads/s")
			if n := sm.distinctEntries(); n > 0 {
				b.ReportMetric(float64(b.N)/float64(n), "payloads/entry")
			}
		})
	}
}
