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
// The bodies are argument lists (appendArgs: uvarint argc, then per argument uvarint
// length + bytes):
//
//	kindCommand: the command's arguments.
//	kindExpire:  the keys to delete if they are due at time.
//	kindFlush:   one argument, the shard id (8 bytes big-endian): delete that shard's slots.
//	kindMulti:   a transaction (MULTI/EXEC): the first argument is the watched keys, as an
//	             argument list of key, version (8 bytes big-endian) pairs; every further
//	             argument is one command, as an argument list.
//
// Kinds are persisted in raft logs: never renumber them.
const (
	kindCommand byte = 1
	kindExpire  byte = 2
	kindFlush   byte = 3
	kindMulti   byte = 4
)

var errBadPayload = errors.New("node: malformed payload")

func encodePayload(kind byte, nowMs int64, args [][]byte) []byte {
	b := make([]byte, 0, 1+8+argsSize(args))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(nowMs))
	return appendArgs(b, args)
}

// argsSize bounds the size appendArgs needs for args.
func argsSize(args [][]byte) int {
	size := binary.MaxVarintLen32
	for _, a := range args {
		size += binary.MaxVarintLen32 + len(a)
	}
	return size
}

// appendArgs appends args as an argument list.
func appendArgs(b []byte, args [][]byte) []byte {
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
	if len(p) == 9 {
		return kind, nowMs, nil, nil
	}
	args, err = decodeArgs(p[9:])
	if err != nil {
		return 0, 0, nil, err
	}
	return kind, nowMs, args, nil
}

// decodeArgs decodes a whole argument list; the arguments alias b.
func decodeArgs(b []byte) ([][]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: argument count", errBadPayload)
	}
	rest := b[w:]
	args := make([][]byte, n)
	for i := range args {
		l, w := binary.Uvarint(rest)
		if w <= 0 || l > uint64(len(rest)-w) {
			return nil, fmt.Errorf("%w: argument %d", errBadPayload, i)
		}
		args[i] = rest[w : w+int(l) : w+int(l)]
		rest = rest[w+int(l):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadPayload, len(rest))
	}
	return args, nil
}
