package fsm_test

import (
	"fmt"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func TestVersionPreconditionsMatchAnyOrExactVersion(t *testing.T) {
	// /n (a leaf) and /r (with a child) are at version 1 when each command runs.
	for _, tc := range []struct {
		name    string
		version int32
		ok      bool
	}{
		{"-1 matches any", fsm.AnyVersion, true},
		{"the current version", 1, true},
		{"the zero value is version 0, a real precondition", 0, false},
		{"an older version", 0, false},
		{"a newer version", 2, false},
		{"-2 is not any", -2, false},
		{"the lowest int32", -1 << 31, false},
		{"the highest int32", 1<<31 - 1, false},
	} {
		for _, op := range []struct {
			name string
			cmd  func(v int32) fsm.Command
		}{
			{"setData", func(v int32) fsm.Command { return set("/n", "new", v) }},
			{"delete", func(v int32) fsm.Command { return del("/n", v) }},
			{"recursive delete", func(v int32) fsm.Command { c := delAll("/r"); c.Version = v; return c }},
			{"check", func(v int32) fsm.Command { return check("/n", v) }},
			{"check in multi", func(v int32) fsm.Command { return multi(check("/n", v)) }},
		} {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t)
				h.ok(create("/n", "old"))
				h.ok(set("/n", "old", 0))
				h.ok(create("/r", "old"))
				h.ok(create("/r/kid", ""))
				h.ok(set("/r", "old", 0))
				cmd := op.cmd(tc.version)
				if !tc.ok {
					err := h.fails(cmd, api.CodeBadVersion)
					if op.name == "check in multi" && (err.Index == nil || *err.Index != 0) {
						t.Errorf("multi error index = %v, want 0", err.Index)
					}
					return
				}
				h.ok(cmd)
			})
		}
	}
}

func TestDeleteFailuresLeaveTreeUntouched(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", ""))
	h.ok(create("/a/b", ""))
	for _, tc := range []struct {
		name string
		cmd  fsm.Command
		code api.Code
	}{
		{"missing node", del("/nope", fsm.AnyVersion), api.CodeNoNode},
		{"missing recursive", delAll("/nope"), api.CodeNoNode},
		{"node with children", del("/a", fsm.AnyVersion), api.CodeNotEmpty},
		{"node with children, bad version first", del("/a", 7), api.CodeBadVersion},
		{"the root", del("/", fsm.AnyVersion), api.CodeBadArguments},
		{"the root, recursively", delAll("/"), api.CodeBadArguments},
		{"reserved", del("/zookeeper", fsm.AnyVersion), api.CodeBadArguments},
		{"reserved, recursively", delAll("/zookeeper"), api.CodeBadArguments},
		{"reserved child", del("/zookeeper/quota", fsm.AnyVersion), api.CodeBadArguments},
		{"reserved config", del("/zookeeper/config", fsm.AnyVersion), api.CodeBadArguments},
		{"invalid path", del("/a/", fsm.AnyVersion), api.CodeBadArguments},
		{"empty path", del("", fsm.AnyVersion), api.CodeBadArguments},
		{"relative path", del("a", fsm.AnyVersion), api.CodeBadArguments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.tb = t
			h.fails(tc.cmd, tc.code)
		})
	}
}

func TestSetDataFailuresLeaveTreeUntouched(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", "x"))
	for _, tc := range []struct {
		name string
		cmd  fsm.Command
		code api.Code
	}{
		{"missing node", set("/nope", "x", fsm.AnyVersion), api.CodeNoNode},
		{"reserved", set("/zookeeper", "x", fsm.AnyVersion), api.CodeBadArguments},
		{"reserved config", set("/zookeeper/config", "x", fsm.AnyVersion), api.CodeBadArguments},
		{"reserved quota", set("/zookeeper/quota", "x", fsm.AnyVersion), api.CodeBadArguments},
		{"invalid path", set("/a/", "x", fsm.AnyVersion), api.CodeBadArguments},
		{"relative path", set("a", "x", fsm.AnyVersion), api.CodeBadArguments},
		{"control character", set("/a\x7f", "x", fsm.AnyVersion), api.CodeBadArguments},
		{"bad version", set("/a", "x", 3), api.CodeBadVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.tb = t
			h.fails(tc.cmd, tc.code)
		})
	}
}

func TestSetDataOnRootIsAllowed(t *testing.T) {
	h := newHarness(t)
	h.ok(set("/", "root data", fsm.AnyVersion))
	if st := h.stat("/"); st.Version != 1 || st.DataLength != 9 {
		t.Errorf("root stat %+v", st)
	}
}

func TestReservedSubtreeRefusesEveryWrite(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x3, 0))
	for _, cmd := range []fsm.Command{
		create("/zookeeper/x", ""),
		create("/zookeeper/config/x", ""),
		create("/zookeeper/x/y", "", fsm.FlagParents),
		create("/zookeeper/", "", fsm.FlagSequential),
		create("/zookeeper/c", "", fsm.FlagContainer),
		createTTL("/zookeeper/t", "", 100),
		createEphemeral("/zookeeper/e", "", 0x3),
		set("/zookeeper", "x", fsm.AnyVersion),
		set("/zookeeper/config", "x", fsm.AnyVersion),
		del("/zookeeper/quota", fsm.AnyVersion),
		delAll("/zookeeper"),
		multi(create("/ok", ""), set("/zookeeper/quota", "x", fsm.AnyVersion)),
	} {
		h.fails(cmd, api.CodeBadArguments)
	}
	// Reads and checks of it are fine, and /zookeeper0 is an ordinary name.
	h.ok(check("/zookeeper/config", fsm.AnyVersion))
	h.ok(create("/zookeeper", "", fsm.FlagSequential))
	if !h.exists("/zookeeper0000000000") {
		t.Errorf("sequential /zookeeper prefix: children of / are %v", h.children("/"))
	}
}

func TestRecursiveDeleteRemovesSubtreeChildrenFirstInNameOrder(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x9, 0))
	h.ok(create("/keep", ""))
	h.ok(create("/r", "r"))
	h.ok(create("/r/b", "bb"))
	h.ok(create("/r/a", "a"))
	h.ok(create("/r/a/y", ""))
	h.ok(createEphemeral("/r/a/x", "", 0x9))
	h.ok(create("/r/c", "", fsm.FlagContainer))
	h.ok(create("/r/c/kid", ""))
	h.ok(create("/r-sibling", ""))
	rootBefore := h.stat("/")
	res, ev := h.ok(delAll("/r"))
	z := h.zxid
	if res.Path != "/r" {
		t.Errorf("result path %q", res.Path)
	}
	checkEvents(t, ev, []api.Event{
		evDeleted("/r/a/x", z), evRemoved("/r/a", "x", z),
		evDeleted("/r/a/y", z), evRemoved("/r/a", "y", z),
		evDeleted("/r/a", z), evRemoved("/r", "a", z),
		evDeleted("/r/b", z), evRemoved("/r", "b", z),
		evDeleted("/r/c/kid", z), evRemoved("/r/c", "kid", z),
		evDeleted("/r/c", z), evRemoved("/r", "c", z),
		evDeleted("/r", z), evRemoved("/", "r", z),
	})
	want := rootBefore
	want.Cversion, want.Pzxid, want.NumChildren = rootBefore.Cversion+1, z, rootBefore.NumChildren-1
	checkStat(t, "/", h.stat("/"), want)
	if got, want := h.children("/"), []string{"keep", "r-sibling", "zookeeper"}; !equalStrings(got, want) {
		t.Errorf("children of / = %v, want %v", got, want)
	}
	s := captureState(t, h.tree)
	checkInvariants(t, s)
	if info, _, _ := h.tree.Session(0x9); len(info.Ephemerals) != 0 {
		t.Errorf("session still lists %v", info.Ephemerals)
	}
	if len(s.ReapLater) != 0 {
		t.Errorf("deleted container still a reap candidate: %v", s.ReapLater)
	}
	if s.Counts.DataBytes != 0 || s.Counts.Ephemerals != 0 {
		t.Errorf("counts after recursive delete: %+v", s.Counts)
	}
}

func TestRecursiveDeleteOfLeafIsPlainDelete(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/leaf", ""))
	_, ev := h.ok(delAll("/leaf"))
	checkEvents(t, ev, []api.Event{evDeleted("/leaf", h.zxid), evRemoved("/", "leaf", h.zxid)})
}

func TestRecursiveDeleteChecksVersionOfTopNodeOnly(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/r", ""))
	h.ok(create("/r/kid", ""))
	h.ok(set("/r/kid", "", fsm.AnyVersion))
	c := delAll("/r")
	c.Version = 1
	h.fails(c, api.CodeBadVersion)
	c.Version = 0
	h.ok(c)
	if h.exists("/r") || h.exists("/r/kid") {
		t.Error("subtree survived")
	}
}

func TestCheckSucceedsWithoutChangingAnything(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", "x"))
	before := captureState(t, h.tree)
	res, ev := h.ok(check("/a", 0))
	if res.Path != "/a" || res.Stat != nil {
		t.Errorf("check result = %+v", res)
	}
	checkEvents(t, ev, nil)
	after := captureState(t, h.tree)
	after.Counts.Applied = before.Counts.Applied
	if d := diffStates(before, after); d != "" {
		t.Error(d)
	}
	h.fails(check("/missing", fsm.AnyVersion), api.CodeNoNode)
	h.ok(check("/", fsm.AnyVersion))
}

func TestBarrierAdvancesAppliedOnly(t *testing.T) {
	h := newHarness(t)
	before := captureState(t, h.tree)
	res, ev := h.apply(fsm.Command{Op: fsm.OpBarrier})
	if res.Err != nil || len(ev) != 0 {
		t.Errorf("barrier: %+v %v", res, ev)
	}
	after := captureState(t, h.tree)
	if after.Counts.Applied != h.zxid {
		t.Errorf("applied = %d, want %d", after.Counts.Applied, h.zxid)
	}
	after.Counts.Applied = 0
	if d := diffStates(before, after); d != "" {
		t.Error(d)
	}
}

func TestUnknownOpIsBadArguments(t *testing.T) {
	h := newHarness(t)
	h.fails(fsm.Command{Op: 0, Path: "/a"}, api.CodeBadArguments)
	h.fails(fsm.Command{Op: 200, Path: "/a"}, api.CodeBadArguments)
}

func TestAppliedTracksHighestZxidIncludingFailures(t *testing.T) {
	tree := fsm.NewTree()
	tree.Apply(5, &fsm.Command{Op: fsm.OpDelete, Path: "/missing", Version: fsm.AnyVersion})
	if got := tree.Applied(); got != 5 {
		t.Errorf("after a failed command at 5: applied %d", got)
	}
	out := tree.ApplyBatch([]fsm.Entry{{Zxid: 6}, {Zxid: 7, Cmd: &fsm.Command{Op: fsm.OpCreate, Path: "/a", Version: fsm.AnyVersion}}, {Zxid: 8}})
	if got := tree.Applied(); got != 8 {
		t.Errorf("after a batch ending in a non-command entry at 8: applied %d", got)
	}
	if len(out) != 3 || out[0].Events != nil || out[1].Result.Path != "/a" || len(out[1].Events) != 2 || out[2].Events != nil {
		t.Errorf("batch outcomes = %+v", out)
	}
	if _, _, zxid, _ := tree.Get("/a"); zxid != 8 {
		t.Errorf("Get reports zxid %d, want 8", zxid)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckOfInvalidPathIsBadArguments(t *testing.T) {
	// ZooKeeper validates check's path, and DESIGN §3 wants BadArguments
	// for reads as for writes. A path without "/" used to panic in Apply, on
	// every replica at the same log index.
	for _, p := range []string{"", "x", "zookeeper", "/a/", "/a//b", "/\x00"} {
		for _, tc := range []struct {
			name string
			cmd  fsm.Command
		}{
			{"check", check(p, fsm.AnyVersion)},
			{"check in multi", multi(check(p, fsm.AnyVersion))},
		} {
			t.Run(fmt.Sprintf("%s %q", tc.name, p), func(t *testing.T) {
				h := newHarness(t)
				h.ok(create("/a", ""))
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Apply panicked: %v", r)
					}
				}()
				h.fails(tc.cmd, api.CodeBadArguments)
			})
		}
	}
}

func TestReapOfMalformedPathIsHarmless(t *testing.T) {
	// A reap is proposed by the leader, but Apply must not crash the
	// replicas whatever a decodable command holds (one without "/" did).
	for _, p := range []string{"", "x", "/a/", "/a//b"} {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			h := newHarness(t)
			h.ok(create("/a", "", fsm.FlagContainer))
			before := captureState(t, h.tree)
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Apply panicked: %v", r)
				}
			}()
			_, ev := h.apply(reap(p, at(1000)))
			checkEvents(t, ev, nil)
			after := captureState(t, h.tree)
			after.Counts.Applied = before.Counts.Applied
			if d := diffStates(before, after); d != "" {
				t.Errorf("reap of %q changed the tree: %s", p, d)
			}
		})
	}
}
