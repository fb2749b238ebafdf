package consensus

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// registerSelf records this node's addresses in the replicated member list
// until the record is there and current: a leader does it directly, a
// follower through the leader once it knows the leader's address.
func (n *Node) registerSelf() {
	for {
		want := fsm.Member{ID: n.cfg.ID, RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAdvertise}
		if got, ok := n.tree.Member(n.cfg.ID); ok && got == want {
			select {
			case <-n.stopped.Done():
				return
			case <-time.After(time.Second): // check again: a restore may drop it
			}
			continue
		}
		ctx, cancel := context.WithTimeout(n.stopped, 2*time.Second)
		_, _, err := n.Propose(ctx, &fsm.Command{Op: fsm.OpSetMember, Path: want.ID, RaftAddr: want.RaftAddr, HTTPAddr: want.HTTPAddr})
		cancel()
		wait := 50 * time.Millisecond
		if err != nil {
			wait = 200 * time.Millisecond
		}
		select {
		case <-n.stopped.Done():
			return
		case <-time.After(wait):
		}
	}
}

// AddMember adds a node to the cluster as a voter or non-voter, through the
// leader, and records its addresses.
func (n *Node) AddMember(ctx context.Context, m api.MemberRequest) error {
	if m.ID == "" || m.Raft == "" {
		return api.BadArguments("", "a member needs an id and a raft address")
	}
	_, err := onLeader(ctx, n,
		func() (struct{}, error) { return struct{}{}, n.addMemberHere(ctx, m) },
		func(leader string) (struct{}, error) { return struct{}{}, n.cfg.Forwarder.AddMember(ctx, leader, m) })
	return err
}

// addMemberHere is AddMember on the leader.
func (n *Node) addMemberHere(ctx context.Context, m api.MemberRequest) error {
	var f raft.IndexFuture
	if m.Voter {
		f = n.raft.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.Raft), 0, DefaultTimeout)
	} else {
		f = n.raft.AddNonvoter(raft.ServerID(m.ID), raft.ServerAddress(m.Raft), 0, DefaultTimeout)
	}
	if err := n.await(ctx, f); err != nil {
		return raftError(err)
	}
	_, _, err := n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpSetMember, Path: m.ID, RaftAddr: m.Raft, HTTPAddr: m.HTTP, Time: time.Now().UnixMilli()})
	return err
}

// RemoveMember removes a node from the cluster, the leader included (it
// steps down once its removal commits).
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	_, err := onLeader(ctx, n,
		func() (struct{}, error) { return struct{}{}, n.removeMemberHere(ctx, id) },
		func(leader string) (struct{}, error) {
			return struct{}{}, n.cfg.Forwarder.RemoveMember(ctx, leader, id)
		})
	return err
}

// removeMemberHere is RemoveMember on the leader.
func (n *Node) removeMemberHere(ctx context.Context, id string) error {
	conf := n.raft.GetConfiguration()
	if err := conf.Error(); err != nil {
		return raftError(err)
	}
	found := false
	for _, s := range conf.Configuration().Servers {
		found = found || s.ID == raft.ServerID(id)
	}
	if !found {
		return &api.Error{Code: api.CodeNoNode, Message: "no member " + id}
	}
	// Forget the record first: a leader removing itself cannot propose after.
	if _, _, err := n.proposeLocal(ctx, &fsm.Command{Op: fsm.OpRemoveMember, Path: id, Time: time.Now().UnixMilli()}); err != nil {
		return err
	}
	if err := n.await(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, DefaultTimeout)); err != nil {
		return raftError(err)
	}
	return nil
}

// Cluster describes the cluster as this node sees it. last_contact_ms is
// known for this node only (the time since it last heard from the leader;
// 0 on the leader): raft keeps followers' contact times to itself.
func (n *Node) Cluster() (api.Cluster, error) {
	conf := n.raft.GetConfiguration()
	if err := conf.Error(); err != nil {
		return api.Cluster{}, raftError(err)
	}
	info := api.Cluster{
		Self:         n.cfg.ID,
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.Applied(),
		Members:      []api.Member{},
	}
	_, leaderID := n.raft.LeaderWithID()
	for _, s := range conf.Configuration().Servers {
		m := api.Member{ID: string(s.ID), Raft: string(s.Address), Voter: s.Suffrage == raft.Voter}
		if rec, ok := n.tree.Member(m.ID); ok {
			m.HTTP = rec.HTTPAddr
		}
		if m.ID == n.cfg.ID {
			var ms int64
			if n.raft.State() != raft.Leader {
				ms = time.Since(n.raft.LastContact()).Milliseconds()
			}
			m.LastContactMs = &ms
		}
		info.Members = append(info.Members, m)
		if s.ID == leaderID {
			leader := m
			info.Leader = &leader
		}
	}
	return info, nil
}
