// Package differential runs the same random command sequences against ferricd and against the
// reference redis-server 7.0.15 and requires the same replies and the same final contents.
//
// The generator draws from a small key pool so commands collide (the interesting cases are
// overwrites, type clashes and edge values), and mixes in malformed arguments to compare error
// texts. Multi-key commands draw their keys from the {t} hash-tag pool, which lives in one slot,
// as Redis Cluster users would write them.
package differential

import (
	"math/rand/v2"
	"strconv"
)

// keys: single-key commands use any of them, multi-key commands only the tagged ones.
var (
	taggedKeys = []string{"{t}a", "{t}b", "{t}c", "{t}d"}
	plainKeys  = []string{"alpha", "beta", "gamma", "foo", "bar", "n1", "n2"}
)

type gen struct{ r *rand.Rand }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) key() string {
	if g.r.IntN(3) == 0 {
		return g.pick(taggedKeys...)
	}
	return g.pick(plainKeys...)
}

// opt returns one of xs as a one-element list, or no argument at all.
func (g *gen) opt(xs ...string) []string {
	i := g.r.IntN(len(xs) + 1)
	if i == len(xs) {
		return nil
	}
	return []string{xs[i]}
}

func (g *gen) tkey() string { return g.pick(taggedKeys...) }
func (g *gen) num(lo, hi int) string {
	return strconv.Itoa(lo + g.r.IntN(hi-lo+1))
}

// value returns a mix of integers, floats, text and binary-ish values.
func (g *gen) value() string {
	switch g.r.IntN(9) {
	case 0:
		return g.num(-100, 100)
	case 1:
		return g.pick("9223372036854775807", "-9223372036854775808", "9223372036854775806", "0", "-0", "007", " 1", "1.5", "3e2")
	case 2:
		return g.pick("0.1", "1.25", "-2.5", "1e10", "inf", "nan", "abc")
	case 3:
		return ""
	case 4:
		return string([]byte{0, 0xff, byte(g.r.IntN(256)), '\r', '\n'})
	default:
		b := make([]byte, g.r.IntN(12)+1)
		for i := range b {
			b[i] = "abcdefgh"[g.r.IntN(8)]
		}
		return string(b)
	}
}

// ttl returns TTL arguments long enough that nothing expires during a run (expiry itself is
// tested with a clock elsewhere); replies that report remaining time are normalized.
func (g *gen) ttlOpt() []string {
	switch g.r.IntN(8) {
	case 0:
		return []string{"EX", g.num(100, 1000)}
	case 1:
		return []string{"PX", g.num(100000, 1000000)}
	case 2:
		return []string{"EX", g.pick("0", "-1", "abc", "9223372036854775807")}
	case 3:
		return []string{"KEEPTTL"}
	case 4:
		return []string{"NX"}
	case 5:
		return []string{"XX"}
	case 6:
		return []string{"GET"}
	default:
		return nil
	}
}

// command returns one random command.
func (g *gen) command() []string {
	k := g.key()
	switch g.r.IntN(46) {
	case 0, 1, 2:
		return append([]string{"SET", k, g.value()}, g.ttlOpt()...)
	case 3, 4:
		return []string{"GET", k}
	case 5:
		return []string{"APPEND", k, g.value()}
	case 6:
		return []string{"INCR", k}
	case 7:
		return []string{"DECRBY", k, g.pick("1", "-5", "9223372036854775807", "x")}
	case 8:
		return []string{"INCRBY", k, g.num(-1000, 1000)}
	case 9:
		return []string{"INCRBYFLOAT", k, g.pick("0.1", "1.5", "-2", "1e3", "abc", "inf", "3.0e-2")}
	case 10:
		return []string{"STRLEN", k}
	case 11:
		return []string{"GETRANGE", k, g.num(-10, 10), g.num(-10, 10)}
	case 12:
		return []string{"SETRANGE", k, g.pick("0", "3", "10", "-1", "x"), g.value()}
	case 13:
		return []string{"SETBIT", k, g.num(0, 40), g.pick("0", "1", "2")}
	case 14:
		return []string{"GETBIT", k, g.num(0, 40)}
	case 15:
		args := []string{"BITCOUNT", k}
		if g.r.IntN(2) == 0 {
			args = append(args, g.num(-5, 5), g.num(-5, 5))
			if g.r.IntN(2) == 0 {
				args = append(args, g.pick("BYTE", "BIT"))
			}
		}
		return args
	case 16:
		args := []string{"BITPOS", k, g.pick("0", "1")}
		if g.r.IntN(2) == 0 {
			args = append(args, g.num(-5, 5))
			if g.r.IntN(2) == 0 {
				args = append(args, g.num(-5, 5), g.pick("BYTE", "BIT"))
			}
		}
		return args
	case 17:
		op := g.pick("AND", "OR", "XOR", "NOT")
		if op == "NOT" {
			return []string{"BITOP", op, g.tkey(), g.tkey()}
		}
		return []string{"BITOP", op, g.tkey(), g.tkey(), g.tkey()}
	case 18:
		return []string{"BITFIELD", k, g.pick("GET", "SET", "INCRBY"), g.pick("u8", "i5", "i16", "u1"), g.pick("0", "#1", "3"), g.num(-200, 200)}
	case 19:
		args := []string{"MSET"}
		for range g.r.IntN(3) + 1 {
			args = append(args, g.tkey(), g.value())
		}
		return args
	case 20:
		return []string{"MGET", g.tkey(), g.tkey(), g.tkey()}
	case 21:
		return []string{"MSETNX", g.tkey(), g.value(), g.tkey(), g.value()}
	case 22:
		return []string{"GETSET", k, g.value()}
	case 23:
		return []string{"GETDEL", k}
	case 24:
		return append([]string{"GETEX", k}, g.opt("PERSIST", "EX", "PX")...)
	case 25:
		return []string{"SETNX", k, g.value()}
	case 26:
		return []string{"DEL", g.tkey(), g.tkey()}
	case 27:
		return []string{"EXISTS", g.tkey(), g.tkey(), g.tkey()}
	case 28:
		return []string{"TYPE", k}
	case 29:
		args := []string{"EXPIRE", k, g.num(100, 1000)}
		if g.r.IntN(2) == 0 {
			args = append(args, g.pick("NX", "XX", "GT", "LT"))
		}
		return args
	case 30:
		return []string{"PERSIST", k}
	case 31:
		return []string{"TTL", k}
	case 32:
		return []string{"RENAME", g.tkey(), g.tkey()}
	case 33:
		return []string{"RENAMENX", g.tkey(), g.tkey()}
	case 34:
		args := []string{"COPY", g.tkey(), g.tkey()}
		if g.r.IntN(2) == 0 {
			args = append(args, "REPLACE")
		}
		return args
	case 35:
		args := []string{"LCS", g.tkey(), g.tkey()}
		return append(args, g.opt("LEN", "IDX")...)
	case 36:
		return []string{"SETEX", k, g.pick("100", "0", "-5", "x"), g.value()}
	case 37:
		return []string{"PSETEX", k, g.pick("100000", "0", "x"), g.value()}
	case 38:
		return []string{"SUBSTR", k, g.num(-3, 3), g.num(-3, 3)}
	case 39:
		return []string{"OBJECT", "ENCODING", k}
	case 40:
		return []string{"PTTL", k}
	case 41:
		return []string{"UNLINK", k}
	case 42:
		return []string{"TOUCH", k}
	case 43:
		// Arity and unknown-command errors.
		return [][]string{{"GET"}, {"SET", k}, {"INCRBY", k}, {"NOSUCHCMD", k}, {"GETRANGE", k, "1"}}[g.r.IntN(5)]
	case 44:
		return []string{"DECR", k}
	default:
		return []string{"EXPIRE", k, g.pick("-1", "abc", "0")}
	}
}
