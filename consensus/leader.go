package consensus

import (
	"context"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// watchLeadership runs the leader's duties while this node leads.
func (n *Node) watchLeadership() {
	var current *leaderRun
	defer func() { current.stop() }()
	for {
		select {
		case <-n.stopped.Done():
			return
		case leader := <-n.notifyCh:
			current.stop()
			current = nil
			if leader {
				current = n.startLeading()
			}
		}
	}
}

// leaderRun is one term of leading: its loop and the way to end it.
type leaderRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (n *Node) startLeading() *leaderRun {
	ctx, cancel := context.WithCancel(n.stopped)
	run := &leaderRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(run.done)
		n.lead(ctx)
	}()
	return run
}

func (r *leaderRun) stop() {
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// lead is the leader's loop: commit a barrier so that the state is current,
// start the lease clock, then expire sessions and reap nodes until
// leadership ends. Its proposals are local only: a node that has lost
// leadership must not have another leader act on its clock.
func (n *Node) lead(ctx context.Context) {
	defer func() {
		n.ready.Store(false)
		n.lease.demote()
	}()
	if !n.commitBarrier(ctx) {
		return
	}
	n.lease.promote(time.Now(), n.tree.SessionTimeouts())
	n.ready.Store(true)
	n.log.Info().Int64("applied", n.Applied()).Msg("leading")

	leaseTick := time.NewTicker(n.cfg.LeaseTick)
	defer leaseTick.Stop()
	reapTick := time.NewTicker(n.cfg.ReapInterval)
	defer reapTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-leaseTick.C:
			for _, id := range n.lease.expired(now, n.tree.SessionTimeouts()) {
				n.expire(ctx, id)
			}
		case now := <-reapTick.C:
			for _, p := range n.tree.ReapCandidates(now.UnixMilli()) {
				n.reap(ctx, p, now)
			}
			n.pruneMembers(ctx)
		}
	}
}

// commitBarrier commits an OpBarrier, retrying until it applies or
// leadership ends. After it, the commit index names an entry the FSM sees,
// which linearizable reads rely on.
func (n *Node) commitBarrier(ctx context.Context) bool {
	for {
		_, _, err := n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpBarrier, Time: time.Now().UnixMilli()})
		if err == nil {
			return true
		}
		n.log.Warn().Err(err).Msg("leader barrier failed; retrying")
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *Node) expire(ctx context.Context, id api.ID) {
	_, _, err := n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpExpireSession, Session: id, Time: time.Now().UnixMilli()})
	if err != nil {
		n.log.Warn().Err(err).Stringer("session", id).Msg("expire session")
		return
	}
	n.metrics.expired.Inc()
	n.log.Info().Stringer("session", id).Msg("session expired")
}

func (n *Node) reap(ctx context.Context, p string, now time.Time) {
	_, _, err := n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpReap, Path: p, Time: now.UnixMilli()})
	if err != nil {
		n.log.Warn().Err(err).Str("path", p).Msg("reap node")
		return
	}
	n.metrics.reaped.Inc()
}

// pruneMembers forgets the member records of nodes that are not in the
// raft configuration, such as those a restored backup brought from the
// cluster it was taken on.
func (n *Node) pruneMembers(ctx context.Context) {
	conf := n.raft.GetConfiguration()
	if conf.Error() != nil {
		return
	}
	inConfig := make(map[string]bool)
	for _, s := range conf.Configuration().Servers {
		inConfig[string(s.ID)] = true
	}
	for _, m := range n.tree.Members() {
		if !inConfig[m.ID] {
			if _, _, err := n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpRemoveMember, Path: m.ID, Time: time.Now().UnixMilli()}); err != nil {
				return
			}
		}
	}
}
