package command

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"ferricd/internal/reply"
)

// cmdOwnTable is a table holding only the generic, server and cluster families, whose
// metadata this file checks strictly against the recording.
func cmdOwnTable() *Table {
	t := &Table{byName: make(map[string]*Spec)}
	registerKeys(t)
	registerServer(t)
	registerCluster(t)
	return t
}

// cmdAllSpecs returns every spec of t, subcommands included.
func cmdAllSpecs(t *Table) []*Spec {
	var out []*Spec
	for _, s := range cmdSortedSpecs(t.All()) {
		out = append(out, s)
		out = append(out, cmdSubSpecs(s)...)
	}
	return out
}

// recEntries flattens recorded COMMAND INFO entries (subcommands included) by name.
func recEntries(info map[string]recNode) map[string]recNode {
	out := make(map[string]recNode)
	var walk func(e recNode)
	walk = func(e recNode) {
		out[e.elems[0].str] = e
		for _, sub := range e.elems[9].elems {
			walk(sub)
		}
	}
	for _, e := range info {
		walk(e)
	}
	return out
}

// recDocs flattens recorded COMMAND DOCS entries by name.
func recDocs(docs map[string]recNode) map[string]recNode {
	out := make(map[string]recNode)
	var walk func(name string, d recNode)
	walk = func(name string, d recNode) {
		out[name] = d
		if subs, ok := d.field("subcommands"); ok {
			for i := 0; i+1 < len(subs.elems); i += 2 {
				walk(subs.elems[i].str, subs.elems[i+1])
			}
		}
	}
	for n, d := range docs {
		walk(n, d)
	}
	return out
}

// recWithoutSubs drops what a container's entry says about its subcommands: ferricd
// implements a subset of them, each compared on its own.
func recWithoutSubs(n recNode) recNode {
	out := recNode{kind: n.kind, str: n.str}
	switch n.kind {
	case '*':
		out.elems = slices.Clone(n.elems[:9])
	case '%':
		for i := 0; i+1 < len(n.elems); i += 2 {
			if n.elems[i].str != "subcommands" {
				out.elems = append(out.elems, n.elems[i], n.elems[i+1])
			}
		}
	}
	return out
}

func recParseOwn(t *testing.T, v reply.Value) recNode {
	t.Helper()
	n, err := recParse(recTyped(v))
	if err != nil {
		t.Fatalf("own reply does not parse: %v", err)
	}
	return n
}

// TestSpecsMatchRedis compares COMMAND INFO and COMMAND DOCS of every generic, server and
// cluster command (RESP3 types included) with redis-server 7.0.15's. Commands of the other
// families that Redis knows are compared on arity, flags and key positions.
func TestSpecsMatchRedis(t *testing.T) {
	info := recEntries(recRead(t, "testdata/redis-7.0-command-info.txt"))
	docs := recDocs(recRead(t, "testdata/redis-7.0-command-docs.txt"))
	own := cmdOwnTable()
	for _, s := range cmdAllSpecs(own) {
		want, ok := info[s.Name]
		if !ok {
			t.Errorf("%s: Redis 7.0 has no such command", s.Name)
			continue
		}
		got := recParseOwn(t, cmdInfoEntry(s))
		if len(s.Subcommands) > 0 {
			got, want = recWithoutSubs(got), recWithoutSubs(want)
		}
		if g, w := got.normalized().String(), want.normalized().String(); g != w {
			t.Errorf("COMMAND INFO %s:\n got  %s\n want %s", s.Name, g, w)
		}
		gotDocs := recParseOwn(t, cmdDocsEntry(s))
		wantDocs := docs[s.Name]
		if len(s.Subcommands) > 0 {
			gotDocs, wantDocs = recWithoutSubs(gotDocs), recWithoutSubs(wantDocs)
		}
		if g, w := gotDocs.String(), wantDocs.String(); g != w {
			t.Errorf("COMMAND DOCS %s:\n got  %s\n want %s", s.Name, g, w)
		}
	}
	// The whole table: fields that decide routing and dispatch must be Redis'.
	for _, s := range cmdAllSpecs(New()) {
		want, ok := info[s.Name]
		if !ok || own.Get(strings.Split(s.Name, "|")[0]) != nil {
			continue
		}
		got := recParseOwn(t, cmdInfoEntry(s))
		for i, what := range []string{1: "arity", 2: "flags", 3: "first key", 4: "last key", 5: "step"} {
			if i > 0 && got.elems[i].String() != want.elems[i].String() {
				t.Errorf("%s: %s %s, Redis says %s", s.Name, what, got.elems[i], want.elems[i])
			}
		}
	}
}

// TestTableIntegrity checks what the node and the docs rely on for every command of the
// table: metadata present, an executor for its kind, and key positions that work.
func TestTableIntegrity(t *testing.T) {
	tab := New()
	for _, s := range cmdAllSpecs(tab) {
		if s.Arity == 0 || s.Group == "" || s.Summary == "" || s.Since == "" || s.Complexity == "" {
			t.Errorf("%s: arity, group, summary, since and complexity are required", s.Name)
		}
		if s.Name != strings.ToLower(s.Name) {
			t.Errorf("%s: names are lower case", s.Name)
		}
		switch s.Kind {
		case KindKeyRead, KindKeyWrite:
			if s.Run == nil {
				t.Errorf("%s: key command without Run", s.Name)
			}
		case KindServer:
			if s.Server == nil {
				t.Errorf("%s: server command without Server", s.Name)
			}
		}
		if s.Parent != nil && !strings.HasPrefix(s.Name, s.Parent.Name+"|") {
			t.Errorf("%s: subcommand of %s", s.Name, s.Parent.Name)
		}
		if s.FirstKey <= 0 && s.Keys == nil {
			continue
		}
		// A minimal well-formed invocation: every argument "1" (a valid numkeys too).
		n := max(s.Arity, -s.Arity)
		args := make([][]byte, n)
		for i := range args {
			args[i] = []byte("1")
		}
		args[0] = []byte(s.Name)
		if s.Parent != nil {
			args[0], args[1] = []byte(s.Parent.Name), []byte(s.Name[len(s.Parent.Name)+1:])
		}
		keys, ok := safeKeyArgs(s, args)
		if !ok {
			t.Errorf("%s: KeyArgs panics on %q", s.Name, args)
			continue
		}
		if len(keys) == 0 && s.Flags&FlagNoMandatoryKeys == 0 {
			t.Errorf("%s: KeyArgs finds no key in %q", s.Name, args)
		}
		// With distinct arguments, the keys found must be the ones Redis' key specs find.
		for i := 1; i < len(args); i++ {
			if s.Parent == nil || i > 1 {
				args[i] = []byte("a" + strconv.Itoa(i))
			}
		}
		if s.Keys != nil || redisMeta[s.Name] == nil {
			continue
		}
		var want []string
		for _, k := range redisMeta[s.Name].keySpecs {
			ps, _ := k.positions(args)
			for _, p := range ps {
				want = append(want, string(args[p.pos]))
			}
		}
		var got []string
		for _, k := range s.KeyArgs(args) {
			got = append(got, string(k))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s %q: KeyArgs %v, Redis' key specs %v", s.Name, args, got, want)
		}
	}
}

func TestCommandInfoAndDocsReplies(t *testing.T) {
	g := newSrvHarness(t)
	info := recRead(t, "testdata/redis-7.0-command-info.txt")
	docs := recRead(t, "testdata/redis-7.0-command-docs.txt")
	for _, name := range []string{"expire", "EXPIRE", "Ttl"} {
		got := recTyped(g.run("COMMAND", "INFO", name))
		want := "*[" + info[strings.ToLower(name)].String() + "]"
		if got != want {
			t.Errorf("COMMAND INFO %s:\n got  %s\n want %s", name, got, want)
		}
	}
	got := recTyped(g.run("COMMAND", "INFO", "expire", "nosuch", "config|get"))
	if !strings.HasPrefix(got, "*[*[$\"expire\"") || !strings.Contains(got, "] _ *[$\"config|get\" :-3") {
		t.Errorf("COMMAND INFO expire nosuch config|get = %s", got)
	}
	got = recTyped(g.run("COMMAND", "DOCS", "persist", "nosuch", "ttl"))
	want := "%[$\"persist\" " + docs["persist"].String() + " $\"ttl\" " + docs["ttl"].String() + "]"
	if got != want {
		t.Errorf("COMMAND DOCS persist nosuch ttl:\n got  %s\n want %s", got, want)
	}
	// A container lists its subcommands: ferricd's subset of Redis'.
	got = recTyped(g.run("COMMAND", "DOCS", "object"))
	if !strings.Contains(got, `$"subcommands" %[$"object|encoding" %[$"summary"`) {
		t.Errorf("COMMAND DOCS object = %s", got)
	}
	got = recTyped(g.run("COMMAND", "INFO", "memory"))
	if !strings.Contains(got, `*[*[$"memory|help" :2`) || strings.Contains(got, "memory|doctor") {
		t.Errorf("COMMAND INFO memory = %s", got)
	}
	// Every command, once, with no argument and with COMMAND INFO alone.
	all := g.run("COMMAND")
	if n := len(all.Elems); n != len(g.table.All()) || n == 0 {
		t.Errorf("COMMAND returned %d entries for %d commands", n, len(g.table.All()))
	}
	if recTyped(g.run("COMMAND", "INFO")) != recTyped(all) {
		t.Error("COMMAND INFO differs from COMMAND")
	}
	if n := len(g.run("COMMAND", "DOCS").Elems); n != 2*len(g.table.All()) {
		t.Errorf("COMMAND DOCS has %d elements for %d commands", n, len(g.table.All()))
	}
	g.expect(":"+strconv.Itoa(len(g.table.All())), "COMMAND", "COUNT")
	list := g.run("COMMAND", "LIST")
	if n := len(list.Elems); n != len(cmdAllSpecs(g.table)) {
		t.Errorf("COMMAND LIST has %d names for %d specs", n, len(cmdAllSpecs(g.table)))
	}
	g.expect(`["ttl" "type"]`, "COMMAND", "LIST", "FILTERBY", "pattern", "t[ty]*")
	for _, n := range g.run("COMMAND", "LIST", "FILTERBY", "ACLCAT", "Dangerous").Elems {
		if s := cmdLookupName(g.table, n.Str); s == nil || !slices.Contains(s.ACLCategories, "@dangerous") {
			t.Errorf("ACLCAT dangerous lists %s", n.Str)
		}
	}
}

func TestCommandFlagsAndKeySpecs(t *testing.T) {
	// Flags Spec has no bit for come from the recording; a command Redis does not know gets
	// a key spec derived from its key positions.
	tab := New()
	if got := strings.Join(cmdFlags(tab.Get("save")), " "); got != "admin noscript no_async_loading no_multi" {
		t.Errorf("save flags %q", got)
	}
	s := &Spec{Name: "x-ferricd", Arity: -3, Flags: FlagWrite | FlagMayReplicate, FirstKey: 2, LastKey: -1, Step: 2,
		Keys: func(a [][]byte) [][]byte { return a[2:] }}
	if got := strings.Join(cmdFlags(s), " "); got != "write movablekeys" {
		t.Errorf("flags %q, want may_replicate hidden and movablekeys set", got)
	}
	got := cmdInfoEntry(s).String()
	want := `["x-ferricd" :-3 [+write +movablekeys] :2 :-1 :2 [] [] [["flags" [] "begin_search" ["type" "index" "spec" ["index" :2]] "find_keys" ["type" "range" "spec" ["lastkey" :-1 "keystep" :2 "limit" :0]]]] []]`
	if got != want {
		t.Errorf("derived entry\n got  %s\n want %s", got, want)
	}
	// Key spec evaluation on the shapes Redis uses.
	args := func(s string) [][]byte {
		var out [][]byte
		for _, f := range strings.Fields(s) {
			out = append(out, []byte(f))
		}
		return out
	}
	for _, c := range []struct {
		spec keySpec
		args string
		want string // positions, or "bad"
	}{
		{keySpec{begin: bsIndex(1), find: fkRange(0, 1, 0)}, "get k", "1"},
		{keySpec{begin: bsIndex(1), find: fkRange(-1, 2, 0)}, "mset a 1 b 2", "1 3"},
		{keySpec{begin: bsIndex(1), find: fkRange(-2, 1, 0)}, "blpop a b 0", "1 2"},
		{keySpec{begin: bsIndex(1), find: fkRange(-1, 1, 2)}, "xx a b c d", "1 2"},
		{keySpec{begin: bsIndex(2), find: fkKeynum(0, 1, 1)}, "eval s 2 a b x", "3 4"},
		{keySpec{begin: bsIndex(2), find: fkKeynum(0, 1, 1)}, "eval s 0", ""},
		{keySpec{begin: bsIndex(2), find: fkKeynum(0, 1, 1)}, "eval s x a", "bad"},
		{keySpec{begin: bsIndex(2), find: fkKeynum(0, 1, 1)}, "eval s 3 a", "bad"},
		{keySpec{begin: bsKeyword("STREAMS", 1), find: fkRange(-1, 1, 2)}, "xread count 2 streams a b 0 0", "4 5"},
		{keySpec{begin: bsKeyword("KEYS", -2), find: fkRange(-1, 1, 0)}, "migrate h p \"\" 0 5 KEYS a b", "7 8"},
		{keySpec{begin: bsKeyword("STORE", 6), find: fkRange(0, 1, 0)}, "georadius k 1 2 3 m", ""},
		{keySpec{begin: bsUnknown, find: fkUnknown}, "sort k", "bad"},
	} {
		ps, ok := c.spec.positions(args(c.args))
		var got []string
		for _, p := range ps {
			got = append(got, strconv.Itoa(p.pos))
		}
		g := strings.Join(got, " ")
		if !ok {
			g = "bad"
		}
		if g != c.want {
			t.Errorf("%+v on %q: %q, want %q", c.spec, c.args, g, c.want)
		}
	}
}

func TestCommandGetKeysOnBadKeyFunction(t *testing.T) {
	tab := New()
	tab.byName["x-bad"] = &Spec{Name: "x-bad", Arity: -2, Group: "generic", Kind: KindKeyRead,
		Keys: func(a [][]byte) [][]byte { return [][]byte{a[5]} }}
	tab.byName["x-none"] = &Spec{Name: "x-none", Arity: -2, Flags: FlagNoMandatoryKeys, Group: "generic",
		Kind: KindKeyRead, Keys: func([][]byte) [][]byte { return nil }}
	for _, c := range []struct{ args, want string }{
		{"x-bad a", "-ERR Invalid arguments specified for command"},
		{"x-none a", "[]"},
	} {
		var args [][]byte
		for _, f := range strings.Fields(c.args) {
			args = append(args, []byte(f))
		}
		if got := cmdGetKeys(tab, args, false).String(); got != c.want {
			t.Errorf("GETKEYS %s = %s, want %s", c.args, got, c.want)
		}
	}
}
