package resp

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// flusherStarted reports whether the server's only connection ever handed writing to its
// flusher.
func flusherStarted(ts *testServer) bool {
	for _, c := range ts.snapshot() {
		c.out.mu.Lock()
		started := c.out.started
		c.out.mu.Unlock()
		if started {
			return true
		}
	}
	return false
}

// A client that writes a whole big pipeline before reading any reply (as go-redis'
// pipelines do) must not deadlock with the server: the server keeps reading while its
// replies wait for the client.
func TestClientWritingBeforeReading(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	value := strings.Repeat("v", 64<<10)
	c.do("SET", "k", value)

	const n = 400
	var req strings.Builder
	for range n {
		req.WriteString(multibulk("SET", "other", value))
		req.WriteString(multibulk("GET", "k"))
	}
	c.send(req.String()) // about 25 MB each way: far more than the sockets buffer
	if !flusherStarted(ts) {
		t.Fatal("the server never had to buffer replies; the test proves nothing")
	}
	want := "$65536\r\n" + value + "\r\n"
	for range n {
		c.expect("+OK\r\n", want)
	}
	c.send("PING\r\n")
	c.expect("+PONG\r\n")
}

// Past the output limit the server stops reading from that client until it reads.
func TestOutputBackPressure(t *testing.T) {
	ts := startServer(t, nil, func(s *Server) {
		s.stall = time.Millisecond
		s.outputLimit = 256 << 10
	})
	c := dialRaw(t, ts.addr)
	value := strings.Repeat("w", 16<<10)
	c.do("SET", "k", value)

	const n = 3000 // 48 MB of replies
	writeErr := make(chan error, 1)
	go func() {
		_ = c.nc.SetWriteDeadline(time.Now().Add(testTimeout))
		_, err := io.WriteString(c.nc, strings.Repeat(multibulk("GET", "k"), n))
		writeErr <- err
	}()
	time.Sleep(200 * time.Millisecond)
	waitFor(t, "replies to pile up", func() bool { return flusherStarted(ts) })
	for _, ci := range ts.Clients() {
		// One chunk of a batch may land on top of a full buffer.
		if ci.OutputBuffer > 256<<10+flushChunk+64<<10 {
			t.Fatalf("output buffer grew to %d bytes past its limit", ci.OutputBuffer)
		}
	}
	// Bystanders are served meanwhile.
	other := dialRaw(t, ts.addr)
	other.send("PING\r\n")
	other.expect("+PONG\r\n")

	want := "$16384\r\n" + value + "\r\n"
	br := bufio.NewReaderSize(c.nc, 1<<16)
	for i := range n {
		_ = c.nc.SetReadDeadline(time.Now().Add(testTimeout))
		got, err := readValue(br)
		if err != nil || got != want {
			t.Fatalf("reply %d: %v %.40q", i, err, got)
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
}

// QUIT behind replies still buffered for a slow reader: they all arrive before the close.
func TestQuitDrainsBufferedReplies(t *testing.T) {
	ts := startServer(t, nil, func(s *Server) { s.stall = time.Millisecond })
	c := dialRaw(t, ts.addr)
	value := strings.Repeat("q", 32<<10)
	c.do("SET", "k", value)
	const n = 400
	c.send(strings.Repeat(multibulk("GET", "k"), n) + "QUIT\r\n")
	time.Sleep(100 * time.Millisecond)
	want := "$32768\r\n" + value + "\r\n"
	for range n {
		c.expect(want)
	}
	c.expect("+OK\r\n")
	c.expectClosed()
}

// A big reply (bigger than the stall budget allows to write) reaches a normal reader.
func TestBigReply(t *testing.T) {
	ts := startServer(t, nil, func(s *Server) { s.stall = time.Millisecond })
	c := dialRaw(t, ts.addr)
	got := c.do("FBIG", "50000000")
	if len(got) != 50000000+len("$50000000\r\n\r\n") || got[len(got)-3] != 'v' {
		t.Fatalf("big reply of %d bytes", len(got))
	}
	c.send("PING\r\n")
	c.expect("+PONG\r\n")
}

// The output on a pipe (which buffers nothing, so every write stalls unless the reader is
// there) with a reader that pauses at random: every byte arrives, in order, whatever mix
// of direct writes, flusher writes and back-pressure waits happened.
func TestOutputDeliversEverythingInOrder(t *testing.T) {
	for seed := range uint64(20) {
		server, client := net.Pipe()
		o := newOutput(server, 100*time.Microsecond, 1000, nil)
		rng := rand.New(rand.NewPCG(seed, 7))
		var sent bytes.Buffer
		chunks := make([][]byte, 300)
		for i := range chunks {
			chunks[i] = bytes.Repeat([]byte{byte('a' + i%26)}, 1+rng.IntN(700))
			sent.Write(chunks[i])
		}
		got := make(chan []byte, 1)
		go func() {
			var b bytes.Buffer
			buf := make([]byte, 512)
			r := rand.New(rand.NewPCG(seed, 8))
			for b.Len() < sent.Len() {
				if r.IntN(10) == 0 {
					time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
				}
				_ = client.SetReadDeadline(time.Now().Add(testTimeout))
				n, err := client.Read(buf[:1+r.IntN(len(buf)-1)])
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			got <- b.Bytes()
		}()
		for _, c := range chunks {
			if err := o.write(c); err != nil {
				t.Fatal(err)
			}
		}
		if b := <-got; !bytes.Equal(b, sent.Bytes()) {
			t.Fatalf("seed %d: received %d bytes, sent %d (or out of order)", seed, len(b), sent.Len())
		}
		server.Close()
		client.Close()
		o.stop()
	}
}
