package fsm_test

import (
	"fmt"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func TestReapCandidatesFollowContainerAndTTLRules(t *testing.T) {
	const T = t0 + 1_000_000 // the time the TTL nodes are created
	for _, tc := range []struct {
		name  string
		setup []fsm.Command
		now   int64
		want  []string
	}{
		{
			name:  "an empty container that never had a child stays",
			setup: []fsm.Command{create("/c", "", fsm.FlagContainer)},
			now:   T + 1e9, want: nil,
		},
		{
			name:  "a container with a child stays",
			setup: []fsm.Command{create("/c", "", fsm.FlagContainer), create("/c/kid", "")},
			now:   T + 1e9, want: nil,
		},
		{
			name:  "a container whose child was deleted goes, at any time",
			setup: []fsm.Command{create("/c", "", fsm.FlagContainer), create("/c/kid", ""), del("/c/kid", fsm.AnyVersion)},
			now:   0, want: []string{"/c"},
		},
		{
			name:  "a container whose child was created and deleted in one multi goes",
			setup: []fsm.Command{create("/c", "", fsm.FlagContainer), multi(create("/c/kid", ""), del("/c/kid", fsm.AnyVersion))},
			now:   0, want: []string{"/c"},
		},
		{
			name:  "a container whose ephemeral child's session ended goes",
			setup: []fsm.Command{openSession(0x1, 0), create("/c", "", fsm.FlagContainer), createEphemeral("/c/e", "", 0x1), closeSession(0x1)},
			now:   0, want: []string{"/c"},
		},
		{
			name:  "a TTL node is not due at exactly its TTL",
			setup: []fsm.Command{withTime(createTTL("/t", "", 1000), T)},
			now:   T + 1000, want: nil,
		},
		{
			name:  "a TTL node is due one millisecond past its TTL",
			setup: []fsm.Command{withTime(createTTL("/t", "", 1000), T)},
			now:   T + 1001, want: []string{"/t"},
		},
		{
			name:  "a setData restarts the TTL",
			setup: []fsm.Command{withTime(createTTL("/t", "", 1000), T), withTime(set("/t", "x", fsm.AnyVersion), T+500)},
			now:   T + 1001, want: nil,
		},
		{
			name:  "and the TTL counts from the setData",
			setup: []fsm.Command{withTime(createTTL("/t", "", 1000), T), withTime(set("/t", "x", fsm.AnyVersion), T+500)},
			now:   T + 1501, want: []string{"/t"},
		},
		{
			name:  "a TTL node with a child stays",
			setup: []fsm.Command{withTime(createTTL("/t", "", 1000), T), withTime(create("/t/kid", ""), T)},
			now:   T + 1e9, want: nil,
		},
		{
			name: "a child's create and delete do not restart the TTL",
			setup: []fsm.Command{withTime(createTTL("/t", "", 1000), T), withTime(create("/t/kid", ""), T+900),
				withTime(del("/t/kid", fsm.AnyVersion), T+950)},
			now: T + 1001, want: []string{"/t"},
		},
		{
			name:  "a sequential TTL node is a TTL node",
			setup: []fsm.Command{withTime(createTTL("/t-", "", 10, fsm.FlagSequential), T)},
			now:   T + 11, want: []string{"/t-0000000000"},
		},
		{
			name: "persistent, ephemeral and deleted nodes never",
			setup: []fsm.Command{openSession(0x1, 0), create("/p", ""), createEphemeral("/e", "", 0x1),
				withTime(createTTL("/t", "", 1), T), del("/t", fsm.AnyVersion)},
			now: T + 1e9, want: nil,
		},
		{
			name: "candidates come sorted",
			setup: []fsm.Command{withTime(createTTL("/z", "", 1), T), withTime(createTTL("/b", "", 1), T),
				create("/a", "", fsm.FlagContainer), create("/a/k", ""), del("/a/k", fsm.AnyVersion),
				create("/m/n", "", fsm.FlagParents), withTime(createTTL("/m/n/t", "", 1), T)},
			now: T + 2, want: []string{"/a", "/b", "/m/n/t", "/z"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for _, c := range tc.setup {
				h.ok(c)
			}
			got := h.tree.ReapCandidates(tc.now)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ReapCandidates(%d) = %v, want %v", tc.now, got, tc.want)
			}
			// A reap at the same time deletes exactly the candidates, and a
			// restored tree agrees on them.
			if restored := roundTrip(t, h.tree).ReapCandidates(tc.now); fmt.Sprint(restored) != fmt.Sprint(tc.want) {
				t.Errorf("after restore: ReapCandidates = %v, want %v", restored, tc.want)
			}
			for _, p := range got {
				_, ev := h.ok(reap(p, tc.now))
				checkEvents(t, ev, []api.Event{evDeleted(p, h.zxid), evRemoved(fsm.ParentPath(p), fsm.BaseName(p), h.zxid)})
			}
			if again := h.tree.ReapCandidates(tc.now); len(again) != 0 {
				t.Errorf("after reaping: candidates %v", again)
			}
			checkInvariants(t, captureState(t, h.tree))
		})
	}
}

func withTime(c fsm.Command, ms int64) fsm.Command {
	c.Time = ms
	return c
}

func TestReapUpdatesParentLikeDelete(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/p", ""))
	h.ok(create("/p/c", "", fsm.FlagContainer))
	h.ok(create("/p/c/kid", ""))
	h.ok(del("/p/c/kid", fsm.AnyVersion))
	before := h.stat("/p")
	res, _ := h.ok(reap("/p/c", at(100)))
	if res.Path != "/p/c" || res.Err != nil {
		t.Errorf("reap result %+v", res)
	}
	want := before
	want.Cversion, want.Pzxid, want.NumChildren = before.Cversion+1, h.zxid, 0
	checkStat(t, "/p", h.stat("/p"), want)
	// The parent is an ordinary persistent node: it stays.
	if got := h.tree.ReapCandidates(at(1000)); len(got) != 0 {
		t.Errorf("candidates after reap: %v", got)
	}
}

func TestReapWhoseConditionNoLongerHoldsDoesNothing(t *testing.T) {
	const T = t0
	for _, tc := range []struct {
		name  string
		setup []fsm.Command
		reap  fsm.Command
	}{
		{
			name:  "a child arrived in the container",
			setup: []fsm.Command{create("/c", "", fsm.FlagContainer), create("/c/a", ""), del("/c/a", fsm.AnyVersion), create("/c/b", "")},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "the container never had a child",
			setup: []fsm.Command{create("/c", "", fsm.FlagContainer)},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "the TTL node was modified since",
			setup: []fsm.Command{withTime(createTTL("/c", "", 100), T), withTime(set("/c", "", fsm.AnyVersion), T+150)},
			reap:  reap("/c", T+200),
		},
		{
			name:  "the TTL has not run out at the reap's time",
			setup: []fsm.Command{withTime(createTTL("/c", "", 100), T)},
			reap:  reap("/c", T+100),
		},
		{
			name:  "the TTL node got a child",
			setup: []fsm.Command{withTime(createTTL("/c", "", 100), T), withTime(create("/c/kid", ""), T)},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "the node is gone",
			setup: []fsm.Command{withTime(createTTL("/c", "", 100), T), del("/c", fsm.AnyVersion)},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "the node was replaced by a persistent one",
			setup: []fsm.Command{withTime(createTTL("/c", "", 100), T), del("/c", fsm.AnyVersion), withTime(create("/c", ""), T)},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "a persistent node",
			setup: []fsm.Command{create("/c", "")},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "an ephemeral node",
			setup: []fsm.Command{openSession(0x1, 0), createEphemeral("/c", "", 0x1)},
			reap:  reap("/c", T+1e9),
		},
		{
			name:  "the root",
			setup: nil,
			reap:  reap("/", T+1e9),
		},
		{
			name:  "a reserved node",
			setup: nil,
			reap:  reap("/zookeeper/quota", T+1e9),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for _, c := range tc.setup {
				h.ok(c)
			}
			before := captureState(t, h.tree)
			res, ev := h.apply(tc.reap)
			if res.Err != nil {
				t.Errorf("reap: %v, want a quiet no-op", res.Err)
			}
			checkEvents(t, ev, nil)
			after := captureState(t, h.tree)
			after.Counts.Applied = before.Counts.Applied
			if d := diffStates(before, after); d != "" {
				t.Errorf("reap changed the tree: %s", d)
			}
		})
	}
}

func TestReapInsideMultiIsBadArguments(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/c", "", fsm.FlagContainer))
	h.ok(create("/c/k", ""))
	h.ok(del("/c/k", fsm.AnyVersion))
	err := h.fails(multi(check("/c", fsm.AnyVersion), reap("/c", at(100))), api.CodeBadArguments)
	if err.Index == nil || *err.Index != 1 {
		t.Errorf("error index %v, want 1", err.Index)
	}
}
