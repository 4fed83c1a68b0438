package config

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer answers RESP commands from a script until the test ends: it replies to AUTH with
// +OK when the password matches, and to PING with reply.
type fakeServer struct {
	ln       net.Listener
	password string
	reply    string
	wg       sync.WaitGroup
}

func startFake(t *testing.T, password, reply string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, password: password, reply: reply}
	f.wg.Go(f.serve)
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeServer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeServer) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer c.Close()
			r := bufio.NewReader(c)
			authed := f.password == ""
			for {
				args, err := readCommand(r)
				if err != nil {
					return
				}
				var out string
				switch strings.ToUpper(args[0]) {
				case "AUTH":
					if len(args) == 2 && args[1] == f.password {
						authed, out = true, "+OK\r\n"
					} else {
						out = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
					}
				case "PING":
					if !authed {
						out = "-NOAUTH Authentication required.\r\n"
					} else {
						out = f.reply + "\r\n"
					}
				}
				if _, err := c.Write([]byte(out)); err != nil {
					return
				}
			}
		})
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	args := make([]string, 0, n)
	for range n {
		if _, err := r.ReadString('\n'); err != nil { // $len
			return nil, err
		}
		a, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		args = append(args, strings.TrimRight(a, "\r\n"))
	}
	return args, nil
}

func probeStore(t *testing.T, conf string) *Store {
	t.Helper()
	s := New()
	if err := s.LoadConfig(conf, "probe.conf"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProbe(t *testing.T) {
	ctx := t.Context()
	plain := startFake(t, "", "+PONG")
	withPass := startFake(t, "s3cret", "+PONG")
	loading := startFake(t, "", "-LOADING Redis is loading the dataset in memory")

	ok := func(conf string) {
		t.Helper()
		if err := Probe(ctx, probeStore(t, conf)); err != nil {
			t.Errorf("Probe(%q): %v", conf, err)
		}
	}
	bad := func(conf, want string) {
		t.Helper()
		err := Probe(ctx, probeStore(t, conf))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Probe(%q) = %v, want an error containing %q", conf, err, want)
		}
	}
	ok("port " + strconv.Itoa(plain.port()))
	ok("bind * \nport " + strconv.Itoa(plain.port())) // wildcard probed through loopback
	ok("port " + strconv.Itoa(withPass.port()) + "\nrequirepass s3cret")
	bad("port "+strconv.Itoa(withPass.port()), "NOAUTH")
	bad("port "+strconv.Itoa(withPass.port())+"\nrequirepass wrong", "AUTH")
	bad("port "+strconv.Itoa(loading.port()), "LOADING")

	// A closed port fails quickly.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	bad("port "+strconv.Itoa(closed), "refused")
}

// A server that accepts but never answers: the probe gives up at the context's deadline.
func TestProbeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	conns := make(chan net.Conn, 1)
	wg.Go(func() {
		if c, err := ln.Accept(); err == nil {
			conns <- c
		}
	})
	defer func() {
		ln.Close()
		wg.Wait()
		select {
		case c := <-conns:
			c.Close()
		default:
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Probe(ctx, probeStore(t, "port "+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	if err == nil {
		t.Fatal("probe of a silent server succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %v", d)
	}
}
