package splitargs

import (
	"slices"
	"testing"
)

func TestSplitFollowsRedis(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil with ok=false: refused
		ok   bool
	}{
		{"set k v", []string{"set", "k", "v"}, true},
		{"  lead  and   trail  ", []string{"lead", "and", "trail"}, true},
		{`set k "a b"`, []string{"set", "k", "a b"}, true},
		{`a"b c"`, []string{"ab c"}, true},
		{`"\x41\n\q"`, []string{"A\nq"}, true},
		{`'it\'s'`, []string{"it's"}, true},
		{`'\n'`, []string{`\n`}, true},
		{`"unterminated`, nil, false},
		{`"closed"x`, nil, false},
		{"a\x00b", []string{"a"}, true},
		{"", nil, true},
		{"a\vb", []string{"a\vb"}, true}, // \v separates only leading blanks, as in Redis
	}
	for _, c := range cases {
		got, ok := Split([]byte(c.in), nil)
		var strs []string
		for _, g := range got {
			strs = append(strs, string(g))
		}
		if ok != c.ok || (ok && !slices.Equal(strs, c.want)) {
			t.Errorf("Split(%q) = %q, %v; want %q, %v", c.in, strs, ok, c.want, c.ok)
		}
	}
}
