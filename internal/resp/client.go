package resp

import (
	"bytes"
	"strings"
	"time"

	"ferricd/internal/reply"
)

// Client types as CLIENT LIST/KILL TYPE name them. Every ferricd client is "normal":
// there are no replica or master links over RESP, and pub/sub mode does not exist yet.
const (
	typeNormal = iota
	typeMaster
	typeReplica
	typePubSub
	typeUnknown
)

func clientType(b []byte) int {
	switch strings.ToLower(string(b)) {
	case "normal":
		return typeNormal
	case "master":
		return typeMaster
	case "replica", "slave":
		return typeReplica
	case "pubsub":
		return typePubSub
	}
	return typeUnknown
}

func (c *conn) clientSetName(name []byte) reply.Value {
	if !validName(name) {
		return errBadClientName
	}
	c.mu.Lock()
	c.st.name = string(name)
	c.mu.Unlock()
	return reply.OK
}

// clientSetInfo is CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
func (c *conn) clientSetInfo(args [][]byte) reply.Value {
	attr, val := args[2], args[3]
	var dst *string
	switch {
	case bytes.EqualFold(attr, []byte("lib-name")):
		dst = &c.st.libName
	case bytes.EqualFold(attr, []byte("lib-ver")):
		dst = &c.st.libVer
	default:
		return reply.Err("ERR Unrecognized option '" + string(attr) + "'")
	}
	if !validName(val) {
		return reply.Err("ERR " + string(attr) + " cannot contain spaces, newlines or special characters.")
	}
	c.mu.Lock()
	*dst = string(val)
	c.mu.Unlock()
	return reply.OK
}

// clientList is CLIENT LIST [TYPE type | ID id [id ...]].
func (c *conn) clientList(args [][]byte) reply.Value {
	now := time.Now()
	var b []byte
	switch {
	case len(args) == 4 && bytes.EqualFold(args[2], []byte("type")):
		t := clientType(args[3])
		if t == typeUnknown {
			return reply.Err("ERR Unknown client type '" + string(args[3]) + "'")
		}
		if t != typeNormal {
			return reply.Verbatim("")
		}
		b = c.appendAll(b, now)
	case len(args) > 3 && bytes.EqualFold(args[2], []byte("id")):
		ids := make([]int64, 0, len(args)-3)
		for _, a := range args[3:] {
			id, ok := parseInt(a)
			if !ok {
				return reply.Err("ERR Invalid client ID")
			}
			ids = append(ids, id)
		}
		// In the order asked for, duplicates included, as Redis does.
		for _, id := range ids {
			if id <= 0 {
				continue
			}
			if id == int64(c.id) {
				b = appendClientLine(b, c.selfInfo(), now)
				b = append(b, '\n')
			} else if other := c.srv.lookup(uint64(id)); other != nil {
				b = appendClientLine(b, other.info(), now)
				b = append(b, '\n')
			}
		}
	case len(args) != 2:
		return reply.ErrSyntax
	default:
		b = c.appendAll(b, now)
	}
	return reply.Value{Kind: reply.KindVerbatim, Str: b}
}

// appendAll appends the line of every connection.
func (c *conn) appendAll(b []byte, now time.Time) []byte {
	for _, other := range c.srv.snapshot() {
		ci := ClientInfo{}
		if other == c {
			ci = c.selfInfo()
		} else {
			ci = other.info()
		}
		b = appendClientLine(b, ci, now)
		b = append(b, '\n')
	}
	return b
}

// killFilter is the new form of CLIENT KILL; the zero value matches every client.
type killFilter struct {
	id     uint64
	typ    int
	addr   []byte
	laddr  []byte
	skipMe bool
}

// clientKill is CLIENT KILL ip:port (old form: OK or "No such client") or CLIENT KILL
// <filter> <value> ... (new form: the number of clients killed). A connection that kills
// itself gets its reply first, then closes, as in Redis.
func (c *conn) clientKill(args [][]byte) reply.Value {
	f := killFilter{typ: -1, skipMe: true}
	oldForm := len(args) == 3
	if oldForm {
		f.addr, f.skipMe = args[2], false
	} else {
		if len(args)%2 != 0 {
			return reply.ErrSyntax
		}
		for i := 2; i < len(args); i += 2 {
			opt, val := args[i], args[i+1]
			switch {
			case bytes.EqualFold(opt, []byte("id")):
				id, ok := parseInt(val)
				if !ok || id <= 0 {
					return reply.Err("ERR client-id should be greater than 0")
				}
				f.id = uint64(id)
			case bytes.EqualFold(opt, []byte("type")):
				if f.typ = clientType(val); f.typ == typeUnknown {
					return reply.Err("ERR Unknown client type '" + string(val) + "'")
				}
			case bytes.EqualFold(opt, []byte("addr")):
				f.addr = val
			case bytes.EqualFold(opt, []byte("laddr")):
				f.laddr = val
			case bytes.EqualFold(opt, []byte("user")):
				if string(val) != defaultUser {
					return reply.Err("ERR No such user '" + string(val) + "'")
				}
			case bytes.EqualFold(opt, []byte("skipme")):
				switch {
				case bytes.EqualFold(val, []byte("yes")):
					f.skipMe = true
				case bytes.EqualFold(val, []byte("no")):
					f.skipMe = false
				default:
					return reply.ErrSyntax
				}
			default:
				return reply.ErrSyntax
			}
		}
	}
	killed := 0
	for _, other := range c.srv.snapshot() {
		if !f.matches(c, other) {
			continue
		}
		if other == c {
			c.closing = true
			killed++
		} else if other.kill() {
			killed++
		}
	}
	if !oldForm {
		return reply.Int(int64(killed))
	}
	if killed == 0 {
		return reply.Err("ERR No such client")
	}
	return reply.OK
}

func (f *killFilter) matches(self, c *conn) bool {
	switch {
	case f.addr != nil && string(f.addr) != c.addr,
		f.laddr != nil && string(f.laddr) != c.laddr,
		f.typ >= 0 && f.typ != typeNormal,
		f.id != 0 && f.id != c.id,
		f.skipMe && c == self:
		return false
	}
	return true
}

func (c *conn) clientNoEvict(args [][]byte) reply.Value {
	var on bool
	switch {
	case bytes.EqualFold(args[2], []byte("on")):
		on = true
	case bytes.EqualFold(args[2], []byte("off")):
	default:
		return reply.ErrSyntax
	}
	c.mu.Lock()
	c.st.noEvict = on
	c.mu.Unlock()
	return reply.OK
}

// clientUnblock is CLIENT UNBLOCK client-id [TIMEOUT | ERROR].
func (c *conn) clientUnblock(args [][]byte) reply.Value {
	id, ok := parseInt(args[2])
	if !ok {
		return reply.Err("ERR value is not an integer or out of range")
	}
	withError := false
	if len(args) == 4 {
		switch strings.ToLower(string(args[3])) {
		case "timeout":
		case "error":
			withError = true
		default:
			return reply.Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
		}
	}
	u, isU := c.srv.cfg.Backend.(Unblocker)
	if !isU || id <= 0 || !u.Unblock(uint64(id), withError) {
		return reply.Int(0)
	}
	return reply.Int(1)
}

// clientReply is CLIENT REPLY ON|OFF|SKIP. OFF and SKIP are not answered themselves.
func (c *conn) clientReply(args [][]byte) reply.Value {
	switch {
	case bytes.EqualFold(args[2], []byte("on")):
		c.replyOff, c.skipNext = false, false
		return reply.OK
	case bytes.EqualFold(args[2], []byte("off")):
		c.replyOff, c.noReply = true, true
	case bytes.EqualFold(args[2], []byte("skip")):
		if !c.replyOff {
			c.skipNext = true
		}
		c.noReply = true
	default:
		return reply.ErrSyntax
	}
	return reply.OK
}

// clientHelp lists the CLIENT subcommands ferricd implements, in Redis' wording.
func clientHelp() reply.Value {
	lines := []string{
		"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"REPLY (ON|OFF|SKIP)",
		"    Control the replies sent to the current connection.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"SETINFO <option> <value>",
		"    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.",
		"    * LIB-VER: the client lib version.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
		"HELP",
		"    Prints this help.",
	}
	out := make([]reply.Value, len(lines))
	for i, l := range lines {
		out[i] = reply.Simple(l)
	}
	return reply.Array(out...)
}
