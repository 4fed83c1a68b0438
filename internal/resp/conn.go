package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/redcon"

	"ferricd/internal/command"
	"ferricd/internal/reply"
)

// bigCommand is the size above which a command makes the connection replace its redcon
// reader once idle: redcon's buffer only grows, and one big SET must not pin that much
// memory for the rest of the connection's life.
const bigCommand = 64 << 10

// keepEncode is the largest encode buffer kept between batches.
const keepEncode = 1 << 20

// flushChunk is the encoded size at which a batch's replies are written before the batch
// ends: a pipeline of small requests can ask for very big replies (GETs of big values),
// and the encode buffer must not hold all of them at once. Batches of ordinary replies
// stay one write.
const flushChunk = 128 << 10

// conn is one client connection. Its goroutine (serve) owns the socket's read side, the
// redcon reader, the encode buffer and the connection state; other goroutines only read
// the shared part (st, under mu) for CLIENT LIST and INFO, and end the connection with
// kill.
type conn struct {
	srv    *Server
	nc     net.Conn
	id     uint64
	ctx    context.Context
	cancel context.CancelFunc

	// Fixed at accept.
	addr, laddr string
	fd          int
	created     time.Time

	in  *inbound
	br  *bufio.Reader
	rd  *redcon.Reader
	out *output
	enc []byte
	// batchWrote: the batch being served holds a write command (see serve's yield).
	batchWrote bool

	// Scratch of the current batch, reused.
	slots   []slot
	calls   []Call
	results []reply.Value
	curArgs [][]byte // the command being run (CLIENT INFO's argv-mem)

	// Owner-only state.
	authed   bool      // Redis' c->authenticated
	replyOff bool      // CLIENT REPLY OFF
	skipNext bool      // CLIENT REPLY SKIP: suppress the next command's reply
	noReply  bool      // the running command's own reply is not sent (CLIENT REPLY OFF/SKIP)
	closing  bool      // close once this batch's replies are out (QUIT, CLIENT KILL of itself)
	tx       *txState  // the transaction being queued (MULTI), nil outside one
	watched  []Watched // WATCH's keys, until EXEC, DISCARD, UNWATCH or RESET

	// mu guards st. The owner writes st under mu and reads it without; others read it
	// under mu.
	mu     sync.Mutex
	st     connState
	killed atomic.Bool
}

// connState is the part of a connection's state other connections can see.
type connState struct {
	proto      int
	name       string
	libName    string
	libVer     string
	readOnly   bool // READONLY: this client accepts possibly stale follower reads
	noEvict    bool
	multi      int // CLIENT LIST's multi=: queued commands, -1 outside MULTI
	lastCmd    string
	lastActive time.Time
}

// slot is one reply of the current batch, in request order: either known already (v) or
// the result of calls[call].
type slot struct {
	v        reply.Value
	call     int
	suppress bool
}

func newConn(s *Server, nc net.Conn, id uint64, parent context.Context) *conn {
	now := time.Now()
	c := &conn{
		srv:     s,
		nc:      nc,
		id:      id,
		addr:    nc.RemoteAddr().String(),
		laddr:   nc.LocalAddr().String(),
		fd:      socketFD(nc),
		created: now,
		authed:  s.cfg.RequirePass() == "",
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(parent, sessionKey{}, c))
	c.st = connState{proto: 2, multi: -1, lastActive: now}
	c.in = newInbound(nc, c.limits, s.obs.NetInput)
	// redcon wraps its source in a bufio.Reader unless it already is one; handing it ours
	// lets the connection see how much is buffered (see resetReader).
	c.br = bufio.NewReaderSize(c.in, 4096)
	c.rd = redcon.NewReader(c.br)
	c.out = newOutput(nc, s.stall, s.outputLimit, s.obs.NetOutput)
	return c
}

// socketFD returns the socket's descriptor for CLIENT LIST (fd=), or -1.
func socketFD(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	_ = raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// kill ends the connection from another goroutine (CLIENT KILL, Close): the socket's
// closing ends a blocked read or write, the context's cancellation a running Exec. It
// reports whether this call killed it (CLIENT KILL counts a client once).
func (c *conn) kill() bool {
	if !c.killed.CompareAndSwap(false, true) {
		return false
	}
	// The socket first: a command that ends because of the cancellation must find nowhere
	// to write its reply (a killed client receives nothing more, as in Redis).
	_ = c.nc.Close()
	c.cancel()
	return true
}

// serve is the connection goroutine.
func (c *conn) serve() {
	defer c.srv.remove(c)
	defer func() {
		c.cancel()
		_ = c.nc.Close()
		c.out.stop()
	}()
	defer func() {
		// A panic while serving one client (a bug in a command) ends that client only.
		if r := recover(); r != nil {
			c.srv.log.Error("connection panic", "id", c.id, "addr", c.addr, "panic", r,
				"stack", string(debug.Stack()))
		}
	}()
	for {
		c.in.refresh()
		cmds, err := c.rd.ReadCommands()
		if err != nil {
			c.readFailed(err)
			return
		}
		big := c.batch(cmds)
		if c.killed.Load() {
			return
		}
		if err := c.out.write(c.enc); err != nil {
			return
		}
		if cap(c.enc) > keepEncode {
			c.enc = nil
		} else {
			c.enc = c.enc[:0]
		}
		if c.closing {
			c.out.drain(closeDrain)
			return
		}
		if big {
			c.resetReader()
		}
		if !c.batchWrote {
			// Measured, not derived (README, Performance): yielding here after a batch of
			// reads, before this connection's next read from the socket, made GET faster
			// with 50 clients in alternating runs and in make bench, while after writes it
			// made SET slower. Why is not known: the system calls per GET did not fall.
			runtime.Gosched()
		}
	}
}

// limits returns the request limits for the next read.
func (c *conn) limits() limits {
	l := limits{
		maxArgs:    int64(c.srv.cfg.MaxMultibulkLen),
		maxBulk:    c.srv.cfg.ProtoMaxBulkLen(),
		maxQuery:   c.srv.cfg.ClientQueryBufferLimit(),
		restricted: c.authRequired(),
	}
	// A non-positive limit from a misconfigured source would refuse everything.
	if l.maxBulk <= 0 {
		l.maxBulk = defaultMaxBulk
	}
	if l.maxQuery <= 0 {
		l.maxQuery = defaultMaxQuery
	}
	return l
}

// resetReader drops redcon's reader, and with it the buffer a big command made it grow,
// when nothing is buffered in it: all bytes handed on formed complete commands and the
// bufio.Reader between is empty.
func (c *conn) resetReader() {
	if c.in.atBoundary() && c.br.Buffered() == 0 {
		c.rd = redcon.NewReader(c.br)
	}
}

// readFailed handles the end of the input: a protocol error is answered (Redis' text)
// before closing; end of file and socket errors close silently.
func (c *conn) readFailed(err error) {
	var pe *protoError
	switch {
	case errors.As(err, &pe) && pe.quiet:
		c.srv.log.Warn("closing client that reached max query buffer length",
			"id", c.id, "addr", c.addr, "qbuf", c.in.pending)
		return
	case errors.As(err, &pe):
		c.srv.log.Debug("protocol error", "id", c.id, "addr", c.addr, "err", pe.msg)
		c.sendFinal(pe.msg)
	case strings.HasPrefix(err.Error(), "Protocol error: "):
		// redcon's own parser objected to something the scanner let through.
		c.srv.log.Debug("protocol error", "id", c.id, "addr", c.addr, "err", err)
		c.sendFinal("ERR " + err.Error())
	case c.killed.Load(), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ECONNRESET):
	default:
		c.srv.log.Debug("read failed", "id", c.id, "addr", c.addr, "err", err)
	}
}

// sendFinal sends a last error reply before the connection closes.
func (c *conn) sendFinal(msg string) {
	if c.replyOff || c.skipNext {
		return
	}
	c.enc = appendReply(c.enc[:0], reply.Err(msg), c.st.proto)
	if c.out.write(c.enc) == nil {
		c.out.drain(closeDrain)
	}
}

// authRequired is Redis' authRequired: requirepass is set and this client has not
// authenticated. Connections made while no password was set count as authenticated.
func (c *conn) authRequired() bool {
	return !c.authed && c.srv.cfg.RequirePass() != ""
}

// batch runs every command redcon parsed from one read and encodes the replies into enc,
// in request order. Connection commands run here, in order; runs of other commands
// between them go to the Backend as one segment each. It reports whether a command was
// big enough to warrant resetReader.
func (c *conn) batch(cmds []redcon.Command) (big bool) {
	now := time.Now()
	c.batchWrote = false
	var last *command.Spec
	lastSet := false
	for i := range cmds {
		if c.closing {
			// Redis stops reading a client's commands once it is to be closed.
			break
		}
		args := cmds[i].Args
		if len(cmds[i].Raw) > bigCommand {
			big = true
		}
		skip := c.skipNext
		c.skipNext = false
		spec, rejected := c.check(args)
		last, lastSet = spec, true
		if c.tx != nil && !runsInMulti(spec) {
			c.slots = append(c.slots, slot{v: c.queue(spec, args, rejected), call: -1, suppress: c.replyOff || skip})
			continue
		}
		if c.tx != nil && rejected.Kind == reply.KindError {
			c.slots = append(c.slots, slot{v: c.rejectInMulti(spec, rejected), call: -1, suppress: c.replyOff || skip})
			continue
		}
		if rejected.Kind == reply.KindError {
			c.slots = append(c.slots, slot{v: rejected, call: -1, suppress: c.replyOff || skip})
			continue
		}
		if spec.Kind != command.KindConn {
			c.slots = append(c.slots, slot{call: len(c.calls), suppress: c.replyOff || skip})
			c.calls = append(c.calls, Call{Spec: spec, Args: args})
			c.batchWrote = c.batchWrote || spec.Kind == command.KindKeyWrite
			continue
		}
		c.runSegment()
		// Redis records the command before running it: CLIENT INFO shows itself.
		c.mu.Lock()
		c.st.lastCmd, c.st.lastActive = spec.Name, now
		c.mu.Unlock()
		c.curArgs = args
		start := time.Now()
		v := c.runConn(spec, args)
		c.srv.obs.CommandDone(spec.Name, time.Since(start), v.IsError())
		c.curArgs = nil
		if !c.replyOff && !skip && !c.noReply {
			c.enc = appendReply(c.enc, v, c.st.proto)
			c.flushIfBig()
		}
		c.noReply = false
	}
	c.runSegment()
	if lastSet {
		name := "NULL"
		if last != nil {
			name = last.Name
		}
		c.mu.Lock()
		c.st.lastCmd, c.st.lastActive = name, now
		c.mu.Unlock()
	}
	return big
}

// check finds args' command and applies the checks Redis makes before running one, in
// Redis' order: unknown command or subcommand, arity, authentication. It returns the
// spec, or an error reply (Kind KindError) when the command must not run.
func (c *conn) check(args [][]byte) (*command.Spec, reply.Value) {
	spec := c.srv.cfg.Table.Lookup(args)
	switch {
	case spec == nil:
		return nil, reply.UnknownCommand(args)
	case len(spec.Subcommands) > 0 && len(args) >= 2:
		// Lookup returns the container itself only when the subcommand is unknown.
		return spec, reply.UnknownSubcommand(spec.Name, args[1])
	case !spec.CheckArity(len(args)):
		return spec, reply.WrongArgs(spec.Name)
	case spec.Flags&command.FlagNoAuth == 0 && c.authRequired():
		return spec, reply.ErrNoAuth
	}
	return spec, reply.Value{}
}

// runSegment executes the calls collected since the last connection command and encodes
// every pending reply.
func (c *conn) runSegment() {
	if len(c.slots) == 0 {
		return
	}
	var out []reply.Value
	if n := len(c.calls); n > 0 {
		if cap(c.results) < n {
			c.results = make([]reply.Value, n)
		}
		out = c.results[:n]
		start := time.Now()
		c.srv.cfg.Backend.Exec(c.ctx, c.calls, out)
		each := time.Since(start) / time.Duration(n)
		for i := range c.calls {
			c.srv.obs.CommandDone(c.calls[i].Spec.Name, each, out[i].IsError())
		}
	}
	proto := c.st.proto
	for i := range c.slots {
		s := &c.slots[i]
		if s.suppress {
			if s.call >= 0 {
				reply.Discard(out[s.call])
			}
			continue
		}
		if s.call >= 0 {
			if v := out[s.call]; v.Kind == reply.KindStream {
				c.sendStream(v, proto)
			} else {
				c.enc = appendReply(c.enc, v, proto)
			}
			out[s.call] = reply.Value{}
		} else {
			c.enc = appendReply(c.enc, s.v, proto)
		}
		c.flushIfBig()
	}
	// Drop references to arguments and replies so big values do not outlive the batch.
	clear(c.slots)
	clear(c.calls)
	clear(out)
	c.slots, c.calls = c.slots[:0], c.calls[:0]
}

// sendStream encodes a streamed array element by element, writing every flushChunk, so a
// reply of millions of elements never sits whole in memory (the output's limit applies
// back-pressure when the client reads slowly). A source that fails part way has already had
// its array header sent: the connection is closed after what was written, since no reply
// can complete the array honestly.
func (c *conn) sendStream(v reply.Value, proto int) {
	defer v.Src.Close()
	if c.closing {
		return
	}
	n := int64(v.Src.Len())
	switch {
	case v.StreamKind() == reply.KindMap && proto >= 3:
		c.enc = appendInt(c.enc, '%', n/2)
	case v.StreamKind() == reply.KindSet && proto >= 3:
		c.enc = appendInt(c.enc, '~', n)
	case v.StreamKind() == reply.KindPairs && proto >= 3:
		c.enc = appendInt(c.enc, '*', n/2)
	default:
		c.enc = appendInt(c.enc, '*', n)
	}
	for sent := 0; ; sent++ {
		e, ok, err := v.Src.Next()
		if err != nil || ok && sent == v.Src.Len() || !ok && sent < v.Src.Len() {
			c.srv.log.Error("streamed reply failed; closing the connection", "id", c.id,
				"addr", c.addr, "sent", sent, "len", v.Src.Len(), "err", err)
			c.closing = true
			return
		}
		if !ok {
			return
		}
		if v.StreamKind() == reply.KindPairs && proto >= 3 && sent%2 == 0 {
			c.enc = append(c.enc, "*2\r\n"...)
		}
		c.enc = appendReply(c.enc, e, proto)
		c.flushIfBig()
		if c.closing {
			return // the client is gone
		}
	}
}

// flushIfBig writes the replies encoded so far once they reach flushChunk. A failed write
// stops the batch: the connection is gone, and serve sees the error on its last write.
func (c *conn) flushIfBig() {
	if len(c.enc) < flushChunk {
		return
	}
	if err := c.out.write(c.enc); err != nil {
		c.closing = true
	}
	c.enc = c.enc[:0]
}

// runConn runs a connection command.
func (c *conn) runConn(spec *command.Spec, args [][]byte) reply.Value {
	switch spec.Name {
	case "ping":
		return c.ping(args)
	case "echo":
		return reply.Bulk(args[1])
	case "hello":
		return c.hello(args)
	case "auth":
		return c.auth(args)
	case "select":
		return c.selectDB(args)
	case "quit":
		c.closing = true
		return reply.OK
	case "reset":
		return c.reset()
	case "readonly", "readwrite":
		c.mu.Lock()
		c.st.readOnly = spec.Name == "readonly"
		c.mu.Unlock()
		return reply.OK
	case "client|id":
		return reply.Int(int64(c.id))
	case "client|setname":
		return c.clientSetName(args[2])
	case "client|getname":
		if c.st.name == "" {
			return reply.Null
		}
		return reply.BulkString(c.st.name)
	case "client|list":
		return c.clientList(args)
	case "client|info":
		line := appendClientLine(nil, c.selfInfo(), time.Now())
		return reply.Value{Kind: reply.KindVerbatim, Str: append(line, '\n')}
	case "client|setinfo":
		return c.clientSetInfo(args)
	case "client|kill":
		return c.clientKill(args)
	case "client|no-evict":
		return c.clientNoEvict(args)
	case "client|unblock":
		return c.clientUnblock(args)
	case "client|reply":
		return c.clientReply(args)
	case "client|help":
		return clientHelp()
	case "multi":
		return c.multi()
	case "exec":
		return c.exec()
	case "discard":
		return c.discard()
	case "watch":
		return c.watch(args)
	case "unwatch":
		c.watched = nil
		return reply.OK
	}
	// A connection command registered in the table without an implementation here.
	return reply.Err(fmt.Sprintf("ERR command '%s' is not supported by this server", spec.Name))
}
