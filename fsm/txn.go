package fsm

import "github.com/canopy-coord/canopy/api"

// txn collects the changes of one command against the tree without touching
// it: a multi that fails half-way, or any command that fails, leaves the tree
// exactly as it was. commit writes the changes and returns their events.
type txn struct {
	t       *Tree
	zxid    int64
	time    int64
	changes []change
	byPath  map[string]int // index into changes, built once they are many
	events  []api.Event
}

type change struct {
	path     string
	old, new *node // old == nil: created; new == nil: deleted
}

const txnIndexThreshold = 16

// newTxn starts the transaction of one command. There is one at a time (the
// write lock is held), so its buffers are reused.
func (t *Tree) newTxn(zxid, time int64) *txn {
	x := &t.txn
	changes := x.changes[:0]
	if cap(changes) > 1024 {
		changes = nil // do not keep a huge recursive delete's buffer forever
	}
	*x = txn{t: t, zxid: zxid, time: time, changes: changes}
	return x
}

func (x *txn) find(p string) int {
	if x.byPath != nil {
		if i, ok := x.byPath[p]; ok {
			return i
		}
		return -1
	}
	for i := range x.changes {
		if x.changes[i].path == p {
			return i
		}
	}
	return -1
}

// get returns the node at p as this transaction sees it.
func (x *txn) get(p string) *node {
	if i := x.find(p); i >= 0 {
		return x.changes[i].new
	}
	return x.t.lookupForWrite(p)
}

// put records that p, which held cur as this transaction sees it, now
// holds n (nil: deleted).
func (x *txn) put(p string, cur, n *node) {
	if i := x.find(p); i >= 0 {
		x.changes[i].new = n
		return
	}
	// Not changed before in this transaction: cur is the committed node.
	x.changes = append(x.changes, change{path: p, old: cur, new: n})
	switch {
	case x.byPath != nil:
		x.byPath[p] = len(x.changes) - 1
	case len(x.changes) > txnIndexThreshold:
		x.byPath = make(map[string]int, 2*len(x.changes))
		for i, c := range x.changes {
			x.byPath[c.path] = i
		}
	}
}

func (x *txn) emit(e api.Event) {
	e.Zxid = x.zxid
	if x.events == nil {
		x.events = make([]api.Event, 0, 2) // most commands make two events
	}
	x.events = append(x.events, e)
}

// commit applies the collected changes to the tree; the caller holds the lock.
func (x *txn) commit() []api.Event {
	t := x.t
	for _, c := range x.changes {
		switch {
		case c.old == nil && c.new == nil:
			continue // created and deleted within one multi
		case c.old != nil && c.new != nil && c.old.gen == t.gen:
			// No snapshot holds the old node: update it where it is in
			// the index instead of walking the index to replace it.
			t.index(c.old, false)
			*c.old = *c.new
			c.old.gen = t.gen
			t.index(c.old, true)
			continue
		case c.new != nil:
			c.new.gen = t.gen // a fresh copy: no snapshot holds it
			t.nodes.ReplaceOrInsert(c.new)
		default:
			t.nodes.Delete(c.old)
		}
		t.index(c.old, false)
		t.index(c.new, true)
	}
	clear(x.changes) // drop the node pointers the reused buffer would keep alive
	return x.events
}

// index keeps the derived sets (session ephemerals, timed nodes, data size)
// in step with a node entering (add) or leaving the tree.
func (t *Tree) index(n *node, add bool) {
	if n == nil {
		return
	}
	size := int64(len(n.data))
	if !add {
		size = -size
	}
	t.dataSize += size
	switch {
	case n.ephemeral():
		if s, ok := t.sessions[n.owner]; ok {
			if add {
				s.ephemerals[n.path] = struct{}{}
			} else {
				delete(s.ephemerals, n.path)
			}
		}
	case n.timed():
		if add {
			t.timed[n.path] = struct{}{}
		} else {
			delete(t.timed, n.path)
		}
	}
}
