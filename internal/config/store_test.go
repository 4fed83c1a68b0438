package config

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// redisReference reads testdata/redis-7.0-config.txt: CONFIG GET * of a real redis-server 7.0.15.
func redisReference(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/redis-7.0-config.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		name, value, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad reference line %q", sc.Text())
		}
		ref[name] = value
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestTableMatchesRedis(t *testing.T) {
	ref := redisReference(t)
	if len(ref) != 192 {
		t.Fatalf("reference has %d parameters, want 192", len(ref))
	}
	// Where ferricd's default differs from what the reference server reported, and why.
	deviations := map[string]string{
		"port":       "6379",           // the reference ran with --port 6431
		"daemonize":  "no",             // the reference ran with --daemonize yes
		"pidfile":    "",               // Redis writes /var/run/redis.pid only when daemonized
		"dir":        "./ferricd-data", // Redis' default is its working directory
		"bind":       "127.0.0.1",      // ferricd listens on loopback until told otherwise
		"appendonly": "yes",            // fixed: every write is durable
	}
	s := New()
	all := s.Get("*")
	got := make(map[string]string, len(all))
	for _, kv := range all {
		got[kv[0]] = kv[1]
	}
	for name, want := range ref {
		if d, ok := deviations[name]; ok {
			want = d
		}
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: missing", name)
		} else if v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	own := map[string]bool{}
	for _, p := range Table() {
		if !p.Redis {
			own[p.Name] = true
		}
	}
	for name := range got {
		if _, ok := ref[name]; !ok && !own[name] {
			t.Errorf("%s: not a Redis 7.0 parameter", name)
		}
	}
	if got["shards"] != "8" || got["metrics-port"] != "9121" {
		t.Errorf("shards=%q metrics-port=%q", got["shards"], got["metrics-port"])
	}
}

// Every default is canonical: parsing it again gives itself.
func TestDefaultsAreCanonical(t *testing.T) {
	s := New()
	for i := range s.defs {
		d := &s.defs[i]
		args := []string{d.Default}
		if d.multi {
			args = setArgs(d, d.Default)
		}
		v, err := d.parse(args, d.Default)
		if err != nil || v != d.Default {
			t.Errorf("%s: parse(default %q) = %q, %v", d.Name, d.Default, v, err)
		}
		if d.Effect == 0 || d.Kind == 0 {
			t.Errorf("%s: no effect or kind", d.Name)
		}
	}
}

func TestGet(t *testing.T) {
	s := New()
	names := func(kvs [][2]string) string {
		var n []string
		for _, kv := range kvs {
			n = append(n, kv[0])
		}
		return strings.Join(n, " ")
	}
	for _, tc := range []struct{ pattern, want string }{
		{"max*", "maxclients maxmemory maxmemory-clients maxmemory-eviction-tenacity maxmemory-policy maxmemory-samples"},
		{"MAX*", "maxclients maxmemory maxmemory-clients maxmemory-eviction-tenacity maxmemory-policy maxmemory-samples"},
		{"MAXCLIENTS", "MAXCLIENTS"}, // exact lookups echo the name as typed, like Redis
		{"maxclients", "maxclients"},
		{"slave-read-only", "slave-read-only"},
		{"nonexistent", ""},
		{"nonexistent*", ""},
		{"[pt]ort", "port"},
		{"[^p]ort", ""},
		{"hash-max-*-value", "hash-max-listpack-value hash-max-ziplist-value"},
		{"?imeout", "timeout"},
		{"slowlog*", "slowlog-log-slower-than slowlog-max-len"},
		{"sh*", "shards shutdown-on-sigint shutdown-on-sigterm shutdown-timeout"},
	} {
		if got := names(s.Get(tc.pattern)); got != tc.want {
			t.Errorf("Get(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
	all := s.Get("*")
	if want := 192 + ownParams(); len(all) != want {
		t.Errorf("Get(*) has %d pairs, want %d (Redis' 192 and ferricd's own)", len(all), want)
	}
	if !slices.IsSortedFunc(all, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) }) {
		t.Error("Get(*) not sorted")
	}
	// The first pattern that names a parameter decides how it is spelled, as in Redis.
	if got := names(s.GetMany("maxmemory", "max*", "MAXCLIENTS")); got != "maxclients maxmemory maxmemory-clients maxmemory-eviction-tenacity maxmemory-policy maxmemory-samples" {
		t.Errorf("GetMany = %q", got)
	}
	if got := names(s.GetMany("MAXCLIENTS", "max*")); got != "MAXCLIENTS maxmemory maxmemory-clients maxmemory-eviction-tenacity maxmemory-policy maxmemory-samples" {
		t.Errorf("GetMany = %q", got)
	}
	if v, ok := s.Value("SAVE"); !ok || v != "" {
		t.Errorf("Value(SAVE) = %q, %v", v, ok)
	}
}

// Error texts as a real redis-server 7.0.15 replies them (without "ERR "), except where ferricd
// is stricter by design (port, bind, dir are immutable). TestAgainstRedis checks the table
// against a live server.
func TestSetErrors(t *testing.T) {
	for _, tc := range setErrorCases() {
		s := New()
		before := s.Get("*")
		err := s.Set(pairs(tc.pairs...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Set(%q):\n got  %v\n want %s", tc.pairs, err, tc.want)
		}
		if after := s.Get("*"); !slices.Equal(before, after) {
			t.Errorf("Set(%q) failed but changed values", tc.pairs)
		}
	}
}

func pairs(kv ...string) [][2]string {
	out := make([][2]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// Canonical values as a real redis-server 7.0.15 reports them after CONFIG SET.
func TestSetCanonical(t *testing.T) {
	for _, tc := range setCanonicalCases() {
		s := New()
		if err := s.Set(pairs(tc.name, tc.value)); err != nil {
			t.Errorf("Set(%s %q): %v", tc.name, tc.value, err)
			continue
		}
		if got, _ := s.Value(tc.name); got != tc.want {
			t.Errorf("Set(%s %q) then Get = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestAliasesShareValue(t *testing.T) {
	s := New()
	// Redis 7.0 treats a name and its alias as different arguments: no "duplicate parameter",
	// the later one wins.
	if err := s.Set(pairs("replica-read-only", "yes", "SLAVE-read-only", "no")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"replica-read-only", "slave-read-only"} {
		if v, _ := s.Value(n); v != "no" {
			t.Errorf("%s = %q, want no", n, v)
		}
	}
}

func TestSetAtomicAndAccessors(t *testing.T) {
	s := New()
	var seen [][]string
	s.OnChange(func(changed []string) { seen = append(seen, changed) })

	if err := s.Set(pairs("requirepass", "secret", "maxclients", "x")); err == nil {
		t.Fatal("invalid pair accepted")
	}
	if s.RequirePass() != "" || s.MaxClients() != 10000 || len(seen) != 0 {
		t.Fatalf("failed Set leaked: pass=%q maxclients=%d notified=%v", s.RequirePass(), s.MaxClients(), seen)
	}
	if err := s.Set(pairs("requirepass", "secret", "maxclients", "5", "timeout", "30", "loglevel", "debug",
		"maxmemory", "1gb", "proto-max-bulk-len", "2mb", "client-query-buffer-limit", "4mb", "tcp-keepalive", "60")); err != nil {
		t.Fatal(err)
	}
	if s.RequirePass() != "secret" || s.MaxClients() != 5 || s.Timeout().Seconds() != 30 ||
		s.MaxMemory() != 1<<30 || s.ProtoMaxBulkLen() != 2<<20 || s.ClientQueryBufferLimit() != 4<<20 ||
		s.TCPKeepAlive().Seconds() != 60 || s.LogLevel() != "debug" || s.LogLevelVar().Level() != -4 {
		t.Errorf("accessors after Set: %q %d %v %d %d %d %v %q %v", s.RequirePass(), s.MaxClients(), s.Timeout(),
			s.MaxMemory(), s.ProtoMaxBulkLen(), s.ClientQueryBufferLimit(), s.TCPKeepAlive(), s.LogLevel(), s.LogLevelVar().Level())
	}
	if len(seen) != 1 || len(seen[0]) != 8 || seen[0][0] != "requirepass" {
		t.Errorf("OnChange saw %v", seen)
	}
	if s.Port() != 6379 || s.Dir() != "./ferricd-data" || s.Shards() != 8 || s.MetricsPort() != 9121 ||
		s.Databases() != 16 || s.LogFile() != "" || !slices.Equal(s.Bind(), []string{"127.0.0.1"}) {
		t.Errorf("defaults: %d %q %d %d %d %q %v", s.Port(), s.Dir(), s.Shards(), s.MetricsPort(), s.Databases(), s.LogFile(), s.Bind())
	}
}

// Concurrent CONFIG SETs of two parameters always written together never show a reader one
// without the other (run with -race).
func TestConcurrentSetGet(t *testing.T) {
	s := New()
	if err := s.Set(pairs("timeout", "0", "tcp-keepalive", "0")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				v := fmt.Sprint(w*1000 + i)
				if err := s.Set(pairs("timeout", v, "tcp-keepalive", v)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 400 {
				kv := s.GetMany("timeout", "tcp-keepalive")
				if len(kv) != 2 || kv[0][1] != kv[1][1] {
					t.Errorf("torn read: %v", kv)
					return
				}
				_ = s.MaxClients()
			}
		})
	}
	wg.Wait()
}

func TestListeners(t *testing.T) {
	s := New()
	if err := s.LoadConfig("bind * -::* 10.0.0.1 localhost\nport 7000", "t.conf"); err != nil {
		t.Fatal(err)
	}
	want := []Listener{{"0.0.0.0:7000", false}, {"[::]:7000", true}, {"10.0.0.1:7000", false}, {"localhost:7000", false}}
	if got := s.Listeners(); !slices.Equal(got, want) {
		t.Errorf("Listeners = %v, want %v", got, want)
	}
}

func TestMemtoull(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"", 0, true}, {"b", 0, true}, {"100", 100, true}, {"100b", 100, true},
		{"1k", 1000, true}, {"1K", 1000, true}, {"1kb", 1024, true}, {"1KB", 1024, true},
		{"1m", 1000000, true}, {"1mb", 1 << 20, true}, {"1g", 1000000000, true}, {"1gb", 1 << 30, true},
		{"1Gb", 1 << 30, true}, {"16gb", 16 << 30, true}, {"007", 7, true},
		{"-1", 0, false}, {"1 kb", 0, false}, {"1t", 0, false}, {"1.5", 0, false}, {"+1", 0, false},
		{" 1", 0, false}, {"1kib", 0, false}, {strings.Repeat("1", 128), 0, false},
	} {
		got, ok := memtoull(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("memtoull(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMarkdown(t *testing.T) {
	md := Markdown()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if len(lines) != 2+len(Table()) {
		t.Fatalf("%d lines for %d parameters", len(lines), len(Table()))
	}
	for _, want := range []string{
		"| parameter | default | effect | mutable | notes |",
		"| `shards` | `8` | used | no | ferricd only.",
		"| `bind` | `127.0.0.1` | used | no |",
		"| `appendonly` | `yes` | fixed | yes |",
		"| `requirepass` | \"\" | used | yes |",
		"| `proto-max-bulk-len` | `536870912` (512mb) | used | yes |",
		"| `hash-max-listpack-value` | `64` | kept | yes |",
		"| `replica-read-only` | `yes` | kept | yes | Accepted and reported; no effect. Alias: slave-read-only. |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if !strings.Contains(lines[2], "ferricd only") {
		t.Errorf("ferricd's own parameters should come first, got %q", lines[2])
	}
}

// ownParams counts ferricd's own parameters (not in Redis 7.0).
func ownParams() int {
	n := 0
	for _, p := range Table() {
		if !p.Redis {
			n++
		}
	}
	return n
}
