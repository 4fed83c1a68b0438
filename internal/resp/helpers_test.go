package resp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"ferricd/internal/command"
	"ferricd/internal/reply"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every network wait of a test.
const testTimeout = 10 * time.Second

// fakeBackend is an in-memory Backend: GET/SET/INCR/DEL on a map, plus test commands that
// return every reply kind (fkinds), sleep until cancelled (fsleep) or return a big value
// (fbig). It records the size of every segment it is given.
type fakeBackend struct {
	mu       sync.Mutex
	data     map[string][]byte
	ver      map[string]uint64 // per key, bumped by every write (WATCH)
	segments []int
	execs    atomic.Int64
	sleeping chan struct{} // receives when an fsleep starts
	onExec   func(ctx context.Context)
	// streamsClosed counts the fstream replies whose source was closed.
	streamsClosed atomic.Int64
}

// fakeStream yields n bulk strings "e0", "e1", ... and fails at element failAt (-1: never).
type fakeStream struct {
	n, failAt, next int
	closed          *atomic.Int64
}

func (s *fakeStream) Len() int { return s.n }

func (s *fakeStream) Next() (reply.Value, bool, error) {
	if s.next == s.failAt {
		return reply.Value{}, false, errors.New("fake stream failure")
	}
	if s.next == s.n {
		return reply.Value{}, false, nil
	}
	s.next++
	return reply.BulkString("e" + strconv.Itoa(s.next-1)), true, nil
}

func (s *fakeStream) Close() { s.closed.Add(1) }

func newFakeBackend() *fakeBackend {
	return &fakeBackend{data: map[string][]byte{}, ver: map[string]uint64{}, sleeping: make(chan struct{}, 16)}
}

func (b *fakeBackend) Exec(ctx context.Context, calls []Call, out []reply.Value) {
	b.execs.Add(1)
	if b.onExec != nil {
		b.onExec(ctx)
	}
	b.mu.Lock()
	b.segments = append(b.segments, len(calls))
	b.mu.Unlock()
	for i, c := range calls {
		out[i] = b.run(ctx, c)
	}
}

func (b *fakeBackend) segmentSizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.segments...)
}

func (b *fakeBackend) run(ctx context.Context, c Call) reply.Value {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch c.Spec.Name {
	case "get":
		v, ok := b.data[string(c.Args[1])]
		if !ok {
			return reply.Null
		}
		return reply.Bulk(v)
	case "set":
		b.data[string(c.Args[1])] = c.Args[2]
		b.ver[string(c.Args[1])]++
		return reply.OK
	case "del":
		n := 0
		for _, k := range c.Args[1:] {
			if _, ok := b.data[string(k)]; ok {
				delete(b.data, string(k))
				b.ver[string(k)]++
				n++
			}
		}
		return reply.Int(int64(n))
	case "incr":
		n := int64(0)
		if v, ok := b.data[string(c.Args[1])]; ok {
			var err error
			if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return reply.ErrNotInteger
			}
		}
		n++
		b.data[string(c.Args[1])] = strconv.AppendInt(nil, n, 10)
		b.ver[string(c.Args[1])]++
		return reply.Int(n)
	case "fkinds":
		return kindSample(string(c.Args[1]))
	case "fbig":
		n, _ := strconv.Atoi(string(c.Args[1]))
		return reply.Bulk(bytes.Repeat([]byte("v"), n))
	case "fpanic":
		panic("fake backend bug")
	case "fstream":
		n, _ := strconv.Atoi(string(c.Args[1]))
		failAt, _ := strconv.Atoi(string(c.Args[2]))
		return reply.StreamArray(&fakeStream{n: n, failAt: failAt, closed: &b.streamsClosed})
	case "fsleep":
		b.mu.Unlock()
		b.sleeping <- struct{}{}
		<-ctx.Done()
		b.mu.Lock()
		return reply.Err("ERR cancelled")
	}
	return reply.Err("ERR fake backend cannot run " + c.Spec.Name)
}

// kindSample returns one reply of the named kind for the encoding tests.
func kindSample(kind string) reply.Value {
	switch kind {
	case "simple":
		return reply.Simple("OK")
	case "error":
		return reply.Err("ERR bad\r\nthing")
	case "int":
		return reply.Int(-42)
	case "bulk":
		return reply.BulkString("hello")
	case "null":
		return reply.Null
	case "nullarray":
		return reply.NullArray
	case "array":
		return reply.Array(reply.Int(1), reply.BulkString("a"), reply.Null)
	case "map":
		return reply.Map(reply.BulkString("a"), reply.Int(1), reply.BulkString("b"), reply.Double(2.5))
	case "pairs":
		return reply.Pairs(reply.BulkString("a"), reply.Double(1), reply.BulkString("b"), reply.Double(2.5))
	case "set":
		return reply.Set(reply.BulkString("x"), reply.BulkString("y"))
	case "double":
		return reply.Double(3.14)
	case "inf":
		return reply.Double(math.Inf(1))
	case "true":
		return reply.Bool(true)
	case "false":
		return reply.Bool(false)
	case "verbatim":
		return reply.Verbatim("some text")
	case "empty":
		return reply.Array()
	}
	return reply.Err("ERR unknown kind")
}

// testTable is the real command table plus the fake backend's commands, for those the
// table does not have (yet).
func testTable() *command.Table {
	t := command.New()
	add := func(name string, arity int, kind command.Kind) {
		if t.Get(name) == nil {
			t.Add(&command.Spec{Name: name, Arity: arity, Kind: kind, Group: "test"})
		}
	}
	add("get", 2, command.KindKeyRead)
	add("set", -3, command.KindKeyWrite)
	add("incr", 2, command.KindKeyWrite)
	add("del", -2, command.KindKeyWrite)
	add("fkinds", 2, command.KindServer)
	add("fbig", 2, command.KindServer)
	add("fsleep", 1, command.KindServer)
	add("fpanic", 1, command.KindServer)
	add("fstream", 3, command.KindKeyRead)
	return t
}

type testServer struct {
	*Server
	addr string
	be   *fakeBackend
}

// startServer starts a Server on 127.0.0.1 with the fake backend; the test's cleanup
// stops it and checks that Serve returns.
func startServer(t *testing.T, mod func(*Config), tune ...func(*Server)) *testServer {
	t.Helper()
	be := newFakeBackend()
	cfg := Config{Addrs: []string{"127.0.0.1:0"}, Table: testTable(), Backend: be}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tune {
		f(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("Serve did not return after its context ended")
		}
	})
	return &testServer{Server: s, addr: s.Addrs()[0].String(), be: be}
}

// rawClient speaks raw bytes to a server and reads back exact reply bytes.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// multibulk encodes args as a RESP command.
func multibulk(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func (c *rawClient) do(args ...string) string {
	c.t.Helper()
	c.send(multibulk(args...))
	return c.read()
}

// read returns the bytes of the next complete reply.
func (c *rawClient) read() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	v, err := readValue(c.br)
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, v)
	}
	return v
}

// expect reads replies and compares them, in order, byte for byte.
func (c *rawClient) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.read(); got != w {
			c.t.Fatalf("reply\n got %q\nwant %q", got, w)
		}
	}
}

// expectClosed checks that the server closes the connection with nothing more to read.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	rest, err := io.ReadAll(c.br)
	if errors.Is(err, syscall.ECONNRESET) {
		// Closing a socket with unread input sends a reset; that is a close too.
		err = nil
	}
	if err != nil {
		c.t.Fatalf("connection not closed: %v (read %q)", err, rest)
	}
	if len(rest) > 0 {
		c.t.Fatalf("unexpected bytes before close: %q", rest)
	}
}

// readValue reads one RESP2/RESP3 value and returns its exact bytes.
func readValue(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return line, fmt.Errorf("bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return line, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return line, err
		}
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return line, err
		}
		return line + string(buf), nil
	case '*', '~', '%', '>':
		n, err := strconv.Atoi(body)
		if err != nil {
			return line, err
		}
		if line[0] == '%' {
			n *= 2
		}
		out := line
		for range max(n, 0) {
			v, err := readValue(br)
			out += v
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, fmt.Errorf("unknown type %q", line)
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
