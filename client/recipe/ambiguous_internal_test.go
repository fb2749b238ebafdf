package recipe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// These tests lose the answers of creates, as a connection dropped after
// the request left would, by replacing create. They replace a package
// variable, so they do not run in parallel (parallel tests start after
// them).

func loseAnswers(t *testing.T, f func(c *client.Client, ctx context.Context, path string, data []byte, opts *client.CreateOptions) (string, client.Stat, error)) {
	create = f
	t.Cleanup(func() { create = (*client.Client).Create })
}

func setup(t *testing.T) (*client.Client, *client.Session, context.Context) {
	nd := testnode.Start(t)
	c, err := client.New(client.Config{Servers: []string{nd.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	s, err := c.NewSession(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return c, s, ctx
}

var errLost = fmt.Errorf("%w: answer dropped by the test", client.ErrConnectionLoss)

func TestLockFindsItsNodeAfterAnAmbiguousCreate(t *testing.T) {
	c, s, ctx := setup(t)
	applied := 0
	loseAnswers(t, func(c *client.Client, ctx context.Context, path string, data []byte, opts *client.CreateOptions) (string, client.Stat, error) {
		p, st, err := c.Create(ctx, path, data, opts)
		if err == nil {
			applied++
			if applied == 1 {
				return "", client.Stat{}, errLost // applied, answer lost
			}
		}
		return p, st, err
	})
	l := NewLock(s, "/amb1")
	token, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("create applied %d times; after an ambiguous answer the node must be found, not created again", applied)
	}
	kids, _, _ := c.Children(ctx, "/amb1")
	if len(kids) != 1 || "/amb1/"+kids[0] != l.Node() {
		t.Fatalf("lock nodes %v, want only the holder's %s", kids, l.Node())
	}
	st, _ := c.Stat(ctx, l.Node())
	if st.Czxid != token {
		t.Errorf("token %d, node's czxid %d", token, st.Czxid)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if kids, _, _ := c.Children(ctx, "/amb1"); len(kids) != 0 {
		t.Errorf("nodes left after release: %v", kids)
	}
}

// A create that applies only after the retry's (a duplicate ahead of the
// node the recipe thinks its own) must not hold the lock for nobody: the
// contender adopts the first node of its guid and deletes the other.
func TestLockAdoptsAnEarlierDuplicateOfItsNode(t *testing.T) {
	c, s, ctx := setup(t)
	calls := 0
	var ghost string
	loseAnswers(t, func(c *client.Client, ctx context.Context, path string, data []byte, opts *client.CreateOptions) (string, client.Stat, error) {
		calls++
		if calls == 1 {
			return "", client.Stat{}, errLost // not applied yet
		}
		// The first attempt applies now, just before the second.
		g, _, err := c.Create(ctx, path, data, opts)
		if err != nil {
			return "", client.Stat{}, err
		}
		ghost = g
		return c.Create(ctx, path, data, opts)
	})
	other := NewLock(s, "/amb2") // someone else queued behind
	l := NewLock(s, "/amb2")
	token, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.Node() != ghost {
		t.Errorf("holds through %s, want the earlier duplicate %s", l.Node(), ghost)
	}
	kids, _, _ := c.Children(ctx, "/amb2")
	if len(kids) != 1 {
		t.Errorf("lock nodes %v, want one", kids)
	}
	st, _ := c.Stat(ctx, ghost)
	if st.Czxid != token {
		t.Errorf("token %d, adopted node's czxid %d", token, st.Czxid)
	}
	create = (*client.Client).Create
	if _, ok, err := other.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire while held: %v, %v", ok, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := other.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("TryAcquire after release: %v, %v (nodes left: %v)", ok, err, kids)
	}
}

func TestParseSeqNode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ok         bool
		guid, kind string
		seq        int64
	}{
		{"_c_0123abcd-lock-0000000042", true, "0123abcd", "lock", 42},
		{"_c_0123abcd-read-0000000001", true, "0123abcd", "read", 1},
		{"lock-0000000007", true, "", "lock", 7},
		{"x-y-write-0000000003", true, "", "write", 3},
		{"0000000009", true, "", "", 9},
		{"ready", false, "", "", 0},
		{"lock-12", false, "", "", 0},
	} {
		n, ok := parseSeqNode(tc.name)
		if ok != tc.ok || (ok && (n.guid != tc.guid || n.kind != tc.kind || n.seq != tc.seq)) {
			t.Errorf("parseSeqNode(%q) = %+v, %v; want guid %q kind %q seq %d, %v", tc.name, n, ok, tc.guid, tc.kind, tc.seq, tc.ok)
		}
	}
}
