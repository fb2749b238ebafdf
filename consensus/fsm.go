package consensus

import (
	"fmt"
	"io"

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
}

var _ raft.BatchingFSM = (*raftFSM)(nil)

// applyResponse is what a raft future's Response holds for a command.
type applyResponse struct {
	result fsm.Result
}

func (f *raftFSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *raftFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	entries := make([]fsm.Entry, len(logs))
	for i, l := range logs {
		entries[i].Zxid = int64(l.Index)
		if l.Type != raft.LogCommand {
			continue
		}
		cmd, err := fsm.Decode(l.Data)
		if err != nil {
			// Only this binary writes the log: an entry it cannot read means
			// corruption or a downgrade, and applying past it would fork.
			panic(fmt.Sprintf("consensus: undecodable raft entry %d: %v", l.Index, err))
		}
		entries[i].Cmd = cmd
	}
	outcomes := f.tree.ApplyBatch(entries)
	resps := make([]interface{}, len(logs))
	events := 0
	for i, o := range outcomes {
		resps[i] = &applyResponse{result: o.Result}
		events += len(o.Events)
	}
	f.metrics.applyBatch.Observe(float64(len(logs)))
	f.metrics.events.Add(float64(events))
	f.applied.set(int64(logs[len(logs)-1].Index))
	return resps
}

func (f *raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.tree.Snapshot()}, nil
}

func (f *raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
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
