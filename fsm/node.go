package fsm

import (
	"strings"

	"github.com/canopy-coord/canopy/api"
)

// ZooKeeper encodes a node's kind in its ephemeralOwner (EphemeralType):
// 0 is persistent, Long.MIN_VALUE a container, 0xFF in the top byte a TTL
// node with the TTL in the low 40 bits, anything else the owning session.
// Canopy keeps that encoding, so a Stat tells the kind exactly as in
// ZooKeeper, and session ids are drawn outside the reserved ranges.
const (
	containerOwner api.ID = 1 << 63
	ttlOwnerMask   api.ID = 0xFF << 56
)

func ttlOwner(ttl int64) api.ID { return ttlOwnerMask | api.ID(ttl&MaxTTL) }

// ValidSessionID reports whether id may name a session: not zero and not one
// of the kind markers above.
func ValidSessionID(id api.ID) bool {
	return id != 0 && id&containerOwner == 0
}

// node is one znode. A node in the tree is immutable: a change builds a new
// node and replaces the old one, so a snapshot's clone of the index keeps
// seeing the old version.
type node struct {
	path        string
	data        string
	slash       int32  // index of the last "/" in path: the index's sort key splits there
	gen         uint32 // the tree's snapshot generation when this node was made
	czxid       int64
	mzxid       int64
	pzxid       int64
	ctime       int64
	mtime       int64
	version     int32
	cversion    int32
	aversion    int32
	numChildren int32
	owner       api.ID
	// acl is the node's access list as stored (acl.Fixup's result); nil is
	// world:anyone:cdrwa, which every check passes without a look.
	acl []api.ACL
}

// stat is the Stat a client sees. As in ZooKeeper (DataNode.copyStat), the
// container and TTL markers stay internal: clients see ephemeralOwner 0.
func (n *node) stat() api.Stat {
	owner := n.owner
	if !n.ephemeral() {
		owner = 0
	}
	return api.Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid,
		Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: n.cversion, Aversion: n.aversion,
		EphemeralOwner: owner,
		DataLength:     int32(len(n.data)),
		NumChildren:    n.numChildren,
	}
}

// childrenCreated is how many children were ever created under n: the
// sequential suffix. ZooKeeper stores that count and reports cversion as
// 2*created - numChildren (creates plus deletes), so it is derived back here.
func (n *node) childrenCreated() int32 {
	return (n.cversion + n.numChildren) / 2
}

func (n *node) ephemeral() bool { return n.owner != 0 && ValidSessionID(n.owner) }
func (n *node) container() bool { return n.owner == containerOwner }
func (n *node) ttl() int64 {
	if n.owner&ttlOwnerMask == ttlOwnerMask {
		return int64(n.owner & MaxTTL)
	}
	return 0
}

// timed reports whether the leader's reaper must watch this node.
func (n *node) timed() bool { return n.container() || n.ttl() > 0 }

func (n *node) clone() *node {
	c := *n
	return &c
}

// newNode returns a node for path p, with its sort key ready.
func newNode(p string) *node {
	n := &node{}
	n.setPath(p)
	return n
}

func (n *node) setPath(p string) {
	n.path = p
	n.slash = int32(strings.LastIndexByte(p, '/'))
}

// less orders the index by (parent dir, name), see splitPath, using the
// slash position each node keeps so that no comparison rescans a path.
func less(a, b *node) bool {
	ad, bd := a.dir(), b.dir()
	if ad != bd {
		return ad < bd
	}
	return a.name() < b.name()
}

func (n *node) dir() string {
	if n.slash < 0 {
		return ""
	}
	return n.path[:n.slash]
}

func (n *node) name() string { return n.path[n.slash+1:] }
