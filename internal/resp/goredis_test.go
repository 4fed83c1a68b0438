package resp

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func newGoRedis(t *testing.T, addr string, proto int, mod func(*redis.Options)) *redis.Client {
	t.Helper()
	opt := &redis.Options{Addr: addr, Protocol: proto, DialTimeout: testTimeout,
		ReadTimeout: testTimeout, WriteTimeout: testTimeout, PoolSize: 4}
	if mod != nil {
		mod(opt)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestGoRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run("RESP"+strconv.Itoa(proto), func(t *testing.T) {
			ts := startServer(t, nil)
			rdb := newGoRedis(t, ts.addr, proto, func(o *redis.Options) { o.ClientName = "gr" })
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()

			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
				t.Fatalf("GET = %q, %v", v, err)
			}
			if _, err := rdb.Get(ctx, "missing").Result(); err != redis.Nil {
				t.Fatalf("GET missing: %v", err)
			}
			if n, err := rdb.Incr(ctx, "n").Result(); err != nil || n != 1 {
				t.Fatalf("INCR = %d, %v", n, err)
			}
			if _, err := rdb.Incr(ctx, "k").Result(); err == nil ||
				err.Error() != "ERR value is not an integer or out of range" {
				t.Fatalf("INCR on text: %v", err)
			}
			if s, err := rdb.Ping(ctx).Result(); err != nil || s != "PONG" {
				t.Fatalf("PING = %q, %v", s, err)
			}
			if name, err := rdb.ClientGetName(ctx).Result(); err != nil || name != "gr" {
				t.Fatalf("CLIENT GETNAME = %q, %v", name, err)
			}
			info, err := rdb.ClientInfo(ctx).Result()
			if err != nil {
				t.Fatalf("CLIENT INFO: %v", err)
			}
			if info.Resp != proto || info.Name != "gr" || info.LibName == "" {
				t.Fatalf("CLIENT INFO %+v", info)
			}

			// A pipeline of mixed commands comes back in order.
			pipe := rdb.Pipeline()
			var gets []*redis.StringCmd
			for i := range 500 {
				key := "p" + strconv.Itoa(i%7)
				pipe.Set(ctx, key, strconv.Itoa(i), 0)
				gets = append(gets, pipe.Get(ctx, key))
				pipe.Echo(ctx, "e")
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			for i, g := range gets {
				if g.Val() != strconv.Itoa(i) {
					t.Fatalf("pipelined GET %d = %q", i, g.Val())
				}
			}

			// Reply kinds arrive as the protocol's types.
			m, err := rdb.Do(ctx, "fkinds", "map").Result()
			if err != nil {
				t.Fatal(err)
			}
			switch proto {
			case 2:
				if a, ok := m.([]interface{}); !ok || len(a) != 4 || a[3] != "2.5" {
					t.Fatalf("RESP2 map: %#v", m)
				}
			case 3:
				if mm, ok := m.(map[interface{}]interface{}); !ok || mm["b"] != 2.5 || mm["a"] != int64(1) {
					t.Fatalf("RESP3 map: %#v", m)
				}
			}
			b, err := rdb.Do(ctx, "fkinds", "true").Result()
			if err != nil {
				t.Fatal(err)
			}
			if (proto == 2 && b != int64(1)) || (proto == 3 && b != true) {
				t.Fatalf("bool: %#v", b)
			}
			v, err := rdb.Do(ctx, "fkinds", "verbatim").Result()
			if err != nil || v != "some text" {
				t.Fatalf("verbatim: %#v %v", v, err)
			}
		})
	}
}

func TestGoRedisPassword(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run("RESP"+strconv.Itoa(proto), func(t *testing.T) {
			ts := startServer(t, func(c *Config) { c.RequirePass = func() string { return "pw" } })
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			good := newGoRedis(t, ts.addr, proto, func(o *redis.Options) { o.Password = "pw" })
			if err := good.Set(ctx, "a", "b", 0).Err(); err != nil {
				t.Fatal(err)
			}
			bad := newGoRedis(t, ts.addr, proto, func(o *redis.Options) { o.Password = "nope" })
			if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
				t.Fatalf("wrong password: %v", err)
			}
			none := newGoRedis(t, ts.addr, proto, nil)
			if err := none.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
				t.Fatalf("no password: %v", err)
			}
		})
	}
}
