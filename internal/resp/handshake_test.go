package resp

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// helloReply is HELLO's reply as redis-server 7.0.15 sends it (mode and role fixed).
func helloReply(proto int, id string) string {
	body := "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:" +
		strconv.Itoa(proto) + "\r\n$2\r\nid\r\n:" + id + "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n" +
		"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
	if proto == 3 {
		return "%7\r\n" + body
	}
	return "*14\r\n" + body
}

// clientID asks the connection for its id.
func (c *rawClient) clientID() string {
	c.t.Helper()
	r := c.do("CLIENT", "ID")
	return strings.TrimSuffix(strings.TrimPrefix(r, ":"), "\r\n")
}

func TestPingEchoSelectQuit(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send("PING\r\nPING hi\r\nPING a b\r\nECHO x\r\nECHO\r\n")
	c.expect("+PONG\r\n", "$2\r\nhi\r\n", "-ERR wrong number of arguments for 'ping' command\r\n",
		"$1\r\nx\r\n", "-ERR wrong number of arguments for 'echo' command\r\n")
	c.send("SELECT 0\r\nSELECT 1\r\nSELECT -1\r\nSELECT x\r\nSELECT 99999999999\r\nSELECT 0 1\r\n")
	c.expect("+OK\r\n", "-ERR DB index is out of range\r\n", "-ERR DB index is out of range\r\n",
		"-ERR value is not an integer or out of range\r\n", "-ERR value is not an integer or out of range\r\n",
		"-ERR wrong number of arguments for 'select' command\r\n")
	c.send("READONLY\r\nREADWRITE\r\nREADONLY x\r\n")
	c.expect("+OK\r\n", "+OK\r\n", "-ERR wrong number of arguments for 'readonly' command\r\n")
	// QUIT answers, then closes; what follows it in the pipeline is not run.
	c.send("QUIT foo\r\nSET after quit\r\n")
	c.expect("+OK\r\n")
	c.expectClosed()
	c = dialRaw(t, ts.addr)
	if got := c.do("GET", "after"); got != "$-1\r\n" {
		t.Fatalf("command after QUIT ran: GET after = %q", got)
	}
}

func TestHelloWithoutPassword(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	id := c.clientID()
	c.send("HELLO\r\n")
	c.expect(helloReply(2, id))
	c.send("HELLO 3\r\n")
	c.expect(helloReply(3, id))
	c.send("PING\r\nPING x\r\n") // PONG stays a status in RESP3
	c.expect("+PONG\r\n", "$1\r\nx\r\n")
	c.send("HELLO\r\n") // no version: report, keep the protocol
	c.expect(helloReply(3, id))
	c.send("HELLO 4\r\nHELLO 1\r\nHELLO x\r\nHELLO 3 foo\r\nHELLO 3 AUTH a\r\nHELLO 3 setname\r\n" +
		"HELLO 3 setname \"a b\"\r\n")
	c.expect("-NOPROTO unsupported protocol version\r\n", "-NOPROTO unsupported protocol version\r\n",
		"-ERR Protocol version is not an integer or out of range\r\n",
		"-ERR Syntax error in HELLO option 'foo'\r\n", "-ERR Syntax error in HELLO option 'AUTH'\r\n",
		"-ERR Syntax error in HELLO option 'setname'\r\n",
		"-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
	// With no requirepass the default user takes any password.
	c.send("HELLO 2 auth default whatever setname me\r\nCLIENT GETNAME\r\n")
	c.expect(helloReply(2, id), "$2\r\nme\r\n")
	c.send("HELLO 2 auth someone x\r\n")
	c.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	c.send("AUTH x\r\nAUTH default x\r\nAUTH a b\r\nAUTH a b c\r\n")
	c.expect("-ERR AUTH <password> called without any password configured for the default user. "+
		"Are you sure your configuration is correct?\r\n",
		"+OK\r\n", "-WRONGPASS invalid username-password pair or user is disabled.\r\n", "-ERR syntax error\r\n")
}

func TestRequirePass(t *testing.T) {
	var pass atomic.Value
	pass.Store("secret")
	ts := startServer(t, func(c *Config) { c.RequirePass = func() string { return pass.Load().(string) } })
	c := dialRaw(t, ts.addr)
	c.send("PING\r\nECHO a\r\nSELECT 0\r\nCLIENT ID\r\nREADONLY\r\nHELLO\r\nHELLO 3\r\n")
	helloNoAuth := "-NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
		"HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP " +
		"protocol version at the same time\r\n"
	noauth := "-NOAUTH Authentication required.\r\n"
	c.expect(noauth, noauth, noauth, noauth, noauth, helloNoAuth, helloNoAuth)
	c.send("AUTH x\r\nAUTH a b\r\nHELLO 3 AUTH default x\r\nPING\r\n")
	wrong := "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	c.expect(wrong, wrong, wrong, noauth)
	c.send("AUTH secret\r\nPING\r\n")
	c.expect("+OK\r\n", "+PONG\r\n")
	// A failed AUTH does not log an authenticated client out.
	c.send("AUTH wrong\r\nPING\r\n")
	c.expect(wrong, "+PONG\r\n")
	// RESET logs out (requirepass is set) and returns to RESP2.
	c.send("HELLO 3\r\n")
	c.read()
	c.send("RESET\r\nPING\r\n")
	c.expect("+RESET\r\n", noauth)

	// HELLO with AUTH and SETNAME authenticates, names and switches in one go.
	c = dialRaw(t, ts.addr)
	id := c.clientID()
	if !strings.HasPrefix(id, "-NOAUTH") {
		t.Fatalf("CLIENT ID before AUTH: %q", id)
	}
	c.send("HELLO 3 AUTH default secret SETNAME app\r\nCLIENT GETNAME\r\n")
	r := c.read()
	if !strings.HasPrefix(r, "%7\r\n") || !strings.Contains(r, "proto\r\n:3\r\n") {
		t.Fatalf("HELLO reply %q", r)
	}
	c.expect("$3\r\napp\r\n")
	c.send("QUIT\r\n")
	c.expect("+OK\r\n")
	c.expectClosed()

	// A client connected while no password was set stays authenticated when one is set,
	// as in Redis; new connections must authenticate.
	pass.Store("")
	early := dialRaw(t, ts.addr)
	early.send("PING\r\n")
	early.expect("+PONG\r\n")
	pass.Store("secret")
	early.send("PING\r\n")
	early.expect("+PONG\r\n")
	late := dialRaw(t, ts.addr)
	late.send("PING\r\n")
	late.expect(noauth)
}

func TestResetState(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send("CLIENT SETNAME foo\r\nCLIENT SETINFO lib-name mylib\r\nREADONLY\r\nCLIENT NO-EVICT on\r\nHELLO 3\r\n")
	c.expect("+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n")
	c.read()
	c.send("CLIENT REPLY SKIP\r\nPING\r\nRESET\r\nCLIENT GETNAME\r\nFKINDS null\r\nCLIENT INFO\r\n")
	// SKIP swallows PING only; RESET answers and returns to RESP2.
	c.expect("+RESET\r\n", "$-1\r\n", "$-1\r\n")
	info := c.read()
	for _, field := range []string{" name= ", " flags=N ", " resp=2 ", " lib-name=mylib "} {
		if !strings.Contains(info, field) {
			t.Errorf("CLIENT INFO after RESET lacks %q: %q", field, info)
		}
	}
}

func TestSessionFromContext(t *testing.T) {
	if _, ok := SessionFromContext(t.Context()); ok {
		t.Fatal("a session from a bare context")
	}
	var mu sync.Mutex
	var got []Session
	ts := startServer(t, nil, func(s *Server) {
		s.cfg.Backend.(*fakeBackend).onExec = func(ctx context.Context) {
			s, ok := SessionFromContext(ctx)
			if !ok {
				t.Error("no session in Exec's context")
			}
			mu.Lock()
			got = append(got, s)
			mu.Unlock()
		}
	})
	c := dialRaw(t, ts.addr)
	id := c.clientID()
	c.send(multibulk("GET", "k") + "READONLY\r\nHELLO 3\r\n" + multibulk("GET", "k"))
	c.expect("$-1\r\n", "+OK\r\n")
	c.read()
	c.expect("_\r\n")
	want := []Session{{Proto: 2}, {Proto: 3, ReadOnly: true}}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("sessions %+v", got)
	}
	for i := range want {
		if strconv.FormatUint(got[i].ID, 10) != id || got[i].Proto != want[i].Proto || got[i].ReadOnly != want[i].ReadOnly {
			t.Fatalf("sessions %+v, want %+v with id %s", got, want, id)
		}
	}
}
