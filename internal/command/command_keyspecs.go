package command

import (
	"bytes"
	"strconv"
	"strings"

	"ferricd/internal/reply"
)

// redisExtra is what Redis 7.0 reports about a command beyond what a Spec holds: its key
// specs (with their access flags), request/response tips, the flags Spec has no bit for, and
// the doc history. It is generated from the real server's COMMAND INFO/DOCS into
// command_redis.go, so COMMAND replies carry the same metadata clients (cluster proxies,
// client libraries routing by key spec) get from Redis.
type redisExtra struct {
	// flags are COMMAND INFO flags Spec cannot express, space-separated (no_async_loading).
	flags string
	// tips are COMMAND INFO tips, space-separated.
	tips     string
	keySpecs []keySpec
	// docFlags, deprecatedSince, replacedBy and history are COMMAND DOCS fields.
	docFlags        string
	deprecatedSince string
	replacedBy      string
	history         [][2]string
}

// keySpec is one Redis 7 key specification: where the search for keys begins and how keys
// are found from there.
type keySpec struct {
	notes string
	// flags are the key's access flags (RO, RW, OW, RM, access, update, insert, delete, ...),
	// space-separated.
	flags string
	begin beginSearch
	find  findKeys
}

// beginSearch is an "index" (a fixed argument position), a "keyword" (the argument after
// the first occurrence of a keyword, searched from startFrom, backwards when negative) or
// "unknown" (keys cannot be found from the spec alone).
type beginSearch struct {
	kind      string
	index     int
	keyword   string
	startFrom int
}

// findKeys is a "range" (lastKey relative to the first key, or counted from the end when
// negative; keyStep; limit divides the remaining arguments when lastKey is -1), a "keynum"
// (the number of keys sits at keyNumIdx, the keys start at firstKey, both relative to the
// begin-search position) or "unknown".
type findKeys struct {
	kind      string
	lastKey   int
	keyStep   int
	limit     int
	keyNumIdx int
	firstKey  int
}

// Constructors used by the generated table.
func bsIndex(i int) beginSearch { return beginSearch{kind: "index", index: i} }
func bsKeyword(kw string, from int) beginSearch {
	return beginSearch{kind: "keyword", keyword: kw, startFrom: from}
}
func fkRange(last, step, limit int) findKeys {
	return findKeys{kind: "range", lastKey: last, keyStep: step, limit: limit}
}
func fkKeynum(idx, first, step int) findKeys {
	return findKeys{kind: "keynum", keyNumIdx: idx, firstKey: first, keyStep: step}
}

var (
	bsUnknown = beginSearch{kind: "unknown"}
	fkUnknown = findKeys{kind: "unknown"}
)

// cmdWords splits a space-separated generated field; "" yields none.
func cmdWords(s string) []string { return strings.Fields(s) }

func cmdSimpleSet(names []string) reply.Value {
	elems := make([]reply.Value, len(names))
	for i, n := range names {
		elems[i] = reply.Simple(n)
	}
	return reply.Set(elems...)
}

func cmdBulkSet(names []string) reply.Value {
	elems := make([]reply.Value, len(names))
	for i, n := range names {
		elems[i] = reply.BulkString(n)
	}
	return reply.Set(elems...)
}

// value renders k as COMMAND INFO does.
func (k keySpec) value() reply.Value {
	var pairs []reply.Value
	if k.notes != "" {
		pairs = append(pairs, reply.BulkString("notes"), reply.BulkString(k.notes))
	}
	var bs, fk []reply.Value
	switch k.begin.kind {
	case "index":
		bs = []reply.Value{reply.BulkString("index"), reply.Int(int64(k.begin.index))}
	case "keyword":
		bs = []reply.Value{reply.BulkString("keyword"), reply.BulkString(k.begin.keyword),
			reply.BulkString("startfrom"), reply.Int(int64(k.begin.startFrom))}
	}
	switch k.find.kind {
	case "range":
		fk = []reply.Value{reply.BulkString("lastkey"), reply.Int(int64(k.find.lastKey)),
			reply.BulkString("keystep"), reply.Int(int64(k.find.keyStep)),
			reply.BulkString("limit"), reply.Int(int64(k.find.limit))}
	case "keynum":
		fk = []reply.Value{reply.BulkString("keynumidx"), reply.Int(int64(k.find.keyNumIdx)),
			reply.BulkString("firstkey"), reply.Int(int64(k.find.firstKey)),
			reply.BulkString("keystep"), reply.Int(int64(k.find.keyStep))}
	}
	pairs = append(pairs,
		reply.BulkString("flags"), cmdSimpleSet(cmdWords(k.flags)),
		reply.BulkString("begin_search"), reply.Map(reply.BulkString("type"), reply.BulkString(k.begin.kind),
			reply.BulkString("spec"), reply.Map(bs...)),
		reply.BulkString("find_keys"), reply.Map(reply.BulkString("type"), reply.BulkString(k.find.kind),
			reply.BulkString("spec"), reply.Map(fk...)))
	return reply.Map(pairs...)
}

// keyPos is one key found by a key spec: its argument position and access flags.
type keyPos struct {
	pos   int
	flags string
}

// positions evaluates k on args (the full command, name first). ok is false when the spec
// cannot be evaluated (unknown search, bad numkeys, out-of-range keys); a keyword that is
// absent simply yields no keys, as in Redis.
func (k keySpec) positions(args [][]byte) (keys []keyPos, ok bool) {
	first := 0
	switch k.begin.kind {
	case "index":
		first = k.begin.index
	case "keyword":
		first = cmdFindKeyword(args, k.begin.keyword, k.begin.startFrom)
		if first == 0 {
			return nil, true
		}
	default:
		return nil, false
	}
	var last, step int
	switch k.find.kind {
	case "range":
		step = k.find.keyStep
		switch {
		case k.find.lastKey >= 0:
			last = first + k.find.lastKey
		case k.find.limit == 0:
			last = len(args) + k.find.lastKey
		default:
			last = first + (len(args)-first)/k.find.limit + k.find.lastKey
		}
	case "keynum":
		step = k.find.keyStep
		at := first + k.find.keyNumIdx
		if at >= len(args) {
			return nil, false
		}
		n, err := strconv.ParseInt(string(args[at]), 10, 64)
		if err != nil || n < 0 || n > int64(len(args)) {
			return nil, false
		}
		first += k.find.firstKey
		last = first + int(n) - 1
		if n == 0 {
			return nil, true
		}
	default:
		return nil, false
	}
	if step < 1 || first >= len(args) || last >= len(args) || last < first {
		return nil, false
	}
	for i := first; i <= last; i += step {
		keys = append(keys, keyPos{pos: i, flags: k.flags})
	}
	return keys, true
}

// cmdFindKeyword returns the position after the first occurrence of kw searched from
// startFrom (from the end, backwards, when negative), or 0.
func cmdFindKeyword(args [][]byte, kw string, startFrom int) int {
	if startFrom > 0 {
		// Redis stops before the last argument: a keyword there has no key after it.
		for i := startFrom; i < len(args)-1; i++ {
			if bytes.EqualFold(args[i], []byte(kw)) {
				return i + 1
			}
		}
		return 0
	}
	for i := len(args) + startFrom; i >= 1; i-- {
		if i < len(args) && bytes.EqualFold(args[i], []byte(kw)) {
			return i + 1
		}
	}
	return 0
}

// cmdDerivedKeySpec describes a command Redis does not know from its Spec's legacy key
// positions, so COMMAND INFO still reports where its keys are.
func cmdDerivedKeySpec(s *Spec) []keySpec {
	if s.FirstKey <= 0 {
		return nil
	}
	last := s.LastKey
	if last >= 0 {
		last -= s.FirstKey
	}
	return []keySpec{{begin: bsIndex(s.FirstKey), find: fkRange(last, max(s.Step, 1), 0)}}
}
