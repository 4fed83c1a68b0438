package resp

import (
	"bytes"
	"math"
	"strconv"

	"ferricd/internal/reply"
)

// appendReply appends v encoded in protocol proto (2 or 3) to b.
//
// RESP2 has no map, set, null, double, boolean or verbatim type; they degrade exactly as
// Redis 7.0 sends them to a RESP2 client: map → flat array of keys and values, set →
// array, null → $-1 (or *-1 for the null array), double → bulk string (%.17g, "inf"),
// boolean → :1/:0, verbatim → plain bulk string without its "txt:" format.
//
// It only appends: the caller reuses b across batches, so a GET reply costs no allocation.
func appendReply(b []byte, v reply.Value, proto int) []byte {
	switch v.Kind {
	case reply.KindSimple:
		return appendLine(b, '+', v.Str)
	case reply.KindError:
		return appendLine(b, '-', v.Str)
	case reply.KindInt:
		return appendInt(b, ':', v.Int)
	case reply.KindBulk:
		return appendBulk(b, v.Str)
	case reply.KindNull:
		if proto >= 3 {
			return append(b, "_\r\n"...)
		}
		return append(b, "$-1\r\n"...)
	case reply.KindNullArray, reply.KindBlocked:
		if proto >= 3 {
			return append(b, "_\r\n"...)
		}
		return append(b, "*-1\r\n"...)
	case reply.KindArray:
		return appendElems(b, '*', v.Elems, proto)
	case reply.KindSet:
		if proto >= 3 {
			return appendElems(b, '~', v.Elems, proto)
		}
		return appendElems(b, '*', v.Elems, proto)
	case reply.KindMap:
		return appendMap(b, v.Elems, proto)
	case reply.KindPairs:
		return appendPairs(b, v.Elems, proto)
	case reply.KindStream:
		// Only the connection streams a reply as it sends it (conn.sendStream); here, nested
		// or encoded for a test, the whole array is encoded at once.
		m, err := reply.Materialize(v)
		if err != nil {
			m = reply.ErrInternal
		}
		return appendReply(b, m, proto)
	case reply.KindDouble:
		if proto >= 3 {
			b = append(b, ',')
			b = appendDouble(b, v.Float)
			return append(b, '\r', '\n')
		}
		var tmp [32]byte
		return appendBulk(b, appendDouble(tmp[:0], v.Float))
	case reply.KindBool:
		if proto >= 3 {
			if v.Int != 0 {
				return append(b, "#t\r\n"...)
			}
			return append(b, "#f\r\n"...)
		}
		if v.Int != 0 {
			return append(b, ":1\r\n"...)
		}
		return append(b, ":0\r\n"...)
	case reply.KindVerbatim:
		if proto >= 3 {
			b = appendInt(b, '=', int64(len(v.Str)+4))
			b = append(b, "txt:"...)
			b = append(b, v.Str...)
			return append(b, '\r', '\n')
		}
		return appendBulk(b, v.Str)
	}
	// A Kind this encoder does not know is a bug elsewhere; keep the stream well formed.
	return append(b, "-ERR internal error: unknown reply kind\r\n"...)
}

func appendElems(b []byte, prefix byte, elems []reply.Value, proto int) []byte {
	b = appendInt(b, prefix, int64(len(elems)))
	for i := range elems {
		b = appendReply(b, elems[i], proto)
	}
	return b
}

// appendMap writes a map; an odd element count (a bug in a command) gets a null value for
// its last key rather than a corrupt stream.
func appendMap(b []byte, elems []reply.Value, proto int) []byte {
	pairs := (len(elems) + 1) / 2
	if proto >= 3 {
		b = appendInt(b, '%', int64(pairs))
	} else {
		b = appendInt(b, '*', int64(2*pairs))
	}
	for i := range elems {
		b = appendReply(b, elems[i], proto)
	}
	if len(elems)%2 == 1 {
		b = appendReply(b, reply.Null, proto)
	}
	return b
}

// appendPairs writes flattened pairs: nested two-element arrays in RESP3, flat in RESP2. An
// odd count (a bug in a command) gets a null for its last half rather than a corrupt stream.
func appendPairs(b []byte, elems []reply.Value, proto int) []byte {
	if proto < 3 {
		b = appendInt(b, '*', int64(len(elems)+len(elems)%2))
		for i := range elems {
			b = appendReply(b, elems[i], proto)
		}
		if len(elems)%2 == 1 {
			b = appendReply(b, reply.Null, proto)
		}
		return b
	}
	b = appendInt(b, '*', int64((len(elems)+1)/2))
	for i := 0; i < len(elems); i += 2 {
		b = append(b, "*2\r\n"...)
		b = appendReply(b, elems[i], proto)
		if i+1 < len(elems) {
			b = appendReply(b, elems[i+1], proto)
		} else {
			b = appendReply(b, reply.Null, proto)
		}
	}
	return b
}

// appendLine writes a status or error line. Such a line cannot carry CR or LF; Redis turns
// them into spaces, and so does this, so that no reply text can break the framing.
func appendLine(b []byte, prefix byte, s []byte) []byte {
	b = append(b, prefix)
	start := len(b)
	b = append(b, s...)
	if bytes.IndexAny(s, "\r\n") >= 0 {
		for i := start; i < len(b); i++ {
			if b[i] == '\r' || b[i] == '\n' {
				b[i] = ' '
			}
		}
	}
	return append(b, '\r', '\n')
}

func appendInt(b []byte, prefix byte, n int64) []byte {
	b = append(b, prefix)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

func appendBulk(b []byte, s []byte) []byte {
	b = appendInt(b, '$', int64(len(s)))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendDouble formats f exactly as reply.FormatDouble does, without allocating.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case math.IsNaN(f):
		return append(b, "nan"...)
	}
	return strconv.AppendFloat(b, f, 'g', 17, 64)
}
