package consensus

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Forwarder carries a follower's requests to the leader's API. The cluster
// package implements it over HTTP; consensus knows nothing of the wire.
type Forwarder interface {
	// Propose has the leader propose an encoded command.
	Propose(ctx context.Context, leaderHTTP string, cmd []byte) (fsm.Result, int64, error)
	// ReadIndex asks the leader for a commit index it has confirmed it
	// still leads at.
	ReadIndex(ctx context.Context, leaderHTTP string) (int64, error)
	// KeepAlive renews sessions on the leader's lease clock and returns the
	// ones it does not know.
	KeepAlive(ctx context.Context, leaderHTTP string, ids []api.ID) ([]api.ID, error)
	// AddMember and RemoveMember change the membership through the leader.
	AddMember(ctx context.Context, leaderHTTP string, m api.MemberRequest) error
	RemoveMember(ctx context.Context, leaderHTTP string, id string) error
}

var errNoLeader = api.Unavailable("no leader: an election is in progress or this node cannot reach a quorum")

// leaderAPI waits (within ctx and twice the election timeout) until a
// leader is known, and returns its API address; "" when this node leads.
func (n *Node) leaderAPI(ctx context.Context) (string, error) {
	deadline := time.Now().Add(2 * n.cfg.ElectionTime)
	for {
		_, id := n.raft.LeaderWithID()
		if id == raft.ServerID(n.cfg.ID) && n.raft.State() == raft.Leader {
			return "", nil
		}
		if id != "" {
			if m, ok := n.tree.Member(string(id)); ok && m.HTTPAddr != "" {
				return m.HTTPAddr, nil
			}
		}
		if time.Now().After(deadline) {
			if id != "" {
				return "", api.Unavailable("the leader's API address is not known here yet")
			}
			return "", errNoLeader
		}
		select {
		case <-ctx.Done():
			return "", errNoLeader
		case <-n.stopped.Done():
			return "", errStopping
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// onLeader is the one place that decides where a request runs: local
// when this node leads, else remote with the leader's API address, once a
// leader is known (within ctx and twice the election timeout).
func onLeader[T any](ctx context.Context, n *Node, local func() (T, error), remote func(leader string) (T, error)) (T, error) {
	var zero T
	addr, err := n.leaderAPI(ctx)
	switch {
	case err != nil:
		return zero, err
	case addr == "":
		return local()
	case n.cfg.Forwarder == nil:
		return zero, api.Unavailable("%s", errNotForwardable)
	}
	return remote(addr)
}

func (n *Node) leaderReadIndex(ctx context.Context) (int64, error) {
	return onLeader(ctx, n,
		func() (int64, error) { return n.LeaderReadIndex(ctx) },
		func(leader string) (int64, error) { return n.cfg.Forwarder.ReadIndex(ctx, leader) })
}

// forwardKeepAlives sends one batch of a follower's keep-alives to the
// leader and returns the sessions it does not know.
func (n *Node) forwardKeepAlives(ctx context.Context, ids []api.ID) (map[api.ID]bool, error) {
	unknown, err := onLeader(ctx, n,
		func() ([]api.ID, error) { return n.LeaderKeepAlive(ids), nil },
		func(leader string) ([]api.ID, error) { return n.cfg.Forwarder.KeepAlive(ctx, leader, ids) })
	if err != nil {
		return nil, err
	}
	out := make(map[api.ID]bool, len(unknown))
	for _, id := range unknown {
		out[id] = true
	}
	return out, nil
}

// LeaderPropose proposes an encoded command on behalf of a follower. It
// never forwards again: a node that is not the leader says so.
func (n *Node) LeaderPropose(ctx context.Context, data []byte) (fsm.Result, int64, error) {
	// Decoded only to be checked: an entry no FSM can read must never
	// reach the log. The follower's bytes are proposed as they came.
	if _, err := fsm.Decode(data); errors.Is(err, fsm.ErrUnknownVersion) {
		// A newer follower, mid-upgrade: the leader must not log what it
		// cannot apply. Once the leader is upgraded too, it goes through.
		return fsm.Result{}, 0, api.Unavailable("the leader runs an older Canopy that cannot read this command: %v", err)
	} else if err != nil {
		return fsm.Result{}, 0, api.BadArguments("", "undecodable forwarded command")
	}
	if n.raft.State() != raft.Leader {
		return fsm.Result{}, 0, api.Unavailable("this node is no longer the leader")
	}
	return n.proposeEncoded(ctx, data)
}

// LeaderReadIndex is the read index a follower's linearizable read waits
// for: the commit index, confirmed by a leadership check that starts after
// it was read.
func (n *Node) LeaderReadIndex(ctx context.Context) (int64, error) {
	if n.raft.State() != raft.Leader {
		return 0, api.Unavailable("this node is not the leader")
	}
	if !n.ready.Load() {
		return 0, api.Unavailable("leader is not ready yet")
	}
	index := int64(n.raft.CommitIndex())
	n.metrics.linearizedReads.Inc()
	if err := n.verify.check(ctx); err != nil {
		return 0, err
	}
	return index, nil
}

// LeaderKeepAlive renews the sessions on this leader's lease clock and
// returns those it does not know.
func (n *Node) LeaderKeepAlive(ids []api.ID) []api.ID {
	var unknown []api.ID
	for _, id := range ids {
		info, _, err := n.tree.Session(id)
		if err != nil {
			unknown = append(unknown, id)
			continue
		}
		n.lease.touch(id, info.TimeoutMs)
	}
	return unknown
}

// errNotForwardable is returned when a follower has no way to reach the
// leader (a node built without a Forwarder).
var errNotForwardable = errors.New("this node cannot forward to the leader")
