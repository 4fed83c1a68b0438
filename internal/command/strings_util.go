package command

import (
	"errors"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// Helpers shared by the string and bitmap commands. Unexported names in this family carry a
// str/bit prefix because other families live in the same package and are written in parallel.

// strMaxLen is proto-max-bulk-len's default: Redis refuses to grow a string beyond it.
const strMaxLen = 512 << 20

// Error replies specific to the string and bitmap families, worded exactly as Redis 7.0.
var (
	strErrBitOffset    = reply.Err("ERR bit offset is not an integer or out of range")
	strErrBitValue     = reply.Err("ERR bit is not an integer or out of range")
	strErrOffsetRange  = reply.Err("ERR offset is out of range")
	strErrDecrOverflow = reply.Err("ERR decrement would overflow")
	strErrNaNInf       = reply.Err("ERR increment would produce NaN or Infinity")
	strErrGetexExpire  = reply.Err("ERR invalid expire time in 'getex' command")
	strErrSetexExpire  = reply.Err("ERR invalid expire time in 'setex' command")
	strErrPsetexExpire = reply.Err("ERR invalid expire time in 'psetex' command")
	strErrBitArg       = reply.Err("ERR The bit argument must be 1 or 0.")
	strErrBitopNot     = reply.Err("ERR BITOP NOT must be called with a single source key.")
	strErrBitfieldType = reply.Err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
	strErrBitfieldOvf  = reply.Err("ERR Invalid OVERFLOW type specified")
	strErrBitfieldRO   = reply.Err("ERR BITFIELD_RO only supports the GET subcommand")
	strErrLCSType      = reply.Err("ERR The specified keys must contain string values")
	strErrLCSIdxLen    = reply.Err("ERR If you want both the length and indexes, please just use IDX.")
	strErrLCSMemory    = reply.Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
	strErrLCSTooLong   = reply.Err("ERR String too long for LCS")
	strErrMsetArity    = reply.WrongArgs("mset")
	strErrMsetnxArity  = reply.WrongArgs("msetnx")
	strEmptyBulk       = reply.Bulk([]byte{})
	strZero            = reply.Int(0)
	strOne             = reply.Int(1)
	strMinusOne        = reply.Int(-1)
)

// strTxnErr turns a Txn error into a reply: the wrong-type error is Redis' WRONGTYPE, anything
// else is a storage fault whose Go text must not reach clients.
func strTxnErr(err error) reply.Value {
	if errors.Is(err, keyspace.ErrWrongType) {
		return reply.ErrWrongType
	}
	return reply.ErrInternal
}

// strParseInt parses b exactly as Redis' string2ll: optional '-', no '+', no spaces, no
// leading zeros (so "-0" and "007" are rejected), at most 20 bytes, within int64.
func strParseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n >= 21 {
		return 0, false
	}
	if n == 1 && b[0] == '0' {
		return 0, true
	}
	i := 0
	neg := false
	if b[0] == '-' {
		neg = true
		i++
		if i == n {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0))/10 {
			return 0, false
		}
		v *= 10
		if v > ^uint64(0)-d {
			return 0, false
		}
		v += d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// strEqFold reports whether b equals the lower-case ASCII word w, ignoring ASCII case. It
// allocates nothing, which matters on the SET path.
func strEqFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}
