package reply

import "fmt"

// Stream is the source of a KindStream reply: an array too long to build in memory before
// sending it (LRANGE 0 -1 of a list of millions). Its length is fixed when it is made, so the
// encoder can send the array header first and the elements as they are read; the source
// holds whatever it reads from (a storage snapshot) until Close.
//
// Who calls what: the command returns the stream; exactly one consumer (the connection that
// sends it, or Materialize) then calls Next until it reports the end or an error, and Close
// once, also when it never reads (a suppressed reply, a client that went away). Values
// returned by Next stay valid after the next call.
type Stream interface {
	Len() int
	// Next returns the next element; ok is false after the last. An error means the source
	// failed part way: the elements sent so far do not make up the array.
	Next() (v Value, ok bool, err error)
	Close()
}

// StreamArray returns an array reply whose elements s produces.
func StreamArray(s Stream) Value { return StreamOf(KindArray, s) }

// StreamOf returns a reply of kind (KindArray, KindMap with flattened pairs, or KindSet)
// whose elements s produces; the kind is kept in Int.
func StreamOf(kind Kind, s Stream) Value { return Value{Kind: KindStream, Src: s, Int: int64(kind)} }

// StreamKind is the kind of reply a KindStream value stands for.
func (v Value) StreamKind() Kind { return Kind(v.Int) }

// Materialize turns a KindStream value into the array it streams and closes the stream;
// other values are returned as they are. It is for consumers that need the whole reply at
// once (replies forwarded between nodes, tests).
func Materialize(v Value) (Value, error) {
	if v.Kind != KindStream {
		return v, nil
	}
	defer v.Src.Close()
	elems := make([]Value, 0, v.Src.Len())
	for {
		e, ok, err := v.Src.Next()
		if err != nil {
			return Value{}, fmt.Errorf("stream reply: %w", err)
		}
		if !ok {
			break
		}
		elems = append(elems, e)
	}
	if len(elems) != v.Src.Len() {
		return Value{}, fmt.Errorf("stream reply: %d elements, announced %d", len(elems), v.Src.Len())
	}
	return Value{Kind: v.StreamKind(), Elems: elems}, nil
}

// Discard closes v's stream, if it is one, and those nested in v (LMPOP's [key, elements]),
// without reading them.
func Discard(v Value) {
	if v.Kind == KindStream {
		v.Src.Close()
		return
	}
	for _, e := range v.Elems {
		if e.Kind == KindStream || len(e.Elems) > 0 {
			Discard(e)
		}
	}
}
