package consensus

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// EventSink receives the change events of every applied batch, in zxid
// order, on raft's apply goroutine while the tree is locked: it must not
// block. Reset tells it the tree was replaced by a snapshot at applied.
type EventSink interface {
	Publish(events []api.Event)
	Reset(applied int64)
}

// raftFSM adapts the tree to raft.BatchingFSM.
type raftFSM struct {
	tree    *fsm.Tree
	applied *appliedIndex
	sink    EventSink
	metrics *metrics
	// halt stops the node when an entry cannot be decoded (see
	// logcheck.go); it must not block. From then on the FSM applies
	// nothing, and takes no snapshot: the log past the last applied entry
	// must stay in the log, for the version that can read it.
	halt    func(error)
	stopped atomic.Bool
	// onApplied runs after each applied batch (the leader's commit notices).
	onApplied func()
}

var _ raft.BatchingFSM = (*raftFSM)(nil)

// applyResponse is what a raft future's Response holds for a command.
type applyResponse struct {
	result fsm.Result
}

// notApplied answers an entry a halted FSM does not apply.
func notApplied() *applyResponse {
	return &applyResponse{result: fsm.Result{Err: &api.Error{Code: api.CodeUnavailable,
		Message: "this node stopped: the raft log holds an entry it cannot read"}}}
}

func (f *raftFSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *raftFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	resps := make([]interface{}, len(logs))
	entries := make([]fsm.Entry, 0, len(logs))
	for _, l := range logs {
		if f.stopped.Load() {
			break
		}
		e := fsm.Entry{Zxid: int64(l.Index)}
		if l.Type == raft.LogCommand {
			cmd, err := fsm.Decode(l.Data)
			if err != nil {
				// Only a newer version writes what this one cannot read
				// (or the log is damaged): applying past it would fork
				// this replica from the others.
				f.stopped.Store(true)
				if f.halt != nil {
					f.halt(&UnreadableEntryError{Index: l.Index, Err: err})
				}
				break
			}
			e.Cmd = cmd
		}
		entries = append(entries, e)
	}
	for i := len(entries); i < len(logs); i++ {
		resps[i] = notApplied()
	}
	if len(entries) == 0 {
		return resps
	}
	outcomes := f.tree.ApplyBatch(entries)
	events := 0
	for i, o := range outcomes {
		resps[i] = &applyResponse{result: o.Result}
		events += len(o.Events)
	}
	f.metrics.applyBatch.Observe(float64(len(entries)))
	f.metrics.events.Add(float64(events))
	f.applied.set(entries[len(entries)-1].Zxid)
	if f.onApplied != nil {
		f.onApplied()
	}
	return resps
}

// errStopped refuses a snapshot or a restore once the FSM has stopped.
var errStopped = errors.New("the state machine stopped at an entry it cannot read")

func (f *raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	if f.stopped.Load() {
		return nil, errStopped
	}
	return &fsmSnapshot{snap: f.tree.Snapshot()}, nil
}

func (f *raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if f.stopped.Load() {
		return errStopped
	}
	if err := f.tree.Restore(rc); err != nil {
		return err
	}
	if f.sink != nil {
		f.sink.Reset(f.tree.Applied())
	}
	f.applied.set(f.tree.Applied())
	return nil
}

type fsmSnapshot struct {
	snap *fsm.Snapshot
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
