package node

import (
	"bytes"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	cases := [][][]byte{
		nil,
		{[]byte("get"), []byte("k")},
		{[]byte("set"), []byte(""), bytes.Repeat([]byte("v"), 70000)},
	}
	for _, args := range cases {
		p := encodePayload(kindCommand, 1234567, args)
		kind, now, got, err := decodePayload(p)
		if err != nil || kind != kindCommand || now != 1234567 || len(got) != len(args) {
			t.Fatalf("decode(encode(%d args)) = kind %d now %d %d args err %v", len(args), kind, now, len(got), err)
		}
		for i := range args {
			if !bytes.Equal(got[i], args[i]) {
				t.Errorf("arg %d differs after round trip", i)
			}
		}
	}
}

func TestDecodePayloadRejectsGarbage(t *testing.T) {
	good := encodePayload(kindCommand, 1, [][]byte{[]byte("set"), []byte("k"), []byte("v")})
	for _, p := range [][]byte{nil, good[:5], good[:len(good)-1], append(good[:len(good):len(good)], 0)} {
		if _, _, _, err := decodePayload(p); err == nil {
			t.Errorf("decodePayload(%x) succeeded; want an error", p)
		}
	}
}
