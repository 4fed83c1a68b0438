package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// sendSnapshot streams a MsgSnap to p on a connection of its own, so a large snapshot never
// delays raft traffic, and reports the outcome to raft.
func (t *Transport) sendSnapshot(p *peer, shard uint64, m *raftpb.Message) {
	defer t.wg.Done()
	err := t.streamSnapshot(p, shard, m)
	if err != nil && t.ctx.Err() == nil {
		t.log.Warn("snapshot send failed", "shard", shard, "to", p.id, "err", err)
	}
	t.cfg.Handler.ReportSnapshot(shard, p.id, err == nil)
}

func (t *Transport) streamSnapshot(p *peer, shard uint64, m *raftpb.Message) error {
	if t.cfg.Faults.blocked(t.cfg.NodeID, p.id) {
		return ErrUnreachable
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.SnapshotTimeout)
	defer cancel()
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", p.busAddr)
	if err != nil {
		return err
	}
	if !t.track(c) {
		return ErrClosed
	}
	defer t.untrack(c)
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()

	w := bufio.NewWriterSize(c, 256<<10)
	if err := writeHello(w, t.helloFor(connSnapshot, p.id)); err != nil {
		return err
	}
	msg, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if err := writeFrame(w, frameSnapshot, binary.AppendUvarint(nil, shard), msg); err != nil {
		return err
	}
	if err := t.cfg.Handler.SendSnapshot(ctx, shard, m, w); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	var ack [1]byte
	if _, err := c.Read(ack[:]); err != nil {
		return fmt.Errorf("read snapshot answer: %w", err)
	}
	if ack[0] != statusOK {
		return errors.New("receiver rejected the snapshot")
	}
	return nil
}

// receiveSnapshot serves a snapshot connection opened by node from.
func (t *Transport) receiveSnapshot(c net.Conn, r *bufio.Reader, from uint64) error {
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.SnapshotTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	typ, body, err := readFrame(r)
	if err != nil {
		return err
	}
	if typ != frameSnapshot {
		return fmt.Errorf("snapshot connection opened with frame type %d", typ)
	}
	shard, rest, err := takeUvarint(body)
	if err != nil {
		return err
	}
	m := &raftpb.Message{}
	if err := proto.Unmarshal(rest, m); err != nil {
		return err
	}
	if m.GetType() != raftpb.MsgSnap || m.GetFrom() != from || m.GetTo() != t.cfg.NodeID {
		return errors.New("snapshot connection carries no snapshot for this node")
	}
	status := statusOK
	if err := t.cfg.Handler.ReceiveSnapshot(ctx, shard, m, r); err != nil {
		t.log.Warn("snapshot receive failed", "shard", shard, "from", from, "err", err)
		status = statusRefused
	}
	_, err = c.Write([]byte{status})
	return err
}
