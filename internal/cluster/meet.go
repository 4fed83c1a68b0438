package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"
)

// Meeting a node. CLUSTER MEET names a node by address only: its id is learnt from the node
// itself on a connection of kind connMeet, which goes:
//
//	dialer (a member)                      acceptor (the node being met)
//	hello{connMeet, to: 0}        →
//	                              ←        hello{connMeet, from: its id}
//	frameDirectory (directory)    →        Handler.AdoptDirectory
//	                              ←        frameMeetAnswer (empty: adopted; else the reason)
//
// Between the hellos and the directory the dialer's caller decides whether the id may join
// and adds it to its own directory, so that the directory the node adopts includes itself.

// Frames of a meet connection.
const (
	frameDirectory  byte = 6
	frameMeetAnswer byte = 7
)

// MeetFunc decides, once the node at the address has said who it is, whether it may join;
// it returns the encoded directory to hand it.
type MeetFunc func(id uint64, clientAddr string) ([]byte, error)

// Meet connects to the node whose bus listens at addr, learns its id, and hands it the
// directory decide returns. It returns the node's id.
func (t *Transport) Meet(ctx context.Context, addr string, decide MeetFunc) (uint64, error) {
	if t.ctx == nil || t.ctx.Err() != nil {
		return 0, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.HandshakeTimeout)
	defer cancel()
	d := net.Dialer{Timeout: t.cfg.HandshakeTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if !t.track(c) {
		return 0, ErrClosed
	}
	defer t.untrack(c)
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := writeHello(c, t.helloFor(connMeet, 0)); err != nil {
		return 0, fmt.Errorf("meet %s: %w", addr, err)
	}
	r := bufio.NewReader(c)
	h, err := readHello(r)
	if err != nil {
		return 0, fmt.Errorf("meet %s: %w", addr, err)
	}
	if h.kind != connMeet || h.from == 0 || h.to != t.cfg.NodeID {
		return 0, fmt.Errorf("meet %s: unexpected handshake", addr)
	}
	if int(h.shards) != t.cfg.Shards {
		return 0, fmt.Errorf("meet %s: node %d runs %d shards, this node %d", addr, h.from, h.shards, t.cfg.Shards)
	}
	dir, err := decide(h.from, h.clientAddr)
	if err != nil {
		return h.from, err
	}
	w := bufio.NewWriter(c)
	if err := writeFrame(w, frameDirectory, dir); err != nil {
		return h.from, fmt.Errorf("meet %s: %w", addr, err)
	}
	if err := w.Flush(); err != nil {
		return h.from, fmt.Errorf("meet %s: %w", addr, err)
	}
	typ, answer, err := readFrame(r)
	if err != nil {
		return h.from, fmt.Errorf("meet %s: %w", addr, err)
	}
	if typ != frameMeetAnswer {
		return h.from, fmt.Errorf("meet %s: unexpected frame %d", addr, typ)
	}
	if len(answer) > 0 {
		return h.from, fmt.Errorf("node %d refused to join: %s", h.from, answer)
	}
	return h.from, nil
}

// met serves the acceptor's side of a meet connection.
func (t *Transport) met(c net.Conn, r *bufio.Reader, h hello) error {
	if err := writeHello(c, t.helloFor(connMeet, h.from)); err != nil {
		return err
	}
	typ, body, err := readFrame(r)
	if err != nil {
		return err
	}
	if typ != frameDirectory {
		return fmt.Errorf("meet: unexpected frame %d", typ)
	}
	var answer []byte
	if err := t.cfg.Handler.AdoptDirectory(h.from, body); err != nil {
		answer = []byte(err.Error())
		t.log.Warn("cluster bus: refused to join", "met_by", h.from, "err", err)
	}
	w := bufio.NewWriter(c)
	if err := writeFrame(w, frameMeetAnswer, answer); err != nil {
		return err
	}
	return w.Flush()
}
