// Package reply holds the protocol-independent reply value that commands produce and that
// internal/resp encodes as RESP2 or RESP3.
//
// A Value is a small tree. Commands build it without knowing the client's protocol; the kinds
// that RESP3 distinguishes (map, set, double, boolean, null) degrade to their RESP2 forms in the
// encoder, exactly as Redis 7 does. Values are immutable once returned and may cross goroutines.
package reply

import (
	"fmt"
	"strconv"
)

// Kind says how a Value is encoded on the wire.
type Kind uint8

const (
	// KindSimple is a status reply: +OK.
	KindSimple Kind = iota
	// KindError is an error reply; Str holds the full text including the code ("ERR ...").
	KindError
	// KindInt is an integer reply.
	KindInt
	// KindBulk is a binary-safe string.
	KindBulk
	// KindNull is the absent bulk string: $-1 in RESP2, _ in RESP3.
	KindNull
	// KindNullArray is the absent array: *-1 in RESP2, _ in RESP3.
	KindNullArray
	// KindArray is an ordered list of Elems.
	KindArray
	// KindMap is a list of key/value pairs flattened into Elems (len is even): % in RESP3,
	// a flat array in RESP2.
	KindMap
	// KindSet is an unordered collection: ~ in RESP3, an array in RESP2.
	KindSet
	// KindDouble is a float: , in RESP3, a bulk string in RESP2 (formatted as Redis 7.0 does).
	KindDouble
	// KindBool is a boolean: # in RESP3, the integer 1 or 0 in RESP2.
	KindBool
	// KindVerbatim is verbatim text (= in RESP3, "txt:" prefix); a bulk string in RESP2.
	KindVerbatim
	// KindBlocked is never sent to a client: a blocking command (BLPOP, BZPOPMIN, ...) returns
	// it when it found nothing to serve and wrote nothing, and the node parks the client until
	// one of the command's keys is written or the timeout passes. Encoders send a null array
	// if one ever escapes, which is the timeout reply.
	KindBlocked
	// KindPairs is a list of pairs flattened into Elems (len is even), as Redis 7 replies
	// ZRANGE ... WITHSCORES, ZRANDMEMBER ... WITHSCORES or HRANDFIELD ... WITHVALUES: an
	// array of two-element arrays in RESP3, one flat array in RESP2.
	KindPairs
	// KindStream is an array whose elements Src produces while it is sent (stream.go).
	KindStream
)

// Value is one reply.
type Value struct {
	Kind  Kind
	Str   []byte
	Int   int64
	Float float64
	Elems []Value
	// Src produces the elements of a KindStream value.
	Src Stream
}

// OK is the +OK status.
var OK = Value{Kind: KindSimple, Str: []byte("OK")}

// Queued is the +QUEUED status of MULTI.
var Queued = Value{Kind: KindSimple, Str: []byte("QUEUED")}

// Blocked is what a blocking command returns when it has to wait (KindBlocked).
var Blocked = Value{Kind: KindBlocked}

// Null is the absent bulk string.
var Null = Value{Kind: KindNull}

// NullArray is the absent array.
var NullArray = Value{Kind: KindNullArray}

// Simple returns a status reply.
func Simple(s string) Value { return Value{Kind: KindSimple, Str: []byte(s)} }

// Err returns an error reply; msg must carry its code prefix ("ERR ...", "WRONGTYPE ...").
func Err(msg string) Value { return Value{Kind: KindError, Str: []byte(msg)} }

// Int returns an integer reply.
func Int(n int64) Value { return Value{Kind: KindInt, Int: n} }

// Bool returns a boolean reply (RESP3 #t/#f, RESP2 :1/:0).
func Bool(b bool) Value {
	if b {
		return Value{Kind: KindBool, Int: 1}
	}
	return Value{Kind: KindBool}
}

// Bulk returns a bulk string reply. b is not copied.
func Bulk(b []byte) Value { return Value{Kind: KindBulk, Str: b} }

// BulkString returns a bulk string reply.
func BulkString(s string) Value { return Value{Kind: KindBulk, Str: []byte(s)} }

// BulkInt returns a bulk string holding the decimal form of n.
func BulkInt(n int64) Value { return Value{Kind: KindBulk, Str: strconv.AppendInt(nil, n, 10)} }

// Double returns a double reply.
func Double(f float64) Value { return Value{Kind: KindDouble, Float: f} }

// Verbatim returns verbatim text (INFO, CLIENT INFO, ...).
func Verbatim(s string) Value { return Value{Kind: KindVerbatim, Str: []byte(s)} }

// Array returns an array reply.
func Array(elems ...Value) Value { return Value{Kind: KindArray, Elems: elems} }

// Map returns a map reply from flattened key/value pairs.
func Map(pairs ...Value) Value { return Value{Kind: KindMap, Elems: pairs} }

// Pairs returns a pairs reply (KindPairs) from flattened pairs.
func Pairs(flat ...Value) Value { return Value{Kind: KindPairs, Elems: flat} }

// Set returns a set reply.
func Set(elems ...Value) Value { return Value{Kind: KindSet, Elems: elems} }

// BulkArray returns an array of bulk strings.
func BulkArray(items [][]byte) Value {
	elems := make([]Value, len(items))
	for i, b := range items {
		elems[i] = Bulk(b)
	}
	return Array(elems...)
}

// IsError reports whether v is an error reply.
func (v Value) IsError() bool { return v.Kind == KindError }

// String renders v for logs and test failure messages; it is not a wire format.
func (v Value) String() string {
	switch v.Kind {
	case KindSimple:
		return "+" + string(v.Str)
	case KindError:
		return "-" + string(v.Str)
	case KindInt, KindBool:
		return ":" + strconv.FormatInt(v.Int, 10)
	case KindBulk, KindVerbatim:
		return strconv.Quote(string(v.Str))
	case KindNull, KindNullArray:
		return "(nil)"
	case KindBlocked:
		return "(blocked)"
	case KindStream:
		return fmt.Sprintf("(stream of %d)", v.Src.Len())
	case KindDouble:
		return FormatDouble(v.Float)
	default:
		s := "["
		for i, e := range v.Elems {
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	}
}
