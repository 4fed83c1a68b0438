package reply

import (
	"encoding/binary"
	"errors"
	"math"
)

// maxDepth bounds the nesting DecodeBinary accepts, so a hostile frame cannot exhaust the stack.
const maxDepth = 64

// AppendBinary appends a compact, lossless encoding of v (used to carry replies between nodes;
// unlike RESP it keeps every Kind, whatever protocol the client speaks).
func AppendBinary(b []byte, v Value) []byte {
	if v.Kind == KindStream {
		// Forwarded replies travel whole: the stream ends here, on the node that read it.
		m, err := Materialize(v)
		if err != nil {
			m = ErrInternal
		}
		v = m
	}
	b = append(b, byte(v.Kind))
	switch v.Kind {
	case KindSimple, KindError, KindBulk, KindVerbatim:
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		b = append(b, v.Str...)
	case KindInt, KindBool:
		b = binary.AppendVarint(b, v.Int)
	case KindDouble:
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float))
	case KindArray, KindMap, KindSet, KindPairs:
		b = binary.AppendUvarint(b, uint64(len(v.Elems)))
		for _, e := range v.Elems {
			b = AppendBinary(b, e)
		}
	}
	return b
}

var errBadValue = errors.New("reply: malformed binary value")

// DecodeBinary decodes one value written by AppendBinary and returns the rest of b. Strings in
// the result alias b.
func DecodeBinary(b []byte) (Value, []byte, error) { return decodeBinary(b, 0) }

func decodeBinary(b []byte, depth int) (Value, []byte, error) {
	if len(b) == 0 || depth > maxDepth {
		return Value{}, nil, errBadValue
	}
	v := Value{Kind: Kind(b[0])}
	b = b[1:]
	switch v.Kind {
	case KindSimple, KindError, KindBulk, KindVerbatim:
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Value{}, nil, errBadValue
		}
		b = b[k:]
		v.Str, b = b[:n:n], b[n:]
	case KindInt, KindBool:
		n, k := binary.Varint(b)
		if k <= 0 {
			return Value{}, nil, errBadValue
		}
		v.Int, b = n, b[k:]
	case KindDouble:
		if len(b) < 8 {
			return Value{}, nil, errBadValue
		}
		v.Float, b = math.Float64frombits(binary.BigEndian.Uint64(b)), b[8:]
	case KindNull, KindNullArray, KindBlocked:
	case KindArray, KindMap, KindSet, KindPairs:
		n, k := binary.Uvarint(b)
		// Every element takes at least one byte: a count beyond that is a lie.
		if k <= 0 || n > uint64(len(b)-k) {
			return Value{}, nil, errBadValue
		}
		b = b[k:]
		v.Elems = make([]Value, n)
		for i := range v.Elems {
			var err error
			if v.Elems[i], b, err = decodeBinary(b, depth+1); err != nil {
				return Value{}, nil, err
			}
		}
	default:
		return Value{}, nil, errBadValue
	}
	return v, b, nil
}
