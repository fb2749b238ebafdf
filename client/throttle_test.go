package client_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// TestWatchesOutlastTheClientRate: a node limits this client's rate
// (--max-client-rate) and another part of the same program spends it for
// longer than a watch connection's health check interval. The watches set
// before stay set (a refused health check is not a dead server), a one-shot
// read made meanwhile waits for the rate instead of failing, and all of
// them fire on the changes made after.
func TestWatchesOutlastTheClientRate(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, func(m *server.Main) { m.MaxClientRate = 20 })
	c := newClient(t, nd.URL)
	ctx := testCtx(t, 60*time.Second)
	check(t, second(c.Create(ctx, "/rated", nil, nil)))
	w, err := c.Watch(ctx, "/rated", &client.WatchOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, _, created, err := c.ExistsW(ctx, "/rated/child")
	check(t, err)

	// Spend the rate, at ten times it, for longer than a health check's
	// interval (3 s).
	spend, stop := context.WithTimeout(ctx, 4*time.Second)
	defer stop()
	var wg sync.WaitGroup
	var refused atomic.Int64
	wg.Go(func() {
		hc := &http.Client{}
		for spend.Err() == nil {
			if resp, err := hc.Get(nd.URL + "/v1/nodes/rated"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					refused.Add(1)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	testkit.WaitFor(t, 5*time.Second, "the spender was never refused", func() bool { return refused.Load() > 0 })
	_, changed, err := c.GetW(ctx, "/rated")
	if err != nil {
		t.Fatalf("GetW while the rate is spent: %v", err)
	}
	wg.Wait()

	check(t, second(c.Create(ctx, "/rated/child", nil, nil)))
	must(c.Set(ctx, "/rated", []byte("x"), -1))
	for what, ch := range map[string]<-chan client.Event{"ExistsW": created, "GetW": changed} {
		select {
		case e := <-ch:
			if e.Type != client.EventNodeCreated && e.Type != client.EventNodeDataChanged {
				t.Errorf("%s's watch: %+v", what, e)
			}
		case <-ctx.Done():
			t.Fatalf("%s's watch never fired", what)
		}
	}
	for {
		select {
		case e, ok := <-w.Events():
			if !ok {
				t.Fatalf("the persistent watch ended: %v", w.Err())
			}
			if e.Type == client.EventNodeCreated && e.Path == "/rated/child" {
				return
			}
		case <-ctx.Done():
			t.Fatal("the persistent watch never saw /rated/child created")
		}
	}
}
