package integration

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferricd/internal/testserver"
)

// rawConn is a bare RESP connection, so a test decides exactly when each command is sent
// and can hang up in the middle of a blocking command.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, p *testserver.Process) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", p.Addr(), err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(args ...string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.nc.Write([]byte(b.String())); err != nil {
		c.t.Fatalf("send %v: %v", args, err)
	}
}

// read returns the next reply in a compact form: +OK, -ERR ..., :1, "bulk", nil, [a b].
func (c *rawConn) read(within time.Duration) (string, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(within))
	defer c.nc.SetReadDeadline(time.Time{})
	return readValue(c.br)
}

func readValue(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty line")
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '_':
		return "nil", nil
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "nil", nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(br, buf); err != nil {
			return "", err
		}
		return strconv.Quote(string(buf[:n])), nil
	case '*', '%', '~':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "nil", nil
		}
		if line[0] == '%' {
			n *= 2
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = readValue(br); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(parts, " ") + "]", nil
	}
	return line, nil
}

func ioReadFull(br *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := br.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// do sends one command and returns its reply.
func (c *rawConn) do(args ...string) string {
	c.t.Helper()
	c.send(args...)
	v, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	return v
}

// expectReply reads the next reply and fails unless it is want.
func (c *rawConn) expectReply(what, want string) {
	c.t.Helper()
	got, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("%s: no reply: %v", what, err)
	}
	if got != want {
		c.t.Fatalf("%s: got %s, want %s", what, got, want)
	}
}

// expectNoReply fails if a reply arrives within d (the client must still be blocked).
func (c *rawConn) expectNoReply(what string, d time.Duration) {
	c.t.Helper()
	if got, err := c.read(d); err == nil {
		c.t.Fatalf("%s: got %s, want the client still blocked", what, got)
	}
}

// blockedClients returns INFO's blocked_clients.
func blockedClients(t *testing.T, c *rawConn) int {
	t.Helper()
	v := c.do("INFO", "clients")
	i := strings.Index(v, "blocked_clients:")
	if i < 0 {
		t.Fatalf("INFO clients has no blocked_clients: %s", v)
	}
	rest := v[i+len("blocked_clients:"):]
	n, err := strconv.Atoi(rest[:strings.IndexAny(rest, `\r"`)])
	if err != nil {
		t.Fatalf("blocked_clients in %q: %v", v, err)
	}
	return n
}

// waitBlocked waits until INFO reports n blocked clients.
func waitBlocked(t *testing.T, admin *rawConn, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := blockedClients(t, admin)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocked_clients = %d, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBlockedClientsAreServedInTheOrderTheyBlocked(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	var waiters []*rawConn
	for i := range 5 {
		w := dialRaw(t, p)
		w.send("BLPOP", "queue", "0")
		waitBlocked(t, admin, i+1)
		waiters = append(waiters, w)
	}
	if got := admin.do("RPUSH", "queue", "e1", "e2", "e3", "e4", "e5"); got != ":5" {
		t.Fatalf("RPUSH = %s", got)
	}
	for i, w := range waiters {
		w.expectReply(fmt.Sprintf("waiter %d", i+1), fmt.Sprintf(`["queue" "e%d"]`, i+1))
	}
	if got := admin.do("LLEN", "queue"); got != ":0" {
		t.Fatalf("LLEN after serving every waiter = %s, want :0", got)
	}
	waitBlocked(t, admin, 0)
}

func TestPushWakesExactlyTheWaitersItCanServe(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	var waiters []*rawConn
	for i := range 3 {
		w := dialRaw(t, p)
		w.send("BRPOP", "jobs", "0")
		waitBlocked(t, admin, i+1)
		waiters = append(waiters, w)
	}
	admin.do("LPUSH", "jobs", "a", "b")
	waiters[0].expectReply("first waiter", `["jobs" "a"]`)
	waiters[1].expectReply("second waiter", `["jobs" "b"]`)
	waiters[2].expectNoReply("third waiter after a push of two", 300*time.Millisecond)
	waitBlocked(t, admin, 1)
	admin.do("RPUSH", "jobs", "c")
	waiters[2].expectReply("third waiter", `["jobs" "c"]`)
}

func TestBlockingCommandsTimeOut(t *testing.T) {
	p := testserver.StartFerricd(t)
	c := dialRaw(t, p)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"BLPOP", "nothing", "0.2"}, "nil"},
		{[]string{"BRPOP", "{n}a", "{n}b", "0.1"}, "nil"},
		{[]string{"BLMOVE", "nothing", "dst", "LEFT", "RIGHT", "0.1"}, "nil"},
		{[]string{"BRPOPLPUSH", "nothing", "dst", "0.1"}, "nil"},
		{[]string{"BLMPOP", "0.1", "1", "nothing", "LEFT"}, "nil"},
		{[]string{"BZPOPMIN", "nothing", "0.1"}, "nil"},
		{[]string{"BZPOPMAX", "nothing", "0.1"}, "nil"},
	} {
		start := time.Now()
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.args, got, tc.want)
		}
		if el := time.Since(start); el < 90*time.Millisecond {
			t.Errorf("%v answered after %v, before its timeout", tc.args, el)
		}
	}
	if got := c.do("BLPOP", "nothing", "-1"); got != "-ERR timeout is negative" {
		t.Errorf("BLPOP with a negative timeout = %s", got)
	}
	if got := c.do("BLPOP", "nothing", "soon"); got != "-ERR timeout is not a float or out of range" {
		t.Errorf("BLPOP with a bad timeout = %s", got)
	}
	c.do("HELLO", "3")
	if got := c.do("BLPOP", "nothing", "0.05"); got != "nil" {
		t.Errorf("RESP3 BLPOP timeout = %s, want a null", got)
	}
}

func TestBlockedClientThatHangsUpIsForgotten(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	gone := dialRaw(t, p)
	gone.send("BLPOP", "mailbox", "0")
	waitBlocked(t, admin, 1)
	gone.nc.Close()
	waitBlocked(t, admin, 0)

	w := dialRaw(t, p)
	w.send("BLPOP", "mailbox", "0")
	waitBlocked(t, admin, 1)
	admin.do("RPUSH", "mailbox", "letter")
	w.expectReply("the waiter that stayed", `["mailbox" "letter"]`)
	if got := admin.do("LLEN", "mailbox"); got != ":0" {
		t.Fatalf("LLEN = %s: the element went elsewhere", got)
	}
}

func TestClientUnblock(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	w := dialRaw(t, p)
	id := strings.TrimPrefix(w.do("CLIENT", "ID"), ":")

	if got := admin.do("CLIENT", "UNBLOCK", id); got != ":0" {
		t.Fatalf("CLIENT UNBLOCK of a client that is not blocked = %s, want :0", got)
	}
	w.send("BLPOP", "k", "0")
	waitBlocked(t, admin, 1)
	if got := admin.do("CLIENT", "UNBLOCK", id); got != ":1" {
		t.Fatalf("CLIENT UNBLOCK = %s, want :1", got)
	}
	w.expectReply("unblocked as a timeout", "nil")

	w.send("BZPOPMIN", "z", "0")
	waitBlocked(t, admin, 1)
	if got := admin.do("CLIENT", "UNBLOCK", id, "ERROR"); got != ":1" {
		t.Fatalf("CLIENT UNBLOCK ERROR = %s, want :1", got)
	}
	w.expectReply("unblocked with an error", "-UNBLOCKED client unblocked via CLIENT UNBLOCK")
	waitBlocked(t, admin, 0)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"CLIENT", "UNBLOCK", id, "LATER"}, "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"},
		{[]string{"CLIENT", "UNBLOCK", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"CLIENT", "UNBLOCK", "987654"}, ":0"},
	} {
		if got := admin.do(tc.args...); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestBlockingCommandsAreWokenByEachType(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	w := dialRaw(t, p)

	w.send("BLMOVE", "{m}src", "{m}dst", "RIGHT", "LEFT", "0")
	waitBlocked(t, admin, 1)
	admin.do("RPUSH", "{m}src", "x", "y")
	w.expectReply("BLMOVE", `"y"`)
	if got := admin.do("LRANGE", "{m}dst", "0", "-1"); got != `["y"]` {
		t.Fatalf("BLMOVE destination = %s", got)
	}

	w.send("BZPOPMAX", "scores", "0")
	waitBlocked(t, admin, 1)
	admin.do("ZADD", "scores", "1", "low", "9", "high")
	w.expectReply("BZPOPMAX", `["scores" "high" "9"]`)

	w.send("BLMPOP", "0", "2", "{q}a", "{q}b", "RIGHT", "COUNT", "5")
	waitBlocked(t, admin, 1)
	admin.do("RPUSH", "{q}b", "1", "2", "3")
	w.expectReply("BLMPOP", `["{q}b" ["3" "2" "1"]]`)

	// A key that turns into another type keeps its waiter blocked, as in Redis 7.0.
	w.send("BLPOP", "turns", "0")
	waitBlocked(t, admin, 1)
	admin.do("SET", "turns", "string")
	w.expectNoReply("BLPOP on a key set to a string", 200*time.Millisecond)
	admin.do("DEL", "turns")
	admin.do("RPUSH", "turns", "now")
	w.expectReply("BLPOP after the key is a list again", `["turns" "now"]`)
}

func TestCommandsPipelinedBehindABlockedOneWaitForIt(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	w := dialRaw(t, p)
	w.send("BLPOP", "gate", "0")
	w.send("RPUSH", "after", "1")
	w.send("PING")
	waitBlocked(t, admin, 1)
	if got := admin.do("EXISTS", "after"); got != ":0" {
		t.Fatalf("a write pipelined behind a blocked BLPOP ran before it: EXISTS = %s", got)
	}
	admin.do("RPUSH", "gate", "open")
	w.expectReply("BLPOP", `["gate" "open"]`)
	w.expectReply("RPUSH after it", ":1")
	w.expectReply("PING after it", "+PONG")
}
