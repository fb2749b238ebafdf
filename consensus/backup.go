package consensus

import (
	"bufio"
	"context"
	"errors"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// WriteBackup writes a consistent snapshot of the local tree to w. Callers
// that want every acknowledged write in it linearize first.
func (n *Node) WriteBackup(w io.Writer) (int64, error) {
	return n.tree.Snapshot().WriteTo(w)
}

// RestoreBackup replaces the whole cluster's state with a backup written
// by WriteBackup: the leader takes it as a raft snapshot and installs it on
// the followers. It is for disaster recovery into a fresh cluster; the
// cluster keeps its own membership.
//
// size is the backup's length in bytes: raft checks it.
func (n *Node) RestoreBackup(ctx context.Context, r io.Reader, size int64) error {
	if n.raft.State() != raft.Leader || !n.ready.Load() {
		msg := "restore a backup through the leader"
		if addr, id := n.raft.LeaderWithID(); addr != "" {
			if m, ok := n.tree.Member(string(id)); ok && m.HTTPAddr != "" {
				msg += " (" + m.HTTPAddr + ")"
			}
		}
		return api.Unavailable("%s", msg)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(32)
	applied, err := fsm.SnapshotApplied(head)
	if err != nil {
		return api.BadArguments("", "%v", err)
	}
	// raft puts the restored state at max(meta.Index, its last index) + 1:
	// giving it the backup's applied index keeps every zxid in the backup
	// below every zxid the cluster assigns afterwards.
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: uint64(applied), Size: size}
	restore := func() error { return n.raft.Restore(meta, br, 10*time.Minute) }
	if err := n.awaitCall(ctx, restore); err != nil {
		var ae *api.Error
		switch {
		case errors.As(err, &ae):
			return ae
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
			errors.Is(err, raft.ErrRaftShutdown), errors.Is(err, raft.ErrEnqueueTimeout):
			return raftError(err)
		}
		return api.BadArguments("", "the backup could not be restored: %v", err)
	}
	// raft ends a restore on a no-op entry the FSM never sees; commit a
	// barrier so that the commit index names an entry the tree has applied.
	_, _, err = n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpBarrier, Time: time.Now().UnixMilli()})
	return err
}
