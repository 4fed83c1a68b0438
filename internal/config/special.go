package config

import (
	"math"
	"net"
	"strconv"
	"strings"
)

// Parsers of the parameters with a syntax of their own. Each reproduces the validation and the
// error texts of Redis 7.0.15's setter (config.c) and returns the value as its getter prints it.

// parseSave: pairs of "seconds changes". A single empty word clears the list.
func parseSave(args []string, _ string) (string, error) {
	const errSave = valueError("Invalid save parameters")
	if len(args) == 1 && args[0] == "" {
		return "", nil
	}
	if len(args)%2 != 0 {
		return "", errSave
	}
	out := make([]string, len(args))
	for i, a := range args {
		n, ok := strtoll(a, 10)
		if !ok || (i%2 == 0 && n < 1) || (i%2 == 1 && n < 0) {
			return "", errSave
		}
		out[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(out, " "), nil
}

// parseBind: up to 16 addresses, each an IP address, a host name, "*" (every IPv4 address) or
// "::*" (every IPv6 address), optionally prefixed by "-" (skip it if unavailable), as in Redis.
func parseBind(args []string, _ string) (string, error) {
	if len(args) == 1 && args[0] == "" || len(args) == 0 {
		return "", valueError("bind needs at least one address")
	}
	if len(args) > maxBindAddrs {
		return "", valueError("Too many bind addresses specified.")
	}
	for _, a := range args {
		h := strings.TrimPrefix(a, "-")
		if h != "*" && h != "::*" && net.ParseIP(h) == nil && !isHostName(h) {
			return "", valueError("invalid bind address '" + a + "'")
		}
	}
	return strings.Join(args, " "), nil
}

// isHostName accepts the characters of DNS names; resolving is the listener's business.
func isHostName(h string) bool {
	if h == "" || h[0] == '-' || h[0] == '.' || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// parseOutputBufferLimit: groups of "class hard soft soft-seconds" that replace those classes'
// limits in the current value; the other classes keep theirs. The classes print in the order
// normal, slave, pubsub; "replica" is accepted for "slave".
func parseOutputBufferLimit(args []string, cur string) (string, error) {
	const (
		errCount = valueError("Wrong number of arguments in buffer limit configuration.")
		errClass = valueError("Invalid client class specified in buffer limit configuration.")
		errValue = valueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
	)
	if len(args)%4 != 0 {
		return "", errCount
	}
	// cur is canonical: three groups of four words, in obufClassNames order.
	limits := strings.Fields(cur)
	if len(limits) != 12 {
		limits = strings.Fields(defaultOutputBufferLimit)
	}
	for i := 0; i < len(args); i += 4 {
		class := -1
		switch strings.ToLower(args[i]) {
		case "normal":
			class = 0
		case "slave", "replica":
			class = 1
		case "pubsub":
			class = 2
		default:
			return "", errClass
		}
		hard, ok1 := memtoull(args[i+1])
		soft, ok2 := memtoull(args[i+2])
		secs, ok3 := strtoll(args[i+3], 10)
		if !ok1 || !ok2 || !ok3 || secs < 0 {
			return "", errValue
		}
		limits[class*4+1] = strconv.FormatUint(hard, 10)
		limits[class*4+2] = strconv.FormatUint(soft, 10)
		limits[class*4+3] = strconv.FormatInt(secs, 10)
	}
	return strings.Join(limits, " "), nil
}

const defaultOutputBufferLimit = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"

// parseOOMScoreAdjValues: exactly three integers in [-2000, 2000].
func parseOOMScoreAdjValues(args []string, _ string) (string, error) {
	if len(args) != 3 {
		return "", errNumArgs
	}
	out := make([]string, 3)
	for i, a := range args {
		n, ok := strtoll(a, 10)
		if !ok || n < -2000 || n > 2000 {
			return "", valueError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
		}
		out[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(out, " "), nil
}

// parsePercentiles: floats in [0, 100]; a single empty word means none.
func parsePercentiles(args []string, _ string) (string, error) {
	if len(args) == 1 && args[0] == "" {
		return "", nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		f, ok := string2d(a)
		if !ok {
			return "", valueError("Invalid latency-tracking-info-percentiles parameters")
		}
		if f < 0 || f > 100 {
			return "", valueError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
		}
		out[i] = trimFloat(f)
	}
	return strings.Join(out, " "), nil
}

// string2d is Redis' strict float syntax: strtod must consume everything, no surrounding white
// space, no NaN.
func string2d(s string) (float64, bool) {
	if s == "" || isSpace(s[0]) || isSpace(s[len(s)-1]) || strings.Contains(s, "_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Keyspace event classes, in the order Redis prints them. 'A' stands for every class letter
// from g to d; n, K, E and m are separate.
const (
	eventClasses  = "g$lshzxetdn"
	eventAllCount = 10 // g..d
)

// parseNotifyKeyspaceEvents: a set of class letters, printed in Redis' canonical order.
func parseNotifyKeyspaceEvents(args []string, _ string) (string, error) {
	if len(args) != 1 {
		return "", errNumArgs
	}
	var classes [len(eventClasses)]bool
	var keyspace, keyevent, miss bool
	for _, c := range []byte(args[0]) {
		switch c {
		case 'A':
			for i := 0; i < eventAllCount; i++ {
				classes[i] = true
			}
		case 'K':
			keyspace = true
		case 'E':
			keyevent = true
		case 'm':
			miss = true
		default:
			i := strings.IndexByte(eventClasses, c)
			if i < 0 {
				return "", valueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
			}
			classes[i] = true
		}
	}
	var b strings.Builder
	all := true
	for i := 0; i < eventAllCount; i++ {
		all = all && classes[i]
	}
	if all {
		// Redis prints "A" and nothing else of the class letters, 'n' included.
		b.WriteByte('A')
	} else {
		for i, on := range classes {
			if on {
				b.WriteByte(eventClasses[i])
			}
		}
	}
	for _, f := range []struct {
		on bool
		c  byte
	}{{keyspace, 'K'}, {keyevent, 'E'}, {miss, 'm'}} {
		if f.on {
			b.WriteByte(f.c)
		}
	}
	return b.String(), nil
}

// shutdownWords are the words of shutdown-on-sigint/sigterm, in the order Redis prints them;
// "default" is none of the others.
const shutdownWords = "default save nosave now force"

// parseShutdownFlags: one or more of shutdownWords, printed in their order.
func parseShutdownFlags(args []string, _ string) (string, error) {
	shutdownFlags := strings.Fields(shutdownWords)
	errEnum := valueError("argument(s) must be one of the following: " + strings.Join(shutdownFlags, ", "))
	if len(args) == 0 {
		return "", errEnum
	}
	var set [5]bool
	for _, a := range args {
		found := false
		for i, f := range shutdownFlags {
			if strings.EqualFold(a, f) {
				set[i], found = true, true
			}
		}
		if !found {
			return "", errEnum
		}
	}
	if set[1] && set[2] {
		return "", valueError("shutdown options SAVE and NOSAVE can't be used simultaneously")
	}
	var out []string
	for i := 1; i < len(shutdownFlags); i++ {
		if set[i] {
			out = append(out, shutdownFlags[i])
		}
	}
	if len(out) == 0 {
		return "default", nil
	}
	return strings.Join(out, " "), nil
}

// parseReplicaOf: ferricd replicates through raft, so only "no one" (or nothing) is accepted; a
// config file asking for Redis replication fails loudly rather than being ignored.
func parseReplicaOf(args []string, _ string) (string, error) {
	if len(args) == 0 || len(args) == 1 && args[0] == "" {
		return "", nil
	}
	if len(args) != 2 {
		return "", errNumArgs
	}
	if strings.EqualFold(args[0], "no") && strings.EqualFold(args[1], "one") {
		return "", nil
	}
	return "", valueError("replicaof is not supported: ferricd replicates through raft")
}

// parseDir: any non-empty path; the node creates it if needed.
func parseDir(args []string, _ string) (string, error) {
	if len(args) != 1 {
		return "", errNumArgs
	}
	if args[0] == "" {
		return "", valueError("dir must not be empty")
	}
	return args[0], nil
}
