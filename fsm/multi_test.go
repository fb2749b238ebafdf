package fsm_test

import (
	"fmt"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func TestMultiFailureAppliesNothingAndReportsEachOp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ops    []fsm.Command
		failAt int
		code   api.Code
	}{
		{"first op fails", []fsm.Command{set("/missing", "", fsm.AnyVersion), create("/m/a", "")}, 0, api.CodeNoNode},
		{"middle op fails", []fsm.Command{create("/m/a", ""), check("/m", 5), create("/m/b", ""), set("/m", "x", fsm.AnyVersion)}, 1, api.CodeBadVersion},
		{"last op fails", []fsm.Command{create("/m/a", ""), set("/m", "x", fsm.AnyVersion), create("/m/a", "")}, 2, api.CodeNodeExists},
		{"delete of a non-empty node", []fsm.Command{create("/m/a", ""), del("/m", fsm.AnyVersion)}, 1, api.CodeNotEmpty},
		{"sees an earlier delete", []fsm.Command{del("/m", fsm.AnyVersion), create("/m/x", "")}, 1, api.CodeNoNode},
		{"sees an earlier create", []fsm.Command{create("/m/e", ""), create("/m/e", "")}, 1, api.CodeNodeExists},
		{"sees an earlier setData", []fsm.Command{set("/m", "", 0), check("/m", 0)}, 1, api.CodeBadVersion},
		{"ephemeral child of an earlier ephemeral", []fsm.Command{createEphemeral("/m/e", "", 0x1), create("/m/e/x", "")}, 1, api.CodeNoChildrenForEphemerals},
		{"ephemeral of an unknown session", []fsm.Command{create("/m/a", ""), createEphemeral("/m/e", "", 0x99)}, 1, api.CodeSessionExpired},
		{"reserved path", []fsm.Command{create("/m/a", ""), del("/zookeeper/quota", fsm.AnyVersion)}, 1, api.CodeBadArguments},
		{"bad flags", []fsm.Command{create("/m/a", ""), create("/m/c", "", fsm.FlagContainer, fsm.FlagEphemeral)}, 1, api.CodeBadArguments},
		{"recursive delete is not allowed", []fsm.Command{create("/m/a", ""), delAll("/m/a")}, 1, api.CodeBadArguments},
		{"create with parents is not allowed", []fsm.Command{create("/m/x/y", "", fsm.FlagParents)}, 0, api.CodeBadArguments},
		{"reap is not allowed", []fsm.Command{reap("/m", 0)}, 0, api.CodeBadArguments},
		{"a nested multi is not allowed", []fsm.Command{create("/m/a", ""), multi(create("/m/b", ""))}, 1, api.CodeBadArguments},
		{"a session op is not allowed", []fsm.Command{openSession(0x5, 0)}, 0, api.CodeBadArguments},
		{"close session is not allowed", []fsm.Command{closeSession(0x1)}, 0, api.CodeBadArguments},
		{"barrier is not allowed", []fsm.Command{{Op: fsm.OpBarrier}}, 0, api.CodeBadArguments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(openSession(0x1, 0))
			h.ok(create("/m", ""))
			before := captureState(t, h.tree)
			res, ev := h.apply(multi(tc.ops...))
			if res.Err == nil {
				t.Fatalf("multi succeeded: %+v", res.Multi)
			}
			if res.Err.Code != tc.code || res.Err.Index == nil || *res.Err.Index != tc.failAt {
				t.Errorf("error = %v (index %v), want %s at %d", res.Err, res.Err.Index, tc.code, tc.failAt)
			}
			checkEvents(t, ev, nil)
			if len(res.Multi) != len(tc.ops) {
				t.Fatalf("%d results for %d ops", len(res.Multi), len(tc.ops))
			}
			for i, r := range res.Multi {
				switch {
				case i < tc.failAt:
					if r != (api.MultiResult{}) {
						t.Errorf("result %d before the failure = %+v, want {}", i, r)
					}
				case i == tc.failAt:
					if r.Error == nil || r.Error.Code != tc.code || r.Op != "" || r.Stat != nil {
						t.Errorf("result %d = %+v, want only the error %s", i, r, tc.code)
					}
				default:
					if r.Error == nil || r.Error.Code != api.CodeRuntimeInconsistency || r.Op != "" || r.Stat != nil {
						t.Errorf("result %d after the failure = %+v, want RuntimeInconsistency", i, r)
					}
				}
			}
			after := captureState(t, h.tree)
			after.Counts.Applied = before.Counts.Applied
			if d := diffStates(before, after); d != "" {
				t.Errorf("a failed multi changed the tree: %s", d)
			}
		})
	}
}

func TestMultiOpsSeeEarlierOpsAndCommitAtOneZxid(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1, 0))
	h.ok(create("/m", "old"))
	h.ok(create("/m/gone", "bye"))
	res, ev := h.ok(multi(
		create("/m/a", "1"),
		set("/m/a", "2", 0),
		check("/m/a", 1),
		create("/m/a/b", ""),
		create("/m/s-", "", fsm.FlagSequential),
		create("/m/s-", "", fsm.FlagSequential),
		createEphemeral("/m/e", "", 0x1),
		del("/m/gone", 0),
		set("/m", "new", 0),
	))
	z := h.zxid
	if len(res.Multi) != 9 {
		t.Fatalf("results = %+v", res.Multi)
	}
	wantPaths := []string{"/m/a", "/m/a", "/m/a", "/m/a/b", "/m/s-0000000002", "/m/s-0000000003", "/m/e", "/m/gone", "/m"}
	wantOps := []string{"create", "set", "check", "create", "create", "create", "create", "delete", "set"}
	for i, r := range res.Multi {
		if r.Path != wantPaths[i] || r.Op != wantOps[i] || r.Error != nil {
			t.Errorf("result %d = %+v, want %s %s", i, r, wantOps[i], wantPaths[i])
		}
		if hasStat := r.Stat != nil; hasStat != (r.Op == "create" || r.Op == "set") {
			t.Errorf("result %d (%s): stat %v", i, r.Op, r.Stat)
		}
	}
	aCreated := api.Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: at(z), Mtime: at(z), DataLength: 1}
	aSet := aCreated
	aSet.Version = 1
	if *res.Multi[0].Stat != aCreated || *res.Multi[1].Stat != aSet {
		t.Errorf("stats of /m/a in results: %+v then %+v", *res.Multi[0].Stat, *res.Multi[1].Stat)
	}
	aFinal := aSet
	aFinal.Cversion, aFinal.NumChildren = 1, 1
	checkStat(t, "/m/a", h.stat("/m/a"), aFinal)
	for _, e := range ev {
		if e.Zxid != z {
			t.Errorf("event at zxid %d, want every one at %d: %s", e.Zxid, z, formatEvent(e))
		}
	}
	mFinal := h.stat("/m")
	if mFinal.Version != 1 || mFinal.Cversion != 6 || mFinal.NumChildren != 4 || mFinal.Pzxid != z {
		t.Errorf("/m = %+v", mFinal)
	}
	wantTypes := []string{
		"NodeCreated /m/a", "NodeChildrenChanged /m",
		"NodeDataChanged /m/a",
		"NodeCreated /m/a/b", "NodeChildrenChanged /m/a",
		"NodeCreated /m/s-0000000002", "NodeChildrenChanged /m",
		"NodeCreated /m/s-0000000003", "NodeChildrenChanged /m",
		"NodeCreated /m/e", "NodeChildrenChanged /m",
		"NodeDeleted /m/gone", "NodeChildrenChanged /m",
		"NodeDataChanged /m",
	}
	var gotTypes []string
	for _, e := range ev {
		gotTypes = append(gotTypes, string(e.Type)+" "+e.Path)
	}
	if fmt.Sprint(gotTypes) != fmt.Sprint(wantTypes) {
		t.Errorf("events:\ngot  %v\nwant %v", gotTypes, wantTypes)
	}
	if info, _, _ := h.tree.Session(0x1); fmt.Sprint(info.Ephemerals) != "[/m/e]" {
		t.Errorf("session ephemerals %v", info.Ephemerals)
	}
	checkInvariants(t, captureState(t, h.tree))
}

func TestMultiCreateThenDeleteOfSameNodeLeavesOnlyParentChanges(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1, 0))
	h.ok(create("/m", ""))
	before := h.stat("/m")
	_, ev := h.ok(multi(
		create("/m/tmp", "data"),
		set("/m/tmp", "more", fsm.AnyVersion),
		del("/m/tmp", 1),
		createEphemeral("/m/eph", "", 0x1),
		del("/m/eph", fsm.AnyVersion),
		create("/m/box", "", fsm.FlagContainer),
		del("/m/box", fsm.AnyVersion),
	))
	z := h.zxid
	for _, p := range []string{"/m/tmp", "/m/eph", "/m/box"} {
		if h.exists(p) {
			t.Errorf("%s exists after create+delete in one multi", p)
		}
	}
	want := before
	want.Cversion, want.Pzxid = before.Cversion+6, z
	checkStat(t, "/m", h.stat("/m"), want)
	if len(ev) != 4+1+4+4 {
		t.Errorf("%d events:\n%s", len(ev), formatEvents(ev))
	}
	s := captureState(t, h.tree)
	checkInvariants(t, s)
	if s.Counts.Ephemerals != 0 || s.Counts.DataBytes != 0 || len(s.ReapLater) != 0 {
		t.Errorf("derived state not clean: %+v, reap %v", s.Counts, s.ReapLater)
	}
}

func TestMultiDeleteThenCreateReplacesNode(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x1, 0))
	h.ok(openSession(0x2, 0))
	h.ok(createEphemeral("/n", "old", 0x1))
	_, ev := h.ok(multi(del("/n", fsm.AnyVersion), createEphemeral("/n", "new", 0x2)))
	z := h.zxid
	st := h.stat("/n")
	if st.Czxid != z || st.EphemeralOwner != 0x2 || h.data("/n") != "new" {
		t.Errorf("/n = %+v %q", st, h.data("/n"))
	}
	checkEvents(t, ev, []api.Event{
		evDeleted("/n", z), evRemoved("/", "n", z),
		evCreated("/n", z, st), evAdded("/", "n", z),
	})
	a, _, _ := h.tree.Session(0x1)
	b, _, _ := h.tree.Session(0x2)
	if len(a.Ephemerals) != 0 || fmt.Sprint(b.Ephemerals) != "[/n]" {
		t.Errorf("ephemerals: 0x1 %v, 0x2 %v", a.Ephemerals, b.Ephemerals)
	}
	if got := h.tree.Counts().DataBytes; got != 3 {
		t.Errorf("DataBytes = %d, want 3", got)
	}
	// Closing the first session must not touch the node it no longer owns.
	_, ev = h.ok(closeSession(0x1))
	checkEvents(t, ev, nil)
	if !h.exists("/n") {
		t.Error("/n deleted with its former owner's session")
	}
}

func TestEmptyMultiSucceedsWithoutEvents(t *testing.T) {
	h := newHarness(t)
	res, ev := h.ok(multi())
	if res.Multi == nil || len(res.Multi) != 0 {
		t.Errorf("results = %#v, want an empty list", res.Multi)
	}
	checkEvents(t, ev, nil)
}

func TestMultiOfManyOpsSeesItsOwnChanges(t *testing.T) {
	// More ops than the transaction keeps in a plain list.
	h := newHarness(t)
	h.ok(create("/m", ""))
	var ops []fsm.Command
	for i := 0; i < 40; i++ {
		ops = append(ops, create(fmt.Sprintf("/m/n%02d", i), ""))
	}
	for i := 0; i < 40; i += 2 {
		ops = append(ops, set(fmt.Sprintf("/m/n%02d", i), "x", 0), del(fmt.Sprintf("/m/n%02d", i), 1))
	}
	ops = append(ops, check("/m/n01", 0), set("/m/n01", "y", 0), check("/m/n01", 1))
	res, ev := h.ok(multi(ops...))
	if len(res.Multi) != len(ops) {
		t.Fatalf("%d results", len(res.Multi))
	}
	if got := h.children("/m"); len(got) != 20 || got[0] != "n01" {
		t.Errorf("children %v", got)
	}
	if st := h.stat("/m"); st.Cversion != 60 || st.NumChildren != 20 {
		t.Errorf("/m = %+v", st)
	}
	if len(ev) != 40*2+20*3+1 {
		t.Errorf("%d events", len(ev))
	}
	checkInvariants(t, captureState(t, h.tree))
}
