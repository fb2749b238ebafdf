package clustertest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// keeper sends a session's keep-alives through one node every interval
// until stopped, and remembers the last one that succeeded and any answer
// that says the session is gone.
type keeper struct {
	mu      sync.Mutex
	last    time.Time // the last keep-alive answered 200
	expired []string
	ok      int
	failed  int // 503, 504, no answer: retried at the next tick
	stop    func()
	done    chan struct{}
}

// keepAlive starts the keep-alives; they stop with end or at the test's end.
func keepAlive(t testing.TB, nd *node, id api.ID, interval time.Duration) *keeper {
	stop := make(chan struct{})
	k := &keeper{stop: sync.OnceFunc(func() { close(stop) }), done: make(chan struct{}), last: time.Now()}
	t.Cleanup(func() { k.stop(); <-k.done })
	go func() {
		defer close(k.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			sent := time.Now()
			r := post(nd, "/v1/sessions/"+id.String()+"/keepalive", nil, interval)
			k.mu.Lock()
			switch {
			case r.Status == http.StatusOK:
				k.last = sent
				k.ok++
			case r.Status == http.StatusGone:
				k.expired = append(k.expired, fmt.Sprintf("at %s: %s", sent.Format("15:04:05.000"), r))
			default:
				k.failed++
			}
			k.mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return k
}

// end stops the keep-alives; it returns when the last one succeeded.
func (k *keeper) end() time.Time {
	k.stop()
	<-k.done
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last
}

func newSession(t *testing.T, nd *node, timeout time.Duration) api.ID {
	t.Helper()
	// An answer of unknown outcome is retried: at worst it leaves a
	// session nobody uses, which expires.
	var r reply
	if err := retryUnknown(func(bool) (bool, reply) {
		r = post(nd, "/v1/sessions", []byte(fmt.Sprintf(`{"timeout_ms":%d}`, timeout.Milliseconds())), requestTimeout)
		return r.Status == http.StatusCreated, r
	}, "create session through "+nd.id); err != nil {
		t.Fatalf("%v", err)
	}
	var s api.Session
	if err := r.decode(&s); err != nil {
		t.Fatalf("create session through %s: %v", nd.id, err)
	}
	if s.TimeoutMs != timeout.Milliseconds() {
		t.Fatalf("session timeout %d ms, want %d", s.TimeoutMs, timeout.Milliseconds())
	}
	return s.ID
}

func TestSessionsSurviveLeaderKillAndDeadClientsExpire(t *testing.T) {
	const timeout = 3 * time.Second
	c := startCluster(t, 3)
	old := c.leader(t)
	via := c.followers(t)[0] // a follower that survives: keep-alives are forwarded
	mustCreate(t, via, "/sess", "")
	live, dead := newSession(t, via, timeout), newSession(t, via, timeout)
	for name, id := range map[string]api.ID{"live": live, "dead": dead} {
		r := post(via, "/v1/nodes/sess/"+name+"?ephemeral", []byte(name), requestTimeout, "Canopy-Session", id.String())
		if r.Status != http.StatusCreated {
			t.Fatalf("create ephemeral /sess/%s: %s", name, r)
		}
	}
	liveKeeper := keepAlive(t, via, live, timeout/3)
	// The dead session's keep-alives run 0.8 s behind: the kill comes right
	// after one of them, so the live one's next keep-alive falls into the
	// election.
	testkit.WaitExplained(t, 5*time.Second, "a live keep-alive", func() (bool, string) {
		liveKeeper.mu.Lock()
		defer liveKeeper.mu.Unlock()
		return liveKeeper.ok > 0, ""
	})
	time.Sleep(800 * time.Millisecond) // a phase shift, not a wait for a condition
	deadKeeper := keepAlive(t, via, dead, timeout/3)
	testkit.WaitExplained(t, 3*timeout, "keep-alives reach the leader through the follower", func() (bool, string) {
		for _, k := range []*keeper{liveKeeper, deadKeeper} {
			k.mu.Lock()
			ok, failed := k.ok, k.failed
			k.mu.Unlock()
			if ok < 4 {
				return false, fmt.Sprintf("%d keep-alives answered, %d failed", ok, failed)
			}
		}
		return true, ""
	})

	// The dead session's client stops just before the leader dies.
	deadKeeper.mu.Lock()
	okBefore := deadKeeper.ok
	deadKeeper.mu.Unlock()
	testkit.WaitExplained(t, 2*time.Second, "the dead session's next keep-alive", func() (bool, string) {
		deadKeeper.mu.Lock()
		defer deadKeeper.mu.Unlock()
		return deadKeeper.ok > okBefore, ""
	})
	lastDead := deadKeeper.end()
	killedAt := time.Now()
	old.kill(t)
	newLeader := c.waitAgreed(t, 10*time.Second, c.others(old)...)
	elected := killedAt
	if times := newLeader.logTimes("entering leader state", killedAt); len(times) > 0 {
		elected = times[0]
	}

	// The dead session expires: not before its timeout since its last
	// keep-alive, and within timeout + election time of the new leader's
	// election (its fresh lease), plus slack for the lease clock's tick and
	// this poll.
	var expiredAt time.Time
	testkit.WaitExplained(t, timeout+electionTimeout+10*time.Second, "the dead session expires", func() (bool, string) {
		r := get(via, "/v1/sessions/"+dead.String(), 2*time.Second)
		if r.Status == http.StatusGone {
			expiredAt = time.Now()
			return true, ""
		}
		return false, r.String()
	})
	sinceElection, sinceLast := expiredAt.Sub(elected), expiredAt.Sub(lastDead)
	t.Logf("leader %s killed; %s elected %v later; the dead session expired %v after the election, %v after its last keep-alive",
		old.id, newLeader.id, elected.Sub(killedAt), sinceElection, sinceLast)
	if sinceLast < timeout {
		t.Errorf("the dead session expired %v after its last keep-alive, before its timeout %v", sinceLast, timeout)
	}
	if limit := timeout + electionTimeout + time.Second; sinceElection > limit {
		t.Errorf("the dead session expired %v after the new leader's election, want within timeout + election time + 1 s slack (%v)", sinceElection, limit)
	}
	for _, nd := range c.others(old) {
		if r := get(nd, "/v1/nodes/sess/dead", requestTimeout); r.Status != http.StatusNotFound {
			t.Errorf("the dead session's ephemeral on %s: %s, want 404", nd.id, r)
		}
	}

	// The live session outlasts two of its timeouts after the kill.
	testkit.WaitExplained(t, 2*timeout+5*time.Second, "two timeouts pass after the kill", func() (bool, string) {
		return time.Since(killedAt) > 2*timeout, ""
	})
	liveKeeper.mu.Lock()
	expired, failed := liveKeeper.expired, liveKeeper.failed
	liveKeeper.mu.Unlock()
	if len(expired) > 0 {
		t.Errorf("keep-alives of the live session answered SessionExpired: %v", expired)
	}
	t.Logf("live session: %d keep-alives failed (503/504/no answer) around the failover", failed)
	old.restart(t)
	c.waitCaughtUp(t, old)
	for _, nd := range c.nodes {
		if r := get(nd, "/v1/sessions/"+live.String(), requestTimeout); r.Status != http.StatusOK {
			t.Errorf("live session on %s: %s", nd.id, r)
		}
		if r := get(nd, "/v1/nodes/sess/live", requestTimeout); r.Status != http.StatusOK {
			t.Errorf("live session's ephemeral on %s: %s", nd.id, r)
		}
	}
	c.waitSameTree(t, "/sess", c.nodes...)

	// Closing it deletes its ephemeral on every node.
	liveKeeper.end()
	if r := call(via, http.MethodDelete, "/v1/sessions/"+live.String(), nil, requestTimeout); r.Status != http.StatusNoContent {
		t.Fatalf("close the live session: %s", r)
	}
	for _, nd := range c.nodes {
		if r := get(nd, "/v1/nodes/sess/live", requestTimeout); r.Status != http.StatusNotFound {
			t.Errorf("closed session's ephemeral on %s: %s, want 404", nd.id, r)
		}
	}
}

// TestSessionReadOnCutOffFollowerIsNotStale: reads are linearizable by
// default (DESIGN §2), session reads included. A follower cut off from the
// cluster cannot confirm that it is current, so it must not answer that a
// session opened meanwhile is unknown (410 SessionExpired would tell its
// client the session is gone): 503 or 504 is the answer.
func TestSessionReadOnCutOffFollowerIsNotStale(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(t)
	f := c.others(leader)[0]
	f.partition()
	testkit.WaitExplained(t, 10*time.Second, f.id+" reports no leader", func() (bool, string) {
		ci, err := info(f)
		return err == nil && ci.Leader == nil, fmt.Sprint(err)
	})
	c.waitAgreed(t, 10*time.Second, c.others(f)...)
	id := newSession(t, leader, 10*time.Second)
	if r := get(f, "/v1/sessions/"+id.String(), requestTimeout); r.Status != http.StatusServiceUnavailable && r.Status != http.StatusGatewayTimeout {
		t.Errorf("GET /v1/sessions/{a session opened while cut off} on the cut-off %s: %s, want 503 or 504", f.id, r)
	}
	if r := get(f, "/v1/sessions", requestTimeout); r.Status != http.StatusServiceUnavailable && r.Status != http.StatusGatewayTimeout {
		t.Errorf("GET /v1/sessions on the cut-off %s: %s, want 503 or 504", f.id, r)
	}
	f.heal()
	c.waitAgreed(t, 20*time.Second, c.nodes...)
	if r := get(f, "/v1/sessions/"+id.String(), requestTimeout); r.Status != http.StatusOK {
		t.Errorf("GET /v1/sessions/{id} on %s after healing: %s, want 200", f.id, r)
	}
}
