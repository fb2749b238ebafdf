package recipe_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// term is one candidate's leadership as it saw it.
type term struct {
	name       string
	token      int64
	start, end time.Time
	err        error
}

func TestElectionHandsOverWhenTheLeadersSessionExpires(t *testing.T) {
	t.Parallel()
	path := testPath(t)
	ctx := testContext(t, 30*time.Second)
	observer := newClient(t)

	var mu sync.Mutex
	var terms []term
	clients := make([]*client.Client, 3)
	elections := make([]*recipe.Election, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		clients[i] = newClient(t)
		elections[i] = recipe.NewElection(newSession(t, clients[i]), path, fmt.Sprintf("c%d", i))
		e := elections[i]
		wg.Go(func() {
			if err := e.Campaign(ctx); err != nil {
				t.Errorf("%s: campaign: %v", e.Name(), err)
				return
			}
			tm := term{name: e.Name(), token: e.Token(), start: time.Now()}
			<-e.Lost()
			tm.end, tm.err = time.Now(), e.Err()
			mu.Lock()
			terms = append(terms, tm)
			mu.Unlock()
		})
		// Line them up in order: c0 leads, then c1, then c2.
		testkit.WaitFor(t, 5*time.Second, "candidate never stood", func() bool {
			c, _ := recipe.Candidates(ctx, observer, path)
			return len(c) == i+1
		})
	}
	leaderIs := func(want string) {
		t.Helper()
		testkit.WaitFor(t, 5*time.Second, want+" never reported as leader", func() bool {
			l, err := recipe.Leader(ctx, observer, path)
			return err == nil && l.Name == want
		})
	}
	leaderIs("c0")
	testkit.WaitFor(t, 5*time.Second, "c0 never learned it leads", elections[0].IsLeader)

	// c0's client goes away without a word: its session expires.
	abandoned := time.Now()
	clients[0].Close()
	testkit.WaitFor(t, minTimeout+5*time.Second, "c1 never led after c0's session expired", elections[1].IsLeader)
	if took := time.Since(abandoned); took > minTimeout+3*time.Second {
		t.Errorf("the new leader took %v after the old one went, want about the session timeout %v", took, minTimeout)
	}
	leaderIs("c1")
	if err := elections[1].Resign(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "c2 never led after c1 resigned", elections[2].IsLeader)
	if err := elections[2].Resign(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := recipe.Leader(ctx, observer, path); !errors.Is(err, recipe.ErrNoLeader) {
		t.Errorf("Leader with every candidate gone: %v, want ErrNoLeader", err)
	}

	if len(terms) != 3 {
		t.Fatalf("%d terms, want 3: %+v", len(terms), terms)
	}
	byName := map[string]term{}
	for _, tm := range terms {
		byName[tm.name] = tm
	}
	if !errors.Is(byName["c0"].err, client.ErrSessionLost) {
		t.Errorf("c0 lost leadership with %v, want ErrSessionLost", byName["c0"].err)
	}
	for _, tm := range []string{"c1", "c2"} {
		if byName[tm].err != nil {
			t.Errorf("%s resigned, yet Err() = %v", tm, byName[tm].err)
		}
	}
	for _, pair := range [][2]string{{"c0", "c1"}, {"c1", "c2"}} {
		old, next := byName[pair[0]], byName[pair[1]]
		if next.start.Before(old.end) {
			t.Errorf("%s led from %v, before %s knew its term ended at %v: two leaders", next.name, next.start, old.name, old.end)
		}
		if next.token <= old.token {
			t.Errorf("%s's epoch %d not above %s's %d", next.name, next.token, old.name, old.token)
		}
	}
}

func TestElectionCampaignWithdrawsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	path := testPath(t)
	ctx := testContext(t, 10*time.Second)
	leader := recipe.NewElection(newSession(t, c), path, "leader")
	if err := leader.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := leader.Campaign(ctx); !errors.Is(err, recipe.ErrHeld) {
		t.Errorf("Campaign while leading: %v, want ErrHeld", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	other := recipe.NewElection(newSession(t, c), path, "other")
	if err := other.Campaign(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Campaign past its deadline: %v", err)
	}
	cands, err := recipe.Candidates(ctx, c, path)
	if err != nil || len(cands) != 1 || cands[0].Name != "leader" || cands[0].Token != leader.Token() {
		t.Errorf("candidates after a withdrawal: %+v, %v; want the leader only", cands, err)
	}
}
