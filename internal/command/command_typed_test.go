package command

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ferricd/internal/reply"
)

// The typed format records RESP3 replies with their wire types, so tests can check that a
// reply is a set, a map or a simple string exactly where Redis 7.0 sends one:
//
//	+"simple"  -"error"  $"bulk"  :42  _ (null)  #t  ,1.5  ="verbatim"
//	*[...] array   ~[...] set   %[k v ...] map
//
// testdata/redis-7.0-command-{info,docs}.txt hold COMMAND INFO and COMMAND DOCS of every
// Redis 7.0 command in this format (one "name<TAB>reply" line each, docs without
// "arguments"), recorded from redis-server 7.0.15 over RESP3.

type recNode struct {
	kind  byte
	str   string
	elems []recNode
}

// recTyped renders v in the typed format.
func recTyped(v reply.Value) string {
	var b strings.Builder
	recWriteTyped(&b, v)
	return b.String()
}

func recWriteTyped(b *strings.Builder, v reply.Value) {
	switch v.Kind {
	case reply.KindSimple:
		b.WriteString("+" + strconv.Quote(string(v.Str)))
	case reply.KindError:
		b.WriteString("-" + strconv.Quote(string(v.Str)))
	case reply.KindBulk:
		b.WriteString("$" + strconv.Quote(string(v.Str)))
	case reply.KindVerbatim:
		b.WriteString("=" + strconv.Quote(string(v.Str)))
	case reply.KindInt:
		b.WriteString(":" + strconv.FormatInt(v.Int, 10))
	case reply.KindBool:
		if v.Int != 0 {
			b.WriteString("#t")
		} else {
			b.WriteString("#f")
		}
	case reply.KindDouble:
		b.WriteString("," + reply.FormatDouble(v.Float))
	case reply.KindNull, reply.KindNullArray:
		b.WriteString("_")
	default:
		open := map[reply.Kind]string{reply.KindArray: "*[", reply.KindSet: "~[", reply.KindMap: "%["}[v.Kind]
		b.WriteString(open)
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteByte(' ')
			}
			recWriteTyped(b, e)
		}
		b.WriteByte(']')
	}
}

// recParse parses one value in the typed format.
func recParse(s string) (recNode, error) {
	n, rest, err := recParseNode(s)
	if err == nil && strings.TrimSpace(rest) != "" {
		err = fmt.Errorf("trailing %q", rest)
	}
	return n, err
}

func recParseNode(s string) (recNode, string, error) {
	if s == "" {
		return recNode{}, "", fmt.Errorf("unexpected end")
	}
	k := s[0]
	switch k {
	case '+', '-', '$', '=':
		q, err := strconv.QuotedPrefix(s[1:])
		if err != nil {
			return recNode{}, "", fmt.Errorf("bad string at %.20q: %v", s, err)
		}
		str, _ := strconv.Unquote(q)
		return recNode{kind: k, str: str}, s[1+len(q):], nil
	case ':', ',', '#', '_':
		end := strings.IndexAny(s, " ]")
		if end < 0 {
			end = len(s)
		}
		return recNode{kind: k, str: s[1:end]}, s[end:], nil
	case '*', '~', '%':
		if len(s) < 2 || s[1] != '[' {
			return recNode{}, "", fmt.Errorf("bad aggregate at %.20q", s)
		}
		n := recNode{kind: k, elems: []recNode{}}
		s = s[2:]
		for {
			s = strings.TrimLeft(s, " ")
			if strings.HasPrefix(s, "]") {
				return n, s[1:], nil
			}
			e, rest, err := recParseNode(s)
			if err != nil {
				return recNode{}, "", err
			}
			n.elems = append(n.elems, e)
			s = rest
		}
	}
	return recNode{}, "", fmt.Errorf("bad value at %.20q", s)
}

// String renders n back in the typed format.
func (n recNode) String() string {
	switch n.kind {
	case '+', '-', '$', '=':
		return string(n.kind) + strconv.Quote(n.str)
	case ':', ',', '#':
		return string(n.kind) + n.str
	case '_':
		return "_"
	}
	parts := make([]string, len(n.elems))
	for i, e := range n.elems {
		parts[i] = e.String()
	}
	return string(n.kind) + "[" + strings.Join(parts, " ") + "]"
}

// normalized sorts what Redis sends in hash-table order (the subcommands of a COMMAND INFO
// entry, the entries of a "subcommands" docs map), so two replies compare equal when they
// differ only in that order. Sets keep their order: Redis fills flag, category, tip and key
// spec sets in a fixed order, and ferricd follows it.
func (n recNode) normalized() recNode {
	out := recNode{kind: n.kind, str: n.str}
	for _, e := range n.elems {
		out.elems = append(out.elems, e.normalized())
	}
	switch {
	case n.kind == '*' && len(out.elems) == 10 && out.elems[0].kind == '$':
		slices.SortFunc(out.elems[9].elems, func(a, b recNode) int { return strings.Compare(a.String(), b.String()) })
	case n.kind == '%':
		for i := 0; i+1 < len(out.elems); i += 2 {
			if out.elems[i].str == "subcommands" && out.elems[i+1].kind == '%' {
				out.elems[i+1] = recSortPairs(out.elems[i+1])
			}
		}
	}
	return out
}

func recSortPairs(m recNode) recNode {
	type pair struct{ k, v recNode }
	var ps []pair
	for i := 0; i+1 < len(m.elems); i += 2 {
		ps = append(ps, pair{m.elems[i], m.elems[i+1]})
	}
	slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.k.str, b.k.str) })
	out := recNode{kind: m.kind}
	for _, p := range ps {
		out.elems = append(out.elems, p.k, p.v)
	}
	return out
}

// field returns the value under key in a map node.
func (n recNode) field(key string) (recNode, bool) {
	for i := 0; i+1 < len(n.elems); i += 2 {
		if n.elems[i].str == key {
			return n.elems[i+1], true
		}
	}
	return recNode{}, false
}
