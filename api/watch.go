package api

import "strings"

// WatchKind is the kind of a watch. The server and the Go client decide with
// the same rule (Fires) which events a watch receives.
type WatchKind uint8

const (
	// WatchData is ZooKeeper's data watch (getData, or exists): it fires
	// once on NodeCreated, NodeDataChanged or NodeDeleted of its path.
	WatchData WatchKind = iota
	// WatchChildren is the child watch (getChildren): it fires once on
	// NodeChildrenChanged or NodeDeleted of its path.
	WatchChildren
	// WatchPersistent fires on every event of its path, and stays.
	WatchPersistent
	// WatchRecursive fires on every event of its path and the paths below,
	// except NodeChildrenChanged (ZooKeeper 3.6's rule), and stays.
	WatchRecursive
)

var watchKindNames = [...]string{"data", "children", "persistent", "persistentRecursive"}

// String is the kind's name in the protocol (removeWatch's "kind").
func (k WatchKind) String() string {
	if int(k) < len(watchKindNames) {
		return watchKindNames[k]
	}
	return "unknown"
}

// Fires reports whether a watch of kind k on path receives e.
func (k WatchKind) Fires(path string, e Event) bool {
	switch k {
	case WatchData:
		return e.Path == path && e.Type != EventNodeChildrenChanged
	case WatchChildren:
		return e.Path == path && (e.Type == EventNodeChildrenChanged || e.Type == EventNodeDeleted)
	case WatchPersistent:
		return e.Path == path
	case WatchRecursive:
		return e.Type != EventNodeChildrenChanged && Under(e.Path, path)
	}
	return false
}

// Under reports whether p is root or below it.
func Under(p, root string) bool {
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}
