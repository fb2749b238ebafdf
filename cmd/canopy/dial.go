package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// refusalWatch lets a command give up at once on a cluster none of whose
// servers accepts connections. The client retries a refused call until
// its deadline, which suits a program riding out a restart, not a person
// who forgot to start the server: after every server has refused twice in
// a row, the calls made through env.call are cancelled, and fail with the
// refusal. Long-lived watches and sessions are not affected.
type refusalWatch struct {
	addrs int // distinct server addresses

	mu      sync.Mutex
	refused map[string]int
	last    error // the last refusal
	giveUp  context.CancelFunc
}

// refusalsBeforeGivingUp is how many refusals of each server end the calls.
const refusalsBeforeGivingUp = 2

func (w *refusalWatch) dialed(addr string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		clear(w.refused)
		return
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return
	}
	w.refused[addr]++
	w.last = err
	if len(w.refused) < w.addrs {
		return
	}
	for _, n := range w.refused {
		if n < refusalsBeforeGivingUp {
			return
		}
	}
	w.giveUp()
}

// err is the refusal that made the command give up.
func (w *refusalWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// httpClient is the client's HTTP client, its dials watched for refusals.
func (w *refusalWatch) httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		w.dialed(addr, err)
		return conn, err
	}
	return &http.Client{Transport: t}
}
