package resp

import (
	"testing"
)

// FuzzParser feeds arbitrary bytes through the scanner and redcon, as a connection reads
// them, with small limits. It must never panic or hang, never let a command through that
// breaks a limit, and give the same result however the input is split into reads. The
// seed corpus (testdata/fuzz/FuzzParser) runs with every plain `go test`.
//
//	go test -run '^$' -fuzz FuzzParser ./internal/resp/
func FuzzParser(f *testing.F) {
	for _, in := range scannerInputs {
		if len(in) < 4096 {
			f.Add([]byte(in), byte(0))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		lim := limits{maxArgs: 6, maxBulk: 40, maxQuery: 200, restricted: mode&1 == 1}
		if mode&2 != 0 {
			lim = testLimits()
		}
		whole := parseChunked(data, lim, len(data)+1)
		size := int(mode>>2) + 1
		if split := parseChunked(data, lim, size); !split.equal(whole) {
			t.Fatalf("reads of %d bytes give %s\nwhole input gives %s", size, split, whole)
		}
		maxArgs, maxBulk := lim.maxArgs, lim.maxBulk
		for _, cmd := range whole.cmds {
			if len(cmd) == 0 || int64(len(cmd)) > maxArgs {
				t.Fatalf("command with %d arguments let through (limit %d)", len(cmd), maxArgs)
			}
			for _, a := range cmd {
				if int64(len(a)) > maxBulk {
					t.Fatalf("argument of %d bytes let through (limit %d)", len(a), maxBulk)
				}
			}
		}
	})
}
