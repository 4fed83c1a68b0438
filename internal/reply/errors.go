package reply

import (
	"math"
	"strconv"
	"strings"
)

// Error texts shared by many commands, exactly as Redis 7.0 words them.
var (
	ErrWrongType     = Err("WRONGTYPE Operation against a key holding the wrong kind of value")
	ErrNotInteger    = Err("ERR value is not an integer or out of range")
	ErrNotFloat      = Err("ERR value is not a valid float")
	ErrSyntax        = Err("ERR syntax error")
	ErrNoSuchKey     = Err("ERR no such key")
	ErrOverflow      = Err("ERR increment or decrement would overflow")
	ErrCrossSlot     = Err("CROSSSLOT Keys in request don't hash to the same slot")
	ErrNoAuth        = Err("NOAUTH Authentication required.")
	ErrInternal      = Err("ERR internal error")
	ErrTryAgain      = Err("TRYAGAIN the shard is electing a leader or changed leader, please retry")
	ErrStringTooLong = Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	ErrInvalidExpire = Err("ERR invalid expire time in 'set' command")
)

// WrongArgs is Redis' arity error for cmd (lower-case name as Redis prints it).
func WrongArgs(cmd string) Value {
	return Err("ERR wrong number of arguments for '" + strings.ToLower(cmd) + "' command")
}

// UnknownCommand is Redis' error for a command name it does not know. Redis quotes at most
// the first 128 bytes of each argument.
func UnknownCommand(args [][]byte) Value {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.WriteString(clip(args[0]))
	b.WriteString("', with args beginning with: ")
	for _, a := range args[1:] {
		b.WriteString("'")
		b.WriteString(clip(a))
		b.WriteString("' ")
	}
	return Err(b.String())
}

// UnknownSubcommand is Redis' error for an unknown subcommand of a container command.
func UnknownSubcommand(cmd string, sub []byte) Value {
	return Err("ERR unknown subcommand '" + clip(sub) + "'. Try " + strings.ToUpper(cmd) + " HELP.")
}

func clip(b []byte) string {
	if len(b) > 128 {
		b = b[:128]
	}
	return sanitize(string(b))
}

// sanitize replaces newlines so an error reply stays on one line, as Redis does.
func sanitize(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// FormatDouble formats f as Redis 7.0 replies doubles (%.17g, inf/-inf, nan).
func FormatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}
