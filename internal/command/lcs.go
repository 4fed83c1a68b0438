package command

import (
	"math"

	"ferricd/internal/keyspace"
	"ferricd/internal/reply"
)

// strLcsCmd is LCS, following Redis 7.0's lcsCommand step by step so that the match ranges
// come out in the same order and with the same boundaries: both keys are read (missing ones
// are empty strings) and type-checked before the options are parsed, the classic dynamic
// programming table is built, and the LCS is recovered walking back from the end.
func strLcsCmd(tx *keyspace.Txn, args [][]byte) reply.Value {
	ma, foundA, err := tx.Lookup(args[1])
	if err != nil {
		return reply.ErrInternal
	}
	mb, foundB, err := tx.Lookup(args[2])
	if err != nil {
		return reply.ErrInternal
	}
	if (foundA && ma.Type != keyspace.TypeString) || (foundB && mb.Type != keyspace.TypeString) {
		return strErrLCSType
	}
	a, b := ma.Value, mb.Value

	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		opt := args[j]
		switch {
		case strEqFold(opt, "idx"):
			getIdx = true
		case strEqFold(opt, "len"):
			getLen = true
		case strEqFold(opt, "withmatchlen"):
			withMatchLen = true
		case strEqFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := strParseInt(args[j+1])
			if !ok {
				return reply.ErrNotInteger
			}
			minMatchLen = max(n, 0)
			j++
		default:
			return reply.ErrSyntax
		}
	}
	if getIdx && getLen {
		return strErrLCSIdxLen
	}
	if len(a) >= math.MaxUint32-1 || len(b) >= math.MaxUint32-1 {
		return strErrLCSTooLong
	}
	alen, blen := len(a), len(b)
	// Redis refuses a table larger than proto-max-bulk-len rather than risk the memory.
	cells := uint64(alen+1) * uint64(blen+1)
	if cells*4 > strMaxLen {
		return strErrLCSMemory
	}
	w := blen + 1
	lcs := make([]uint32, cells)
	for i := 1; i <= alen; i++ {
		row, prev := lcs[i*w:(i+1)*w], lcs[(i-1)*w:i*w]
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
	}
	total := lcs[alen*w+blen]

	if getLen && !getIdx {
		return reply.Int(int64(total))
	}

	result := make([]byte, total)
	idx := total
	var matches []reply.Value
	// arangeStart == alen means "no range in progress", as in Redis.
	arangeStart, arangeEnd, brangeStart, brangeEnd := alen, 0, 0, 0
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if arangeStart == alen {
				arangeStart, arangeEnd = i-1, i-1
				brangeStart, brangeEnd = j-1, j-1
			} else if arangeStart == i && brangeStart == j {
				// Contiguous with the range in progress: extend it backwards.
				arangeStart--
				brangeStart--
			} else {
				emit = true
			}
			// A match at the first byte of either string ends the walk: emit now.
			if arangeStart == 0 || brangeStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if lcs[(i-1)*w+j] > lcs[i*w+j-1] {
				i--
			} else {
				j--
			}
			if arangeStart != alen {
				emit = true
			}
		}
		if emit {
			matchLen := int64(arangeEnd - arangeStart + 1)
			if getIdx && (minMatchLen == 0 || matchLen >= minMatchLen) {
				m := []reply.Value{
					reply.Array(reply.Int(int64(arangeStart)), reply.Int(int64(arangeEnd))),
					reply.Array(reply.Int(int64(brangeStart)), reply.Int(int64(brangeEnd))),
				}
				if withMatchLen {
					m = append(m, reply.Int(matchLen))
				}
				matches = append(matches, reply.Array(m...))
			}
			arangeStart = alen
		}
	}
	if getIdx {
		if matches == nil {
			matches = []reply.Value{}
		}
		return reply.Map(
			reply.BulkString("matches"), reply.Array(matches...),
			reply.BulkString("len"), reply.Int(int64(total)),
		)
	}
	return reply.Bulk(result)
}
