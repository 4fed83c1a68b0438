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
// appendReply (encode.go) into one buffer per batch and written by output (output.go),
// which keeps reading going when a client stops reading its replies.
//
// # A batch
//
// redcon returns every complete command one read brought in. They are one batch:
//   - each command is looked up in the command table and checked in Redis' order: unknown
//     command or subcommand, arity (subcommands are named "client|kill" as Redis does),
//     then NOAUTH unless the command is flagged no_auth (AUTH, HELLO, QUIT, RESET), so the
//     Backend only ever sees well-formed, authorised calls;
//   - connection commands (Kind KindConn) run in the connection goroutine, in order;
//   - consecutive other commands form a segment handed to Backend.Exec at once, which may
//     run them concurrently (several shards) but fills the replies in request order;
//   - replies are encoded in request order with the protocol in force at each reply (a
//     HELLO 3 in the middle of a pipeline switches the replies after it) and written with
//     one write per batch.
//
// # Invariants
//
//   - Replies leave in request order, one per request, except where Redis sends none
//     (CLIENT REPLY OFF/SKIP).
//   - No command reaches redcon, let alone the Backend, that breaks a limit in force when
//     it was read; limits are re-read for every batch, so CONFIG SET applies to live
//     connections, and a connection that must authenticate is scanned one command at a
//     time so AUTH changes its limits from the next command on, as in Redis.
//   - A protocol error is answered with Redis' text, after the replies to the commands
//     before it, and closes only that connection; exceeding the query buffer limit closes
//     without a reply, as in Redis. Nothing a client sends blocks another client.
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
//     the connection (ClientInfo.ReadOnly) for follower reads.
//   - MULTI/EXEC/DISCARD/WATCH, pub/sub and CLIENT TRACKING are not implemented: they are
//     not in the command table and get Redis' unknown command/subcommand errors. A blanket
//     OK to CLIENT TRACKING would make caching clients (rueidis) serve stale data.
//   - Redis accepts any byte after a header's '\r' and any two bytes after a payload; so
//     does the scanner (redcon alone would reject them). A multibulk count of 0 or less is
//     ignored, as in Redis.
//   - client-query-buffer-limit bounds the bytes of one incomplete command (redcon keeps a
//     whole command in memory until it is complete); Redis 7 counts only the argument being
//     read for big arguments, so a command whose arguments together exceed the limit is
//     refused here and not in Redis.
//   - Close closes connections at once; replies of commands still running are lost.
package resp
