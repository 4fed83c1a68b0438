package command

// copyArena hands out copies of bytes an iterator owns (valid only until its next step),
// carved from shared blocks: reading N elements costs a few allocations instead of N, which
// matters for LRANGE-sized replies, where allocation and the GC work it causes were a third
// of the CPU. Copies never overlap and have their capacity clipped to their length, so each
// one is as private as a bytes.Clone; a block stays alive while any copy from it does.
type copyArena struct{ block []byte }

const (
	arenaMinBlock = 512
	arenaMaxBlock = 64 << 10
)

// copy returns a private copy of b.
func (a *copyArena) copy(b []byte) []byte {
	if len(b) == 0 {
		return []byte{} // never nil, as the copies it replaces: an empty string, not a null
	}
	if len(b) > cap(a.block)-len(a.block) {
		size := min(max(2*cap(a.block), arenaMinBlock), arenaMaxBlock)
		a.block = make([]byte, 0, max(size, len(b)))
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return a.block[start:len(a.block):len(a.block)]
}
