// Package wsnotify delivers the tree's change events to clients: the watch
// hub (ZooKeeper's one-shot data and child watches, 3.6's persistent and
// persistent-recursive watches, and a bounded history that lets a client
// resume from a zxid), the WebSocket endpoint /v1/watch that also carries
// every operation and session keep-alives, and the Server-Sent Events
// stream /v1/events.
//
// The hub is fed on raft's apply goroutine while the tree is still locked,
// so a reader that sees state Z knows every event up to Z is in the hub. It
// never blocks there: each subscriber has a bounded queue, and one that
// falls behind is dropped (its socket closes with 1008 "resync") and resumes
// from its last zxid.
package wsnotify
