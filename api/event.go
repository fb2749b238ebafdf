package api

// EventType names a change, with ZooKeeper's watch event names.
type EventType string

const (
	EventNodeCreated         EventType = "NodeCreated"
	EventNodeDeleted         EventType = "NodeDeleted"
	EventNodeDataChanged     EventType = "NodeDataChanged"
	EventNodeChildrenChanged EventType = "NodeChildrenChanged"
)

// Event is one change to the tree. Every replica produces the same events,
// in the same order, for the same log.
type Event struct {
	Type EventType `json:"type"`
	Path string    `json:"path"`
	Zxid int64     `json:"zxid"`
	// Child and Change accompany NodeChildrenChanged: the child's name and
	// "added" or "removed".
	Child  string `json:"child,omitempty"`
	Change string `json:"change,omitempty"`
	// Stat is the node's new Stat on NodeCreated and NodeDataChanged.
	Stat *Stat `json:"stat,omitempty"`
	// ACL is the access list of the node the event is about (the parent,
	// for NodeChildrenChanged): only a watcher with READ on it gets the
	// event, as in ZooKeeper. nil is world:anyone. Never sent.
	ACL []ACL `json:"-"`
}
