package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
)

// probe is one request sent to a partitioned node.
type probe struct {
	kind  string // write, read, stale
	start time.Time
	reply reply
}

// probeNode sends a write, a linearizable read and a stale read to nd
// every interval until stop closes, each in its own goroutine so that one
// that hangs does not hold the others back; it returns once every probe
// has an answer or its deadline has passed.
func probeNode(nd *node, parent string, interval time.Duration, stop <-chan struct{}) []probe {
	var mu sync.Mutex
	var out []probe
	var wg sync.WaitGroup
	send := func(kind, method, path string, body []byte) {
		defer wg.Done()
		start := time.Now()
		r := call(nd, method, path, body, requestTimeout)
		mu.Lock()
		out = append(out, probe{kind: kind, start: start, reply: r})
		mu.Unlock()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		wg.Add(3)
		go send("write", http.MethodPost, fmt.Sprintf("/v1/nodes%s/probe-%s-%d", parent, nd.id, i), []byte("p"))
		go send("read", http.MethodGet, "/v1/nodes"+parent, nil)
		go send("stale", http.MethodGet, "/v1/nodes"+parent+"?consistency=stale", nil)
		select {
		case <-stop:
			wg.Wait()
			return out
		case <-tick.C:
		}
	}
}

func TestPartitionedMinorityAnswersUnavailableAndCatchesUp(t *testing.T) {
	c := startCluster(t, 3)
	mustCreate(t, c.leader(t), "/part", "")
	mustCreate(t, c.leader(t), "/bg", "")
	// A light load keeps the commit index moving.
	load := startWriteLoad(t, c, "/bg", 2, 20*time.Millisecond)

	for _, role := range []string{"follower", "leader"} {
		t.Run(role, func(t *testing.T) {
			victim := c.leader(t)
			if role == "follower" {
				victim = c.followers(t)[0]
			}
			majority := c.others(victim)
			// It has /part, so that its stale reads have something to read.
			if r := get(victim, "/v1/nodes/part", requestTimeout); r.Status != http.StatusOK {
				t.Fatalf("read /part on %s: %s", victim.id, r)
			}
			cutAt := time.Now()
			victim.partition()

			stop := make(chan struct{})
			stopProbes := sync.OnceFunc(func() { close(stop) })
			defer stopProbes() // also when the test fails early
			probes := make(chan []probe, 1)
			go func() { probes <- probeNode(victim, "/part", 50*time.Millisecond, stop) }()

			// The victim finds itself without a leader; the majority has one
			// (a new one when the leader was cut off).
			var noticed time.Time
			testkit.WaitExplained(t, 10*time.Second, victim.id+" reports no leader", func() (bool, string) {
				ci, err := info(victim)
				if err != nil {
					return false, err.Error()
				}
				if ci.Leader != nil {
					return false, "still sees leader " + ci.Leader.ID
				}
				noticed = time.Now()
				return true, ""
			})
			newLeader := c.waitAgreed(t, 10*time.Second, majority...)
			t.Logf("%s %s cut off; it saw no leader after %v; the majority's leader is %s", role, victim.id, noticed.Sub(cutAt), newLeader.id)
			// Probe for another second after the victim noticed (20 rounds),
			// then wait for every probe to be answered or to pass its deadline.
			time.Sleep(time.Second)
			stopProbes()
			got := <-probes
			victim.heal()

			var refused int
			var slowest time.Duration
			failures := map[string][]string{} // one kind of failure -> its instances
			fail := func(kind, msg string) { failures[kind] = append(failures[kind], msg) }
			for _, p := range got {
				r := p.reply
				after := p.start.After(noticed)
				when := fmt.Sprintf("sent %v after the cut, %v after it saw no leader", p.start.Sub(cutAt).Round(time.Millisecond), p.start.Sub(noticed).Round(time.Millisecond))
				switch {
				case r.Err != nil && errors.Is(r.Err, context.DeadlineExceeded):
					fail(p.kind+" hangs", fmt.Sprintf("no answer within %v (%s)", requestTimeout, when))
				case r.Err != nil:
					fail(p.kind+" transport error", r.Err.Error())
				case p.kind == "stale":
					if r.Status != http.StatusOK {
						fail("stale read refused", r.String())
					}
				// Before it noticed, a follower may still forward to the
				// leader over HTTP and succeed; a leader cut off can commit
				// nothing and confirm nothing from the moment of the cut.
				case !after && role == "follower":
				// A leader's check can count a heartbeat acknowledgement
				// already in flight when the cut came: a read sent in the
				// first heartbeat intervals may still be confirmed. It is
				// still linearizable (no other leader exists yet; the
				// porcupine test checks that property itself).
				case role == "leader" && p.start.Sub(cutAt) < inFlightGrace:
				case r.Status/100 == 2:
					fail(p.kind+" succeeds", fmt.Sprintf("%s (%s)", r, when))
				case r.Status != http.StatusServiceUnavailable && r.Status != http.StatusGatewayTimeout:
					fail(p.kind+" answers neither 503 nor 504", fmt.Sprintf("%s (%s)", r, when))
				case r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "":
					fail("503 without Retry-After", r.String())
				default:
					refused++
					if after {
						slowest = max(slowest, r.Elapsed)
					}
				}
			}
			for kind, msgs := range failures {
				t.Errorf("on the cut-off %s %s, %s: %d of %d probes, e.g. %v", role, victim.id, kind, len(msgs), len(got), msgs[:min(3, len(msgs))])
			}
			t.Logf("%d probes; %d writes and linearizable reads refused; slowest refusal after it saw no leader %v", len(got), refused, slowest)
			if refused == 0 {
				t.Errorf("no write or linearizable read on the cut-off %s was refused", victim.id)
			}

			// Healed, it rejoins and catches up.
			c.waitAgreed(t, 20*time.Second, c.nodes...)
			c.waitSameTree(t, "/part", c.nodes...)
		})
	}
	acked := load.end(t)
	zxid := syncZxid(t, c.leader(t))
	for _, nd := range c.nodes {
		assertHasAll(t, nd, "/bg", acked, zxid)
	}
	c.waitSameTree(t, "/", c.nodes...)
}

// inFlightGrace is how long after a cut the cut-off leader may still see
// acknowledgements that were on the wire before it.
const inFlightGrace = 50 * time.Millisecond
