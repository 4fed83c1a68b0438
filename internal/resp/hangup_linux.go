package resp

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// WatchHangup notices, while the connection whose Exec context ctx is waits in a blocking
// command, that the client hung up, and then ends the connection (which cancels ctx), as
// Redis frees a blocked client whose socket closes. stop ends the watch; it must be called
// before the Exec returns, and it returns once the watch is over.
//
// The connection goroutine does not read while its Exec runs, so the watch looks at the
// socket itself: it waits until the socket is readable and peeks (MSG_PEEK) one byte, which
// leaves every byte in place for the reader. End of file or a socket error means the client
// is gone. Bytes already buffered, or bytes that arrive (a client pipelining behind its
// BLPOP), end the watch without a verdict: a later hang-up is then noticed when the
// connection reads again, after the blocking command.
func WatchHangup(ctx context.Context) (stop func()) {
	c, ok := ctx.Value(sessionKey{}).(*conn)
	if !ok || c.br.Buffered() > 0 {
		return func() {}
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		gone := false
		var b [1]byte
		err := raw.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
				return false // not readable yet: wait
			case err != nil, n == 0:
				gone = true
			}
			return true
		})
		if gone || (err != nil && !errors.Is(err, os.ErrDeadlineExceeded)) {
			c.kill()
		}
	}()
	return func() {
		// A read deadline in the past ends the wait; the connection uses no read deadline
		// of its own, so clearing it afterwards restores what was there.
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}
