package consensus

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/fsm"
)

// An entry this binary cannot read, in the log, means a newer Canopy wrote
// it (or the log is damaged). Applying past it would fork the replica from
// the others, so the node never does: at start, Open reads every entry
// raft will replay and refuses to start on one it cannot decode; at run
// time (an entry from a newer leader) the FSM applies nothing from it on
// and the node stops itself, and the server exits with the reason.

// UnreadableEntryError is a raft log entry this version cannot decode.
type UnreadableEntryError struct {
	Index uint64
	Err   error // fsm.ErrUnknownVersion or fsm.ErrCorrupt, wrapped
}

func (e *UnreadableEntryError) Error() string {
	advice := "it was written by a newer Canopy; run that version, or restore from a backup"
	if !errors.Is(e.Err, fsm.ErrUnknownVersion) {
		advice = "the log is damaged, or a newer Canopy wrote it; run that version, or restore from a backup"
	}
	return fmt.Sprintf("raft log entry %d cannot be read: %v: %s", e.Index, e.Err, advice)
}

func (e *UnreadableEntryError) Unwrap() error { return e.Err }

// checkLog decodes every command in the log after the latest snapshot:
// the entries raft replays into the tree when the node starts. Reading an
// entry (raft-boltdb's transaction and msgpack) costs far more than
// decoding it, so the range is read in parallel, in contiguous parts.
func checkLog(logs raft.LogStore, snaps raft.SnapshotStore) error {
	var after uint64
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) > 0 {
		after = metas[0].Index // the newest: List sorts them so
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("read raft log: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("read raft log: %w", err)
	}
	lo := max(first, after+1)
	if last == 0 || lo > last {
		return nil
	}
	n := last - lo + 1
	size := max((n+checkLogParts-1)/checkLogParts, checkLogMinPart)
	errs := make([]error, (n+size-1)/size)
	var wg sync.WaitGroup
	for i := range errs {
		from := lo + uint64(i)*size
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = checkEntries(logs, from, min(from+size-1, last))
		}()
	}
	wg.Wait()
	for _, err := range errs { // the first entry that fails
		if err != nil {
			return err
		}
	}
	return nil
}

// The log is read in at most checkLogParts parts, of checkLogMinPart
// entries at least.
const (
	checkLogParts   = 8
	checkLogMinPart = 2048
)

func checkEntries(logs raft.LogStore, from, to uint64) error {
	var l raft.Log
	for i := from; i <= to; i++ {
		if err := logs.GetLog(i, &l); err != nil {
			return fmt.Errorf("read raft log entry %d: %w", i, err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if _, err := fsm.Decode(l.Data); err != nil {
			return &UnreadableEntryError{Index: i, Err: err}
		}
	}
	return nil
}

// halter records why the node stopped itself.
type halter struct {
	mu   sync.Mutex
	done chan struct{} // closed on halt; made on first use
	err  error
}

func (h *halter) ch() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done == nil {
		h.done = make(chan struct{})
	}
	return h.done
}

// set records err unless a reason is already recorded; true the first time.
func (h *halter) set(err error) bool {
	done := h.ch()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return false
	}
	h.err = err
	close(done)
	return true
}

// Halted is closed when the node has stopped itself because raft gave it
// an entry it cannot read (see HaltErr). It is then closing itself; Close
// may still be called, and returns once that close is done. A server
// should stop and exit non-zero with HaltErr's message.
func (n *Node) Halted() <-chan struct{} { return n.halt.ch() }

// HaltErr is why the node stopped itself, once Halted is closed; nil
// before. It wraps an *UnreadableEntryError.
func (n *Node) HaltErr() error {
	n.halt.mu.Lock()
	defer n.halt.mu.Unlock()
	return n.halt.err
}

// stopOnUnreadable is the FSM's halt: it runs on raft's apply goroutine,
// which Close waits for (through raft's Shutdown), so the node closes on a
// goroutine of its own.
func (n *Node) stopOnUnreadable(err error) {
	if !n.halt.set(err) {
		return
	}
	ev := n.log.Error().Err(err)
	var ue *UnreadableEntryError
	if errors.As(err, &ue) {
		ev = ev.Uint64("index", ue.Index)
	}
	ev.Msg("stopping this node: raft committed an entry it cannot apply")
	go func() {
		if err := n.Close(); err != nil {
			n.log.Error().Err(err).Msg("close after halting")
		}
	}()
}
