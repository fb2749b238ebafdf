package clustertest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
)

// TestClientWatchLeavesAPartitionedNode cuts off the node a Go client's
// persistent watch is connected to. The node keeps the socket open but sees
// no more changes; the client's health check must notice, move to another
// node, and resume there: every change seen once, in order.
func TestClientWatchLeavesAPartitionedNode(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var servers []string
	for _, nd := range c.nodes {
		servers = append(servers, nd.url(""))
	}
	watcher, err := client.New(client.Config{Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	writer, err := client.New(client.Config{Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	_, created, err := writer.Create(ctx, "/cw", []byte("0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := watcher.Watch(ctx, "/cw", &client.WatchOptions{SinceZxid: created.Czxid})
	if err != nil {
		t.Fatal(err)
	}
	var cut *node
	for _, nd := range c.nodes {
		if nd.url("") == watcher.Server() {
			cut = nd
		}
	}
	if cut == nil {
		t.Fatalf("the watcher's server %s is none of the cluster's", watcher.Server())
	}

	const changes = 40
	set := func(i int) error {
		for {
			_, err := writer.Set(ctx, "/cw", []byte(strconv.Itoa(i)), int32(i-1))
			if errors.Is(err, client.ErrBadVersion) { // an earlier attempt applied
				if nd, gerr := writer.Get(ctx, "/cw"); gerr == nil && string(nd.Data) == strconv.Itoa(i) {
					return nil
				}
			}
			if err == nil || !(errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrConnectionLoss)) || ctx.Err() != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	next := 1
	expect := func(upTo int) {
		for ; next <= upTo; next++ {
			select {
			case e, ok := <-w.Events():
				if !ok {
					t.Fatalf("watch ended: %v", w.Err())
				}
				if e.Type != client.EventNodeDataChanged || e.Stat == nil || e.Stat.Version != int32(next) {
					t.Fatalf("event %d: %s %+v, want NodeDataChanged version %d", next, e.Type, e.Stat, next)
				}
			case <-ctx.Done():
				t.Fatalf("no event for change %d (watcher's node %s cut off)", next, cut.id)
			}
		}
	}
	for i := 1; i <= changes/2; i++ {
		if err := set(i); err != nil {
			t.Fatal(err)
		}
	}
	expect(changes / 2)
	cut.partition()
	start := time.Now()
	for i := changes/2 + 1; i <= changes; i++ {
		if err := set(i); err != nil {
			t.Fatal(err)
		}
	}
	expect(changes)
	t.Logf("watcher moved off the cut-off %s and caught up in %v", cut.id, time.Since(start).Round(time.Millisecond))
	if watcher.Server() == cut.url("") {
		t.Fatalf("the watcher's client still uses the cut-off node %s", cut.id)
	}
	cut.heal()
}
