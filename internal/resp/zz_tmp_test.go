package resp

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTmpCorpusTiming(t *testing.T) {
	dir := os.Getenv("FUZZDIR")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		lines := strings.Split(string(b), "\n")
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		ms := strings.TrimSuffix(strings.TrimPrefix(lines[2], "byte("), ")")
		m, err := strconv.Unquote(ms)
		if err != nil {
			t.Fatal(ms, err)
		}
		mode := m[0]
		start := time.Now()
		done := make(chan struct{})
		go func() {
			lim := limits{maxArgs: 6, maxBulk: 40, maxQuery: 200, restricted: mode&1 == 1}
			if mode&2 != 0 {
				lim = testLimits()
			}
			parseChunked([]byte(data), lim, len(data)+1)
			parseChunked([]byte(data), lim, int(mode>>2)+1)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s hangs: %q mode %d", e.Name(), data, mode)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Logf("%s slow %v: %q mode %d", e.Name(), d, data, mode)
		}
	}
}
