// Package splitargs is Redis' sdssplitargs: how redis-server splits an inline (telnet-style)
// command and a config file line into arguments. internal/resp and internal/config both need
// exactly Redis' rules, quoting quirks included, so they share this one implementation.
package splitargs

import "bytes"

// Split splits a line (without its line ending) into arguments the way Redis' sdssplitargs
// does:
//   - arguments are separated by blanks; a token ends at ' ', '\t', '\r' or '\n';
//   - "double quotes" understand \n \r \t \b \a, \xHH and \<any> (the character itself);
//     'single quotes' understand only \';
//   - a quote may open in the middle of a token (a"b c" is the one argument `ab c`), but a
//     closing quote must be followed by a blank or the end of the line;
//   - an unterminated quote, or a closing quote followed by anything else, fails;
//   - a NUL byte ends the line, because Redis parses it as a C string (the scanner does
//     not even hand on such a line: Redis never finds its end).
//
// The arguments are appended to dst (whose backing array may be reused) and are fresh
// copies: the line buffer is reused for the next line.
func Split(line []byte, dst [][]byte) ([][]byte, bool) {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	// at returns 0 past the end, which is how the C original sees the terminator.
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	args := dst
	p := 0
	for {
		for p < len(line) && isCSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return args, true
		}
		cur := make([]byte, 0, 16)
		inDouble, inSingle := false, false
		for done := false; !done; {
			c := at(p)
			switch {
			case inDouble:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					cur = append(cur, hexValue(at(p+2))<<4|hexValue(at(p+3)))
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					cur = append(cur, unescape(at(p)))
				case c == '"':
					if next := at(p + 1); next != 0 && !isCSpace(next) {
						return args, false
					}
					done = true
				case c == 0:
					return args, false
				default:
					cur = append(cur, c)
				}
			case inSingle:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					cur = append(cur, '\'')
				case c == '\'':
					if next := at(p + 1); next != 0 && !isCSpace(next) {
						return args, false
					}
					done = true
				case c == 0:
					return args, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					cur = append(cur, c)
				}
			}
			if c != 0 {
				p++
			}
		}
		args = append(args, cur)
	}
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
