package recipe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// Barrier is ZooKeeper's barrier: a node whose existence holds every
// waiter back. A coordinator Sets it, workers Wait, and Remove lets them
// all go at once. It needs no session: the node is persistent, so the
// barrier stays up if its coordinator dies (Remove it by hand then).
type Barrier struct {
	c    *client.Client
	path string
}

// NewBarrier returns the barrier at path.
func NewBarrier(c *client.Client, path string) *Barrier { return &Barrier{c: c, path: path} }

// Set raises the barrier (creating its missing ancestors); raising it
// twice is harmless.
func (b *Barrier) Set(ctx context.Context) error {
	_, _, err := b.c.Create(ctx, b.path, nil, &client.CreateOptions{Parents: true})
	if err == nil || errors.Is(err, client.ErrNodeExists) {
		return nil
	}
	if ambiguous(err) {
		if _, ok, serr := b.c.Exists(ctx, b.path); serr == nil && ok {
			return nil
		}
	}
	return fmt.Errorf("recipe: set barrier %s: %w", b.path, err)
}

// Remove lowers the barrier, releasing every waiter; lowering it twice is
// harmless.
func (b *Barrier) Remove(ctx context.Context) error {
	if err := deleteNode(ctx, b.c, b.path); err != nil {
		return fmt.Errorf("recipe: remove barrier %s: %w", b.path, err)
	}
	return nil
}

// Wait returns once the barrier is down (at once if it is not up).
func (b *Barrier) Wait(ctx context.Context) error {
	if err := waitGone(ctx, b.c, b.path); err != nil {
		return fmt.Errorf("recipe: wait at barrier %s: %w", b.path, err)
	}
	return nil
}

// waitGone returns once path does not exist.
func waitGone(ctx context.Context, c *client.Client, path string) error {
	backoff := 20 * time.Millisecond
	for {
		// A data watch: on a missing node it sets nothing (exists would
		// leave a watch behind for the node's next creation).
		_, ch, err := c.GetW(ctx, path)
		switch {
		case errors.Is(err, client.ErrNoNode):
			return nil
		case err != nil && ctx.Err() == nil && ambiguous(err):
			if !ctxtime.Sleep(ctx, backoff) {
				return err
			}
			backoff = min(2*backoff, time.Second)
			continue
		case err != nil:
			return err
		}
		backoff = 20 * time.Millisecond
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readyName is the node a DoubleBarrier's last arrival creates.
const readyName = "ready"

// DoubleBarrier is ZooKeeper's double barrier: n participants Enter
// together (no one returns from Enter before n have arrived) and Leave
// together (no one returns from Leave before all have begun to leave).
// Each participant is an ephemeral node named after it, so a participant
// whose session ends counts as gone. The last to leave removes the
// "ready" node, so the barrier can serve the next round once every Leave
// has returned.
type DoubleBarrier struct {
	s    *client.Session
	path string
	name string
	n    int
}

// NewDoubleBarrier returns participant name (unique among them; not
// "ready") of the double barrier at path for n participants.
func NewDoubleBarrier(s *client.Session, path, name string, n int) *DoubleBarrier {
	return &DoubleBarrier{s: s, path: path, name: name, n: n}
}

func (d *DoubleBarrier) fail(op string, err error) error {
	return fmt.Errorf("recipe: %s double barrier %s as %q: %w", op, d.path, d.name, err)
}

// Enter joins the barrier and waits until n participants have. If ctx
// ends first it leaves again and fails. A participant arriving while the
// ready node is up (late, or after a round whose last participant died
// before lowering it) enters at once.
func (d *DoubleBarrier) Enter(ctx context.Context) error {
	if d.name == readyName {
		return d.fail("enter", fmt.Errorf("%w: %q is the barrier's own node", client.ErrBadArguments, readyName))
	}
	ready := join(d.path, readyName)
	if err := ensureDir(ctx, d.s.Client, d.path); err != nil {
		return d.fail("enter", err)
	}
	// Watch for ready before arriving, so its creation cannot be missed.
	_, up, ch, err := d.s.ExistsW(ctx, ready)
	if err != nil {
		return d.fail("enter", err)
	}
	if err := d.arrive(ctx); err != nil {
		return d.fail("enter", err)
	}
	if up {
		return nil
	}
	here, err := d.participants(ctx)
	if err != nil {
		return d.abandon(ctx, err)
	}
	if len(here) >= d.n {
		if _, _, err := d.s.Create(ctx, ready, nil, nil); err != nil && !errors.Is(err, client.ErrNodeExists) && !ambiguous(err) {
			return d.abandon(ctx, err)
		}
		return nil
	}
	for {
		select {
		case ev := <-ch:
			if ev.Type == client.EventNodeCreated {
				return nil
			}
			// The watch was lost with its connection: set it again.
			for {
				if _, up, ch, err = d.s.ExistsW(ctx, ready); err == nil {
					break
				}
				if !ctxtime.Sleep(ctx, 50*time.Millisecond) {
					return d.abandon(ctx, err)
				}
			}
			if up {
				return nil
			}
		case <-ctx.Done():
			return d.abandon(ctx, ctx.Err())
		case <-d.s.Done():
			return d.fail("enter", fmt.Errorf("session ended: %w", d.s.Err()))
		}
	}
}

// arrive creates the participant's node.
func (d *DoubleBarrier) arrive(ctx context.Context) error {
	node := join(d.path, d.name)
	for {
		_, _, err := d.s.Create(ctx, node, nil, &client.CreateOptions{Ephemeral: true})
		if err == nil {
			return nil
		}
		if !errors.Is(err, client.ErrNodeExists) && !ambiguous(err) {
			return err
		}
		st, ok, serr := d.s.Exists(ctx, node)
		if serr == nil && ok && st.EphemeralOwner == d.s.ID() {
			return nil
		}
		if serr != nil || ok || ctx.Err() != nil {
			return err
		}
	}
}

func (d *DoubleBarrier) abandon(ctx context.Context, err error) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	deleteNode(cctx, d.s.Client, join(d.path, d.name))
	return d.fail("enter", err)
}

// participants lists the participants' names, sorted.
func (d *DoubleBarrier) participants(ctx context.Context) ([]string, error) {
	kids, _, err := d.s.Children(ctx, d.path)
	if err != nil {
		return nil, err
	}
	kids = slices.DeleteFunc(kids, func(k string) bool { return k == readyName })
	slices.Sort(kids)
	return kids, nil
}

// Leave leaves the barrier and waits until every participant has left
// (ZooKeeper's algorithm: the lowest-named participant waits for the
// others to go, each of the others goes and waits for the lowest).
func (d *DoubleBarrier) Leave(ctx context.Context) error {
	me := join(d.path, d.name)
	for {
		here, err := d.participants(ctx)
		if err != nil {
			return d.fail("leave", err)
		}
		if len(here) == 0 {
			return nil
		}
		var wait string
		switch {
		case len(here) == 1 && here[0] == d.name:
			// The last one: lower ready for the next round, then go.
			if err := deleteNode(ctx, d.s.Client, join(d.path, readyName)); err != nil {
				return d.fail("leave", err)
			}
			if err := deleteNode(ctx, d.s.Client, me); err != nil {
				return d.fail("leave", err)
			}
			return nil
		case here[0] == d.name:
			wait = here[len(here)-1]
		default:
			if slices.Contains(here, d.name) {
				if err := deleteNode(ctx, d.s.Client, me); err != nil {
					return d.fail("leave", err)
				}
			}
			wait = here[0]
		}
		if err := waitGone(ctx, d.s.Client, join(d.path, wait)); err != nil {
			return d.fail("leave", err)
		}
	}
}
