package wsnotify

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// Kind is the kind of a watch.
type Kind = api.WatchKind

const (
	KindData       = api.WatchData
	KindChildren   = api.WatchChildren
	KindPersistent = api.WatchPersistent
	KindRecursive  = api.WatchRecursive
	kindCount      = KindRecursive + 1
)

// Delivery is one event as the hub hands it out: shared by every
// subscriber and by the history, and encoded once, when first sent (most
// events are never sent to anyone).
type Delivery struct {
	Zxid  int64
	K     int       // the event's position among the events of its zxid, from 0
	Event api.Event // without its Stat: matching needs only type and path

	stat    *api.Stat
	encode  sync.Once
	encoded []byte
}

// JSON is the event object.
func (d *Delivery) JSON() []byte {
	d.encode.Do(func() {
		e := d.Event
		e.Stat = d.stat
		b, err := json.Marshal(e)
		if err != nil {
			panic("wsnotify: event does not encode: " + err.Error()) // api.Event always does
		}
		d.encoded, d.stat = b, nil
	})
	return d.encoded
}

// Subscriber is one connection or stream. Its queue holds events and,
// for WebSocket connections, responses, in the order they must be written.
type Subscriber struct {
	qmu     sync.Mutex
	items   []item
	wake    chan struct{} // signalled when items are added
	dropped chan struct{} // closed when the hub drops the subscriber
	// Guarded by the hub's lock:
	watches  map[watchKey]struct{}
	mark     uint64
	isActive bool
	// The last event queued: a subscriber never gets an event twice.
	lastZxid int64
	lastK    int
	// identity is the connection's caller's: an event about a node it may
	// not READ is never sent to it, as in ZooKeeper.
	identity []string
}

// canRead reports whether s may see d: READ on the node d is about.
func (s *Subscriber) canRead(d *Delivery) bool {
	return d.Event.ACL == nil || acl.Allowed(d.Event.ACL, s.identity, api.PermRead)
}

// push appends to the queue and returns its length.
func (s *Subscriber) push(it item) int {
	s.qmu.Lock()
	s.items = append(s.items, it)
	n := len(s.items)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return n
}

func (s *Subscriber) pending() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.items)
}

// Wake is signalled when there is something to take.
func (s *Subscriber) Wake() <-chan struct{} { return s.wake }

// take empties the queue, oldest first.
func (s *Subscriber) take() []item {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	items := s.items
	s.items = nil
	return items
}

type item struct {
	event    *Delivery
	response []byte
}

type watchKey struct {
	kind Kind
	path string
}

// Dropped is closed when the subscriber fell too far behind.
func (s *Subscriber) Dropped() <-chan struct{} { return s.dropped }

// Hub holds the live watches and the recent history of events.
type Hub struct {
	mu         sync.Mutex
	tables     [kindCount]map[string]map[*Subscriber]struct{}
	history    []*Delivery // a ring of the last len(history) events
	head, size int
	// keep is how many events a replay is promised (--watch-history); the
	// ring holds a grace beyond it, so that an oldest_zxid a Compacted
	// answer named stays servable while the client comes back with it.
	keep int
	// horizon: every event with a zxid above it is in the ring.
	horizon int64
	// named holds the oldest_zxid values Compacted answers gave, still
	// within the ring: a since_zxid equal to one is served.
	named     map[int64]struct{}
	lastZxid  int64
	lastK     int
	markSeq   uint64
	queueSize int
	maxWatch  int
	metrics   *hubMetrics
	subs      map[*Subscriber]struct{}
}

// HubConfig sizes the hub (DESIGN §8).
type HubConfig struct {
	History    int // events kept for since_zxid replay
	QueueSize  int // per subscriber, before it is dropped
	MaxWatches int // per subscriber
	Metrics    *Metrics
}

// NewHub returns an empty hub.
func NewHub(cfg HubConfig) *Hub {
	d := service.DefaultLimits()
	if cfg.History <= 0 {
		cfg.History = d.WatchHistory
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = d.WatchQueue
	}
	if cfg.MaxWatches <= 0 {
		cfg.MaxWatches = d.MaxWatches
	}
	h := &Hub{history: make([]*Delivery, cfg.History+historyGrace(cfg.History)), keep: cfg.History,
		queueSize: cfg.QueueSize, maxWatch: cfg.MaxWatches,
		subs: make(map[*Subscriber]struct{}), named: make(map[int64]struct{})}
	for k := range h.tables {
		h.tables[k] = make(map[string]map[*Subscriber]struct{})
	}
	h.metrics = cfg.Metrics.hub()
	return h
}

// NewSubscriber registers a subscriber with an empty bounded queue, for
// an anonymous caller.
func (h *Hub) NewSubscriber() *Subscriber { return h.NewSubscriberFor(nil) }

// NewSubscriberFor registers a subscriber for a caller holding identity
// (service.Caller): it gets only the events of nodes it may READ.
func (h *Hub) NewSubscriberFor(identity []string) *Subscriber {
	s := &Subscriber{
		identity: identity,
		wake:     make(chan struct{}, 1),
		dropped:  make(chan struct{}),
		watches:  make(map[watchKey]struct{}),
		isActive: true,
	}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	s.lastZxid, s.lastK = 0, -1 // has seen nothing: no replayed event is skipped
	h.mu.Unlock()
	h.metrics.subscribers.Inc()
	return s
}

// Publish takes the events of one applied batch, in zxid order. It runs on
// raft's apply goroutine with the tree locked, so it never blocks.
func (h *Hub) Publish(events []api.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range events {
		if e.Zxid == h.lastZxid {
			h.lastK++
		} else {
			h.lastZxid, h.lastK = e.Zxid, 0
		}
		d := &Delivery{Zxid: e.Zxid, K: h.lastK, Event: e, stat: e.Stat}
		d.Event.Stat = nil
		h.remember(d)
		h.fire(d)
	}
}

// Reset forgets the history after the tree was replaced by a snapshot at
// applied: events up to it can no longer be replayed, and every watcher
// has missed changes no event describes, so each is told to resync.
func (h *Hub) Reset(applied int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.head, h.size = 0, 0
	h.horizon, h.lastZxid, h.lastK = applied, applied, 0
	clear(h.named)
	for s := range h.subs {
		h.drop(s, "resync")
	}
}

func (h *Hub) remember(d *Delivery) {
	if h.size == len(h.history) {
		old := h.history[h.head]
		h.horizon = old.Zxid // events of that zxid may now be incomplete
		h.head = (h.head + 1) % len(h.history)
		h.size--
	}
	h.history[(h.head+h.size)%len(h.history)] = d
	h.size++
}

// fire delivers d to every subscriber watching it, once per subscriber, and
// clears the one-shot watches it triggers.
func (h *Hub) fire(d *Delivery) {
	h.markSeq++
	e := d.Event
	switch e.Type {
	case api.EventNodeCreated, api.EventNodeDataChanged:
		h.trigger(KindData, e.Path, d, true)
	case api.EventNodeDeleted:
		h.trigger(KindData, e.Path, d, true)
		h.trigger(KindChildren, e.Path, d, true)
	case api.EventNodeChildrenChanged:
		h.trigger(KindChildren, e.Path, d, true)
	}
	h.trigger(KindPersistent, e.Path, d, false)
	if e.Type != api.EventNodeChildrenChanged && len(h.tables[KindRecursive]) > 0 {
		for p := e.Path; ; p = parentOf(p) {
			h.trigger(KindRecursive, p, d, false)
			if p == "/" {
				break
			}
		}
	}
}

func (h *Hub) trigger(k Kind, path string, d *Delivery, oneShot bool) {
	subs := h.tables[k][path]
	if len(subs) == 0 {
		return
	}
	for s := range subs {
		if oneShot {
			delete(s.watches, watchKey{k, path})
			h.metrics.watches[k].Dec()
		}
		if s.mark != h.markSeq {
			s.mark = h.markSeq
			h.send(s, d, true)
		}
	}
	if oneShot {
		delete(h.tables[k], path)
	}
}

// send queues d for s without blocking. The bound applies between
// zxids: a subscriber whose queue is full when a new zxid's events begin
// has fallen behind and is dropped, but one zxid's events always go
// together, so a reading client survives a transaction larger than the
// queue. A replay (bounded false) is never cut: it is as long as the
// history it comes from.
func (h *Hub) send(s *Subscriber, d *Delivery, bounded bool) {
	if !s.isActive || !s.canRead(d) {
		return
	}
	if bounded && d.Zxid != s.lastZxid && s.pending() >= h.queueSize {
		h.drop(s, "resync")
		return
	}
	s.push(item{event: d})
	s.lastZxid, s.lastK = d.Zxid, d.K
	h.metrics.delivered.Inc()
}

// after reports whether d comes after the last event s was sent.
func (s *Subscriber) after(d *Delivery) bool {
	return d.Zxid > s.lastZxid || (d.Zxid == s.lastZxid && d.K > s.lastK)
}

// drop removes all of s's watches and tells its owner to close it.
func (h *Hub) drop(s *Subscriber, reason string) {
	if !s.isActive {
		return
	}
	h.unwatchAll(s)
	s.isActive = false
	close(s.dropped)
	h.metrics.dropped.WithLabelValues(reason).Inc()
}

// Watch adds a watch of kind on path for s. Events after zxid `after` that
// the watch matches and the history still holds are delivered first, so
// that no event between the caller's read (or its since_zxid) and the
// registration is lost: a one-shot watch that one of them fires is then
// not kept. An `after` older than the history is Compacted.
//
// response, when not nil, is queued first: the answer to the read that set
// the watch precedes any event the watch delivers, as in ZooKeeper.
func (h *Hub) Watch(s *Subscriber, k Kind, path string, after int64, response []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.isActive {
		return api.Unavailable("the connection fell behind and is closing")
	}
	if err := h.checkReplay(path, after); err != nil {
		return err
	}
	key := watchKey{k, path}
	if _, ok := s.watches[key]; !ok && len(s.watches) >= h.maxWatch {
		return &api.Error{Code: api.CodeThrottled, Path: path, Message: "too many watches on this connection"}
	}
	if response != nil {
		s.push(item{response: response})
	}
	for _, d := range h.since(after) {
		if !matches(k, path, d.Event) {
			continue
		}
		// An event the subscriber already got through another watch is
		// not sent again (ZooKeeper sends each event once per connection).
		if !s.after(d) && h.matchesAny(s, d) {
			if k == KindData || k == KindChildren {
				return nil
			}
			continue
		}
		h.sendReplayed(s, d)
		if k == KindData || k == KindChildren {
			return nil // fired already: a one-shot watch is spent
		}
	}
	if _, ok := s.watches[key]; ok || !s.isActive {
		return nil // a subscriber dropped meanwhile keeps no watch
	}
	s.watches[key] = struct{}{}
	subs := h.tables[k][path]
	if subs == nil {
		subs = make(map[*Subscriber]struct{})
		h.tables[k][path] = subs
	}
	subs[s] = struct{}{}
	h.metrics.watches[k].Inc()
	return nil
}

// sendReplayed queues a held event. One older than what s already got
// comes out of zxid order: the price of a since_zxid replay for a second
// watch on a connection that is already past it.
func (h *Hub) sendReplayed(s *Subscriber, d *Delivery) {
	if !s.isActive || !s.canRead(d) {
		return
	}
	lz, lk := s.lastZxid, s.lastK
	s.push(item{event: d})
	if s.after(d) {
		s.lastZxid, s.lastK = d.Zxid, d.K
	} else {
		s.lastZxid, s.lastK = lz, lk
	}
	h.metrics.delivered.Inc()
}

// matchesAny reports whether one of s's current watches matches d.
func (h *Hub) matchesAny(s *Subscriber, d *Delivery) bool {
	for key := range s.watches {
		if matches(key.kind, key.path, d.Event) {
			return true
		}
	}
	return false
}

// historyGrace is how many events the ring holds beyond the promised
// history: an eighth more, and at least 16.
func historyGrace(keep int) int { return max(keep/8, 16) }

// checkReplay refuses, Compacted, a replay from `after` that the promised
// history no longer holds in full, naming the oldest zxid it does hold. A
// client that comes back with that zxid is served, as long as the ring's
// grace still holds its events, even if the history has moved on since.
func (h *Hub) checkReplay(path string, after int64) error {
	oldest := h.oldest()
	if after >= oldest {
		return nil
	}
	if _, ok := h.named[after]; ok && after >= h.horizon {
		return nil
	}
	for z := range h.named {
		if z < h.horizon {
			delete(h.named, z)
		}
	}
	h.named[oldest] = struct{}{}
	return &api.Error{Code: api.CodeCompacted, Path: path, OldestZxid: &oldest,
		Message: "events after that zxid are no longer held; resume from oldest_zxid or re-read the state"}
}

// oldest is the oldest zxid from which the promised history (the last
// keep events) replays in full.
func (h *Hub) oldest() int64 {
	if h.size <= h.keep {
		return h.horizon
	}
	// The newest event outside the promised window: every event with a
	// zxid above it is held.
	return h.at(h.size - h.keep - 1).Zxid
}

// since returns the held events with a zxid above after, oldest first.
func (h *Hub) since(after int64) []*Delivery {
	if h.size == 0 || after >= h.lastZxid {
		return nil
	}
	// Binary search the ring for the first event past `after`.
	lo, hi := 0, h.size
	for lo < hi {
		mid := (lo + hi) / 2
		if h.at(mid).Zxid <= after {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	out := make([]*Delivery, 0, h.size-lo)
	for i := lo; i < h.size; i++ {
		out = append(out, h.at(i))
	}
	return out
}

func (h *Hub) at(i int) *Delivery { return h.history[(h.head+i)%len(h.history)] }

func matches(k Kind, path string, e api.Event) bool { return k.Fires(path, e) }

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Unwatch removes s's watches on path of the given kinds; false if none was there.
func (h *Hub) Unwatch(s *Subscriber, path string, kinds ...Kind) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	removed := false
	for _, k := range kinds {
		removed = h.unwatch(s, watchKey{k, path}) || removed
	}
	return removed
}

func (h *Hub) unwatch(s *Subscriber, key watchKey) bool {
	if _, ok := s.watches[key]; !ok {
		return false
	}
	delete(s.watches, key)
	subs := h.tables[key.kind][key.path]
	delete(subs, s)
	if len(subs) == 0 {
		delete(h.tables[key.kind], key.path)
	}
	h.metrics.watches[key.kind].Dec()
	return true
}

func (h *Hub) unwatchAll(s *Subscriber) {
	for key := range s.watches {
		h.unwatch(s, key)
	}
}

// Close removes s and all its watches; its owner is done with it.
func (h *Hub) Close(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.isActive {
		h.unwatchAll(s)
		s.isActive = false
	}
	delete(h.subs, s)
	h.metrics.subscribers.Dec()
}

// maxResponsesFactor bounds the answers a client may leave unread (it sent that
// many requests without reading): past it, like a slow reader, it is
// dropped.
const maxResponsesFactor = 4

// Respond queues a response for s behind the events already queued: a
// response never overtakes an event that happened before it.
func (h *Hub) Respond(s *Subscriber, b []byte) {
	if s.push(item{response: b}) > maxResponsesFactor*h.queueSize {
		h.mu.Lock()
		h.drop(s, "resync")
		h.mu.Unlock()
	}
}

// WatchCount is the number of live watches, for status.
func (h *Hub) WatchCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, t := range h.tables {
		for _, subs := range t {
			n += len(subs)
		}
	}
	return n
}

// Horizon returns the oldest zxid from which a replay is promised in full:
// the oldest_zxid a Compacted answer names.
func (h *Hub) Horizon() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.oldest()
}
