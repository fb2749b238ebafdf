package wsnotify

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canopy-coord/canopy/api"
)

// The hub alone, fed directly with events: no raft, no sockets.

func ev(typ api.EventType, path string, zxid int64) api.Event {
	e := api.Event{Type: typ, Path: path, Zxid: zxid}
	switch typ {
	case api.EventNodeCreated, api.EventNodeDataChanged:
		e.Stat = &api.Stat{Mzxid: zxid}
	case api.EventNodeChildrenChanged:
		e.Child, e.Change = "c", "added"
	}
	return e
}

const (
	created  = api.EventNodeCreated
	deleted  = api.EventNodeDeleted
	changed  = api.EventNodeDataChanged
	children = api.EventNodeChildrenChanged
)

// testHub is a hub with its own metrics registry.
type testHub struct {
	*Hub
	reg *prometheus.Registry
}

func newTestHub(cfg HubConfig) testHub {
	reg := prometheus.NewRegistry()
	cfg.Metrics = NewMetrics(reg)
	return testHub{NewHub(cfg), reg}
}

// drain takes everything queued for s, without blocking, as strings:
// "NodeCreated /a @3/0" for an event, "response <json>" for a response.
func drain(s *Subscriber) []string {
	var out []string
	for _, it := range s.take() {
		if it.event != nil {
			out = append(out, fmt.Sprintf("%s %s @%d/%d", it.event.Event.Type, it.event.Event.Path, it.event.Zxid, it.event.K))
		} else {
			out = append(out, "response "+string(it.response))
		}
	}
	return out
}

func mustWatch(t *testing.T, h testHub, s *Subscriber, k Kind, path string, after int64) {
	t.Helper()
	if err := h.Watch(s, k, path, after, nil); err != nil {
		t.Fatalf("Watch(%s %s after %d): %v", k, path, after, err)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestHubTriggersFollowZooKeeperRules(t *testing.T) {
	tests := []struct {
		kind  Kind
		watch string
		event api.Event
		fires bool
	}{
		// A data watch: creation, change and deletion of its own path.
		{KindData, "/a", ev(created, "/a", 1), true},
		{KindData, "/a", ev(changed, "/a", 1), true},
		{KindData, "/a", ev(deleted, "/a", 1), true},
		{KindData, "/a", ev(children, "/a", 1), false},
		{KindData, "/a", ev(created, "/a/b", 1), false},
		{KindData, "/a", ev(changed, "/ab", 1), false},
		{KindData, "/a/b", ev(deleted, "/a", 1), false},
		// A child watch: its children, and its own deletion.
		{KindChildren, "/a", ev(children, "/a", 1), true},
		{KindChildren, "/a", ev(deleted, "/a", 1), true},
		{KindChildren, "/a", ev(changed, "/a", 1), false},
		{KindChildren, "/a", ev(created, "/a", 1), false},
		{KindChildren, "/a", ev(children, "/a/b", 1), false},
		{KindChildren, "/a", ev(created, "/a/b", 1), false},
		// Persistent: every event of its path, none of others.
		{KindPersistent, "/a", ev(created, "/a", 1), true},
		{KindPersistent, "/a", ev(changed, "/a", 1), true},
		{KindPersistent, "/a", ev(deleted, "/a", 1), true},
		{KindPersistent, "/a", ev(children, "/a", 1), true},
		{KindPersistent, "/a", ev(created, "/a/b", 1), false},
		{KindPersistent, "/", ev(children, "/", 1), true},
		{KindPersistent, "/", ev(created, "/a", 1), false},
		// Recursive: the path and below, but never NodeChildrenChanged.
		{KindRecursive, "/a", ev(created, "/a", 1), true},
		{KindRecursive, "/a", ev(changed, "/a", 1), true},
		{KindRecursive, "/a", ev(deleted, "/a", 1), true},
		{KindRecursive, "/a", ev(created, "/a/b", 1), true},
		{KindRecursive, "/a", ev(changed, "/a/b/c/d", 1), true},
		{KindRecursive, "/a", ev(deleted, "/a/b", 1), true},
		{KindRecursive, "/a", ev(children, "/a", 1), false},
		{KindRecursive, "/a", ev(children, "/a/b", 1), false},
		{KindRecursive, "/a", ev(created, "/ab", 1), false},
		{KindRecursive, "/a", ev(created, "/", 1), false},
		{KindRecursive, "/a/b", ev(changed, "/a", 1), false},
		{KindRecursive, "/", ev(created, "/x/y", 1), true},
		{KindRecursive, "/", ev(changed, "/", 1), true},
		{KindRecursive, "/", ev(children, "/", 1), false},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s %s on %s %s", tc.kind, tc.watch, tc.event.Type, tc.event.Path)
		t.Run(name, func(t *testing.T) {
			h := newTestHub(HubConfig{})
			s := h.NewSubscriber()
			mustWatch(t, h, s, tc.kind, tc.watch, 0)
			h.Publish([]api.Event{tc.event})
			got := len(drain(s)) == 1
			if got != tc.fires {
				t.Fatalf("fired: got %v, want %v", got, tc.fires)
			}
			// matches (the replay filter) must agree with the live rule.
			if m := matches(tc.kind, tc.watch, tc.event); m != tc.fires {
				t.Fatalf("matches: got %v, want %v", m, tc.fires)
			}
		})
	}
}

func TestHubOneShotWatchesFireOnceAndPersistentOnesStay(t *testing.T) {
	h := newTestHub(HubConfig{})
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindData, "/a", 0)
	mustWatch(t, h, s, KindChildren, "/b", 0)
	mustWatch(t, h, s, KindPersistent, "/c", 0)
	mustWatch(t, h, s, KindRecursive, "/d", 0)
	if got := h.WatchCount(); got != 4 {
		t.Fatalf("WatchCount: got %d, want 4", got)
	}
	for z := int64(1); z <= 3; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z), ev(children, "/b", z), ev(changed, "/c", z), ev(changed, "/d/x", z)})
	}
	want := []string{
		"NodeDataChanged /a @1/0", "NodeChildrenChanged /b @1/1", "NodeDataChanged /c @1/2", "NodeDataChanged /d/x @1/3",
		"NodeDataChanged /c @2/2", "NodeDataChanged /d/x @2/3",
		"NodeDataChanged /c @3/2", "NodeDataChanged /d/x @3/3",
	}
	if got := drain(s); !equal(got, want) {
		t.Fatalf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := h.WatchCount(); got != 2 {
		t.Fatalf("WatchCount after firing: got %d, want 2 (the persistent ones)", got)
	}
	for _, k := range []string{"data", "children"} {
		if v := metricValue(t, h.reg, "canopy_watches", "kind", k); v != 0 {
			t.Errorf("canopy_watches{kind=%q}: got %v, want 0 after firing", k, v)
		}
	}
	// A fired one-shot watch can be set again, and fires again.
	mustWatch(t, h, s, KindData, "/a", 3)
	h.Publish([]api.Event{ev(deleted, "/a", 4)})
	if got := drain(s); !equal(got, []string{"NodeDeleted /a @4/0"}) {
		t.Fatalf("after re-arming: got %q", got)
	}
}

func TestHubDeliversAnEventOnceToASubscriberWhateverWatchesMatch(t *testing.T) {
	h := newTestHub(HubConfig{})
	s, other := h.NewSubscriber(), h.NewSubscriber()
	for _, k := range []Kind{KindData, KindChildren, KindPersistent, KindRecursive} {
		mustWatch(t, h, s, k, "/a", 0)
	}
	mustWatch(t, h, s, KindRecursive, "/", 0)
	mustWatch(t, h, other, KindData, "/a", 0)
	mustWatch(t, h, other, KindRecursive, "/", 0)

	h.Publish([]api.Event{ev(deleted, "/a", 7), ev(children, "/", 7)})
	if got := drain(s); !equal(got, []string{"NodeDeleted /a @7/0"}) {
		t.Fatalf("subscriber with five matching watches got %q, want the event once", got)
	}
	if got := drain(other); !equal(got, []string{"NodeDeleted /a @7/0"}) {
		t.Fatalf("other subscriber got %q, want its own copy once", got)
	}
	// Both one-shot watches fired (ZooKeeper clears every watch the event
	// triggers, even when the connection hears it only once).
	if got := h.WatchCount(); got != 4 {
		t.Fatalf("WatchCount: got %d, want 4 (persistent /a, recursive /a, two recursive /)", got)
	}
}

func TestHubWatchAfterReplaysHeldEventsAfterTheResponse(t *testing.T) {
	h := newTestHub(HubConfig{})
	s := h.NewSubscriber()
	for z := int64(1); z <= 5; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z), ev(changed, "/b", z)})
	}
	if err := h.Watch(s, KindPersistent, "/a", 2, []byte(`{"id":1}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{`response {"id":1}`, "NodeDataChanged /a @3/0", "NodeDataChanged /a @4/0", "NodeDataChanged /a @5/0"}
	if got := drain(s); !equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Then live.
	h.Publish([]api.Event{ev(changed, "/a", 6)})
	if got := drain(s); !equal(got, []string{"NodeDataChanged /a @6/0"}) {
		t.Fatalf("live: got %q", got)
	}
	// after == the last zxid replays nothing; an after in the future too.
	s2 := h.NewSubscriber()
	mustWatch(t, h, s2, KindRecursive, "/", 6)
	mustWatch(t, h, s2, KindPersistent, "/b", 60)
	if got := drain(s2); len(got) != 0 {
		t.Fatalf("replay after the last zxid: got %q, want nothing", got)
	}
}

func TestHubOneShotWatchSpentByAReplayedEventIsNotKept(t *testing.T) {
	h := newTestHub(HubConfig{})
	h.Publish([]api.Event{ev(changed, "/a", 1)})
	h.Publish([]api.Event{ev(changed, "/a", 2)})
	h.Publish([]api.Event{ev(changed, "/a", 3)})
	s := h.NewSubscriber()
	// The read saw zxid 1; two changes happened before the watch was set.
	if err := h.Watch(s, KindData, "/a", 1, []byte(`{"id":"r"}`)); err != nil {
		t.Fatal(err)
	}
	if got := drain(s); !equal(got, []string{`response {"id":"r"}`, "NodeDataChanged /a @2/0"}) {
		t.Fatalf("got %q, want the response then only the first change", got)
	}
	if got := h.WatchCount(); got != 0 {
		t.Fatalf("WatchCount: got %d, want 0: the watch was spent by the replay", got)
	}
	if v := metricValue(t, h.reg, "canopy_watches", "kind", "data"); v != 0 {
		t.Fatalf("canopy_watches{kind=data}: got %v, want 0", v)
	}
	h.Publish([]api.Event{ev(changed, "/a", 4)})
	if got := drain(s); len(got) != 0 {
		t.Fatalf("after the spent watch: got %q, want nothing", got)
	}
	// A child watch is not spent by a data change it does not match.
	mustWatch(t, h, s, KindChildren, "/a", 1)
	if got := drain(s); len(got) != 0 {
		t.Fatalf("child watch replay: got %q, want nothing", got)
	}
	if got := h.WatchCount(); got != 1 {
		t.Fatalf("WatchCount: got %d, want the child watch kept", got)
	}
}

func TestHubAfterOlderThanTheHistoryIsCompacted(t *testing.T) {
	h := newTestHub(HubConfig{History: 9})
	// Zxids 1..8 with two events each: 16 events, the last 9 held are
	// 4/1 (half of zxid 4) and zxids 5..8 in full.
	for z := int64(1); z <= 8; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z), ev(children, "/a", z)})
	}
	if got := h.Horizon(); got != 4 {
		t.Fatalf("Horizon: got %d, want 4 (zxid 4 is only half held)", got)
	}
	s := h.NewSubscriber()
	err := h.Watch(s, KindPersistent, "/a", 3, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeCompacted || ae.OldestZxid == nil || *ae.OldestZxid != 4 {
		t.Fatalf("Watch after 3: got %v, want Compacted with oldest_zxid 4", err)
	}
	if ae.Path != "/a" {
		t.Errorf("Compacted path: got %q, want /a", ae.Path)
	}
	if got := drain(s); len(got) != 0 {
		t.Fatalf("a Compacted watch queued %q", got)
	}
	if got := h.WatchCount(); got != 0 {
		t.Fatalf("a Compacted watch was kept: WatchCount %d", got)
	}
	// From the horizon on, the replay is complete and numbered per zxid.
	mustWatch(t, h, s, KindPersistent, "/a", 4)
	want := []string{}
	for z := 5; z <= 8; z++ {
		want = append(want, fmt.Sprintf("NodeDataChanged /a @%d/0", z), fmt.Sprintf("NodeChildrenChanged /a @%d/1", z))
	}
	if got := drain(s); !equal(got, want) {
		t.Fatalf("replay from the horizon: got %q, want %q", got, want)
	}
	// A one-shot read older than the history is Compacted too.
	if err := h.Watch(h.NewSubscriber(), KindData, "/a", 0, []byte(`{}`)); api.CodeOf(err) != api.CodeCompacted {
		t.Fatalf("one-shot watch after 0: got %v, want Compacted", err)
	}
}

func TestHubResetForgetsTheHistory(t *testing.T) {
	h := newTestHub(HubConfig{History: 10})
	for z := int64(1); z <= 5; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z)})
	}
	h.Reset(100)
	if got := h.Horizon(); got != 100 {
		t.Fatalf("Horizon after Reset(100): got %d", got)
	}
	s := h.NewSubscriber()
	if err := h.Watch(s, KindPersistent, "/a", 50, nil); api.CodeOf(err) != api.CodeCompacted {
		t.Fatalf("Watch after 50 following Reset(100): got %v, want Compacted", err)
	}
	mustWatch(t, h, s, KindPersistent, "/a", 100)
	if got := drain(s); len(got) != 0 {
		t.Fatalf("replay after Reset: got %q, want nothing (the old events are gone)", got)
	}
	h.Publish([]api.Event{ev(changed, "/a", 101), ev(children, "/a", 101)})
	if got := drain(s); !equal(got, []string{"NodeDataChanged /a @101/0", "NodeChildrenChanged /a @101/1"}) {
		t.Fatalf("after Reset: got %q", got)
	}
}

// The tree a snapshot replaces changed in ways no event describes: a
// subscriber whose watches were set against the old tree must be told to
// resync (like a slow consumer), or it waits forever for changes that
// already happened.
func TestHubResetDropsLiveSubscribersSoTheyResync(t *testing.T) {
	h := newTestHub(HubConfig{})
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindData, "/a", 0)
	mustWatch(t, h, s, KindPersistent, "/b", 0)
	h.Publish([]api.Event{ev(changed, "/b", 1)})
	drain(s)
	h.Reset(100) // /a and /b may have changed between 1 and 100
	select {
	case <-s.Dropped():
	default:
		t.Fatalf("BUG: after Reset(100) the subscriber is still live with %d watches and was not told "+
			"to resync: the changes between zxid 1 and 100 never reach it", h.WatchCount())
	}
}

func TestHubUnwatchRemovesTheNamedKinds(t *testing.T) {
	all := []Kind{KindData, KindChildren, KindPersistent, KindRecursive}
	for name, kinds := range removeKinds {
		t.Run(name, func(t *testing.T) {
			h := newTestHub(HubConfig{})
			s := h.NewSubscriber()
			for _, k := range all {
				mustWatch(t, h, s, k, "/a", 0)
			}
			mustWatch(t, h, s, KindData, "/b", 0)
			if !h.Unwatch(s, "/a", kinds...) {
				t.Fatalf("Unwatch(%s): false, want true", name)
			}
			if got, want := h.WatchCount(), 5-len(kinds); got != want {
				t.Fatalf("WatchCount: got %d, want %d", got, want)
			}
			if h.Unwatch(s, "/a", kinds...) {
				t.Fatalf("second Unwatch(%s): true, want false (NoWatcher)", name)
			}
			// Only the removed kinds stop firing.
			h.Publish([]api.Event{ev(deleted, "/a", 1)})
			got := len(drain(s)) == 1
			if want := name != "any"; got != want {
				t.Fatalf("NodeDeleted after removing %s: delivered %v, want %v", name, got, want)
			}
		})
	}
	t.Run("nothing there", func(t *testing.T) {
		h := newTestHub(HubConfig{})
		s, other := h.NewSubscriber(), h.NewSubscriber()
		mustWatch(t, h, other, KindData, "/a", 0)
		if h.Unwatch(s, "/a", removeKinds["any"]...) {
			t.Fatal("Unwatch of another subscriber's watch: true, want false")
		}
		if h.WatchCount() != 1 {
			t.Fatal("Unwatch removed another subscriber's watch")
		}
	})
}

func TestHubMaxWatchesIsThrottled(t *testing.T) {
	h := newTestHub(HubConfig{MaxWatches: 3})
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindData, "/a", 0)
	mustWatch(t, h, s, KindChildren, "/a", 0)
	mustWatch(t, h, s, KindPersistent, "/b", 0)
	err := h.Watch(s, KindRecursive, "/c", 0, []byte(`{"id":4}`))
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeThrottled || ae.Path != "/c" {
		t.Fatalf("fourth watch: got %v, want Throttled on /c", err)
	}
	if got := drain(s); len(got) != 0 {
		t.Fatalf("a throttled watch queued %q, want nothing (the caller answers the error)", got)
	}
	// Setting a watch that is already there is not a new watch.
	mustWatch(t, h, s, KindData, "/a", 0)
	// Another subscriber has its own budget.
	mustWatch(t, h, h.NewSubscriber(), KindData, "/z", 0)
	// A fired one-shot watch frees its place.
	h.Publish([]api.Event{ev(changed, "/a", 1)})
	mustWatch(t, h, s, KindRecursive, "/c", 1)
	if got := h.WatchCount(); got != 4 {
		t.Fatalf("WatchCount: got %d, want 4", got)
	}
}

func TestHubFullQueueDropsTheSubscriber(t *testing.T) {
	h := newTestHub(HubConfig{QueueSize: 4})
	slow, fine := h.NewSubscriber(), h.NewSubscriber()
	mustWatch(t, h, slow, KindPersistent, "/a", 0)
	mustWatch(t, h, slow, KindData, "/b", 0)
	mustWatch(t, h, fine, KindPersistent, "/a", 0)
	for z := int64(1); z <= 4; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z)})
		drain(fine)
	}
	select {
	case <-slow.Dropped():
		t.Fatal("dropped with a queue exactly full")
	default:
	}
	h.Publish([]api.Event{ev(changed, "/a", 5)})
	select {
	case <-slow.Dropped():
	default:
		t.Fatal("the fifth event did not drop a subscriber with a queue of 4")
	}
	if got := len(drain(slow)); got != 4 {
		t.Fatalf("queued for the dropped subscriber: got %d, want the 4 before the drop", got)
	}
	if got := h.WatchCount(); got != 1 {
		t.Fatalf("WatchCount: got %d, want 1: the dropped subscriber's watches must go", got)
	}
	if v := metricValue(t, h.reg, "canopy_watch_connections_dropped_total", "reason", "resync"); v != 1 {
		t.Fatalf("dropped_total{reason=resync}: got %v, want 1", v)
	}
	h.Publish([]api.Event{ev(changed, "/a", 6), ev(changed, "/b", 6)})
	if got := drain(slow); len(got) != 0 {
		t.Fatalf("a dropped subscriber still gets %q", got)
	}
	if got := drain(fine); len(got) != 2 {
		t.Fatalf("the other subscriber got %q, want zxids 5 and 6", got)
	}
	if err := h.Watch(slow, KindPersistent, "/a", 6, nil); api.CodeOf(err) != api.CodeUnavailable {
		t.Fatalf("Watch on a dropped subscriber: got %v, want Unavailable", err)
	}
	h.Close(slow) // its owner closes it after the drop; not twice counted
	h.Close(fine)
	if v := metricValue(t, h.reg, "canopy_watch_connections"); v != 0 {
		t.Fatalf("canopy_watch_connections after closing both: %v", v)
	}
}

// Responses are never cut by the queue bound (a read's answer must arrive),
// but a client that leaves more than 4x the queue unread is dropped.
func TestHubResponsesPastFourQueuesDropTheSubscriber(t *testing.T) {
	h := newTestHub(HubConfig{QueueSize: 2})
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindPersistent, "/a", 0)
	h.Publish([]api.Event{ev(changed, "/a", 1), ev(changed, "/a", 2)})
	if err := h.Watch(s, KindData, "/b", 2, []byte(`{"id":1}`)); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	select {
	case <-s.Dropped():
		t.Fatal("a read's response over a full queue dropped the subscriber")
	default:
	}
	for i := 0; i < 8; i++ {
		h.Respond(s, []byte(`{}`))
	}
	select {
	case <-s.Dropped():
	default:
		t.Fatal("11 unread frames with a queue of 2 did not drop the subscriber")
	}
	if got := h.WatchCount(); got != 0 {
		t.Fatalf("WatchCount: got %d, want 0", got)
	}
}

// A replay is as long as the history it comes from: it is never cut by the
// queue bound, and a subscriber dropped before its watch is set keeps no
// watch (Close skips inactive subscribers, so one would leak).
func TestHubReplayIsWholeAndADroppedSubscriberKeepsNoWatch(t *testing.T) {
	h := newTestHub(HubConfig{QueueSize: 4})
	for z := int64(1); z <= 10; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z)})
	}
	s := h.NewSubscriber()
	if err := h.Watch(s, KindPersistent, "/a", 0, nil); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if got := len(drain(s)); got != 10 {
		t.Fatalf("replayed %d events, want all 10", got)
	}
	h.Reset(10) // drops every subscriber
	if err := h.Watch(s, KindPersistent, "/b", 10, nil); err == nil {
		t.Fatal("Watch on a dropped subscriber succeeded")
	}
	h.Close(s)
	if got := h.WatchCount(); got != 0 {
		t.Errorf("WatchCount after the drop and Close: got %d, want 0", got)
	}
	if v := metricValue(t, h.reg, "canopy_watches", "kind", "persistent"); v != 0 {
		t.Errorf("canopy_watches{kind=persistent} after the drop and Close: got %v, want 0", v)
	}
}

// WS.md: "A connection gets each event at most once even if several of its
// watches match." A read's watch replays the events after the read's zxid;
// one of them may already have reached the connection live through another
// of its watches.
func TestHubReplayDoesNotRepeatAnEventTheSubscriberAlreadyGot(t *testing.T) {
	h := newTestHub(HubConfig{})
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindPersistent, "/a", 0)
	h.Publish([]api.Event{ev(changed, "/a", 4)})
	// getData /a read the tree at zxid 4; zxid 5 applied, and reached the
	// subscriber through its persistent watch, before the read's watch was set.
	h.Publish([]api.Event{ev(changed, "/a", 5)})
	if err := h.Watch(s, KindData, "/a", 4, []byte(`{"id":1}`)); err != nil {
		t.Fatal(err)
	}
	got := drain(s)
	seen := map[string]int{}
	for _, g := range got {
		if !strings.HasPrefix(g, "response") {
			seen[g]++
		}
	}
	for e, n := range seen {
		if n > 1 {
			t.Errorf("BUG: %q delivered %d times to one subscriber; queue: %q", e, n, got)
		}
	}
}

func TestHubCloseRemovesTheSubscribersWatches(t *testing.T) {
	h := newTestHub(HubConfig{})
	s := h.NewSubscriber()
	for _, k := range []Kind{KindData, KindChildren, KindPersistent, KindRecursive} {
		mustWatch(t, h, s, k, "/a", 0)
	}
	if v := metricValue(t, h.reg, "canopy_watch_connections"); v != 1 {
		t.Fatalf("canopy_watch_connections: %v, want 1", v)
	}
	h.Close(s)
	if got := h.WatchCount(); got != 0 {
		t.Fatalf("WatchCount after Close: %d", got)
	}
	for k := KindData; k < kindCount; k++ {
		if v := metricValue(t, h.reg, "canopy_watches", "kind", k.String()); v != 0 {
			t.Errorf("canopy_watches{kind=%q} after Close: %v", k, v)
		}
	}
	if v := metricValue(t, h.reg, "canopy_watch_connections"); v != 0 {
		t.Fatalf("canopy_watch_connections after Close: %v, want 0", v)
	}
	h.Publish([]api.Event{ev(deleted, "/a", 1)})
	if got := drain(s); len(got) != 0 {
		t.Fatalf("a closed subscriber got %q", got)
	}
	select {
	case <-s.Dropped():
		t.Fatal("Close is not a drop: Dropped must stay open")
	default:
	}
}

func TestHubNumbersTheEventsOfAZxidAcrossBatches(t *testing.T) {
	h := newTestHub(HubConfig{})
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindRecursive, "/", 0)
	h.Publish([]api.Event{ev(created, "/a", 3), ev(created, "/a/b", 3), ev(changed, "/c", 4)})
	h.Publish([]api.Event{ev(deleted, "/a/b", 5), ev(deleted, "/a", 5)})
	want := []string{"NodeCreated /a @3/0", "NodeCreated /a/b @3/1", "NodeDataChanged /c @4/0", "NodeDeleted /a/b @5/0", "NodeDeleted /a @5/1"}
	if got := drain(s); !equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
