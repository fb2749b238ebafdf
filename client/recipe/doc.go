// Package recipe holds the coordination recipes of ZooKeeper's
// documentation and Apache Curator, built on package client: a lock with
// fencing tokens (Lock), a read-write lock (RWLock), leader election
// (Election), group membership (Group), barriers (Barrier, DoubleBarrier),
// a FIFO queue (Queue) and a typed configuration that follows its node
// (WatchConfig).
//
// Recipes that hold something (a lock, a leadership, a membership) own it
// through a *client.Session: their nodes are ephemeral, so whatever a
// process holds goes when its session ends. That end is visible on the
// client before the cluster can give the thing to someone else: a held
// Lock's Lost channel (and an Election's) closes when the session is lost,
// closed or expired, or when the node is deleted under it.
//
// Every recipe survives the ambiguous write of a distributed system: a
// create answered with client.ErrConnectionLoss, ErrUnavailable or
// ErrOperationTimeout may or may not have been applied. Sequential nodes
// carry a per-attempt random prefix (Curator's "protected" names,
// "_c_<guid>-lock-0000000042") so that after such an answer the recipe
// finds its node by listing, instead of leaving an orphan that would hold
// the lock for as long as the session lives.
//
// The package never keeps a goroutine after the call or the hold that
// needs it: a held lock or leadership has one goroutine watching its node,
// stopped by Release or Resign; watchers stop with their context.
//
// docs/recipes.md compares the recipes with Curator's.
package recipe
