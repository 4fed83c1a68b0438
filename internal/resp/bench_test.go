package resp

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// benchConn is a raw client for the round-trip benchmarks.
func benchConn(b *testing.B) (net.Conn, *bufio.Reader) {
	b.Helper()
	be := newFakeBackend()
	s, err := NewServer(Config{Addrs: []string{"127.0.0.1:0"}, Table: testTable(), Backend: be})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(b.Context()) }()
	b.Cleanup(func() { s.Close(); <-done })
	nc, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	br := bufio.NewReader(nc)
	if _, err := nc.Write([]byte(multibulk("SET", "key", strings.Repeat("x", 64)))); err != nil {
		b.Fatal(err)
	}
	if _, err := readValue(br); err != nil {
		b.Fatal(err)
	}
	return nc, br
}

// BenchmarkGetRoundTrip is one GET at a time over loopback TCP (client included).
func BenchmarkGetRoundTrip(b *testing.B) {
	nc, br := benchConn(b)
	req := []byte(multibulk("GET", "key"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := readValue(br); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetPipelined16 sends GETs 16 at a time; ns/op is per command.
func BenchmarkGetPipelined16(b *testing.B) {
	nc, br := benchConn(b)
	req := []byte(strings.Repeat(multibulk("GET", "key"), 16))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n%16 == 0 {
			if _, err := nc.Write(req); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := readValue(br); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for ; n%16 != 0; n++ {
		if _, err := readValue(br); err != nil {
			b.Fatal(err)
		}
	}
}
