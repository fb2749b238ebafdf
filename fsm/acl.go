package fsm

import (
	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
)

// allows reports whether identity holds perm on n (package acl: ZooKeeper
// 3.8's checkACL).
func allows(n *node, identity []string, perm api.Perms) bool {
	return n.acl == nil || acl.Allowed(n.acl, identity, perm)
}

// storedACL is the list a create or setACL stores: validated and expanded
// (acl.Fixup), and nil for world:anyone:cdrwa. A create from before ACLs
// carries none and gets world:anyone:cdrwa; so does a create with an empty
// list, which the log cannot tell from none (the operation layer refuses
// an empty list as InvalidACL before it proposes).
func storedACL(path string, list []api.ACL, identity []string, create bool) ([]api.ACL, *api.Error) {
	if len(list) == 0 && create {
		return nil, nil
	}
	fixed, err := acl.Fixup(path, list, identity)
	if err != nil {
		return nil, err
	}
	if acl.Open(fixed) {
		return nil, nil
	}
	return fixed, nil
}

// setACL replaces a node's ACL, as ZooKeeper's setACL: the list is checked
// first (InvalidACL), then the node (NoNode), ADMIN on it (NoAuth), and the
// aversion (BadVersion). It bumps the aversion and fires no watch.
func (x *txn) setACL(c *Command, identity []string) (api.MultiResult, *api.Error) {
	list, err := storedACL(c.Path, c.ACL, identity, false)
	if err != nil {
		return api.MultiResult{}, err
	}
	n := x.get(c.Path)
	if n == nil {
		return api.MultiResult{}, noNode(c.Path)
	}
	if !allows(n, identity, api.PermAdmin) {
		return api.MultiResult{}, api.NoAuth(c.Path, api.PermAdmin)
	}
	if c.Version != AnyVersion && c.Version != n.aversion {
		return api.MultiResult{}, api.Errorf(api.CodeBadVersion, n.path, "aversion is %d, not %d", n.aversion, c.Version)
	}
	m := n.clone()
	m.acl = list
	m.aversion++
	x.put(c.Path, n, m)
	st := m.stat()
	return api.MultiResult{Op: "setACL", Path: c.Path, Stat: &st}, nil
}

// sessionAllows reports whether a caller holding identity may act in
// session s (DESIGN §9): a session belongs to the authenticated identities
// that opened it; one opened anonymously belongs to anyone.
func sessionAllows(s *session, identity []string) bool {
	if len(s.owner) == 0 || acl.IsSuper(identity) {
		return true
	}
	for _, o := range s.owner {
		for _, id := range identity {
			if id == o {
				return true
			}
		}
	}
	return false
}

// SessionAllows reports whether a caller holding identity may use session
// id: keep it alive, attach to it, close it, create ephemerals in it.
// A session that is not open is SessionExpired.
func (t *Tree) SessionAllows(id api.ID, identity []string) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.sessions[id]
	if !ok {
		return sessionExpired(id)
	}
	if !sessionAllows(s, identity) {
		return sessionNoAuth(id)
	}
	return nil
}

func sessionNoAuth(id api.ID) *api.Error {
	return api.Errorf(api.CodeNoAuth, "", "session %s belongs to another identity", id)
}

// ACL is a node's access list (world:anyone:cdrwa when it stores none) and
// Stat, and the applied zxid they reflect.
func (r Reader) ACL(p string) ([]api.ACL, api.Stat, int64, error) {
	n := r.t.lookup(p)
	if n == nil {
		return nil, api.Stat{}, r.t.applied, noNode(p)
	}
	list := n.acl
	if list == nil {
		list = api.OpenACL
	}
	return list, n.stat(), r.t.applied, nil
}

// Allowed reports whether identity holds perm on the node at p; a missing
// node is NoNode.
func (r Reader) Allowed(p string, identity []string, perm api.Perms) error {
	n := r.t.lookup(p)
	if n == nil {
		return noNode(p)
	}
	if !allows(n, identity, perm) {
		return api.NoAuth(p, perm)
	}
	return nil
}
