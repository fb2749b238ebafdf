package wsnotify

import (
	"errors"
	"fmt"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

// A client told Compacted comes back with the oldest_zxid it was given;
// by then the history may have moved on (here by five events): it is
// served all the same, with every event after it, while a since_zxid
// nobody was given that is as old is still Compacted.
func TestHubServesTheOldestZxidItNamedAfterTheHistoryMovesOn(t *testing.T) {
	h := newTestHub(HubConfig{History: 3})
	for z := int64(1); z <= 5; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z)})
	}
	err := h.Watch(h.NewSubscriber(), KindPersistent, "/a", 0, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeCompacted || ae.OldestZxid == nil || *ae.OldestZxid != 2 {
		t.Fatalf("Watch after 0: got %v, want Compacted with oldest_zxid 2", err)
	}
	for z := int64(6); z <= 10; z++ {
		h.Publish([]api.Event{ev(changed, "/a", z)})
	}
	if got := h.Horizon(); got <= 2 {
		t.Fatalf("Horizon %d: the history did not move on", got)
	}
	s := h.NewSubscriber()
	mustWatch(t, h, s, KindPersistent, "/a", 2)
	var want []string
	for z := 3; z <= 10; z++ {
		want = append(want, fmt.Sprintf("NodeDataChanged /a @%d/0", z))
	}
	if got := drain(s); !equal(got, want) {
		t.Fatalf("replay from the named oldest_zxid: got %q, want %q", got, want)
	}
	if err := h.Watch(h.NewSubscriber(), KindPersistent, "/a", 3, nil); api.CodeOf(err) != api.CodeCompacted {
		t.Fatalf("Watch after 3, never named and older than the history: got %v, want Compacted", err)
	}
}
