package consensus

import (
	"context"
	"sync"
)

// batcher runs one call on behalf of many concurrent callers: a caller
// joins the next round, which starts only after it joined (so a round's
// answer is never older than the caller), and one goroutine runs rounds
// until nobody waits. It ends by itself; its calls run within parent (the
// node's life), so none outlives the node's Close.
type batcher[In, Out any] struct {
	parent  context.Context
	call    func(ctx context.Context, ins []In) (Out, error)
	timeout error // what a caller whose context ends gets

	mu      sync.Mutex
	next    *round[In, Out]
	running bool
}

type round[In, Out any] struct {
	ins  []In
	done chan struct{}
	out  Out
	err  error
}

func newBatcher[In, Out any](parent context.Context, call func(context.Context, []In) (Out, error), timeout error) *batcher[In, Out] {
	return &batcher[In, Out]{parent: parent, call: call, timeout: timeout}
}

// join adds in to the next round and waits for its answer.
func (b *batcher[In, Out]) join(ctx context.Context, in In) (Out, error) {
	b.mu.Lock()
	if b.next == nil {
		b.next = &round[In, Out]{done: make(chan struct{})}
	}
	r := b.next
	r.ins = append(r.ins, in)
	if !b.running {
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		var zero Out
		return zero, b.timeout
	}
}

func (b *batcher[In, Out]) loop() {
	for {
		b.mu.Lock()
		r := b.next
		b.next = nil
		if r == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(b.parent, DefaultTimeout)
		r.out, r.err = b.call(ctx, r.ins)
		cancel()
		close(r.done)
	}
}
