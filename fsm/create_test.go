package fsm_test

import (
	"fmt"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func TestNewTreeHoldsRootAndZookeeperNodes(t *testing.T) {
	tree := fsm.NewTree()
	s := captureState(t, tree)
	want := []nodeState{
		{Path: "/", Stat: api.Stat{NumChildren: 1}, ACL: "world:anyone:cdrwa"},
		{Path: "/zookeeper", Stat: api.Stat{NumChildren: 2}, ACL: "world:anyone:cdrwa"},
		{Path: "/zookeeper/config", ACL: "world:anyone:r"},
		{Path: "/zookeeper/quota", ACL: "world:anyone:cdrwa"},
	}
	if fmt.Sprint(s.Nodes) != fmt.Sprint(want) {
		t.Errorf("initial nodes:\ngot  %+v\nwant %+v", s.Nodes, want)
	}
	if got, want := s.Counts, (fsm.Counts{Nodes: 4}); got != want {
		t.Errorf("initial counts = %+v, want %+v", got, want)
	}
	if len(s.Sessions) != 0 || tree.Applied() != 0 {
		t.Errorf("initial sessions %v, applied %d; want none and 0", s.Sessions, tree.Applied())
	}
	checkInvariants(t, s)
}

func TestCreateStampsStatFromZxidAndTime(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", "x"))
	res, ev := h.ok(create("/a/b", "hello"))
	z := h.zxid
	want := api.Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: at(z), Mtime: at(z), DataLength: 5}
	if res.Path != "/a/b" || res.Stat == nil {
		t.Fatalf("result = %+v, want path /a/b with a stat", res)
	}
	checkStat(t, "result", *res.Stat, want)
	checkStat(t, "/a/b", h.stat("/a/b"), want)
	if got := h.data("/a/b"); got != "hello" {
		t.Errorf("data = %q, want hello", got)
	}
	// The parent counts one more child change; its data fields do not move.
	parentWant := api.Stat{Czxid: 1, Mzxid: 1, Pzxid: z, Ctime: at(1), Mtime: at(1), Cversion: 1, DataLength: 1, NumChildren: 1}
	checkStat(t, "/a", h.stat("/a"), parentWant)
	checkEvents(t, ev, []api.Event{evCreated("/a/b", z, want), evAdded("/a", "b", z)})
}

func TestCreateOfEmptyDataHasZeroDataLength(t *testing.T) {
	h := newHarness(t)
	res, _ := h.ok(fsm.Command{Op: fsm.OpCreate, Path: "/nil", Version: fsm.AnyVersion})
	if res.Stat.DataLength != 0 || h.data("/nil") != "" {
		t.Errorf("nil data: stat %+v data %q", res.Stat, h.data("/nil"))
	}
}

func TestSetDataBumpsVersionAndMzxidOnly(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", "one"))
	h.ok(create("/a/kid", ""))
	before, rootBefore := h.stat("/a"), h.stat("/")
	res, ev := h.ok(set("/a", "three", fsm.AnyVersion))
	z := h.zxid
	want := before
	want.Mzxid, want.Mtime, want.Version, want.DataLength = z, at(z), 1, 5
	checkStat(t, "result", *res.Stat, want)
	checkStat(t, "/a", h.stat("/a"), want)
	if res.Path != "/a" {
		t.Errorf("result path %q, want /a", res.Path)
	}
	checkEvents(t, ev, []api.Event{evChanged("/a", z, want)})
	// The parent of a changed node does not change.
	checkStat(t, "/ (parent)", h.stat("/"), rootBefore)
}

func TestSetDataWithIdenticalBytesStillBumpsVersion(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", "same"))
	for want := int32(1); want <= 3; want++ {
		_, ev := h.ok(set("/a", "same", fsm.AnyVersion))
		st := h.stat("/a")
		if st.Version != want || st.Mzxid != h.zxid {
			t.Errorf("after %d identical sets: version %d mzxid %d, want %d and %d", want, st.Version, st.Mzxid, want, h.zxid)
		}
		checkEvents(t, ev, []api.Event{evChanged("/a", h.zxid, st)})
	}
}

func TestSetDataToEmptyClearsData(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", "something"))
	h.ok(set("/a", "", fsm.AnyVersion))
	if st := h.stat("/a"); st.DataLength != 0 || h.data("/a") != "" {
		t.Errorf("after set to empty: %+v %q", st, h.data("/a"))
	}
	if got := h.tree.Counts().DataBytes; got != 0 {
		t.Errorf("Counts.DataBytes = %d, want 0", got)
	}
}

func TestDeleteUpdatesParentCversionPzxidAndCount(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/p", ""))
	h.ok(create("/p/a", "x"))
	h.ok(create("/p/b", "y"))
	before := h.stat("/p")
	res, ev := h.ok(del("/p/a", fsm.AnyVersion))
	z := h.zxid
	want := before
	want.Cversion, want.Pzxid, want.NumChildren = 3, z, 1
	checkStat(t, "/p", h.stat("/p"), want)
	if h.exists("/p/a") {
		t.Error("/p/a still exists")
	}
	if res.Path != "/p/a" || res.Err != nil {
		t.Errorf("result = %+v", res)
	}
	checkEvents(t, ev, []api.Event{evDeleted("/p/a", z), evRemoved("/p", "a", z)})
	if got := h.tree.Counts(); got.Nodes != 4+2 || got.DataBytes != 1 {
		t.Errorf("counts after delete = %+v", got)
	}
}

func TestCreateSequentialNumbersCountChildrenEverCreated(t *testing.T) {
	// ZooKeeper's suffix is the parent's count of children ever created
	// (what DataTree stores as cversion; Stat reports creates plus deletes):
	// deletes leave gaps, and a number is never handed out twice.
	h := newHarness(t)
	h.ok(create("/q", ""))
	h.ok(create("/other", ""))
	h.ok(openSession(0x42, 0))
	for _, tc := range []struct {
		name string
		cmd  fsm.Command
		want string // the created path, or "" for a command whose result is not checked
	}{
		{"first child gets 0", create("/q/n-", "", fsm.FlagSequential), "/q/n-0000000000"},
		{"second gets 1", create("/q/n-", "", fsm.FlagSequential), "/q/n-0000000001"},
		{"a different prefix shares the counter", create("/q/lock-", "", fsm.FlagSequential), "/q/lock-0000000002"},
		{"a plain child counts too", create("/q/plain", ""), "/q/plain"},
		{"so the next one skips 3", create("/q/n-", "", fsm.FlagSequential), "/q/n-0000000004"},
		{"delete an early one", del("/q/n-0000000000", fsm.AnyVersion), ""},
		{"a delete does not advance the counter", create("/q/n-", "", fsm.FlagSequential), "/q/n-0000000005"},
		{"delete the newest one", del("/q/n-0000000005", fsm.AnyVersion), ""},
		{"its number is not reused", create("/q/n-", "", fsm.FlagSequential), "/q/n-0000000006"},
		{`"/q/" is a valid prefix`, create("/q/", "", fsm.FlagSequential), "/q/0000000007"},
		{"ephemeral sequential", createEphemeral("/q/e-", "", 0x42, fsm.FlagSequential), "/q/e-0000000008"},
		{"TTL sequential", createTTL("/q/t-", "", 5000, fsm.FlagSequential), "/q/t-0000000009"},
		{"a multi's creates and deletes", multi(create("/q/m", ""), del("/q/m", fsm.AnyVersion), create("/q/m-", "", fsm.FlagSequential)), ""},
		{"count like single ones", create("/q/n-", "", fsm.FlagSequential), "/q/n-0000000012"},
		{"another parent has its own counter", create("/other/n-", "", fsm.FlagSequential), "/other/n-0000000000"},
		{"under the root, /zookeeper was never created", create("/", "", fsm.FlagSequential), "/0000000002"},
		{"a name under the root", create("/r-", "", fsm.FlagSequential), "/r-0000000003"},
		{"delete under the root", del("/0000000002", fsm.AnyVersion), ""},
		{"the root's counter does not go back", create("/r-", "", fsm.FlagSequential), "/r-0000000004"},
		{"missing parents made first", create("/new/dir/n-", "", fsm.FlagSequential|fsm.FlagParents), "/new/dir/n-0000000000"},
	} {
		res, _ := h.apply(tc.cmd)
		if res.Err != nil {
			t.Fatalf("%s: %v", tc.name, res.Err)
		}
		if tc.want == "" {
			continue
		}
		if res.Path != tc.want {
			t.Errorf("%s: created %q, want %q", tc.name, res.Path, tc.want)
		}
		if !h.exists(tc.want) {
			t.Errorf("%s: %q does not exist", tc.name, tc.want)
		}
	}
	// Stat's cversion still counts every child change: 13 creates, 3 deletes.
	if st := h.stat("/q"); st.Cversion != 16 || st.NumChildren != 10 {
		t.Errorf("/q: cversion %d numChildren %d, want 16 and 10", st.Cversion, st.NumChildren)
	}
	// And the counter survives a snapshot.
	restored := roundTrip(t, h.tree)
	res, _ := restored.Apply(h.zxid+1, &fsm.Command{Op: fsm.OpCreate, Path: "/q/n-", Flags: fsm.FlagSequential, Version: fsm.AnyVersion})
	if res.Path != "/q/n-0000000013" {
		t.Errorf("after restore: created %q, want /q/n-0000000013", res.Path)
	}
}

func TestCreateSequentialCollidingWithExistingNameIsNodeExists(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/q", ""))
	h.ok(create("/q/n-0000000001", ""))
	err := h.fails(create("/q/n-", "", fsm.FlagSequential), api.CodeNodeExists)
	if err.Path != "/q/n-0000000001" {
		t.Errorf("error path %q, want the generated /q/n-0000000001", err.Path)
	}
}

func TestCreateWithoutSequentialRejectsTrailingSlash(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/q", ""))
	h.fails(create("/q/", ""), api.CodeBadArguments)
	h.fails(create("/q//", "", fsm.FlagSequential), api.CodeBadArguments)
}

func TestCreateFailuresLeaveTreeUntouched(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a", ""))
	h.ok(create("/a/b", ""))
	h.ok(openSession(0x7, 0))
	h.ok(createEphemeral("/eph", "", 0x7))
	h.ok(openSession(0x8, 0))
	h.ok(closeSession(0x8))
	for _, tc := range []struct {
		name string
		cmd  fsm.Command
		code api.Code
	}{
		{"missing parent", create("/missing/x", ""), api.CodeNoNode},
		{"missing grandparent", create("/a/missing/x", ""), api.CodeNoNode},
		{"existing node", create("/a", ""), api.CodeNodeExists},
		{"existing nested node", create("/a/b", "other"), api.CodeNodeExists},
		{"the root", create("/", ""), api.CodeNodeExists},
		{"child of an ephemeral", create("/eph/kid", ""), api.CodeNoChildrenForEphemerals},
		{"sequential child of an ephemeral", create("/eph/kid-", "", fsm.FlagSequential), api.CodeNoChildrenForEphemerals},
		{"parents below an ephemeral", create("/eph/x/y", "", fsm.FlagParents), api.CodeNoChildrenForEphemerals},
		{"ephemeral without a session", createEphemeral("/e0", "", 0), api.CodeSessionExpired},
		{"ephemeral of an unknown session", createEphemeral("/e1", "", 0x99), api.CodeSessionExpired},
		{"ephemeral of a closed session", createEphemeral("/e2", "", 0x8), api.CodeSessionExpired},
		{"ephemeral owned by the container marker", createEphemeral("/e3", "", containerOwner), api.CodeSessionExpired},
		{"empty path", create("", ""), api.CodeBadArguments},
		{"relative path", create("a", ""), api.CodeBadArguments},
		{"double slash", create("/a//b", ""), api.CodeBadArguments},
		{"dot segment", create("/a/.", ""), api.CodeBadArguments},
		{"dotdot segment", create("/a/..", ""), api.CodeBadArguments},
		{"control character", create("/a\x01", ""), api.CodeBadArguments},
		{"above the BMP", create("/\U0001F600", ""), api.CodeBadArguments},
		{"invalid UTF-8", create("/\xff", ""), api.CodeBadArguments},
		{"reserved root", create("/zookeeper", ""), api.CodeBadArguments},
		{"under reserved", create("/zookeeper/mine", ""), api.CodeBadArguments},
		{"sequential under reserved", create("/zookeeper/", "", fsm.FlagSequential), api.CodeBadArguments},
		{"parents under reserved", create("/zookeeper/a/b", "", fsm.FlagParents), api.CodeBadArguments},
		{"ephemeral under reserved", createEphemeral("/zookeeper/e", "", 0x7), api.CodeBadArguments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.tb = t
			h.fails(tc.cmd, tc.code)
		})
	}
}

func TestCreateFlagCombinationsFollowCreateMode(t *testing.T) {
	// Stat shows the owning session of an ephemeral and 0 for every other
	// kind (ZooKeeper's DataNode.copyStat); the stored ephemeralOwner keeps
	// ZooKeeper's encoding of the kind, which the snapshot carries.
	const session api.ID = 0x1234
	for _, tc := range []struct {
		name        string
		cmd         fsm.Command
		code        api.Code // "" for success
		statOwner   api.ID
		storedOwner api.ID
	}{
		{"persistent", create("/n", ""), "", 0, 0},
		{"ephemeral", createEphemeral("/n", "", session), "", session, session},
		{"ephemeral sequential", createEphemeral("/n", "", session, fsm.FlagSequential), "", session, session},
		{"container", create("/n", "", fsm.FlagContainer), "", 0, containerOwner},
		{"TTL", createTTL("/n", "", 1000), "", 0, ttlOwnerBase | 1000},
		{"TTL sequential", createTTL("/n", "", 1000, fsm.FlagSequential), "", 0, ttlOwnerBase | 1000},
		{"TTL at the maximum", createTTL("/n", "", fsm.MaxTTL), "", 0, ttlOwnerBase | fsm.MaxTTL},
		{"TTL of one millisecond", createTTL("/n", "", 1), "", 0, ttlOwnerBase | 1},
		{"container ephemeral", createEphemeral("/n", "", session, fsm.FlagContainer), api.CodeBadArguments, 0, 0},
		{"container sequential", create("/n", "", fsm.FlagContainer, fsm.FlagSequential), api.CodeBadArguments, 0, 0},
		{"container with TTL", createTTL("/n", "", 1000, fsm.FlagContainer), api.CodeBadArguments, 0, 0},
		{"ephemeral with TTL", createTTL("/n", "", 1000, fsm.FlagEphemeral), api.CodeBadArguments, 0, 0},
		{"negative TTL", createTTL("/n", "", -1), api.CodeBadArguments, 0, 0},
		{"TTL above the maximum", createTTL("/n", "", fsm.MaxTTL+1), api.CodeBadArguments, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(openSession(session, 0))
			if tc.code != "" {
				h.fails(tc.cmd, tc.code)
				return
			}
			res, _ := h.ok(tc.cmd)
			if got := res.Stat.EphemeralOwner; got != tc.statOwner {
				t.Errorf("result ephemeralOwner = %s, want %s", got, tc.statOwner)
			}
			if got := h.stat(res.Path).EphemeralOwner; got != tc.statOwner {
				t.Errorf("Stat ephemeralOwner = %s, want %s", got, tc.statOwner)
			}
			if got := storedOwner(t, h.tree, res.Path); got != tc.storedOwner {
				t.Errorf("stored ephemeralOwner = %s, want %s", got, tc.storedOwner)
			}
			if got := storedOwner(t, roundTrip(t, h.tree), res.Path); got != tc.storedOwner {
				t.Errorf("stored ephemeralOwner after restore = %s, want %s", got, tc.storedOwner)
			}
		})
	}
}

func TestCreateWithParentsMakesMissingAncestorsPersistent(t *testing.T) {
	h := newHarness(t)
	h.ok(openSession(0x5, 0))
	h.ok(create("/p", "keep"))
	res, ev := h.ok(createEphemeral("/p/q/r/leaf", "data", 0x5, fsm.FlagParents))
	z := h.zxid
	if res.Path != "/p/q/r/leaf" {
		t.Errorf("created %q", res.Path)
	}
	fresh := func(children int32) api.Stat {
		return api.Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: at(z), Mtime: at(z), Cversion: children, NumChildren: children}
	}
	checkStat(t, "/p/q", h.stat("/p/q"), fresh(1))
	checkStat(t, "/p/q/r", h.stat("/p/q/r"), fresh(1))
	leaf := api.Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: at(z), Mtime: at(z), EphemeralOwner: 0x5, DataLength: 4}
	checkStat(t, "/p/q/r/leaf", h.stat("/p/q/r/leaf"), leaf)
	if got := h.data("/p"); got != "keep" {
		t.Errorf("existing ancestor's data changed to %q", got)
	}
	if got := h.stat("/p"); got.Cversion != 1 || got.Pzxid != z || got.NumChildren != 1 {
		t.Errorf("existing ancestor /p: %+v", got)
	}
	// Each ancestor is announced as created with the Stat it had then, before
	// its own child arrived.
	checkEvents(t, ev, []api.Event{
		evCreated("/p/q", z, fresh(0)), evAdded("/p", "q", z),
		evCreated("/p/q/r", z, fresh(0)), evAdded("/p/q", "r", z),
		evCreated("/p/q/r/leaf", z, leaf), evAdded("/p/q/r", "leaf", z),
	})
	// Only the leaf belongs to the session.
	info, _, _ := h.tree.Session(0x5)
	if fmt.Sprint(info.Ephemerals) != "[/p/q/r/leaf]" {
		t.Errorf("session ephemerals = %v", info.Ephemerals)
	}
}

func TestCreateWithParentsOfExistingNodeIsNodeExists(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/a/b", "", fsm.FlagParents))
	h.fails(create("/a/b", "", fsm.FlagParents), api.CodeNodeExists)
	h.ok(create("/a/c", "", fsm.FlagParents)) // the parent exists: a plain create
	if got := h.stat("/a").NumChildren; got != 2 {
		t.Errorf("/a has %d children, want 2", got)
	}
}

func TestCreateWithParentsAppliesKindToLeafOnly(t *testing.T) {
	h := newHarness(t)
	h.ok(create("/c1/c2/box", "", fsm.FlagContainer, fsm.FlagParents))
	h.ok(createTTL("/t1/t2/ttl", "", 10, fsm.FlagParents))
	owners := captureState(t, h.tree).Owners
	for p, want := range map[string]api.ID{
		"/c1": 0, "/c1/c2": 0, "/c1/c2/box": containerOwner,
		"/t1": 0, "/t1/t2": 0, "/t1/t2/ttl": ttlOwnerBase | 10,
	} {
		if got := owners[p]; got != want {
			t.Errorf("%s: stored ephemeralOwner %s, want %s", p, got, want)
		}
	}
}
