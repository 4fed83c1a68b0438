package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The snapshot stream is a sequence of blocks:
//
//	kind (1B) | payload length (4B BE) | payload | CRC-32C of kind, length and payload (4B BE)
//
// The first block is a header ('H'), then come key/value blocks ('K'), and the last is an end
// block ('E'); nothing is read after it, so the stream may share a connection with what
// follows. Payloads:
//
//	H: version (1B) = 1 | shard id (8B) | index (8B) | term (8B) | uvarint len | ConfState |
//	   uvarint span count | count x (uvarint len | start | uvarint len | end)
//	K: repeated (uvarint len | key | uvarint len | value), keys strictly increasing across the
//	   whole stream and inside the header's spans
//	E: key count (8B) | key and value bytes (8B)
//
// The block checksums catch corruption, the end block catches truncation (a missing block
// would also break the key count), and the receiver checks the header against the MsgSnap and
// its own spans.
const (
	blockHeader byte = 'H'
	blockKVs    byte = 'K'
	blockEnd    byte = 'E'

	streamVersion byte = 1
	// targetBlockBytes is where the sender cuts key/value blocks; one large value makes a
	// larger block.
	targetBlockBytes = 256 << 10
	// maxBlockBytes bounds one block: a value up to Redis' 512 MiB plus its key.
	maxBlockBytes = 1<<30 + 1<<20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapHeader is the decoded H block.
type snapHeader struct {
	shardID, index, term uint64
	conf                 *raftpb.ConfState
	spans                []Span
}

func (h *snapHeader) encode() ([]byte, error) {
	conf, err := proto.Marshal(h.conf)
	if err != nil {
		return nil, err
	}
	b := []byte{streamVersion}
	b = binary.BigEndian.AppendUint64(b, h.shardID)
	b = binary.BigEndian.AppendUint64(b, h.index)
	b = binary.BigEndian.AppendUint64(b, h.term)
	b = appendBytes(b, conf)
	b = binary.AppendUvarint(b, uint64(len(h.spans)))
	for _, sp := range h.spans {
		b = appendBytes(b, sp.Start)
		b = appendBytes(b, sp.End)
	}
	return b, nil
}

func decodeHeader(p []byte) (*snapHeader, error) {
	if len(p) < 25 || p[0] != streamVersion {
		return nil, errors.New("unknown snapshot stream version")
	}
	h := &snapHeader{
		shardID: binary.BigEndian.Uint64(p[1:]),
		index:   binary.BigEndian.Uint64(p[9:]),
		term:    binary.BigEndian.Uint64(p[17:]),
		conf:    &raftpb.ConfState{},
	}
	rest := p[25:]
	conf, rest, ok := takeBytes(rest)
	if !ok {
		return nil, errors.New("bad header: ConfState")
	}
	if err := proto.Unmarshal(conf, h.conf); err != nil {
		return nil, fmt.Errorf("bad header: ConfState: %w", err)
	}
	n, rest, ok := uvarint(rest)
	if !ok || n > uint64(len(rest)) {
		return nil, errors.New("bad header: span count")
	}
	for range n {
		var sp Span
		if sp.Start, rest, ok = takeBytes(rest); !ok {
			return nil, errors.New("bad header: span")
		}
		if sp.End, rest, ok = takeBytes(rest); !ok {
			return nil, errors.New("bad header: span")
		}
		h.spans = append(h.spans, sp)
	}
	if len(rest) != 0 {
		return nil, errors.New("bad header: trailing bytes")
	}
	return h, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// takeBytes splits a length-prefixed field off b; the field aliases b.
func takeBytes(b []byte) (field, rest []byte, ok bool) {
	n, rest, ok := uvarint(b)
	if !ok || n > uint64(len(rest)) {
		return nil, nil, false
	}
	return rest[:n:n], rest[n:], true
}

// blockWriter frames blocks onto w.
type blockWriter struct {
	w   io.Writer
	hdr [5]byte
}

func (bw *blockWriter) write(kind byte, payload []byte) error {
	bw.hdr[0] = kind
	binary.BigEndian.PutUint32(bw.hdr[1:], uint32(len(payload)))
	crc := crc32.Update(crc32.Update(0, castagnoli, bw.hdr[:]), castagnoli, payload)
	if _, err := bw.w.Write(bw.hdr[:]); err != nil {
		return err
	}
	if _, err := bw.w.Write(payload); err != nil {
		return err
	}
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc)
	_, err := bw.w.Write(c[:])
	return err
}

// blockReader reads blocks from r. The payload it returns is valid until the next call.
type blockReader struct {
	r   io.Reader
	buf bytes.Buffer
}

func (br *blockReader) next() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(br.r, hdr[:]); err != nil {
		return 0, nil, truncated(err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxBlockBytes {
		return 0, nil, fmt.Errorf("block of %d bytes exceeds the limit", n)
	}
	// Grown as bytes arrive, so a corrupt length cannot make us allocate a gigabyte up front.
	br.buf.Reset()
	if _, err := io.CopyN(&br.buf, br.r, int64(n)); err != nil {
		return 0, nil, truncated(err)
	}
	var c [4]byte
	if _, err := io.ReadFull(br.r, c[:]); err != nil {
		return 0, nil, truncated(err)
	}
	payload := br.buf.Bytes()
	crc := crc32.Update(crc32.Update(0, castagnoli, hdr[:]), castagnoli, payload)
	if crc != binary.BigEndian.Uint32(c[:]) {
		return 0, nil, errors.New("block checksum mismatch")
	}
	return hdr[0], payload, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeSnapshot streams os in the format above.
func (s *Shard) writeSnapshot(ctx context.Context, os *outSnap, w io.Writer) error {
	bw := &blockWriter{w: w}
	h := snapHeader{shardID: s.cfg.ShardID, index: os.index, term: os.term, conf: os.conf, spans: s.spans}
	hp, err := h.encode()
	if err != nil {
		return err
	}
	if err := bw.write(blockHeader, hp); err != nil {
		return err
	}
	var (
		buf          []byte
		count, bytes uint64
	)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := s.alive(ctx); err != nil {
			return err
		}
		err := bw.write(blockKVs, buf)
		buf = buf[:0]
		return err
	}
	for _, sp := range s.spans {
		it, err := os.snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: sp.Start, UpperBound: sp.End})
		if err != nil {
			return err
		}
		for valid := it.First(); valid; valid = it.Next() {
			k := it.Key()
			v, err := it.ValueAndErr()
			if err != nil {
				_ = it.Close()
				return err
			}
			buf = appendBytes(appendBytes(buf, k), v)
			count++
			bytes += uint64(len(k) + len(v))
			if len(buf) >= targetBlockBytes {
				if err := flush(); err != nil {
					_ = it.Close()
					return err
				}
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	var end [16]byte
	binary.BigEndian.PutUint64(end[:], count)
	binary.BigEndian.PutUint64(end[8:], bytes)
	return bw.write(blockEnd, end[:])
}
