package recipe_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client/recipe"
)

func TestQueueTenProducersTenConsumers(t *testing.T) {
	t.Parallel()
	const producers, consumers, perProducer = 10, 10, 30
	const total = producers * perProducer
	path := testPath(t)
	ctx := testContext(t, 60*time.Second)
	takeCtx, stopTaking := context.WithCancel(ctx)
	defer stopTaking()

	var taken atomic.Int32
	got := make([][]string, consumers) // per consumer, in the order taken
	var wg sync.WaitGroup
	for i := range consumers {
		q := recipe.NewQueue(newClient(t), path)
		wg.Go(func() {
			for {
				data, err := q.Take(takeCtx)
				if err != nil {
					if takeCtx.Err() == nil {
						t.Errorf("consumer %d: %v", i, err)
					}
					return
				}
				got[i] = append(got[i], string(data))
				if taken.Add(1) == total {
					stopTaking()
				}
			}
		})
	}
	var pg sync.WaitGroup
	for p := range producers {
		q := recipe.NewQueue(newClient(t), path)
		pg.Go(func() {
			for j := range perProducer {
				if err := q.Put(ctx, fmt.Appendf(nil, "%d/%d", p, j)); err != nil {
					t.Errorf("producer %d: %v", p, err)
					return
				}
			}
		})
	}
	pg.Wait()
	wg.Wait()

	seen := map[string]int{}
	for i, items := range got {
		last := map[int]int{} // producer → last index this consumer took
		for _, it := range items {
			seen[it]++
			var p, j int
			fmt.Sscanf(it, "%d/%d", &p, &j)
			if prev, ok := last[p]; ok && j <= prev {
				t.Errorf("consumer %d took %d/%d after %d/%d: not FIFO", i, p, j, p, prev)
			}
			last[p] = j
		}
	}
	for p := range producers {
		for j := range perProducer {
			if n := seen[fmt.Sprintf("%d/%d", p, j)]; n != 1 {
				t.Errorf("item %d/%d taken %d times, want once", p, j, n)
			}
		}
	}
	if n, err := recipe.NewQueue(newClient(t), path).Len(ctx); err != nil || n != 0 {
		t.Errorf("Len after all were taken: %d, %v", n, err)
	}
}

func TestQueueIsFIFOAndTakeWaits(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := testContext(t, 10*time.Second)
	q := recipe.NewQueue(c, testPath(t))
	if _, ok, err := q.TryTake(ctx); ok || err != nil {
		t.Fatalf("TryTake of a queue never used: %v, %v", ok, err)
	}
	for i := range 5 {
		if err := q.Put(ctx, fmt.Appendf(nil, "item %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Len(ctx); n != 5 || err != nil {
		t.Errorf("Len = %d, %v; want 5", n, err)
	}
	for i := range 5 {
		data, err := q.Take(ctx)
		if err != nil || string(data) != fmt.Sprintf("item %d", i) {
			t.Fatalf("take %d: %q, %v", i, data, err)
		}
	}
	got := make(chan string, 1)
	go func() {
		data, err := q.Take(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- string(data)
	}()
	stillBlocked(t, got, "Take of an empty queue returned")
	if err := q.Put(ctx, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "late" {
		t.Errorf("waiting Take got %q, want late", v)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := q.Take(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Take of an empty queue past its deadline: %v", err)
	}
}
