package consensus

import (
	"context"
	"sync"
)

// appliedIndex is the index of the last raft entry the FSM has applied, with
// a way to wait for it to reach a value.
type appliedIndex struct {
	mu    sync.Mutex
	index int64
	moved chan struct{} // closed and replaced whenever index grows
}

func newAppliedIndex() *appliedIndex {
	return &appliedIndex{moved: make(chan struct{})}
}

func (a *appliedIndex) set(i int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i <= a.index {
		return
	}
	a.index = i
	close(a.moved)
	a.moved = make(chan struct{})
}

func (a *appliedIndex) get() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index
}

// wait returns once the index is at least i, or with ctx's error.
func (a *appliedIndex) wait(ctx context.Context, i int64) error {
	for {
		a.mu.Lock()
		if a.index >= i {
			a.mu.Unlock()
			return nil
		}
		moved := a.moved
		a.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
