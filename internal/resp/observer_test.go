package resp

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingObserver records what the server reports.
type countingObserver struct {
	mu                              sync.Mutex
	connected, disconnected, reject int
	commands                        map[string]int
	failed                          map[string]int
	in, out                         int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{commands: map[string]int{}, failed: map[string]int{}}
}

func (o *countingObserver) ClientConnected()    { o.mu.Lock(); o.connected++; o.mu.Unlock() }
func (o *countingObserver) ClientDisconnected() { o.mu.Lock(); o.disconnected++; o.mu.Unlock() }
func (o *countingObserver) ClientRejected()     { o.mu.Lock(); o.reject++; o.mu.Unlock() }
func (o *countingObserver) NetInput(n int)      { o.mu.Lock(); o.in += n; o.mu.Unlock() }
func (o *countingObserver) NetOutput(n int)     { o.mu.Lock(); o.out += n; o.mu.Unlock() }
func (o *countingObserver) CommandDone(name string, d time.Duration, failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d < 0 {
		panic("negative duration")
	}
	o.commands[name]++
	if failed {
		o.failed[name]++
	}
}

func (o *countingObserver) snapshot() countingObserver {
	o.mu.Lock()
	defer o.mu.Unlock()
	return countingObserver{connected: o.connected, disconnected: o.disconnected, reject: o.reject,
		in: o.in, out: o.out, commands: o.commands, failed: o.failed}
}

func TestObserver(t *testing.T) {
	obs := newCountingObserver()
	ts := startServer(t, func(c *Config) {
		c.Observer = obs
		c.MaxClients = func() int { return 1 }
	})
	c := dialRaw(t, ts.addr)
	req := multibulk("SET", "k", "v") + multibulk("GET", "k") + multibulk("INCR", "k") + "PING\r\nNOPE\r\nGET\r\n"
	c.send(req)
	reply := c.read() + c.read() + c.read() + c.read() + c.read() + c.read()
	rejected := dialRaw(t, ts.addr)
	rejected.expect("-ERR max number of clients reached\r\n")
	rejected.expectClosed()
	c.nc.Close()
	waitFor(t, "the disconnect to be seen", func() bool { return obs.snapshot().disconnected == 1 })

	s := obs.snapshot()
	if s.connected != 1 || s.reject != 1 {
		t.Errorf("connected %d rejected %d", s.connected, s.reject)
	}
	// Rejected commands (unknown, wrong arity) are not counted, as in Redis' calls.
	want := map[string]int{"set": 1, "get": 1, "incr": 1, "ping": 1}
	if len(s.commands) != len(want) {
		t.Errorf("commands %v", s.commands)
	}
	for name, n := range want {
		if s.commands[name] != n {
			t.Errorf("commands %v, want %v", s.commands, want)
		}
	}
	if s.failed["incr"] != 1 || len(s.failed) != 1 {
		t.Errorf("failed %v", s.failed)
	}
	if s.in != len(req) {
		t.Errorf("input %d bytes, sent %d", s.in, len(req))
	}
	if wantOut := len(reply) + len("-ERR max number of clients reached\r\n"); s.out != wantOut {
		t.Errorf("output %d bytes, want %d", s.out, wantOut)
	}
}

// A panic in a command ends only that client, logged; the server goes on.
func TestPanicEndsOnlyThatClient(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	ts := startServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	})
	c := dialRaw(t, ts.addr)
	c.send(multibulk("FPANIC"))
	c.expectClosed()
	d := dialRaw(t, ts.addr)
	d.send("PING\r\n")
	d.expect("+PONG\r\n")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "fake backend bug") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
