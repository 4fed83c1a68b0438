package keyspace

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// metaEqual compares two Meta values field by field, treating nil and empty slices alike
// (decodeMeta returns an empty, non-nil Value for an empty string).
func metaEqual(a, b Meta) bool {
	return a.Type == b.Type && a.ExpireAt == b.ExpireAt && a.LastWrite == b.LastWrite &&
		a.Version == b.Version && a.Size == b.Size && a.Enc == b.Enc &&
		bytes.Equal(a.Extra, b.Extra) && bytes.Equal(a.Value, b.Value)
}

func TestMetaRoundTripString(t *testing.T) {
	values := map[string][]byte{
		"empty":  nil,
		"int":    []byte("12345"),
		"binary": {0, 1, 2, 0xff, 0xfe, '\r', '\n'},
		"long":   bytes.Repeat([]byte("x"), 70000),
	}
	expiries := map[string]int64{
		"no expiry": 0,
		"expiry":    1_700_000_000_123,
		"max":       math.MaxInt64,
		"negative":  -5, // not produced by commands, but the format must not lose it
	}
	for _, enc := range []Encoding{EncAuto, EncRaw, EncNoInt} {
		for vname, v := range values {
			for ename, at := range expiries {
				m := Meta{Type: TypeString, Value: v, ExpireAt: at, LastWrite: 42, Enc: enc}
				got, err := decodeMeta(encodeMeta(nil, &m))
				if err != nil {
					t.Errorf("enc %d, %s value, %s: decode(encode) failed: %v", enc, vname, ename, err)
					continue
				}
				if !metaEqual(got, m) {
					t.Errorf("enc %d, %s value, %s: decode(encode(%+v)) = %+v", enc, vname, ename, m, got)
				}
			}
		}
	}
}

func TestMetaRoundTripCollection(t *testing.T) {
	cases := []Meta{
		{Type: TypeList, Version: 1, Size: 0},
		{Type: TypeList, Version: 7 << 16, Size: 3, Extra: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Type: TypeSet, Version: math.MaxUint64, Size: math.MaxInt64, ExpireAt: 99},
		{Type: TypeZSet, Version: 12, Size: 1, Extra: bytes.Repeat([]byte{0xaa}, 300)},
		{Type: TypeHash, Version: 3, Size: 2, ExpireAt: 1_700_000_000_000, LastWrite: math.MaxUint64},
		{Type: TypeHash, Version: 3, Size: -1, Extra: []byte{}},
	}
	for _, m := range cases {
		got, err := decodeMeta(encodeMeta(nil, &m))
		if err != nil {
			t.Errorf("%s meta %+v: decode(encode) failed: %v", m.Type, m, err)
			continue
		}
		if !metaEqual(got, m) {
			t.Errorf("decode(encode(%+v)) = %+v", m, got)
		}
	}
}

// TestMetaEncodeAppends checks encodeMeta appends to dst instead of overwriting it.
func TestMetaEncodeAppends(t *testing.T) {
	m := Meta{Type: TypeString, Value: []byte("v"), ExpireAt: 5}
	prefix := []byte("prefix")
	b := encodeMeta(append([]byte(nil), prefix...), &m)
	if !bytes.HasPrefix(b, prefix) {
		t.Fatalf("encodeMeta(dst) = %q, lost the %q already in dst", b, prefix)
	}
	got, err := decodeMeta(b[len(prefix):])
	if err != nil || !metaEqual(got, m) {
		t.Fatalf("decode of the appended part = %+v, %v; want %+v", got, err, m)
	}
}

// TestDecodeMetaRejectsTruncated cuts valid encodings short: every cut that removes part of a
// fixed header or of a collection must fail with ErrCorrupt. (A string's value is the rest of
// the record, so a cut inside the value is a shorter value, not an error.)
func TestDecodeMetaRejectsTruncated(t *testing.T) {
	cases := []struct {
		name string
		m    Meta
		// minOK is the shortest prefix that decodes; len(encoding) for a collection.
		minOK int
	}{
		{"string without expiry", Meta{Type: TypeString, Value: []byte("hello")}, 10},
		{"string with expiry", Meta{Type: TypeString, Value: []byte("hello"), ExpireAt: 77}, 18},
		{"list without extra", Meta{Type: TypeList, Version: 1, Size: 2}, -1},
		{"hash with expiry and extra", Meta{Type: TypeHash, Version: 9, Size: 4, ExpireAt: 5, Extra: []byte("extra")}, -1},
	}
	for _, c := range cases {
		b := encodeMeta(nil, &c.m)
		minOK := c.minOK
		if minOK < 0 {
			minOK = len(b)
		}
		for n := 0; n < minOK; n++ {
			_, err := decodeMeta(bytes.Clone(b[:n]))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: decodeMeta of the first %d of %d bytes = err %v, want ErrCorrupt", c.name, n, len(b), err)
			}
		}
		for n := minOK; n <= len(b); n++ {
			if _, err := decodeMeta(bytes.Clone(b[:n])); err != nil {
				t.Errorf("%s: decodeMeta of the first %d of %d bytes failed: %v", c.name, n, len(b), err)
			}
		}
	}
}

func TestDecodeMetaRejectsBadInput(t *testing.T) {
	header := func(typ Type, flags byte) []byte {
		return append([]byte{byte(typ), flags}, make([]byte, 8)...)
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"type none", header(TypeNone, 0)},
		{"unknown type", header(Type(6), 0)},
		{"type 255", header(Type(255), 0)},
		{"collection uvarint overflow", append(append(header(TypeSet, 0), make([]byte, 16)...),
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"collection extra longer than record", append(append(header(TypeSet, 0), make([]byte, 16)...), 5, 'a', 'b')},
		{"collection huge extra length", append(append(header(TypeHash, 0), make([]byte, 16)...),
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
	}
	for _, c := range cases {
		if _, err := decodeMeta(c.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeMeta(%x) = err %v, want ErrCorrupt", c.name, c.b, err)
		}
	}
}

// FuzzDecodeMeta: decodeMeta never panics; it fails only with ErrCorrupt; what it accepts
// re-encodes to something that decodes to the same Meta.
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []Meta{
		{Type: TypeString, Value: []byte("v")},
		{Type: TypeString, Value: []byte("v"), ExpireAt: 10, Enc: EncRaw, LastWrite: 3},
		{Type: TypeList, Version: 1, Size: 2, Extra: []byte{1, 2}},
		{Type: TypeHash, Version: 1, Size: 2, ExpireAt: 1},
	} {
		f.Add(encodeMeta(nil, &m))
	}
	f.Add([]byte{})
	f.Add([]byte{byte(TypeSet), flagExpire, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeMeta(%x) failed with %v, which is not ErrCorrupt", b, err)
			}
			return
		}
		again, err := decodeMeta(encodeMeta(nil, &m))
		if err != nil {
			t.Fatalf("decodeMeta(%x) = %+v, whose encoding does not decode: %v", b, m, err)
		}
		if !metaEqual(again, m) {
			t.Fatalf("decodeMeta(%x) = %+v, but its re-encoding decodes to %+v", b, m, again)
		}
	})
}

func TestTypeString(t *testing.T) {
	want := map[Type]string{TypeNone: "none", TypeString: "string", TypeList: "list", TypeSet: "set",
		TypeZSet: "zset", TypeHash: "hash", Type(200): "none"}
	for typ, name := range want {
		if got := typ.String(); got != name {
			t.Errorf("Type(%d).String() = %q, want %q", typ, got, name)
		}
	}
}
