package main

import (
	"context"
	"errors"
	"time"

	"github.com/canopy-coord/canopy/internal/loadgen"
)

// Workloads, in the order of the report.
const (
	wlCreate   = "create"
	wlSet      = "set"
	wlGet      = "get"
	wlStaleGet = "stale-get"
	wlMixed    = "mixed"
	wlSession  = "session"
	wlWatch    = "watch"
	wlLock     = "lock-handoff"
)

// throughputWorkloads run at every client count; latencyWorkloads at one
// pair (a writer and a watcher, a holder and a waiter).
var (
	throughputWorkloads = []string{wlCreate, wlSet, wlGet, wlStaleGet, wlMixed, wlSession}
	latencyWorkloads    = []string{wlWatch, wlLock}
)

// isLatency says whether a workload is judged by its latency (one pair)
// rather than by its throughput.
func isLatency(wl string) bool { return wl == wlWatch || wl == wlLock }

// describe says what each workload does on each system: the report's notes.
var describe = map[string]string{
	wlCreate:   "Canopy: `POST /v1/nodes/<path>`; ZooKeeper: `create`. Distinct persistent nodes, 100 bytes each.",
	wlSet:      "Canopy: `PUT /v1/nodes/<path>`; ZooKeeper: `setData`. One node per client, 100 bytes.",
	wlGet:      "Canopy: `GET /v1/nodes/<path>` (linearizable, the default); ZooKeeper: `getData`, which is **not** linearizable (ZooKeeper's linearizable read is `sync` + `getData`), so this compares a stronger read with a weaker one.",
	wlStaleGet: "Canopy: `GET ...?consistency=stale` (the answering node's state); ZooKeeper: `getData` (the same guarantee).",
	wlMixed:    "90 % gets, 10 % sets on a node per client (Canopy's get linearizable, ZooKeeper's plain `getData`).",
	wlSession:  "Canopy: `POST /v1/sessions` then `DELETE /v1/sessions/<id>`; ZooKeeper: a new connection's session established, then closed.",
	wlWatch:    "One writer on the leader sets a node; one watcher on a follower (Canopy: a persistent watch over WebSocket; ZooKeeper: a `getData` watch re-armed before the next write). Latency: from issuing the set to the watcher receiving the event.",
	wlLock:     "Two clients on the two followers take turns holding a lock (ephemeral sequential nodes under a lock node, the lowest holds, a waiter watches the one before it; Canopy: `client/recipe`'s Lock). Latency: from the holder starting its delete to the waiter holding the lock.",
}

// system is one of the two systems under load.
type system interface {
	Name() string
	// Throughput returns the operation of a throughput workload for n
	// clients, spread round-robin over the three nodes, after creating
	// what it needs; done releases what it holds.
	Throughput(ctx context.Context, wl string, n int) (op loadgen.Op, done func(), err error)
	// Watch is one writer on the leader and one watcher on a follower.
	Watch(ctx context.Context) (op loadgen.TimedOp, done func(), err error)
	// Lock is a lock handed between clients on two different nodes.
	Lock(ctx context.Context) (op loadgen.TimedOp, done func(), err error)
	Close()
}

// locker is one contender of a lock recipe.
type locker interface {
	acquire(ctx context.Context) error
	release(ctx context.Context) error
}

// handoff is a lock passed back and forth between two contenders: each
// operation is one handoff, timed from the holder's release to the
// waiter holding it. waiting reports how many contenders are in line.
type handoff struct {
	lk      [2]locker
	holder  int
	waiting func(ctx context.Context) (int, error)
}

func (h *handoff) op(ctx context.Context, _ int, _ uint64) (time.Duration, string, string) {
	w := 1 - h.holder
	type acquired struct {
		at  time.Time
		err error
	}
	done := make(chan acquired, 1)
	go func() {
		err := h.lk[w].acquire(ctx)
		done <- acquired{time.Now(), err}
	}()
	// Release only once the waiter is in line and has had time to set its
	// watch: otherwise it finds the lock free without waiting for it.
	queued := h.inLine(ctx)
	time.Sleep(20 * time.Millisecond)
	t0 := time.Now()
	relErr := h.lk[h.holder].release(ctx)
	a := <-done // the waiter holds it, or gave up with ctx
	switch {
	case relErr != nil:
		return 0, "release", relErr.Error()
	case a.err != nil:
		return 0, "acquire", a.err.Error()
	}
	h.holder = w
	if queued != nil {
		return 0, "queue", queued.Error()
	}
	return a.at.Sub(t0), "", ""
}

// inLine waits until both contenders are in line.
func (h *handoff) inLine(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := h.waiting(ctx)
		switch {
		case err != nil:
			return err
		case n >= 2:
			return nil
		case time.Now().After(deadline):
			return errors.New("the waiter did not get in line within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
