package recipe_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

// The examples connect to the cluster named by CANOPY_SERVERS (the tests
// point it at a node of their own), as a program would.

// A lock, and its fencing token handed to the storage it protects.
func ExampleLock() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	l := recipe.NewLock(s, "/examples/lock")
	token, err := l.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// Work under the lock stops when the lock is lost.
	select {
	case <-l.Lost():
		log.Fatal("lost the lock: ", l.Err())
	default:
	}
	// The storage remembers the highest token it has seen and refuses
	// lower ones: a holder that lost the lock without noticing (paused
	// for longer than its session timeout) cannot overwrite a newer
	// holder's write.
	fmt.Println("token is the lock node's czxid:", token > 0)
	if err := l.Release(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("held after release:", l.Held())
	// Output:
	// token is the lock node's czxid: true
	// held after release: false
}

// Readers share, a writer excludes them.
func ExampleRWLock() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	rw := recipe.NewRWLock(s, "/examples/rwlock")
	r1, r2 := rw.ReadLock(), rw.ReadLock()
	for _, r := range []*recipe.Lock{r1, r2} {
		if _, err := r.Acquire(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("two readers hold:", r1.Held() && r2.Held())
	w := rw.WriteLock()
	_, ok, err := w.TryAcquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("writer gets it while they read:", ok)
	r1.Release(ctx)
	r2.Release(ctx)
	_, ok, err = w.TryAcquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("writer gets it once they are done:", ok)
	w.Release(ctx)
	// Output:
	// two readers hold: true
	// writer gets it while they read: false
	// writer gets it once they are done: true
}

// Two candidates: the first leads until it resigns, then the second.
func ExampleElection() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var candidates []*recipe.Election
	for _, name := range []string{"alpha", "beta"} {
		s, err := c.NewSession(ctx, 10*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close(ctx)
		candidates = append(candidates, recipe.NewElection(s, "/examples/election", name))
	}
	alpha, beta := candidates[0], candidates[1]

	if err := alpha.Campaign(ctx); err != nil {
		log.Fatal(err)
	}
	betaLeads := make(chan error)
	go func() { betaLeads <- beta.Campaign(ctx) }()

	leader, err := recipe.Leader(ctx, c, "/examples/election")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader:", leader.Name)
	// A leader works until Lost closes; here it steps down.
	if err := alpha.Resign(ctx); err != nil {
		log.Fatal(err)
	}
	if err := <-betaLeads; err != nil {
		log.Fatal(err)
	}
	fmt.Println("beta leads:", beta.IsLeader(), "with a later epoch:", beta.Token() > leader.Token)
	beta.Resign(ctx)
	// Output:
	// leader: alpha
	// beta leads: true with a later epoch: true
}

// Service discovery: members join with their address; others list them.
func ExampleGroup() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	g := recipe.NewGroup(c, "/examples/services/api")
	for i, addr := range []string{"10.0.0.1:8080", "10.0.0.2:8080"} {
		m, err := g.Join(ctx, s, fmt.Sprintf("api-%d", i+1), []byte(addr))
		if err != nil {
			log.Fatal(err)
		}
		defer m.Leave(ctx)
	}
	members, err := g.Members(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range members {
		fmt.Printf("%s at %s\n", m.Name, m.Data)
	}
	// Output:
	// api-1 at 10.0.0.1:8080
	// api-2 at 10.0.0.2:8080
}

// A coordinator holds workers back until everything is ready.
func ExampleBarrier() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	b := recipe.NewBarrier(c, "/examples/barrier")
	if err := b.Set(ctx); err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := b.Wait(ctx); err != nil {
				log.Fatal(err)
			}
		})
	}
	fmt.Println("workers wait")
	if err := b.Remove(ctx); err != nil {
		log.Fatal(err)
	}
	wg.Wait()
	fmt.Println("workers released")
	// Output:
	// workers wait
	// workers released
}

// Three participants start and finish a computation together.
func ExampleDoubleBarrier() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var mu sync.Mutex
	entered := 0
	var wg sync.WaitGroup
	for i := range 3 {
		s, err := c.NewSession(ctx, 10*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close(ctx)
		b := recipe.NewDoubleBarrier(s, "/examples/double-barrier", fmt.Sprintf("p%d", i), 3)
		wg.Go(func() {
			if err := b.Enter(ctx); err != nil {
				log.Fatal(err)
			}
			mu.Lock()
			entered++
			mu.Unlock()
			// ... compute ...
			if err := b.Leave(ctx); err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	fmt.Println("entered together, left together:", entered)
	// Output:
	// entered together, left together: 3
}

// Producers put, consumers take, first in first out.
func ExampleQueue() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	q := recipe.NewQueue(c, "/examples/queue")
	for _, job := range []string{"resize a.png", "resize b.png"} {
		if err := q.Put(ctx, []byte(job)); err != nil {
			log.Fatal(err)
		}
	}
	n, err := q.Len(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queued:", n)
	for range n {
		job, err := q.Take(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("took:", string(job))
	}
	// Output:
	// queued: 2
	// took: resize a.png
	// took: resize b.png
}

// A service reads its settings from a node and follows their changes.
func ExampleWatchConfig() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	type settings struct {
		MaxConns int `json:"max_conns"`
	}
	const path = "/examples/config/web"
	if _, _, err := c.Create(ctx, path, []byte(`{"max_conns": 100}`), &client.CreateOptions{Parents: true}); err != nil {
		log.Fatal(err)
	}
	defer c.Delete(ctx, path, client.AnyVersion)

	cfg, err := recipe.WatchConfig[settings](ctx, c, path)
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()
	fmt.Println("max_conns:", cfg.Get().MaxConns)

	if _, err := c.Set(ctx, path, []byte(`{"max_conns": 250}`), client.AnyVersion); err != nil {
		log.Fatal(err)
	}
	for st := range cfg.Updates() {
		if st.Err != nil {
			fmt.Println("config problem, keeping the last good one:", st.Err)
			continue
		}
		if st.Value.MaxConns == 250 {
			fmt.Println("max_conns:", st.Value.MaxConns)
			break
		}
	}
	// Output:
	// max_conns: 100
	// max_conns: 250
}
