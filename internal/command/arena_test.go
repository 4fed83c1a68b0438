package command

import (
	"fmt"
	"testing"
)

// TestCopyArenaCopiesArePrivate: every copy keeps its contents while the source buffer is
// reused and later copies are made, appending to a copy never changes another, and nil and
// empty inputs come back as a non-nil empty slice.
func TestCopyArenaCopiesArePrivate(t *testing.T) {
	var a copyArena
	src := make([]byte, 0, 1<<17)
	var copies [][]byte
	var want []string
	for i := range 2000 {
		n := i % 700
		if i%997 == 0 {
			n = 100 << 10 // larger than a block
		}
		src = src[:0]
		for j := range n {
			src = append(src, byte('a'+(i+j)%26))
		}
		copies = append(copies, a.copy(src))
		want = append(want, string(src))
		clear(src) // the iterator moves on and reuses its buffer
	}
	for i, c := range copies {
		if cap(c) != len(c) {
			t.Fatalf("copy %d has capacity %d beyond its length %d", i, cap(c), len(c))
		}
		_ = append(c, "overwrite?"...)
	}
	for i, c := range copies {
		if string(c) != want[i] {
			t.Fatalf("copy %d changed: got %s, want %s", i, head(c), head([]byte(want[i])))
		}
	}
	for _, in := range [][]byte{nil, {}} {
		if got := a.copy(in); got == nil || len(got) != 0 {
			t.Errorf("copy(%#v) = %#v, want a non-nil empty slice", in, got)
		}
	}
}

// head describes b by its first bytes and length.
func head(b []byte) string { return fmt.Sprintf("%q… (%d bytes)", b[:min(len(b), 10)], len(b)) }
