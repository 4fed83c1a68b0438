// Package glob matches byte strings against Redis glob patterns, with the exact semantics of
// Redis 7.0's stringmatchlen (KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE, ...), quirks included,
// because clients rely on patterns selecting the same keys on ferricd as on Redis:
//
//   - '*' matches any run of bytes, '?' exactly one byte;
//   - '[...]' matches one byte from a class; '^' right after '[' negates it; 'a-z' is a range
//     whose ends may come in either order; '\x' inside a class is the literal x (compared
//     case-sensitively even when nocase is set, as Redis does); a class left open at the end of
//     the pattern is closed there; "[]" matches nothing and "[^]" any byte;
//   - a range reads its end byte even when that byte is ']' ("[a-]" is the range a..']' and the
//     class continues after it);
//   - range bounds and the tested byte compare as C's signed char, so bytes >= 0x80 sort below
//     0x00 inside ranges;
//   - '\x' outside a class is the literal x; a trailing '\' is a literal backslash;
//   - nocase folds ASCII letters only (C locale tolower);
//   - the empty string matches only the empty pattern ("*" does not match it: KEYS and SCAN
//     special-case the pattern "*" themselves).
//
// Every pattern element except '*' consumes exactly one byte of the subject, so matching is
// the classic single-backtrack-point algorithm: it runs in O(len(pattern) * len(s)) time and
// constant space, which also keeps hostile patterns from exhausting the stack.
package glob

// Match reports whether s matches pattern.
func Match(pattern, s []byte, nocase bool) bool {
	if len(s) == 0 {
		// Redis' matcher loops only while both pattern and subject remain, so an empty
		// subject never enters it: only an empty pattern matches.
		return len(pattern) == 0
	}
	p, i := 0, 0
	// Where to resume after the last '*': the pattern position after it and the subject
	// position it is currently assumed to stop at.
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) && pattern[p] == '*' {
			for p < len(pattern) && pattern[p] == '*' {
				p++
			}
			if p == len(pattern) {
				return true
			}
			starP, starI = p, i
			continue
		}
		if p < len(pattern) {
			if ok, width := matchOne(pattern[p:], s[i], nocase); ok {
				p += width
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more byte and retry from there.
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne tests c against the pattern element at the start of pat (not '*'); it returns
// whether c matches and how many pattern bytes the element spans.
func matchOne(pat []byte, c byte, nocase bool) (bool, int) {
	switch pat[0] {
	case '?':
		return true, 1
	case '[':
		return matchClass(pat, c, nocase)
	case '\\':
		if len(pat) >= 2 {
			return equal(pat[1], c, nocase), 2
		}
	}
	return equal(pat[0], c, nocase), 1
}

// matchClass tests c against the class starting at pat[0] == '['.
func matchClass(pat []byte, c byte, nocase bool) (bool, int) {
	i := 1
	negate := i < len(pat) && pat[i] == '^'
	if negate {
		i++
	}
	match := false
	for {
		rest := len(pat) - i
		switch {
		case rest == 0:
			// Unterminated: the class ends with the pattern.
			return match != negate, len(pat)
		case pat[i] == '\\' && rest >= 2:
			if pat[i+1] == c {
				match = true
			}
			i += 2
		case pat[i] == ']':
			return match != negate, i + 1
		case rest >= 3 && pat[i+1] == '-':
			// C's char is signed on the platforms Redis ships for, and Redis compares
			// range bounds as int converted from char.
			lo, hi, x := int(int8(pat[i])), int(int8(pat[i+2])), int(int8(c))
			if lo > hi {
				lo, hi = hi, lo
			}
			if nocase {
				lo, hi, x = fold(lo), fold(hi), fold(x)
			}
			if x >= lo && x <= hi {
				match = true
			}
			i += 3
		default:
			if equal(pat[i], c, nocase) {
				match = true
			}
			i++
		}
	}
}

func equal(a, b byte, nocase bool) bool {
	if a == b {
		return true
	}
	return nocase && fold(int(a)) == fold(int(b))
}

// fold is C's tolower in the "C" locale.
func fold(c int) int {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
