package reply

import "testing"

func TestBinaryRoundTrip(t *testing.T) {
	values := []Value{
		OK, Err("ERR boom"), Int(-42), Int(1 << 62), Bulk([]byte("hello\x00world")), Bulk(nil), Null, NullArray,
		Bool(true), Bool(false), {Kind: KindDouble, Float: 3.25}, {Kind: KindVerbatim, Str: []byte("txt:x")},
		{Kind: KindArray, Elems: []Value{Int(1), {Kind: KindMap, Elems: []Value{Bulk([]byte("k")), Null}}}},
		{Kind: KindSet}, {Kind: KindArray, Elems: []Value{}},
	}
	for _, v := range values {
		b := AppendBinary([]byte("prefix"), v)
		got, rest, err := DecodeBinary(b[len("prefix"):])
		if err != nil {
			t.Fatalf("decode %+v: %v", v, err)
		}
		if len(rest) != 0 {
			t.Fatalf("decode %+v: %d bytes left over", v, len(rest))
		}
		if !equalValue(got, v) {
			t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", got, v)
		}
	}
}

// equalValue treats nil and empty strings and element lists alike: the encoding does not keep
// the difference, and no encoder shows it.
func equalValue(a, b Value) bool {
	if a.Kind != b.Kind || a.Int != b.Int || a.Float != b.Float || string(a.Str) != string(b.Str) ||
		len(a.Elems) != len(b.Elems) {
		return false
	}
	for i := range a.Elems {
		if !equalValue(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}

func TestBinaryRejectsMalformed(t *testing.T) {
	for _, b := range [][]byte{
		nil, {200}, {byte(KindBulk), 5, 'a'}, {byte(KindArray), 0xff, 0xff, 0xff, 0xff, 0x0f},
		{byte(KindDouble), 1, 2}, {byte(KindInt)},
	} {
		if _, _, err := DecodeBinary(b); err == nil {
			t.Fatalf("DecodeBinary(%q) accepted malformed input", b)
		}
	}
	deep := make([]byte, 0, 200)
	for range 100 {
		deep = append(deep, byte(KindArray), 1)
	}
	deep = append(deep, byte(KindNull))
	if _, _, err := DecodeBinary(deep); err == nil {
		t.Fatal("DecodeBinary accepted nesting deeper than maxDepth")
	}
}
