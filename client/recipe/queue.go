package recipe

import (
	"context"
	"errors"
	"fmt"

	"github.com/canopy-coord/canopy/client"
)

// ErrTakeUncertain: Take's claim (the delete of an item) got no answer
// (the connection was lost, or the context ended while it was sent), so
// the item may have gone to this caller or to another consumer. Take
// returns the item's data with it; exactly-once processing across such a
// failure is the application's (make processing idempotent, or treat the
// item as at-most-once and drop it).
var ErrTakeUncertain = errors.New("recipe: the item was taken, by this call or another consumer: no answer to the claim")

// Queue is a distributed FIFO queue (ZooKeeper's queue recipe): each item
// is a persistent sequential node under the queue's path, so items come
// out in the order they went in, across producers, and stay queued when
// producers and consumers die. Any number of consumers may Take at once:
// a consumer claims an item by deleting it, and the one whose delete
// succeeds has it.
type Queue struct {
	c    *client.Client
	path string
}

// NewQueue returns the queue at path (a persistent node, created by the
// first Put or Take).
func NewQueue(c *client.Client, path string) *Queue { return &Queue{c: c, path: path} }

// Put appends an item. After an ambiguous answer it looks for the item by
// its protected name and puts it again only when it is not there, so an
// item is put at least once: twice only if a consumer took it in between,
// or if the lost write applies after the second.
func (q *Queue) Put(ctx context.Context, data []byte) error {
	if _, _, _, err := createSeq(ctx, q.c, q.path, newGUID(), "item", data, false); err != nil {
		return fmt.Errorf("recipe: put into queue %s: %w", q.path, err)
	}
	return nil
}

// Take removes the queue's first item and returns its data, waiting for
// one if the queue is empty, until ctx ends. See ErrTakeUncertain for the
// one error that comes with data.
func (q *Queue) Take(ctx context.Context) ([]byte, error) {
	for {
		data, ok, err := q.TryTake(ctx)
		if ok || err != nil {
			return data, err
		}
		kids, _, ch, err := q.c.ChildrenW(ctx, q.path)
		if errors.Is(err, client.ErrNoNode) {
			if err := ensureDir(ctx, q.c, q.path); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("recipe: take from queue %s: %w", q.path, err)
		}
		if len(sortedSeqNodes(kids)) > 0 {
			continue // an item came meanwhile (the watch stays set; harmless)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("recipe: take from queue %s: %w", q.path, ctx.Err())
		}
	}
}

// TryTake is Take without waiting: ok is false when the queue is empty.
func (q *Queue) TryTake(ctx context.Context) (data []byte, ok bool, err error) {
	kids, _, err := q.c.Children(ctx, q.path)
	if errors.Is(err, client.ErrNoNode) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("recipe: take from queue %s: %w", q.path, err)
	}
	for _, it := range sortedSeqNodes(kids) {
		path := join(q.path, it.name)
		nd, err := q.c.Get(ctx, path)
		if errors.Is(err, client.ErrNoNode) {
			continue // another consumer's
		}
		if err != nil {
			return nil, false, fmt.Errorf("recipe: take from queue %s: %w", q.path, err)
		}
		err = q.c.Delete(ctx, path, client.AnyVersion)
		switch {
		case err == nil:
			return nd.Data, true, nil
		case errors.Is(err, client.ErrNoNode):
			continue
		case ambiguous(err) || ctx.Err() != nil:
			// Sent and unanswered: it may have been ours.
			return nd.Data, true, fmt.Errorf("recipe: take %s: %w (%v)", path, ErrTakeUncertain, err)
		default:
			return nil, false, fmt.Errorf("recipe: take from queue %s: %w", q.path, err)
		}
	}
	return nil, false, nil
}

// Len is the number of items in the queue.
func (q *Queue) Len(ctx context.Context) (int, error) {
	st, ok, err := q.c.Exists(ctx, q.path)
	if err != nil {
		return 0, fmt.Errorf("recipe: queue %s: %w", q.path, err)
	}
	if !ok {
		return 0, nil
	}
	return int(st.NumChildren), nil
}
