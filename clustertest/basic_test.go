package clustertest

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

func TestClusterFormsAndServesWritesThroughEveryNode(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(t)

	// Every node lists the three voters with their API addresses: any node
	// can forward to any other.
	for _, nd := range c.nodes {
		var ci api.Cluster
		testkit.WaitExplained(t, 10*time.Second, nd.id+" knows every member's API address", func() (bool, string) {
			var err error
			if ci, err = info(nd); err != nil {
				return false, err.Error()
			}
			if len(ci.Members) != 3 {
				return false, fmt.Sprintf("%d members", len(ci.Members))
			}
			for _, m := range ci.Members {
				if m.HTTP != c.node(m.ID).http || !m.Voter || m.Raft != c.node(m.ID).raftAdvertise() {
					return false, fmt.Sprintf("member %+v", m)
				}
			}
			return true, ""
		})
		if ci.Self != nd.id || ci.Leader == nil || ci.Leader.ID != leader.id {
			t.Errorf("%s: self %q leader %+v, want self %s leader %s", nd.id, ci.Self, ci.Leader, nd.id, leader.id)
		}
	}

	mustCreate(t, c.followers(t)[0], "/app", "")
	var want []string
	for _, nd := range c.nodes {
		for i := 0; i < 5; i++ {
			p := fmt.Sprintf("/app/%s-%d", nd.id, i)
			mustCreate(t, nd, p, "from "+nd.id)
			want = append(want, p[len("/app/"):])
			// A linearizable read on every other node sees the write at once.
			for _, other := range c.nodes {
				r := get(other, "/v1/nodes"+p, requestTimeout)
				if r.Status != http.StatusOK {
					t.Fatalf("linearizable read of %s on %s right after its create on %s: %s", p, other.id, nd.id, r)
				}
			}
		}
		// setData and delete through every node too.
		p := fmt.Sprintf("/app/%s-0", nd.id)
		if r := call(nd, http.MethodPut, "/v1/nodes"+p+"?version=0", []byte("set by "+nd.id), requestTimeout); r.Status != http.StatusOK {
			t.Fatalf("set %s through %s: %s", p, nd.id, r)
		}
		if r := call(nd, http.MethodDelete, fmt.Sprintf("/v1/nodes/app/%s-4", nd.id), nil, requestTimeout); r.Status != http.StatusNoContent {
			t.Fatalf("delete through %s: %s", nd.id, r)
		}
		want = want[:len(want)-1]
		// A precondition failure from a follower is the leader's answer.
		if r := call(nd, http.MethodPut, "/v1/nodes"+p+"?version=7", []byte("x"), requestTimeout); r.Status != http.StatusPreconditionFailed || r.code() != api.CodeBadVersion {
			t.Fatalf("set with a wrong version through %s: %s, want 412 BadVersion", nd.id, r)
		}
	}
	sort.Strings(want)

	// The followers' 17 writes reached the leader over one forwarding
	// stream each, not as requests of their own.
	if n := metric(t, leader, `canopy_forwarded_requests_total{kind="propose",outcome="ok"}`); n < 17 {
		t.Errorf("the leader answered %v proposals over forwarding streams, want at least the followers' 17", n)
	}
	if n := metric(t, leader, "canopy_forward_streams"); n != 2 {
		t.Errorf("%v forwarding streams open to the leader, want 2 (one per follower)", n)
	}
	// So did the read indexes of their linearizable reads.
	if n := metric(t, leader, `canopy_forwarded_requests_total{kind="readindex",outcome="ok"}`); n < 1 {
		t.Errorf("the leader answered %v read indexes over forwarding streams, want some", n)
	}

	// After a sync through a node, its stale reads show every write.
	for _, nd := range c.nodes {
		if r := post(nd, "/v1/sync/app", nil, requestTimeout); r.Status != http.StatusOK {
			t.Fatalf("sync on %s: %s", nd.id, r)
		}
		got, err := children(nd, "/app", 0)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stale children of /app on %s after sync = %v, want %v", nd.id, got, want)
		}
		r := get(nd, "/v1/nodes/app/"+nd.id+"-0?consistency=stale", requestTimeout)
		var data api.NodeData
		if err := r.decode(&data); err != nil || data.Data != "set by "+nd.id || data.Stat.Version != 1 {
			t.Errorf("stale read of /app/%s-0 on %s: %s", nd.id, nd.id, r)
		}
	}
	c.waitSameTree(t, "/", c.nodes...)
}

func TestRestartOfAllNodesKeepsTreeAndSessions(t *testing.T) {
	c := startCluster(t, 3)
	f := c.followers(t)[0]
	mustCreate(t, f, "/keep", "root")
	for i := 0; i < 20; i++ {
		mustCreate(t, c.nodes[i%3], fmt.Sprintf("/keep/n%02d", i), fmt.Sprint(i))
	}
	r := post(f, "/v1/nodes/keep/seq-?sequential", []byte("s"), requestTimeout)
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	// A session with an ephemeral: its timeout outlasts the restart.
	r = post(f, "/v1/sessions", []byte(`{"timeout_ms":30000}`), requestTimeout)
	var sess api.Session
	if err := r.decode(&sess); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("create session: %s", r)
	}
	r = post(c.nodes[2], "/v1/nodes/keep/eph?ephemeral", []byte("e"), requestTimeout, "Canopy-Session", sess.ID.String())
	if r.Status != http.StatusCreated {
		t.Fatalf("create ephemeral: %s", r)
	}
	before := c.waitSameTree(t, "/", c.nodes...)
	sessionsBefore := sessionSummary(t, c.leader(t))

	for _, nd := range c.nodes {
		nd.terminate(t)
	}
	for _, nd := range c.nodes {
		nd.start(t)
	}
	c.waitAgreed(t, 30*time.Second, c.nodes...)

	after := c.waitSameTree(t, "/", c.nodes...)
	if after != before {
		t.Errorf("tree after restarting all nodes differs:\nbefore %s\nafter  %s", clip(before), clip(after))
	}
	for _, nd := range c.nodes {
		if got := sessionSummary(t, nd); got != sessionsBefore {
			t.Errorf("sessions on %s after restart = %s, want %s", nd.id, got, sessionsBefore)
		}
	}
	if r := post(f, "/v1/sessions/"+sess.ID.String()+"/keepalive", nil, requestTimeout); r.Status != http.StatusOK {
		t.Errorf("keep-alive after restart: %s", r)
	}
}

// sessionSummary lists a node's sessions with their timeouts and
// ephemerals (not their remaining time).
func sessionSummary(t *testing.T, nd *node) string {
	t.Helper()
	r := get(nd, "/v1/sessions", requestTimeout)
	var list api.SessionList
	if err := r.decode(&list); err != nil || r.Status != http.StatusOK {
		t.Fatalf("sessions on %s: %s", nd.id, r)
	}
	var out []string
	for _, s := range list.Sessions {
		out = append(out, fmt.Sprintf("%s/%d/%v", s.ID, s.TimeoutMs, s.Ephemerals))
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

// TestRestartedFollowerIsReadyOnlyWhenItCanServe: /readyz answers 200 "once
// the node has a leader and has applied its log" (WIRE.md). A follower
// restarted after missing writes must not call itself ready with a state
// older than its own log: then it knows no member's API address and reads
// a live session as expired.
func TestRestartedFollowerIsReadyOnlyWhenItCanServe(t *testing.T) {
	c := startCluster(t, 3)
	f := c.followers(t)[0]
	sess := newSession(t, f, 20*time.Second)
	mustCreate(t, f, "/ready", "")
	if r := post(f, "/v1/nodes/ready/eph?ephemeral", nil, requestTimeout, "Canopy-Session", sess.String()); r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	for i := 0; i < 50; i++ {
		mustCreate(t, c.nodes[i%3], fmt.Sprintf("/ready/a%03d", i), "")
	}
	// f has applied all of that, so it is in f's own log.
	inLog := syncZxid(t, f)
	f.kill(t)
	// f stays down for 4 s of writes: the leader's attempts to replicate
	// to it back off (hashicorp/raft doubles the wait after each failure),
	// so once restarted, it hears the leader's heartbeats well before it
	// gets the entries it lacks.
	down := time.Now()
	for i := 0; i < 200 || time.Since(down) < 4*time.Second; i++ {
		mustCreate(t, c.others(f)[i%2], fmt.Sprintf("/ready/b%04d", i), "")
	}
	keepAlive(t, c.leader(t), sess, 2*time.Second)

	f.start(t)
	testkit.WaitExplained(t, 30*time.Second, f.id+" ready after restart", func() (bool, string) {
		r := get(f, "/readyz", time.Second)
		return r.Status == http.StatusOK, r.String()
	})
	ci, err := info(f)
	if err != nil {
		t.Fatal(err)
	}
	if ci.AppliedIndex < inLog {
		t.Errorf("%s answers /readyz 200 with applied index %d, below %d which its own log holds", f.id, ci.AppliedIndex, inLog)
	}
	if r := get(f, "/v1/sessions/"+sess.String(), requestTimeout); r.Status != http.StatusOK {
		t.Errorf("live session read on %s right after it said ready: %s, want 200", f.id, r)
	}
	if r := get(f, "/v1/nodes/ready/b0199", requestTimeout); r.Status != http.StatusOK {
		t.Errorf("linearizable read on %s right after it said ready: %s, want 200", f.id, r)
	}
	c.waitSameTree(t, "/ready", c.nodes...)
}
