// Package integration drives a real ferricd process over loopback with the clients people use:
// go-redis (RESP2 and RESP3) and redis-cli.
package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ferricd/internal/testserver"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, p *testserver.Process, proto int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), Protocol: proto, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGoRedisBothProtocols(t *testing.T) {
	p := testserver.StartFerricd(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx := ctxT(t)
			c := client(t, p, proto)
			key := fmt.Sprintf("greeting:%d", proto)
			if err := c.Set(ctx, key, "hello", time.Minute).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if got, err := c.Get(ctx, key).Result(); err != nil || got != "hello" {
				t.Fatalf("GET = %q, %v; want hello", got, err)
			}
			if ttl, err := c.TTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
				t.Fatalf("TTL = %v, %v; want (0, 1m]", ttl, err)
			}
			if _, err := c.Get(ctx, "missing:"+key).Result(); err != redis.Nil {
				t.Fatalf("GET of a missing key: err %v, want redis.Nil", err)
			}
			ctr := fmt.Sprintf("ctr:%d", proto)
			for i := 1; i <= 5; i++ {
				if n, err := c.Incr(ctx, ctr).Result(); err != nil || n != int64(i) {
					t.Fatalf("INCR #%d = %d, %v", i, n, err)
				}
			}
			if f, err := c.IncrByFloat(ctx, "f:"+key, 1.5).Result(); err != nil || f != 1.5 {
				t.Fatalf("INCRBYFLOAT = %v, %v; want 1.5", f, err)
			}
			if err := c.Do(ctx, "GET").Err(); err == nil || err.Error() != "ERR wrong number of arguments for 'get' command" {
				t.Fatalf("GET with no key: err %v; want Redis' arity error", err)
			}
		})
	}
}

func TestPipelineRepliesInOrderAndSeeOwnWrites(t *testing.T) {
	p := testserver.StartFerricd(t)
	ctx := ctxT(t)
	c := client(t, p, 2)
	pipe := c.Pipeline()
	var gets []*redis.StringCmd
	var incrs []*redis.IntCmd
	for i := range 200 {
		k := "pl:" + strconv.Itoa(i%17)
		pipe.Set(ctx, k, strconv.Itoa(i), 0)
		gets = append(gets, pipe.Get(ctx, k))
		incrs = append(incrs, pipe.Incr(ctx, "pl:counter"))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	for i, g := range gets {
		if g.Val() != strconv.Itoa(i) {
			t.Fatalf("GET #%d in pipeline = %q, want %q (a read must see the pipeline's earlier write)", i, g.Val(), strconv.Itoa(i))
		}
		if incrs[i].Val() != int64(i+1) {
			t.Fatalf("INCR #%d in pipeline = %d, want %d (replies out of order?)", i, incrs[i].Val(), i+1)
		}
	}
}

func TestCrossShardWritesAreRefusedAndTaggedOnesWork(t *testing.T) {
	p := testserver.StartFerricd(t)
	ctx := ctxT(t)
	c := client(t, p, 2)
	// "a" and "b" hash to slots 15495 and 3300: different shards of the default 8.
	err := c.MSet(ctx, "a", "1", "b", "2").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT Keys in request don't hash to the same slot") {
		t.Fatalf("MSET across shards: err %v, want CROSSSLOT", err)
	}
	if err := c.MSet(ctx, "{u}a", "1", "{u}b", "2").Err(); err != nil {
		t.Fatalf("MSET with a shared hash tag: %v", err)
	}
	if got, err := c.MGet(ctx, "{u}a", "{u}b", "a").Result(); err != nil || got[0] != "1" || got[1] != "2" || got[2] != nil {
		t.Fatalf("MGET across shards (reads are allowed) = %v, %v", got, err)
	}
}

func TestKeysExpireActively(t *testing.T) {
	p := testserver.StartFerricd(t)
	ctx := ctxT(t)
	c := client(t, p, 2)
	for i := range 50 {
		if err := c.Set(ctx, "exp:"+strconv.Itoa(i), "v", 200*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, "stays", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Without touching the keys, the active cycle must delete them: DBSIZE counts expired keys
	// that were not deleted yet, as in Redis.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE = %d five seconds after the TTLs passed; want 1", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	info, err := c.Info(ctx, "stats").Result()
	if err != nil || !strings.Contains(info, "expired_keys:50") {
		t.Fatalf("INFO stats should report expired_keys:50; got err %v:\n%s", err, info)
	}
}

func TestRedisCLISession(t *testing.T) {
	p := testserver.StartFerricd(t)
	ctx := ctxT(t)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "cli", "value with spaces"}, "OK"},
		{[]string{"GET", "cli"}, "value with spaces"},
		{[]string{"APPEND", "cli", "!"}, "18"},
		{[]string{"EXISTS", "cli", "nope"}, "1"},
		{[]string{"GET", "nope"}, ""},
		{[]string{"TYPE", "cli"}, "string"},
		{[]string{"DBSIZE"}, "1"},
		{[]string{"INCR", "cli"}, "ERR value is not an integer or out of range"},
	}
	for _, s := range steps {
		out, err := p.RunCLI(ctx, s.args...)
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", s.args, err, out)
		}
		if got := strings.TrimSpace(out); got != s.want {
			t.Errorf("redis-cli %v = %q, want %q", s.args, got, s.want)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	port := testserver.FreePort(t)
	p := testserver.StartFerricd(t, "--metrics-port", strconv.Itoa(port))
	ctx := ctxT(t)
	c := client(t, p, 2)
	if err := c.Set(ctx, "m", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Get(ctx, "m")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, path := range []string{"/healthz", "/readyz"} {
		code, _ := httpGet(t, base+path)
		if code != 200 {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
	}
	code, body := httpGet(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, name := range []string{`ferricd_commands_total{cmd="set"}`, "ferricd_connected_clients", "ferricd_keyspace_hits_total",
		"ferricd_raft_is_leader", "ferricd_raft_sync_duration_seconds_bucket", "ferricd_pebble_disk_usage_bytes"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRestartWithAnotherShardCountIsRefused(t *testing.T) {
	p := testserver.StartFerricd(t, "--shards", "4")
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.Dir, "data")
	cmd := exec.Command(testserver.Binary(t), "--port", strconv.Itoa(testserver.FreePort(t)), "--dir", dir, "--shards", "8", "--metrics-port", "0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("ferricd started on a 4-shard data dir with --shards 8; want a refusal\n%s", out)
	}
	if !strings.Contains(string(out), "created with 4 shards") {
		t.Fatalf("refusal does not say why:\n%s", out)
	}
}

func TestMaxmemoryRefusesWritesThatGrowMemory(t *testing.T) {
	p := testserver.StartFerricd(t)
	ctx := ctxT(t)
	c := client(t, p, 2)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// 1 MB is below any Go process' heap: every denyoom write must be refused.
	if err := c.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatalf("CONFIG SET maxmemory: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Set(ctx, "k2", "v", 0).Err()
		if err != nil && err.Error() == "OOM command not allowed when used memory > 'maxmemory'." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET above maxmemory: err %v; want Redis' OOM error", err)
		}
		time.Sleep(50 * time.Millisecond) // memory is sampled every 100 ms
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET above maxmemory = %q, %v; reads must go on", got, err)
	}
	if n, err := c.Del(ctx, "k").Result(); err != nil || n != 1 {
		t.Fatalf("DEL above maxmemory = %d, %v; deletions must go on", n, err)
	}
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k3", "v", 0).Err(); err != nil {
		t.Fatalf("SET after lifting maxmemory: %v", err)
	}
}
