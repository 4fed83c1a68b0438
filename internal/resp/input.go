package resp

import (
	"bytes"
	"io"
	"strconv"
	"sync/atomic"
)

// Redis' request-parsing constants (server.h).
const (
	// inlineMax is PROTO_INLINE_MAX_SIZE: the longest inline line, and the longest
	// multibulk or bulk header line, Redis accepts.
	inlineMax = 64 * 1024
	// unauthMaxArgs and unauthMaxBulk are the limits Redis applies to connections that
	// still have to authenticate, so that an anonymous peer cannot make the server buffer
	// big requests.
	unauthMaxArgs = 10
	unauthMaxBulk = 16 * 1024
	// readChunk is PROTO_IOBUF_LEN: how much is read from the socket at once.
	readChunk = 16 * 1024
	// directMin is the smallest remaining bulk payload that is read from the socket
	// straight into the reader's buffer rather than through raw: big values then cost
	// one copy less.
	directMin = readChunk
)

// protoError ends a connection because of what the client sent. msg is the error reply
// ("ERR Protocol error: ..."); a quiet error closes without a reply, as Redis does when a
// client's query buffer exceeds client-query-buffer-limit.
type protoError struct {
	msg   string
	quiet bool
}

func (e *protoError) Error() string {
	if e.quiet {
		return "query buffer limit exceeded"
	}
	return e.msg
}

func protocolError(what string) *protoError {
	return &protoError{msg: "ERR Protocol error: " + what}
}

var (
	errTooBigInline     = protocolError("too big inline request")
	errTooBigCount      = protocolError("too big mbulk count string")
	errTooBigBulkHeader = protocolError("too big bulk count string")
	errMultibulkLen     = protocolError("invalid multibulk length")
	errBulkLen          = protocolError("invalid bulk length")
	errUnauthMultibulk  = protocolError("unauthenticated multibulk length")
	errUnauthBulk       = protocolError("unauthenticated bulk length")
	errUnbalanced       = protocolError("unbalanced quotes in request")
	errQueryBuffer      = &protoError{quiet: true}
)

// limits are the request limits in force. They are re-read before each batch and after
// each read from the socket, so CONFIG SET and AUTH take effect from the next command on.
type limits struct {
	maxArgs  int64 // multibulk count (and inline argument count)
	maxBulk  int64 // one argument's length
	maxQuery int64 // bytes of a command that is still incomplete
	// restricted marks a connection that must still authenticate: Redis' smaller limits
	// apply, and scanning stops at the end of each command so that the limits of the next
	// one are chosen after AUTH has run, exactly as Redis processes a pipeline in order.
	restricted bool
}

// Scanner states. A command is: '*' header line, then per argument a '$' header line and
// its payload; or one inline line.
const (
	stIdle       = iota // between commands
	stCount             // in the '*' header line, before '\r'
	stBulkHead          // in a '$' header line, before '\r'
	stHeadEnd           // the byte after a header's '\r' (Redis skips it unchecked)
	stPayload           // inside a bulk payload
	stPayloadEnd        // the two bytes after a payload (Redis skips them unchecked)
	stInline            // inside an inline line, before '\n'
)

// inbound is the io.Reader redcon reads from. It scans the byte stream from the socket
// with a small state machine before redcon sees it, and hands on only bytes it has
// validated, in canonical form, so that:
//   - every limit (argument count, argument length, header and inline line length, bytes
//     of an incomplete command) is enforced before any of it is buffered beyond the
//     current command, with Redis' error texts;
//   - redcon never meets input it would parse differently from Redis: header numbers are
//     checked with the rules of Redis' string2ll (redcon's parser accepts "007" and
//     overflows silently), "*0" and negative counts are dropped as Redis ignores them,
//     the bytes Redis skips without checking after a header's '\r' and after a payload
//     are normalised to "\r\n", and inline commands are split with Redis' quoting rules
//     and handed on as multibulk;
//   - a Read returns only once it delivers the end of a command or fills p. Until then
//     redcon could not complete a command anyway, and each return makes redcon rescan
//     its whole buffered partial command: returning on every small socket read would
//     let a client that trickles a many-argument command make parsing quadratic.
//
// It is owned by the connection goroutine; only qbuf is read by others.
type inbound struct {
	src    io.Reader
	lim    limits
	limFn  func() limits // the limits in force now
	onRead func(n int)

	raw  []byte // raw[r:w] are read but not yet scanned
	r, w int
	out  []byte // validated bytes not yet handed to the reader, from outPos
	// outPos and boundary index out; boundary is just past the last command end in out,
	// -1 when out holds none.
	outPos   int
	boundary int

	state    int
	after    int    // the header line stHeadEnd ends: stCount or stBulkHead
	header   number // the number in the current header line
	first    byte   // first byte of a '$' header line
	hlen     int    // bytes of the current header line
	args     int64  // arguments still expected in the current multibulk
	remain   int64  // payload bytes still expected
	skip     int    // bytes still to skip in stPayloadEnd
	nul      bool   // the current line holds a NUL byte (see scanHeader)
	line     []byte // the inline line so far
	pending  int64  // bytes of the current, incomplete command
	err      error  // sticky protocol error
	ioErr    error  // sticky error from src
	qbuf     atomic.Int64
	stalled  int // successive empty reads from src
	argsTemp [][]byte
}

func newInbound(src io.Reader, limFn func() limits, onRead func(int)) *inbound {
	g := &inbound{src: src, limFn: limFn, onRead: onRead, raw: make([]byte, readChunk), boundary: -1}
	g.refresh()
	return g
}

// refresh re-reads the limits. The connection calls it before each batch (AUTH may have
// run), and fill after each read from the socket, so that a limit changed by CONFIG SET
// applies to every byte that arrives after the change.
func (g *inbound) refresh() {
	g.lim = g.limFn()
}

// atBoundary reports whether every byte handed on so far belongs to a complete command.
func (g *inbound) atBoundary() bool {
	return g.state == stIdle && g.pending == 0 && g.outPos == len(g.out)
}

// Read implements io.Reader for redcon (through a bufio.Reader).
func (g *inbound) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	defer func() { g.qbuf.Store(g.pending) }()
	for {
		if n == len(p) {
			return n, nil
		}
		if g.outPos < len(g.out) {
			k := copy(p[n:], g.out[g.outPos:])
			n += k
			g.outPos += k
			crossed := g.boundary >= 0 && g.outPos >= g.boundary
			if g.outPos == len(g.out) {
				g.out, g.outPos, g.boundary = g.out[:0], 0, -1
				if cap(g.out) > 4*readChunk {
					// Inline expansion or a burst made it big; do not keep that.
					g.out = nil
				}
			}
			if crossed {
				return n, nil
			}
			continue
		}
		if g.err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, g.err
		}
		if g.r < g.w {
			g.scan(len(p) - n)
			continue
		}
		if g.ioErr != nil {
			if n > 0 {
				return n, nil
			}
			return 0, g.ioErr
		}
		if g.state == stPayload && g.remain >= directMin && g.outPos == len(g.out) {
			n += g.readDirect(p[n:])
			continue
		}
		g.fill()
	}
}

// readDirect reads payload bytes from src straight into p.
func (g *inbound) readDirect(p []byte) int {
	if int64(len(p)) > g.remain {
		p = p[:g.remain]
	}
	if room := g.lim.maxQuery - g.pending + 1; int64(len(p)) > room {
		p = p[:room]
	}
	m, err := g.src.Read(p)
	g.received(m, err)
	g.remain -= int64(m)
	g.grow(m)
	if g.remain == 0 {
		g.state, g.skip = stPayloadEnd, 2
	}
	return m
}

// fill reads the next chunk from src into raw, which the scanner has emptied.
func (g *inbound) fill() {
	g.r, g.w = 0, 0
	m, err := g.src.Read(g.raw)
	g.w = m
	g.received(m, err)
	g.refresh()
}

func (g *inbound) received(m int, err error) {
	if m > 0 {
		g.stalled = 0
		if g.onRead != nil {
			g.onRead(m)
		}
	}
	if err != nil {
		g.ioErr = err
	} else if m == 0 {
		// A reader that keeps returning nothing must not spin the connection goroutine.
		if g.stalled++; g.stalled > 100 {
			g.ioErr = io.ErrNoProgress
		}
	}
}

// grow accounts m more bytes to the incomplete command (the query buffer).
func (g *inbound) grow(m int) {
	g.pending += int64(m)
	if g.pending > g.lim.maxQuery && g.err == nil {
		g.err = errQueryBuffer
	}
}

// take consumes m raw bytes; false means they broke the query buffer limit.
func (g *inbound) take(m int) bool {
	g.r += m
	g.grow(m)
	return g.err == nil
}

// commandDone marks the end of a command in the stream. emitted says whether anything
// was handed on for it ("*0" and empty inline lines are dropped).
func (g *inbound) commandDone(emitted bool) {
	g.state = stIdle
	g.pending = 0
	if emitted {
		g.boundary = len(g.out)
	}
}

// scan consumes raw bytes until they run out, want bytes of output are ready, an error
// is found, or (restricted) a command is complete.
//
// Each step consumes at most the bytes left before the query buffer limit, and a header
// step at most those left before the header line limit, so every error is reported at the
// byte that causes it, whatever the chunking of the input: the same bytes always get the
// same replies.
func (g *inbound) scan(want int) {
	for g.r < g.w && g.err == nil && len(g.out)-g.outPos < want {
		if g.lim.restricted && g.boundary >= 0 {
			return
		}
		avail := g.raw[g.r:g.w]
		if room := g.lim.maxQuery - g.pending + 1; int64(len(avail)) > room {
			avail = avail[:room]
		}
		switch g.state {
		case stIdle:
			g.nul = false
			if avail[0] == '*' {
				g.state, g.hlen = stCount, 1
				g.header = number{}
				g.take(1)
			} else {
				g.state = stInline
				g.line = g.line[:0]
			}
		case stCount, stBulkHead:
			g.scanHeader(avail)
		case stHeadEnd:
			if g.take(1) {
				g.endHeader()
			}
		case stPayload:
			k := int(min(g.remain, int64(len(avail))))
			g.out = append(g.out, avail[:k]...)
			g.take(k)
			if g.remain -= int64(k); g.remain == 0 {
				g.state, g.skip = stPayloadEnd, 2
			}
		case stPayloadEnd:
			k := min(g.skip, len(avail))
			if !g.take(k) {
				return
			}
			if g.skip -= k; g.skip == 0 {
				g.out = append(g.out, '\r', '\n')
				if g.args--; g.args == 0 {
					g.commandDone(true)
				} else {
					g.state, g.hlen = stBulkHead, 0
					g.header = number{}
				}
			}
		case stInline:
			g.scanInline(avail)
		}
	}
}

// scanHeader consumes header-line bytes up to the '\r' that ends the line.
func (g *inbound) scanHeader(avail []byte) {
	if left := inlineMax + 1 - g.hlen; len(avail) > left {
		avail = avail[:left]
	}
	end := bytes.IndexByte(avail, '\r')
	body := avail
	if end >= 0 {
		body = avail[:end]
	}
	if g.nul || bytes.IndexByte(body, 0) >= 0 {
		// Redis finds the end of a line with strchr, which stops at a NUL byte: a line
		// with one never ends, until it is too long.
		g.nul, end, body = true, -1, avail
	}
	for _, c := range body {
		if g.state == stBulkHead && g.hlen == 0 {
			g.first = c
		} else {
			g.header.add(c)
		}
		g.hlen++
	}
	if end < 0 {
		if g.take(len(body)) && g.hlen > inlineMax {
			if g.state == stCount {
				g.err = errTooBigCount
			} else {
				g.err = errTooBigBulkHeader
			}
		}
		return
	}
	if g.state == stBulkHead && g.hlen == 0 {
		// An empty header line: Redis reports the '\r' it found instead of '$'.
		g.first = '\r'
	}
	g.after = g.state
	g.state = stHeadEnd
	g.nul = false
	g.take(end + 1)
}

// endHeader validates a complete header line as Redis does and emits it.
func (g *inbound) endHeader() {
	v, ok := g.header.value()
	if g.after == stCount {
		switch {
		case !ok || v > g.lim.maxArgs:
			g.err = errMultibulkLen
		case g.lim.restricted && v > unauthMaxArgs:
			g.err = errUnauthMultibulk
		case v <= 0:
			// Redis ignores an empty or null multibulk.
			g.commandDone(false)
		default:
			g.out = append(g.out, '*')
			g.out = strconv.AppendInt(g.out, v, 10)
			g.out = append(g.out, '\r', '\n')
			g.args = v
			g.state, g.hlen = stBulkHead, 0
			g.header = number{}
		}
		return
	}
	switch {
	case g.first != '$':
		g.err = protocolError("expected '$', got '" + printable(g.first) + "'")
	case !ok || v < 0 || v > g.lim.maxBulk:
		g.err = errBulkLen
	case g.lim.restricted && v > unauthMaxBulk:
		g.err = errUnauthBulk
	default:
		g.out = append(g.out, '$')
		g.out = strconv.AppendInt(g.out, v, 10)
		g.out = append(g.out, '\r', '\n')
		g.remain = v
		if v == 0 {
			g.state, g.skip = stPayloadEnd, 2
		} else {
			g.state = stPayload
		}
	}
}

// scanInline consumes an inline line up to its '\n' and emits it as a multibulk command.
func (g *inbound) scanInline(avail []byte) {
	end := bytes.IndexByte(avail, '\n')
	seg := avail
	if end >= 0 {
		seg = avail[:end]
	}
	if g.nul || bytes.IndexByte(seg, 0) >= 0 {
		// As in headers, Redis' strchr never finds the end of a line holding a NUL byte.
		g.nul, end = true, -1
	}
	if end < 0 {
		if len(g.line)+len(avail) > inlineMax {
			g.err = errTooBigInline
			return
		}
		g.line = append(g.line, avail...)
		g.take(len(avail))
		return
	}
	if len(g.line)+end > inlineMax {
		g.err = errTooBigInline
		return
	}
	g.line = append(g.line, avail[:end]...)
	if !g.take(end + 1) {
		return
	}
	line := g.line
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	args, ok := splitInline(line, g.argsTemp[:0])
	g.argsTemp = args[:0]
	switch {
	case !ok:
		g.err = errUnbalanced
		return
	case int64(len(args)) > g.lim.maxArgs:
		g.err = errMultibulkLen
		return
	}
	for _, a := range args {
		if int64(len(a)) > g.lim.maxBulk {
			g.err = errBulkLen
			return
		}
	}
	if len(args) > 0 {
		g.out = append(g.out, '*')
		g.out = strconv.AppendInt(g.out, int64(len(args)), 10)
		g.out = append(g.out, '\r', '\n')
		for _, a := range args {
			g.out = append(g.out, '$')
			g.out = strconv.AppendInt(g.out, int64(len(a)), 10)
			g.out = append(g.out, '\r', '\n')
			g.out = append(g.out, a...)
			g.out = append(g.out, '\r', '\n')
		}
	}
	if cap(g.line) > 2*readChunk {
		// A long line was a one-off; do not keep its buffer for the connection's life.
		g.line = nil
	}
	g.commandDone(len(args) > 0)
}

// printable renders the byte Redis quotes in "expected '$', got '%c'"; Redis turns
// newlines in error replies into spaces.
func printable(c byte) string {
	if c == '\r' || c == '\n' {
		return " "
	}
	return string([]byte{c})
}

// number parses a decimal integer one byte at a time with the rules of Redis' string2ll:
// an optional '-', then digits without leading zeros ("0" alone is fine, "-0" and "007"
// are not), no '+', nothing empty, nothing outside int64.
type number struct {
	mag  uint64
	n    int // bytes seen
	neg  bool
	zero bool // the bytes so far are exactly "0"
	bad  bool
}

func (x *number) add(c byte) {
	defer func() { x.n++ }()
	if x.bad {
		return
	}
	if x.zero {
		x.bad = true
		return
	}
	switch {
	case c == '-' && x.n == 0:
		x.neg = true
	case c >= '0' && c <= '9':
		d := uint64(c - '0')
		first := x.n == 0 || (x.neg && x.n == 1)
		if first && d == 0 {
			if x.neg {
				x.bad = true
			} else {
				x.zero = true
			}
			return
		}
		// The magnitude may reach 1<<63 for a negative number only.
		const limit = uint64(1) << 63
		if x.mag > (limit-d)/10 {
			x.bad = true
			return
		}
		x.mag = x.mag*10 + d
		if !x.neg && x.mag == limit {
			x.bad = true
		}
	default:
		x.bad = true
	}
}

func (x *number) value() (int64, bool) {
	if x.bad || x.n == 0 || (x.neg && x.n == 1) {
		return 0, false
	}
	if x.neg {
		return -int64(x.mag-1) - 1, true
	}
	return int64(x.mag), true
}
