package recipe_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// helperEnv, when set, makes the test binary a helper process (see
// TestHelperLockHolder): no shared node.
const helperEnv = "CANOPY_RECIPE_HELPER"

// sharedURL is a node that lives for the whole test binary. The examples
// find it through CANOPY_SERVERS, as a program would; tests that need no
// node of their own use it under paths of their own.
var sharedURL string

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "canopy-recipe-")
	if err != nil {
		panic(err)
	}
	nd, err := testnode.Launch(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the shared node:", err)
		os.Exit(1)
	}
	sharedURL = nd.URL
	os.Setenv("CANOPY_SERVERS", sharedURL)
	code := m.Run()
	nd.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newClient returns a client of servers, closed when the test ends.
func newClient(t testing.TB, servers ...string) *client.Client {
	t.Helper()
	if len(servers) == 0 {
		servers = []string{sharedURL}
	}
	c, err := client.New(client.Config{Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// minTimeout is the shortest session timeout the server grants.
const minTimeout = 2 * time.Second

// newSession opens a session of c with the minimum timeout, closed when
// the test ends.
func newSession(t testing.TB, c *client.Client) *client.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.NewSession(ctx, minTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

var pathSeq atomic.Int64

// testPath is a path no other test uses.
func testPath(t testing.TB) string {
	return fmt.Sprintf("/test/%s-%d", t.Name(), pathSeq.Add(1))
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
