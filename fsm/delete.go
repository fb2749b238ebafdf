package fsm

import "github.com/canopy-coord/canopy/api"

// delete removes a node, checking in ZooKeeper's order: DELETE on the
// parent (NoAuth) before the node itself (NoNode, BadVersion, NotEmpty).
// A recursive delete needs DELETE on every node it empties.
func (x *txn) delete(c *Command, identity []string) (api.MultiResult, *api.Error) {
	if c.Path == "/" {
		return api.MultiResult{}, api.Errorf(api.CodeBadArguments, c.Path, "the root cannot be deleted")
	}
	if err := checkWritable(c.Path); err != nil {
		return api.MultiResult{}, err
	}
	if parent := x.get(ParentPath(c.Path)); parent != nil && !allows(parent, identity, api.PermDelete) {
		return api.MultiResult{}, api.NoAuth(parent.path, api.PermDelete)
	}
	n := x.get(c.Path)
	if n == nil {
		return api.MultiResult{}, noNode(c.Path)
	}
	if err := checkVersion(n, c.Version); err != nil {
		return api.MultiResult{}, err
	}
	if n.numChildren > 0 {
		if !c.has(FlagRecursive) {
			return api.MultiResult{}, api.Errorf(api.CodeNotEmpty, c.Path, "node has %d children", n.numChildren)
		}
		if denied := x.removeDescendants(n, identity); denied != nil {
			// The transaction is dropped: nothing of it was applied.
			return api.MultiResult{}, api.NoAuth(denied.path, api.PermDelete)
		}
	}
	x.remove(c.Path)
	return api.MultiResult{Op: "delete", Path: c.Path}, nil
}

// removeDescendants deletes everything below n, children before their
// parents, depth-first in name order: the same events as ZooKeeper's
// deleteall, whose order follows its unsorted child lists instead. Each
// node it empties needs DELETE for identity; the first that does not give
// it (in that order) is returned, and the caller drops the transaction.
// It reads the committed tree, so it is only used outside multi.
func (x *txn) removeDescendants(n *node, identity []string) (denied *node) {
	if n.numChildren == 0 {
		return nil
	}
	if !allows(n, identity, api.PermDelete) {
		return n
	}
	var kids []*node
	x.t.ascendChildren(n.path, "", func(c *node) bool {
		kids = append(kids, c)
		return true
	})
	for _, k := range kids {
		if denied := x.removeDescendants(k, identity); denied != nil {
			return denied
		}
		x.remove(k.path)
	}
	return nil
}

// remove deletes the (childless) node p and updates its parent.
func (x *txn) remove(p string) {
	gone := x.get(p)
	x.put(p, gone, nil)
	old := x.get(ParentPath(p))
	parent := old.clone()
	parent.cversion++
	parent.pzxid = x.zxid
	parent.numChildren--
	x.put(parent.path, old, parent)
	x.emit(api.Event{Type: api.EventNodeDeleted, Path: p, ACL: gone.acl})
	x.emit(api.Event{Type: api.EventNodeChildrenChanged, Path: parent.path, Child: BaseName(p), Change: "removed", ACL: parent.acl})
}

// reap deletes a container or TTL node if, at the command's time, the rule
// still holds; otherwise it does nothing (a child arrived, data changed).
func (x *txn) reap(c *Command) (api.MultiResult, *api.Error) {
	n := x.get(c.Path)
	if n != nil && reapable(n, c.Time) {
		x.remove(c.Path)
	}
	return api.MultiResult{Op: "reap", Path: c.Path}, nil
}
