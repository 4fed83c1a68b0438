package command

import (
	"encoding/binary"
	"math/bits"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// bitParseOffset parses a bit offset as Redis' getBitOffsetFromArgument: an integer, or with
// hash set "#n" meaning n×width (BITFIELD), within [0, 2**32) bits so the string stays within
// proto-max-bulk-len. The multiplication wraps as in C, so huge "#n" are refused alike.
func bitParseOffset(raw []byte, hash bool, width int64) (uint64, bool) {
	useHash := hash && len(raw) > 1 && raw[0] == '#'
	s := raw
	if useHash {
		s = raw[1:]
	}
	n, ok := strParseInt(s)
	if !ok {
		return 0, false
	}
	if useHash {
		n *= width
	}
	if n < 0 || n>>3 >= strMaxLen {
		return 0, false
	}
	return uint64(n), true
}

// bitSetbitArgs parses SETBIT's offset and value; both are checked before the key is read.
func bitSetbitArgs(args [][]byte) (uint64, byte, reply.Value, bool) {
	off, ok := bitParseOffset(args[2], false, 0)
	if !ok {
		return 0, 0, strErrBitOffset, false
	}
	on, ok := strParseInt(args[3])
	if !ok || on&^1 != 0 {
		return 0, 0, strErrBitValue, false
	}
	return off, byte(on), reply.Value{}, true
}

func bitSetbitValidate(args [][]byte) (reply.Value, bool) {
	_, _, e, ok := bitSetbitArgs(args)
	return e, ok
}

// bitSetbitCmd writes only when the string is created, grows, or the bit changes, as Redis
// signals a modification only then (WATCH and the key's last-write index stay put otherwise).
func bitSetbitCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	off, on, e, ok := bitSetbitArgs(args)
	if !ok {
		return e
	}
	key := args[1]
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	byteIdx := int(off >> 3)
	v := m.Value
	dirty := !found || len(v) <= byteIdx
	if len(v) <= byteIdx {
		grown := make([]byte, byteIdx+1)
		copy(grown, v)
		v = grown
	}
	shift := 7 - off&7
	old := v[byteIdx] >> shift & 1
	// Redis unshares the string even when the bit is already set as asked, which makes its
	// encoding "raw"; record that too.
	if dirty || old != on || m.Enc != keyspace.EncRaw {
		v[byteIdx] = v[byteIdx]&^(1<<shift) | on<<shift
		if err := tx.SetStringEnc(key, v, m.ExpireAt, keyspace.EncRaw); err != nil {
			return reply.ErrInternal
		}
	}
	return reply.Int(int64(old))
}

func bitGetbitCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	off, ok := bitParseOffset(args[2], false, 0)
	if !ok {
		return strErrBitOffset
	}
	v, _, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	byteIdx := off >> 3
	if byteIdx >= uint64(len(v)) {
		return strZero
	}
	return reply.Int(int64(v[byteIdx] >> (7 - off&7) & 1))
}

// bitUnit parses the BYTE|BIT argument of BITCOUNT and BITPOS.
func bitUnit(raw []byte) (isBit, ok bool) {
	switch {
	case strEqFold(raw, "bit"):
		return true, true
	case strEqFold(raw, "byte"):
		return false, true
	}
	return false, false
}

// bitClampRange turns Redis' start/end (negative from the end) into a range within total
// units, exactly as bitcountCommand/bitposCommand do; empty when start > end.
func bitClampRange(start, end, total int64) (int64, int64) {
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= total {
		end = total - 1
	}
	return start, end
}

// bitCountRange counts the set bits in bit positions [from, to] of v (to < 8·len(v)).
func bitCountRange(v []byte, from, to int64) int64 {
	fb, tb := from>>3, to>>3
	// Masks keep only the bits inside the range in the first and last bytes.
	firstMask := byte(0xff >> (from & 7))
	lastMask := byte(0xff << (7 - to&7))
	if fb == tb {
		return int64(bits.OnesCount8(v[fb] & firstMask & lastMask))
	}
	n := int64(bits.OnesCount8(v[fb]&firstMask) + bits.OnesCount8(v[tb]&lastMask))
	mid := v[fb+1 : tb]
	for len(mid) >= 8 {
		n += int64(bits.OnesCount64(binary.LittleEndian.Uint64(mid)))
		mid = mid[8:]
	}
	for _, c := range mid {
		n += int64(bits.OnesCount8(c))
	}
	return n
}

// bitcountCmd follows Redis 7.0: a missing key answers 0 before the range is even parsed.
func bitcountCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	v, found, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	if !found {
		return strZero
	}
	var start, end int64
	isBit := false
	switch len(args) {
	case 2:
		start, end = 0, int64(len(v))-1
	case 4, 5:
		var ok bool
		if start, ok = strParseInt(args[2]); !ok {
			return reply.ErrNotInteger
		}
		if end, ok = strParseInt(args[3]); !ok {
			return reply.ErrNotInteger
		}
		if start < 0 && end < 0 && start > end {
			return strZero
		}
		if len(args) == 5 {
			if isBit, ok = bitUnit(args[4]); !ok {
				return reply.ErrSyntax
			}
		}
		total := int64(len(v))
		if isBit {
			total <<= 3
		}
		start, end = bitClampRange(start, end, total)
	default:
		return reply.ErrSyntax
	}
	if start > end {
		return strZero
	}
	if !isBit {
		start, end = start<<3, end<<3|7
	}
	return reply.Int(bitCountRange(v, start, end))
}

// bitFind returns the first bit position in [from, to] of v whose value is want, or -1.
func bitFind(v []byte, from, to int64, want byte) int64 {
	// skip is the byte value that cannot contain the wanted bit.
	skip := byte(0)
	if want == 0 {
		skip = 0xff
	}
	for p := from; p <= to; {
		if p&7 == 0 && p+7 <= to && v[p>>3] == skip {
			p += 8
			continue
		}
		if v[p>>3]>>(7-p&7)&1 == want {
			return p
		}
		p++
	}
	return -1
}

// bitposCmd follows Redis 7.0's argument order: the bit is checked first, a missing key is an
// infinite run of zeros (0 for a clear bit, -1 for a set one), then start, unit and end.
func bitposCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	want, ok := strParseInt(args[2])
	if !ok {
		return reply.ErrNotInteger
	}
	if want != 0 && want != 1 {
		return strErrBitArg
	}
	v, found, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	if !found {
		if want == 1 {
			return strMinusOne
		}
		return strZero
	}
	var start, end int64
	isBit, endGiven := false, false
	switch len(args) {
	case 3:
		start, end = 0, int64(len(v))-1
	case 4, 5, 6:
		if start, ok = strParseInt(args[3]); !ok {
			return reply.ErrNotInteger
		}
		if len(args) == 6 {
			if isBit, ok = bitUnit(args[5]); !ok {
				return reply.ErrSyntax
			}
		}
		total := int64(len(v))
		if isBit {
			total <<= 3
		}
		end = total - 1
		if len(args) >= 5 {
			if end, ok = strParseInt(args[4]); !ok {
				return reply.ErrNotInteger
			}
			endGiven = true
		}
		start, end = bitClampRange(start, end, total)
	default:
		return reply.ErrSyntax
	}
	if start > end {
		return strMinusOne
	}
	if !isBit {
		start, end = start<<3, end<<3|7
	}
	if pos := bitFind(v, start, end, byte(want)); pos >= 0 {
		return reply.Int(pos)
	}
	// No clear bit in range: without an explicit end the string counts as padded with
	// zeros, so the answer is the first bit after the range's last byte.
	if want == 0 && !endGiven {
		return reply.Int((end>>3 + 1) << 3)
	}
	return strMinusOne
}

const (
	bitopAnd = iota
	bitopOr
	bitopXor
	bitopNot
)

// bitopParse checks BITOP's operation and, for NOT, its single source; all before any key.
func bitopParse(args [][]byte) (int, reply.Value, bool) {
	op := -1
	switch {
	case strEqFold(args[1], "and"):
		op = bitopAnd
	case strEqFold(args[1], "or"):
		op = bitopOr
	case strEqFold(args[1], "xor"):
		op = bitopXor
	case strEqFold(args[1], "not"):
		op = bitopNot
	default:
		return 0, reply.ErrSyntax, false
	}
	if op == bitopNot && len(args) != 4 {
		return 0, strErrBitopNot, false
	}
	return op, reply.Value{}, true
}

func bitopValidate(args [][]byte) (reply.Value, bool) {
	_, e, ok := bitopParse(args)
	return e, ok
}

// bitopCmd treats missing sources as empty strings (zero bytes past each source's end);
// an empty result deletes the destination, any other replaces it (and drops its deadline).
func bitopCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	op, e, ok := bitopParse(args)
	if !ok {
		return e
	}
	dest := args[2]
	srcs := make([][]byte, 0, len(args)-3)
	maxLen := 0
	for _, key := range args[3:] {
		v, _, err := tx.GetString(key)
		if err != nil {
			return strTxnErr(err)
		}
		srcs = append(srcs, v)
		maxLen = max(maxLen, len(v))
	}
	if maxLen == 0 {
		if _, err := tx.Delete(dest); err != nil {
			return reply.ErrInternal
		}
		return strZero
	}
	res := make([]byte, maxLen)
	if op == bitopNot {
		for i, c := range srcs[0] {
			res[i] = ^c
		}
	} else {
		copy(res, srcs[0])
		for _, s := range srcs[1:] {
			switch op {
			case bitopAnd:
				for i := range res {
					if i < len(s) {
						res[i] &= s[i]
					} else {
						res[i] = 0
					}
				}
			case bitopOr:
				for i, c := range s {
					res[i] |= c
				}
			case bitopXor:
				for i, c := range s {
					res[i] ^= c
				}
			}
		}
	}
	if err := tx.SetStringEnc(dest, res, 0, keyspace.EncRaw); err != nil {
		return reply.ErrInternal
	}
	return reply.Int(int64(maxLen))
}
