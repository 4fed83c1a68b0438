package resp

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// output sends a connection's replies.
//
// The connection goroutine writes each batch's replies to the socket itself: one write
// per batch, no hand-off, which is what request/response throughput needs. That write
// carries a short deadline (stall). If the client does not take the bytes in time — it
// may be busy writing a huge pipeline and not reading yet, exactly the case in which a
// server that blocks on its write and stops reading would deadlock with the client — the
// rest of the bytes, and the replies of every later batch, go to a flusher goroutine,
// while the connection goroutine goes back to reading and executing commands. Redis
// behaves the same way: it buffers replies and keeps reading. When the flusher has drained
// everything, direct writes resume. Buffered replies are bounded by limit: past it the
// connection goroutine waits for the flusher (back-pressure) instead of buffering without
// end.
//
// The flusher is started lazily, at most once, and is stopped by stop, which the
// connection goroutine calls on its way out after closing the socket.
// Who is writing to the socket.
const (
	writeIdle   = iota
	writeDirect // the connection goroutine, in write
	writeFlush  // the flusher
)

// keepSpare is the largest flusher buffer kept for reuse; bigger ones were for a burst.
const keepSpare = 256 << 10

type output struct {
	nc       net.Conn
	stall    time.Duration
	limit    int
	onWrite  func(n int)
	deadline time.Time // write deadline last set by the direct path (zero: none)

	mu       sync.Mutex
	cond     sync.Cond
	mode     int
	pending  []byte // bytes the flusher still has to write
	spare    []byte
	started  bool
	stopped  bool
	final    time.Time // when draining before a close: the deadline of every write
	resetDL  bool      // the flusher changed the socket's deadline
	err      error     // first write error; sticky
	flushers sync.WaitGroup
}

func newOutput(nc net.Conn, stall time.Duration, limit int, onWrite func(int)) *output {
	o := &output{nc: nc, stall: stall, limit: limit, onWrite: onWrite}
	o.cond.L = &o.mu
	return o
}

// write sends b (the replies of one batch), in order after everything written before.
// b may be reused by the caller as soon as write returns.
func (o *output) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	o.mu.Lock()
	for o.mode != writeIdle {
		switch {
		case o.err != nil:
			err := o.err
			o.mu.Unlock()
			return err
		case o.stopped:
			o.mu.Unlock()
			return net.ErrClosed
		case o.mode == writeDirect || len(o.pending) < o.limit:
			// Behind a write in progress: queue. Only a full queue makes the caller wait,
			// and the flusher may have drained everything and gone idle meanwhile, in
			// which case the loop ends and the caller writes directly.
			o.pending = append(o.pending, b...)
			o.cond.Broadcast()
			o.mu.Unlock()
			return nil
		}
		o.cond.Wait()
	}
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		return err
	}
	o.mode = writeDirect
	if o.resetDL {
		o.resetDL = false
		o.deadline = time.Time{}
	}
	o.mu.Unlock()

	// Refresh the deadline only when less than half of the stall budget is left: setting
	// it costs a timer update, and a budget between stall/2 and stall is good enough.
	now := time.Now()
	if o.deadline.Sub(now) < o.stall/2 {
		o.deadline = now.Add(o.stall)
		_ = o.nc.SetWriteDeadline(o.deadline)
	}
	n, err := o.nc.Write(b)
	if n > 0 && o.onWrite != nil {
		o.onWrite(n)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err == nil:
		if len(o.pending) == 0 {
			o.mode = writeIdle
			return nil
		}
		// Bytes were queued behind this write: the flusher sends them.
	case errors.Is(err, os.ErrDeadlineExceeded) && o.final.IsZero():
		// The client is not reading: the flusher finishes this batch, in front of
		// anything queued meanwhile.
		o.pending = append(append(o.spare[:0], b[n:]...), o.pending...)
		o.spare = nil
	default:
		o.mode = writeIdle
		o.err = err
		o.cond.Broadcast()
		return err
	}
	o.mode = writeFlush
	if !o.started {
		o.started = true
		o.flushers.Add(1)
		go o.flush()
	}
	o.cond.Broadcast()
	return nil
}

// flush is the flusher goroutine: it writes pending bytes, without a deadline unless
// draining, until stop.
func (o *output) flush() {
	defer o.flushers.Done()
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		for !o.stopped && (o.mode != writeFlush || len(o.pending) == 0) {
			if o.mode == writeFlush {
				// Drained: hand writing back to the direct path.
				o.mode = writeIdle
				o.cond.Broadcast()
			}
			o.cond.Wait()
		}
		if o.stopped {
			return
		}
		buf := o.pending
		o.pending = o.spare[:0]
		o.spare = nil
		deadline := o.final
		o.resetDL = true
		o.cond.Broadcast() // room for the producer again
		o.mu.Unlock()

		_ = o.nc.SetWriteDeadline(deadline)
		n, err := o.nc.Write(buf)
		if n > 0 && o.onWrite != nil {
			o.onWrite(n)
		}

		o.mu.Lock()
		if cap(buf) <= keepSpare {
			o.spare = buf[:0]
		}
		if err != nil {
			o.err = err
			o.pending = nil
			o.mode = writeIdle
			o.cond.Broadcast()
			return
		}
	}
}

// drain waits until everything written so far has left, a write failed, or timeout
// passed; it is used before closing a connection on purpose (QUIT, protocol error), so
// that the last replies reach the client.
func (o *output) drain(timeout time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mode == writeIdle || o.err != nil {
		return
	}
	// The flusher applies final to each write; setting it on the socket too cuts short
	// the write in progress. After it the flusher fails, which ends the wait.
	o.final = time.Now().Add(timeout)
	_ = o.nc.SetWriteDeadline(o.final)
	for o.mode != writeIdle && o.err == nil && !o.stopped {
		o.cond.Wait()
	}
}

// buffered is the number of reply bytes waiting for the flusher (CLIENT LIST omem).
func (o *output) buffered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// stop ends the flusher. The caller has closed the socket, which ends a blocked write.
func (o *output) stop() {
	o.mu.Lock()
	o.stopped = true
	o.cond.Broadcast()
	o.mu.Unlock()
	o.flushers.Wait()
}
