package recipe_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// TestHelperLockHolder is not a test: run by TestLockOnAClusterSurvivesAKilledHolder
// as a separate process, it takes the lock, prints its token and holds it
// until it is killed.
func TestHelperLockHolder(t *testing.T) {
	if os.Getenv(helperEnv) != "lock-holder" {
		t.Skip("a helper process of TestLockOnAClusterSurvivesAKilledHolder")
	}
	c, err := client.New(client.Config{Servers: client.ServersFromEnv()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := c.NewSession(ctx, minTimeout)
	if err != nil {
		t.Fatal(err)
	}
	l := recipe.NewLock(s, os.Getenv("CANOPY_LOCK_PATH"))
	token, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("token %d\n", token)
	<-l.Lost()
	t.Fatalf("lost the lock before being killed: %v", l.Err())
}

// startLockHolder runs TestHelperLockHolder in a child process.
func startLockHolder(t *testing.T, servers []string, path string) (*exec.Cmd, <-chan int64) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLockHolder$")
	cmd.Env = append(os.Environ(), helperEnv+"=lock-holder",
		"CANOPY_SERVERS="+strings.Join(servers, ","), "CANOPY_LOCK_PATH="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tokens := make(chan int64, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "token "); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				tokens <- n
			}
		}
	}()
	return cmd, tokens
}

// Twenty contenders on a 3-node cluster, and a holder in the middle of the
// line that is killed -9 while it holds the lock: it never releases, its
// session expires after its timeout, and the line goes on. No two holders
// overlap, and tokens grow, across the killed one too.
func TestLockOnAClusterSurvivesAKilledHolder(t *testing.T) {
	t.Parallel()
	nodes := testnode.StartCluster(t, 3)
	var servers []string
	for _, nd := range nodes {
		servers = append(servers, nd.URL)
	}
	const path = "/cluster-lock"
	ctx := testContext(t, 60*time.Second)
	observer := newClient(t, servers...)
	queued := func(n int) {
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d contenders never queued", n), func() bool {
			kids, _, _ := observer.Children(ctx, path)
			return len(kids) == n
		})
	}
	var x exclusionLog
	var wg sync.WaitGroup
	gate := make(chan struct{}) // the first holder holds until the line is built
	contend := func(i int) {
		s := newSession(t, newClient(t, servers...))
		wg.Go(func() {
			l := recipe.NewLock(s, path)
			token, err := l.Acquire(ctx)
			if err != nil {
				t.Errorf("contender %d: %v", i, err)
				return
			}
			x.hold(t, i, token, func() {
				if i == 0 {
					<-gate
				}
				time.Sleep(10 * time.Millisecond)
			})
			if err := l.Release(ctx); err != nil {
				t.Errorf("contender %d: release: %v", i, err)
			}
		})
	}
	contend(0)
	queued(1)
	for i := 1; i < 10; i++ {
		contend(i)
	}
	queued(10)
	holder, tokens := startLockHolder(t, servers, path)
	queued(11)
	for i := 10; i < 20; i++ {
		contend(i)
	}
	queued(21)
	close(gate)

	var killedToken int64
	select {
	case killedToken = <-tokens:
	case <-time.After(30 * time.Second):
		t.Fatal("the helper never got the lock")
	}
	seen := time.Now()
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	wg.Wait()

	log := x.check(t, 20)
	var before, after int
	for _, h := range log {
		switch {
		case h.token < killedToken:
			before++
			if !h.exit.Before(seen) {
				t.Errorf("contender %d (token %d) left at %v, after the killed holder (token %d) had the lock at %v", h.who, h.token, h.exit, killedToken, seen)
			}
		case h.token > killedToken:
			after++
			if !h.enter.After(killed) {
				t.Errorf("contender %d (token %d) entered at %v, before the holder (token %d) was killed at %v", h.who, h.token, h.enter, killedToken, killed)
			}
		default:
			t.Errorf("contender %d has the killed holder's token %d", h.who, h.token)
		}
	}
	if before != 10 || after != 10 {
		t.Errorf("%d holders before the killed one and %d after, want 10 and 10", before, after)
	}
	t.Logf("killed holder's token %d; the next holder waited %v for its session to expire", killedToken, firstAfter(log, killedToken).Sub(killed))
}

func firstAfter(log []holding, token int64) time.Time {
	for _, h := range log {
		if h.token > token {
			return h.enter
		}
	}
	return time.Time{}
}
