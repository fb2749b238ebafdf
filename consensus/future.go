package consensus

import (
	"context"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
)

// errGaveUp answers a caller whose context ended before raft answered: the
// command may still commit, so the outcome is unknown (DESIGN §4).
var errGaveUp = &api.Error{Code: api.CodeUnavailable,
	Message: "gave up waiting for raft; the write may or may not have happened, re-read before retrying"}

// errStopping answers a caller whose wait the node's Close ended.
var errStopping = api.Unavailable("node is shutting down")

// await waits for a raft future, but never longer than ctx and the node's
// life. hashicorp/raft does not promise to answer every future: one that
// enters the buffered apply channel (BatchApplyCh) as raft shuts down is
// never answered (hashicorp/raft#498), so no caller may block on
// f.Error() directly. The future's own wait runs on a goroutine of its own;
// if raft never answers, that goroutine is all that stays behind, never
// the caller or Close.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	return n.awaitCall(ctx, f.Error)
}

// awaitCall is await for a raft call that waits on futures inside itself,
// such as Restore.
func (n *Node) awaitCall(ctx context.Context, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errGaveUp
	case <-n.stopped.Done():
		// raft may have answered in the same instant: prefer its answer.
		select {
		case err := <-done:
			return err
		default:
			return errStopping
		}
	}
}
