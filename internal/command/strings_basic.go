package command

import (
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// SET-style option flags, shared by SET (and its SETNX/SETEX/PSETEX shorthands) and GETEX.
const (
	strOptNX = 1 << iota
	strOptXX
	strOptGet
	strOptKeepTTL
	strOptPersist
	strOptEX
	strOptPX
	strOptEXAT
	strOptPXAT

	strOptExpire = strOptEX | strOptPX | strOptEXAT | strOptPXAT
)

// strParseSetOpts parses the options from args[from:] with Redis' exact acceptance rules:
// SET takes NX|XX, GET, KEEPTTL and one expiry form; GETEX takes one expiry form or PERSIST.
// Repeating the same option is accepted (the last expiry value wins), mixing exclusive ones is
// a syntax error. It returns the flags and the raw expiry argument (nil when none).
func strParseSetOpts(args [][]byte, from int, forSet bool) (int, []byte, bool) {
	flags := 0
	var expire []byte
	for j := from; j < len(args); j++ {
		opt := args[j]
		hasNext := j+1 < len(args)
		switch {
		case forSet && strEqFold(opt, "nx") && flags&strOptXX == 0:
			flags |= strOptNX
		case forSet && strEqFold(opt, "xx") && flags&strOptNX == 0:
			flags |= strOptXX
		case forSet && strEqFold(opt, "get"):
			flags |= strOptGet
		case forSet && strEqFold(opt, "keepttl") && flags&(strOptPersist|strOptExpire) == 0:
			flags |= strOptKeepTTL
		case !forSet && strEqFold(opt, "persist") && flags&(strOptKeepTTL|strOptExpire) == 0:
			flags |= strOptPersist
		case strEqFold(opt, "ex") && strExpiryAllowed(flags, strOptEX, hasNext):
			flags |= strOptEX
			j++
			expire = args[j]
		case strEqFold(opt, "px") && strExpiryAllowed(flags, strOptPX, hasNext):
			flags |= strOptPX
			j++
			expire = args[j]
		case strEqFold(opt, "exat") && strExpiryAllowed(flags, strOptEXAT, hasNext):
			flags |= strOptEXAT
			j++
			expire = args[j]
		case strEqFold(opt, "pxat") && strExpiryAllowed(flags, strOptPXAT, hasNext):
			flags |= strOptPXAT
			j++
			expire = args[j]
		default:
			return 0, nil, false
		}
	}
	return flags, expire, true
}

// strExpiryAllowed reports whether expiry form self may follow flags: each form excludes the
// other three, KEEPTTL and PERSIST (but not itself), and needs a value argument.
func strExpiryAllowed(flags, self int, hasNext bool) bool {
	return hasNext && flags&(strOptKeepTTL|strOptPersist|(strOptExpire&^self)) == 0
}

// strExpireAt turns an expiry argument into an absolute deadline in Unix ms, as Redis'
// getExpireMillisecondsOrReply: not an integer → ErrNotInteger; ≤ 0, seconds that overflow
// once in ms, or a relative deadline that overflows past now → errExpire. The overflow wraps
// exactly as the C code does, so the same inputs fail. Validate calls it with now = 0 to
// check what can be checked without the entry's clock.
func strExpireAt(raw []byte, flags int, now int64, errExpire reply.Value) (int64, reply.Value, bool) {
	n, ok := strParseInt(raw)
	if !ok {
		return 0, reply.ErrNotInteger, false
	}
	seconds := flags&(strOptEX|strOptEXAT) != 0
	if n <= 0 || (seconds && n > math.MaxInt64/1000) {
		return 0, errExpire, false
	}
	if seconds {
		n *= 1000
	}
	if flags&(strOptEX|strOptPX) != 0 {
		n += now
	}
	if n <= 0 {
		return 0, errExpire, false
	}
	return n, reply.Value{}, true
}

// strSetGeneric is Redis' setGenericCommand: expiry validation first, then the GET type
// check, then NX/XX, then the write. Without KEEPTTL the write clears any old deadline.
func strSetGeneric(tx *keyspace.Txn, key, val []byte, flags int, expire []byte, errExpire, okReply, abortReply reply.Value) reply.Value {
	var at int64
	if expire != nil {
		var e reply.Value
		var ok bool
		if at, e, ok = strExpireAt(expire, flags, tx.Now(), errExpire); !ok {
			return e
		}
	}
	old := reply.Null
	// A plain SET needs no read of its own (Put reads the old metadata anyway), which keeps the
	// hot path at one Pebble lookup.
	if flags&(strOptNX|strOptXX|strOptGet|strOptKeepTTL) != 0 {
		m, found, err := tx.Lookup(key)
		if err != nil {
			return reply.ErrInternal
		}
		if flags&strOptGet != 0 && found {
			if m.Type != keyspace.TypeString {
				return reply.ErrWrongType
			}
			old = reply.Bulk(m.Value)
		}
		if (flags&strOptNX != 0 && found) || (flags&strOptXX != 0 && !found) {
			if flags&strOptGet != 0 {
				return old
			}
			return abortReply
		}
		if flags&strOptKeepTTL != 0 && found {
			at = m.ExpireAt
		}
	}
	if err := tx.SetString(key, val, at); err != nil {
		return reply.ErrInternal
	}
	if flags&strOptGet != 0 {
		return old
	}
	return okReply
}

func strGetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	v, ok, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	if !ok {
		return reply.Null
	}
	return reply.Bulk(v)
}

func strSetValidate(args [][]byte) (reply.Value, bool) {
	flags, expire, ok := strParseSetOpts(args, 3, true)
	if !ok {
		return reply.ErrSyntax, false
	}
	if expire != nil {
		if _, e, ok := strExpireAt(expire, flags, 0, reply.ErrInvalidExpire); !ok {
			return e, false
		}
	}
	return reply.Value{}, true
}

func strSetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	flags, expire, ok := strParseSetOpts(args, 3, true)
	if !ok {
		return reply.ErrSyntax
	}
	return strSetGeneric(tx, args[1], args[2], flags, expire, reply.ErrInvalidExpire, reply.OK, reply.Null)
}

func strSetnxCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return strSetGeneric(tx, args[1], args[2], strOptNX, nil, reply.ErrInvalidExpire, strOne, strZero)
}

// strSetexValidate checks SETEX/PSETEX's ttl, which Redis validates before touching the key.
func strSetexValidate(flag int, errExpire reply.Value) func([][]byte) (reply.Value, bool) {
	return func(args [][]byte) (reply.Value, bool) {
		if _, e, ok := strExpireAt(args[2], flag, 0, errExpire); !ok {
			return e, false
		}
		return reply.Value{}, true
	}
}

func strSetexCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return strSetGeneric(tx, args[1], args[3], strOptEX, args[2], strErrSetexExpire, reply.OK, reply.Null)
}

func strPsetexCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	return strSetGeneric(tx, args[1], args[3], strOptPX, args[2], strErrPsetexExpire, reply.OK, reply.Null)
}

// strGetsetCmd replies with the old value and stores the new one without a deadline.
func strGetsetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	old, found, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	if err := tx.SetString(args[1], args[2], 0); err != nil {
		return reply.ErrInternal
	}
	if !found {
		return reply.Null
	}
	return reply.Bulk(old)
}

func strGetdelCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	v, found, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	if !found {
		return reply.Null
	}
	if _, err := tx.Delete(args[1]); err != nil {
		return reply.ErrInternal
	}
	return reply.Bulk(v)
}

// strGetexValidate checks only the option grammar: Redis answers nil for a missing key even
// when the expiry value is bad, so the value cannot be judged without the data.
func strGetexValidate(args [][]byte) (reply.Value, bool) {
	if _, _, ok := strParseSetOpts(args, 2, false); !ok {
		return reply.ErrSyntax, false
	}
	return reply.Value{}, true
}

func strGetexCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	flags, expire, ok := strParseSetOpts(args, 2, false)
	if !ok {
		return reply.ErrSyntax
	}
	key := args[1]
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	if !found {
		return reply.Null
	}
	var at int64
	if expire != nil {
		var e reply.Value
		if at, e, ok = strExpireAt(expire, flags, tx.Now(), strErrGetexExpire); !ok {
			return e
		}
	}
	switch {
	case flags&(strOptEXAT|strOptPXAT) != 0 && at <= tx.Now():
		// An absolute deadline already past deletes the key, as Redis does.
		_, err = tx.Delete(key)
	case expire != nil:
		_, err = tx.SetExpire(key, at)
	case flags&strOptPersist != 0 && m.ExpireAt != 0:
		_, err = tx.SetExpire(key, 0)
	}
	if err != nil {
		return reply.ErrInternal
	}
	return reply.Bulk(m.Value)
}

// strMgetCmd answers nil for missing keys and for keys of another type (no WRONGTYPE).
func strMgetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	out := make([]reply.Value, len(args)-1)
	for i, key := range args[1:] {
		m, found, err := tx.Lookup(key)
		if err != nil {
			return reply.ErrInternal
		}
		if !found || m.Type != keyspace.TypeString {
			out[i] = reply.Null
			continue
		}
		out[i] = reply.Bulk(m.Value)
	}
	return reply.Array(out...)
}

// strMsetValidate rejects an odd number of key/value arguments with the arity error Redis
// gives (the table's arity only says "at least 3").
func strMsetValidate(errArity reply.Value) func([][]byte) (reply.Value, bool) {
	return func(args [][]byte) (reply.Value, bool) {
		if len(args)%2 == 0 {
			return errArity, false
		}
		return reply.Value{}, true
	}
}

func strMsetCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if len(args)%2 == 0 {
		return strErrMsetArity
	}
	for j := 1; j < len(args); j += 2 {
		if err := tx.SetString(args[j], args[j+1], 0); err != nil {
			return reply.ErrInternal
		}
	}
	return reply.OK
}

// strMsetnxCmd sets nothing if any key exists, whatever its type.
func strMsetnxCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	if len(args)%2 == 0 {
		return strErrMsetnxArity
	}
	for j := 1; j < len(args); j += 2 {
		_, found, err := tx.Lookup(args[j])
		if err != nil {
			return reply.ErrInternal
		}
		if found {
			return strZero
		}
	}
	for j := 1; j < len(args); j += 2 {
		if err := tx.SetString(args[j], args[j+1], 0); err != nil {
			return reply.ErrInternal
		}
	}
	return strOne
}

// strAppendCmd keeps the key's deadline, as Redis modifies the value in place.
func strAppendCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	key, tail := args[1], args[2]
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	if !found {
		if err := tx.SetString(key, tail, 0); err != nil {
			return reply.ErrInternal
		}
		return reply.Int(int64(len(tail)))
	}
	total := len(m.Value) + len(tail)
	if total > strMaxLen {
		return reply.ErrStringTooLong
	}
	v := make([]byte, total)
	copy(v, m.Value)
	copy(v[len(m.Value):], tail)
	if err := tx.SetStringEnc(key, v, m.ExpireAt, keyspace.EncRaw); err != nil {
		return reply.ErrInternal
	}
	return reply.Int(int64(total))
}

func strStrlenCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	v, _, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	return reply.Int(int64(len(v)))
}

// strGetrangeCmd is GETRANGE and SUBSTR: both indexes are parsed before the key is read, a
// missing key is the empty string.
func strGetrangeCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	start, ok1 := strParseInt(args[2])
	if !ok1 {
		return reply.ErrNotInteger
	}
	end, ok2 := strParseInt(args[3])
	if !ok2 {
		return reply.ErrNotInteger
	}
	v, found, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	if !found {
		return strEmptyBulk
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		return strEmptyBulk
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return strEmptyBulk
	}
	return reply.Bulk(v[start : end+1])
}

// strSetrangeOffset parses SETRANGE's offset, checked before the key is read.
func strSetrangeOffset(raw []byte) (int64, reply.Value, bool) {
	off, ok := strParseInt(raw)
	if !ok {
		return 0, reply.ErrNotInteger, false
	}
	if off < 0 {
		return 0, strErrOffsetRange, false
	}
	return off, reply.Value{}, true
}

func strSetrangeValidate(args [][]byte) (reply.Value, bool) {
	_, e, ok := strSetrangeOffset(args[2])
	return e, ok
}

func strSetrangeCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	off, e, ok := strSetrangeOffset(args[2])
	if !ok {
		return e
	}
	key, val := args[1], args[3]
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	// Writing nothing answers the current length and changes nothing, before the size check.
	if len(val) == 0 {
		return reply.Int(int64(len(m.Value)))
	}
	if off > strMaxLen || off+int64(len(val)) > strMaxLen {
		return reply.ErrStringTooLong
	}
	n := max(int64(len(m.Value)), off+int64(len(val)))
	v := m.Value
	if int64(len(v)) < n {
		v = make([]byte, n)
		copy(v, m.Value)
	}
	copy(v[off:], val)
	expireAt := int64(0)
	if found {
		expireAt = m.ExpireAt
	}
	if err := tx.SetStringEnc(key, v, expireAt, keyspace.EncRaw); err != nil {
		return reply.ErrInternal
	}
	return reply.Int(n)
}
