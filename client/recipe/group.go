package recipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// Group is group membership, or service discovery: each member is an
// ephemeral node named after it under the group's path, holding the
// member's data (an address, say). A member is in the group while its
// session lives: a crashed process leaves when its session expires.
type Group struct {
	c    *client.Client
	path string
}

// Member is one member of a group.
type Member struct {
	Name string
	Data []byte
	// Session owns the member's node.
	Session client.ID
}

// NewGroup returns the group at path (a persistent node, created on the
// first Join). Reading the group needs no session; joining does.
func NewGroup(c *client.Client, path string) *Group { return &Group{c: c, path: path} }

// Membership is one Join: the member stays until Leave or the end of its
// session.
type Membership struct {
	s    *client.Session
	node string
}

// Join adds the member name, with data, owned by s. A name is unique in a
// group: joining under a name in use is client.ErrNodeExists, even when
// the node is left over from a crashed process whose session has not yet
// expired (retry after its timeout).
func (g *Group) Join(ctx context.Context, s *client.Session, name string, data []byte) (*Membership, error) {
	node := join(g.path, name)
	for {
		_, _, err := s.Create(ctx, node, data, &client.CreateOptions{Ephemeral: true})
		switch {
		case err == nil:
			return &Membership{s: s, node: node}, nil
		case errors.Is(err, client.ErrNoNode):
			if err := ensureDir(ctx, s.Client, g.path); err != nil {
				return nil, err
			}
			continue
		case errors.Is(err, client.ErrNodeExists) || ambiguous(err):
			// Ours, if an earlier attempt's answer was lost?
			st, ok, serr := s.Exists(ctx, node)
			if serr == nil && ok && st.EphemeralOwner == s.ID() {
				return &Membership{s: s, node: node}, nil
			}
			if ambiguous(err) && serr == nil && !ok && ctx.Err() == nil {
				continue
			}
		}
		return nil, fmt.Errorf("recipe: join group %s as %q: %w", g.path, name, err)
	}
}

// Node is the member's node.
func (m *Membership) Node() string { return m.node }

// Done is closed when the membership's session ends (the member is then
// out of the group).
func (m *Membership) Done() <-chan struct{} { return m.s.Done() }

// Leave removes the member from the group.
func (m *Membership) Leave(ctx context.Context) error {
	if m.s.Err() != nil {
		return nil
	}
	return deleteNode(ctx, m.s.Client, m.node)
}

// Members lists the group's members, sorted by name.
func (g *Group) Members(ctx context.Context) ([]Member, error) {
	kids, _, err := g.c.Children(ctx, g.path)
	if errors.Is(err, client.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recipe: group %s: %w", g.path, err)
	}
	return g.read(ctx, kids)
}

func (g *Group) read(ctx context.Context, names []string) ([]Member, error) {
	out := make([]Member, 0, len(names))
	for _, name := range names {
		nd, err := g.c.Get(ctx, join(g.path, name))
		if errors.Is(err, client.ErrNoNode) {
			continue // left meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("recipe: group %s: %w", g.path, err)
		}
		out = append(out, Member{Name: name, Data: nd.Data, Session: nd.Stat.EphemeralOwner})
	}
	return out, nil
}

// Watch delivers the group's members now, then again after each join or
// leave (changes close together may arrive as one; a member changing its
// data is not a change). The channel keeps only the
// latest set: a slow reader skips sets, never sees a stale one last. It
// is closed when ctx ends. The group's node need not exist yet.
func (g *Group) Watch(ctx context.Context) (<-chan []Member, error) {
	members, ch, err := g.membersW(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan []Member, 1)
	out <- members
	go g.watch(ctx, ch, out)
	return out, nil
}

func (g *Group) watch(ctx context.Context, ch <-chan client.Event, out chan []Member) {
	defer close(out)
	backoff := 20 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		for {
			members, next, err := g.membersW(ctx)
			if err == nil {
				ch = next
				backoff = 20 * time.Millisecond
				publish(out, members)
				break
			}
			if !ctxtime.Sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// publish replaces what out holds with v.
func publish[T any](out chan T, v T) {
	for {
		select {
		case out <- v:
			return
		default:
		}
		select {
		case <-out:
		default:
		}
	}
}

// membersW lists the members and sets a child watch; on a missing group
// node, an exists watch for its creation.
func (g *Group) membersW(ctx context.Context) ([]Member, <-chan client.Event, error) {
	for {
		kids, _, ch, err := g.c.ChildrenW(ctx, g.path)
		if errors.Is(err, client.ErrNoNode) {
			_, ok, ch, err := g.c.ExistsW(ctx, g.path)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				continue // created meanwhile
			}
			return nil, ch, nil
		}
		if err != nil {
			return nil, nil, err
		}
		members, err := g.read(ctx, kids)
		return members, ch, err
	}
}
