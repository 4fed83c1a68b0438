package node

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"ferricd/internal/reply"
)

func newWaiter(client uint64, keys ...string) *waiter {
	return &waiter{keys: keys, client: client, wake: make(chan struct{}, 1), unblock: make(chan bool, 1)}
}

func woken(w *waiter) bool {
	select {
	case <-w.wake:
		return true
	default:
		return false
	}
}

func TestWakeKeysWakesOnlyTheHeadOfEachQueue(t *testing.T) {
	b := newBlockedClients()
	first, second := newWaiter(1, "k"), newWaiter(2, "k")
	other := newWaiter(3, "other")
	b.add(first)
	b.add(second)
	b.add(other)
	b.wakeKeys([][]byte{[]byte("k")})
	if !woken(first) || woken(second) || woken(other) {
		t.Fatal("a write to k must wake the first waiter on k and nobody else")
	}
	if b.count() != 3 {
		t.Fatalf("count = %d, want 3", b.count())
	}
}

func TestLeavingWakesTheNextWaiter(t *testing.T) {
	b := newBlockedClients()
	first, second, third := newWaiter(1, "k", "j"), newWaiter(2, "k"), newWaiter(3, "j")
	b.add(first)
	b.add(second)
	b.add(third)
	b.remove(first)
	if !woken(second) || !woken(third) {
		t.Fatal("the head leaving must wake the new head of each of its keys")
	}
	b.remove(third)
	if woken(second) {
		t.Fatal("a waiter leaving a queue it did not head must not wake the head")
	}
	b.remove(second)
	if b.count() != 0 || len(b.byKey) != 0 || len(b.byClient) != 0 {
		t.Fatalf("registry not empty after every waiter left: count %d, keys %d, clients %d",
			b.count(), len(b.byKey), len(b.byClient))
	}
}

func TestAWakeArrivingWhileTryingIsKept(t *testing.T) {
	b := newBlockedClients()
	w := newWaiter(1, "k")
	b.add(w)
	b.wakeKeys([][]byte{[]byte("k")})
	b.wakeKeys([][]byte{[]byte("k")})
	if !woken(w) {
		t.Fatal("the wake was lost")
	}
	if woken(w) {
		t.Fatal("two wakes left two signals; one is enough to retry")
	}
}

func TestUnblockFindsTheClient(t *testing.T) {
	b := newBlockedClients()
	w := newWaiter(7, "k")
	if b.unblock(7, false) {
		t.Fatal("unblock of a client that is not blocked reported true")
	}
	b.add(w)
	if !b.unblock(7, true) {
		t.Fatal("unblock of a blocked client reported false")
	}
	if withErr := <-w.unblock; !withErr {
		t.Fatal("the ERROR choice was not handed on")
	}
	b.remove(w)
	if b.unblock(7, false) {
		t.Fatal("unblock after the client left reported true")
	}
}

// waitCount waits until n clients are blocked on tn.
func waitCount(t *testing.T, tn *testNode, n int64) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for tn.n.blocked.count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("blocked clients = %d, want %d", tn.n.blocked.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Many goroutines blocked on one key, fed one element at a time by pushes racing with
// their retries: every element reaches exactly one waiter, in blocking order.
func TestBlockedPopsAreServedOnceEachUnderConcurrentPushes(t *testing.T) {
	tn := newTestNode(t, nil)
	const waiters = 8
	got := make([]string, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = tn.do("BLPOP", "q", "0").String()
		}()
		waitCount(t, tn, int64(i+1))
	}
	for i := range waiters {
		if v := tn.do("RPUSH", "q", fmt.Sprintf("e%d", i)); v.IsError() {
			t.Fatalf("RPUSH: %s", v)
		}
	}
	wg.Wait()
	for i, v := range got {
		if want := fmt.Sprintf(`["q" "e%d"]`, i); v != want {
			t.Errorf("waiter %d got %s, want %s", i, v, want)
		}
	}
	tn.expect(":0", "LLEN", "q")
	waitCount(t, tn, 0)
}

func TestABlockedCallEndsWithItsContext(t *testing.T) {
	tn := newTestNode(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan reply.Value, 1)
	go func() {
		out := make([]reply.Value, 1)
		tn.n.Exec(ctx, calls(t, [][]string{{"BZPOPMIN", "z", "0"}}), out)
		done <- out[0]
	}()
	waitCount(t, tn, 1)
	cancel()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("a blocked call outlived its context")
	}
	waitCount(t, tn, 0)
}
