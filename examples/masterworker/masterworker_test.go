package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
)

func testLogger(t *testing.T, role, name string) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", role, "name", name)
}

func newTestClient(t *testing.T, url string) *client.Client {
	c, err := client.New(client.Config{Servers: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Two masters and three workers; 30 tasks; one worker dies (its session
// closed) with tasks assigned, and the leading master dies too (its client
// gone silent: its session expires). Every task completes exactly once.
func TestEveryTaskCompletesExactlyOnceAcrossWorkerAndMasterDeaths(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	lay := Layout{Root: "/mw"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	observer := newTestClient(t, nd.URL)
	const timeout = 2 * time.Second
	const tasks = 30

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	masterClients := map[string]*client.Client{}
	for _, name := range []string{"m1", "m2"} {
		c := newTestClient(t, nd.URL)
		masterClients[name] = c
		m := &Master{Client: c, Layout: lay, Name: name, SessionTimeout: timeout, Log: testLogger(t, "master", name)}
		wg.Go(func() { m.Run(ctx) })
		if name == "m1" {
			testkit.WaitFor(t, 10*time.Second, "m1 never led", func() bool {
				l, err := recipe.Leader(ctx, observer, lay.Election())
				return err == nil && l.Name == "m1"
			})
		}
	}

	// Workers start working once every task is assigned, so that each has
	// a backlog when one dies.
	gate := make(chan struct{})
	var mu sync.Mutex
	commits := map[string][]string{} // task → workers whose commit succeeded
	sessions := map[string]*client.Session{}
	for _, name := range []string{"w1", "w2", "w3"} {
		c := newTestClient(t, nd.URL)
		s, err := c.NewSession(ctx, timeout)
		if err != nil {
			t.Fatal(err)
		}
		sessions[name] = s
		w := &Worker{Client: c, Layout: lay, Name: name, SessionTimeout: timeout, Log: testLogger(t, "worker", name),
			Do: func(ctx context.Context, task string, payload []byte) ([]byte, error) {
				select {
				case <-gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				time.Sleep(30 * time.Millisecond) // the work, finished even by a worker about to be taken for dead
				return []byte(strings.ToUpper(string(payload))), nil
			},
			Committed: func(task string) {
				mu.Lock()
				commits[task] = append(commits[task], name)
				mu.Unlock()
			}}
		wg.Go(func() { w.RunIn(ctx, s) })
	}
	testkit.WaitFor(t, 10*time.Second, "workers never joined", func() bool {
		ms, _ := recipe.NewGroup(observer, lay.Workers()).Members(ctx)
		return len(ms) == 3
	})

	for i := range tasks {
		if _, err := Submit(ctx, observer, lay, fmt.Appendf(nil, "task %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "tasks never all assigned", func() bool {
		n := 0
		for _, w := range []string{"w1", "w2", "w3"} {
			kids, _, _ := observer.Children(ctx, lay.AssignOf(w))
			n += len(kids)
		}
		return n == tasks
	})
	close(gate)
	done := func() int {
		st, _ := Statuses(ctx, observer, lay)
		return len(st)
	}
	testkit.WaitFor(t, 20*time.Second, "no task finished", func() bool { return done() >= 6 })

	// w1 dies with work assigned; so does the leading master.
	orphans, _, err := observer.Children(ctx, lay.AssignOf("w1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) < 2 {
		t.Fatalf("w1 had %d tasks assigned when it died; the test wants several", len(orphans))
	}
	if err := sessions["w1"].Close(ctx); err != nil {
		t.Fatal(err)
	}
	masterClients["m1"].Close()
	killed := time.Now()

	testkit.WaitFor(t, 30*time.Second, "not every task finished", func() bool { return done() == tasks })
	l, err := recipe.Leader(ctx, observer, lay.Election())
	if err != nil || l.Name != "m2" {
		t.Errorf("leader after m1 died: %+v, %v; want m2", l, err)
	}
	t.Logf("all %d tasks done %v after the deaths", tasks, time.Since(killed))

	st, err := Statuses(ctx, observer, lay)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	unanswered := 0
	for task, result := range st {
		by := commits[task]
		switch {
		case len(by) == 0 && strings.HasPrefix(result, "w1: TASK "):
			// w1 died with this commit in flight: it applied, and the
			// answer never reached w1. The result is still recorded once.
			unanswered++
		case len(by) != 1:
			t.Errorf("%s committed by %v (status %q), want exactly one worker", task, by, result)
		case !strings.HasPrefix(result, by[0]+": TASK "):
			t.Errorf("%s: status %q, committed by %s", task, result, by[0])
		}
	}
	if len(commits)+unanswered != tasks {
		t.Errorf("%d tasks committed (and %d by w1 as it died), want %d", len(commits), unanswered, tasks)
	}
	reassigned := 0
	for _, task := range orphans {
		if by := commits[task]; len(by) == 1 && by[0] != "w1" {
			reassigned++
		}
	}
	if reassigned == 0 {
		t.Errorf("none of the dead worker's tasks %v was done by another worker", orphans)
	}
	if pool, _, _ := observer.Children(ctx, lay.Tasks()); len(pool) != 0 {
		t.Errorf("tasks left unassigned: %v", pool)
	}
	for _, w := range []string{"w1", "w2", "w3"} {
		if left, _, _ := observer.Children(ctx, lay.AssignOf(w)); len(left) != 0 {
			t.Errorf("tasks left assigned to %s: %v", w, left)
		}
	}
}
