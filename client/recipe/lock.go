package recipe

import (
	"context"

	"github.com/canopy-coord/canopy/client"
)

// Node kinds, the middle part of a line's node names.
const (
	kindLock  = "lock"
	kindRead  = "read"
	kindWrite = "write"
	kindLatch = "latch"
)

// Lock is a distributed mutex: ZooKeeper's lock recipe (Curator's
// InterProcessMutex) with fencing tokens.
//
// Acquire creates an ephemeral sequential node under the lock's path and
// holds the lock once its node is the first; until then it watches only
// the node right ahead of its own, so a release wakes one waiter. Waiters
// are served in the order they arrived.
//
// The token Acquire returns is the lock node's czxid: it grows with every
// acquisition of the lock. Give it to the resources the lock protects and
// have them refuse a token lower than one they have seen, so that a
// holder that lost the lock without knowing (paused, partitioned) cannot
// do harm (Kleppmann's fencing token; Curator has none).
//
// A Lock value is one contender: it is not re-entrant (Acquire while held
// is ErrHeld), and two Lock values exclude each other even in the same
// session and goroutine. The lock is lost when its session ends (Lost
// closes as the client gives up on the session, before the cluster can
// expire it and hand the lock on) or when its node is deleted by someone
// else. It is safe for concurrent use.
type Lock struct {
	c *contender
}

// NewLock returns a contender for the lock at path (a persistent node,
// created when missing) that holds it through s.
func NewLock(s *client.Session, path string) *Lock {
	return &Lock{c: &contender{s: s, dir: path, kind: kindLock, blocker: waitsOnPredecessor}}
}

// Acquire waits until the lock is held and returns its fencing token. If
// ctx ends first, or the session does, it leaves the line and fails.
func (l *Lock) Acquire(ctx context.Context) (int64, error) {
	token, _, err := l.c.acquire(ctx, true)
	return token, err
}

// TryAcquire takes the lock if no one holds it or waits for it, without
// waiting; ok says whether it did.
func (l *Lock) TryAcquire(ctx context.Context) (token int64, ok bool, err error) {
	return l.c.acquire(ctx, false)
}

// Release gives the lock up: Lost closes, then the node is deleted, which
// wakes the next waiter. Releasing a lost lock is harmless; releasing one
// not held is ErrNotHeld.
func (l *Lock) Release(ctx context.Context) error { return l.c.release(ctx) }

// Held reports whether the lock is held (acquired, not released, not lost).
func (l *Lock) Held() bool { return l.c.current() != nil }

// Token is the fencing token of the current hold; 0 when not held.
func (l *Lock) Token() int64 { return l.c.token() }

// Node is the path of the node that holds the lock; "" when not held.
func (l *Lock) Node() string { return l.c.node() }

// Lost is open while the lock is held and closed once it is not: at
// Release, or when the hold is lost (the session ended, or the node was
// deleted). Err says which. A program doing work under the lock selects
// on it and stops.
func (l *Lock) Lost() <-chan struct{} { return l.c.lostChan() }

// Err is why the lock was lost: nil while held, after Release, or before
// any Acquire; an error matching client.ErrSessionLost,
// client.ErrSessionExpired, client.ErrClosed or ErrNodeDeleted after a
// loss.
func (l *Lock) Err() error { return l.c.lostErr() }

// RWLock is a read-write lock (ZooKeeper's shared lock recipe, Curator's
// InterProcessReadWriteLock): any number of readers, or one writer. A
// reader waits only for the nearest writer ahead of it in line, a writer
// for whoever is right ahead of it, so no one is woken for nothing and a
// waiting writer is not starved by readers arriving after it.
//
// Writers are ordinary Locks on the same path: a Lock made by NewLock on
// that path excludes readers as a write lock does.
type RWLock struct {
	s    *client.Session
	path string
}

// NewRWLock returns the read-write lock at path, held through s.
func NewRWLock(s *client.Session, path string) *RWLock { return &RWLock{s: s, path: path} }

// ReadLock returns a new read contender. Its token is its node's czxid
// too, but readers holding together have different tokens: fence writes,
// not reads.
func (rw *RWLock) ReadLock() *Lock {
	return &Lock{c: &contender{s: rw.s, dir: rw.path, kind: kindRead, blocker: waitsOnWriter}}
}

// WriteLock returns a new write contender.
func (rw *RWLock) WriteLock() *Lock {
	return &Lock{c: &contender{s: rw.s, dir: rw.path, kind: kindWrite, blocker: waitsOnPredecessor}}
}
