package recipe_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

func names(ms []recipe.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name+"="+string(m.Data))
	}
	return strings.Join(out, ",")
}

func TestGroupWatchSeesJoinLeaveAndExpiry(t *testing.T) {
	t.Parallel()
	path := testPath(t)
	ctx := testContext(t, 20*time.Second)
	g := recipe.NewGroup(newClient(t), path)
	sets, err := g.Watch(ctx) // before the group exists
	if err != nil {
		t.Fatal(err)
	}
	var last string
	expect := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for last != want {
			select {
			case ms, ok := <-sets:
				if !ok {
					t.Fatal("watch channel closed")
				}
				last = names(ms)
			case <-deadline:
				t.Fatalf("members %q after %v, want %q", last, within, want)
			}
		}
	}
	expect("", time.Second)

	a := newSession(t, newClient(t))
	gone := newClient(t)
	b := newSession(t, gone)
	ma, err := g.Join(ctx, a, "a", []byte("10.0.0.1:80"))
	if err != nil {
		t.Fatal(err)
	}
	expect("a=10.0.0.1:80", 5*time.Second)
	if _, err := g.Join(ctx, b, "b", []byte("10.0.0.2:80")); err != nil {
		t.Fatal(err)
	}
	expect("a=10.0.0.1:80,b=10.0.0.2:80", 5*time.Second)
	if _, err := g.Join(ctx, b, "a", nil); !errors.Is(err, client.ErrNodeExists) {
		t.Errorf("joining under a name in use: %v, want ErrNodeExists", err)
	}
	if err := ma.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	expect("b=10.0.0.2:80", 5*time.Second)
	gone.Close() // b's session expires
	expect("", minTimeout+5*time.Second)

	members, err := g.Members(ctx)
	if err != nil || len(members) != 0 {
		t.Errorf("Members after all left: %v, %v", members, err)
	}
	if _, err := g.Join(ctx, a, "a", []byte("again")); err != nil {
		t.Fatal(err)
	}
	expect("a=again", 5*time.Second)
	members, err = g.Members(ctx)
	if err != nil || names(members) != "a=again" || members[0].Session != a.ID() {
		t.Errorf("Members: %+v, %v", members, err)
	}
}

func TestGroupWatchEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Second)
	g := recipe.NewGroup(newClient(t), testPath(t))
	sets, err := g.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-sets
	cancelCtx := testContext(t, 100*time.Millisecond)
	sets2, err := g.Watch(cancelCtx)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]recipe.Member
	for ms := range sets2 { // closed once cancelCtx ends
		got = append(got, ms)
	}
	if len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("sets before the end: %v", got)
	}
}
