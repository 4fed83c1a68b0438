package shard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
)

// frameVersion is the first byte of every normal entry the shard proposes; see the package
// doc for the format. An unknown version makes apply panic: skipping an entry would make this
// replica diverge from the others.
const frameVersion byte = 1

// entryBuilder accumulates the payloads of the entry being built. Its slices are reused from
// one entry to the next.
type entryBuilder struct {
	payloads [][]byte
	dones    []func(any, error)
	size     int // framed size of the payloads (length prefixes included)
	bytes    int // payload bytes, compared against MaxBatchBytes
}

// pendingEntry is an entry proposed by this incarnation and not yet applied.
type pendingEntry struct {
	seq   uint64
	dones []func(any, error) // one per payload, in payload order
}

// pendingQueue holds pendingEntries in seq order.
type pendingQueue struct {
	items []pendingEntry
	head  int
}

func (q *pendingQueue) len() int { return len(q.items) - q.head }

func (q *pendingQueue) push(e pendingEntry) { q.items = append(q.items, e) }

func (q *pendingQueue) front() *pendingEntry { return &q.items[q.head] }

func (q *pendingQueue) pop() pendingEntry {
	e := q.items[q.head]
	q.items[q.head] = pendingEntry{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 64 && q.head > len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return e
}

// completion is a waiter to answer once the apply batch holding its result is committed.
type completion struct {
	done   func(any, error)
	result any
}

// addProposal adds one submitted payload to the entry being built, proposing the entry
// first if the payload would push it over MaxBatchBytes.
func (a *actor) addProposal(p proposal) {
	b := &a.build
	if len(b.payloads) > 0 && b.bytes+len(p.payload) > a.cfg.MaxBatchBytes {
		a.flushEntry()
	}
	b.payloads = append(b.payloads, p.payload)
	b.dones = append(b.dones, p.done)
	b.size += uvarintLen(uint64(len(p.payload))) + len(p.payload)
	b.bytes += len(p.payload)
}

// flushEntry proposes the entry being built, if any.
func (a *actor) flushEntry() {
	b := &a.build
	if len(b.payloads) == 0 {
		return
	}
	seq := a.nextSeq
	a.nextSeq++
	data := encodeEntry(a.cfg.NodeID, a.incarnation, seq, b.payloads, b.size)
	dones := make([]func(any, error), len(b.dones))
	copy(dones, b.dones)
	b.payloads = clearSlice(b.payloads)
	b.dones = clearSlice(b.dones)
	b.size, b.bytes = 0, 0

	if err := a.rn.Propose(data); err != nil {
		a.failDones(dones, a.proposeErr(err))
		return
	}
	a.pending.push(pendingEntry{seq: seq, dones: dones})
}

// proposeErr maps a refused proposal to the caller's error. With forwarding disabled raft
// refuses proposals on every non-leader, and on a leader that is transferring leadership or
// holds too much uncommitted log.
func (a *actor) proposeErr(err error) error {
	if !errors.Is(err, raft.ErrProposalDropped) {
		a.log.Warn("raft propose", "err", err)
	}
	if bs := a.rn.BasicStatus(); bs.RaftState != raft.StateLeader {
		return NotLeaderError{LeaderID: bs.Lead}
	}
	return ErrDropped
}

func (a *actor) failDones(dones []func(any, error), err error) {
	for _, d := range dones {
		a.s.finish(d, nil, err)
	}
	a.failed(len(dones))
}

// failPending fails every proposed entry that has not been applied.
func (a *actor) failPending(err error) {
	for a.pending.len() > 0 {
		e := a.pending.pop()
		a.failDones(e.dones, err)
	}
}

// orphanElections is how many election timeouts orphaned entries wait to learn their fate:
// long enough for the other replicas to notice the old leader is gone and elect a new one,
// which is also how long a request waits for a leader before the node answers CLUSTERDOWN.
const orphanElections = 2

// orphanPending is called when leadership is lost or the term changes, after the Ready's
// committed entries were applied. The entries still pending may yet commit: a leadership
// transfer hands over only once the transferee has every entry, and any new leader may hold
// some of them. Failing them at once would tell their callers "outcome unknown" for writes
// that are about to succeed, as every transfer made by the node's balancer would. So they
// stay pending and are answered by apply, through takePending, if they commit. Every one of
// them has an index at or below the last index now in the log (entries past it were cut off
// by the new leader), so once the applied index reaches that, those not applied are lost;
// orphanElections election timeouts bound the wait on a replica that hears from no leader
// (a minority).
// Failing one early is always safe: ErrTryAgain is ambiguous, and an entry that commits
// later is still applied, only without a waiter.
func (a *actor) orphanPending() {
	if a.pending.len() == 0 {
		return
	}
	a.orphanSeq = a.nextSeq
	a.orphanIdx = max(a.orphanIdx, a.st.lastIdx)
	a.orphanDeadline = a.ticks + uint64(orphanElections*a.cfg.ElectionTicks)
}

// settleOrphans fails the orphaned entries whose fate apply can no longer decide (see
// orphanPending), and forgets the orphans once none is pending.
func (a *actor) settleOrphans() {
	if a.orphanSeq == 0 {
		return
	}
	if a.st.applied >= a.orphanIdx || a.ticks >= a.orphanDeadline {
		for a.pending.len() > 0 && a.pending.front().seq < a.orphanSeq {
			e := a.pending.pop()
			a.failDones(e.dones, ErrTryAgain)
		}
	}
	if a.pending.len() == 0 || a.pending.front().seq >= a.orphanSeq {
		a.orphanSeq, a.orphanIdx, a.orphanDeadline = 0, 0, 0
	}
}

// takePending returns the waiters of this incarnation's entry seq, failing the entries
// proposed before it that were lost (see the package doc), or nil if seq has no waiters any
// more.
func (a *actor) takePending(seq uint64) []func(any, error) {
	for a.pending.len() > 0 && a.pending.front().seq < seq {
		e := a.pending.pop()
		a.failDones(e.dones, ErrTryAgain)
	}
	if a.pending.len() > 0 && a.pending.front().seq == seq {
		return a.pending.pop().dones
	}
	return nil
}

// encodeEntry frames payloads into one entry's data. size is the framed size of the payloads.
func encodeEntry(node, incarnation, seq uint64, payloads [][]byte, size int) []byte {
	n := 1 + uvarintLen(node) + 8 + uvarintLen(seq) + uvarintLen(uint64(len(payloads))) + size
	b := make([]byte, 0, n)
	b = append(b, frameVersion)
	b = binary.AppendUvarint(b, node)
	b = binary.BigEndian.AppendUint64(b, incarnation)
	b = binary.AppendUvarint(b, seq)
	b = binary.AppendUvarint(b, uint64(len(payloads)))
	for _, p := range payloads {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// frame is a decoded entry header; body holds the length-prefixed payloads.
type frame struct {
	node, incarnation, seq, count uint64
	body                          []byte
}

func decodeFrame(data []byte) (frame, error) {
	var f frame
	if len(data) == 0 || data[0] != frameVersion {
		return f, errors.New("unknown entry format")
	}
	rest := data[1:]
	var ok bool
	if f.node, rest, ok = uvarint(rest); !ok {
		return f, errors.New("bad node id")
	}
	if len(rest) < 8 {
		return f, errors.New("short header")
	}
	f.incarnation, rest = binary.BigEndian.Uint64(rest), rest[8:]
	if f.seq, rest, ok = uvarint(rest); !ok {
		return f, errors.New("bad seq")
	}
	if f.count, rest, ok = uvarint(rest); !ok {
		return f, errors.New("bad count")
	}
	f.body = rest
	return f, nil
}

// next returns the next payload of the frame's body.
func (f *frame) next() ([]byte, error) {
	n, rest, ok := uvarint(f.body)
	if !ok || n > uint64(len(rest)) {
		return nil, fmt.Errorf("bad payload length")
	}
	p := rest[:n:n]
	f.body = rest[n:]
	return p, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
