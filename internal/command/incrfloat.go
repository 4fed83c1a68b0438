package command

import (
	"math/big"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// INCRBYFLOAT emulates Redis on x86-64, where the sum is computed in C long double: the x87
// 80-bit format with a 64-bit mantissa and a 15-bit exponent. Operands are parsed as glibc's
// strtold does (correctly rounded to 64 bits, hex floats and "inf" accepted, overflow and
// underflow to zero rejected), added with one rounding to 64 bits, and printed with "%.17Lf"
// minus trailing zeros. math/big gives the exact roundings; float64 would drift from Redis'
// output in the last printed digits.

const (
	// ldPrec is the long double mantissa width.
	ldPrec = 64
	// ldMaxExp is the largest binary exponent of a finite long double in big.Float's
	// convention (mantissa in [0.5, 1)): LDBL_MAX < 2**16384.
	ldMaxExp = 16384
	// ldMinNormExp is the exponent of LDBL_MIN (2**-16382) in the same convention; below it
	// values are denormal.
	ldMinNormExp = -16381
	// ldMaxChars is Redis' MAX_LONG_DOUBLE_CHARS: longer inputs are not valid floats.
	ldMaxChars = 5 * 1024
)

// ldHalfDenormMin is 2**-16446, half the smallest denormal: strtold rounds anything at or
// below it to zero and reports ERANGE, which Redis treats as "not a valid float".
var ldHalfDenormMin = new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 16446))

// ldIsSpace is C's isspace in the "C" locale.
func ldIsSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// ldDigits collects a run of digits of the given base from s[i:], accumulating them into m;
// it returns the index after the run and how many digits it saw.
func ldDigits(s []byte, i int, hex bool, m *big.Int) (int, int) {
	n := 0
	base := big.NewInt(10)
	if hex {
		base = big.NewInt(16)
	}
	var d big.Int
	for ; i < len(s); i++ {
		v, ok := ldDigitVal(s[i], hex)
		if !ok {
			break
		}
		m.Mul(m, base)
		m.Add(m, d.SetInt64(int64(v)))
		n++
	}
	return i, n
}

func ldDigitVal(c byte, hex bool) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case hex && c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case hex && c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// ldExponent parses an optional sign and decimal digits from s[i:], saturating far beyond
// any exponent that matters. ok is false when there is no digit.
func ldExponent(s []byte, i int) (int64, int, bool) {
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var e int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if e < 1<<40 {
			e = e*10 + int64(s[i]-'0')
		}
	}
	if i == start {
		return 0, i, false
	}
	if neg {
		e = -e
	}
	return e, i, true
}

// ldParse parses s as Redis' string2ld: the whole string must be one strtold number with no
// leading space; NaN, overflow and underflow to zero are rejected. Infinity is accepted.
func ldParse(s []byte) (*big.Float, bool) {
	if len(s) == 0 || len(s) >= ldMaxChars || ldIsSpace(s[0]) {
		return nil, false
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	rest := s[i:]
	if strEqFold(rest, "inf") || strEqFold(rest, "infinity") {
		return new(big.Float).SetInf(neg), true
	}
	hex := len(rest) > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X')
	if hex {
		i += 2
	}
	var mant big.Int
	i, intDigits := ldDigits(s, i, hex, &mant)
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i, fracDigits = ldDigits(s, i+1, hex, &mant)
	}
	if intDigits+fracDigits == 0 {
		// No digits at all ("", ".", "0x", "nan"): strtold stops early, Redis rejects.
		return nil, false
	}
	var exp int64
	if i < len(s) && ((!hex && (s[i] == 'e' || s[i] == 'E')) || (hex && (s[i] == 'p' || s[i] == 'P'))) {
		e, next, ok := ldExponent(s, i+1)
		if !ok {
			return nil, false
		}
		exp, i = e, next
	}
	if i != len(s) {
		return nil, false
	}
	r, ok := ldExact(&mant, exp, fracDigits, hex)
	if !ok {
		return nil, false
	}
	if neg {
		r.Neg(r)
	}
	f := new(big.Float).SetPrec(ldPrec).SetRat(r)
	if f.Sign() == 0 {
		if neg {
			f.Neg(f)
		}
		return f, true
	}
	e := f.MantExp(nil)
	if e > ldMaxExp {
		return nil, false
	}
	if e < ldMinNormExp {
		if new(big.Rat).Abs(r).Cmp(ldHalfDenormMin) <= 0 {
			return nil, false
		}
	}
	return f, true
}

// ldExact builds the exact rational value mant × base**(exp − fracDigits), refusing values
// that are certainly out of long double range before building huge numbers.
func ldExact(mant *big.Int, exp int64, fracDigits int, hex bool) (*big.Rat, bool) {
	if mant.Sign() == 0 {
		return new(big.Rat), true
	}
	if hex {
		e2 := exp - 4*int64(fracDigits)
		top := int64(mant.BitLen()) + e2 // value < 2**top
		if top > ldMaxExp+1 || top < -16446 {
			return nil, false
		}
		if e2 >= 0 {
			return new(big.Rat).SetInt(new(big.Int).Lsh(mant, uint(e2))), true
		}
		return new(big.Rat).SetFrac(mant, new(big.Int).Lsh(big.NewInt(1), uint(-e2))), true
	}
	e10 := exp - int64(fracDigits)
	digits := int64(len(mant.String()))
	// The value lies in [10**(e10+digits−1), 10**(e10+digits)); LDBL_MAX ≈ 1.19e4932 and
	// half the smallest denormal ≈ 1.8e-4951.
	if e10+digits-1 > 4933 || e10+digits < -4952 {
		return nil, false
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(ldAbs(e10)), nil)
	if e10 >= 0 {
		return new(big.Rat).SetInt(pow.Mul(pow, mant)), true
	}
	return new(big.Rat).SetFrac(mant, pow), true
}

func ldAbs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// ldFormat prints f as Redis' ld2string in LD_STR_HUMAN mode: "%.17Lf", trailing zeros and
// a trailing '.' removed, "-0" turned into "0".
func ldFormat(f *big.Float) []byte {
	b := f.Append(nil, 'f', 17)
	n := len(b)
	for n > 0 && b[n-1] == '0' {
		n--
	}
	if n > 0 && b[n-1] == '.' {
		n--
	}
	b = b[:n]
	if string(b) == "-0" {
		return []byte{'0'}
	}
	return b
}

func strIncrbyfloatCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	key := args[1]
	m, found, err := tx.LookupType(key, keyspace.TypeString)
	if err != nil {
		return strTxnErr(err)
	}
	// Redis parses the stored value before the increment, so a bad stored value wins.
	cur := new(big.Float).SetPrec(ldPrec)
	if found {
		var ok bool
		if cur, ok = ldParse(m.Value); !ok {
			return reply.ErrNotFloat
		}
	}
	incr, ok := ldParse(args[2])
	if !ok {
		return reply.ErrNotFloat
	}
	// inf+x is infinite and inf−inf is NaN: both are refused, and big.Float would panic on
	// the latter.
	if cur.IsInf() || incr.IsInf() {
		return strErrNaNInf
	}
	sum := new(big.Float).SetPrec(ldPrec).Add(cur, incr)
	if sum.MantExp(nil) > ldMaxExp {
		return strErrNaNInf
	}
	out := ldFormat(sum)
	if err := tx.SetStringEnc(key, out, m.ExpireAt, keyspace.EncNoInt); err != nil {
		return reply.ErrInternal
	}
	return reply.Bulk(out)
}
