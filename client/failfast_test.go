package client

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// deadServers are two loopback addresses where nothing listens.
func deadServers(t *testing.T) []string {
	var out []string
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "http://"+ln.Addr().String())
		ln.Close()
	}
	return out
}

// TestFailFastGivesUpWhenNothingListens: with FailFast, a call, a one-shot
// watch and a persistent watch each end with the refusal as soon as every
// server has refused, well before their 10 s deadline; without it, a
// call retries until its deadline.
func TestFailFastGivesUpWhenNothingListens(t *testing.T) {
	servers := deadServers(t)
	c, err := New(Config{Servers: servers, FailFast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, call := range map[string]func(context.Context) error{
		"get":   func(ctx context.Context) error { _, err := c.Get(ctx, "/x"); return err },
		"getw":  func(ctx context.Context) error { _, _, err := c.GetW(ctx, "/x"); return err },
		"watch": func(ctx context.Context) error { _, err := c.Watch(ctx, "/x", nil); return err },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		err := call(ctx)
		cancel()
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: got %v, want ErrUnavailable with the refusal", name, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s gave up after %v; every server refuses at once", name, took)
		}
	}

	patient, err := New(Config{Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	defer patient.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := patient.Get(ctx, "/x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("without FailFast: got %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("without FailFast the call gave up after %v, before its 600 ms deadline", took)
	}
}
