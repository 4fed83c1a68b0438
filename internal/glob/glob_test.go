package glob

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// Expected results were recorded from redis-server 7.0.15: for each case, FLUSHALL, SET the
// subject, then KEYS pattern (which uses stringmatchlen case-sensitively).
var redisCases = []struct {
	pattern, s string
	want       bool
}{
	{"", "a", false},
	{"a", "a", true},
	{"a", "b", false},
	{"a", "ab", false},
	{"ab", "a", false},
	{"*", "abc", true},
	{"**", "abc", true},
	{"a*", "a", true},
	{"a*", "abc", true},
	{"*c", "abc", true},
	{"*b*", "abc", true},
	{"*b*", "ac", false},
	{"a*b*c", "aXbYc", true},
	{"a*b*c", "aXbYcZ", false},
	{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	{"*?", "a", true},
	{"?*", "a", true},
	{"??", "a", false},
	{"?", "ab", false},
	{"a?c", "abc", true},
	{"a?c", "ac", false},
	{"h[ae]llo", "hello", true},
	{"h[ae]llo", "hallo", true},
	{"h[ae]llo", "hillo", false},
	{"h[^e]llo", "hallo", true},
	{"h[^e]llo", "hello", false},
	{"h[a-b]llo", "hbllo", true},
	{"h[b-a]llo", "hallo", true},
	{"h[a-b]llo", "hcllo", false},
	{"[]", "a", false},
	{"[]", "]", false},
	{"[^]", "a", true},
	{"[^]", "]", true},
	{"[]a]", "a", false},
	{"[]a]", "]a]", false},
	{"[]a]", "a]", false},
	{"[", "[", false},
	{"[", "a", false},
	{"[ab", "a", true},
	{"[ab", "b", true},
	{"[ab", "c", false},
	{"[^", "x", true},
	{"[^a", "b", true},
	{"[^a", "a", false},
	{"[a-", "-", true},
	{"[a-", "a", true},
	{"[a-", "b", false},
	{"[a-b", "b", true},
	{"[a-]", "]", true},
	{"[a-]", "b", false},
	{"[a-]x", "bx", false},
	{"[a-]x]", "bx", false},
	{"[a-]x]", "b", false},
	{"[\\]]", "]", true},
	{"[\\]a]", "a", true},
	{"[\\", "\\", true},
	{"[\\\\]", "\\", true},
	{"[a\\-z]", "-", true},
	{"[a\\-z]", "b", false},
	{"[\\^a]", "^", true},
	{"\\*", "*", true},
	{"\\*", "a", false},
	{"\\?", "?", true},
	{"\\[a]", "[a]", true},
	{"\\", "\\", true},
	{"a\\", "a\\", true},
	{"\\a", "a", true},
	{"\\\\", "\\", true},
	{"*\\", "x\\", true},
	{"[*]", "*", true},
	{"[?]", "a", false},
	{"a[-]b", "a-b", true},
	{"[--0]", "/", true},
	{"[^a-z]", "A", true},
	{"[^a-z]", "m", false},
	{"A", "a", false},
	{"[A-Z]", "a", false},
	{"\xe9", "\xe9", true},
	{"[a-z]", "\xe9", false},
	{"[\x01-\xff]", "\x80", false},
	{"[\x01-\xff]", "\xff", true},
	{"[\x01-\xff]", "\x00", true},
	{"[\x01-\xff]", "a", false},
	{"[\x80-\xff]", "\x90", true},
	{"[\x80-\xff]", "a", false},
	{"[^\x80-\x90]", "\x85", false},
	{"?\x00", "a\x00", true},
	{"a\x00*", "a\x00bc", true},
	{"[\x00]", "\x00", true},
	{"*[a]", "a", true},
	{"*a", "ba", true},
	{"a*", "ba", false},
	{"*a?", "bab", true},
	{"*[bc]d", "abcd", true},
	{"*x*", "x", true},
	{"***x***", "x", true},
	{"user:*:name", "user:42:name", true},
	{"user:*:name", "user:42:age", false},
	{"{a}*", "{a}b", true},
	{"[[]", "[", true},
	{"[]]", "]", false},
}

func TestMatchAgainstRedis(t *testing.T) {
	for _, c := range redisCases {
		if got := Match([]byte(c.pattern), []byte(c.s), false); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
		if got := reference([]byte(c.pattern), []byte(c.s), false); got != c.want {
			t.Errorf("reference(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestEmptySubject(t *testing.T) {
	// Recorded: with only the key "" in the db, KEYS "**" and KEYS "?*" return nothing and
	// KEYS "" returns it (KEYS "*" returns it too, through KEYS' own shortcut).
	for _, c := range []struct {
		pattern string
		want    bool
	}{{"", true}, {"*", false}, {"**", false}, {"?*", false}, {"[", false}} {
		if got := Match([]byte(c.pattern), nil, false); got != c.want {
			t.Errorf("Match(%q, \"\") = %v, want %v", c.pattern, got, c.want)
		}
	}
}

// TestNocaseAgainstRedis replays COMMAND LIST FILTERBY PATTERN, which matches command names
// with nocase set, against the command list recorded from the same server.
func TestNocaseAgainstRedis(t *testing.T) {
	f, err := os.Open("../command/testdata/redis-7.0-commands.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		names = append(names, sc.Text())
	}
	cases := []struct{ pattern, want string }{
		{"CONFIG*", "config config|get config|help config|resetstat config|rewrite config|set"},
		{"Config|[G-S]*", "config|get config|help config|resetstat config|rewrite config|set"},
		{"x[A-C]*", "xack xadd xautoclaim xclaim"},
		{"[Z-a]*", ""},
		{`h\GET`, "hget"},
		{`[\G]et`, ""},
		{"?E?", "del get set"},
		{"*RANGE*", "cluster|addslotsrange cluster|delslotsrange getrange lrange setrange xrange xrevrange zrange zrangebylex zrangebyscore zrangestore zremrangebylex zremrangebyrank zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore"},
		{"cl[I]ent|*", "client|caching client|getname client|getredir client|help client|id client|info client|kill client|list client|no-evict client|pause client|reply client|setname client|tracking client|trackinginfo client|unblock client|unpause"},
		{"[^A-Z]*", ""},
		{"*|[^a-m]*", "acl|save acl|setuser acl|users acl|whoami client|no-evict client|pause client|reply client|setname client|tracking client|trackinginfo client|unblock client|unpause cluster|nodes cluster|replicas cluster|replicate cluster|reset cluster|saveconfig cluster|set-config-epoch cluster|setslot cluster|shards cluster|slaves cluster|slots config|resetstat config|rewrite config|set function|restore function|stats latency|reset memory|purge memory|stats memory|usage module|unload object|refcount pubsub|numpat pubsub|numsub pubsub|shardchannels pubsub|shardnumsub slowlog|reset xgroup|setid xinfo|stream"},
	}
	for _, c := range cases {
		var got []string
		for _, n := range names {
			if Match([]byte(c.pattern), []byte(n), true) {
				got = append(got, n)
			}
		}
		slices.Sort(got)
		if strings.Join(got, " ") != c.want {
			t.Errorf("nocase %q matched %v, want %s", c.pattern, got, c.want)
		}
	}
}

func TestHostilePatternIsFast(t *testing.T) {
	// A pattern that is exponential for a naive backtracking matcher.
	pat := []byte(strings.Repeat("*a", 200) + "b")
	s := []byte(strings.Repeat("a", 5000))
	if Match(pat, s, false) {
		t.Fatal("unexpected match")
	}
}

// reference is a direct recursive reading of the semantics in the package doc, kept
// deliberately naive; the fuzz target checks Match against it.
func reference(p, s []byte, nocase bool) bool {
	if len(s) == 0 {
		return len(p) == 0
	}
	return ref(p, s, nocase)
}

func ref(p, s []byte, nocase bool) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	if p[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if ref(p[1:], s[i:], nocase) {
				return true
			}
		}
		return false
	}
	if len(s) == 0 {
		return false
	}
	ok, w := matchOne(p, s[0], nocase)
	return ok && ref(p[w:], s[1:], nocase)
}

func FuzzMatch(f *testing.F) {
	for _, c := range redisCases {
		f.Add([]byte(c.pattern), []byte(c.s), false)
	}
	f.Add([]byte("[a-]"), []byte("]"), true)
	f.Fuzz(func(t *testing.T, p, s []byte, nocase bool) {
		got := Match(p, s, nocase)
		// The naive reference is exponential in the number of stars: keep it to small inputs.
		if len(p) <= 12 && len(s) <= 12 {
			if want := reference(p, s, nocase); got != want {
				t.Fatalf("Match(%q, %q, %v) = %v, reference says %v", p, s, nocase, got, want)
			}
		}
	})
}
