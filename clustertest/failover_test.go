package clustertest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
)

func TestLeaderKillUnderWriteLoadLosesNoAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, 3, "--enable-pprof")
	old := c.leader(t)
	mustCreate(t, old, "/load", "")
	load := startWriteLoad(t, c, "/load", 6, 0)
	testkit.WaitExplained(t, 20*time.Second, "writes acknowledged before the kill", func() (bool, string) {
		n := load.ackedSince(time.Time{})
		return n >= 300, time.Now().String()
	})

	survivors := c.others(old)
	killedAt := time.Now()
	old.kill(t)

	// The new leader as the survivors report it (a bound that includes
	// polling), and as its own log dates it (the election itself).
	var seenAfter time.Duration
	var newLeader *node
	testkit.WaitExplained(t, 10*time.Second, "a survivor reports a new leader", func() (bool, string) {
		for _, s := range survivors {
			ci, err := info(s)
			if err == nil && ci.Leader != nil && ci.Leader.ID != old.id {
				seenAfter, newLeader = time.Since(killedAt), c.node(ci.Leader.ID)
				return true, ""
			}
		}
		return false, "no new leader yet"
	})
	var elected time.Duration
	testkit.WaitExplained(t, 5*time.Second, newLeader.id+" logs its election", func() (bool, string) {
		times := newLeader.logTimes("entering leader state", killedAt)
		if len(times) == 0 {
			return false, "no 'entering leader state' after the kill"
		}
		elected = times[0].Sub(killedAt)
		return true, ""
	})
	t.Logf("leader %s killed; %s elected %v after the kill (its log), reported by a survivor after %v", old.id, newLeader.id, elected, seenAfter)
	// Issue 4 asks for a new leader within 2x the election timeout. A
	// follower notices a lost leader 1-2x raft's heartbeat timeout after
	// the last contact, and a first pre-vote refused by the other
	// survivor costs 1-2 election timeouts more; both are 2/5 of the flag
	// (consensus.Config.ElectionTime), so together within 1.6x the flag.
	if elected > 2*electionTimeout {
		t.Errorf("new leader elected %v after the kill, want within 2x the election timeout (%v)", elected, 2*electionTimeout)
	}

	// Writes go on through the survivors, then the load ends.
	testkit.WaitExplained(t, 20*time.Second, "writes acknowledged after the failover", func() (bool, string) {
		n := load.ackedSince(killedAt.Add(seenAfter))
		return n >= 200, ""
	})
	acked := load.end(t)
	// Once the load has ended, no survivor may still hold a request of
	// it: a write whose proposal met the failover must have been answered
	// (hashicorp/raft does not answer every future; consensus bounds the
	// wait), not left waiting for ever.
	httpClient.CloseIdleConnections()
	for _, s := range survivors {
		waitNoRequestWaiting(t, s)
	}

	zxid := syncZxid(t, c.leader(t))
	for _, s := range survivors {
		assertHasAll(t, s, "/load", acked, zxid)
	}
	old.restart(t)
	assertHasAll(t, old, "/load", acked, zxid)
	c.waitSameTree(t, "/load", c.nodes...)
}

// waiting matches a goroutine that waits on raft or on the leader for a
// caller: a proposal, a future, a read index, an apply.
var waiting = regexp.MustCompile(`canopy/consensus\.\(\*Node\)\.(Propose|await|awaitCall|Linearize|WaitApplied|KeepAlive)\b|canopy/cluster\.\(\*stream\)\.call\b`)

// waitNoRequestWaiting waits until none of nd's goroutines waits on behalf
// of a request (nd must run with --enable-pprof and have no client).
func waitNoRequestWaiting(t testing.TB, nd *node) {
	t.Helper()
	testkit.WaitExplained(t, 15*time.Second, nd.id+" holds no request still waiting on raft", func() (bool, string) {
		r := get(nd, "/debug/pprof/goroutine?debug=2", requestTimeout)
		if r.Status != 200 {
			return false, r.String()
		}
		var stuck []string
		total := 0
		for _, g := range strings.Split(string(r.Body), "\n\n") {
			total++
			if waiting.MatchString(g) {
				stuck = append(stuck, g)
			}
		}
		if len(stuck) > 0 {
			return false, fmt.Sprintf("%d of %d goroutines wait, the first:\n%s", len(stuck), total, stuck[0])
		}
		t.Logf("%s: %d goroutines after the load, none waiting for a request", nd.id, total)
		return true, ""
	})
}
