package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire format. Every connection starts with a hello from each side, then carries frames:
//
//	frame := type(1B) | length(4B BE) | body
//
// Bodies by type:
//
//	frameRaft      uvarint shard | protobuf raftpb.Message
//	frameRequest   uvarint request id | opaque request (the Handler's format)
//	frameResponse  uvarint request id | status(1B) | opaque response
//	frameGossip    opaque (the Handler's format)
//	frameSnapshot  uvarint shard | protobuf raftpb.Message, followed on the same connection by
//	               the shard's snapshot stream (its own format) and a one-byte answer
//	frameDirectory, frameMeetAnswer: only on meet connections (meet.go)
const (
	frameRaft     byte = 1
	frameRequest  byte = 2
	frameResponse byte = 3
	frameGossip   byte = 4
	frameSnapshot byte = 5
)

// Response statuses.
const (
	statusOK      byte = 0
	statusRefused byte = 1 // the receiver could not serve the request (shutting down, overloaded)
)

// maxFrame bounds a frame body: a forwarded request may carry a value as large as Redis'
// proto-max-bulk-len (512 MB) plus its framing.
const maxFrame = 1<<30 + 1<<20

// Connection kinds announced in the hello.
const (
	connMain     byte = 0
	connSnapshot byte = 1
	connMeet     byte = 2 // see meet.go
)

var helloMagic = [4]byte{'F', 'R', 'C', 'D'}

const helloVersion byte = 1

// hello is the first message each side of a connection sends.
type hello struct {
	kind       byte
	from, to   uint64
	shards     uint32 // every node of a cluster must run the same shard count
	clientAddr string // where this node serves clients (MOVED, CLUSTER SLOTS)
}

func writeHello(w io.Writer, h hello) error {
	b := make([]byte, 0, 32+len(h.clientAddr))
	b = append(b, helloMagic[:]...)
	b = append(b, helloVersion, h.kind)
	b = binary.BigEndian.AppendUint64(b, h.from)
	b = binary.BigEndian.AppendUint64(b, h.to)
	b = binary.BigEndian.AppendUint32(b, h.shards)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.clientAddr)))
	b = append(b, h.clientAddr...)
	_, err := w.Write(b)
	return err
}

func readHello(r *bufio.Reader) (hello, error) {
	var fixed [4 + 2 + 8 + 8 + 4 + 2]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	if [4]byte(fixed[:4]) != helloMagic {
		return hello{}, errors.New("not a ferricd cluster bus connection")
	}
	if fixed[4] != helloVersion {
		return hello{}, fmt.Errorf("cluster bus version %d not supported", fixed[4])
	}
	h := hello{
		kind:   fixed[5],
		from:   binary.BigEndian.Uint64(fixed[6:]),
		to:     binary.BigEndian.Uint64(fixed[14:]),
		shards: binary.BigEndian.Uint32(fixed[22:]),
	}
	addr := make([]byte, binary.BigEndian.Uint16(fixed[26:]))
	if _, err := io.ReadFull(r, addr); err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	h.clientAddr = string(addr)
	return h, nil
}

func writeFrame(w *bufio.Writer, typ byte, body ...[]byte) error {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	if n > maxFrame {
		return fmt.Errorf("frame of %d bytes exceeds the limit", n)
	}
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for _, b := range body {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// readFrame reads one frame. The body is freshly allocated: handlers may keep it.
func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes exceeds the limit", n)
	}
	switch hdr[0] {
	case frameRaft, frameRequest, frameResponse, frameGossip, frameSnapshot, frameDirectory, frameMeetAnswer:
	default:
		return 0, nil, fmt.Errorf("unknown frame type %d", hdr[0])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

func takeUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errors.New("malformed varint")
	}
	return v, b[n:], nil
}
