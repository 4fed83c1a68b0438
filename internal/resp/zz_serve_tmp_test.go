package resp

import (
	"os"
	"testing"
	"time"
)

func TestTmpServeForBenchmark(t *testing.T) {
	addr := os.Getenv("RESP_BENCH_ADDR")
	if addr == "" {
		t.Skip()
	}
	be := newFakeBackend()
	s, err := NewServer(Config{Addrs: []string{addr}, Table: testTable(), Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(40 * time.Second); s.Close() }()
	s.Serve(t.Context())
}
