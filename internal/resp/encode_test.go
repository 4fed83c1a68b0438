package resp

import (
	"math"
	"testing"

	"ferricd/internal/reply"
)

// Golden encodings, RESP2 and RESP3, of every reply kind; the double forms were checked
// against redis-server 7.0.15 (ZSCORE), which formats with %.17g.
var encodeGolden = []struct {
	kind         string
	resp2, resp3 string
}{
	{"simple", "+OK\r\n", "+OK\r\n"},
	{"error", "-ERR bad  thing\r\n", "-ERR bad  thing\r\n"},
	{"int", ":-42\r\n", ":-42\r\n"},
	{"bulk", "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
	{"null", "$-1\r\n", "_\r\n"},
	{"nullarray", "*-1\r\n", "_\r\n"},
	{"array", "*3\r\n:1\r\n$1\r\na\r\n$-1\r\n", "*3\r\n:1\r\n$1\r\na\r\n_\r\n"},
	{"empty", "*0\r\n", "*0\r\n"},
	{"map", "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$3\r\n2.5\r\n", "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,2.5\r\n"},
	{"pairs", "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
		"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"},
	{"set", "*2\r\n$1\r\nx\r\n$1\r\ny\r\n", "~2\r\n$1\r\nx\r\n$1\r\ny\r\n"},
	{"double", "$18\r\n3.1400000000000001\r\n", ",3.1400000000000001\r\n"},
	{"inf", "$3\r\ninf\r\n", ",inf\r\n"},
	{"true", ":1\r\n", "#t\r\n"},
	{"false", ":0\r\n", "#f\r\n"},
	{"verbatim", "$9\r\nsome text\r\n", "=13\r\ntxt:some text\r\n"},
}

func TestEncodeGolden(t *testing.T) {
	for _, g := range encodeGolden {
		v := kindSample(g.kind)
		if got := string(appendReply(nil, v, 2)); got != g.resp2 {
			t.Errorf("%s RESP2: got %q want %q", g.kind, got, g.resp2)
		}
		if got := string(appendReply(nil, v, 3)); got != g.resp3 {
			t.Errorf("%s RESP3: got %q want %q", g.kind, got, g.resp3)
		}
	}
}

// The same through a connection, switching protocol with HELLO.
func TestEncodeOverTheWire(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	for _, g := range encodeGolden {
		c.send(multibulk("FKINDS", g.kind))
		c.expect(g.resp2)
	}
	c.do("HELLO", "3")
	for _, g := range encodeGolden {
		c.send(multibulk("FKINDS", g.kind))
		c.expect(g.resp3)
	}
	// A pipeline that switches protocol in its middle: replies before HELLO in RESP2,
	// HELLO's and those after it in RESP3, and back after HELLO 2.
	c.do("HELLO", "2")
	c.send(multibulk("FKINDS", "null") + multibulk("HELLO", "3") + multibulk("FKINDS", "null") +
		multibulk("HELLO", "2") + multibulk("FKINDS", "null"))
	c.expect("$-1\r\n")
	if got := c.read(); got[0] != '%' {
		t.Fatalf("HELLO 3 reply %q is not a map", got)
	}
	c.expect("_\r\n")
	if got := c.read(); got[0] != '*' {
		t.Fatalf("HELLO 2 reply %q is not an array", got)
	}
	c.expect("$-1\r\n")
}

func TestEncodeDoubleMatchesFormatDouble(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 1.5, 3.14, 1e20, 1e21, 1e-5, 123456789012345678,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()} {
		if got, want := string(appendDouble(nil, f)), reply.FormatDouble(f); got != want {
			t.Errorf("%v: got %q want %q", f, got, want)
		}
	}
}

func TestEncodeOddMapStaysWellFormed(t *testing.T) {
	v := reply.Value{Kind: reply.KindMap, Elems: []reply.Value{reply.BulkString("k")}}
	if got := string(appendReply(nil, v, 3)); got != "%1\r\n$1\r\nk\r\n_\r\n" {
		t.Fatalf("got %q", got)
	}
	if got := string(appendReply(nil, v, 2)); got != "*2\r\n$1\r\nk\r\n$-1\r\n" {
		t.Fatalf("got %q", got)
	}
	if got := string(appendReply(nil, reply.Value{Kind: 200}, 2)); got[0] != '-' {
		t.Fatalf("unknown kind encoded as %q", got)
	}
}

// Encoding the replies of a GET/SET workload must not allocate once the buffer is warm.
func TestEncodeAllocations(t *testing.T) {
	buf := make([]byte, 0, 4096)
	values := []reply.Value{reply.OK, reply.Bulk([]byte("some value")), reply.Null, reply.Int(12345),
		reply.Double(2.5), kindSample("map"), kindSample("verbatim")}
	for _, proto := range []int{2, 3} {
		allocs := testing.AllocsPerRun(100, func() {
			b := buf[:0]
			for _, v := range values {
				b = appendReply(b, v, proto)
			}
		})
		if allocs != 0 {
			t.Errorf("RESP%d: %v allocations per run", proto, allocs)
		}
	}
}

func BenchmarkEncodeBulk(b *testing.B) {
	buf := make([]byte, 0, 4096)
	v := reply.Bulk(make([]byte, 64))
	for b.Loop() {
		buf = appendReply(buf[:0], v, 2)
	}
}
