package resp

import "context"

// Session describes the connection a Backend call comes from. Commands need it where the
// connection, not the data, decides: follower reads for READONLY clients, and replies
// whose shape Redis 7 changes with the protocol beyond what the encoder degrades by itself
// (ZRANGE ... WITHSCORES pairs in RESP3, for one).
type Session struct {
	ID       uint64
	Proto    int  // 2 or 3: the protocol the calls' replies will be encoded in
	ReadOnly bool // READONLY: the client accepts possibly stale reads from a follower
}

// sessionKey is the context key under which a connection stores itself.
type sessionKey struct{}

// SessionFromContext returns the session of the connection whose Exec context ctx is (or
// derives from).
func SessionFromContext(ctx context.Context) (Session, bool) {
	c, ok := ctx.Value(sessionKey{}).(*conn)
	if !ok {
		return Session{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Session{ID: c.id, Proto: c.st.proto, ReadOnly: c.st.readOnly}, true
}
