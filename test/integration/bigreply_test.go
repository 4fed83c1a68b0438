package integration

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"ferricd/internal/testserver"
)

// A client asking for a huge range and not reading it must not hold up anyone else: the
// reply is streamed from a snapshot on the client's own connection, and the shard goes on
// serving writes and reads of the same list.
func TestHugeRangeStreamsWithoutHoldingTheShard(t *testing.T) {
	p := testserver.StartFerricd(t)
	admin := dialRaw(t, p)
	const n = 150_000
	for i := 0; i < n; i += 1000 {
		args := []string{"RPUSH", "huge"}
		for j := i; j < i+1000; j++ {
			args = append(args, fmt.Sprintf("element-%07d", j))
		}
		admin.send(args...)
	}
	for i := 0; i < n; i += 1000 {
		if _, err := admin.read(30 * time.Second); err != nil {
			t.Fatalf("loading: %v", err)
		}
	}

	slow := dialRaw(t, p)
	slow.send("LRANGE", "huge", "0", "-1") // and do not read yet
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	for i := range 20 {
		if got := admin.do("RPUSH", "huge", "late"); got != fmt.Sprintf(":%d", n+i+1) {
			t.Fatalf("RPUSH while a huge reply waits = %s", got)
		}
		if got := admin.do("LINDEX", "huge", "-1"); got != `"late"` {
			t.Fatalf("LINDEX while a huge reply waits = %s", got)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("40 commands took %v while a huge reply waited", d)
	}

	// The reply, read now, is the list as it was when LRANGE ran.
	br := bufio.NewReaderSize(slow.nc, 1<<16)
	_ = slow.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	line := func() string {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the huge reply: %v", err)
		}
		return strings.TrimSuffix(l, "\r\n")
	}
	if h := line(); h != fmt.Sprintf("*%d", n) {
		t.Fatalf("huge reply header %q, want *%d", h, n)
	}
	for i := range n {
		line()
		if got, want := line(), fmt.Sprintf("element-%07d", i); got != want {
			t.Fatalf("element %d = %q, want %q", i, got, want)
		}
	}
}
