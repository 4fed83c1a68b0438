package node

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A payload is what the node proposes to a shard's raft log: one operation, stamped by the
// proposer with everything apply needs to be deterministic (DESIGN.md §4).
//
//	kind(1) | time ms (8, big-endian) | body
//
// kindCommand body: uvarint argc, then per argument uvarint length + bytes.
// kindExpire body:  uvarint n, then n keys as above (delete each key that is due at time).
// kindFlush body:   one argument, the shard id (8 bytes big-endian): delete that shard's slots.
//
// Kinds are persisted in raft logs: never renumber them.
const (
	kindCommand byte = 1
	kindExpire  byte = 2
	kindFlush   byte = 3
)

var errBadPayload = errors.New("node: malformed payload")

func encodePayload(kind byte, nowMs int64, args [][]byte) []byte {
	size := 1 + 8 + binary.MaxVarintLen32
	for _, a := range args {
		size += binary.MaxVarintLen32 + len(a)
	}
	b := make([]byte, 0, size)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(nowMs))
	b = binary.AppendUvarint(b, uint64(len(args)))
	for _, a := range args {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

// decodePayload returns the payload's kind, time and arguments; the arguments alias p.
func decodePayload(p []byte) (kind byte, nowMs int64, args [][]byte, err error) {
	if len(p) < 9 {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", errBadPayload, len(p))
	}
	kind = p[0]
	nowMs = int64(binary.BigEndian.Uint64(p[1:9]))
	rest := p[9:]
	if len(rest) == 0 {
		return kind, nowMs, nil, nil
	}
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > uint64(len(rest)) {
		return 0, 0, nil, fmt.Errorf("%w: argument count", errBadPayload)
	}
	rest = rest[w:]
	args = make([][]byte, n)
	for i := range args {
		l, w := binary.Uvarint(rest)
		if w <= 0 || l > uint64(len(rest)-w) {
			return 0, 0, nil, fmt.Errorf("%w: argument %d", errBadPayload, i)
		}
		args[i] = rest[w : w+int(l) : w+int(l)]
		rest = rest[w+int(l):]
	}
	if len(rest) != 0 {
		return 0, 0, nil, fmt.Errorf("%w: %d trailing bytes", errBadPayload, len(rest))
	}
	return kind, nowMs, args, nil
}
