package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// ConfigState is a watched configuration at one moment.
type ConfigState[T any] struct {
	// Value is the configuration in force: the last one the node held that
	// decoded, kept when the node goes or holds bad JSON (the zero T until
	// one has decoded).
	Value T
	// Mzxid is the zxid of the change that wrote Value (0: none yet).
	Mzxid int64
	// Err says why the node's present content is not in force: nil when
	// it is Value; an error matching client.ErrNoNode when the node is
	// missing; a JSON error when it does not decode into T.
	Err error
}

// Config is a typed configuration read from a node's JSON and kept up to
// date: a persistent watch on the node (which resumes after reconnects
// without missing a change) re-reads it on every change. A missing node or
// data that does not decode never replaces a good value: it shows in Err,
// and the last good value stays in force.
type Config[T any] struct {
	c    *client.Client
	path string

	mu      sync.Mutex
	state   ConfigState[T]
	seen    int64 // mzxid of the content last looked at, good or not
	updates chan ConfigState[T]

	stop context.CancelFunc
	done chan struct{}
}

// WatchConfig reads the configuration at path and follows its changes
// until ctx ends or Close. It fails only when it cannot set its watch; a
// missing node or bad JSON shows in Current().Err.
func WatchConfig[T any](ctx context.Context, c *client.Client, path string) (*Config[T], error) {
	ctx, stop := context.WithCancel(ctx)
	w, err := c.Watch(ctx, path, nil)
	if err != nil {
		stop()
		return nil, fmt.Errorf("recipe: watch config %s: %w", path, err)
	}
	cf := &Config[T]{c: c, path: path, updates: make(chan ConfigState[T], 1), stop: stop, done: make(chan struct{})}
	cf.reload(ctx)
	go cf.follow(ctx, w)
	return cf, nil
}

// Get is the configuration in force.
func (cf *Config[T]) Get() T { return cf.Current().Value }

// Current is the configuration in force, and why the node's content is
// not, if it is not.
func (cf *Config[T]) Current() ConfigState[T] {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.state
}

// Updates delivers the state after each change: a new value, or a new
// problem (node deleted, bad JSON). It holds only the latest state, so a
// slow reader skips states and never ends on a stale one. It is closed
// when the watch ends.
func (cf *Config[T]) Updates() <-chan ConfigState[T] { return cf.updates }

// Close stops following the node.
func (cf *Config[T]) Close() {
	cf.stop()
	<-cf.done
}

// follow re-reads the node on each event of its watch, and starts a new
// watch if the old one ends (the server no longer holding the events to
// resume from).
func (cf *Config[T]) follow(ctx context.Context, w *client.Watcher) {
	defer close(cf.done)
	defer close(cf.updates)
	backoff := 20 * time.Millisecond
	for {
		for ev := range w.Events() {
			switch ev.Type {
			case client.EventNodeCreated, client.EventNodeDataChanged:
				cf.mu.Lock()
				old := ev.Stat != nil && ev.Stat.Mzxid <= cf.seen
				cf.mu.Unlock()
				if !old {
					cf.reload(ctx)
				}
			case client.EventNodeDeleted:
				cf.reload(ctx)
			}
		}
		w.Close()
		for {
			if ctx.Err() != nil {
				return
			}
			var err error
			if w, err = cf.c.Watch(ctx, cf.path, nil); err == nil {
				break
			}
			ctxtime.Sleep(ctx, backoff)
			backoff = min(2*backoff, time.Second)
		}
		backoff = 20 * time.Millisecond
		cf.reload(ctx) // what changed while no watch was set
	}
}

// reload reads the node and publishes the state it leads to.
func (cf *Config[T]) reload(ctx context.Context) {
	backoff := 20 * time.Millisecond
	for {
		nd, err := cf.c.Get(ctx, cf.path)
		switch {
		case errors.Is(err, client.ErrNoNode):
			cf.update(0, nil, fmt.Errorf("recipe: config %s: %w", cf.path, err))
			return
		case err != nil:
			if !ctxtime.Sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		var v T
		if err := json.Unmarshal(nd.Data, &v); err != nil {
			cf.update(nd.Stat.Mzxid, nil, fmt.Errorf("recipe: config %s (mzxid %d) is not valid JSON for %T: %w", cf.path, nd.Stat.Mzxid, v, err))
			return
		}
		cf.update(nd.Stat.Mzxid, &v, nil)
		return
	}
}

// update records what the node holds: a value v, or a problem err.
func (cf *Config[T]) update(mzxid int64, v *T, err error) {
	cf.mu.Lock()
	if mzxid != 0 && mzxid < cf.seen {
		cf.mu.Unlock()
		return // an older read than one already applied
	}
	unchanged := mzxid == cf.seen && (err == nil) == (cf.state.Err == nil) && (err == nil || err.Error() == cf.state.Err.Error())
	cf.seen = mzxid
	if v != nil {
		cf.state.Value, cf.state.Mzxid = *v, mzxid
	}
	cf.state.Err = err
	st := cf.state
	cf.mu.Unlock()
	if !unchanged {
		publish(cf.updates, st)
	}
}
