package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

func urls(nodes ...*testnode.Node) []string {
	var out []string
	for _, nd := range nodes {
		out = append(out, nd.URL)
	}
	return out
}

// leaderOf finds the cluster's leader among nodes.
func leaderOf(t testing.TB, ctx context.Context, nodes []*testnode.Node) *testnode.Node {
	t.Helper()
	c := newClient(t, urls(nodes...)...)
	for {
		info, err := c.Cluster(ctx)
		if err == nil && info.Leader != nil {
			for _, nd := range nodes {
				if nd.ID == info.Leader.ID {
					return nd
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no leader: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// retryWrite repeats a write that failed because the cluster had no leader
// for a moment. Each attempt is idempotent here (a set of the same value
// with no version), which is what makes the retry safe.
func retryWrite(ctx context.Context, write func() error) error {
	for {
		err := write()
		if err == nil || !(errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrConnectionLoss)) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSessionAndReadsSurviveTheLeadersLoss(t *testing.T) {
	t.Parallel()
	nodes := testnode.StartCluster(t, 3)
	ctx := testCtx(t, 90*time.Second)
	c := newClient(t, urls(nodes...)...)
	s := must(c.NewSession(ctx, 4*time.Second))
	p, _, err := s.Create(ctx, "/owned", nil, &client.CreateOptions{Ephemeral: true})
	check(t, err)

	leader := leaderOf(t, ctx, nodes)
	leader.Stop()
	// Reads move to a live server by themselves.
	if _, ok, err := c.Exists(ctx, p); err != nil || !ok {
		t.Fatalf("after the leader stopped: Exists = %v, %v", ok, err)
	}
	// A write may meet the election: the caller retries what is safe to.
	check(t, retryWrite(ctx, func() error {
		_, err := c.Set(ctx, "/", []byte("after"), client.AnyVersion)
		return err
	}))
	// The session lives on past its timeout, through the new leader.
	deadline := time.Now().Add(2 * s.Timeout())
	for time.Now().Before(deadline) {
		select {
		case <-s.Done():
			t.Fatalf("session ended across the failover: %v", s.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	if _, ok, err := c.Exists(ctx, p); err != nil || !ok {
		t.Fatalf("the session's ephemeral after the failover: %v, %v", ok, err)
	}
	leader.Restart()
	check(t, s.Close(ctx))
	if _, ok, _ := c.Exists(ctx, p); ok {
		t.Fatal("the ephemeral outlived its session's Close")
	}
}

// TestWatchResumesOnAnotherServerWithoutLossOrRepeat stops, in turn, each
// server a watcher may be connected to while changes go on: it must see
// every change once, in order.
func TestWatchResumesOnAnotherServerWithoutLossOrRepeat(t *testing.T) {
	t.Parallel()
	nodes := testnode.StartCluster(t, 3)
	ctx := testCtx(t, 120*time.Second)
	writer := newClient(t, nodes[2].URL)
	_, created, err := writer.Create(ctx, "/w", []byte("0"), nil)
	check(t, err)
	watcher := newClient(t, nodes[0].URL, nodes[1].URL)
	// From the creation on: the watcher's server may not have applied it yet.
	w := must(watcher.Watch(ctx, "/w", &client.WatchOptions{SinceZxid: created.Czxid}))

	const changes = 150
	written := make(chan error, 1)
	go func() {
		for i := 1; i <= changes; i++ {
			err := retryWrite(ctx, func() error {
				// The version makes a repeated set fail rather than apply twice.
				_, err := writer.Set(ctx, "/w", []byte(strconv.Itoa(i)), int32(i-1))
				if errors.Is(err, client.ErrBadVersion) {
					if nd, gerr := writer.Get(ctx, "/w"); gerr == nil && string(nd.Data) == strconv.Itoa(i) {
						return nil // the earlier attempt had applied
					}
				}
				return err
			})
			if err != nil {
				written <- fmt.Errorf("write %d: %w", i, err)
				return
			}
			if i%50 == 0 { // stop and restart the watcher's servers in turn
				nd := nodes[(i/50-1)%2]
				nd.Stop()
				nd.Restart()
			}
		}
		written <- nil
	}()

	for want := 1; want <= changes; want++ {
		select {
		case e, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			if e.Type != client.EventNodeDataChanged || e.Stat == nil || e.Stat.Version != int32(want) {
				t.Fatalf("event %d: %s with stat %+v, want NodeDataChanged version %d", want, e.Type, e.Stat, want)
			}
		case err := <-written:
			if err != nil {
				t.Fatal(err)
			}
			written <- nil // all written: keep reading the events
			want--
		case <-ctx.Done():
			t.Fatalf("waited for change %d", want)
		}
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-w.Events():
		t.Fatalf("an event beyond the last change: %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}
