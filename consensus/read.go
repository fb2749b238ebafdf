package consensus

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
)

// Linearize waits until the local tree reflects every write committed
// before the call: the read index is the leader's commit index, confirmed by
// a leadership check that starts after the call, and the read waits for the
// apply to reach it. Concurrent reads share one leadership check.
//
// On a follower the read index comes from the leader (one round trip shared
// by concurrent reads) and the data is then read locally: the leader never
// serves the follower's data.
func (n *Node) Linearize(ctx context.Context) error {
	_, err := onLeader(ctx, n,
		func() (struct{}, error) {
			index, err := n.LeaderReadIndex(ctx)
			if err != nil {
				return struct{}{}, err
			}
			return struct{}{}, n.WaitApplied(ctx, index)
		},
		func(string) (struct{}, error) {
			index, err := n.readIndexes.join(ctx, struct{}{})
			if err != nil {
				return struct{}{}, err
			}
			return struct{}{}, n.waitAppliedWhileLed(ctx, index)
		})
	return err
}

// waitAppliedWhileLed is WaitApplied for a follower's linearizable read: a
// follower cut off from the leader would wait for entries that never come,
// so the wait ends with Unavailable as soon as it no longer has a leader.
func (n *Node) waitAppliedWhileLed(ctx context.Context, index int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	go func() {
		tick := time.NewTicker(n.cfg.ElectionTime / 4)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, id := n.raft.LeaderWithID(); id == "" {
					close(lost)
					cancel()
					return
				}
			}
		}
	}()
	err := n.WaitApplied(ctx, index)
	select {
	case <-lost:
		return errNoLeader
	default:
		return err
	}
}

// Await waits until a read may be served from the local tree: after the
// linearizable check when asked for, and once minZxid has applied (0: no
// wait), within ctx.
func (n *Node) Await(ctx context.Context, linearizable bool, minZxid int64) error {
	if linearizable {
		if err := n.Linearize(ctx); err != nil {
			return err
		}
	}
	if minZxid > 0 {
		return n.WaitApplied(ctx, minZxid)
	}
	return nil
}

// WaitApplied waits until the local tree has applied index, within ctx and
// the node's life.
func (n *Node) WaitApplied(ctx context.Context, index int64) error {
	if n.applied.get() >= index {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(n.stopped, cancel)()
	defer cancel()
	if err := n.applied.wait(ctx, index); err != nil {
		if n.stopped.Err() != nil {
			return errStopping
		}
		return api.OperationTimeout("the node has not applied the requested zxid in time")
	}
	return nil
}

// verifier batches leadership checks: reads that arrive while a check is
// running share the next one.
type verifier struct {
	raft    *raft.Raft
	metrics *metrics
	rounds  *batcher[struct{}, struct{}]
}

func newVerifier(n *Node) *verifier {
	v := &verifier{raft: n.raft, metrics: n.metrics}
	v.rounds = newBatcher(n.stopped, func(ctx context.Context, _ []struct{}) (struct{}, error) {
		v.metrics.verifyRounds.Inc()
		if err := n.await(ctx, v.raft.VerifyLeader()); err != nil {
			return struct{}{}, raftError(err)
		}
		return struct{}{}, nil
	}, api.OperationTimeout("leadership check timed out"))
	return v
}

func (v *verifier) check(ctx context.Context) error {
	if v.soleVoter() {
		return nil
	}
	_, err := v.rounds.join(ctx, struct{}{})
	return err
}

// soleVoter reports whether this leader is the only voter of the latest
// configuration (committed or not): then no other node can be elected, and
// leadership needs no confirming round trip, as raft's own verifyLeader
// answers at once for a quorum of one.
func (v *verifier) soleVoter() bool {
	if v.raft.State() != raft.Leader {
		return false
	}
	voters := 0
	for _, s := range v.raft.GetConfiguration().Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	return voters == 1
}
