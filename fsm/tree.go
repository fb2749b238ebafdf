package fsm

import (
	"sort"
	"strings"
	"sync"

	"github.com/google/btree"

	"github.com/canopy-coord/canopy/api"
)

// btreeDegree suits both the copy cost of copy-on-write (small nodes) and
// lookup depth in a tree of millions.
const btreeDegree = 32

// Tree is the replicated state: znodes, sessions, and the last applied zxid.
// Apply runs on one goroutine (raft's); reads may run on any.
type Tree struct {
	mu       sync.RWMutex
	nodes    *btree.BTreeG[*node]
	sessions map[api.ID]*session
	// timed holds the containers and TTL nodes, which the leader's reaper
	// checks; it is derived from nodes.
	timed map[string]struct{}
	// members are the cluster's nodes and their addresses, replicated so
	// that any node can reach any other's API.
	members map[string]Member
	// sessionsFrom counts the open sessions by client address.
	sessionsFrom map[string]int
	// applied is the index of the last raft entry applied, command or not.
	applied  int64
	dataSize int64
	// publish, when set, receives each batch's events before the lock is
	// released, so that a reader who sees state Z finds every event up to Z
	// already published.
	publish func([]api.Event)
	// gen counts snapshots: a node made in the current generation is in
	// no snapshot's clone of the index, so apply may change it in place.
	gen uint32
	// Scratch space of the apply path, used only under the write lock.
	probe node
	txn   txn
}

// SetPublisher makes ApplyBatch hand its events to fn while the tree is
// still locked. fn must be quick and must not block or call back into the
// tree.
func (t *Tree) SetPublisher(fn func([]api.Event)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.publish = fn
}

type session struct {
	id         api.ID
	timeout    int64
	ephemerals map[string]struct{}
	// owner is the authenticated identities that opened the session
	// (acl.Authenticated); none for an anonymous one.
	owner []string
	// addr is the address of the client that opened it (its ip
	// identity), for the sessions-per-client limit.
	addr string
}

// NewTree returns the initial tree: the root and ZooKeeper's /zookeeper,
// /zookeeper/config and /zookeeper/quota, all persistent with zxid 0.
func NewTree() *Tree {
	t := emptyTree()
	root, zk, config := newNode("/"), newNode(ReservedPath), newNode(ReservedPath+"/config")
	root.numChildren, zk.numChildren = 1, 2
	// As ZooKeeper's DataTree.addConfigNode: anyone may read the dynamic
	// configuration, only the super user change its ACL.
	config.acl = []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermRead}}
	for _, n := range []*node{root, zk, config, newNode(ReservedPath + "/quota")} {
		t.nodes.ReplaceOrInsert(n)
	}
	return t
}

func emptyTree() *Tree {
	return &Tree{
		nodes:    btree.NewG(btreeDegree, less),
		sessions: make(map[api.ID]*session),
		timed:    make(map[string]struct{}),
		members:  make(map[string]Member),

		sessionsFrom: make(map[string]int),
	}
}

// Member is one cluster node's addresses as the cluster recorded them.
type Member struct {
	ID       string
	RaftAddr string
	HTTPAddr string
}

// Members lists the recorded members, by id.
func (t *Tree) Members() []Member {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Member, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Member returns one member's record.
func (t *Tree) Member(id string) (Member, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m, ok := t.members[id]
	return m, ok
}

// lookupForWrite is lookup for the apply path: under the write lock it may
// use the tree's scratch key instead of allocating one.
func (t *Tree) lookupForWrite(p string) *node {
	t.probe.setPath(p)
	n, _ := t.nodes.Get(&t.probe)
	if n == nil || n.path != p {
		return nil
	}
	return n
}

// lookup finds a node in the index; the caller holds the lock.
func (t *Tree) lookup(p string) *node {
	n, _ := t.nodes.Get(newNode(p))
	if n == nil || n.path != p { // "zookeeper" and "/zookeeper" share an index key
		return nil
	}
	return n
}

// ascendChildren calls fn for each child of p with a name after `after`, in
// name order, until fn returns false; the caller holds the lock.
func (t *Tree) ascendChildren(p, after string, fn func(*node) bool) {
	afterOrig := after
	dir := dirKey(p)
	// Names hold no "/": cut `after` there so the pivot stays under p; the
	// loop below skips what is not after it.
	if i := strings.IndexByte(after, '/'); i >= 0 {
		after = after[:i]
	}
	pivot := newNode(JoinPath(p, after))
	t.nodes.AscendGreaterOrEqual(pivot, func(n *node) bool {
		if n.dir() != dir {
			return false
		}
		if name := n.name(); name == "" || name <= afterOrig {
			return true // the root (under "/") or the pivot itself
		}
		return fn(n)
	})
}

// Reader reads the tree inside Read, where the lock is already held.
type Reader struct{ t *Tree }

// Applied is Tree.Applied within Read.
func (r Reader) Applied() int64 { return r.t.applied }

// Get is Tree.Get within Read.
func (r Reader) Get(p string) (string, api.Stat, int64, error) { return r.t.get(p) }

// Stat is Tree.Stat within Read.
func (r Reader) Stat(p string) (api.Stat, int64, error) { return r.t.stat(p) }

// Children is Tree.Children within Read.
func (r Reader) Children(p, after string, limit int, withStats bool) (ChildPage, error) {
	return r.t.children(p, after, limit, withStats)
}

// Read runs fn with the tree held still: no command applies, and so no
// event is published, until fn returns. A watch registered inside fn is
// atomic with the read, as in ZooKeeper. fn must be quick and must not call
// the Tree's own methods (the lock is not reentrant).
func (t *Tree) Read(fn func(Reader)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	fn(Reader{t})
}

// Applied returns the index of the last raft entry applied.
func (t *Tree) Applied() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.applied
}

// Get returns a node's data and Stat, and the applied zxid they reflect.
func (t *Tree) Get(p string) (data string, stat api.Stat, zxid int64, err error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.get(p)
}

func (t *Tree) get(p string) (data string, stat api.Stat, zxid int64, err error) {
	n := t.lookup(p)
	if n == nil {
		return "", api.Stat{}, t.applied, noNode(p)
	}
	return n.data, n.stat(), t.applied, nil
}

// Stat returns a node's Stat (exists).
func (t *Tree) Stat(p string) (api.Stat, int64, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.stat(p)
}

func (t *Tree) stat(p string) (api.Stat, int64, error) {
	n := t.lookup(p)
	if n == nil {
		return api.Stat{}, t.applied, noNode(p)
	}
	return n.stat(), t.applied, nil
}

// ChildPage is one page of a node's children.
type ChildPage struct {
	Stat     api.Stat // the parent's
	Names    []string
	Stats    []api.Stat // with withStats only, parallel to Names
	Next     string     // the name to pass as after; "" on the last page
	Zxid     int64
	HasStats bool
}

// Children lists the children of p named after `after` (all when ""), at most
// limit of them (all when limit <= 0), sorted by name.
func (t *Tree) Children(p, after string, limit int, withStats bool) (ChildPage, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.children(p, after, limit, withStats)
}

func (t *Tree) children(p, after string, limit int, withStats bool) (ChildPage, error) {
	n := t.lookup(p)
	if n == nil {
		return ChildPage{Zxid: t.applied}, noNode(p)
	}
	page := ChildPage{Stat: n.stat(), Zxid: t.applied, HasStats: withStats}
	capacity := int(n.numChildren)
	if limit > 0 && limit < capacity {
		capacity = limit
	}
	page.Names = make([]string, 0, capacity)
	t.ascendChildren(p, after, func(c *node) bool {
		if limit > 0 && len(page.Names) == limit {
			page.Next = page.Names[len(page.Names)-1]
			return false
		}
		page.Names = append(page.Names, BaseName(c.path))
		if withStats {
			page.Stats = append(page.Stats, c.stat())
		}
		return true
	})
	return page, nil
}

// Subtree returns p and its descendants breadth-first down to depth levels
// below p, at most limit nodes in all (p included). A node whose children
// were not all listed is marked Truncated.
func (t *Tree) Subtree(p string, depth, limit int) (*api.TreeNode, int64, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.subtree(p, depth, limit, nil)
}

// Subtree is Tree.Subtree for a caller holding identity: the node itself
// needs READ (NoAuth), and only the children of nodes it may READ are
// listed (the others are marked Truncated), as getChildren would answer.
func (r Reader) Subtree(p string, depth, limit int, identity []string) (*api.TreeNode, int64, error) {
	if err := r.Allowed(p, identity, api.PermRead); err != nil {
		return nil, r.t.applied, err
	}
	return r.t.subtree(p, depth, limit, func(n *node) bool { return allows(n, identity, api.PermRead) })
}

// subtree lists below the nodes canList allows (all when nil).
func (t *Tree) subtree(p string, depth, limit int, canList func(*node) bool) (*api.TreeNode, int64, error) {
	n := t.lookup(p)
	if n == nil {
		return nil, t.applied, noNode(p)
	}
	root := &api.TreeNode{Path: p, Stat: n.stat(), Children: []*api.TreeNode{}}
	count := 1
	level := []*api.TreeNode{root}
	for d := 0; d < depth && len(level) > 0; d++ {
		var next []*api.TreeNode
		for _, tn := range level {
			if tn.Stat.NumChildren == 0 {
				continue
			}
			if canList != nil {
				if pn := t.lookup(tn.Path); pn == nil || !canList(pn) {
					continue
				}
			}
			t.ascendChildren(tn.Path, "", func(c *node) bool {
				if count >= limit {
					return false
				}
				child := &api.TreeNode{Path: c.path, Stat: c.stat(), Children: []*api.TreeNode{}}
				tn.Children = append(tn.Children, child)
				next = append(next, child)
				count++
				return true
			})
		}
		level = next
	}
	markTruncated(root)
	return root, t.applied, nil
}

func markTruncated(tn *api.TreeNode) {
	tn.Truncated = len(tn.Children) < int(tn.Stat.NumChildren)
	for _, c := range tn.Children {
		markTruncated(c)
	}
}

// SessionInfo is a session as the state machine holds it.
type SessionInfo struct {
	ID         api.ID
	TimeoutMs  int64
	Ephemerals []string // sorted
	Owner      []string // the authenticated identities that opened it
}

// Session returns one session, or SessionExpired when it is not open.
func (t *Tree) Session(id api.ID) (SessionInfo, int64, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.sessions[id]
	if !ok {
		return SessionInfo{}, t.applied, sessionExpired(id)
	}
	return s.info(), t.applied, nil
}

// Sessions lists the open sessions, by id.
func (t *Tree) Sessions() ([]SessionInfo, int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]SessionInfo, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, s.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, t.applied
}

// SessionTimeouts returns every open session's timeout, for the lease clock.
func (t *Tree) SessionTimeouts() map[api.ID]int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[api.ID]int64, len(t.sessions))
	for id, s := range t.sessions {
		out[id] = s.timeout
	}
	return out
}

func (s *session) info() SessionInfo {
	eph := make([]string, 0, len(s.ephemerals))
	for p := range s.ephemerals {
		eph = append(eph, p)
	}
	sort.Strings(eph)
	return SessionInfo{ID: s.id, TimeoutMs: s.timeout, Ephemerals: eph, Owner: s.owner}
}

// Counts are the tree's sizes, for status and metrics.
type Counts struct {
	Nodes      int
	Ephemerals int
	Sessions   int
	DataBytes  int64
	Applied    int64
}

// Counts returns the tree's sizes.
func (t *Tree) Counts() Counts {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := Counts{Nodes: t.nodes.Len(), Sessions: len(t.sessions), DataBytes: t.dataSize, Applied: t.applied}
	for _, s := range t.sessions {
		c.Ephemerals += len(s.ephemerals)
	}
	return c
}

// ReapCandidates lists the containers and TTL nodes that are due for
// deletion at time now (ms): empty containers that once had a child, and
// empty TTL nodes unmodified for their TTL. The leader proposes an OpReap
// for each; Apply checks the rule again, so a stale list is harmless.
func (t *Tree) ReapCandidates(now int64) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for p := range t.timed {
		if n := t.lookup(p); n != nil && reapable(n, now) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func reapable(n *node, now int64) bool {
	if n.numChildren != 0 {
		return false
	}
	if n.container() {
		return n.cversion > 0
	}
	ttl := n.ttl()
	return ttl > 0 && now-n.mtime > ttl
}

func noNode(p string) *api.Error { return api.NoNode(p) }

func sessionExpired(id api.ID) *api.Error { return api.SessionExpired(id) }

// SessionsFrom is how many open sessions the client at addr opened.
func (t *Tree) SessionsFrom(addr string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.sessionsFrom[addr]
}

// SessionEphemerals is how many ephemerals session id owns.
func (t *Tree) SessionEphemerals(id api.ID) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if s, ok := t.sessions[id]; ok {
		return len(s.ephemerals)
	}
	return 0
}

// DataBytes is the size of all nodes' data.
func (t *Tree) DataBytes() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dataSize
}

func (t *Tree) addSession(s *session) {
	t.sessions[s.id] = s
	if s.addr != "" {
		t.sessionsFrom[s.addr]++
	}
}

func (t *Tree) removeSession(s *session) {
	delete(t.sessions, s.id)
	if s.addr != "" {
		if t.sessionsFrom[s.addr]--; t.sessionsFrom[s.addr] <= 0 {
			delete(t.sessionsFrom, s.addr)
		}
	}
}

// addrOf is the address in an identity's ip entry.
func addrOf(identity []string) string {
	for _, id := range identity {
		if a, ok := strings.CutPrefix(id, "ip:"); ok {
			return a
		}
	}
	return ""
}
