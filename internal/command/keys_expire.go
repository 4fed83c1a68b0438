package command

import (
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.
//
// Relative expiries are turned into absolute deadlines with tx.Now(), which in apply is the
// time stamped into the raft entry by its proposer: every replica computes the same deadline
// (DESIGN.md §4). A deadline at or before that time deletes the key at once, as Redis does.

// EXPIRE's NX/XX/GT/LT options.
const (
	genExpNX = 1 << iota
	genExpXX
	genExpGT
	genExpLT
)

var (
	genErrExpireNX = reply.Err("ERR NX and XX, GT or LT options at the same time are not compatible")
	genErrExpireGL = reply.Err("ERR GT and LT options at the same time are not compatible")
)

func genExpireSpecs() []*Spec {
	return []*Spec{
		{
			Name: "expire", Arity: -3, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Set a key's time to live in seconds",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genExpireCmd(1000, true), Validate: genExpireValidate(1000),
		},
		{
			Name: "pexpire", Arity: -3, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "2.6.0",
			Summary:    "Set a key's time to live in milliseconds",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genExpireCmd(1, true), Validate: genExpireValidate(1),
		},
		{
			Name: "expireat", Arity: -3, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "1.2.0",
			Summary:    "Set the expiration for a key as a UNIX timestamp",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genExpireCmd(1000, false), Validate: genExpireValidate(1000),
		},
		{
			Name: "pexpireat", Arity: -3, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "2.6.0",
			Summary:    "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genExpireCmd(1, false), Validate: genExpireValidate(1),
		},
		{
			Name: "ttl", Arity: 2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "1.0.0",
			Summary:    "Get the time to live for a key in seconds",
			Complexity: "O(1)",
			Kind:       KindKeyRead, Run: genTTLCmd(false, false),
		},
		{
			Name: "pttl", Arity: 2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "2.6.0",
			Summary:    "Get the time to live for a key in milliseconds",
			Complexity: "O(1)",
			Kind:       KindKeyRead, Run: genTTLCmd(true, false),
		},
		{
			Name: "expiretime", Arity: 2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "7.0.0",
			Summary:    "Get the expiration Unix timestamp for a key",
			Complexity: "O(1)",
			Kind:       KindKeyRead, Run: genTTLCmd(false, true),
		},
		{
			Name: "pexpiretime", Arity: 2, Flags: FlagReadOnly | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLReadFast,
			Group:         "generic", Since: "7.0.0",
			Summary:    "Get the expiration Unix timestamp for a key in milliseconds",
			Complexity: "O(1)",
			Kind:       KindKeyRead, Run: genTTLCmd(true, true),
		},
		{
			Name: "persist", Arity: 2, Flags: FlagWrite | FlagFast,
			FirstKey: 1, LastKey: 1, Step: 1,
			ACLCategories: genACLWriteFast,
			Group:         "generic", Since: "2.2.0",
			Summary:    "Remove the expiration from a key",
			Complexity: "O(1)",
			Kind:       KindKeyWrite, Run: genPersistCmd,
		},
	}
}

// genExpireArgs parses the options and the time argument in Redis' order (options first, so
// "EXPIRE k abc NX XX" reports the option conflict). when is in milliseconds, still relative
// for EXPIRE/PEXPIRE; the check that needs the base time is left to the caller.
func genExpireArgs(args [][]byte, unit int64) (when int64, flags int, errv reply.Value, ok bool) {
	for _, a := range args[3:] {
		switch {
		case genEqFold(a, "nx"):
			flags |= genExpNX
		case genEqFold(a, "xx"):
			flags |= genExpXX
		case genEqFold(a, "gt"):
			flags |= genExpGT
		case genEqFold(a, "lt"):
			flags |= genExpLT
		default:
			return 0, 0, reply.Err("ERR Unsupported option " + string(a)), false
		}
	}
	if flags&genExpNX != 0 && flags&(genExpXX|genExpGT|genExpLT) != 0 {
		return 0, 0, genErrExpireNX, false
	}
	if flags&genExpGT != 0 && flags&genExpLT != 0 {
		return 0, 0, genErrExpireGL, false
	}
	when, isInt := genParseInt(args[2])
	if !isInt {
		return 0, 0, reply.ErrNotInteger, false
	}
	if unit != 1 {
		if when > math.MaxInt64/unit || when < math.MinInt64/unit {
			return 0, 0, genErrInvalidExpire(args[0]), false
		}
		when *= unit
	}
	return when, flags, reply.Value{}, true
}

// genErrInvalidExpire names the command as Redis does: lower case, as registered.
func genErrInvalidExpire(name []byte) reply.Value {
	return reply.Err("ERR invalid expire time in '" + lower(name) + "' command")
}

func genExpireValidate(unit int64) func([][]byte) (reply.Value, bool) {
	return func(args [][]byte) (reply.Value, bool) {
		_, _, errv, ok := genExpireArgs(args, unit)
		return errv, ok
	}
}

// genExpireCmd is the EXPIRE family: unit converts the argument to milliseconds, relative
// adds tx.Now().
func genExpireCmd(unit int64, relative bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		when, flags, errv, ok := genExpireArgs(args, unit)
		if !ok {
			return errv
		}
		if relative {
			now := tx.Now()
			if when > math.MaxInt64-now {
				return genErrInvalidExpire(args[0])
			}
			when += now
		}
		m, ok, err := tx.Lookup(args[1])
		if err != nil {
			return genTxnErr(err)
		}
		if !ok {
			return reply.Int(0)
		}
		current := m.ExpireAt // 0: no TTL, which GT and LT treat as infinite
		switch {
		case flags&genExpNX != 0 && current != 0,
			flags&genExpXX != 0 && current == 0,
			flags&genExpGT != 0 && (current == 0 || when <= current),
			flags&genExpLT != 0 && current != 0 && when >= current:
			return reply.Int(0)
		}
		if when <= tx.Now() {
			if _, err := tx.Delete(args[1]); err != nil {
				return genTxnErr(err)
			}
			return reply.Int(1)
		}
		if _, err := tx.SetExpire(args[1], when); err != nil {
			return genTxnErr(err)
		}
		return reply.Int(1)
	}
}

// genTTLCmd is TTL (ms false, abs false), PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing
// key, -1 for a key without TTL. Seconds are rounded to the nearest, as Redis does; the
// rounding is done unsigned because Redis' (ttl+500)/1000 prints a positive number even for
// deadlines near the int64 limit.
func genTTLCmd(ms, abs bool) KeyFunc {
	return func(tx *keyspace.Txn, args [][]byte) reply.Value {
		m, ok, err := tx.Lookup(args[1])
		if err != nil {
			return genTxnErr(err)
		}
		if !ok {
			return reply.Int(-2)
		}
		if m.ExpireAt == 0 {
			return reply.Int(-1)
		}
		ttl := m.ExpireAt
		if !abs {
			ttl -= tx.Now()
		}
		ttl = max(ttl, 0)
		if ms {
			return reply.Int(ttl)
		}
		return reply.Int(int64((uint64(ttl) + 500) / 1000))
	}
}

func genPersistCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	m, ok, err := tx.Lookup(args[1])
	if err != nil {
		return genTxnErr(err)
	}
	if !ok || m.ExpireAt == 0 {
		return reply.Int(0)
	}
	if _, err := tx.SetExpire(args[1], 0); err != nil {
		return genTxnErr(err)
	}
	return reply.Int(1)
}
