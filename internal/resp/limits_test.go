package resp

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The expected replies below were taken from redis-server 7.0.15 fed the same bytes.
func TestProtocolErrorsCloseOnlyThatClient(t *testing.T) {
	cases := []struct {
		name string
		send string
		want []string // replies before the close
	}{
		{"multibulk over limit", "*1048577\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}},
		{"multibulk leading zero", "*007\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}},
		{"multibulk minus zero", "*-0\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}},
		{"multibulk overflow", "*99999999999999999999\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}},
		{"multibulk not a number", "*x\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}},
		{"bulk over limit", "*1\r\n$536870913\r\n", []string{"-ERR Protocol error: invalid bulk length\r\n"}},
		{"bulk negative", "*1\r\n$-1\r\n", []string{"-ERR Protocol error: invalid bulk length\r\n"}},
		{"bulk overflow after ping", "PING\r\n*1\r\n$999999999999\r\n",
			[]string{"+PONG\r\n", "-ERR Protocol error: invalid bulk length\r\n"}},
		{"inline too big", strings.Repeat("x", 70000), []string{"-ERR Protocol error: too big inline request\r\n"}},
		{"inline too big after ping", "PING\r\n" + strings.Repeat("x", 66000),
			[]string{"+PONG\r\n", "-ERR Protocol error: too big inline request\r\n"}},
		{"count line too big", "*" + strings.Repeat("1", 70000), []string{"-ERR Protocol error: too big mbulk count string\r\n"}},
		{"bulk line too big", "*1\r\n$" + strings.Repeat("1", 70000), []string{"-ERR Protocol error: too big bulk count string\r\n"}},
		{"expected dollar", "*1\r\nX\r\n", []string{"-ERR Protocol error: expected '$', got 'X'\r\n"}},
		{"expected dollar, empty line", "*1\r\n\r\n", []string{"-ERR Protocol error: expected '$', got ' '\r\n"}},
		{"unbalanced quotes", "ECHO \"a\"b\r\n", []string{"-ERR Protocol error: unbalanced quotes in request\r\n"}},
		{"unterminated quote", "PING\r\nECHO 'a\r\n",
			[]string{"+PONG\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"}},
	}
	ts := startServer(t, nil)
	bystander := dialRaw(t, ts.addr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			c.send(tc.send)
			c.expect(tc.want...)
			c.expectClosed()
			bystander.send(multibulk("ECHO", tc.name))
			bystander.expect("$" + strconv.Itoa(len(tc.name)) + "\r\n" + tc.name + "\r\n")
		})
	}
}

// Inputs Redis accepts although they look odd.
func TestProtocolOddButValid(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send("*0\r\nPING\r\n")
	c.expect("+PONG\r\n")
	c.send("*-1\r\nPING\r\n")
	c.expect("+PONG\r\n")
	c.send("*1\rX$4\r\nPING\r\n") // any byte after a header's '\r'
	c.expect("+PONG\r\n")
	c.send("*1\r\n$4\r\nPINGxxPING\r\n") // any two bytes after a payload
	c.expect("+PONG\r\n", "+PONG\r\n")
	c.send("\r\n\r\nPING\r\n") // empty inline lines
	c.expect("+PONG\r\n")
	c.send("set a\"b c\" d\r\nget ab c\r\nGET \"a\\x62 c\"\r\n")
	c.expect("+OK\r\n", "-ERR wrong number of arguments for 'get' command\r\n", "$1\r\nd\r\n")
	c.send("ECHO \"\\x41\\n\"\r\n")
	c.expect("$2\r\nA\n\r\n")
	c.send("ECHO 'it\\'s'\tx\r\n") // a tab separates, like a space
	c.expect("-ERR wrong number of arguments for 'echo' command\r\n")
	// Byte by byte is the same as all at once.
	for _, b := range []byte(multibulk("SET", "k", "slow") + multibulk("GET", "k")) {
		c.send(string([]byte{b}))
	}
	c.expect("+OK\r\n", "$4\r\nslow\r\n")
}

func TestConfiguredLimits(t *testing.T) {
	var maxBulk, maxQuery atomic.Int64
	maxBulk.Store(10)
	maxQuery.Store(1 << 20)
	ts := startServer(t, func(c *Config) {
		c.MaxMultibulkLen = 4
		c.ProtoMaxBulkLen = maxBulk.Load
		c.ClientQueryBufferLimit = maxQuery.Load
	})
	c := dialRaw(t, ts.addr)
	c.send(multibulk("SET", "k", "0123456789") + multibulk("DEL", "a", "b", "c"))
	c.expect("+OK\r\n", ":0\r\n")
	c.send(multibulk("DEL", "a", "b", "c", "d"))
	c.expect("-ERR Protocol error: invalid multibulk length\r\n")
	c.expectClosed()

	c = dialRaw(t, ts.addr)
	c.send(multibulk("SET", "k", "01234567890"))
	c.expect("-ERR Protocol error: invalid bulk length\r\n")
	c.expectClosed()

	// Inline commands obey the same limits.
	c = dialRaw(t, ts.addr)
	c.send("DEL a b c d\r\n")
	c.expect("-ERR Protocol error: invalid multibulk length\r\n")
	c.expectClosed()
	c = dialRaw(t, ts.addr)
	c.send("ECHO 01234567890\r\n")
	c.expect("-ERR Protocol error: invalid bulk length\r\n")
	c.expectClosed()

	// A limit changed at run time applies to live connections from their next command.
	c = dialRaw(t, ts.addr)
	c.send(multibulk("ECHO", "short"))
	c.expect("$5\r\nshort\r\n")
	maxBulk.Store(100)
	c.send(multibulk("ECHO", "a rather longer argument"))
	c.expect("$24\r\na rather longer argument\r\n")
}

// Redis closes a client whose query buffer passes client-query-buffer-limit without a
// reply.
func TestQueryBufferLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.ClientQueryBufferLimit = func() int64 { return 1 << 20 }
	})
	bystander := dialRaw(t, ts.addr)
	c := dialRaw(t, ts.addr)
	c.send("*1\r\n$2000000\r\n")
	// The server may close while we are still writing: ignore write errors.
	_ = c.nc.SetWriteDeadline(time.Now().Add(testTimeout))
	_, _ = c.nc.Write([]byte(strings.Repeat("x", 1100000)))
	c.expectClosed()
	bystander.send("PING\r\n")
	bystander.expect("+PONG\r\n")

	// Exactly at the limit is fine; the count covers one command, not a pipeline.
	c = dialRaw(t, ts.addr)
	val := strings.Repeat("y", 1<<20-len("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048549\r\n\r\n"))
	req := multibulk("SET", "k", val)
	if len(req) != 1<<20 {
		t.Fatalf("request is %d bytes", len(req))
	}
	c.send(req + req + req)
	c.expect("+OK\r\n", "+OK\r\n", "+OK\r\n")
}

// Before AUTH, Redis allows at most 10 arguments of at most 16 KB.
func TestUnauthenticatedLimits(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RequirePass = func() string { return "secret" } })
	c := dialRaw(t, ts.addr)
	c.send("*11\r\n")
	c.expect("-ERR Protocol error: unauthenticated multibulk length\r\n")
	c.expectClosed()

	c = dialRaw(t, ts.addr)
	c.send("*2\r\n$16385\r\n")
	c.expect("-ERR Protocol error: unauthenticated bulk length\r\n")
	c.expectClosed()

	c = dialRaw(t, ts.addr)
	c.send("*10\r\n$16384\r\n")
	c.send(strings.Repeat("z", 16384) + "\r\n" + strings.Repeat("$1\r\na\r\n", 9))
	c.expect("-ERR unknown command '" + strings.Repeat("z", 128) + "', with args beginning with: " +
		strings.Repeat("'a' ", 9) + "\r\n")

	// AUTH lifts the limits for the very next command of the same pipeline.
	c = dialRaw(t, ts.addr)
	c.send("AUTH secret\r\n" + multibulk("DEL", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11") +
		multibulk("ECHO", strings.Repeat("b", 20000)))
	c.expect("+OK\r\n", ":0\r\n", "$20000\r\n"+strings.Repeat("b", 20000)+"\r\n")
}
