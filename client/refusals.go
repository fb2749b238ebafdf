package client

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// refusalsBeforeGivingUp is how many refusals in a row from every server
// make a FailFast client give up.
const refusalsBeforeGivingUp = 2

// refusals serves Config.FailFast. It counts, across a client's calls and
// watch connections, the servers that refused a connection (nothing
// listens there), and closes down once every server has refused twice in a
// row. Any connection made starts the count again.
type refusals struct {
	servers int // distinct

	mu         sync.Mutex
	n          map[string]int
	last       error // the last refusal, from lastServer
	lastServer string
	down       chan struct{}
}

func newRefusals(servers []string) *refusals {
	distinct := map[string]bool{}
	for _, s := range servers {
		distinct[s] = true
	}
	return &refusals{servers: len(distinct), n: map[string]int{}, down: make(chan struct{})}
}

// dialed records an attempt to reach server and how it ended: nil or an
// error the server answered with means it was reached. A nil *refusals
// (FailFast off) records nothing.
func (r *refusals) dialed(server string, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var op *net.OpError
	if err == nil || !errors.As(err, &op) {
		clear(r.n)
		select {
		case <-r.down:
			r.down = make(chan struct{}) // reachable again
		default:
		}
		return
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return
	}
	r.n[server]++
	r.last, r.lastServer = err, server
	if len(r.n) < r.servers {
		return
	}
	for _, k := range r.n {
		if k < refusalsBeforeGivingUp {
			return
		}
	}
	select {
	case <-r.down:
	default:
		close(r.down)
	}
}

// gaveUp is closed once every server has refused; nil (never ready) when
// FailFast is off.
func (r *refusals) gaveUp() <-chan struct{} {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// err is why the client gave up: the last refusal, as unavailability.
func (r *refusals) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ne *netError
	if errors.As(r.last, &ne) {
		return r.last
	}
	return &netError{server: r.lastServer, err: r.last}
}
