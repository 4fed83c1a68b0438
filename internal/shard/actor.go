package shard

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// actor is the state owned by the shard goroutine. Nothing in it is touched by any other
// goroutine, so nothing in it is locked; see the package doc.
type actor struct {
	s   *Shard
	cfg *Config
	db  *pebble.DB
	st  *storage
	rn  *raft.RawNode
	obs Observer
	log *slog.Logger

	// Raft view, refreshed from every Ready.
	term        uint64
	commit      uint64
	lead        uint64
	isLeader    bool
	singleVoter bool   // the ConfState's only voter is this node
	leaderStart uint64 // last index right after this node became leader of the current term

	// Proposals: the entry being built and the entries proposed but not yet applied.
	incarnation uint64
	nextSeq     uint64
	build       entryBuilder
	pending     pendingQueue
	// Entries proposed before leadership was lost, whose fate is still open (see
	// orphanPending): those with seq < orphanSeq (0: none) are failed once the applied index
	// reaches orphanIdx or the tick orphanDeadline comes, if they have not applied by then.
	orphanSeq      uint64
	orphanIdx      uint64
	orphanDeadline uint64

	// Apply.
	completions    []completion
	durableApplied uint64 // applied index known to be on stable storage
	lastTruncCheck uint64 // applied index at the last truncation attempt
	recent         recentEntries

	// Reads; see read.go.
	newReads   []*readReq
	rounds     map[uint64]*readRound // ReadIndex rounds awaiting their ReadState, by id
	waiting    []*readReq            // reads with a known index waiting for apply
	nextReadID uint64
	ticks      uint64 // ticks since start, the clock of read rounds
	// Followers' ReadIndex requests held back while a single voter has not committed its
	// term's first entry; see deferReadIndex.
	deferredReads []*raftpb.Message

	// Membership and snapshots; see membership.go, snapshot.go, install.go.
	conf        confView
	progress    map[uint64]PeerProgress // leader only; shared with Status, never modified
	confWait    *confWaiter
	confDone    []*confWaiter // applied in the batch being committed
	nextConfSeq uint64
	staged      map[uint64]*stagedSnap // received snapshots stepped in this iteration
	lastExpiry  time.Time
}

func newActor(s *Shard, st *storage) (*actor, error) {
	cfg := &s.cfg
	a := &actor{
		s:              s,
		cfg:            cfg,
		db:             cfg.DB,
		st:             st,
		obs:            cfg.Observer,
		log:            s.log,
		term:           st.hs.term,
		commit:         st.hs.commit,
		incarnation:    newIncarnation(),
		nextSeq:        1,
		durableApplied: st.applied,
		lastTruncCheck: st.applied,
		recent:         newRecentEntries(int(cfg.LogKeepEntries)),
		rounds:         make(map[uint64]*readRound),
		staged:         make(map[uint64]*stagedSnap),
		lastExpiry:     time.Now(),
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              cfg.NodeID,
		ElectionTick:    cfg.ElectionTicks,
		HeartbeatTick:   cfg.HeartbeatTicks,
		Storage:         st,
		Applied:         st.applied,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		// Apply batches stay bounded, and a leader that cannot commit stops growing its log
		// (further proposals are dropped and fail with ErrDropped).
		MaxCommittedSizePerReady:  8 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		// Followers answer ErrNotLeader instead of forwarding: a forwarded proposal can be
		// lost without notice, and the node forwards commands itself.
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    raftLogger{l: s.log},
	})
	if err != nil {
		return nil, err
	}
	a.rn = rn
	a.confChanged(st.conf)
	if a.singleVoter {
		// Nobody else can win an election: become leader now instead of after a timeout.
		if err := rn.Campaign(); err != nil {
			return nil, fmt.Errorf("shard %d: campaign: %w", cfg.ShardID, err)
		}
	}
	return a, nil
}

func isSingleVoter(cs *raftpb.ConfState, self uint64) bool {
	v := cs.GetVoters()
	return len(v) == 1 && v[0] == self && len(cs.GetVotersOutgoing()) == 0
}

// run is the shard goroutine.
func (a *actor) run() {
	defer close(a.s.loopDone)
	ticker := time.NewTicker(a.cfg.TickInterval)
	defer ticker.Stop()
	for {
		propC, readC := a.s.propC, a.s.readC
		if a.electingSelf() {
			// Leave proposals and reads queued (nil channels block) instead of failing
			// them with ErrNotLeader during the few Readies a single voter's election takes.
			propC, readC = nil, nil
		}
		if !a.rn.HasReady() {
			select {
			case <-a.s.stopC:
				a.shutdown()
				return
			case <-ticker.C:
				a.tick()
			case p := <-propC:
				a.addProposal(p)
			case m := <-a.s.recvC:
				a.step(m)
			case r := <-readC:
				a.newReads = append(a.newReads, r)
			case fn := <-a.s.ctrlC:
				fn(a)
			}
		}
		select {
		case <-a.s.stopC:
			a.shutdown()
			return
		default:
		}
		// Take everything else that is waiting: all of it goes into this Ready, which is
		// what batches proposals that arrived during the previous sync into one entry.
		a.drain(ticker.C, propC, readC)
		a.flushEntry()
		a.startReads()
		// The second round applies what the first one's sync just committed on a single
		// voter, before new proposals add another sync in front of it.
		for i := 0; i < 2 && a.rn.HasReady(); i++ {
			a.handleReady()
		}
		// A received snapshot that raft restored was installed by the first Ready; the
		// others were ignored by raft.
		if len(a.staged) > 0 {
			a.settleStaged(nil)
		}
	}
}

// drain handles, without blocking, what is queued on the actor's channels. It is bounded so
// that a steady stream of one kind cannot starve the Ready handling.
func (a *actor) drain(tickC <-chan time.Time, propC <-chan proposal, readC <-chan *readReq) {
	limit := 2*a.cfg.SubmitQueue + cap(a.s.recvC)
	for range limit {
		select {
		case <-tickC:
			a.tick()
		case p := <-propC:
			a.addProposal(p)
		case m := <-a.s.recvC:
			a.step(m)
		case r := <-readC:
			a.newReads = append(a.newReads, r)
		case fn := <-a.s.ctrlC:
			fn(a)
		default:
			return
		}
	}
}

// electingSelf reports whether this node is the group's only voter but not leader yet: it is
// then winning its own election, which takes a Ready or two (its votes must be persisted).
func (a *actor) electingSelf() bool { return a.singleVoter && !a.isLeader }

func (a *actor) tick() {
	a.ticks++
	a.rn.Tick()
	a.settleOrphans()
	a.sweepReads()
	a.refreshProgress()
	if now := time.Now(); now.Sub(a.lastExpiry) >= min(time.Second, a.cfg.SnapshotTTL) {
		a.lastExpiry = now
		a.expireSnapshots(now)
	}
}

func (a *actor) step(m *raftpb.Message) {
	if m.GetType() == raftpb.MsgUnreachable {
		a.rn.ReportUnreachable(m.GetFrom())
		return
	}
	if m.GetType() == raftpb.MsgReadIndex && a.deferReadIndex(m) {
		return
	}
	if err := a.rn.Step(m); err != nil {
		a.log.Debug("raft step", "type", m.GetType().String(), "from", m.GetFrom(), "err", err)
	}
}

// handleReady persists, sends, applies and advances one Ready; see the package doc for why
// in this order.
func (a *actor) handleReady() {
	rd := a.rn.Ready()
	lostLeadership, becameLeader, leaderChanged := false, false, false
	if ss := rd.SoftState; ss != nil {
		if ss.Lead != a.lead {
			leaderChanged = true
			a.lead = ss.Lead
			if a.obs != nil {
				a.obs.LeaderChanged(a.cfg.ShardID)
			}
		}
		was := a.isLeader
		a.isLeader = ss.RaftState == raft.StateLeader
		lostLeadership, becameLeader = was && !a.isLeader, !was && a.isLeader
	}
	termChanged := false
	if hs := rd.HardState; !raft.IsEmptyHardState(hs) {
		termChanged = hs.GetTerm() != a.term
		a.term, a.commit = hs.GetTerm(), hs.GetCommit()
	}
	if lostLeadership || termChanged {
		a.s.fastRead.Store(false)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		// Before the Ready's entries, which follow the snapshot, and its messages, which
		// acknowledge it. A Ready carrying a snapshot carries no committed entries.
		a.installSnapshot(&rd)
	}

	var ab *pebble.Batch
	if len(rd.CommittedEntries) > 0 {
		ab = a.db.NewIndexedBatch()
	}
	// Committed entries that were already durable before this Ready are applied (and their
	// proposers answered) before this Ready's new entries are synced: otherwise every write
	// would wait for two fsyncs, its own and that of the entries proposed while it was being
	// synced. Raft may hand over entries committed by the leader that this Ready is only now
	// appending (a follower catching up); those must be persisted first, as usual. The
	// HardState goes into the apply batch too, so the durable commit index never trails the
	// durable applied index (a restart with applied > commit would be refused).
	applyFirst := ab != nil && rd.CommittedEntries[len(rd.CommittedEntries)-1].GetIndex() <= a.st.lastIdx &&
		(len(rd.Entries) == 0 || rd.Entries[0].GetIndex() > rd.CommittedEntries[len(rd.CommittedEntries)-1].GetIndex())
	if applyFirst {
		if !raft.IsEmptyHardState(rd.HardState) {
			a.st.stageHardState(ab, rd.HardState)
		}
		a.apply(ab, rd.CommittedEntries)
		ab = nil
		if len(rd.Entries) == 0 && !rd.MustSync {
			rd.HardState = nil // already written with the applied index
		}
	}
	msgs := rd.Messages
	if a.isLeader && a.cfg.Transport != nil && !termChanged && len(rd.Entries) > 0 {
		// The leader's appends go out before its own fsync, which then overlaps the
		// followers' (Raft thesis §10.2.1). Safe: no vote or term change is pending in this
		// Ready, and commit advances only on acknowledgements stepped after this Ready,
		// once the leader's own write below has finished.
		msgs = a.sendEarly(msgs)
	}
	a.persist(&rd, ab)
	if a.isLeader && (becameLeader || termChanged) {
		// Raft appended the leader's empty entry in this Ready: once it is applied, so is
		// everything committed before this node took over.
		a.leaderStart = a.st.lastIdx
	}
	a.send(msgs)
	if ab != nil {
		a.apply(ab, rd.CommittedEntries)
	}
	// After applying, so that a proposal that did commit in this Ready is answered as such.
	if lostLeadership || termChanged {
		a.orphanPending()
		a.failConf(ErrTryAgain)
	}
	a.settleOrphans()
	a.readsAfterLeaderChange(lostLeadership, termChanged, leaderChanged)
	a.handleReadStates(rd.ReadStates)
	a.rn.Advance(rd)
	a.releaseReadIndex()
	a.maybeTruncate()
	a.updateFastRead()
	if becameLeader || lostLeadership {
		a.refreshProgress()
	}
	a.publishStatus()
}

// persist writes the Ready's entries and HardState. When only the commit index changed (no
// sync needed) and entries are about to be applied, the HardState joins the apply batch
// instead of costing a commit of its own.
func (a *actor) persist(rd *raft.Ready, ab *pebble.Batch) {
	hasHS := !raft.IsEmptyHardState(rd.HardState)
	if len(rd.Entries) == 0 && !hasHS {
		return
	}
	if !rd.MustSync && len(rd.Entries) == 0 && ab != nil {
		a.st.stageHardState(ab, rd.HardState)
		return
	}
	b := a.db.NewBatch()
	a.st.stageAppend(b, rd.Entries)
	if hasHS {
		a.st.stageHardState(b, rd.HardState)
	}
	if rd.MustSync {
		start := time.Now()
		a.mustCommit(b, pebble.Sync)
		// Pebble's WAL is sequential: this sync made every earlier NoSync apply durable.
		a.durableApplied = a.st.applied
		if a.obs != nil {
			a.obs.SyncDone(a.cfg.ShardID, time.Since(start))
		}
	} else {
		a.mustCommit(b, pebble.NoSync)
	}
	_ = b.Close()
}

func (a *actor) mustCommit(b *pebble.Batch, opts *pebble.WriteOptions) {
	if err := b.Commit(opts); err != nil {
		// The in-memory raft state already moved on; continuing would diverge from disk.
		panic(fmt.Sprintf("shard %d: commit raft batch: %v", a.cfg.ShardID, err))
	}
}

// sendEarly sends the appends and heartbeats among msgs and returns the others, which must
// wait until the Ready is persisted.
func (a *actor) sendEarly(msgs []*raftpb.Message) []*raftpb.Message {
	var early, late []*raftpb.Message
	for _, m := range msgs {
		switch m.GetType() {
		case raftpb.MsgApp, raftpb.MsgHeartbeat:
			early = append(early, m)
		default:
			late = append(late, m)
		}
	}
	if len(early) > 0 {
		a.cfg.Transport.Send(a.cfg.ShardID, early)
	}
	return late
}

func (a *actor) send(msgs []*raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	a.noteSentSnapshots(msgs)
	if a.cfg.Transport == nil {
		return
	}
	a.cfg.Transport.Send(a.cfg.ShardID, msgs)
}

func (a *actor) publishStatus() {
	st := Status{
		ShardID:    a.cfg.ShardID,
		NodeID:     a.cfg.NodeID,
		LeaderID:   a.lead,
		Term:       a.term,
		Commit:     a.commit,
		Applied:    a.st.applied,
		LastIndex:  a.st.lastIdx,
		FirstIndex: a.st.truncIdx + 1,
		IsLeader:   a.isLeader,

		Voters:         a.conf.voters,
		VotersOutgoing: a.conf.votersOutgoing,
		Learners:       a.conf.learners,
		LearnersNext:   a.conf.learnersNext,
		Progress:       a.progress,
	}
	a.s.statusMu.Lock()
	a.s.status = st
	a.s.statusMu.Unlock()
}

// shutdown answers everything still waiting with ErrStopped. Submits racing with it are
// answered by Stop after the goroutine is gone.
func (a *actor) shutdown() {
	a.s.fastRead.Store(false)
	a.failPending(ErrStopped)
	a.failConf(ErrStopped)
	a.settleStaged(ErrStopped)
	a.failDones(a.build.dones, ErrStopped)
	a.build.dones = clearSlice(a.build.dones)
	a.build.payloads = clearSlice(a.build.payloads)
	for {
		select {
		case p := <-a.s.propC:
			a.s.finish(p.done, nil, ErrStopped)
			a.failed(1)
			continue
		default:
		}
		break
	}
	a.failReads(ErrStopped)
	for _, r := range a.newReads {
		r.answer(ErrStopped)
	}
	a.newReads = nil
	a.isLeader, a.lead = false, 0
	a.progress = nil
	a.publishStatus()
}

func (a *actor) failed(n int) {
	if a.obs != nil && n > 0 {
		a.obs.ProposalsFailed(a.cfg.ShardID, n)
	}
}

// clearSlice zeroes and truncates s, keeping its capacity for reuse without pinning garbage.
func clearSlice[T any](s []T) []T {
	clear(s)
	return s[:0]
}
