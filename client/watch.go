package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/canopy-coord/canopy/api"
)

// Event types. Besides the server's four, a one-shot watch channel gets
// EventNotWatching when the connection that held the watch was lost: the
// watch is gone and the state must be read again (with a new watch).
const (
	EventNodeCreated         = api.EventNodeCreated
	EventNodeDeleted         = api.EventNodeDeleted
	EventNodeDataChanged     = api.EventNodeDataChanged
	EventNodeChildrenChanged = api.EventNodeChildrenChanged
	EventNotWatching         = EventType("NotWatching")
)

// watchConn is the client's shared WebSocket for one-shot watches: reads
// that set a watch go over it, and their events come back on it.
type watchConn struct {
	link *link

	mu       sync.Mutex
	oneShots []*oneShot
}

type oneShot struct {
	kind api.WatchKind
	path string
	ch   chan Event
}

func (c *Client) watchConn() *watchConn {
	c.wsOnce.Do(func() {
		w := &watchConn{}
		w.link = newLink(c.shared, linkHooks{event: w.event, lost: w.lost})
		c.ws = w
		w.link.start()
	})
	return c.ws
}

func (w *watchConn) close() { w.link.close(); w.lost() }

// event fires (and removes) the one-shot watches e triggers.
func (w *watchConn) event(e Event) {
	for _, o := range w.take(func(o *oneShot) bool { return o.kind.Fires(o.path, e) }) {
		o.end(e)
	}
}

// lost ends every one-shot watch with EventNotWatching.
func (w *watchConn) lost() {
	for _, o := range w.take(func(*oneShot) bool { return true }) {
		o.end(Event{Type: EventNotWatching, Path: o.path})
	}
}

// take removes and returns the one-shot watches that match.
func (w *watchConn) take(match func(*oneShot) bool) []*oneShot {
	w.mu.Lock()
	defer w.mu.Unlock()
	kept := w.oneShots[:0]
	var taken []*oneShot
	for _, o := range w.oneShots {
		if match(o) {
			taken = append(taken, o)
		} else {
			kept = append(kept, o)
		}
	}
	clear(w.oneShots[len(kept):])
	w.oneShots = kept
	return taken
}

// end delivers a one-shot watch's only event and closes its channel.
func (o *oneShot) end(e Event) {
	o.ch <- e // buffered for its one event
	close(o.ch)
}

// readW does a read that sets a one-shot watch: the watch is registered by
// the read loop as the answer arrives, before any later event.
func (c *Client) readW(ctx context.Context, op, path string, kind func(json.RawMessage) api.WatchKind) (json.RawMessage, <-chan Event, error) {
	if c.closed.Load() {
		return nil, nil, ErrClosed
	}
	w := c.watchConn()
	ch := make(chan Event, 1)
	req := api.Request{Op: op, Path: path, Watch: true}
	if c.stale {
		from := max(c.seen.Load(), 1)
		req.MinZxid = &from
	}
	res, err := w.link.call(ctx, req, func(result json.RawMessage) {
		w.mu.Lock()
		w.oneShots = append(w.oneShots, &oneShot{kind: kind(result), path: path, ch: ch})
		w.mu.Unlock()
	})
	if err != nil {
		return nil, nil, err
	}
	return res, ch, nil
}

func dataKind(json.RawMessage) api.WatchKind     { return api.WatchData }
func childrenKind(json.RawMessage) api.WatchKind { return api.WatchChildren }

// GetW is Get, and sets a one-shot watch on the node's data: the channel
// gets one event, when the node changes or is deleted (or
// EventNotWatching), and is then closed. A missing node sets no watch.
func (c *Client) GetW(ctx context.Context, path string) (Node, <-chan Event, error) {
	res, ch, err := c.readW(ctx, "getData", path, dataKind)
	if err != nil {
		return Node{}, nil, err
	}
	var nd api.NodeData
	if err := json.Unmarshal(res, &nd); err != nil {
		return Node{}, nil, fmt.Errorf("canopy: undecodable getData answer: %v", err)
	}
	data := []byte(nd.Data)
	if nd.Encoding == "base64" {
		if data, err = base64.StdEncoding.DecodeString(nd.Data); err != nil {
			return Node{}, nil, fmt.Errorf("canopy: undecodable getData answer: %v", err)
		}
	}
	return Node{Path: nd.Path, Data: data, Stat: nd.Stat}, ch, nil
}

// ExistsW is Exists, and sets a one-shot watch either way: on a missing
// node it fires on its creation, on an existing one on its change or
// deletion.
func (c *Client) ExistsW(ctx context.Context, path string) (Stat, bool, <-chan Event, error) {
	res, ch, err := c.readW(ctx, "exists", path, dataKind)
	if err != nil {
		return Stat{}, false, nil, err
	}
	var out api.ExistsResult
	if err := json.Unmarshal(res, &out); err != nil {
		return Stat{}, false, nil, fmt.Errorf("canopy: undecodable exists answer: %v", err)
	}
	if out.Stat == nil {
		return Stat{}, false, ch, nil
	}
	return *out.Stat, true, ch, nil
}

// ChildrenW is Children, and sets a one-shot child watch: it fires when a
// child is created or deleted, or the node is deleted.
func (c *Client) ChildrenW(ctx context.Context, path string) ([]string, Stat, <-chan Event, error) {
	res, ch, err := c.readW(ctx, "getChildren", path, childrenKind)
	if err != nil {
		return nil, Stat{}, nil, err
	}
	var out api.ChildrenResult
	if err := json.Unmarshal(res, &out); err != nil {
		return nil, Stat{}, nil, fmt.Errorf("canopy: undecodable getChildren answer: %v", err)
	}
	return out.Children, out.Stat, ch, nil
}

// The kinds of one-shot watch, for RemoveWatches.
type WatchKind = api.WatchKind

const (
	// WatchData is the watch GetW and ExistsW set.
	WatchData = api.WatchData
	// WatchChildren is the watch ChildrenW sets.
	WatchChildren = api.WatchChildren
)

// RemoveWatches removes this client's one-shot watches of kind on path
// (ZooKeeper's removeWatches): their channels get EventNotWatching and
// close. ErrNoWatcher when there is none.
func (c *Client) RemoveWatches(ctx context.Context, path string, kind WatchKind) error {
	if kind != WatchData && kind != WatchChildren {
		return api.Errorf(api.CodeBadArguments, path, "RemoveWatches takes WatchData or WatchChildren, got %s", kind)
	}
	w := c.watchConn()
	_, err := w.link.call(ctx, api.Request{Op: "removeWatch", Path: path, Kind: kind.String()}, func(json.RawMessage) {
		w.remove(path, kind)
	})
	return err
}

// remove ends the one-shot watches of kind on path.
func (w *watchConn) remove(path string, kind WatchKind) {
	for _, o := range w.take(func(o *oneShot) bool { return o.path == path && o.kind == kind }) {
		o.end(Event{Type: EventNotWatching, Path: o.path})
	}
}

// WatchOptions shape a persistent watch.
type WatchOptions struct {
	// Recursive watches the node and everything below it (ZooKeeper's
	// persistentRecursive: no NodeChildrenChanged); otherwise every event
	// of the node itself.
	Recursive bool
	// SinceZxid > 0 starts with the events after that zxid, from the
	// server's history; ErrCompacted when it no longer holds them. Zero
	// starts after the latest state this client has seen in any answer
	// (so a watch set after a write never reports that write), or at the
	// server's current state when the client has seen none.
	SinceZxid int64
}

// Watcher is a persistent watch on its own WebSocket. Its events arrive on
// Events in zxid order; after a lost connection it resumes on any server
// from the last event it delivered, so none is lost or repeated. Events
// is closed when the watch ends: Close, the context given to Watch ending,
// or an error (Err) such as ErrCompacted when the server no longer holds
// the events to resume from.
type Watcher struct {
	path   string
	mode   string
	events chan Event
	link   *link
	ready  chan error // the first addWatch's outcome
	forget func()     // drops it from its client's watchers

	mu   sync.Mutex
	err  error
	done bool
	// since: every event up to it was delivered; of the events of zxid
	// partial, those counted in delivered were. After a reconnect the
	// replay restarts from since, and skip holds those not to repeat.
	since     int64
	partial   int64
	delivered map[eventKey]int
	skip      map[eventKey]int
	started   bool
}

type eventKey struct {
	typ   EventType
	path  string
	child string
}

// Watch starts a persistent watch on path and returns once it is live.
func (c *Client) Watch(ctx context.Context, path string, opts *WatchOptions) (*Watcher, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if opts == nil {
		opts = &WatchOptions{}
	}
	since := opts.SinceZxid
	if since == 0 {
		since = c.seen.Load()
	}
	w := &Watcher{path: path, mode: "persistent", events: make(chan Event, 256), ready: make(chan error, 1),
		since: since, delivered: map[eventKey]int{}, skip: map[eventKey]int{}}
	if opts.Recursive {
		w.mode = "persistentRecursive"
	}
	w.link = newLink(c.shared, linkHooks{connected: w.connected, event: w.event})
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if c.watchers == nil {
		c.watchers = map[*Watcher]struct{}{}
	}
	c.watchers[w] = struct{}{}
	w.forget = func() {
		c.mu.Lock()
		delete(c.watchers, w)
		c.mu.Unlock()
	}
	c.mu.Unlock()
	w.link.start()
	select {
	case err := <-w.ready:
		if err != nil {
			w.end(err)
			return nil, err
		}
	case <-ctx.Done():
		w.end(ctx.Err())
		return nil, fmt.Errorf("%w: watch not started: %v", ErrUnavailable, ctx.Err())
	case <-c.refused.gaveUp():
		err := c.refused.err()
		w.end(err)
		return nil, err
	case <-w.link.denied:
		err := w.link.deniedErr
		w.end(err)
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			w.end(nil)
		case <-w.link.ctx.Done():
		}
	}()
	return w, nil
}

// Events delivers the watch's events.
func (w *Watcher) Events() <-chan Event { return w.events }

// Err is why Events was closed: nil after Close or the context's end,
// ErrClosed when the client was closed.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the watch.
func (w *Watcher) Close() error {
	w.end(nil)
	return nil
}

func (w *Watcher) end(err error) {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	w.done = true
	w.err = err
	w.mu.Unlock()
	w.forget()
	w.link.stop()
	go func() {
		<-w.link.done
		close(w.events)
	}()
}

// connected (re)adds the watch from where delivery stopped.
func (w *Watcher) connected(l *link) {
	w.mu.Lock()
	req := api.Request{Op: "addWatch", Path: w.path, Mode: w.mode}
	if w.since > 0 {
		since := w.since
		req.SinceZxid = &since
	}
	first := !w.started
	clear(w.skip)
	for k, n := range w.delivered {
		w.skip[k] = n
	}
	w.mu.Unlock()
	_, err := l.call(l.ctx, req, func(result json.RawMessage) {
		var r api.WatchResult
		if json.Unmarshal(result, &r) == nil {
			w.mu.Lock()
			if r.Zxid > w.since {
				w.since = r.Zxid
			}
			w.started = true
			w.mu.Unlock()
		}
	})
	switch {
	case err == nil:
		if first {
			w.ready <- nil
		}
	case api.CodeOf(err) == api.CodeUnavailable || l.ctx.Err() != nil:
		// the connection went; the next one tries again
	case first:
		w.ready <- err
	default:
		w.end(err) // Compacted: what was missed is no longer held
	}
}

// event delivers e unless it was delivered before a reconnect.
func (w *Watcher) event(e Event) {
	key := eventKey{e.Type, e.Path, e.Child}
	w.mu.Lock()
	if e.Zxid == w.partial && w.skip[key] > 0 {
		w.skip[key]--
		w.mu.Unlock()
		return
	}
	if e.Zxid > w.partial {
		if w.partial > w.since {
			w.since = w.partial
		}
		w.partial = e.Zxid
		clear(w.delivered)
		clear(w.skip)
	}
	w.delivered[key]++
	w.mu.Unlock()
	select {
	case w.events <- e:
	case <-w.link.ctx.Done():
	}
}
