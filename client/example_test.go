package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// serverURL is a real node the examples talk to, started by TestMain; in your
// code it is your cluster's addresses (or client.ServersFromEnv()).
var serverURL string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "canopy-client-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nd, err := testnode.Launch(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverURL = nd.URL
	code := m.Run()
	nd.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

func Example() {
	ctx := context.Background()
	c, err := client.New(client.Config{Servers: []string{serverURL}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if _, _, err := c.Create(ctx, "/example/config", []byte("v1"), &client.CreateOptions{Parents: true}); err != nil {
		panic(err)
	}
	node, err := c.Get(ctx, "/example/config")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s = %q (version %d)\n", node.Path, node.Data, node.Stat.Version)

	// Versions make updates safe against concurrent writers.
	if _, err := c.Set(ctx, "/example/config", []byte("v2"), node.Stat.Version); err != nil {
		panic(err)
	}
	_, err = c.Set(ctx, "/example/config", []byte("v3"), node.Stat.Version)
	fmt.Println("stale version refused:", errors.Is(err, client.ErrBadVersion))

	_, err = c.Get(ctx, "/example/missing")
	fmt.Println("missing:", errors.Is(err, client.ErrNoNode))
	// Output:
	// /example/config = "v1" (version 0)
	// stale version refused: true
	// missing: true
}

func ExampleClient_NewSession() {
	ctx := context.Background()
	c, _ := client.New(client.Config{Servers: []string{serverURL}})
	defer c.Close()

	// The session keeps itself alive; its ephemeral nodes live as long.
	s, err := c.NewSession(ctx, 5*time.Second)
	if err != nil {
		panic(err)
	}
	c.Create(ctx, "/example-workers", nil, nil)
	p, _, err := s.Create(ctx, "/example-workers/w-", []byte("host-a"), &client.CreateOptions{Ephemeral: true, Sequential: true})
	if err != nil {
		panic(err)
	}
	fmt.Println("registered as", p)

	s.Close(ctx) // its ephemerals are gone when Close returns
	_, ok, _ := c.Exists(ctx, p)
	fmt.Println("still there after Close:", ok)
	// Output:
	// registered as /example-workers/w-0000000000
	// still there after Close: false
}

func ExampleClient_GetW() {
	ctx := context.Background()
	c, _ := client.New(client.Config{Servers: []string{serverURL}})
	defer c.Close()
	c.Create(ctx, "/example-flag", []byte("off"), nil)

	node, changed, err := c.GetW(ctx, "/example-flag")
	if err != nil {
		panic(err)
	}
	fmt.Printf("flag is %s\n", node.Data)

	c.Set(ctx, "/example-flag", []byte("on"), client.AnyVersion)
	e := <-changed // one event, then the channel closes: read again to watch again
	fmt.Println(e.Type, e.Path)
	// Output:
	// flag is off
	// NodeDataChanged /example-flag
}

func ExampleClient_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := client.New(client.Config{Servers: []string{serverURL}})
	defer c.Close()
	c.Create(ctx, "/example-app", nil, nil)

	// Every change below /example-app, for as long as ctx lives, across
	// reconnects and server failures.
	w, err := c.Watch(ctx, "/example-app", &client.WatchOptions{Recursive: true})
	if err != nil {
		panic(err)
	}
	c.Create(ctx, "/example-app/a", []byte("1"), nil)
	c.Set(ctx, "/example-app/a", []byte("2"), client.AnyVersion)
	c.Delete(ctx, "/example-app/a", client.AnyVersion)
	for i := 0; i < 3; i++ {
		e := <-w.Events()
		fmt.Println(e.Type, e.Path)
	}
	// Output:
	// NodeCreated /example-app/a
	// NodeDataChanged /example-app/a
	// NodeDeleted /example-app/a
}

func ExampleClient_Multi() {
	ctx := context.Background()
	c, _ := client.New(client.Config{Servers: []string{serverURL}})
	defer c.Close()
	c.Create(ctx, "/example-account", []byte("100"), nil)

	// All or nothing: the check fails, so nothing is created.
	_, err := c.Multi(ctx,
		client.CreateOp("/example-account/tx-1", []byte("debit 10"), nil),
		client.CheckOp("/example-account", 5),
	)
	fmt.Println("failed:", errors.Is(err, client.ErrBadVersion))
	_, ok, _ := c.Exists(ctx, "/example-account/tx-1")
	fmt.Println("tx-1 exists:", ok)
	// Output:
	// failed: true
	// tx-1 exists: false
}

func ExampleClient_SetACL() {
	ctx := context.Background()
	// Alice's requests carry her credentials (HTTP Basic): the server
	// gives them the identity digest:alice:<base64 sha1>, api.Digest's.
	alice, err := client.New(client.Config{Servers: []string{serverURL}, User: "alice", Password: "secret"})
	if err != nil {
		panic(err)
	}
	defer alice.Close()
	anyone, err := client.New(client.Config{Servers: []string{serverURL}})
	if err != nil {
		panic(err)
	}
	defer anyone.Close()

	// zkCli's syntax: alice may do anything, anyone else read.
	acl, err := api.ParseACLList("digest:" + api.Digest("alice", "secret") + ":cdrwa,world:anyone:r")
	if err != nil {
		panic(err)
	}
	if _, _, err := alice.Create(ctx, "/example-acl", []byte("v1"), &client.CreateOptions{ACL: acl}); err != nil {
		panic(err)
	}
	_, err = anyone.Set(ctx, "/example-acl", []byte("v2"), client.AnyVersion)
	fmt.Println("anyone may write:", !errors.Is(err, client.ErrNoAuth))

	// Only alice from now on, if nobody changed the ACL since (aversion 0).
	res, err := alice.SetACL(ctx, "/example-acl", acl[:1], 0)
	if err != nil {
		panic(err)
	}
	fmt.Println("aversion:", res.Stat.Aversion)
	_, err = anyone.Get(ctx, "/example-acl")
	fmt.Println("anyone may read:", !errors.Is(err, client.ErrNoAuth))
	// Output:
	// anyone may write: false
	// aversion: 1
	// anyone may read: false
}
