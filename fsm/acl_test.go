package fsm_test

import (
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

var (
	aliceID = api.Digest("alice", "secret")
	bobID   = api.Digest("bob", "hunter2")
	asAlice = []string{"ip:127.0.0.1", "digest:" + aliceID}
	asBob   = []string{"ip:127.0.0.1", "digest:" + bobID}
	asAnon  = []string{"ip:127.0.0.1"}
	asSuper = []string{"ip:127.0.0.1", "digest:super:x", "super:"}
)

// aclTree holds /open (world:anyone:cdrwa), and /n whose ACL gives alice
// perms and anyone else nothing, with a child /n/c (open) to delete.
func aclTree(t *testing.T, perms api.Perms) *fsm.Tree {
	t.Helper()
	tree := fsm.NewTree()
	apply := func(c fsm.Command) {
		if res, _ := tree.Apply(tree.Applied()+1, &c); res.Err != nil {
			t.Fatalf("%s %s: %v", c.Op, c.Path, res.Err)
		}
	}
	apply(fsm.Command{Op: fsm.OpCreate, Path: "/n", Identity: asSuper})
	apply(fsm.Command{Op: fsm.OpCreate, Path: "/n/c", Identity: asSuper})
	apply(fsm.Command{Op: fsm.OpSetACL, Path: "/n", Version: fsm.AnyVersion, Identity: asSuper,
		ACL: []api.ACL{{Scheme: "digest", ID: aliceID, Perms: perms}}})
	return tree
}

// TestACLEachPermGuardsItsOperations: for each perm alice holds alone on
// /n, exactly the operations ZooKeeper checks against it succeed for her,
// none for bob, all for super.
func TestACLEachPermGuardsItsOperations(t *testing.T) {
	ops := []struct {
		name string
		need api.Perms
		cmd  fsm.Command
	}{
		{"create child", api.PermCreate, fsm.Command{Op: fsm.OpCreate, Path: "/n/new"}},
		{"create sequential child", api.PermCreate, fsm.Command{Op: fsm.OpCreate, Path: "/n/s-", Flags: fsm.FlagSequential}},
		{"delete child", api.PermDelete, fsm.Command{Op: fsm.OpDelete, Path: "/n/c", Version: fsm.AnyVersion}},
		{"delete missing child", api.PermDelete, fsm.Command{Op: fsm.OpDelete, Path: "/n/missing", Version: fsm.AnyVersion}},
		{"setData", api.PermWrite, fsm.Command{Op: fsm.OpSetData, Path: "/n", Data: []byte("x"), Version: fsm.AnyVersion}},
		{"setACL", api.PermAdmin, fsm.Command{Op: fsm.OpSetACL, Path: "/n", Version: fsm.AnyVersion, ACL: api.OpenACL}},
		{"check in a multi", api.PermRead, fsm.Command{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpCheck, Path: "/n", Version: fsm.AnyVersion}}}},
		{"create in a multi", api.PermCreate, fsm.Command{Op: fsm.OpMulti, Ops: []fsm.Command{{Op: fsm.OpCreate, Path: "/n/m"}}}},
	}
	perms := []api.Perms{api.PermRead, api.PermWrite, api.PermCreate, api.PermDelete, api.PermAdmin}
	for _, held := range perms {
		for _, op := range ops {
			for _, who := range []struct {
				name     string
				identity []string
				allowed  bool
			}{
				{"alice", asAlice, held == op.need},
				{"bob", asBob, false},
				{"anonymous", asAnon, false},
				{"super", asSuper, true},
			} {
				tree := aclTree(t, held)
				before := captureState(t, tree)
				c := op.cmd
				c.Identity = who.identity
				res, events := tree.Apply(tree.Applied()+1, &c)
				code := api.Code("")
				if res.Err != nil {
					code = res.Err.Code
				}
				switch {
				case who.allowed && code == api.CodeNoAuth:
					t.Errorf("%s holding %q: %s refused: %v", who.name, held, op.name, res.Err)
				case !who.allowed && code != api.CodeNoAuth:
					t.Errorf("%s holding %q: %s answered %v, want NoAuth", who.name, held, op.name, res.Err)
				}
				if code == api.CodeNoAuth {
					if len(events) != 0 {
						t.Errorf("%s: refused %s fired %d events", who.name, op.name, len(events))
					}
					if d := diffNodes(before, captureState(t, tree)); d != "" {
						t.Errorf("%s: refused %s changed the tree: %s", who.name, op.name, d)
					}
				}
			}
		}
	}
}

func TestSetACLChecksInZooKeepersOrder(t *testing.T) {
	tree := aclTree(t, api.PermAdmin)
	for _, tc := range []struct {
		name string
		cmd  fsm.Command
		want api.Code
	}{
		// InvalidACL before NoNode, NoAuth before BadVersion.
		{"invalid ACL on a missing node", fsm.Command{Op: fsm.OpSetACL, Path: "/missing", Identity: asBob, ACL: []api.ACL{{Scheme: "bad"}}}, api.CodeInvalidACL},
		{"missing node", fsm.Command{Op: fsm.OpSetACL, Path: "/missing", Identity: asBob, ACL: api.OpenACL}, api.CodeNoNode},
		{"no ADMIN, wrong aversion", fsm.Command{Op: fsm.OpSetACL, Path: "/n", Identity: asBob, Version: 7, ACL: api.OpenACL}, api.CodeNoAuth},
		{"wrong aversion", fsm.Command{Op: fsm.OpSetACL, Path: "/n", Identity: asAlice, Version: 7, ACL: api.OpenACL}, api.CodeBadVersion},
		{"auth from anonymous", fsm.Command{Op: fsm.OpSetACL, Path: "/n", Identity: asAnon, Version: 1, ACL: api.CreatorAllACL}, api.CodeInvalidACL},
	} {
		c := tc.cmd
		res, _ := tree.Apply(tree.Applied()+1, &c)
		if res.Err == nil || res.Err.Code != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, res.Err, tc.want)
		}
	}
	// The right aversion succeeds, bumps it, and fires no watch.
	c := fsm.Command{Op: fsm.OpSetACL, Path: "/n", Identity: asAlice, Version: 1, ACL: api.CreatorAllACL}
	res, events := tree.Apply(tree.Applied()+1, &c)
	if res.Err != nil || res.Stat.Aversion != 2 || len(events) != 0 {
		t.Fatalf("setACL at aversion 1 = %+v, %d events; want aversion 2, none", res, len(events))
	}
	var list []api.ACL
	tree.Read(func(r fsm.Reader) { list, _, _, _ = r.ACL("/n") })
	if len(list) != 1 || list[0] != (api.ACL{Scheme: "digest", ID: aliceID, Perms: api.PermAll}) {
		t.Fatalf("auth ACL stored as %v, want alice's digest with cdrwa", list)
	}
}

func TestCreateChecksACLBeforeParentAndParentBeforeExistence(t *testing.T) {
	tree := aclTree(t, api.PermRead)
	for _, tc := range []struct {
		name string
		cmd  fsm.Command
		want api.Code
	}{
		{"invalid ACL under a missing parent", fsm.Command{Op: fsm.OpCreate, Path: "/missing/x", Identity: asBob, ACL: []api.ACL{{Scheme: "digest", ID: "nohash"}}}, api.CodeInvalidACL},
		{"missing parent", fsm.Command{Op: fsm.OpCreate, Path: "/missing/x", Identity: asBob}, api.CodeNoNode},
		{"no CREATE on the parent of an existing node", fsm.Command{Op: fsm.OpCreate, Path: "/n/c", Identity: asBob}, api.CodeNoAuth},
		{"parents through a node without CREATE", fsm.Command{Op: fsm.OpCreate, Path: "/n/p/q", Flags: fsm.FlagParents, Identity: asAlice}, api.CodeNoAuth},
	} {
		c := tc.cmd
		res, _ := tree.Apply(tree.Applied()+1, &c)
		if res.Err == nil || res.Err.Code != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, res.Err, tc.want)
		}
	}
}

func TestRecursiveDeleteNeedsDeleteOnEveryParentItEmpties(t *testing.T) {
	tree := fsm.NewTree()
	for _, c := range []fsm.Command{
		{Op: fsm.OpCreate, Path: "/a", Identity: asAlice},
		{Op: fsm.OpCreate, Path: "/a/b", Identity: asAlice},
		{Op: fsm.OpCreate, Path: "/a/b/c", Identity: asAlice},
		{Op: fsm.OpSetACL, Path: "/a/b", Version: fsm.AnyVersion, Identity: asAlice, ACL: []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermRead | api.PermAdmin}}},
	} {
		if res, _ := tree.Apply(tree.Applied()+1, &c); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	before := captureState(t, tree)
	c := fsm.Command{Op: fsm.OpDelete, Path: "/a", Version: fsm.AnyVersion, Flags: fsm.FlagRecursive, Identity: asAlice}
	res, _ := tree.Apply(tree.Applied()+1, &c)
	if res.Err == nil || res.Err.Code != api.CodeNoAuth || res.Err.Path != "/a/b" {
		t.Fatalf("recursive delete through /a/b (no DELETE) = %v, want NoAuth on /a/b", res.Err)
	}
	if d := diffNodes(before, captureState(t, tree)); d != "" {
		t.Fatalf("refused recursive delete changed the tree: %s", d)
	}
}

func TestSessionsBelongToTheirOpeners(t *testing.T) {
	tree := fsm.NewTree()
	const sess = api.ID(0x51)
	open := fsm.Command{Op: fsm.OpCreateSession, Session: sess, Timeout: 10000, Identity: asAlice}
	if res, _ := tree.Apply(1, &open); res.Err != nil {
		t.Fatal(res.Err)
	}
	eph := fsm.Command{Op: fsm.OpCreate, Path: "/e", Session: sess, Flags: fsm.FlagEphemeral}
	for _, who := range [][]string{asBob, asAnon} {
		c := eph
		c.Identity = who
		if res, _ := tree.Apply(tree.Applied()+1, &c); res.Err == nil || res.Err.Code != api.CodeNoAuth {
			t.Errorf("ephemeral in alice's session as %v = %v, want NoAuth", who, res.Err)
		}
		closeCmd := fsm.Command{Op: fsm.OpCloseSession, Session: sess, Identity: who}
		if res, _ := tree.Apply(tree.Applied()+1, &closeCmd); res.Err == nil || res.Err.Code != api.CodeNoAuth {
			t.Errorf("closing alice's session as %v = %v, want NoAuth", who, res.Err)
		}
		if err := tree.SessionAllows(sess, who); api.CodeOf(err) != api.CodeNoAuth {
			t.Errorf("SessionAllows(%v) = %v, want NoAuth", who, err)
		}
	}
	c := eph
	c.Identity = asAlice
	if res, _ := tree.Apply(tree.Applied()+1, &c); res.Err != nil {
		t.Fatalf("alice's ephemeral in her session: %v", res.Err)
	}
	// The leader's expiry needs no identity; super may close anything.
	closeCmd := fsm.Command{Op: fsm.OpCloseSession, Session: sess, Identity: asSuper}
	if res, events := tree.Apply(tree.Applied()+1, &closeCmd); res.Err != nil || len(events) != 2 {
		t.Fatalf("super closing alice's session = %v, %d events; want success, her ephemeral deleted", res.Err, len(events))
	}
}

func TestEventsCarryTheACLOfTheNodeTheyAreAbout(t *testing.T) {
	tree := aclTree(t, api.PermAll)
	c := fsm.Command{Op: fsm.OpCreate, Path: "/n/x", Identity: asAlice, ACL: []api.ACL{{Scheme: "ip", ID: "10.0.0.1", Perms: api.PermRead}}}
	res, events := tree.Apply(tree.Applied()+1, &c)
	if res.Err != nil || len(events) != 2 {
		t.Fatalf("create = %v, %d events", res.Err, len(events))
	}
	if events[0].Type != api.EventNodeCreated || len(events[0].ACL) != 1 || events[0].ACL[0].Scheme != "ip" {
		t.Errorf("NodeCreated carries %v, want the new node's ACL", events[0].ACL)
	}
	if events[1].Type != api.EventNodeChildrenChanged || len(events[1].ACL) != 1 || events[1].ACL[0].ID != aliceID {
		t.Errorf("NodeChildrenChanged carries %v, want the parent's ACL", events[1].ACL)
	}
}

// diffNodes is diffStates but for the applied index, which every entry
// advances, refused or not.
func diffNodes(before, after treeState) string {
	before.Counts.Applied = after.Counts.Applied
	return diffStates(before, after)
}
