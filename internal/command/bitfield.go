package command

import (
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// BITFIELD and BITFIELD_RO, following Redis 7.0's bitfieldGeneric: every operation is parsed
// (and every error reported) before the key is touched; a command with any SET or INCRBY
// creates or zero-grows the string up to the highest written bit even if every write then
// fails with OVERFLOW FAIL, exactly as Redis does.

const (
	bfGet = iota
	bfSet
	bfIncrBy
)

const (
	bfWrap = iota
	bfSat
	bfFail
)

type bfOp struct {
	offset   uint64
	value    int64
	opcode   uint8
	overflow uint8
	signed   bool
	width    uint
}

// bfType parses a type such as i16 or u8: signed up to 64 bits, unsigned up to 63. Redis
// 7.0 accepts only a lower-case prefix ("U8" is refused).
func bfType(raw []byte) (signed bool, width uint, ok bool) {
	if len(raw) == 0 {
		return false, 0, false
	}
	switch raw[0] {
	case 'i':
		signed = true
	case 'u':
	default:
		return false, 0, false
	}
	n, ok := strParseInt(raw[1:])
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return false, 0, false
	}
	return signed, uint(n), true
}

// bfParse parses the operations; readonly reports that there is no SET or INCRBY, highest is
// the last bit any write touches.
func bfParse(args [][]byte) (ops []bfOp, readonly bool, highest uint64, errReply reply.Value, ok bool) {
	readonly = true
	overflow := uint8(bfWrap)
	for j := 2; j < len(args); j++ {
		rem := len(args) - j - 1
		sub := args[j]
		var opcode uint8
		switch {
		case strEqFold(sub, "get") && rem >= 2:
			opcode = bfGet
		case strEqFold(sub, "set") && rem >= 3:
			opcode = bfSet
		case strEqFold(sub, "incrby") && rem >= 3:
			opcode = bfIncrBy
		case strEqFold(sub, "overflow") && rem >= 1:
			j++
			switch t := args[j]; {
			case strEqFold(t, "wrap"):
				overflow = bfWrap
			case strEqFold(t, "sat"):
				overflow = bfSat
			case strEqFold(t, "fail"):
				overflow = bfFail
			default:
				return nil, false, 0, strErrBitfieldOvf, false
			}
			continue
		default:
			return nil, false, 0, reply.ErrSyntax, false
		}
		signed, width, ok := bfType(args[j+1])
		if !ok {
			return nil, false, 0, strErrBitfieldType, false
		}
		offset, ok := bitParseOffset(args[j+2], true, int64(width))
		if !ok {
			return nil, false, 0, strErrBitOffset, false
		}
		var value int64
		if opcode != bfGet {
			readonly = false
			highest = max(highest, offset+uint64(width)-1)
			if value, ok = strParseInt(args[j+3]); !ok {
				return nil, false, 0, reply.ErrNotInteger, false
			}
			j++
		}
		ops = append(ops, bfOp{offset: offset, value: value, opcode: opcode, overflow: overflow, signed: signed, width: width})
		j += 2
	}
	return ops, readonly, highest, reply.Value{}, true
}

// bfGetBits reads width bits at offset, most significant first; bits past the end read 0.
func bfGetBits(v []byte, offset uint64, width uint) uint64 {
	var out uint64
	for i := uint(0); i < width; i++ {
		b := offset >> 3
		var bit uint64
		if b < uint64(len(v)) {
			bit = uint64(v[b]>>(7-offset&7)) & 1
		}
		out = out<<1 | bit
		offset++
	}
	return out
}

// bfSetBits writes the low width bits of value at offset (v is long enough).
func bfSetBits(v []byte, offset uint64, width uint, value uint64) {
	for i := uint(0); i < width; i++ {
		bit := byte(value>>(width-1-i)) & 1
		shift := 7 - offset&7
		v[offset>>3] = v[offset>>3]&^(1<<shift) | bit<<shift
		offset++
	}
}

// bfGetSigned sign-extends a width-bit two's complement field.
func bfGetSigned(v []byte, offset uint64, width uint) int64 {
	u := bfGetBits(v, offset, width)
	if width < 64 && u&(1<<(width-1)) != 0 {
		u |= math.MaxUint64 << width
	}
	return int64(u)
}

// bfCheckUnsigned mirrors checkUnsignedBitfieldOverflow, C wrap-around included: it reports
// whether value+incr leaves [0, 2**width) and, for WRAP and SAT, the value to store instead.
func bfCheckUnsigned(value uint64, incr int64, width uint, mode uint8) (uint64, bool) {
	maxv := uint64(1)<<width - 1
	maxIncr := int64(maxv - value)
	minIncr := -int64(value)
	var limit uint64
	switch {
	case value > maxv || (incr > 0 && incr > maxIncr):
		limit = maxv
	case incr < 0 && incr < minIncr:
		limit = 0
	default:
		return 0, false
	}
	if mode == bfWrap {
		limit = (value + uint64(incr)) &^ (math.MaxUint64 << width)
	}
	return limit, true
}

// bfCheckSigned mirrors checkSignedBitfieldOverflow for the range [−2**(w−1), 2**(w−1)).
func bfCheckSigned(value, incr int64, width uint, mode uint8) (int64, bool) {
	maxv := int64(math.MaxInt64)
	if width < 64 {
		maxv = int64(1)<<(width-1) - 1
	}
	minv := -maxv - 1
	maxIncr := int64(uint64(maxv) - uint64(value))
	minIncr := minv - value
	var limit int64
	switch {
	case value > maxv || (width != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		limit = maxv
	case value < minv || (width != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		limit = minv
	default:
		return 0, false
	}
	if mode == bfWrap {
		c := uint64(value) + uint64(incr)
		if width < 64 {
			mask := uint64(math.MaxUint64) << width
			if c&(1<<(width-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		limit = int64(c)
	}
	return limit, true
}

// bfWrite runs one SET or INCRBY on v and returns its reply (nil on OVERFLOW FAIL).
func bfWrite(v []byte, op *bfOp) reply.Value {
	if op.signed {
		old := bfGetSigned(v, op.offset, op.width)
		var newv, ret int64
		var limit int64
		var over bool
		if op.opcode == bfIncrBy {
			limit, over = bfCheckSigned(old, op.value, op.width, op.overflow)
			newv = old + op.value
			ret = newv
		} else {
			limit, over = bfCheckSigned(op.value, 0, op.width, op.overflow)
			newv, ret = op.value, old
		}
		if over {
			if op.overflow == bfFail {
				return reply.Null
			}
			newv = limit
			if op.opcode == bfIncrBy {
				ret = limit
			}
		}
		bfSetBits(v, op.offset, op.width, uint64(newv))
		return reply.Int(ret)
	}
	old := bfGetBits(v, op.offset, op.width)
	var newv, ret uint64
	var limit uint64
	var over bool
	if op.opcode == bfIncrBy {
		limit, over = bfCheckUnsigned(old, op.value, op.width, op.overflow)
		newv = old + uint64(op.value)
		ret = newv
	} else {
		limit, over = bfCheckUnsigned(uint64(op.value), 0, op.width, op.overflow)
		newv, ret = uint64(op.value), old
	}
	if over {
		if op.overflow == bfFail {
			return reply.Null
		}
		newv = limit
		if op.opcode == bfIncrBy {
			ret = limit
		}
	}
	bfSetBits(v, op.offset, op.width, newv)
	return reply.Int(int64(ret))
}

// bfRun executes parsed ops on v, which must already cover every written bit.
func bfRun(v []byte, ops []bfOp) reply.Value {
	out := make([]reply.Value, len(ops))
	for i := range ops {
		op := &ops[i]
		if op.opcode != bfGet {
			out[i] = bfWrite(v, op)
			continue
		}
		if op.signed {
			out[i] = reply.Int(bfGetSigned(v, op.offset, op.width))
		} else {
			out[i] = reply.Int(int64(bfGetBits(v, op.offset, op.width)))
		}
	}
	return reply.Array(out...)
}

func bitfieldValidate(args [][]byte) (reply.Value, bool) {
	_, _, _, e, ok := bfParse(args)
	return e, ok
}

func bitfieldCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	ops, readonly, highest, e, ok := bfParse(args)
	if !ok {
		return e
	}
	key := args[1]
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	if readonly {
		return bfRun(m.Value, ops)
	}
	v := m.Value
	if need := highest>>3 + 1; uint64(len(v)) < need {
		grown := make([]byte, need)
		copy(grown, v)
		v = grown
	}
	out := bfRun(v, ops)
	expireAt := int64(0)
	if found {
		expireAt = m.ExpireAt
	}
	if err := tx.SetStringEnc(key, v, expireAt, keyspace.EncRaw); err != nil {
		return reply.ErrInternal
	}
	return out
}

// bitfieldROCmd parses everything first (so syntax errors win), then refuses writes.
func bitfieldROCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	ops, readonly, _, e, ok := bfParse(args)
	if !ok {
		return e
	}
	if !readonly {
		return strErrBitfieldRO
	}
	v, _, err := tx.GetString(args[1])
	if err != nil {
		return strTxnErr(err)
	}
	return bfRun(v, ops)
}
