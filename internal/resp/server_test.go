package resp

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPipelineRepliesInOrder(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)

	var req strings.Builder
	var want []string
	for i := range 200 {
		switch i % 5 {
		case 0:
			req.WriteString(multibulk("SET", "k", "v"))
			want = append(want, "+OK\r\n")
		case 1:
			req.WriteString(multibulk("GET", "k"))
			want = append(want, "$1\r\nv\r\n")
		case 2:
			req.WriteString(multibulk("INCR", "n"))
			want = append(want, ":"+strconv.Itoa(i/5+1)+"\r\n")
		case 3:
			req.WriteString(multibulk("PING"))
			want = append(want, "+PONG\r\n")
		case 4:
			req.WriteString(multibulk("ECHO", "e"))
			want = append(want, "$1\r\ne\r\n")
		}
	}
	req.WriteString("GET nokey\r\n")
	want = append(want, "$-1\r\n")
	c.send(req.String())
	c.expect(want...)
}

func TestPipelineSegments(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	// One write: SET, GET, (connection command), GET, unknown, GET.
	c.send(multibulk("SET", "a", "1") + multibulk("GET", "a") + multibulk("PING") +
		multibulk("GET", "a") + multibulk("NOPE") + multibulk("GET", "a"))
	c.expect("+OK\r\n", "$1\r\n1\r\n", "+PONG\r\n", "$1\r\n1\r\n",
		"-ERR unknown command 'NOPE', with args beginning with: \r\n", "$1\r\n1\r\n")
	// The connection command splits the batch in two segments; the rejected command does
	// not split its segment (the reads may split the batch further, never merge it).
	if got := ts.be.segmentSizes(); !slices.Equal(got, []int{2, 2}) {
		t.Fatalf("segments %v, want [2 2]", got)
	}
}

func TestRejectionsInRedisOrder(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RequirePass = func() string { return "secret" } })
	c := dialRaw(t, ts.addr)
	// Unknown command beats NOAUTH, arity beats NOAUTH, NOAUTH last; subcommand arity
	// errors use the "container|sub" name.
	c.send("foo bar\r\nclient foo\r\nget\r\nclient id x\r\nauth\r\nget k\r\nPING\r\n")
	c.expect(
		"-ERR unknown command 'foo', with args beginning with: 'bar' \r\n",
		"-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n",
		"-ERR wrong number of arguments for 'get' command\r\n",
		"-ERR wrong number of arguments for 'client|id' command\r\n",
		"-ERR wrong number of arguments for 'auth' command\r\n",
		"-NOAUTH Authentication required.\r\n",
		"-NOAUTH Authentication required.\r\n",
	)
	if n := ts.be.execs.Load(); n != 0 {
		t.Fatalf("backend ran %d segments for rejected commands", n)
	}
}

func TestMaxClients(t *testing.T) {
	var limit atomic.Int64
	limit.Store(2)
	ts := startServer(t, func(c *Config) { c.MaxClients = func() int { return int(limit.Load()) } })
	a := dialRaw(t, ts.addr)
	b := dialRaw(t, ts.addr)
	a.send("PING\r\n")
	a.expect("+PONG\r\n")
	b.send("PING\r\n")
	b.expect("+PONG\r\n")

	c := dialRaw(t, ts.addr)
	c.expect("-ERR max number of clients reached\r\n")
	c.expectClosed()

	// The survivors are unaffected; once one leaves there is room again.
	a.send("PING\r\n")
	a.expect("+PONG\r\n")
	b.nc.Close()
	waitFor(t, "the server to drop the closed client", func() bool { return len(ts.Clients()) == 1 })
	d := dialRaw(t, ts.addr)
	d.send("PING\r\n")
	d.expect("+PONG\r\n")
}

func TestCloseEndsServeWithBusyClients(t *testing.T) {
	be := newFakeBackend()
	s, err := NewServer(Config{Addrs: []string{"127.0.0.1:0"}, Table: testTable(), Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(t.Context()) }()
	addr := s.Addrs()[0].String()

	idle := dialRaw(t, addr)
	idle.send("PING\r\n")
	idle.expect("+PONG\r\n")
	busy := dialRaw(t, addr)
	busy.send(multibulk("FSLEEP"))
	select {
	case <-be.sleeping:
	case <-time.After(testTimeout):
		t.Fatal("fsleep did not start")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return after Close")
	}
	idle.expectClosed()
	// Close is idempotent.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestServeEndsWithContext(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send("PING\r\n")
	c.expect("+PONG\r\n")
	// The cleanup cancels Serve's context and checks that Serve returns.
}

func TestClientsSnapshot(t *testing.T) {
	ts := startServer(t, nil)
	a := dialRaw(t, ts.addr)
	a.send(multibulk("CLIENT", "SETNAME", "alpha") + multibulk("READONLY") + multibulk("HELLO", "3"))
	a.expect("+OK\r\n", "+OK\r\n")
	a.read()
	b := dialRaw(t, ts.addr)
	b.send("PING\r\n")
	b.expect("+PONG\r\n")
	cs := ts.Clients()
	if len(cs) != 2 {
		t.Fatalf("%d clients, want 2", len(cs))
	}
	if cs[0].Name != "alpha" || !cs[0].ReadOnly || cs[0].Proto != 3 || cs[0].LastCommand != "hello" {
		t.Fatalf("first client %+v", cs[0])
	}
	if cs[1].ID <= cs[0].ID || cs[1].LastCommand != "ping" || cs[1].Proto != 2 {
		t.Fatalf("second client %+v", cs[1])
	}
}

func TestNewServerErrors(t *testing.T) {
	if _, err := NewServer(Config{Table: testTable(), Backend: newFakeBackend()}); err == nil {
		t.Fatal("no address accepted")
	}
	if _, err := NewServer(Config{Addrs: []string{"127.0.0.1:0"}}); err == nil {
		t.Fatal("missing table and backend accepted")
	}
	if _, err := NewServer(Config{Addrs: []string{"127.0.0.1:0", "256.0.0.1:1"}, Table: testTable(),
		Backend: newFakeBackend()}); err == nil {
		t.Fatal("bad address accepted")
	}
}

func TestCloseBeforeServeAndServeTwice(t *testing.T) {
	s, err := NewServer(Config{Addrs: []string{"127.0.0.1:0", "127.0.0.1:0"}, Table: testTable(),
		Backend: newFakeBackend()})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Addrs()) != 2 {
		t.Fatalf("addrs %v", s.Addrs())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve after Close did not return")
	}
	if err := s.Serve(t.Context()); err == nil {
		t.Fatal("second Serve accepted")
	}
}
