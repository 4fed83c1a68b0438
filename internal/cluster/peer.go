package cluster

import (
	"bufio"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// maxInflightRequests bounds the requests one peer may have this node serve at once; beyond
// it the reader stops reading, which pushes back on the sender through TCP.
const maxInflightRequests = 1024

// outFrame is one frame waiting in a peer's send queue.
type outFrame struct {
	typ   byte
	shard uint64
	msg   *raftpb.Message // frameRaft: marshalled by the writer, off the shard goroutine
	call  *call           // frameRequest
	reqID uint64          // frameResponse
	body  []byte
}

// call is one outstanding Call.
type call struct {
	id        uint64
	done      chan struct{} // closed once resp/err are set
	resp      []byte
	err       error
	cancelled atomic.Bool // the caller gave up; if not written yet, it never will be
	once      sync.Once
}

func (c *call) finish(resp []byte, err error) {
	c.once.Do(func() {
		c.resp, c.err = resp, err
		close(c.done)
	})
}

// peer is the state kept about one other member.
type peer struct {
	id         uint64
	busAddr    string
	sendC      chan outFrame
	connected  atomic.Bool
	clientAddr atomic.Pointer[string]

	mu    sync.Mutex
	calls map[uint64]*call // registered and not answered
	// connDone is closed when the connection being served ends; a newer connection waits for
	// the older one to be gone before taking over the queue.
	connDone chan struct{}
	conn     net.Conn // the connection being served, nil if none

	// retired is closed when the member is removed: its dial loop ends and its connection
	// is closed.
	retired    chan struct{}
	retireOnce sync.Once
}

func newPeer(p Peer, queue int) *peer {
	return &peer{id: p.ID, busAddr: p.BusAddr, sendC: make(chan outFrame, queue), calls: make(map[uint64]*call),
		retired: make(chan struct{})}
}

// retire ends everything kept for a removed member.
func (p *peer) retire() {
	p.retireOnce.Do(func() {
		close(p.retired)
		p.mu.Lock()
		c := p.conn
		p.mu.Unlock()
		if c != nil {
			_ = c.Close()
		}
		p.failCalls(ErrUnreachable)
	})
}

func (p *peer) isRetired() bool {
	select {
	case <-p.retired:
		return true
	default:
		return false
	}
}

func (p *peer) enqueue(f outFrame) bool {
	select {
	case p.sendC <- f:
		return true
	default:
		return false
	}
}

func (p *peer) register(c *call) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.connected.Load() {
		return false
	}
	p.calls[c.id] = c
	return true
}

func (p *peer) unregister(id uint64) {
	p.mu.Lock()
	delete(p.calls, id)
	p.mu.Unlock()
}

func (p *peer) answer(id uint64, resp []byte, err error) {
	p.mu.Lock()
	c := p.calls[id]
	delete(p.calls, id)
	p.mu.Unlock()
	if c != nil {
		c.finish(resp, err)
	}
}

func (p *peer) failCalls(err error) {
	p.mu.Lock()
	calls := p.calls
	p.calls = make(map[uint64]*call)
	p.mu.Unlock()
	for _, c := range calls {
		c.cancelled.Store(true) // if still queued, it is never sent: its caller was answered
		c.finish(nil, err)
	}
}

// serveConn makes c the connection to p and serves it until it breaks: this goroutine reads,
// a second one writes the peer's queue.
func (t *Transport) serveConn(p *peer, c net.Conn, r *bufio.Reader, h hello) {
	done := make(chan struct{})
	p.mu.Lock()
	prev := p.connDone
	p.connDone = done
	p.mu.Unlock()
	if prev != nil {
		<-prev // the previous connection's writer is gone: one writer per queue
	}
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	if p.isRetired() {
		_ = c.Close() // removed while connecting: the read loop below ends at once
	}
	if h.clientAddr != "" {
		addr := h.clientAddr
		p.clientAddr.Store(&addr)
	}
	p.connected.Store(true)
	t.log.Info("cluster bus connected", "peer", p.id, "remote", c.RemoteAddr().String())

	writerDone := make(chan struct{})
	stopWriter := make(chan struct{})
	go func() {
		defer close(writerDone)
		t.writeLoop(p, c, stopWriter)
	}()
	err := t.readLoop(p, c, r)
	_ = c.Close()
	close(stopWriter)
	<-writerDone
	p.mu.Lock()
	if p.connDone == done {
		p.connected.Store(false)
		p.conn = nil
	}
	p.mu.Unlock()
	// Requests written on this connection may or may not have been served.
	p.failCalls(ErrConnectionLost)
	close(done)
	if t.ctx.Err() == nil {
		t.log.Info("cluster bus disconnected", "peer", p.id, "err", err)
	}
}

func (t *Transport) writeLoop(p *peer, c net.Conn, stop <-chan struct{}) {
	w := bufio.NewWriterSize(c, 64<<10)
	var scratch []byte
	for {
		var f outFrame
		select {
		case f = <-p.sendC:
		case <-stop:
			return
		}
		if err := t.writeOne(w, f, &scratch); err != nil {
			_ = c.Close() // the reader notices and tears the connection down
			return
		}
		if len(p.sendC) == 0 {
			if err := w.Flush(); err != nil {
				_ = c.Close()
				return
			}
		}
	}
}

func (t *Transport) writeOne(w *bufio.Writer, f outFrame, scratch *[]byte) error {
	b := (*scratch)[:0]
	switch f.typ {
	case frameRaft:
		b = binary.AppendUvarint(b, f.shard)
		var err error
		if b, err = (proto.MarshalOptions{}).MarshalAppend(b, f.msg); err != nil {
			t.log.Error("marshal raft message", "err", err)
			return nil
		}
		*scratch = b
		return writeFrame(w, frameRaft, b)
	case frameRequest:
		if f.call.cancelled.Load() {
			return nil
		}
		b = binary.AppendUvarint(b, f.call.id)
		*scratch = b
		return writeFrame(w, frameRequest, b, f.body)
	case frameResponse:
		b = binary.AppendUvarint(b, f.reqID)
		*scratch = b
		return writeFrame(w, frameResponse, b, f.body)
	default:
		return writeFrame(w, f.typ, f.body)
	}
}

func (t *Transport) readLoop(p *peer, c net.Conn, r *bufio.Reader) error {
	sem := make(chan struct{}, maxInflightRequests)
	for {
		typ, body, err := readFrame(r)
		if err != nil {
			return err
		}
		if t.cfg.Faults.blocked(p.id, t.cfg.NodeID) {
			continue // lost, as across a real partition: callers time out
		}
		switch typ {
		case frameRaft:
			shard, rest, err := takeUvarint(body)
			if err != nil {
				return err
			}
			m := &raftpb.Message{}
			if err := proto.Unmarshal(rest, m); err != nil {
				return err
			}
			t.cfg.Handler.StepRaft(shard, m)
		case frameRequest:
			id, rest, err := takeUvarint(body)
			if err != nil {
				return err
			}
			select {
			case sem <- struct{}{}:
			case <-t.ctx.Done():
				return t.ctx.Err()
			}
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				defer func() { <-sem }()
				resp := append([]byte{statusOK}, t.cfg.Handler.HandleRequest(t.ctx, p.id, rest)...)
				if t.ctx.Err() != nil {
					return // closing: the handler was cut short, its answer means nothing
				}
				// A response is never dropped for a full queue: the caller would wait for
				// its timeout. It waits for room, or for the transport to close.
				select {
				case p.sendC <- outFrame{typ: frameResponse, reqID: id, body: resp}:
				case <-t.ctx.Done():
				}
			}()
		case frameResponse:
			id, rest, err := takeUvarint(body)
			if err != nil || len(rest) == 0 {
				return errMalformed
			}
			if rest[0] != statusOK {
				p.answer(id, nil, ErrRefused)
			} else {
				p.answer(id, rest[1:], nil)
			}
		case frameGossip:
			t.cfg.Handler.HandleGossip(p.id, body)
		default:
			return errMalformed // snapshots have connections of their own
		}
	}
}
