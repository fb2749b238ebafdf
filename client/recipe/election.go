package recipe

import (
	"context"
	"errors"
	"fmt"

	"github.com/canopy-coord/canopy/client"
)

// ErrNoLeader: no candidate stands in the election.
var ErrNoLeader = errors.New("recipe: no leader")

// Election is leader election with Curator's LeaderLatch semantics: every
// candidate puts an ephemeral sequential node holding its name under the
// election's path; the candidate of the first node leads until it resigns
// or its session ends, and the others wait in line, each watching only
// the node ahead of its own.
//
// Leadership is a lock held by the leader's node: Token is that node's
// czxid, which grows from one leader to the next (an epoch to fence the
// leader's writes with). Lost closes when leadership ends: Resign, the
// session lost, closed or expired, or the node deleted. An Election value
// is one candidate; it may campaign again after losing or resigning.
type Election struct {
	c    *contender
	name string
}

// Candidate is one node in an election's line.
type Candidate struct {
	// Name is what the candidate published (NewElection's name).
	Name string
	// Node is the path of its node.
	Node string
	// Token is its node's czxid: the leader's epoch.
	Token int64
	// Session owns the node.
	Session client.ID
}

// NewElection returns a candidate named name for the election at path (a
// persistent node, created when missing), standing through s.
func NewElection(s *client.Session, path, name string) *Election {
	return &Election{name: name, c: &contender{s: s, dir: path, kind: kindLatch, data: []byte(name), blocker: waitsOnPredecessor}}
}

// Campaign stands for election and returns once this candidate leads. If
// ctx ends first, or the session does, it withdraws and fails.
func (e *Election) Campaign(ctx context.Context) error {
	_, _, err := e.c.acquire(ctx, true)
	return err
}

// Resign gives leadership up (Lost closes, the next candidate leads).
// ErrNotHeld if it does not lead.
func (e *Election) Resign(ctx context.Context) error { return e.c.release(ctx) }

// IsLeader reports whether this candidate leads now.
func (e *Election) IsLeader() bool { return e.c.current() != nil }

// Lost is open while this candidate leads and closed once it does not.
func (e *Election) Lost() <-chan struct{} { return e.c.lostChan() }

// Err is why leadership was lost (see Lock.Err).
func (e *Election) Err() error { return e.c.lostErr() }

// Token is the leader's epoch (its node's czxid); 0 when not leading.
func (e *Election) Token() int64 { return e.c.token() }

// Node is the path of the leader's node while it leads, "" otherwise: a
// leader's writes can be made conditional on it with
// client.CheckOp(e.Node(), client.AnyVersion) in a Multi, so that a
// deposed leader's writes fail.
func (e *Election) Node() string { return e.c.node() }

// Name is the name this candidate publishes.
func (e *Election) Name() string { return e.name }

// Leader returns the current leader of the election; ErrNoLeader when no
// candidate stands.
func (e *Election) Leader(ctx context.Context) (Candidate, error) {
	return Leader(ctx, e.c.s.Client, e.c.dir)
}

// Leader returns the current leader of the election at path, for anyone,
// candidate or not: the first candidate in line (who leads, or is about
// to notice it does). ErrNoLeader when no candidate stands.
func Leader(ctx context.Context, c *client.Client, path string) (Candidate, error) {
	for {
		kids, _, err := c.Children(ctx, path)
		if errors.Is(err, client.ErrNoNode) {
			return Candidate{}, ErrNoLeader
		}
		if err != nil {
			return Candidate{}, fmt.Errorf("recipe: election %s: %w", path, err)
		}
		line := sortedSeqNodes(kids)
		if len(line) == 0 {
			return Candidate{}, ErrNoLeader
		}
		cand, err := readCandidate(ctx, c, path, line[0])
		if errors.Is(err, client.ErrNoNode) {
			continue // it just left: look again
		}
		return cand, err
	}
}

// Candidates lists the election's candidates in line, the leader first.
func Candidates(ctx context.Context, c *client.Client, path string) ([]Candidate, error) {
	kids, _, err := c.Children(ctx, path)
	if errors.Is(err, client.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recipe: election %s: %w", path, err)
	}
	var out []Candidate
	for _, n := range sortedSeqNodes(kids) {
		cand, err := readCandidate(ctx, c, path, n)
		if errors.Is(err, client.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, cand)
	}
	return out, nil
}

func readCandidate(ctx context.Context, c *client.Client, dir string, n seqNode) (Candidate, error) {
	nd, err := c.Get(ctx, join(dir, n.name))
	if err != nil {
		return Candidate{}, err
	}
	return Candidate{Name: string(nd.Data), Node: nd.Path, Token: nd.Stat.Czxid, Session: nd.Stat.EphemeralOwner}, nil
}
