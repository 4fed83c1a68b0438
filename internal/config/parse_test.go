package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		bad  bool
	}{
		{line: "port 6379", want: []string{"port", "6379"}},
		{line: "  save   900 1\t300 10 ", want: []string{"save", "900", "1", "300", "10"}},
		{line: `requirepass "a b"`, want: []string{"requirepass", "a b"}},
		{line: `requirepass "a\"b\\c"`, want: []string{"requirepass", `a"b\c`}},
		{line: `requirepass "\x41\x4a\n\r\t\b\a\z"`, want: []string{"requirepass", "AJ\n\r\t\b\az"}},
		{line: `requirepass "\x4"`, want: []string{"requirepass", "x4"}},
		{line: `requirepass 'it\'s "x"'`, want: []string{"requirepass", `it's "x"`}},
		{line: `requirepass 'a\nb'`, want: []string{"requirepass", `a\nb`}},
		{line: `save ""`, want: []string{"save", ""}},
		{line: `dir ''`, want: []string{"dir", ""}},
		{line: `a"b c"d`, bad: true},
		{line: `a "b c"d`, bad: true},
		{line: `a 'b'c`, bad: true},
		{line: `a "bc`, bad: true},
		{line: `a 'bc`, bad: true},
		{line: `a "bc\`, bad: true},
		{line: `x"y z"`, want: []string{"xy z"}}, // a quote may open inside a word, as in Redis
	} {
		got, err := splitArgs(tc.line)
		if tc.bad {
			if err == nil {
				t.Errorf("splitArgs(%q) = %q, want error", tc.line, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	text := `# ferricd test config
port 7000

   # indented comment
bind 0.0.0.0 -::1
requirepass "s3cr3t \"quoted\""
maxmemory 512mb
MAXCLIENTS 100
save 900 1 300 10
save ""
appendonly no
client-output-buffer-limit normal 1mb 2mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
slave-read-only no
dir '/var/lib/ferricd'
shards 16
metrics-port 0
logfile ""
`
	s := New()
	if err := s.LoadConfig(text, "test.conf"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"port": "7000", "bind": "0.0.0.0 -::1", "requirepass": `s3cr3t "quoted"`, "maxmemory": "536870912",
		"maxclients": "100", "save": "", "appendonly": "yes", "replica-read-only": "no",
		"client-output-buffer-limit": "normal 1048576 2097152 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
		"dir":                        "/var/lib/ferricd", "shards": "16", "metrics-port": "0", "logfile": "",
	} {
		if got, _ := s.Value(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if s.Port() != 7000 || s.Shards() != 16 || s.MetricsPort() != 0 || s.MaxClients() != 100 {
		t.Errorf("typed: port %d shards %d metrics %d maxclients %d", s.Port(), s.Shards(), s.MetricsPort(), s.MaxClients())
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"port 6379\n# c\nfoo bar\n", "f.conf:3: unknown parameter 'foo'"},
		{"port 6379\nrequirepass \"a\\x41b\n", "f.conf:2: unbalanced quotes in configuration line"},
		{"timeout 1 2", "f.conf:1: timeout: wrong number of arguments"},
		{"\n\nappendonly", "f.conf:3: appendonly: wrong number of arguments"},
		{"daemonize maybe", "f.conf:1: daemonize: argument must be 'yes' or 'no'"},
		{"maxclients abc", "f.conf:1: maxclients: argument couldn't be parsed into an integer"},
		{"maxmemory 1xb", "f.conf:1: maxmemory: argument must be a memory value"},
		{"io-threads 0", "f.conf:1: io-threads: argument must be between 1 and 128 inclusive"},
		{"supervised x", "f.conf:1: supervised: argument(s) must be one of the following: upstart, systemd, auto, no"},
		{"unixsocketperm 8", "f.conf:1: unixsocketperm: argument couldn't be parsed as an octal number"},
		{"save 900", "f.conf:1: save: Invalid save parameters"},
		{"bind 127.0.0.1 bad_host!", "f.conf:1: bind: invalid bind address 'bad_host!'"},
		{"bind ''", "f.conf:1: bind: bind needs at least one address"},
		{"bind " + strings.Repeat("::1 ", 17), "f.conf:1: bind: Too many bind addresses specified."},
		{"dir ''", "f.conf:1: dir: dir must not be empty"},
		{"replicaof 10.0.0.1 6379", "f.conf:1: replicaof: replicaof is not supported: ferricd replicates through raft"},
		{"replicaof x", "f.conf:1: replicaof: wrong number of arguments"},
		{"include /etc/other.conf", "f.conf:1: 'include' is not supported by ferricd: use one config file"},
		{"rename-command FLUSHALL \"\"", "f.conf:1: 'rename-command' is not supported by ferricd"},
		{"shards 0", "f.conf:1: shards: argument must be between 1 and 1024 inclusive"},
		{"metrics-port 70000", "f.conf:1: metrics-port: argument must be between 0 and 65535 inclusive"},
	} {
		s := New()
		err := s.LoadConfig(tc.text, "f.conf")
		if err == nil || err.Error() != tc.want {
			t.Errorf("LoadConfig(%q):\n got  %v\n want %s", tc.text, err, tc.want)
		}
		if !slices.Equal(s.Get("*"), New().Get("*")) {
			t.Errorf("LoadConfig(%q) failed but changed values", tc.text)
		}
	}
	if err := New().LoadConfig("unixsocketperm 700\n", "f.conf"); err != nil {
		t.Errorf("octal: %v", err)
	}
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ferricd.conf")
	if err := os.WriteFile(conf, []byte("port 7000\nmaxclients 50\nsave 60 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		action Action
		want   map[string]string // parameter values after parsing
		err    string
	}{
		{args: nil, want: map[string]string{"port": "6379", "bind": "127.0.0.1"}},
		{args: []string{"-v"}, action: ShowVersion},
		{args: []string{"--version"}, action: ShowVersion},
		{args: []string{"-h"}, action: ShowHelp},
		{args: []string{"--help", "--port", "1"}, action: ShowHelp},
		{args: []string{"--port", "7001", "--bind", "0.0.0.0", "::1", "--maxmemory", "1gb"},
			want: map[string]string{"port": "7001", "bind": "0.0.0.0 ::1", "maxmemory": "1073741824"}},
		{args: []string{conf}, want: map[string]string{"port": "7000", "maxclients": "50"}},
		{args: []string{conf, "--port", "7002"}, want: map[string]string{"port": "7002", "maxclients": "50"}},
		{args: []string{conf, "--check"}, action: Check, want: map[string]string{"port": "7000"}},
		{args: []string{"--check", "--port", "7003"}, action: Check, want: map[string]string{"port": "7003"}},
		{args: []string{"--save", "--appendonly", "yes"}, want: map[string]string{"save": ""}},
		{args: []string{"--save", "60", "1000", "300", "10"}, want: map[string]string{"save": ""}},
		{args: []string{"--list-max-listpack-size", "-4"}, want: map[string]string{"list-max-listpack-size": "-4"}},
		{args: []string{"--requirepass", "a b"}, want: map[string]string{"requirepass": "a b"}},
		{args: []string{"--REQUIREPASS", "x"}, want: map[string]string{"requirepass": "x"}},
		{args: []string{"--appendonly"}, err: "option --appendonly needs a value"},
		{args: []string{"--port", "--bind", "::1"}, err: "option --port needs a value"},
		{args: []string{"--foo", "bar"}, err: "option --foo: unknown parameter 'foo'"},
		{args: []string{"--maxclients", "abc"}, err: "option --maxclients: maxclients: argument couldn't be parsed into an integer"},
		{args: []string{"--timeout", "1", "2"}, err: "option --timeout: timeout: wrong number of arguments"},
		{args: []string{"--check", "yes"}, err: `--check takes no value (got "yes")`},
		{args: []string{"--port", "1", "--version"}, err: "--version must be the only argument"},
		{args: []string{"--port", "1", conf}, err: "option --port: port: wrong number of arguments"},
		{args: []string{filepath.Join(dir, "missing.conf")}, err: "config file: open " + filepath.Join(dir, "missing.conf") + ": no such file or directory"},
		{args: []string{"-x"}, err: `unexpected argument "-x": options are --name value (a config file must come first)`},
	} {
		s, action, err := Parse(tc.args)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Parse(%q) error = %v, want %s", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || action != tc.action {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.args, action, err, tc.action)
			continue
		}
		if action == ShowVersion || action == ShowHelp {
			if s != nil {
				t.Errorf("Parse(%q) returned a Store for %v", tc.args, action)
			}
			continue
		}
		for name, want := range tc.want {
			if got, _ := s.Value(name); got != want {
				t.Errorf("Parse(%q): %s = %q, want %q", tc.args, name, got, want)
			}
		}
	}
	if u := Usage("ferricd"); !strings.Contains(u, "ferricd --check") {
		t.Errorf("Usage: %s", u)
	}
}
