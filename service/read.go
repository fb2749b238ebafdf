package service

import (
	"context"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Consistency is what a read waits for before it reads the local tree
// (DESIGN §2): linearizable by default; "stale" at once; with MinZxid,
// until that zxid has applied (read-your-writes across nodes), which
// alone is not linearizable unless asked for.
type Consistency struct {
	Mode    string // "", "linearizable" or "stale"
	MinZxid *int64
	// Timeout bounds the wait for MinZxid; 0 is Limits.ReadTimeout.
	Timeout time.Duration
}

// maxMinZxid bounds min_zxid: any zxid a cluster will reach, far below the
// overflow of anything added to it.
const maxMinZxid = 1 << 62

// maxReadTimeout is the longest min_zxid wait a request may ask for.
const maxReadTimeout = 10 * time.Minute

// await waits until the local tree may answer a read with consistency c.
func (s *Service) await(ctx context.Context, c Consistency) error {
	if c.Mode != "" && c.Mode != "linearizable" && c.Mode != "stale" {
		return api.BadArguments("", "consistency must be linearizable or stale, got %q", c.Mode)
	}
	if c.MinZxid != nil && (*c.MinZxid < 0 || *c.MinZxid > maxMinZxid) {
		return api.BadArguments("", "min_zxid must be an integer from 0 to %d, got %d", int64(maxMinZxid), *c.MinZxid)
	}
	if c.Timeout < 0 || c.Timeout > maxReadTimeout {
		return api.BadArguments("", "timeout_ms must be from 1 to %d", maxReadTimeout.Milliseconds())
	}
	if c.Mode == "linearizable" || (c.Mode == "" && c.MinZxid == nil) {
		// A read never waits past the server's own deadline: 504, not a hang.
		ctx, cancel := context.WithTimeout(ctx, s.limits.ReadTimeout)
		err := s.node.Linearize(ctx)
		cancel()
		if err != nil {
			return err
		}
	}
	if c.MinZxid == nil || *c.MinZxid <= s.node.Applied() {
		return nil // no wait, or min_zxid already applied: no timer needed
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = s.limits.ReadTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.node.WaitApplied(ctx, *c.MinZxid)
}

// Await waits for consistency c: for transports that read the tree
// themselves (a listing, a status) once the rule is met.
func (s *Service) Await(ctx context.Context, c Consistency) error { return s.await(ctx, c) }

// Encoding checks a requested data encoding: "" (text when it is UTF-8),
// "utf8" or "base64"; it reports whether base64 is forced.
func Encoding(enc string) (base64 bool, err error) {
	switch enc {
	case "", "utf8":
		return false, nil
	case "base64":
		return true, nil
	}
	return false, api.BadArguments("", "encoding must be utf8 or base64, got %q", enc)
}

// Node is a node's data and stat as read.
type Node struct {
	Path string
	Data string
	Stat api.Stat
}

// Exists is the answer of exists: Stat is nil for a missing node, which
// is no error (ZooKeeper's exists leaves a watch for its creation).
type Exists struct {
	Path string
	Stat *api.Stat
}

// ChildrenRequest lists a node's children, sorted, a page at a time:
// Limit names per page (0: all), after the name After.
type ChildrenRequest struct {
	Path     string
	After    string
	Limit    int
	WithStat bool
}

// MaxListing bounds one page of children or one subtree answer.
const MaxListing = 100_000

// OnRead, when given to a read, runs with the tree held still right after
// a successful read, with its result and the zxid it reflects: a watch
// registered there is atomic with the read, as in ZooKeeper.
type OnRead[T any] func(result T, zxid int64) error

// GetData reads a node's data.
func (s *Service) GetData(ctx context.Context, path string, c Consistency, on OnRead[Node]) (Node, int64, error) {
	if err := s.readable(ctx, path, c); err != nil {
		return Node{}, s.node.Applied(), err
	}
	identity := CallerOf(ctx).Identity
	var out Node
	var zxid int64
	var err error
	s.node.Tree().Read(func(tr fsm.Reader) {
		var data string
		var stat api.Stat
		if err = tr.Allowed(path, identity, api.PermRead); err != nil {
			zxid = tr.Applied()
			return // ZooKeeper sets no watch on a missing or unreadable node here
		}
		if data, stat, zxid, err = tr.Get(path); err != nil {
			return
		}
		out = Node{Path: path, Data: data, Stat: stat}
		if on != nil {
			err = on(out, zxid)
		}
	})
	return out, zxid, err
}

// Exists reads a node's stat, nil when it does not exist.
func (s *Service) Exists(ctx context.Context, path string, c Consistency, on OnRead[Exists]) (Exists, int64, error) {
	if err := s.readable(ctx, path, c); err != nil {
		return Exists{}, s.node.Applied(), err
	}
	var out Exists
	var zxid int64
	var err error
	s.node.Tree().Read(func(tr fsm.Reader) {
		var stat api.Stat
		var serr error
		stat, zxid, serr = tr.Stat(path)
		out = Exists{Path: path}
		if serr == nil {
			out.Stat = &stat
		}
		if on != nil {
			err = on(out, zxid)
		}
	})
	return out, zxid, err
}

// Children lists a node's children.
func (s *Service) Children(ctx context.Context, req ChildrenRequest, c Consistency, on OnRead[fsm.ChildPage]) (fsm.ChildPage, error) {
	if req.Limit < 0 || req.Limit > MaxListing {
		return fsm.ChildPage{Zxid: s.node.Applied()}, api.BadArguments(req.Path, "limit must be an integer from 1 to %d, got %d", MaxListing, req.Limit)
	}
	if err := s.readable(ctx, req.Path, c); err != nil {
		return fsm.ChildPage{Zxid: s.node.Applied()}, err
	}
	identity := CallerOf(ctx).Identity
	var page fsm.ChildPage
	var err error
	s.node.Tree().Read(func(tr fsm.Reader) {
		if err = tr.Allowed(req.Path, identity, api.PermRead); err != nil {
			page.Zxid = tr.Applied()
			return
		}
		if page, err = tr.Children(req.Path, req.After, req.Limit, req.WithStat); err != nil {
			return
		}
		if on != nil {
			err = on(page, page.Zxid)
		}
	})
	return page, err
}

// TreeRequest reads a subtree: Depth levels below the node, at most Limit
// nodes in all (the node itself included).
type TreeRequest struct {
	Path  string
	Depth int
	Limit int
}

// DefaultTreeRequest is a subtree read's defaults: one level, 10,000 nodes.
func DefaultTreeRequest(path string) TreeRequest {
	return TreeRequest{Path: path, Depth: 1, Limit: 10_000}
}

// maxTreeDepth bounds a subtree read's depth.
const maxTreeDepth = 1000

// Subtree reads a node and its descendants.
func (s *Service) Subtree(ctx context.Context, req TreeRequest, c Consistency) (*api.TreeNode, int64, error) {
	if req.Depth < 0 || req.Depth > maxTreeDepth {
		return nil, s.node.Applied(), api.BadArguments(req.Path, "depth must be an integer from 0 to %d, got %d", maxTreeDepth, req.Depth)
	}
	if req.Limit < 1 || req.Limit > MaxListing {
		return nil, s.node.Applied(), api.BadArguments(req.Path, "limit must be an integer from 1 to %d, got %d", MaxListing, req.Limit)
	}
	if err := s.readable(ctx, req.Path, c); err != nil {
		return nil, s.node.Applied(), err
	}
	identity := CallerOf(ctx).Identity
	var root *api.TreeNode
	var zxid int64
	var err error
	s.node.Tree().Read(func(r fsm.Reader) { root, zxid, err = r.Subtree(req.Path, req.Depth, req.Limit, identity) })
	return root, zxid, err
}

// Sync waits until this node has applied every write committed before the
// call (ZooKeeper's sync); a missing path is fine, as in ZooKeeper. It
// returns the zxid applied.
func (s *Service) Sync(ctx context.Context, path string) (int64, error) {
	if err := s.CheckPath(path); err != nil {
		return s.node.Applied(), err
	}
	ctx, cancel := context.WithTimeout(ctx, s.limits.ReadTimeout)
	defer cancel()
	if err := s.node.Linearize(ctx); err != nil {
		return s.node.Applied(), err
	}
	return s.node.Applied(), nil
}

// readable checks a read's path and waits for its consistency.
func (s *Service) readable(ctx context.Context, path string, c Consistency) error {
	if err := s.CheckPath(path); err != nil {
		return err
	}
	return s.await(ctx, c)
}

// WatchFrom checks a watch's path and resume point, and returns the zxid
// its events start after: since, once this node has applied it (the
// client may have seen it on another node, and must not be sent events
// it has already seen), or the applied zxid when since is nil. Whether
// the history still holds the events after since is the watch hub's to
// say.
func (s *Service) WatchFrom(ctx context.Context, path string, since *int64) (int64, error) {
	if err := s.CheckPath(path); err != nil {
		return 0, err
	}
	if since == nil {
		return s.node.Applied(), nil
	}
	if *since < 0 {
		return 0, api.BadArguments(path, "since_zxid must not be negative")
	}
	if *since > s.node.Applied() {
		ctx, cancel := context.WithTimeout(ctx, s.limits.ReadTimeout)
		defer cancel()
		if err := s.node.WaitApplied(ctx, *since); err != nil {
			return 0, err
		}
	}
	return *since, nil
}
