package clustertest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// members is nd's view of the membership: id -> voter.
func members(nd *node) (map[string]api.Member, error) {
	ci, err := info(nd)
	if err != nil {
		return nil, err
	}
	out := map[string]api.Member{}
	for _, m := range ci.Members {
		out[m.ID] = m
	}
	return out, nil
}

// waitMembers waits until every given node lists exactly the given ids as
// voters.
func waitMembers(t *testing.T, nodes []*node, want ...string) {
	t.Helper()
	testkit.WaitExplained(t, 20*time.Second, fmt.Sprintf("members %v on %s", want, ids(nodes)), func() (bool, string) {
		for _, nd := range nodes {
			got, err := members(nd)
			if err != nil {
				return false, err.Error()
			}
			if len(got) != len(want) {
				return false, fmt.Sprintf("%s lists %v", nd.id, got)
			}
			for _, id := range want {
				if m, ok := got[id]; !ok || !m.Voter {
					return false, fmt.Sprintf("%s lists %v", nd.id, got)
				}
			}
		}
		return true, ""
	})
}

func TestMembershipChangesUnderLoad(t *testing.T) {
	c := startCluster(t, 3)
	mustCreate(t, c.leader(t), "/mem", "")
	load := startWriteLoad(t, c, "/mem", 2, 10*time.Millisecond)

	// A fourth node joins through a follower; it catches up and votes.
	n4 := c.addNode(t, "n4", c.followers(t)[0])
	waitMembers(t, c.up(), "n1", "n2", "n3", "n4")
	c.waitAgreed(t, 20*time.Second, c.up()...)
	c.waitCaughtUp(t, n4)
	// The record follows the configuration change: by the join's own
	// proposal, or (if a leader change cut that short) by n4's.
	testkit.WaitExplained(t, 20*time.Second, "n4's record on the leader", func() (bool, string) {
		m, err := members(c.leader(t))
		if err != nil {
			return false, err.Error()
		}
		return m["n4"].HTTP == n4.http && m["n4"].Raft == n4.raftAdvertise(),
			fmt.Sprintf("%+v, want http %s raft %s", m["n4"], n4.http, n4.raftAdvertise())
	})
	// It serves: a write through it, a linearizable read of it elsewhere.
	mustCreate(t, n4, "/mem/from-n4", "")
	if r := get(c.nodes[0], "/v1/nodes/mem/from-n4", requestTimeout); r.Status != http.StatusOK {
		t.Errorf("read of n4's write on n1: %s", r)
	}

	// Removed (through another node), it leaves the configuration.
	via := c.others(n4, c.leader(t))[0]
	if r := call(via, http.MethodDelete, "/v1/cluster/members/n4", nil, requestTimeout); r.Status != http.StatusNoContent {
		t.Fatalf("remove n4 through %s: %s", via.id, r)
	}
	n4.terminate(t)
	waitMembers(t, c.up(), "n1", "n2", "n3")

	// The leader removes itself: the other two elect a leader and writes go on.
	old := c.leader(t)
	before := load.ackedSince(time.Time{})
	removedAt := time.Now()
	if r := call(old, http.MethodDelete, "/v1/cluster/members/"+old.id, nil, requestTimeout); r.Status != http.StatusNoContent {
		t.Fatalf("remove the leader %s through itself: %s", old.id, r)
	}
	rest := c.others(old)
	newLeader := c.waitAgreed(t, 20*time.Second, rest...)
	t.Logf("leader %s removed; %s leads %v later", old.id, newLeader.id, time.Since(removedAt))
	if newLeader == old {
		t.Fatalf("the removed leader still leads")
	}
	waitMembers(t, rest, rest[0].id, rest[1].id)
	old.terminate(t)
	testkit.WaitExplained(t, 20*time.Second, "writes acknowledged after the leader's removal", func() (bool, string) {
		n := load.ackedSince(removedAt)
		return n >= 50, fmt.Sprintf("%d acknowledged since (%d before)", n, before)
	})
	acked := load.end(t)
	zxid := syncZxid(t, newLeader)
	for _, nd := range rest {
		assertHasAll(t, nd, "/mem", acked, zxid)
	}
	c.waitSameTree(t, "/mem", rest...)
}
