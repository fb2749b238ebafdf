package recipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// Errors of the holding recipes (Lock, RWLock, Election).
var (
	// ErrHeld: Acquire or Campaign on a value that already holds, or is
	// already trying to. The recipes are not re-entrant.
	ErrHeld = errors.New("recipe: already held or being acquired by this value (not re-entrant)")
	// ErrNotHeld: Release or Resign of something not held.
	ErrNotHeld = errors.New("recipe: not held")
	// ErrNodeDeleted: the node that held a lock or leadership was deleted
	// by someone else (an operator, say) while the session lived.
	ErrNodeDeleted = errors.New("recipe: the node that held it was deleted")
)

// contender is one place in a line of ephemeral sequential nodes under a
// directory, the mechanism Lock, RWLock and Election share: a node holds
// when nothing ahead of it blocks it, and otherwise watches the one node
// that does, so a release wakes one waiter and not the herd.
type contender struct {
	s    *client.Session
	dir  string
	kind string // the node name's middle part: lock, read, write, latch
	data []byte
	// blocker picks, among the nodes ahead of ours (sorted), the one ours
	// waits for; "" when none blocks.
	blocker func(ahead []seqNode) string

	mu        sync.Mutex
	acquiring bool
	h         *hold
}

// hold is one acquisition, from Acquire to Release or loss.
type hold struct {
	node      string // full path of the node
	guid      string
	token     int64
	ambiguous bool // a create was answered ambiguously: sweep by guid on release

	lost     chan struct{}
	lostOnce sync.Once
	err      error // why lost; nil when released
	stop     context.CancelFunc
	done     chan struct{} // the watching goroutine has exited
}

func (h *hold) end(err error) {
	h.lostOnce.Do(func() {
		h.err = err
		close(h.lost)
	})
}

// waitsOnPredecessor: an exclusive holder waits for the node right ahead.
func waitsOnPredecessor(ahead []seqNode) string {
	if len(ahead) == 0 {
		return ""
	}
	return ahead[len(ahead)-1].name
}

// waitsOnWriter: a reader waits for the nearest node ahead that is not a
// reader's; readers ahead of it do not block it.
func waitsOnWriter(ahead []seqNode) string {
	for i := len(ahead) - 1; i >= 0; i-- {
		if ahead[i].kind != kindRead {
			return ahead[i].name
		}
	}
	return ""
}

// acquire takes a place in line and, when wait, waits for its turn;
// without wait it leaves the line at once unless it holds. It returns the
// fencing token (the node's czxid).
func (c *contender) acquire(ctx context.Context, wait bool) (int64, bool, error) {
	c.mu.Lock()
	if c.acquiring || (c.h != nil && !c.h.isLost()) {
		c.mu.Unlock()
		return 0, false, ErrHeld
	}
	c.acquiring, c.h = true, nil
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.acquiring = false
		c.mu.Unlock()
	}()
	if err := c.s.Err(); err != nil {
		return 0, false, c.sessionEnded()
	}
	h, err := c.enqueue(ctx)
	if err != nil {
		return 0, false, c.fail(err)
	}
	backoff := 20 * time.Millisecond
	for {
		kids, _, err := c.s.Children(ctx, c.dir)
		if err != nil {
			return 0, false, c.abandon(ctx, h, err)
		}
		line := sortedSeqNodes(kids)
		idx, err := c.place(ctx, h, line)
		if err != nil {
			return 0, false, c.abandon(ctx, h, err)
		}
		if idx < 0 {
			// Our node is gone: the session ended, or someone deleted it.
			if c.s.Err() != nil {
				return 0, false, c.sessionEnded()
			}
			if h, err = c.enqueue(ctx); err != nil {
				return 0, false, c.fail(err)
			}
			continue
		}
		blocker := c.blocker(line[:idx])
		if blocker == "" {
			c.hold(h)
			return h.token, true, nil
		}
		if !wait {
			return 0, false, c.abandon(ctx, h, nil)
		}
		// A data watch, not an exists watch: on a node already gone it
		// sets nothing, where exists would leave a watch for a creation
		// that never comes (sequential names are never reused).
		_, ch, err := c.s.GetW(ctx, join(c.dir, blocker))
		switch {
		case errors.Is(err, client.ErrNoNode):
			continue
		case err != nil && ctx.Err() == nil && ambiguous(err):
			// The watch connection is moving to another server.
			if ctxtime.Sleep(ctx, backoff) {
				backoff = min(2*backoff, time.Second)
				continue
			}
			return 0, false, c.abandon(ctx, h, err)
		case err != nil:
			return 0, false, c.abandon(ctx, h, err)
		}
		backoff = 20 * time.Millisecond
		select {
		case <-ch: // deleted, changed, or the watch was lost: look again
		case <-ctx.Done():
			return 0, false, c.abandon(ctx, h, ctx.Err())
		case <-c.s.Done():
			return 0, false, c.sessionEnded()
		}
	}
}

// enqueue creates this attempt's node.
func (c *contender) enqueue(ctx context.Context) (*hold, error) {
	h := &hold{guid: newGUID(), lost: make(chan struct{}), done: make(chan struct{})}
	n, st, amb, err := createSeq(ctx, c.s.Client, c.dir, h.guid, c.kind, c.data, true)
	h.ambiguous = amb
	if err != nil {
		if amb {
			c.abandon(ctx, h, nil)
		}
		return nil, err
	}
	h.node, h.token = join(c.dir, n.name), st.Czxid
	return h, nil
}

// place finds our node in line: after an ambiguous create a late
// duplicate may show up, so our node is the first with our guid, and the
// others are deleted. -1 when none is left.
func (c *contender) place(ctx context.Context, h *hold, line []seqNode) (int, error) {
	idx := -1
	for i, n := range line {
		if n.guid != h.guid {
			continue
		}
		if idx < 0 {
			idx = i
			continue
		}
		if err := deleteNode(ctx, c.s.Client, join(c.dir, n.name)); err != nil {
			return -1, err
		}
	}
	if idx >= 0 && join(c.dir, line[idx].name) != h.node {
		st, err := c.s.Stat(ctx, join(c.dir, line[idx].name))
		if errors.Is(err, client.ErrNoNode) {
			return -1, nil
		}
		if err != nil {
			return -1, err
		}
		h.node, h.token = join(c.dir, line[idx].name), st.Czxid
	}
	return idx, nil
}

// abandon leaves the line: deletes the attempt's node (and any duplicate)
// even when ctx has ended, and returns err.
func (c *contender) abandon(ctx context.Context, h *hold, err error) error {
	if c.s.Err() == nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if h.ambiguous {
			deleteByGUID(cctx, c.s.Client, c.dir, h.guid)
		} else if h.node != "" {
			deleteNode(cctx, c.s.Client, h.node)
		}
	}
	if err == nil {
		return nil
	}
	return c.fail(err)
}

func (c *contender) fail(err error) error {
	if c.s.Err() != nil {
		return c.sessionEnded()
	}
	return fmt.Errorf("recipe: %s %s: %w", c.kind, c.dir, err)
}

func (c *contender) sessionEnded() error {
	return fmt.Errorf("recipe: %s %s: session ended: %w", c.kind, c.dir, c.s.Err())
}

// hold records h as held and starts watching for its loss.
func (c *contender) hold(h *hold) {
	ctx, stop := context.WithCancel(context.Background())
	h.stop = stop
	c.mu.Lock()
	c.h = h
	c.mu.Unlock()
	go c.watchHold(ctx, h)
}

// watchHold ends h when the session ends or its node is deleted, until
// Release stops it.
func (c *contender) watchHold(ctx context.Context, h *hold) {
	defer close(h.done)
	backoff := 20 * time.Millisecond
	for {
		if c.s.Err() != nil {
			h.end(c.sessionEnded())
			return
		}
		// Bounded, so that a call stuck while the watch connection is down
		// still looks at the session now and then.
		gctx, cancel := context.WithTimeout(ctx, c.s.Timeout())
		_, ch, err := c.s.GetW(gctx, h.node)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, client.ErrNoNode):
			if c.s.Err() != nil {
				h.end(c.sessionEnded())
			} else {
				h.end(fmt.Errorf("recipe: %s %s: %w", c.kind, h.node, ErrNodeDeleted))
			}
			return
		case err != nil:
			select {
			case <-ctx.Done():
				return
			case <-c.s.Done():
			case <-time.After(backoff):
				backoff = min(2*backoff, time.Second)
			}
			continue
		}
		backoff = 20 * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-c.s.Done():
		case <-ch: // NodeDeleted is seen by the next GetW's ErrNoNode
		}
	}
}

// release gives up the hold: stops watching, then deletes the node.
func (c *contender) release(ctx context.Context) error {
	c.mu.Lock()
	h := c.h
	c.h = nil
	c.mu.Unlock()
	if h == nil {
		return ErrNotHeld
	}
	h.stop()
	<-h.done
	h.end(nil)
	if c.s.Err() != nil {
		return nil // the node went with the session
	}
	var err error
	if h.ambiguous {
		err = deleteByGUID(ctx, c.s.Client, c.dir, h.guid)
	} else {
		err = deleteNode(ctx, c.s.Client, h.node)
	}
	if err != nil {
		return fmt.Errorf("recipe: release %s (the node stays until it is deleted or the session ends): %w", h.node, err)
	}
	return nil
}

func (h *hold) isLost() bool {
	select {
	case <-h.lost:
		return true
	default:
		return false
	}
}

// current returns the hold while it is held, else nil.
func (c *contender) current() *hold {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil || c.h.isLost() {
		return nil
	}
	return c.h
}

// token is the current hold's czxid; 0 without a hold.
func (c *contender) token() int64 {
	if h := c.current(); h != nil {
		return h.token
	}
	return 0
}

// node is the current hold's node; "" without a hold.
func (c *contender) node() string {
	if h := c.current(); h != nil {
		return h.node
	}
	return ""
}

func (c *contender) lostChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return closedChan
	}
	return c.h.lost
}

// lostErr is why the last hold ended other than by release.
func (c *contender) lostErr() error {
	c.mu.Lock()
	h := c.h
	c.mu.Unlock()
	if h == nil || !h.isLost() {
		return nil
	}
	return h.err
}
