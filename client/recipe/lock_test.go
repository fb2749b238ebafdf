package recipe_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// holding is one acquisition as the holder saw it.
type holding struct {
	who         int
	token       int64
	enter, exit time.Time
}

// exclusionLog records holdings and catches two holders at once.
type exclusionLog struct {
	inside atomic.Int32
	mu     sync.Mutex
	log    []holding
}

// hold runs work while holding: it fails the test if someone else is
// inside.
func (x *exclusionLog) hold(t testing.TB, who int, token int64, work func()) {
	if n := x.inside.Add(1); n != 1 {
		t.Errorf("contender %d entered with %d others inside", who, n-1)
	}
	h := holding{who: who, token: token, enter: time.Now()}
	work()
	h.exit = time.Now()
	x.inside.Add(-1)
	x.mu.Lock()
	x.log = append(x.log, h)
	x.mu.Unlock()
}

// check asserts that holdings never overlap and that tokens grow in the
// order the lock was acquired.
func (x *exclusionLog) check(t testing.TB, want int) []holding {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.log) != want {
		t.Fatalf("%d acquisitions recorded, want %d", len(x.log), want)
	}
	log := slices.Clone(x.log)
	slices.SortFunc(log, func(a, b holding) int { return a.enter.Compare(b.enter) })
	for i := 1; i < len(log); i++ {
		prev, cur := log[i-1], log[i]
		if cur.enter.Before(prev.exit) {
			t.Errorf("contender %d entered at %v, before contender %d left at %v", cur.who, cur.enter, prev.who, prev.exit)
		}
		if cur.token <= prev.token {
			t.Errorf("token %d (contender %d) after token %d (contender %d): tokens must grow", cur.token, cur.who, prev.token, prev.who)
		}
	}
	return log
}

func TestLockMutualExclusionOf20Contenders(t *testing.T) {
	t.Parallel()
	path := testPath(t)
	ctx := testContext(t, 60*time.Second)
	var x exclusionLog
	var wg sync.WaitGroup
	for i := range 20 {
		s := newSession(t, newClient(t))
		wg.Go(func() {
			l := recipe.NewLock(s, path)
			token, err := l.Acquire(ctx)
			if err != nil {
				t.Errorf("contender %d: %v", i, err)
				return
			}
			if l.Token() != token || !l.Held() {
				t.Errorf("contender %d: Token() = %d, Held() = %v after Acquire returned %d", i, l.Token(), l.Held(), token)
			}
			x.hold(t, i, token, func() { time.Sleep(5 * time.Millisecond) })
			if err := l.Release(ctx); err != nil {
				t.Errorf("contender %d: release: %v", i, err)
			}
			select {
			case <-l.Lost():
			default:
				t.Errorf("contender %d: Lost still open after Release", i)
			}
		})
	}
	wg.Wait()
	x.check(t, 20)
	kids, _, err := newClient(t).Children(ctx, path)
	if err != nil || len(kids) != 0 {
		t.Errorf("lock nodes left after every release: %v, %v", kids, err)
	}
}

func TestLockTokenIsTheLockNodesCzxid(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	s := newSession(t, c)
	ctx := testContext(t, 10*time.Second)
	l := recipe.NewLock(s, testPath(t))
	token, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stat(ctx, l.Node())
	if err != nil {
		t.Fatal(err)
	}
	if st.Czxid != token {
		t.Errorf("token %d, lock node %s has czxid %d", token, l.Node(), st.Czxid)
	}
	if st.EphemeralOwner != s.ID() {
		t.Errorf("lock node owned by %v, want the session %v", st.EphemeralOwner, s.ID())
	}
}

func TestLockTryAcquireDoesNotWaitOrLeaveANode(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	path := testPath(t)
	ctx := testContext(t, 10*time.Second)
	a := recipe.NewLock(newSession(t, c), path)
	b := recipe.NewLock(newSession(t, c), path)
	if _, ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("first TryAcquire: %v, %v", ok, err)
	}
	if _, ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire of a held lock: ok=%v, err=%v; want false, nil", ok, err)
	}
	if kids, _, _ := c.Children(ctx, path); len(kids) != 1 {
		t.Errorf("after a failed TryAcquire the lock has nodes %v, want the holder's only", kids)
	}
	if b.Held() {
		t.Error("Held() after a failed TryAcquire")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("TryAcquire of a released lock: %v, %v", ok, err)
	}
}

func TestLockIsNotReentrant(t *testing.T) {
	t.Parallel()
	s := newSession(t, newClient(t))
	ctx := testContext(t, 10*time.Second)
	l := recipe.NewLock(s, testPath(t))
	if err := l.Release(ctx); !errors.Is(err, recipe.ErrNotHeld) {
		t.Errorf("Release before Acquire: %v, want ErrNotHeld", err)
	}
	if _, err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx); !errors.Is(err, recipe.ErrHeld) {
		t.Errorf("second Acquire: %v, want ErrHeld", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); !errors.Is(err, recipe.ErrNotHeld) {
		t.Errorf("second Release: %v, want ErrNotHeld", err)
	}
}

func TestLockAcquireGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	path := testPath(t)
	ctx := testContext(t, 10*time.Second)
	holder := recipe.NewLock(newSession(t, c), path)
	if _, err := holder.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	waiter := recipe.NewLock(newSession(t, c), path)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := waiter.Acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire past its deadline: %v, want DeadlineExceeded", err)
	}
	kids, _, err := c.Children(ctx, path)
	if err != nil || len(kids) != 1 {
		t.Errorf("after giving up, the lock has nodes %v (%v), want the holder's only", kids, err)
	}
}

// A client that stops reaching the cluster (here: closed, so its
// keep-alives stop) loses the lock on its own side first, then the
// cluster expires the session and the next waiter gets the lock.
func TestLockLostWhenTheSessionIsLost(t *testing.T) {
	t.Parallel()
	path := testPath(t)
	ctx := testContext(t, 20*time.Second)
	gone := newClient(t)
	s := newSession(t, gone)
	l := recipe.NewLock(s, path)
	first, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	observer := newClient(t)
	next := recipe.NewLock(newSession(t, observer), path)
	type result struct {
		token int64
		at    time.Time
		err   error
	}
	got := make(chan result, 1)
	go func() {
		token, err := next.Acquire(ctx)
		got <- result{token, time.Now(), err}
	}()
	testkit.WaitFor(t, 5*time.Second, "the second contender never queued", func() bool {
		kids, _, _ := observer.Children(ctx, path)
		return len(kids) == 2
	})
	gone.Close()
	var lostAt time.Time
	select {
	case <-l.Lost():
		lostAt = time.Now()
	case <-time.After(s.Timeout() + 2*time.Second):
		t.Fatal("Lost not closed within the session timeout after the client went away")
	}
	if !errors.Is(l.Err(), client.ErrSessionLost) || l.Held() {
		t.Errorf("after the loss: Err() = %v, Held() = %v; want ErrSessionLost, false", l.Err(), l.Held())
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.token <= first {
		t.Errorf("next holder's token %d not above the lost holder's %d", r.token, first)
	}
	if r.at.Before(lostAt) {
		t.Errorf("next holder got the lock at %v, before the old holder knew it lost it at %v", r.at, lostAt)
	}
}

func TestLockLostWhenItsNodeIsDeleted(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := testContext(t, 10*time.Second)
	l := recipe.NewLock(newSession(t, c), testPath(t))
	if _, err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, l.Node(), client.AnyVersion); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("Lost not closed after the lock node was deleted")
	}
	if !errors.Is(l.Err(), recipe.ErrNodeDeleted) {
		t.Errorf("Err() = %v, want ErrNodeDeleted", l.Err())
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("Release of a lost lock: %v", err)
	}
	if _, err := l.Acquire(ctx); err != nil {
		t.Errorf("Acquire after a loss: %v", err)
	}
}

func TestRWLockReadersShareWritersExclude(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	path := testPath(t)
	ctx := testContext(t, 20*time.Second)
	rw := recipe.NewRWLock(newSession(t, c), path)
	r1, r2 := rw.ReadLock(), rw.ReadLock()
	for _, r := range []*recipe.Lock{r1, r2} {
		if _, err := r.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A writer queues behind the readers, and a reader arriving after it
	// waits for it.
	w := rw.WriteLock()
	wGot := make(chan error, 1)
	go func() { _, err := w.Acquire(ctx); wGot <- err }()
	testkit.WaitFor(t, 5*time.Second, "writer never queued", func() bool {
		kids, _, _ := c.Children(ctx, path)
		return len(kids) == 3
	})
	r3 := rw.ReadLock()
	r3Got := make(chan error, 1)
	go func() { _, err := r3.Acquire(ctx); r3Got <- err }()
	testkit.WaitFor(t, 5*time.Second, "late reader never queued", func() bool {
		kids, _, _ := c.Children(ctx, path)
		return len(kids) == 4
	})
	if _, ok, _ := rw.WriteLock().TryAcquire(ctx); ok {
		t.Fatal("a second writer got the lock while readers hold it")
	}
	if _, ok, _ := recipe.NewLock(newSession(t, c), path).TryAcquire(ctx); ok {
		t.Fatal("a plain Lock on the path got it while readers hold it")
	}
	select {
	case err := <-wGot:
		t.Fatalf("writer got the lock while readers hold it (%v)", err)
	case err := <-r3Got:
		t.Fatalf("reader behind a waiting writer got the lock (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	r1.Release(ctx)
	select {
	case err := <-wGot:
		t.Fatalf("writer got the lock while a reader still holds it (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	r2.Release(ctx)
	if err := <-wGot; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r3Got:
		t.Fatalf("reader got the lock while the writer holds it (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	w.Release(ctx)
	if err := <-r3Got; err != nil {
		t.Fatal(err)
	}
}
