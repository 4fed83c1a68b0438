// Package resp is ferricd's RESP front end: it accepts client connections, parses requests
// under Redis' limits, keeps per-connection state (protocol, authentication, name, reply
// mode), runs the connection commands itself, hands every other command to a Backend, and
// encodes replies as RESP2 or RESP3.
//
// # Structure
//
// One goroutine per listener accepts (server.go); one goroutine per connection reads,
// executes and writes (conn.go). Reading is redcon's Reader on top of inbound (input.go),
// a scanner that sees every byte from the socket first: it enforces the limits (argument
// count, argument length, header and inline line length, size of an incomplete command,
// Redis' smaller limits before AUTH) with Redis' error texts, and hands redcon only
// validated, canonical multibulk, so redcon's parser and Redis' can never disagree (see
// inbound for the details, and inline.go for inline commands). Replies are encoded by
// appendReply (encode.go) into one buffer per batch and written by output (output.go).
// Connection commands live in handshake.go (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET,
// READONLY/READWRITE), client.go (CLIENT) and multi.go (MULTI, EXEC, DISCARD, WATCH,
// UNWATCH: the connection queues a transaction and hands it to the Backend's Transactor at
// EXEC); their specs are in internal/command.
//
// # A batch
//
// redcon returns every complete command one read brought in. They are one batch:
//   - each command is looked up in the command table and checked in Redis' order: unknown
//     command or subcommand, arity (subcommands are named "client|kill" as Redis does),
//     then NOAUTH unless the command is flagged no_auth (AUTH, HELLO, QUIT, RESET), so the
//     Backend only ever sees well-formed, authorised calls;
//   - connection commands (Kind KindConn) run in the connection goroutine, in order;
//   - inside MULTI every command but EXEC, DISCARD, MULTI, WATCH, QUIT and RESET is queued
//     instead (its reply is +QUEUED or the error that refused it);
//   - consecutive other commands form a segment handed to Backend.Exec at once, which may
//     run them concurrently (several shards) but fills the replies in request order;
//     SessionFromContext tells the Backend the connection's protocol and READONLY state;
//   - replies are encoded in request order with the protocol in force at each reply (a
//     HELLO 3 in the middle of a pipeline switches the replies after it) and written with
//     one write per batch, or one per flushChunk of replies for batches of big replies.
//
// # Output
//
// The connection goroutine writes directly, with a short deadline. A client that does not
// read (typically: one writing a long pipeline before reading any reply) makes that write
// stall; the rest then goes to a per-connection flusher goroutine and the connection keeps
// reading and executing, as Redis keeps buffering replies. A server that blocked in its
// write would stop reading and deadlock with such a client. Buffered replies are bounded:
// past the limit the connection stops reading until the client catches up.
//
// # Invariants
//
//   - Replies leave in request order, one per request, except where Redis sends none
//     (CLIENT REPLY OFF/SKIP).
//   - No command reaches redcon, let alone the Backend, that breaks a limit in force when
//     it was read; limits are re-read for every batch and every socket read, so CONFIG SET
//     applies to live connections, and a connection that must authenticate is scanned one
//     command at a time so AUTH changes its limits from the next command on, as in Redis.
//   - The same bytes get the same replies however the network splits them.
//   - A protocol error is answered with Redis' text, after the replies to the commands
//     before it, and closes only that connection; exceeding the query buffer limit closes
//     without a reply, as in Redis. Nothing a client sends blocks another client; a panic
//     while serving a client (a bug in a command) is logged and closes that client only.
//   - Every goroutine has an owner that stops it: Serve owns the accept loops and the
//     connection goroutines and returns only after all have exited; a connection goroutine
//     owns its output flusher. Close (or the end of Serve's context) closes listeners and
//     sockets and cancels the context given to Backend.Exec.
//   - No package-level mutable state: everything hangs off a Server.
//
// # Decisions
//
//   - ferricd has database 0 only: SELECT 0 is OK, any other index "ERR DB index is out of
//     range". There is one user, "default", with requirepass as its password.
//   - READONLY/READWRITE succeed (Redis without cluster mode refuses them) and are kept on
//     the connection (Session.ReadOnly, ClientInfo.ReadOnly) for follower reads.
//   - MULTI/EXEC/DISCARD/WATCH, pub/sub and CLIENT TRACKING are not implemented: they are
//     not in the command table and get Redis' unknown command/subcommand errors. A blanket
//     OK to CLIENT TRACKING would make caching clients (rueidis) serve stale data.
//   - Redis accepts any byte after a header's '\r' and any two bytes after a payload, and
//     ignores a multibulk count of 0 or less; so does the scanner. A line holding a NUL byte
//     never ends for Redis (it looks for the end with strchr) until it is too long; the
//     scanner does the same.
//   - MaxMultibulkLen defaults to 1024*1024 (Redis 7.0 allows up to INT_MAX), and it and
//     ProtoMaxBulkLen also bound inline commands, which Redis bounds by their 64 KB only;
//     with Redis' minimum settings no inline command can tell the difference.
//   - client-query-buffer-limit bounds the bytes of one incomplete command (redcon keeps a
//     whole command in memory until it is complete); Redis 7 counts only the argument being
//     read for big arguments, so a command whose arguments together exceed the limit is
//     refused here and not in Redis.
//   - CLIENT LIST/INFO print Redis 7.0's fields plus 7.2's lib-name and lib-ver; fields
//     ferricd has no counterpart for carry an idle plain client's values (db=0, sub=0,
//     multi=-1, ...), buffer fields describe ferricd's own buffers.
//   - Close closes connections at once; replies of commands still running are lost.
package resp
