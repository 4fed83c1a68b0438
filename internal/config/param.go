package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the syntax of a parameter's value.
type Kind uint8

const (
	// KindBool is yes or no (case-insensitive on input, lower case on output).
	KindBool Kind = iota + 1
	// KindInt is a decimal integer within [Min, Max] (octal for unixsocketperm).
	KindInt
	// KindMemory is a byte count with an optional unit (b, k, kb, m, mb, g, gb).
	KindMemory
	// KindEnum is one of Enum (case-insensitive on input).
	KindEnum
	// KindString is any string.
	KindString
	// KindSpecial has its own syntax (save, bind, client-output-buffer-limit, ...).
	KindSpecial
)

var kindNames = [...]string{"", "bool", "int", "memory", "enum", "string", "special"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Effect says what ferricd does with a parameter.
type Effect uint8

const (
	// Used parameters change the node's behaviour.
	Used Effect = iota + 1
	// Kept parameters are accepted, validated and reported, without effect.
	Kept
	// Fixed parameters are accepted and validated, but always report one value.
	Fixed
)

var effectNames = [...]string{"", "used", "kept", "fixed"}

func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return "effect(" + strconv.Itoa(int(e)) + ")"
}

// Param is the metadata of one parameter, as Table and Markdown report it.
type Param struct {
	Name string
	// Aliases are other names of the same parameter (Redis 7.0's "slave-*" for "replica-*").
	Aliases []string
	// Default is the canonical default value.
	Default string
	Kind    Kind
	// Min and Max bound KindInt and KindMemory values (Max is unsigned: maxmemory goes to 2^64-1).
	Min int64
	Max uint64
	// Enum lists the accepted values of KindEnum (and the words of multi-word enums).
	Enum    []string
	Effect  Effect
	Mutable bool
	// Redis is true for Redis 7.0 parameters, false for ferricd's own.
	Redis bool
	// Doc says what the parameter does in ferricd (for Used and Fixed ones) or why it is kept.
	Doc string
}

// def is a table entry: the public metadata plus how to parse values.
type def struct {
	Param
	// multi marks list values: the config file passes every word after the name, CONFIG SET
	// splits its value on single spaces (Redis' MULTI_ARG_CONFIG).
	multi bool
	// protected parameters refuse CONFIG SET unless enable-protected-configs is yes.
	protected bool
	// percent allows "N%" for a memory value (maxmemory-clients).
	percent bool
	// octal parses and prints a KindInt in base 8 (unixsocketperm).
	octal bool
	// synonyms maps accepted enum spellings to their canonical value ("relative" -> "yes").
	synonyms map[string]string
	// clamp adjusts a parsed int after the bounds check, as Redis' apply functions do.
	clamp func(int64) int64
	// fixed is what CONFIG GET reports for a Fixed parameter.
	fixed string
	// special parses a KindSpecial value; cur is the current canonical value (some parameters,
	// like client-output-buffer-limit, update it partially).
	special func(args []string, cur string) (string, error)
}

// valueError is the reason a value was refused, in Redis' words.
type valueError string

func (e valueError) Error() string { return string(e) }

const (
	errBool        = valueError("argument must be 'yes' or 'no'")
	errInt         = valueError("argument couldn't be parsed into an integer")
	errOctal       = valueError("argument couldn't be parsed as an octal number")
	errMemory      = valueError("argument must be a memory value")
	errMemPercent  = valueError("argument must be a memory or percent value")
	errPercentMax  = valueError("percentage argument must be less or equal to 100")
	errNumArgs     = valueError("wrong number of arguments")
	errImmutable   = "can't set immutable config"
	errProtected   = "can't set protected config"
	errDuplicate   = "duplicate parameter"
	maxBindAddrs   = 16
	minReplBacklog = 16384
)

// parse turns the value words of one assignment into the canonical value. args has one element
// for single-valued parameters; cur is the value being replaced.
func (d *def) parse(args []string, cur string) (string, error) {
	if d.Kind == KindSpecial {
		return d.special(args, cur)
	}
	if len(args) != 1 {
		return "", errNumArgs
	}
	v := args[0]
	switch d.Kind {
	case KindBool:
		switch {
		case strings.EqualFold(v, "yes"):
			return "yes", nil
		case strings.EqualFold(v, "no"):
			return "no", nil
		}
		return "", errBool
	case KindInt:
		return d.parseInt(v)
	case KindMemory:
		return d.parseMemory(v)
	case KindEnum:
		return d.parseEnum(v)
	case KindString:
		return v, nil
	}
	return "", fmt.Errorf("config: %s has no kind", d.Name)
}

func (d *def) parseInt(v string) (string, error) {
	var n int64
	if d.octal {
		// Redis: strtoll(value, &end, 8) must consume everything, and must not overflow.
		u, ok := strtoll(v, 8)
		if !ok || u == math.MaxInt64 || u == math.MinInt64 {
			return "", errOctal
		}
		n = u
	} else {
		var ok bool
		if n, ok = string2ll(v); !ok {
			return "", errInt
		}
	}
	if n < d.Min || (n > 0 && uint64(n) > d.Max) {
		return "", d.boundsError()
	}
	if d.clamp != nil {
		n = d.clamp(n)
	}
	if d.octal {
		return strconv.FormatInt(n, 8), nil
	}
	return strconv.FormatInt(n, 10), nil
}

func (d *def) parseMemory(v string) (string, error) {
	u, ok := memtoull(v)
	if !ok {
		if d.percent {
			return parsePercent(v)
		}
		return "", errMemory
	}
	if (d.Min > 0 && u < uint64(d.Min)) || u > d.Max {
		return "", d.boundsError()
	}
	if d.clamp != nil { // only small bounded values get here, so the int64 round trip is exact
		u = uint64(d.clamp(int64(u)))
	}
	return strconv.FormatUint(u, 10), nil
}

// parsePercent reads Redis' "N%" form of a memory value; 0% is the same as 0 and prints so.
func parsePercent(v string) (string, error) {
	if len(v) < 2 || v[len(v)-1] != '%' {
		return "", errMemPercent
	}
	p, ok := string2ll(v[:len(v)-1])
	if !ok || p < 0 {
		return "", errMemPercent
	}
	if p > 100 {
		return "", errPercentMax
	}
	if p == 0 {
		return "0", nil
	}
	return strconv.FormatInt(p, 10) + "%", nil
}

func (d *def) parseEnum(v string) (string, error) {
	for _, e := range d.Enum {
		if strings.EqualFold(v, e) {
			if c, ok := d.synonyms[e]; ok {
				return c, nil
			}
			return e, nil
		}
	}
	return "", d.enumError()
}

func (d *def) enumError() error {
	return valueError("argument(s) must be one of the following: " + strings.Join(d.Enum, ", "))
}

func (d *def) boundsError() error {
	return valueError(fmt.Sprintf("argument must be between %d and %d inclusive", d.Min, d.Max))
}

// string2ll is Redis' strict integer syntax: optional '-', no '+', no spaces, no leading zeros
// (except "0" itself), no overflow.
func string2ll(s string) (int64, bool) {
	if s == "0" {
		return 0, true
	}
	digits := s
	if strings.HasPrefix(s, "-") {
		digits = s[1:]
	}
	if digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// memtoull is Redis 7.0's memory value syntax: decimal digits (possibly none, meaning 0) and an
// optional case-insensitive unit. Like Redis, too many digits saturate at 2^64-1 and a unit
// multiplication that overflows wraps around.
func memtoull(s string) (uint64, bool) {
	if strings.HasPrefix(s, "-") {
		return 0, false
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	var mul uint64
	switch strings.ToLower(s[end:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if end >= 128 { // Redis copies the digits into a 128-byte buffer
		return 0, false
	}
	var n uint64
	if end > 0 {
		var err error
		if n, err = strconv.ParseUint(s[:end], 10, 64); err != nil {
			n = math.MaxUint64 // strtoull's ERANGE result, which Redis does not check
		}
	}
	return n * mul, true
}

// strtoll is C's strtoll(s, &end, base) followed by Redis' usual "*end == '\0'" check: leading
// white space and a sign are allowed, an empty string is 0, out-of-range values saturate.
func strtoll(s string, base int) (int64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	digits := strings.TrimPrefix(strings.TrimPrefix(t, "+"), "-")
	if len(digits) < len(t)-1 {
		return 0, false // two signs
	}
	if digits == "" {
		// No digits: strtoll converts nothing and leaves end at the very start, which is '\0'
		// only for the empty string.
		return 0, s == ""
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] >= '0'+byte(base) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(t, "+"), base, 64)
	if err != nil { // only range errors are left
		if strings.HasPrefix(t, "-") {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	}
	return n, true
}

// trimFloat formats like Redis' "%f" followed by trimDoubleString: six decimals, trailing zeros
// and a trailing point removed.
func trimFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', 6, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}
