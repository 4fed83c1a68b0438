package resp

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// clientLine matches a CLIENT LIST line field by field, in Redis' order.
var clientLine = regexp.MustCompile(`^id=(\d+) addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ ` +
	`name=(\S*) age=\d+ idle=\d+ flags=([a-zA-Z]+) db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=\d+ ` +
	`qbuf-free=\d+ argv-mem=\d+ multi-mem=0 rbs=\d+ rbp=\d+ obl=0 oll=\d+ omem=\d+ tot-mem=\d+ ` +
	`events=rw? cmd=(\S+) user=default redir=-1 resp=([23]) lib-name=(\S*) lib-ver=(\S*)$`)

// bulkBody returns the payload of a bulk or verbatim reply.
func bulkBody(t *testing.T, r string) string {
	t.Helper()
	i := strings.Index(r, "\r\n")
	if i < 0 || (r[0] != '$' && r[0] != '=') {
		t.Fatalf("not a bulk reply: %q", r)
	}
	body := strings.TrimSuffix(r[i+2:], "\r\n")
	if r[0] == '=' {
		body = strings.TrimPrefix(body, "txt:")
	}
	return body
}

func TestClientNameAndID(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	id := c.clientID()
	c.send("CLIENT GETNAME\r\nCLIENT SETNAME app-1\r\nCLIENT GETNAME\r\n")
	c.expect("$-1\r\n", "+OK\r\n", "$5\r\napp-1\r\n")
	c.send(multibulk("CLIENT", "SETNAME", "a b") + multibulk("CLIENT", "SETNAME", "a\nb") +
		multibulk("CLIENT", "SETNAME", "xé") + multibulk("CLIENT", "SETNAME", "") + "CLIENT GETNAME\r\n")
	bad := "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
	c.expect(bad, bad, bad, "+OK\r\n", "$-1\r\n")
	c.send("CLIENT ID\r\nclient id x\r\nCLIENT\r\nCLIENT FOO\r\nCLIENT TRACKING on\r\nCLIENT CACHING yes\r\n")
	c.expect(":"+id+"\r\n", "-ERR wrong number of arguments for 'client|id' command\r\n",
		"-ERR wrong number of arguments for 'client' command\r\n",
		"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
		"-ERR unknown subcommand 'TRACKING'. Try CLIENT HELP.\r\n",
		"-ERR unknown subcommand 'CACHING'. Try CLIENT HELP.\r\n")
	if got := c.do("CLIENT", "HELP"); !strings.HasPrefix(got, "*") ||
		!strings.Contains(got, "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n") {
		t.Fatalf("CLIENT HELP: %q", got)
	}
}

func TestClientSetInfo(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	c.send("CLIENT SETINFO LIB-NAME go-redis(x)\r\nCLIENT SETINFO lib-ver 9.1.0\r\n" +
		"CLIENT SETINFO foo bar\r\nCLIENT SETINFO LIB-NAME \"a b\"\r\nCLIENT SETINFO lib-name\r\n")
	c.expect("+OK\r\n", "+OK\r\n", "-ERR Unrecognized option 'foo'\r\n",
		"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n",
		"-ERR wrong number of arguments for 'client|setinfo' command\r\n")
	info := bulkBody(t, c.do("CLIENT", "INFO"))
	m := clientLine.FindStringSubmatch(strings.TrimSuffix(info, "\n"))
	if m == nil || !strings.HasSuffix(info, "\n") {
		t.Fatalf("CLIENT INFO %q does not look like Redis'", info)
	}
	if m[6] != "go-redis(x)" || m[7] != "9.1.0" || m[4] != "client|info" {
		t.Fatalf("CLIENT INFO fields %q", m[1:])
	}
}

func TestClientList(t *testing.T) {
	ts := startServer(t, nil)
	a := dialRaw(t, ts.addr)
	b := dialRaw(t, ts.addr)
	aid, bid := a.clientID(), b.clientID()
	b.send("CLIENT SETNAME bee\r\nREADONLY\r\nCLIENT NO-EVICT on\r\n")
	b.expect("+OK\r\n", "+OK\r\n", "+OK\r\n")

	list := bulkBody(t, a.do("CLIENT", "LIST"))
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(list, "\n") {
		t.Fatalf("CLIENT LIST: %q", list)
	}
	ma, mb := clientLine.FindStringSubmatch(lines[0]), clientLine.FindStringSubmatch(lines[1])
	if ma == nil || mb == nil {
		t.Fatalf("CLIENT LIST lines do not look like Redis':\n%s", list)
	}
	if ma[1] != aid || ma[3] != "N" || ma[4] != "client|list" || ma[5] != "2" {
		t.Errorf("own line %q", lines[0])
	}
	if mb[1] != bid || mb[2] != "bee" || mb[3] != "re" || mb[4] != "client|no-evict" {
		t.Errorf("other line %q", lines[1])
	}

	a.send("CLIENT LIST TYPE normal\r\nCLIENT LIST TYPE replica\r\nCLIENT LIST TYPE pubsub\r\n" +
		"CLIENT LIST TYPE master\r\nCLIENT LIST TYPE foo\r\nCLIENT LIST foo\r\nCLIENT LIST ID\r\n" +
		"CLIENT LIST ID 1 x\r\n")
	if got := strings.Count(bulkBody(t, a.read()), "\n"); got != 2 {
		t.Errorf("TYPE normal listed %d clients", got)
	}
	a.expect("$0\r\n\r\n", "$0\r\n\r\n", "$0\r\n\r\n", "-ERR Unknown client type 'foo'\r\n",
		"-ERR syntax error\r\n", "-ERR syntax error\r\n", "-ERR Invalid client ID\r\n")

	byID := bulkBody(t, a.do("CLIENT", "LIST", "ID", bid, "0", "-2", "99999", aid, bid))
	ids := regexp.MustCompile(`(?m)^id=(\d+) `).FindAllStringSubmatch(byID, -1)
	if len(ids) != 3 || ids[0][1] != bid || ids[1][1] != aid || ids[2][1] != bid {
		t.Fatalf("CLIENT LIST ID: %q", byID)
	}

	// RESP3 gets verbatim text.
	a.do("HELLO", "3")
	if got := a.do("CLIENT", "INFO"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "\r\ntxt:id=") {
		t.Fatalf("RESP3 CLIENT INFO %q", got)
	}
}

func TestClientKill(t *testing.T) {
	ts := startServer(t, nil)
	killer := dialRaw(t, ts.addr)
	kid := killer.clientID()
	victim := dialRaw(t, ts.addr)
	vid := victim.clientID()
	victimAddr := victim.nc.LocalAddr().String()

	killer.send("CLIENT KILL 1.2.3.4:5\r\nCLIENT KILL id\r\nCLIENT KILL ID x\r\nCLIENT KILL ID -5\r\n" +
		"CLIENT KILL ID 0\r\nCLIENT KILL foo bar\r\nCLIENT KILL TYPE foo\r\nCLIENT KILL SKIPME maybe\r\n" +
		"CLIENT KILL USER nobody\r\nCLIENT KILL TYPE normal SKIPME\r\nCLIENT KILL MAXAGE 10\r\n" +
		"CLIENT KILL ID 99999\r\nCLIENT KILL ADDR 1.2.3.4:5\r\nCLIENT KILL TYPE replica\r\n" +
		"CLIENT KILL TYPE pubsub\r\nCLIENT KILL\r\n")
	killer.expect("-ERR No such client\r\n", "-ERR No such client\r\n",
		"-ERR client-id should be greater than 0\r\n", "-ERR client-id should be greater than 0\r\n",
		"-ERR client-id should be greater than 0\r\n", "-ERR syntax error\r\n",
		"-ERR Unknown client type 'foo'\r\n", "-ERR syntax error\r\n", "-ERR No such user 'nobody'\r\n",
		"-ERR syntax error\r\n", "-ERR syntax error\r\n", ":0\r\n", ":0\r\n", ":0\r\n", ":0\r\n",
		"-ERR wrong number of arguments for 'client|kill' command\r\n")

	// Old form by address.
	killer.send(multibulk("CLIENT", "KILL", victimAddr))
	killer.expect("+OK\r\n")
	victim.expectClosed()

	// New form by id, and the skipme default (a client does not kill itself).
	victim = dialRaw(t, ts.addr)
	vid = victim.clientID()
	killer.send(multibulk("CLIENT", "KILL", "ID", vid) + multibulk("CLIENT", "KILL", "ID", kid))
	killer.expect(":1\r\n", ":0\r\n")
	victim.expectClosed()

	// By type and user, sparing the caller.
	v1, v2 := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	v1.clientID()
	v2.clientID()
	killer.send("CLIENT KILL TYPE normal USER default\r\nPING\r\n")
	killer.expect(":2\r\n", "+PONG\r\n")
	v1.expectClosed()
	v2.expectClosed()

	// LADDR matches every client of this listener, SKIPME no includes the caller, which
	// gets the reply and is then closed; the rest of its pipeline is not run.
	other := dialRaw(t, ts.addr)
	other.clientID()
	killer.send(multibulk("CLIENT", "KILL", "LADDR", ts.addr, "SKIPME", "no") + multibulk("SET", "x", "1"))
	killer.expect(":2\r\n")
	killer.expectClosed()
	other.expectClosed()
	waitFor(t, "killed clients to go", func() bool { return len(ts.Clients()) == 0 })
	c := dialRaw(t, ts.addr)
	if got := c.do("GET", "x"); got != "$-1\r\n" {
		t.Fatalf("the command after a self-kill ran: %q", got)
	}
}

// A client blocked in the backend is freed by CLIENT KILL (its context is cancelled).
func TestClientKillCancelsRunningCommand(t *testing.T) {
	ts := startServer(t, nil)
	busy := dialRaw(t, ts.addr)
	bid := busy.clientID()
	busy.send(multibulk("FSLEEP"))
	select {
	case <-ts.be.sleeping:
	case <-time.After(testTimeout):
		t.Fatal("fsleep did not start")
	}
	killer := dialRaw(t, ts.addr)
	killer.send(multibulk("CLIENT", "KILL", "ID", bid))
	killer.expect(":1\r\n")
	busy.expectClosed()
}

func TestClientReply(t *testing.T) {
	ts := startServer(t, nil)
	c := dialRaw(t, ts.addr)
	// As redis-server 7.0.15 answers the same pipelines.
	c.send("CLIENT REPLY OFF\r\nPING\r\nSET k v\r\nNOPE\r\nCLIENT REPLY ON\r\nPING\r\n")
	c.expect("+OK\r\n", "+PONG\r\n")
	c.send("CLIENT REPLY SKIP\r\nPING\r\nPING\r\n")
	c.expect("+PONG\r\n")
	c.send("CLIENT REPLY SKIP\r\nGET k\r\nGET k\r\n")
	c.expect("$1\r\nv\r\n")
	c.send("CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n")
	c.expect("+OK\r\n", "+PONG\r\n")
	c.send("CLIENT REPLY maybe\r\n")
	c.expect("-ERR syntax error\r\n")
	c.send("CLIENT NO-EVICT maybe\r\nCLIENT NO-EVICT off\r\n")
	c.expect("-ERR syntax error\r\n", "+OK\r\n")
}
