package fsm

import (
	"strconv"
	"strings"

	"github.com/canopy-coord/canopy/api"
)

// validateCreateFlags applies ZooKeeper's CreateMode rules.
func validateCreateFlags(c *Command) *api.Error {
	switch {
	case c.has(FlagContainer) && c.has(FlagEphemeral|FlagSequential):
		return api.Errorf(api.CodeBadArguments, c.Path, "a container node cannot be ephemeral or sequential")
	case c.TTL != 0 && (c.has(FlagEphemeral) || c.has(FlagContainer)):
		return api.Errorf(api.CodeBadArguments, c.Path, "a TTL applies to persistent nodes only")
	case c.TTL < 0 || c.TTL > MaxTTL:
		return api.Errorf(api.CodeBadArguments, c.Path, "ttl_ms must be between 1 and %d", int64(MaxTTL))
	}
	return nil
}

// create makes a node, checking in ZooKeeper's order (PrepRequestProcessor):
// flags, path, the ACL (InvalidACL), the session, the parent (NoNode), CREATE
// on it (NoAuth), then NodeExists and NoChildrenForEphemerals.
func (x *txn) create(c *Command, identity []string) (api.MultiResult, *api.Error) {
	if err := validateCreateFlags(c); err != nil {
		return api.MultiResult{}, err
	}
	// A sequential name is validated with its suffix: "/q/" is a valid prefix.
	check := c.Path
	if c.has(FlagSequential) {
		check += "0"
	}
	if err := checkWritable(check); err != nil {
		return api.MultiResult{}, err
	}
	list, err := storedACL(c.Path, c.ACL, identity, true)
	if err != nil {
		return api.MultiResult{}, err
	}
	owner := api.ID(0)
	switch {
	case c.has(FlagEphemeral):
		s, ok := x.t.sessions[c.Session]
		if !ok || c.Session == 0 {
			return api.MultiResult{}, sessionExpired(c.Session)
		}
		if !sessionAllows(s, identity) {
			return api.MultiResult{}, sessionNoAuth(c.Session)
		}
		owner = c.Session
	case c.has(FlagContainer):
		owner = containerOwner
	case c.TTL > 0:
		owner = ttlOwner(c.TTL)
	}

	parentPath := ParentPath(c.Path)
	parent := x.get(parentPath)
	if parent == nil {
		if !c.has(FlagParents) {
			return api.MultiResult{}, noNode(parentPath)
		}
		if parent, err = x.createAncestors(parentPath, list, identity); err != nil {
			return api.MultiResult{}, err
		}
	}
	if !allows(parent, identity, api.PermCreate) {
		return api.MultiResult{}, api.NoAuth(parent.path, api.PermCreate)
	}
	p := c.Path
	if c.has(FlagSequential) {
		p += sequenceSuffix(parent.childrenCreated())
	}
	if x.get(p) != nil {
		return api.MultiResult{}, api.Errorf(api.CodeNodeExists, p, "node already exists")
	}
	if parent.ephemeral() {
		return api.MultiResult{}, api.Errorf(api.CodeNoChildrenForEphemerals, p, "ephemeral nodes cannot have children")
	}
	_, st := x.add(parent, p, string(c.Data), owner, list)
	return api.MultiResult{Op: "create", Path: p, Stat: st}, nil
}

// createAncestors makes p and its missing ancestors, persistent and empty,
// with the node's ACL, as ZooKeeper clients' "create parents" does (each a
// create of its own: CREATE on its parent); it returns p's node.
func (x *txn) createAncestors(p string, list []api.ACL, identity []string) (*node, *api.Error) {
	parentPath := ParentPath(p)
	parent := x.get(parentPath)
	if parent == nil {
		var err *api.Error
		if parent, err = x.createAncestors(parentPath, list, identity); err != nil {
			return nil, err
		}
	}
	if !allows(parent, identity, api.PermCreate) {
		return nil, api.NoAuth(parent.path, api.PermCreate)
	}
	if parent.ephemeral() {
		return nil, api.Errorf(api.CodeNoChildrenForEphemerals, p, "ephemeral nodes cannot have children")
	}
	n, _ := x.add(parent, p, "", 0, list)
	return n, nil
}

// add creates the node p under parent, updating the parent's cversion,
// pzxid and child count, and emits the events. The Stat it returns is the
// one the NodeCreated event carries.
func (x *txn) add(parent *node, p, data string, owner api.ID, list []api.ACL) (*node, *api.Stat) {
	n := &node{
		data: data, owner: owner, acl: list,
		czxid: x.zxid, mzxid: x.zxid, pzxid: x.zxid,
		ctime: x.time, mtime: x.time, gen: x.t.gen,
	}
	n.setPath(p)
	x.put(p, nil, n)
	pp := parent.clone()
	pp.cversion++
	pp.pzxid = x.zxid
	pp.numChildren++
	x.put(pp.path, parent, pp)
	st := n.stat()
	x.emit(api.Event{Type: api.EventNodeCreated, Path: p, Stat: &st, ACL: list})
	x.emit(api.Event{Type: api.EventNodeChildrenChanged, Path: pp.path, Child: BaseName(p), Change: "added", ACL: pp.acl})
	return n, &st
}

// sequenceSuffix formats n as Java's %010d does: zero-padded to ten
// characters, the sign counting among them.
func sequenceSuffix(n int32) string {
	digits := strconv.FormatInt(int64(n), 10)
	neg := n < 0
	if neg {
		digits = digits[1:]
	}
	width := 10
	if neg {
		width = 9
	}
	if len(digits) < width {
		digits = strings.Repeat("0", width-len(digits)) + digits
	}
	if neg {
		return "-" + digits
	}
	return digits
}
