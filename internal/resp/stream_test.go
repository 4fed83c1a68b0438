package resp

import (
	"fmt"
	"io"
	"testing"
	"time"
)

func TestStreamedReplyIsSentWholeAndClosed(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	const n = 50_000 // several flushChunks of output
	c.send(multibulk("fstream", fmt.Sprint(n), "-1") + multibulk("get", "after"))
	_ = c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	line := func() string {
		l, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("read the streamed array: %v", err)
		}
		return l
	}
	if h := line(); h != fmt.Sprintf("*%d\r\n", n) {
		t.Fatalf("stream header %q", h)
	}
	for i := range n {
		e := fmt.Sprintf("e%d", i)
		if h, b := line(), line(); h != fmt.Sprintf("$%d\r\n", len(e)) || b != e+"\r\n" {
			t.Fatalf("element %d = %q %q, want %q", i, h, b, e)
		}
	}
	if got := c.read(); got != "$-1\r\n" {
		t.Fatalf("the reply after the stream = %q, want the GET's null", got)
	}
	if got := ts.be.streamsClosed.Load(); got != 1 {
		t.Fatalf("stream closed %d times, want once", got)
	}
}

func TestSuppressedStreamIsClosed(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send(multibulk("client", "reply", "skip") + multibulk("fstream", "10", "-1"))
	if got := c.do("get", "x"); got != "$-1\r\n" {
		t.Fatalf("GET after a skipped stream = %q", got)
	}
	if got := ts.be.streamsClosed.Load(); got != 1 {
		t.Fatalf("a suppressed stream was closed %d times, want once", got)
	}
}

func TestStreamFailingPartWayClosesTheConnection(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send(multibulk("fstream", "10", "4"))
	_ = c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	got, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatalf("read until close: %v", err)
	}
	if want := "*10\r\n$2\r\ne0\r\n$2\r\ne1\r\n$2\r\ne2\r\n$2\r\ne3\r\n"; string(got) != want {
		t.Fatalf("connection got %q before closing, want %q", got, want)
	}
	if n := ts.be.streamsClosed.Load(); n != 1 {
		t.Fatalf("failed stream closed %d times, want once", n)
	}
}
