package resp

import (
	"bytes"
	"crypto/subtle"
	"math"

	"ferricd/internal/reply"
)

// Redis 7.0's texts for the handshake commands.
var (
	errWrongPass  = reply.Err("WRONGPASS invalid username-password pair or user is disabled.")
	errAuthNoPass = reply.Err("ERR AUTH <password> called without any password configured " +
		"for the default user. Are you sure your configuration is correct?")
	errHelloNoAuth = reply.Err("NOAUTH HELLO must be called with the client already " +
		"authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to " +
		"authenticate the client and select the RESP protocol version at the same time")
	errHelloProto    = reply.Err("ERR Protocol version is not an integer or out of range")
	errNoProto       = reply.Err("NOPROTO unsupported protocol version")
	errDBRange       = reply.Err("ERR DB index is out of range")
	errBadClientName = reply.Err("ERR Client names cannot contain spaces, newlines or special characters.")
)

// defaultUser is the only user: ferricd has requirepass, not ACLs.
const defaultUser = "default"

func (c *conn) ping(args [][]byte) reply.Value {
	switch len(args) {
	case 1:
		return reply.Simple("PONG")
	case 2:
		return reply.Bulk(args[1])
	}
	return reply.WrongArgs("ping")
}

// hello is HELLO [protover [AUTH user pass] [SETNAME name]]: it authenticates first, then
// names the client, then switches protocol, and replies in the new protocol.
func (c *conn) hello(args [][]byte) reply.Value {
	var ver int64
	next := 1
	if len(args) >= 2 {
		v, ok := parseInt(args[1])
		if !ok {
			return errHelloProto
		}
		if v < 2 || v > 3 {
			return errNoProto
		}
		ver, next = v, 2
	}
	var user, pass, name []byte
	withAuth, withName := false, false
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		switch opt := args[j]; {
		case bytes.EqualFold(opt, []byte("AUTH")) && more >= 2:
			user, pass, withAuth = args[j+1], args[j+2], true
			j += 2
		case bytes.EqualFold(opt, []byte("SETNAME")) && more >= 1:
			name, withName = args[j+1], true
			j++
		default:
			return reply.Err("ERR Syntax error in HELLO option '" + string(opt) + "'")
		}
	}
	if withAuth {
		if v, ok := c.authenticate(user, pass); !ok {
			return v
		}
	}
	if c.authRequired() {
		return errHelloNoAuth
	}
	if withName {
		if !validName(name) {
			return errBadClientName
		}
	}
	c.mu.Lock()
	if withName {
		c.st.name = string(name)
	}
	if ver != 0 {
		c.st.proto = int(ver)
	}
	c.mu.Unlock()
	return reply.Map(
		reply.BulkString("server"), reply.BulkString("redis"),
		reply.BulkString("version"), reply.BulkString(c.srv.cfg.Version),
		reply.BulkString("proto"), reply.Int(int64(c.st.proto)),
		reply.BulkString("id"), reply.Int(int64(c.id)),
		reply.BulkString("mode"), reply.BulkString("standalone"),
		reply.BulkString("role"), reply.BulkString("master"),
		reply.BulkString("modules"), reply.Array(),
	)
}

// auth is AUTH [user] pass.
func (c *conn) auth(args [][]byte) reply.Value {
	var user, pass []byte
	switch len(args) {
	case 2:
		if c.srv.cfg.RequirePass() == "" {
			return errAuthNoPass
		}
		user, pass = []byte(defaultUser), args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		return reply.ErrSyntax
	}
	if v, ok := c.authenticate(user, pass); !ok {
		return v
	}
	return reply.OK
}

// authenticate checks credentials as Redis' default user: with no requirepass it has
// "nopass" and any password is right. A failed attempt leaves the connection's state as it
// was (an authenticated client stays authenticated), as in Redis.
func (c *conn) authenticate(user, pass []byte) (reply.Value, bool) {
	if string(user) != defaultUser {
		return errWrongPass, false
	}
	if want := c.srv.cfg.RequirePass(); want != "" &&
		subtle.ConstantTimeCompare(pass, []byte(want)) != 1 {
		return errWrongPass, false
	}
	c.authed = true
	return reply.Value{}, true
}

// selectDB is SELECT: ferricd has database 0 only.
func (c *conn) selectDB(args [][]byte) reply.Value {
	v, ok := parseInt(args[1])
	if !ok || v < math.MinInt32 || v > math.MaxInt32 {
		return reply.ErrNotInteger
	}
	if v != 0 {
		return errDBRange
	}
	return reply.OK
}

// reset is RESET: the connection returns to its state right after connecting, except
// for CLIENT SETINFO's library name and version, which Redis keeps.
func (c *conn) reset() reply.Value {
	c.replyOff, c.skipNext = false, false
	c.discardTx()
	c.authed = c.srv.cfg.RequirePass() == ""
	c.mu.Lock()
	c.st.proto = 2
	c.st.name = ""
	c.st.readOnly = false
	c.st.noEvict = false
	c.mu.Unlock()
	return reply.Simple("RESET")
}

// parseInt parses a whole argument as Redis' string2ll does.
func parseInt(b []byte) (int64, bool) {
	var n number
	for _, c := range b {
		n.add(c)
	}
	return n.value()
}

// validName reports whether s may be a client name or library name/version: printable
// ASCII without spaces, so that CLIENT LIST lines stay splittable.
func validName(s []byte) bool {
	for _, c := range s {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}
