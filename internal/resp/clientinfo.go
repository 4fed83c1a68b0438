package resp

import (
	"strconv"
	"time"
)

// ClientInfo is a snapshot of one connection, for CLIENT LIST/INFO and INFO's clients
// section.
type ClientInfo struct {
	ID        uint64
	Addr      string // remote ip:port
	LocalAddr string // local ip:port
	FD        int    // socket descriptor, -1 if unknown
	Name      string // CLIENT SETNAME / HELLO SETNAME
	LibName   string // CLIENT SETINFO LIB-NAME
	LibVer    string // CLIENT SETINFO LIB-VER
	Created   time.Time
	// LastActive is when the client's last command batch arrived.
	LastActive time.Time
	// LastCommand is the last command's name ("client|list"), "NULL" for an unknown one,
	// "" before the first.
	LastCommand string
	Proto       int  // 2 or 3
	ReadOnly    bool // READONLY: follower reads that may be stale are fine
	NoEvict     bool
	Multi       int  // commands queued in MULTI; -1 outside MULTI
	Closing     bool // the connection is being closed
	// QueryBuffer is the bytes of an incomplete command received so far; OutputBuffer the
	// reply bytes waiting for a client that does not read fast enough.
	QueryBuffer  int64
	OutputBuffer int64
	// ArgvMem is the size of the arguments of the command running now; it is only known
	// for the connection asking (CLIENT INFO/LIST), 0 otherwise.
	ArgvMem int64
}

// info snapshots c. Safe from any goroutine.
func (c *conn) info() ClientInfo {
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	return ClientInfo{
		ID:           c.id,
		Addr:         c.addr,
		LocalAddr:    c.laddr,
		FD:           c.fd,
		Name:         st.name,
		LibName:      st.libName,
		LibVer:       st.libVer,
		Created:      c.created,
		LastActive:   st.lastActive,
		LastCommand:  st.lastCmd,
		Proto:        st.proto,
		ReadOnly:     st.readOnly,
		NoEvict:      st.noEvict,
		Multi:        st.multi,
		Closing:      c.killed.Load(),
		QueryBuffer:  c.in.qbuf.Load(),
		OutputBuffer: int64(c.out.buffered()),
	}
}

// selfInfo is info for the connection's own goroutine, which also knows the running
// command's arguments and whether it is about to close.
func (c *conn) selfInfo() ClientInfo {
	ci := c.info()
	for _, a := range c.curArgs {
		ci.ArgvMem += int64(len(a))
	}
	ci.Closing = ci.Closing || c.closing
	return ci
}

// appendClientLine appends ci as one CLIENT LIST line (without the newline), with Redis'
// fields in Redis' order (7.0's, plus 7.2's lib-name and lib-ver). Fields ferricd has no
// counterpart for carry Redis' value for an idle plain client (db=0, multi=-1, ...);
// buffer sizes describe ferricd's own buffers.
func appendClientLine(b []byte, ci ClientInfo, now time.Time) []byte {
	num := func(key string, v int64) {
		b = append(b, key...)
		b = append(b, '=')
		b = strconv.AppendInt(b, v, 10)
		b = append(b, ' ')
	}
	str := func(key, v string) {
		b = append(b, key...)
		b = append(b, '=')
		b = append(b, v...)
		b = append(b, ' ')
	}
	const redconBuffers = 2 * 4096 // the bufio.Reader and redcon's initial buffer
	qfree := max(int64(readChunk)-ci.QueryBuffer, 0)
	num("id", int64(ci.ID))
	str("addr", ci.Addr)
	str("laddr", ci.LocalAddr)
	num("fd", int64(ci.FD))
	str("name", ci.Name)
	num("age", int64(now.Sub(ci.Created)/time.Second))
	num("idle", int64(now.Sub(ci.LastActive)/time.Second))
	str("flags", clientFlags(ci))
	num("db", 0)
	num("sub", 0)
	num("psub", 0)
	num("ssub", 0)
	num("multi", int64(ci.Multi))
	num("qbuf", ci.QueryBuffer)
	num("qbuf-free", qfree)
	num("argv-mem", ci.ArgvMem)
	num("multi-mem", 0)
	num("rbs", readChunk)
	num("rbp", readChunk)
	num("obl", 0)
	oll := int64(0)
	events := "r"
	if ci.OutputBuffer > 0 {
		oll, events = 1, "rw"
	}
	num("oll", oll)
	num("omem", ci.OutputBuffer)
	num("tot-mem", readChunk+redconBuffers+ci.QueryBuffer+ci.OutputBuffer+ci.ArgvMem)
	str("events", events)
	cmd := ci.LastCommand
	if cmd == "" {
		cmd = "NULL"
	}
	str("cmd", cmd)
	str("user", defaultUser)
	num("redir", -1)
	num("resp", int64(ci.Proto))
	str("lib-name", ci.LibName)
	b = append(b, "lib-ver="...)
	return append(b, ci.LibVer...)
}

// clientFlags renders the flags= field with Redis' letters for the states ferricd has.
func clientFlags(ci ClientInfo) string {
	var f []byte
	if ci.Multi >= 0 {
		f = append(f, 'x')
	}
	if ci.Closing {
		f = append(f, 'c')
	}
	if ci.ReadOnly {
		f = append(f, 'r')
	}
	if ci.NoEvict {
		f = append(f, 'e')
	}
	if len(f) == 0 {
		return "N"
	}
	return string(f)
}
