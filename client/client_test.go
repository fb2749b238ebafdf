package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// newClient returns a client of the servers, closed when the test ends.
func newClient(t testing.TB, servers ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// must returns v, and stops the test (by panicking: it has no t) on err.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

// check stops the test on err.
func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateGetSetDelete(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)

	data := []byte{0, 1, 2, 0xff, 'x'} // not UTF-8: must round-trip as bytes
	p, st, err := c.Create(ctx, "/app", data, nil)
	if err != nil || p != "/app" || st.DataLength != int32(len(data)) || st.Czxid == 0 {
		t.Fatalf("Create = %q, %+v, %v", p, st, err)
	}
	nd := must(c.Get(ctx, "/app"))
	if !bytes.Equal(nd.Data, data) || nd.Stat != st {
		t.Fatalf("Get = %v %+v, want %v %+v", nd.Data, nd.Stat, data, st)
	}
	if _, _, err := c.Create(ctx, "/app", nil, nil); !errors.Is(err, client.ErrNodeExists) {
		t.Fatalf("second Create: %v, want NodeExists", err)
	}

	st2, err := c.Set(ctx, "/app", []byte("v2"), st.Version)
	if err != nil || st2.Version != st.Version+1 {
		t.Fatalf("Set = %+v, %v", st2, err)
	}
	if _, err := c.Set(ctx, "/app", []byte("v3"), st.Version); !errors.Is(err, client.ErrBadVersion) {
		t.Fatalf("Set with a stale version: %v, want BadVersion", err)
	}
	var apiErr *api.Error
	_, err = c.Get(ctx, "/nope")
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeNoNode || apiErr.Path != "/nope" {
		t.Fatalf("Get of a missing node: %#v", err)
	}
	if got := client.Code(err); got != api.CodeNoNode {
		t.Fatalf("Code = %q, want NoNode", got)
	}

	if _, ok, err := c.Exists(ctx, "/nope"); ok || err != nil {
		t.Fatalf("Exists(/nope) = %v, %v", ok, err)
	}
	if s, ok, err := c.Exists(ctx, "/app"); !ok || err != nil || s != st2 {
		t.Fatalf("Exists(/app) = %+v, %v, %v", s, ok, err)
	}
	if s, err := c.Stat(ctx, "/app"); err != nil || s != st2 {
		t.Fatalf("Stat(/app) = %+v, %v", s, err)
	}

	check(t, second(c.Create(ctx, "/app/child", nil, nil)))
	if err := c.Delete(ctx, "/app", client.AnyVersion); !errors.Is(err, client.ErrNotEmpty) {
		t.Fatalf("Delete of a parent: %v, want NotEmpty", err)
	}
	if err := c.Delete(ctx, "/app/child", 7); !errors.Is(err, client.ErrBadVersion) {
		t.Fatalf("Delete with a wrong version: %v, want BadVersion", err)
	}
	if err := c.Delete(ctx, "/app/child", 0); err != nil {
		t.Fatal(err)
	}
	check(t, second(c.Create(ctx, "/app/a/b/c", nil, &client.CreateOptions{Parents: true})))
	if err := c.DeleteAll(ctx, "/app"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Exists(ctx, "/app/a"); ok {
		t.Fatal("DeleteAll left /app/a")
	}
	if _, err := c.Get(ctx, "relative/path"); !errors.Is(err, client.ErrBadArguments) {
		t.Fatalf("a relative path: %v, want BadArguments", err)
	}
}

// second keeps the error of a Create.
func second(_ string, _ client.Stat, err error) error { return err }

func TestCreateModes(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	check(t, second(c.Create(ctx, "/q", nil, nil)))
	var seqs []string
	for i := 0; i < 3; i++ {
		p, _, err := c.Create(ctx, "/q/item-", []byte{byte(i)}, &client.CreateOptions{Sequential: true})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, p)
	}
	if want := []string{"/q/item-0000000000", "/q/item-0000000001", "/q/item-0000000002"}; !slices.Equal(seqs, want) {
		t.Fatalf("sequential paths %v, want %v", seqs, want)
	}
	if _, _, err := c.Create(ctx, "/q/eph", nil, &client.CreateOptions{Ephemeral: true}); !errors.Is(err, client.ErrBadArguments) {
		t.Fatalf("an ephemeral outside a session: %v, want BadArguments", err)
	}
	// A container goes once its last child does.
	check(t, second(c.Create(ctx, "/box", nil, &client.CreateOptions{Container: true})))
	check(t, second(c.Create(ctx, "/box/x", nil, nil)))
	check(t, c.Delete(ctx, "/box/x", client.AnyVersion))
	testkit.WaitFor(t, 10*time.Second, "container /box reaped", func() bool {
		_, ok, err := c.Exists(ctx, "/box")
		return err == nil && !ok
	})
	// A TTL node goes after its TTL without change or children.
	check(t, second(c.Create(ctx, "/ttl", nil, &client.CreateOptions{TTL: 300 * time.Millisecond})))
	testkit.WaitFor(t, 10*time.Second, "TTL node /ttl reaped", func() bool {
		_, ok, err := c.Exists(ctx, "/ttl")
		return err == nil && !ok
	})
}

func TestChildrenTreeAndEscaping(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	// Names that need escaping in a URL, and one that is not ASCII.
	names := []string{"a b", "c%d", "e?f", "g#h", "ünï", "z"}
	check(t, second(c.Create(ctx, "/dir", nil, nil)))
	for _, n := range names {
		p, _, err := c.Create(ctx, "/dir/"+n, []byte(n), nil)
		if err != nil || p != "/dir/"+n {
			t.Fatalf("Create(%q) = %q, %v", n, p, err)
		}
		if nd, err := c.Get(ctx, "/dir/"+n); err != nil || string(nd.Data) != n {
			t.Fatalf("Get(%q) = %q, %v", n, nd.Data, err)
		}
	}
	kids, st, err := c.Children(ctx, "/dir")
	if err != nil || !slices.Equal(kids, sorted(names)) || st.NumChildren != int32(len(names)) {
		t.Fatalf("Children = %v (%d), %v; want %v", kids, st.NumChildren, err, sorted(names))
	}
	// Paging: two at a time, following Next.
	var paged []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := c.ChildrenStat(ctx, "/dir", after, 2)
		if err != nil || pages > len(names) {
			t.Fatalf("ChildrenStat after %q: %v", after, err)
		}
		for _, cs := range page.Children {
			if cs.Stat.DataLength != int32(len(cs.Name)) {
				t.Fatalf("child %q has dataLength %d", cs.Name, cs.Stat.DataLength)
			}
			paged = append(paged, cs.Name)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if !slices.Equal(paged, sorted(names)) {
		t.Fatalf("paged children %v", paged)
	}
	root, _, err := c.Children(ctx, "/")
	if err != nil || !slices.Contains(root, "dir") {
		t.Fatalf("Children(/) = %v, %v", root, err)
	}

	check(t, second(c.Create(ctx, "/dir/z/deep/er", nil, &client.CreateOptions{Parents: true})))
	tree, err := c.Tree(ctx, "/dir", 1, 0)
	if err != nil || len(tree.Children) != len(names) {
		t.Fatalf("Tree depth 1: %+v, %v", tree, err)
	}
	i := slices.IndexFunc(tree.Children, func(n *client.TreeNode) bool { return n.Path == "/dir/z" })
	if i < 0 || !tree.Children[i].Truncated || len(tree.Children[i].Children) != 0 {
		t.Fatalf("Tree depth 1: %+v, want /dir/z truncated with no children listed", tree.Children)
	}
	tree = must(c.Tree(ctx, "/dir/z", 5, 0))
	if len(tree.Children) != 1 || tree.Children[0].Children[0].Path != "/dir/z/deep/er" {
		t.Fatalf("Tree depth 5: %+v", tree)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestMultiAndSync(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	res, err := c.Multi(ctx,
		client.CreateOp("/m", []byte{0xfe, 0}, nil),
		client.CreateOp("/m/s-", []byte("x"), &client.CreateOptions{Sequential: true}),
		client.SetOp("/m", []byte("two"), 0),
		client.CheckOp("/m", 1),
	)
	if err != nil || len(res) != 4 || res[1].Path != "/m/s-0000000000" || res[2].Stat.Version != 1 {
		t.Fatalf("Multi = %+v, %v", res, err)
	}
	if nd := must(c.Get(ctx, "/m")); string(nd.Data) != "two" {
		t.Fatalf("/m = %q after the multi", nd.Data)
	}
	_, err = c.Multi(ctx, client.CreateOp("/n", nil, nil), client.DeleteOp("/m", 0))
	if i, ok := client.FailedOp(err); !errors.Is(err, client.ErrBadVersion) || !ok || i != 1 {
		t.Fatalf("failing Multi: %#v, want BadVersion at index 1", err)
	}
	if _, ok, _ := c.Exists(ctx, "/n"); ok {
		t.Fatal("a failed multi applied its first op")
	}
	if res, err := c.Multi(ctx); err != nil || len(res) != 0 {
		t.Fatalf("empty Multi = %v, %v", res, err)
	}
	z, err := c.Sync(ctx, "/anything")
	if err != nil || z < c.LastZxid()-1 || z == 0 {
		t.Fatalf("Sync = %d, %v (client saw %d)", z, err, c.LastZxid())
	}
}

func TestSessionOwnsEphemeralsAndStaysAlive(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	s, err := c.NewSession(ctx, 2*time.Second)
	if err != nil || s.Timeout() != 2*time.Second || s.ID() == 0 {
		t.Fatalf("NewSession = %v, %v", s, err)
	}
	p, st, err := s.Create(ctx, "/e-", nil, &client.CreateOptions{Ephemeral: true, Sequential: true})
	if err != nil || st.EphemeralOwner != s.ID() {
		t.Fatalf("ephemeral create = %q %+v, %v", p, st, err)
	}
	// Well past the timeout, the keep-alives have held it.
	deadline := time.Now().Add(3 * s.Timeout())
	for time.Now().Before(deadline) {
		if _, ok, err := c.Exists(ctx, p); !ok || err != nil {
			t.Fatalf("ephemeral gone while its session was kept alive: %v", err)
		}
		select {
		case <-s.Done():
			t.Fatalf("session ended: %v", s.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	info := must(c.SessionInfo(ctx, s.ID()))
	if !slices.Contains(info.Ephemerals, p) {
		t.Fatalf("SessionInfo lists %v, want %s", info.Ephemerals, p)
	}
	if list := must(c.Sessions(ctx)); len(list) != 1 || list[0].ID != s.ID() {
		t.Fatalf("Sessions = %+v", list)
	}
	// Another client may keep the same session alive, and learns its end.
	other := newClient(t, c.Servers()...)
	resumed := must(other.ResumeSession(ctx, s.ID()))
	if resumed.ID() != s.ID() || resumed.Timeout() != s.Timeout() {
		t.Fatalf("ResumeSession = %v/%v, want %v/%v", resumed.ID(), resumed.Timeout(), s.ID(), s.Timeout())
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Exists(ctx, p); ok {
		t.Fatal("the ephemeral outlived the session's Close")
	}
	select {
	case <-resumed.Done():
		if !errors.Is(resumed.Err(), client.ErrSessionExpired) {
			t.Fatalf("the resumed session ended with %v, want SessionExpired", resumed.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the resumed session did not learn of the Close")
	}
	if !errors.Is(s.Err(), client.ErrClosed) {
		t.Fatalf("Err after Close = %v", s.Err())
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSessionEndsWhenExpiredOrLost(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	ctx := testCtx(t, 30*time.Second)

	// Closed by someone else: the next keep-alive learns it.
	s := must(c.NewSession(ctx, 2*time.Second))
	p, _, err := c.InSession(s.ID()).Create(ctx, "/made-by-another", nil, &client.CreateOptions{Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, c.CloseSession(ctx, s.ID()))
	if _, ok, _ := c.Exists(ctx, p); ok {
		t.Fatal("an ephemeral made through InSession outlived CloseSession")
	}
	select {
	case <-s.Done():
		if !errors.Is(s.Err(), client.ErrSessionExpired) {
			t.Fatalf("Err = %v, want SessionExpired", s.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session not reported ended within its timeout")
	}

	// The cluster gone: lost at the deadline (a timeout after the last
	// acknowledged keep-alive was sent), not later: by then the cluster
	// may have expired it and given its locks to others.
	s2 := must(c.NewSession(ctx, 2*time.Second))
	nd.Stop()
	select {
	case <-s2.Done():
		lostAt := time.Now()
		if !errors.Is(s2.Err(), client.ErrSessionLost) {
			t.Fatalf("Err = %v, want ErrSessionLost", s2.Err())
		}
		if early, late := s2.Deadline().Sub(lostAt), lostAt.Sub(s2.Deadline()); early > 0 || late > 200*time.Millisecond {
			t.Fatalf("lost at %v, deadline %v: want at the deadline", lostAt, s2.Deadline())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session not reported lost")
	}
	if _, err := client.New(client.Config{}); err == nil {
		t.Fatal("New with no servers succeeded")
	}
	if _, err := client.New(client.Config{Servers: []string{"ftp://x"}}); err == nil {
		t.Fatal("New with an ftp URL succeeded")
	}
}

func TestOneShotWatches(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	check(t, second(c.Create(ctx, "/w", []byte("1"), nil)))

	nd, dataW, err := c.GetW(ctx, "/w")
	if err != nil || string(nd.Data) != "1" {
		t.Fatalf("GetW = %q, %v", nd.Data, err)
	}
	_, ok, existW, err := c.ExistsW(ctx, "/w/new")
	if err != nil || ok {
		t.Fatalf("ExistsW of a missing node = %v, %v", ok, err)
	}
	kids, _, childW, err := c.ChildrenW(ctx, "/w")
	if err != nil || len(kids) != 0 {
		t.Fatalf("ChildrenW = %v, %v", kids, err)
	}
	if _, _, err := c.GetW(ctx, "/none"); !errors.Is(err, client.ErrNoNode) {
		t.Fatalf("GetW of a missing node: %v", err)
	}

	st := must(c.Set(ctx, "/w", []byte("2"), client.AnyVersion))
	expectEvent(t, dataW, client.EventNodeDataChanged, "/w", st.Mzxid)
	expectClosed(t, dataW) // one-shot: nothing more, even on later changes

	_, st, _ = c.Create(ctx, "/w/new", nil, nil)
	expectEvent(t, existW, client.EventNodeCreated, "/w/new", st.Czxid)
	e := expectEvent(t, childW, client.EventNodeChildrenChanged, "/w", st.Czxid)
	if e.Child != "new" || e.Change != "added" {
		t.Fatalf("child event %+v", e)
	}
	expectClosed(t, childW)
}

func TestOneShotWatchEndsWithNotWatchingWhenItsServerGoes(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	ctx := testCtx(t, 30*time.Second)
	check(t, second(c.Create(ctx, "/w", nil, nil)))
	_, ch, err := c.GetW(ctx, "/w")
	if err != nil {
		t.Fatal(err)
	}
	nd.Stop()
	expectEvent(t, ch, client.EventNotWatching, "/w", 0)
	expectClosed(t, ch)
}

func TestPersistentWatch(t *testing.T) {
	t.Parallel()
	c := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	_, first, _ := c.Create(ctx, "/p", nil, nil)

	only := must(c.Watch(ctx, "/p", nil))
	rec := must(c.Watch(ctx, "/p", &client.WatchOptions{Recursive: true}))
	_, a, _ := c.Create(ctx, "/p/a", nil, nil)
	b := must(c.Set(ctx, "/p/a", []byte("x"), client.AnyVersion))
	check(t, c.Delete(ctx, "/p/a", client.AnyVersion))
	d := must(c.Set(ctx, "/p", []byte("y"), client.AnyVersion))

	expectEvent(t, rec.Events(), client.EventNodeCreated, "/p/a", a.Czxid)
	expectEvent(t, rec.Events(), client.EventNodeDataChanged, "/p/a", b.Mzxid)
	// The delete's zxid is between the set's and the next set's: the node
	// may commit entries of its own (a member record, a barrier) between.
	del := expectEvent(t, rec.Events(), client.EventNodeDeleted, "/p/a", 0)
	if del.Zxid <= b.Mzxid || del.Zxid >= d.Mzxid {
		t.Fatalf("NodeDeleted /p/a @%d, want between %d and %d", del.Zxid, b.Mzxid, d.Mzxid)
	}
	expectEvent(t, rec.Events(), client.EventNodeDataChanged, "/p", d.Mzxid)
	expectEvent(t, only.Events(), client.EventNodeChildrenChanged, "/p", a.Czxid)
	expectEvent(t, only.Events(), client.EventNodeChildrenChanged, "/p", del.Zxid)
	expectEvent(t, only.Events(), client.EventNodeDataChanged, "/p", d.Mzxid)

	// A watch from the past replays what it missed.
	past := must(c.Watch(ctx, "/p", &client.WatchOptions{SinceZxid: first.Czxid, Recursive: true}))
	expectEvent(t, past.Events(), client.EventNodeCreated, "/p/a", a.Czxid)
	past.Close()
	expectDrained(t, past.Events())
	if past.Err() != nil {
		t.Fatalf("Err after Close: %v", past.Err())
	}

	// A context's end ends the watch.
	wctx, cancel := context.WithCancel(ctx)
	w := must(c.Watch(wctx, "/p", nil))
	cancel()
	expectDrained(t, w.Events())
}

func TestWatchFromACompactedZxidFails(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, func(m *server.Main) { m.Limits.WatchHistory = 5 })
	c := newClient(t, nd.URL)
	ctx := testCtx(t, 30*time.Second)
	for i := 0; i < 20; i++ {
		check(t, second(c.Create(ctx, fmt.Sprintf("/n%d", i), nil, nil)))
	}
	_, err := c.Watch(ctx, "/", &client.WatchOptions{Recursive: true, SinceZxid: 1})
	var apiErr *api.Error
	if !errors.Is(err, client.ErrCompacted) || !errors.As(err, &apiErr) || apiErr.OldestZxid == nil {
		t.Fatalf("Watch from zxid 1 with a 5-event history: %v, want Compacted with oldest_zxid", err)
	}
}

func TestWritesSkipAServerThatIsDown(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	// A port nobody listens on, first in the list: every call, writes
	// included, must still succeed (a refused connection sent nothing).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	ctx := testCtx(t, 30*time.Second)
	for i := 0; i < 4; i++ { // the starting server is random: go round
		c := newClient(t, dead, nd.URL)
		if _, _, err := c.Create(ctx, fmt.Sprintf("/k%d", i), nil, nil); err != nil {
			t.Fatalf("create with a dead server in the list: %v", err)
		}
	}
	// Every server down: a read gives up by its deadline, as Unavailable.
	c := newClient(t, dead)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.Get(short, "/k0"); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("Get with no server: %v, want Unavailable", err)
	}
}

func TestStaleReadsSeeTheClientsOwnWrites(t *testing.T) {
	t.Parallel()
	nodes := testnode.StartCluster(t, 3)
	ctx := testCtx(t, 60*time.Second)
	writer := newClient(t, nodes[0].URL)
	for i, nd := range nodes {
		// A stale reader on another node, sharing the writer's zxid
		// knowledge through min_zxid: it must see each write at once.
		reader := writer.Stale()
		st := must(writer.Set(ctx, "/", []byte(fmt.Sprint(i)), client.AnyVersion))
		got := must(reader.Get(ctx, "/"))
		if string(got.Data) != fmt.Sprint(i) || got.Stat.Mzxid < st.Mzxid {
			t.Fatalf("stale read after a write (node %s): %q at mzxid %d, want %d at %d", nd.ID, got.Data, got.Stat.Mzxid, i, st.Mzxid)
		}
	}
}

func expectEvent(t testing.TB, ch <-chan client.Event, typ client.EventType, path string, zxid int64) client.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatalf("channel closed, want %s %s", typ, path)
		}
		if e.Type != typ || e.Path != path || (zxid != 0 && e.Zxid != zxid) {
			t.Fatalf("event %s %s @%d, want %s %s @%d", e.Type, e.Path, e.Zxid, typ, path, zxid)
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("no event; want %s %s", typ, path)
	}
	return client.Event{}
}

func expectClosed(t testing.TB, ch <-chan client.Event) {
	t.Helper()
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed")
	}
}

// expectDrained waits until ch is closed, ignoring events still queued.
func expectDrained(t testing.TB, ch <-chan client.Event) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("channel not closed")
		}
	}
}

func TestBackupAndRestore(t *testing.T) {
	t.Parallel()
	src := newClient(t, testnode.Start(t).URL)
	ctx := testCtx(t, 30*time.Second)
	check(t, second(src.Create(ctx, "/b/c", []byte{1, 2, 3}, &client.CreateOptions{Parents: true})))
	s := must(src.NewSession(ctx, 10*time.Second))
	p, _, err := s.Create(ctx, "/b/e", nil, &client.CreateOptions{Ephemeral: true})
	check(t, err)
	var backup bytes.Buffer
	zxid, err := src.Backup(ctx, &backup)
	if err != nil || zxid == 0 || backup.Len() == 0 {
		t.Fatalf("Backup = %d bytes at zxid %d, %v", backup.Len(), zxid, err)
	}

	dst := newClient(t, testnode.Start(t).URL)
	check(t, dst.Restore(ctx, backup.Bytes()))
	if nd, err := dst.Get(ctx, "/b/c"); err != nil || !bytes.Equal(nd.Data, []byte{1, 2, 3}) {
		t.Fatalf("restored /b/c = %v, %v", nd.Data, err)
	}
	// The session came along, with its ephemeral.
	info, err := dst.SessionInfo(ctx, s.ID())
	if err != nil || !slices.Contains(info.Ephemerals, p) {
		t.Fatalf("restored session: %+v, %v", info, err)
	}
}

func TestCloseEndsEveryWatch(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	c, err := client.New(client.Config{Servers: []string{nd.URL}})
	check(t, err)
	ctx := testCtx(t, 30*time.Second)
	check(t, second(c.Create(ctx, "/x", nil, nil)))
	w := must(c.Watch(ctx, "/x", nil))
	_, oneShot, err := c.GetW(ctx, "/x")
	check(t, err)
	check(t, c.Close())
	expectEvent(t, oneShot, client.EventNotWatching, "/x", 0)
	expectDrained(t, w.Events())
	if !errors.Is(w.Err(), client.ErrClosed) {
		t.Fatalf("Err after the client's Close = %v, want ErrClosed", w.Err())
	}
	if _, err := c.Watch(ctx, "/x", nil); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if _, err := c.Get(ctx, "/x"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}
