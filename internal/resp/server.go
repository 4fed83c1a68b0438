package resp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"ferricd/internal/command"
	"ferricd/internal/reply"
)

// Call is one well-formed command for the Backend: its Spec was found in the table, its
// arity checked and the client is authenticated.
type Call struct {
	Spec *command.Spec
	Args [][]byte
}

// Backend executes data and server commands. Exec runs calls (a pipeline segment, in
// order as sent) and fills out[i] with the reply of calls[i] (len(out)==len(calls)). It
// may run them concurrently but must make later calls observe earlier writes of the same
// segment. Exec returns when every out[i] is set; ctx ends when the connection is closed.
// Transactions (MULTI/EXEC/WATCH) go through the Transactor methods.
type Backend interface {
	Exec(ctx context.Context, calls []Call, out []reply.Value)
	Transactor
}

// Unblocker is implemented by a Backend that parks clients in blocking commands: CLIENT
// UNBLOCK asks it to end client id's wait, with an error reply (withError) or as a timeout,
// and reports whether that client was blocked. It is called from another client's goroutine.
type Unblocker interface {
	Unblock(clientID uint64, withError bool) bool
}

// Observer receives connection and command metrics. Implemented by internal/metrics; its
// methods are called from every connection goroutine concurrently.
type Observer interface {
	ClientConnected()
	ClientDisconnected()
	ClientRejected()
	// CommandDone reports a command that ran (name = Spec.Name). Commands rejected before
	// running (unknown, wrong arity, NOAUTH) are not reported, as Redis does not count
	// them in "calls". A pipeline segment's commands each report the segment's time
	// divided by its length, so the durations add up to the time spent.
	CommandDone(name string, d time.Duration, failed bool)
	NetInput(n int)
	NetOutput(n int)
}

// Config configures a Server. Func-valued limits are read again for every connection or
// batch, so CONFIG SET takes effect on live connections.
type Config struct {
	// Addrs are the listen addresses (host:port); port 0 picks a free one.
	Addrs    []string
	Table    *command.Table
	Backend  Backend
	Observer Observer // may be nil
	Logger   *slog.Logger
	// RequirePass returns the current requirepass ("" = no authentication). nil = "".
	RequirePass func() string
	// MaxClients defaults to 10000.
	MaxClients func() int
	// ProtoMaxBulkLen is the longest argument accepted; default 512 MB.
	ProtoMaxBulkLen func() int64
	// ClientQueryBufferLimit bounds the bytes of one incomplete command; default 1 GB.
	ClientQueryBufferLimit func() int64
	// MaxMultibulkLen bounds the argument count of one command; default 1024*1024.
	MaxMultibulkLen int
	// Version is reported by HELLO; default "7.0.15".
	Version string
	// TCPKeepAlive is the keep-alive idle time of client sockets (probes every third of it,
	// three of them), as Redis' tcp-keepalive; default 300s, negative disables.
	TCPKeepAlive time.Duration
}

// Defaults, as Redis 7.0's.
const (
	defaultMaxClients  = 10000
	defaultMaxBulk     = 512 << 20
	defaultMaxQuery    = 1 << 30
	defaultMaxArgs     = 1024 * 1024
	defaultVersion     = "7.0.15"
	defaultKeepAlive   = 300 * time.Second
	defaultStall       = 10 * time.Millisecond
	defaultOutputLimit = 64 << 20
	// closeDrain bounds how long a connection closed on purpose (QUIT, protocol error)
	// waits for its last replies to leave.
	closeDrain = 10 * time.Second
)

// Server accepts RESP connections and serves them, one goroutine per connection.
type Server struct {
	cfg Config
	obs Observer
	log *slog.Logger
	lns []net.Listener

	// stall and outputLimit tune output (see output); tests shorten them.
	stall       time.Duration
	outputLimit int

	mu      sync.Mutex
	conns   map[uint64]*conn
	nextID  uint64
	serving bool
	closed  bool
	connCtx context.Context
	done    chan struct{} // closed by Close
	connWG  sync.WaitGroup
}

// NewServer checks cfg, fills in defaults and binds the listeners.
func NewServer(cfg Config) (*Server, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("resp: no listen address")
	}
	if cfg.Table == nil || cfg.Backend == nil {
		return nil, errors.New("resp: Table and Backend are required")
	}
	if cfg.RequirePass == nil {
		cfg.RequirePass = func() string { return "" }
	}
	if cfg.MaxClients == nil {
		cfg.MaxClients = func() int { return defaultMaxClients }
	}
	if cfg.ProtoMaxBulkLen == nil {
		cfg.ProtoMaxBulkLen = func() int64 { return defaultMaxBulk }
	}
	if cfg.ClientQueryBufferLimit == nil {
		cfg.ClientQueryBufferLimit = func() int64 { return defaultMaxQuery }
	}
	if cfg.MaxMultibulkLen <= 0 {
		cfg.MaxMultibulkLen = defaultMaxArgs
	}
	if cfg.Version == "" {
		cfg.Version = defaultVersion
	}
	if cfg.TCPKeepAlive == 0 {
		cfg.TCPKeepAlive = defaultKeepAlive
	}
	s := &Server{
		cfg:         cfg,
		obs:         cfg.Observer,
		log:         cfg.Logger,
		stall:       defaultStall,
		outputLimit: defaultOutputLimit,
		conns:       make(map[uint64]*conn),
		done:        make(chan struct{}),
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	lc := net.ListenConfig{KeepAlive: -1}
	if ka := cfg.TCPKeepAlive; ka > 0 {
		lc.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: ka, Interval: max(ka/3, time.Second), Count: 3}
	}
	for _, addr := range cfg.Addrs {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			for _, l := range s.lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("resp: listen %s: %w", addr, err)
		}
		s.lns = append(s.lns, ln)
	}
	return s, nil
}

// Addrs returns the bound listen addresses.
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.lns))
	for i, ln := range s.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Serve accepts connections until ctx is done or Close is called, then closes every
// connection and returns once all connection goroutines have exited. It returns nil after
// an orderly stop. It may be called once.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("resp: Serve called twice")
	}
	s.serving = true
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.connCtx = connCtx
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	for _, ln := range s.lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.acceptLoop(ln)
		}()
	}
	wg.Wait()
	s.connWG.Wait()
	return nil
}

// Close stops accepting and closes every connection. It does not wait; Serve does.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var err error
	for _, ln := range s.lns {
		if e := ln.Close(); e != nil && err == nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	for _, c := range conns {
		c.kill()
	}
	return err
}

// acceptLoop accepts on ln until Close. Accept errors other than the listener's closing
// (file descriptor exhaustion, aborted handshakes) are retried with a growing pause
// rather than ending the server.
func (s *Server) acceptLoop(ln net.Listener) {
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", pause)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		pause = 0
		s.admit(nc)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// admit registers a new connection and starts its goroutine, or turns it away when the
// server is full (maxclients counts the connection being admitted, like Redis).
func (s *Server) admit(nc net.Conn) {
	limit := s.cfg.MaxClients()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if len(s.conns) >= limit {
		s.mu.Unlock()
		s.reject(nc)
		return
	}
	s.nextID++
	c := newConn(s, nc, s.nextID, s.connCtx)
	s.conns[c.id] = c
	s.connWG.Add(1)
	s.mu.Unlock()
	s.obs.ClientConnected()
	go c.serve()
}

// reject tells a client over maxclients so and closes it. A fresh socket's send buffer is
// empty, so the short write does not block; the deadline is only a safety net.
func (s *Server) reject(nc net.Conn) {
	s.obs.ClientRejected()
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	if n, _ := nc.Write([]byte("-ERR max number of clients reached\r\n")); n > 0 {
		s.obs.NetOutput(n)
	}
	_ = nc.Close()
}

// remove unregisters an exited connection.
func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	s.obs.ClientDisconnected()
	s.connWG.Done()
}

// snapshot returns the live connections in id (creation) order.
func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	slices.SortFunc(conns, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return conns
}

func (s *Server) lookup(id uint64) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// Clients returns a snapshot of every connected client, in id order.
func (s *Server) Clients() []ClientInfo {
	conns := s.snapshot()
	out := make([]ClientInfo, len(conns))
	for i, c := range conns {
		out[i] = c.info()
	}
	return out
}

type nopObserver struct{}

func (nopObserver) ClientConnected()                        {}
func (nopObserver) ClientDisconnected()                     {}
func (nopObserver) ClientRejected()                         {}
func (nopObserver) CommandDone(string, time.Duration, bool) {}
func (nopObserver) NetInput(int)                            {}
func (nopObserver) NetOutput(int)                           {}
