package config

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgainstRedis replays the CONFIG SET tables against a real redis-server 7.0 when
// FERRICD_REDIS_REF=host:port names one (a scratch server: the test changes and then restores
// parameters), proving the expected texts and values are Redis' own. For example:
//
//	redis-server --port 6431 --save '' --appendonly no --daemonize yes
//	FERRICD_REDIS_REF=127.0.0.1:6431 go test ./internal/config -run AgainstRedis
func TestAgainstRedis(t *testing.T) {
	addr := os.Getenv("FERRICD_REDIS_REF")
	if addr == "" {
		t.Skip("FERRICD_REDIS_REF not set")
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	do := func(args ...string) (string, []string) {
		t.Helper()
		if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		reply, elems, err := redisCall(conn, r, args...)
		if err != nil {
			t.Fatal(err)
		}
		return reply, elems
	}
	defaults := New()
	restore := func(name string) {
		t.Helper()
		v, _ := defaults.Value(name)
		if reply, _ := do("CONFIG", "SET", name, v); reply != "+OK" {
			t.Fatalf("restoring %s: %s", name, reply)
		}
	}

	for _, tc := range setErrorCases() {
		if tc.pairs[0] == "port" || tc.pairs[0] == "dir" {
			continue // immutable in ferricd; Redis would move its listener or directory
		}
		reply, _ := do(append([]string{"CONFIG", "SET"}, tc.pairs...)...)
		if reply != "-ERR "+tc.want {
			t.Errorf("CONFIG SET %q:\n redis   %s\n ferricd -ERR %s", tc.pairs, reply, tc.want)
		}
	}
	for _, tc := range setCanonicalCases() {
		if redisDiffers(tc.name) {
			continue
		}
		if reply, _ := do("CONFIG", "SET", tc.name, tc.value); reply != "+OK" {
			t.Errorf("CONFIG SET %s %q: %s", tc.name, tc.value, reply)
			continue
		}
		if _, kv := do("CONFIG", "GET", tc.name); len(kv) != 2 || kv[1] != tc.want {
			t.Errorf("CONFIG SET %s %q then GET: redis %q, ferricd %q", tc.name, tc.value, kv, tc.want)
		}
		restore(tc.name)
	}
	for _, pattern := range []string{"*", "max*", "MAX*", "[st]imeout", "slave-*", "hash-max-*-value", "*-port", "?ort"} {
		_, kv := do("CONFIG", "GET", pattern)
		var want []string
		for i := 0; i+1 < len(kv); i += 2 {
			want = append(want, kv[i])
		}
		slices.Sort(want) // Redis replies in hash-table order
		var got []string
		for _, p := range defaults.Get(pattern) {
			if p[0] != "shards" && p[0] != "metrics-port" {
				got = append(got, p[0])
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("CONFIG GET %s: redis %q, ferricd %q", pattern, want, got)
		}
	}
}

// redisCall sends one command and reads a simple reply (returned with its type prefix) or an
// array of bulk strings (returned as elems).
func redisCall(conn net.Conn, r *bufio.Reader, args ...string) (string, []string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", nil, err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "*") {
		return line, nil, nil
	}
	n, _ := strconv.Atoi(line[1:])
	elems := make([]string, 0, n)
	for range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		size, _ := strconv.Atoi(strings.TrimRight(hdr[1:], "\r\n"))
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", nil, err
		}
		elems = append(elems, string(buf[:size]))
	}
	return line, elems, nil
}
