package recipe_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client/recipe"
)

// stillBlocked fails the test if anything arrives on ch within a short
// while: a check that something does not happen yet.
func stillBlocked[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: got %v too early", what, v)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestBarrierHoldsWaitersUntilRemoved(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	path := testPath(t) + "/barrier"
	ctx := testContext(t, 10*time.Second)
	b := recipe.NewBarrier(c, path)
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("Wait on a barrier that is down: %v", err)
	}
	if err := b.Set(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx); err != nil {
		t.Fatalf("Set twice: %v", err)
	}
	released := make(chan error, 3)
	for range 3 {
		w := recipe.NewBarrier(newClient(t), path)
		go func() { released <- w.Wait(ctx) }()
	}
	stillBlocked(t, released, "a waiter passed a raised barrier")
	if err := b.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-released; err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Remove(ctx); err != nil {
		t.Fatalf("Remove twice: %v", err)
	}
}

func TestDoubleBarrierEntersAndLeavesTogether(t *testing.T) {
	t.Parallel()
	const n = 5
	path := testPath(t)
	ctx := testContext(t, 30*time.Second)
	parts := make([]*recipe.DoubleBarrier, n)
	for i := range parts {
		parts[i] = recipe.NewDoubleBarrier(newSession(t, newClient(t)), path, fmt.Sprintf("p%d", i), n)
	}
	for round := range 2 { // the barrier serves again once all have left
		entered := make(chan time.Time, n)
		for _, p := range parts[:n-1] {
			go func() {
				if err := p.Enter(ctx); err != nil {
					t.Error(err)
				}
				entered <- time.Now()
			}()
		}
		stillBlocked(t, entered, fmt.Sprintf("round %d: entered with %d of %d participants", round, n-1, n))
		lastArrived := time.Now()
		if err := parts[n-1].Enter(ctx); err != nil {
			t.Fatal(err)
		}
		for range n - 1 {
			if at := <-entered; at.Before(lastArrived) {
				t.Fatalf("round %d: a participant entered at %v, before the last arrived at %v", round, at, lastArrived)
			}
		}

		left := make(chan time.Time, n)
		var wg sync.WaitGroup
		for _, p := range parts[:n-1] {
			wg.Go(func() {
				if err := p.Leave(ctx); err != nil {
					t.Error(err)
				}
				left <- time.Now()
			})
		}
		stillBlocked(t, left, fmt.Sprintf("round %d: left while a participant is still in", round))
		lastLeft := time.Now()
		if err := parts[n-1].Leave(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for range n - 1 {
			if at := <-left; at.Before(lastLeft) {
				t.Fatalf("round %d: a participant left at %v, before the last began to leave at %v", round, at, lastLeft)
			}
		}
		kids, _, err := newClient(t).Children(ctx, path)
		if err != nil || len(kids) != 0 {
			t.Fatalf("round %d: nodes left after everyone left: %v, %v", round, kids, err)
		}
	}
}
