package zkcompat

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The watch comparison: the same sequences of watch-setting reads and
// writes run on ZooKeeper and on Canopy, and the events each watcher
// connection receives are compared, step by step, in order (type and path).
//
// A watcher is one connection: on ZooKeeper a go-zookeeper Conn (one-shot
// watches through GetW, ExistsW and ChildrenW), or, for a watcher that also
// uses addWatch (which go-zookeeper v1.0.4 lacks), a rawZK connection; on
// Canopy one WebSocket at /v1/watch. On both, what is compared is the
// connection's stream of notifications as the server sent them: for
// go-zookeeper that is what its event callback sees (the per-watch channels
// fan one notification out to every matching watch of the connection, see
// the "both-delete" sequence). Writes go through each system's usual client
// (zkMain and REST), as in runSequence.
//
// After every step each watcher syncs (ZooKeeper's sync, Canopy's "sync"
// frame): ZooKeeper queues a watch notification before it answers the write
// that caused it, and Canopy queues it when it applies the write, so the
// events of the step are in before the sync's answer. At the end of a
// sequence, 300 ms and one more sync show that no late event comes.
//
// Each step also lists the events ZooKeeper's documented semantics give
// ("<watcher> <type> <path>"), so that a sequence states what it tests and
// the harness is checked against the real ZooKeeper too. A NodeChildrenChanged
// may add "+name" or "-name": the child and change only Canopy reports.

// wstep is one step of a watch sequence.
type wstep struct {
	do   string // get exists children add write rdelete
	w    int    // the watcher, for the reads
	path string
	mode string // add: persistent, persistentRecursive
	wr   op     // write
	exp  []string
	// anyOrder compares the step's events as multisets: ZooKeeper fires
	// them in an order it does not define (the ephemerals of a closed
	// session: a hash set; a recursive delete: getChildren's order).
	anyOrder bool
}

func getW(w int, p string) wstep      { return wstep{do: "get", w: w, path: p} }
func existsW(w int, p string) wstep   { return wstep{do: "exists", w: w, path: p} }
func childrenW(w int, p string) wstep { return wstep{do: "children", w: w, path: p} }
func addW(w int, p, mode string) wstep {
	return wstep{do: "add", w: w, path: p, mode: mode}
}
func wr(o op, exp ...string) wstep { return wstep{do: "write", wr: o, exp: exp} }

// rdelete deletes a subtree: Canopy's DELETE ?recursive (one command);
// on ZooKeeper what zkCli's deleteall does (ZKUtil.deleteRecursive): list
// the subtree breadth first, then one multi deleting it from the end.
func rdelete(p string, exp ...string) wstep { return wstep{do: "rdelete", path: p, exp: exp} }

func (s wstep) anyOrd() wstep { s.anyOrder = true; return s }

func (s wstep) String() string {
	switch s.do {
	case "write":
		return s.wr.String()
	case "rdelete":
		return "delete -r " + s.path
	case "add":
		return fmt.Sprintf("w%d addWatch %s %s", s.w, s.path, s.mode)
	}
	return fmt.Sprintf("w%d %s(watch) %s", s.w, s.do, s.path)
}

const persistentMode, recursiveMode = "persistent", "persistentRecursive"

type watchSeq struct {
	name     string
	watchers int
	steps    []wstep
	// goZK: for go-zookeeper watchers, what each per-watch channel got by
	// the end ("<label> -> <event>" in the order the watches were set).
	goZK map[int][]string
	// subtreeOrder: check in every step that a node's NodeDeleted comes
	// after those of the nodes below it (a recursive delete removes
	// children first, on both systems).
	subtreeOrder bool
	// zk38Bug names a known ZooKeeper 3.8 bug the sequence runs into:
	// Canopy is compared against the table, and ZooKeeper's deliveries are
	// only logged where they differ from it.
	zk38Bug string
}

var watchSequences = []watchSeq{
	{name: "data", watchers: 1, steps: []wstep{
		wr(create("$/a", "0")),
		getW(0, "$/a"),
		wr(setAny("$/a", "1"), "0 NodeDataChanged $/a"),
		wr(setAny("$/a", "2")), // one-shot: spent
		getW(0, "$/a"),
		getW(0, "$/a"), // the same watch twice: still one event
		existsW(0, "$/a"),
		wr(setAny("$/a", "3"), "0 NodeDataChanged $/a"),
		wr(setAny("$/a", "4")),
		getW(0, "$/a"),
		wr(create("$/a/c", "")), // a child is not a data change
		wr(delAny("$/a/c")),
		wr(delAny("$/a"), "0 NodeDeleted $/a"),
		wr(create("$/a", "")), // the watch went with the delete
		existsW(0, "$/a"),     // exists on an existing node: a data watch
		wr(del("$/a", 0), "0 NodeDeleted $/a"),
		wr(create("$/a", "")),
	}},
	{name: "exists", watchers: 2, steps: []wstep{
		existsW(0, "$/n"),
		existsW(0, "$/n"),
		existsW(1, "$/n"),
		wr(create("$/n", "x"), "0 NodeCreated $/n", "1 NodeCreated $/n"),
		wr(setAny("$/n", "y")),
		wr(delAny("$/n")),
		existsW(0, "$/n"),
		wr(createK("$/n", "", sequential)), // another name: $/n0000000001
		wr(create("$/n/x", "")),            // NoNode: no parent, nothing fires
		wr(multi(0, mCreate("$/n", "", persistent), mSet("$/n", "z", 0)), "0 NodeCreated $/n"),
		existsW(1, "$/n"),
		wr(multi(0, mSet("$/n", "w", 1), mDel("$/n", 2)), "1 NodeDataChanged $/n"),
		existsW(0, "$/n"),
		existsW(1, "$/n"),
		wr(createEph("$/n", "", ephemeral, 1), "0 NodeCreated $/n", "1 NodeCreated $/n"),
		existsW(0, "$/n"),
		wr(closeSession(1), "0 NodeDeleted $/n"),
	}},
	{name: "children", watchers: 1, steps: []wstep{
		wr(create("$/p", "")),
		childrenW(0, "$/p"),
		wr(create("$/p/c1", ""), "0 NodeChildrenChanged $/p +c1"),
		wr(create("$/p/c2", "")), // spent
		childrenW(0, "$/p"),
		wr(setAny("$/p", "data")),    // a data change is no child change
		wr(setAny("$/p/c1", "data")), // nor is a child's data change
		wr(create("$/p/c1/g", "")),   // nor a grandchild
		wr(delAny("$/p/c1/g")),       // same
		wr(delAny("$/p/c1"), "0 NodeChildrenChanged $/p -c1"),
		childrenW(0, "$/p"),
		wr(createK("$/p/s-", "", sequential), "0 NodeChildrenChanged $/p +s-0000000002"),
		childrenW(0, "$/p"),
		childrenW(0, "$/p/c2"),
		wr(delAny("$/p/c2"), "0 NodeDeleted $/p/c2", "0 NodeChildrenChanged $/p -c2"),
		wr(delAny("$/p/s-0000000002")), // spent
		childrenW(0, "$/p"),
		wr(delAny("$/p"), "0 NodeDeleted $/p"), // the child watch fires on the delete
		wr(create("$/p", "")),
		wr(create("$/p/c", "")),
	}},
	// A connection with a data and a child watch on a node that is deleted
	// gets one NodeDeleted: ZooKeeper's server suppresses the child watch's
	// copy for a connection the data watch already notified.
	// go-zookeeper then hands that one notification to every matching
	// watch of the connection (both channels of w0 below).
	{name: "both-delete", watchers: 3, steps: []wstep{
		wr(create("$/n", "")),
		wr(create("$/n/c", "")),
		getW(0, "$/n"),
		childrenW(0, "$/n"),
		existsW(1, "$/n"),
		childrenW(1, "$/n"),
		getW(2, "$/n/c"),
		childrenW(2, "$/n/c"),
		wr(delAny("$/n/c"), "2 NodeDeleted $/n/c", "0 NodeChildrenChanged $/n -c", "1 NodeChildrenChanged $/n -c"),
		childrenW(0, "$/n"),
		childrenW(1, "$/n"),
		wr(delAny("$/n"), "0 NodeDeleted $/n", "1 NodeDeleted $/n"),
		wr(create("$/n", "")),
	}, goZK: map[int][]string{
		0: {"get $/n -> NodeDeleted $/n", "children $/n -> NodeChildrenChanged $/n", "children $/n -> NodeDeleted $/n"},
		1: {"exists $/n -> NodeDeleted $/n", "children $/n -> NodeChildrenChanged $/n", "children $/n -> NodeDeleted $/n"},
		2: {"get $/n/c -> NodeDeleted $/n/c", "children $/n/c -> NodeDeleted $/n/c"},
	}},
	// getData and getChildren on a missing node fail and set no watch.
	{name: "missing", watchers: 1, steps: []wstep{
		getW(0, "$/x"),
		childrenW(0, "$/x"),
		wr(create("$/x", "")),
		wr(create("$/x/c", "")),
		wr(setAny("$/x", "1")),
		wr(delAny("$/x/c")),
		wr(delAny("$/x")),
		existsW(0, "$/x"), // for contrast: this one is set
		getW(0, "$/x"),
		wr(create("$/x", ""), "0 NodeCreated $/x"),
	}},
	{name: "multi", watchers: 2, steps: []wstep{
		wr(create("$/m", "0")),
		wr(create("$/m/old", "")),
		getW(0, "$/m"),
		childrenW(0, "$/m"),
		existsW(0, "$/m/new"),
		getW(1, "$/m/old"),
		wr(multi(0, mCreate("$/m/new", "", persistent), mSet("$/m", "1", 0), mDel("$/m/old", 0)),
			"0 NodeCreated $/m/new", "0 NodeChildrenChanged $/m +new", "0 NodeDataChanged $/m",
			"1 NodeDeleted $/m/old"),
		getW(0, "$/m"),
		childrenW(0, "$/m"),
		getW(1, "$/m/new"),
		// A failing multi changes nothing and fires nothing.
		wr(multi(0, mSet("$/m", "2", -1), mCreate("$/m/x", "", persistent), mCheck("$/m", 99))),
		wr(multi(0, mDel("$/m/new", -1), mCreate("$/m/new", "", persistent), mSet("$/m/new", "v", 0)),
			"0 NodeChildrenChanged $/m -new", "1 NodeDeleted $/m/new"),
		wr(multi(0, mCheck("$/m", 1), mSet("$/m", "3", 1)), "0 NodeDataChanged $/m"),
	}},
	{name: "ephemeral-one", watchers: 1, steps: []wstep{
		wr(createEph("$/g", "", ephemeral, 1)),
		getW(0, "$/g"),
		childrenW(0, "$"),
		wr(closeSession(1), "0 NodeDeleted $/g", "0 NodeChildrenChanged $ -g"),
	}},
	// The ephemerals of a closed session go in one transaction; ZooKeeper
	// takes them from a hash set, so their order is not compared.
	{name: "ephemeral-many", watchers: 2, steps: []wstep{
		wr(create("$/d", "")),
		wr(createEph("$/e", "", ephemeral, 1)),
		wr(createEph("$/d/f", "", ephemeral, 1)),
		wr(createEph("$/d/s-", "", ephemeralSeq, 1)),
		wr(createEph("$/other", "", ephemeral, 2)),
		getW(0, "$/e"),
		existsW(0, "$/d/f"),
		childrenW(0, "$/d"),
		childrenW(0, "$"),
		getW(0, "$/other"),
		addW(1, "$", recursiveMode),
		wr(closeSession(1),
			"0 NodeDeleted $/e", "0 NodeDeleted $/d/f", "0 NodeChildrenChanged $/d", "0 NodeChildrenChanged $ -e",
			"1 NodeDeleted $/e", "1 NodeDeleted $/d/f", "1 NodeDeleted $/d/s-0000000001").anyOrd(),
		wr(closeSession(2), "0 NodeDeleted $/other", "1 NodeDeleted $/other"),
	}},
	// A chain: the order is the same for any children-first delete.
	{name: "rdelete-chain", watchers: 2, steps: []wstep{
		wr(create("$/r", "")),
		wr(create("$/r/a", "")),
		wr(create("$/r/a/x", "")),
		getW(0, "$/r"),
		getW(0, "$/r/a"),
		getW(0, "$/r/a/x"),
		childrenW(0, "$/r"),
		childrenW(0, "$/r/a"),
		childrenW(0, "$"),
		addW(1, "$/r", persistentMode),
		addW(1, "$/r/a/x", recursiveMode),
		rdelete("$/r",
			"0 NodeDeleted $/r/a/x", "0 NodeChildrenChanged $/r/a -x", "0 NodeDeleted $/r/a",
			"0 NodeChildrenChanged $/r -a", "0 NodeDeleted $/r", "0 NodeChildrenChanged $ -r",
			"1 NodeDeleted $/r/a/x", "1 NodeChildrenChanged $/r -a", "1 NodeDeleted $/r"),
		wr(create("$/r", ""), "1 NodeCreated $/r"),
		wr(create("$/r/a", ""), "1 NodeChildrenChanged $/r +a"),
		wr(create("$/r/a/x", ""), "1 NodeCreated $/r/a/x"),
	}},
	// A wider tree: ZooKeeper's deleteall order depends on getChildren's
	// order, so the events are compared as multisets, and on both systems
	// every node must go after the nodes below it.
	{name: "rdelete-wide", watchers: 2, subtreeOrder: true, steps: []wstep{
		wr(create("$/r", "")),
		wr(create("$/r/a", "")),
		wr(create("$/r/a/x", "")),
		wr(create("$/r/a/y", "")),
		wr(create("$/r/b", "")),
		wr(create("$/r/c", "")),
		wr(create("$/r/c/z", "")),
		getW(0, "$/r"),
		childrenW(0, "$/r"),
		getW(0, "$/r/a"),
		getW(0, "$/r/a/x"),
		existsW(0, "$/r/a/y"),
		getW(0, "$/r/b"),
		childrenW(0, "$/r/c"),
		addW(1, "$/r", recursiveMode),
		rdelete("$/r",
			"0 NodeDeleted $/r", "0 NodeChildrenChanged $/r", "0 NodeDeleted $/r/a", "0 NodeDeleted $/r/a/x",
			"0 NodeDeleted $/r/a/y", "0 NodeDeleted $/r/b", "0 NodeChildrenChanged $/r/c",
			"1 NodeDeleted $/r", "1 NodeDeleted $/r/a", "1 NodeDeleted $/r/a/x", "1 NodeDeleted $/r/a/y",
			"1 NodeDeleted $/r/b", "1 NodeDeleted $/r/c", "1 NodeDeleted $/r/c/z").anyOrd(),
	}},
	// A persistent watch: every event of its path (children included), and
	// it stays, across the node's deletion too.
	{name: "persistent", watchers: 2, steps: []wstep{
		addW(0, "$/p", persistentMode),
		addW(1, "$", persistentMode),
		wr(create("$/p", "0"), "0 NodeCreated $/p", "1 NodeChildrenChanged $ +p"),
		wr(setAny("$/p", "1"), "0 NodeDataChanged $/p"),
		wr(setAny("$/p", "2"), "0 NodeDataChanged $/p"),
		wr(create("$/p/c", ""), "0 NodeChildrenChanged $/p +c"),
		wr(create("$/p/d", ""), "0 NodeChildrenChanged $/p +d"),
		wr(setAny("$/p/c", "x")),
		wr(create("$/p/c/g", "")),
		wr(delAny("$/p/c/g")),
		wr(delAny("$/p/c"), "0 NodeChildrenChanged $/p -c"),
		wr(create("$/px", ""), "1 NodeChildrenChanged $ +px"), // a sibling sharing the prefix
		wr(delAny("$/p/d"), "0 NodeChildrenChanged $/p -d"),
		wr(delAny("$/p"), "0 NodeDeleted $/p", "1 NodeChildrenChanged $ -p"),
		wr(create("$/p", ""), "0 NodeCreated $/p", "1 NodeChildrenChanged $ +p"),
		wr(multi(0, mSet("$/p", "m", 0), mCreate("$/p/m", "", persistent)),
			"0 NodeDataChanged $/p", "0 NodeChildrenChanged $/p +m"),
		wr(setAny("$", "root data"), "1 NodeDataChanged $"),
	}},
	// A persistent recursive watch: every event on the path and below,
	// but never NodeChildrenChanged.
	{name: "recursive", watchers: 2, steps: []wstep{
		addW(0, "$/r", recursiveMode),
		addW(1, "$/r/a", recursiveMode),
		wr(create("$/r", "0"), "0 NodeCreated $/r"),
		wr(create("$/r/a", ""), "0 NodeCreated $/r/a", "1 NodeCreated $/r/a"),
		wr(create("$/r/a/b", ""), "0 NodeCreated $/r/a/b", "1 NodeCreated $/r/a/b"),
		wr(setAny("$/r/a/b", "x"), "0 NodeDataChanged $/r/a/b", "1 NodeDataChanged $/r/a/b"),
		wr(setAny("$/r", "1"), "0 NodeDataChanged $/r"),
		wr(create("$/rx", "")),                           // a sibling sharing the prefix
		wr(create("$/r/ab", ""), "0 NodeCreated $/r/ab"), // and one under $/r sharing $/r/a's
		wr(delAny("$/r/a/b"), "0 NodeDeleted $/r/a/b", "1 NodeDeleted $/r/a/b"),
		wr(createK("$/r/a/s-", "", sequential), "0 NodeCreated $/r/a/s-0000000001", "1 NodeCreated $/r/a/s-0000000001"),
		wr(createEph("$/r/e", "", ephemeral, 1), "0 NodeCreated $/r/e"),
		wr(closeSession(1), "0 NodeDeleted $/r/e"),
		wr(multi(0, mDel("$/r/a/s-0000000001", -1), mDel("$/r/a", -1), mCreate("$/r/a", "again", persistent)),
			"0 NodeDeleted $/r/a/s-0000000001", "0 NodeDeleted $/r/a", "0 NodeCreated $/r/a",
			"1 NodeDeleted $/r/a/s-0000000001", "1 NodeDeleted $/r/a", "1 NodeCreated $/r/a"),
		wr(setAny("$", "above")),
	}},
	// A recursive watch and one-shot watches on one connection: the
	// one-shot child watch still sees NodeChildrenChanged, and an event
	// that several watches of the connection match comes once.
	{name: "recursive-mixed", watchers: 1, steps: []wstep{
		wr(create("$/r", "")),
		addW(0, "$/r", recursiveMode),
		childrenW(0, "$/r"),
		wr(create("$/r/c", ""), "0 NodeCreated $/r/c", "0 NodeChildrenChanged $/r +c"),
		wr(create("$/r/d", ""), "0 NodeCreated $/r/d"),
		getW(0, "$/r/c"),
		existsW(0, "$/r/c"),
		wr(setAny("$/r/c", "1"), "0 NodeDataChanged $/r/c"),
		wr(setAny("$/r/c", "2"), "0 NodeDataChanged $/r/c"),
		childrenW(0, "$/r/c"),
		wr(delAny("$/r/c"), "0 NodeDeleted $/r/c"),
	}},
	// A recursive watch and a persistent one below it on one connection:
	// each event once.
	{name: "persistent-mixed", watchers: 1, steps: []wstep{
		addW(0, "$/a", recursiveMode),
		addW(0, "$/a/b", persistentMode),
		wr(create("$/a", ""), "0 NodeCreated $/a"),
		wr(create("$/a/b", ""), "0 NodeCreated $/a/b"),
		wr(create("$/a/b/c", ""), "0 NodeCreated $/a/b/c", "0 NodeChildrenChanged $/a/b +c"),
		wr(setAny("$/a/b", "x"), "0 NodeDataChanged $/a/b"),
		wr(delAny("$/a/b/c"), "0 NodeDeleted $/a/b/c", "0 NodeChildrenChanged $/a/b -c"),
		wr(delAny("$/a/b"), "0 NodeDeleted $/a/b"),
		wr(create("$/a/b", ""), "0 NodeCreated $/a/b"),
	}},
	// Two modes on the same path and connection. ZooKeeper 3.8 keeps one
	// mode per path and connection, and the later watch replaces the
	// earlier (fixed in 3.9 by ZOOKEEPER-4466, apache/zookeeper#1859): a
	// getData(watch) turns a persistent watch into a one-shot one, and
	// addWatch persistentRecursive after persistent loses the
	// NodeChildrenChanged. The table gives the fixed semantics (each
	// watch as if alone), which Canopy is compared against; what the
	// ZooKeeper under test delivers is only logged.
	{name: "same-path-modes", watchers: 1, zk38Bug: "ZOOKEEPER-4466", steps: []wstep{
		addW(0, "$/a", persistentMode),
		wr(create("$/a", ""), "0 NodeCreated $/a"),
		getW(0, "$/a"),
		wr(setAny("$/a", "1"), "0 NodeDataChanged $/a"),
		wr(setAny("$/a", "2"), "0 NodeDataChanged $/a"),
		childrenW(0, "$/a"),
		wr(create("$/a/c", ""), "0 NodeChildrenChanged $/a +c"),
		wr(create("$/a/d", ""), "0 NodeChildrenChanged $/a +d"),
		addW(0, "$/b", persistentMode),
		addW(0, "$/b", recursiveMode),
		wr(create("$/b", ""), "0 NodeCreated $/b"),
		wr(create("$/b/c", ""), "0 NodeCreated $/b/c", "0 NodeChildrenChanged $/b +c"),
		wr(create("$/b/c/d", ""), "0 NodeCreated $/b/c/d"),
		wr(delAny("$/b/c/d"), "0 NodeDeleted $/b/c/d"),
		wr(delAny("$/b/c"), "0 NodeDeleted $/b/c", "0 NodeChildrenChanged $/b -c"),
	}},
}

func TestCompareWatches(t *testing.T) {
	needSystems(t)
	for _, s := range watchSequences {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			runWatchSequence(t, s)
		})
	}
}

// ---------------------------------------------------------------- watchers

// watcher is one watching connection. Paths are absolute; events come as
// "<type> <path>".
type watcher interface {
	get(p string) string
	exists(p string) (bool, string)
	children(p string) string
	addWatch(p, mode string) string
	// barrier returns once every event caused by a write that has
	// completed before the call has been received.
	barrier() error
	take() ([]string, error)
	close()
}

// zkGoWatcher is a go-zookeeper connection. Its event callback sees each
// notification the server sends once; the channels that GetW, ExistsW and
// ChildrenW return are kept to show how go-zookeeper hands them out.
type zkGoWatcher struct {
	c     *zk.Conn
	mu    sync.Mutex
	wire  []string
	chans []labeledWatch
}

type labeledWatch struct {
	label string
	ch    <-chan zk.Event
}

func zkEventName(t zk.EventType) string { return strings.TrimPrefix(t.String(), "Event") }

func dialZKGo() (*zkGoWatcher, error) {
	w := &zkGoWatcher{}
	c, events, err := zk.Connect([]string{zkAddr}, 10*time.Second,
		zk.WithLogInfo(false), zk.WithLogger(quietLogger{}),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession {
				return
			}
			w.mu.Lock()
			w.wire = append(w.wire, zkEventName(ev.Type)+" "+ev.Path)
			w.mu.Unlock()
		}))
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil, errors.New("zk event channel closed")
			}
			if ev.State == zk.StateHasSession {
				w.c = c
				return w, nil
			}
		case <-timer.C:
			c.Close()
			return nil, errors.New("no zookeeper session within 10 s")
		}
	}
}

func (w *zkGoWatcher) keep(label string, ch <-chan zk.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chans = append(w.chans, labeledWatch{label, ch})
}

func (w *zkGoWatcher) get(p string) string {
	_, _, ch, err := w.c.GetW(p)
	if err == nil {
		w.keep("get "+p, ch)
	}
	return zkCode(err)
}

func (w *zkGoWatcher) exists(p string) (bool, string) {
	ok, _, ch, err := w.c.ExistsW(p)
	if err == nil {
		w.keep("exists "+p, ch)
	}
	return ok, zkCode(err)
}

func (w *zkGoWatcher) children(p string) string {
	_, _, ch, err := w.c.ChildrenW(p)
	if err == nil {
		w.keep("children "+p, ch)
	}
	return zkCode(err)
}

func (w *zkGoWatcher) addWatch(p, mode string) string {
	return "unsupported(go-zookeeper has no addWatch)"
}

func (w *zkGoWatcher) barrier() error {
	_, err := w.c.Sync("/")
	return err
}

func (w *zkGoWatcher) take() ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	evs := w.wire
	w.wire = nil
	return evs, nil
}

// channels reports what each per-watch channel received: "<label> ->
// <type> <path>", "(nothing)" for a channel that has not fired.
func (w *zkGoWatcher) channels(rel func(string) string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, lw := range w.chans {
		got := "(nothing)"
		select {
		case ev, ok := <-lw.ch:
			if ok {
				got = zkEventName(ev.Type) + " " + rel(ev.Path)
			}
		default:
		}
		kind, p, _ := strings.Cut(lw.label, " ")
		out = append(out, kind+" "+rel(p)+" -> "+got)
	}
	return out
}

func (w *zkGoWatcher) close() { w.c.Close() }

// zkRawWatcher is a rawZK connection: addWatch and one-shot watches.
type zkRawWatcher struct{ z *rawZK }

var zkEventTypes = map[int32]string{1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}

func (w zkRawWatcher) get(p string) string            { return w.z.getData(p, true) }
func (w zkRawWatcher) exists(p string) (bool, string) { return w.z.exists(p, true) }
func (w zkRawWatcher) children(p string) string       { return w.z.getChildren(p, true) }
func (w zkRawWatcher) barrier() error                 { return w.z.sync("/") }
func (w zkRawWatcher) close()                         { w.z.close() }

func (w zkRawWatcher) addWatch(p, mode string) string {
	m := int32(addWatchPersistent)
	if mode == recursiveMode {
		m = addWatchPersistentRecursive
	}
	return w.z.addWatch(p, m)
}

func (w zkRawWatcher) take() ([]string, error) {
	evs, err := w.z.takeEvents()
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		name, ok := zkEventTypes[e.Type]
		if !ok {
			name = fmt.Sprintf("type%d(state %d)", e.Type, e.State)
		}
		out = append(out, name+" "+e.Path)
	}
	return out, err
}

// canopyWatcher is a WebSocket at /v1/watch. The full events (zxid, child,
// change) are kept for the child checks and the messages.
type canopyWatcher struct {
	c    *wsClient
	full []wsEvent
}

func (w *canopyWatcher) get(p string) string {
	return wsCode(w.c.call("getData", map[string]any{"path": p, "watch": true}))
}

func (w *canopyWatcher) exists(p string) (bool, string) {
	a, err := w.c.call("exists", map[string]any{"path": p, "watch": true})
	if code := wsCode(a, err); code != "" {
		return false, code
	}
	var r struct {
		Stat json.RawMessage `json:"stat"`
	}
	if err := json.Unmarshal(a.Result, &r); err != nil {
		return false, "badjson(" + err.Error() + ")"
	}
	return len(r.Stat) > 0 && string(r.Stat) != "null", ""
}

func (w *canopyWatcher) children(p string) string {
	return wsCode(w.c.call("getChildren", map[string]any{"path": p, "watch": true}))
}

func (w *canopyWatcher) addWatch(p, mode string) string {
	return wsCode(w.c.call("addWatch", map[string]any{"path": p, "mode": mode}))
}

func (w *canopyWatcher) barrier() error {
	if code := wsCode(w.c.call("sync", map[string]any{"path": "/"})); code != "" {
		return errors.New(code)
	}
	return nil
}

func (w *canopyWatcher) take() ([]string, error) {
	evs, err := w.c.takeEvents()
	w.full = evs
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Type+" "+e.Path)
	}
	return out, err
}

func (w *canopyWatcher) close() { w.c.close() }

// ---------------------------------------------------------------- runner

// wside is one system's half of a watch sequence.
type wside struct {
	*side
	watchers []watcher
}

// relEvents turns "<type> <abs path>" into "<type> $...".
func (s *wside) relEvents(evs []string) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		typ, p, _ := strings.Cut(e, " ")
		out[i] = typ + " " + s.rel(p)
	}
	return out
}

// run does one step; the outcome is comparable between the systems.
func (s *wside) run(st wstep) string {
	switch st.do {
	case "get":
		return s.watchers[st.w].get(s.abs(st.path))
	case "exists":
		ok, code := s.watchers[st.w].exists(s.abs(st.path))
		return fmt.Sprintf("exists=%v %s", ok, code)
	case "children":
		return s.watchers[st.w].children(s.abs(st.path))
	case "add":
		return s.watchers[st.w].addWatch(s.abs(st.path), st.mode)
	case "rdelete":
		return s.deleteRecursive(s.abs(st.path))
	case "write":
		o := st.wr
		if o.do == "close" {
			var owner uint64
			for id, n := range s.sys.sessions() {
				if n == o.sess {
					owner = id
				}
			}
			out := s.exec(o, map[string]*nstat{})
			if _, isZK := s.sys.(*zkSystem); isZK && out.Code == "" {
				// go-zookeeper's Close returns before the server has
				// closed the session.
				s.waitEphemeralsGone(owner)
			}
			return out.Code
		}
		out := s.exec(o, map[string]*nstat{})
		if out.FailedOp != nil {
			return fmt.Sprintf("%s (op %d)", out.Code, *out.FailedOp)
		}
		return out.Code
	}
	panic("unknown watch step " + st.do)
}

func (s *wside) deleteRecursive(p string) string {
	switch sys := s.sys.(type) {
	case *canopySystem:
		_, _, code := sys.call("DELETE", nodeRoute(p), "recursive", nil, 0, 204)
		return code
	case *zkSystem:
		// ZKUtil.listSubTreeBFS, then deleteInBatch: leaves first.
		tree := []string{p}
		for i := 0; i < len(tree); i++ {
			ch, _, err := zkMain.Children(tree[i])
			if err != nil {
				return zkCode(err)
			}
			for _, c := range ch {
				tree = append(tree, tree[i]+"/"+c)
			}
		}
		ops := make([]any, 0, len(tree))
		for i := len(tree) - 1; i >= 0; i-- {
			ops = append(ops, &zk.DeleteRequest{Path: tree[i], Version: -1})
		}
		_, err := zkMain.Multi(ops...)
		return zkCode(err)
	}
	panic("unknown system")
}

// collect waits for the events of the last step on every watcher.
func (s *wside) collect() ([][]string, error) {
	out := make([][]string, len(s.watchers))
	for i, w := range s.watchers {
		if err := w.barrier(); err != nil {
			return nil, fmt.Errorf("%s watcher %d: sync: %v", s.sys.name(), i, err)
		}
		evs, err := w.take()
		if err != nil {
			return nil, fmt.Errorf("%s watcher %d: connection: %v", s.sys.name(), i, err)
		}
		out[i] = s.relEvents(evs)
	}
	return out, nil
}

// expected splits a step's "<watcher> <type> <path> [+child|-child]"
// lines by watcher: the comparable "<type> <path>" and the lines as given.
func expected(st wstep, n int) (cmp, full [][]string) {
	cmp, full = make([][]string, n), make([][]string, n)
	for _, e := range st.exp {
		f := strings.Fields(e)
		var w int
		if len(f) < 3 || len(f) > 4 {
			panic("bad expectation " + e)
		}
		if _, err := fmt.Sscanf(f[0], "%d", &w); err != nil || w < 0 || w >= n {
			panic("bad watcher in expectation " + e)
		}
		cmp[w] = append(cmp[w], f[1]+" "+f[2])
		full[w] = append(full[w], strings.Join(f[1:], " "))
	}
	return cmp, full
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func sameEvents(a, b []string, anyOrder bool) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	if anyOrder {
		return reflect.DeepEqual(sortedCopy(a), sortedCopy(b))
	}
	return reflect.DeepEqual(a, b)
}

func list(evs []string) string {
	if len(evs) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(evs, ", ") + "]"
}

// subtreeOrderProblem returns a NodeDeleted that comes before the
// NodeDeleted of a node below it, or "".
func subtreeOrderProblem(evs []string) string {
	var deleted []string
	for _, e := range evs {
		if p, ok := strings.CutPrefix(e, "NodeDeleted "); ok {
			deleted = append(deleted, p)
		}
	}
	for i, p := range deleted {
		for _, q := range deleted[i+1:] {
			if strings.HasPrefix(q, p+"/") {
				return fmt.Sprintf("%s deleted before %s", p, q)
			}
		}
	}
	return ""
}

// checkChildren compares Canopy's child/change of NodeChildrenChanged with
// the "+name"/"-name" the table gives: each must be among the events.
func checkChildren(c *checker, step string, w int, exp []string, got []wsEvent) {
	var want []string
	for _, e := range exp {
		if f := strings.Fields(e); f[0] == "NodeChildrenChanged" && len(f) == 3 {
			want = append(want, f[1]+" "+f[2])
		}
	}
	if len(want) == 0 {
		return
	}
	have := map[string]int{}
	var shown []string
	for _, e := range got {
		if e.Type == "NodeChildrenChanged" {
			sign := "-"
			if e.Change == "added" {
				sign = "+"
			}
			have[e.Path+" "+sign+e.Child]++
			shown = append(shown, fmt.Sprintf("%s child=%q change=%q", e.Path, e.Child, e.Change))
		}
	}
	for _, x := range want {
		if have[x] == 0 {
			c.errorf(fmt.Sprintf("child %s w%d %s", step, w, x),
				"%s: watcher %d: canopy's NodeChildrenChanged events are %v, want one for %s", step, w, shown, x)
			continue
		}
		have[x]--
	}
}

// runWatchSequence runs a watch sequence on both systems in lockstep under
// a fresh root "/watch-<name>-<n>" and compares the events of every step.
func runWatchSequence(t *testing.T, seq watchSeq) {
	t.Helper()
	n := seqCounter.Add(1)
	root := fmt.Sprintf("/watch-%s-%d", seq.name, n)
	zs0, cs0 := newSides(t, root)
	zs, cs := &wside{side: zs0}, &wside{side: cs0}
	c := &checker{t: t, name: seq.name, reported: map[string]bool{}, last: map[string][2]int64{}}

	if zo, co := zs.exec(create("$", ""), nil), cs.exec(create("$", ""), nil); zo.Code != "" || co.Code != "" {
		t.Fatalf("%s: creating the root %s: zookeeper %q, canopy %q", seq.name, root, zo.Code, co.Code)
	}

	// A ZooKeeper watcher that uses addWatch speaks the protocol itself.
	raw := make([]bool, seq.watchers)
	for _, st := range seq.steps {
		if st.do == "add" {
			raw[st.w] = true
		}
	}
	var canopyWS []*wsClient
	for i := 0; i < seq.watchers; i++ {
		var zw watcher
		if raw[i] {
			z, err := dialRawZK()
			if err != nil {
				t.Fatalf("%s: zookeeper watcher %d: %v", seq.name, i, err)
			}
			zw = zkRawWatcher{z}
		} else {
			g, err := dialZKGo()
			if err != nil {
				t.Fatalf("%s: zookeeper watcher %d: %v", seq.name, i, err)
			}
			zw = g
		}
		t.Cleanup(zw.close)
		zs.watchers = append(zs.watchers, zw)
		ws, err := dialWS()
		if err != nil {
			t.Fatalf("%s: canopy watcher %d: %v", seq.name, i, err)
		}
		t.Cleanup(ws.close)
		canopyWS = append(canopyWS, ws)
		cs.watchers = append(cs.watchers, &canopyWatcher{c: ws})
	}

	compare := func(step string, st wstep) bool {
		zev, err := zs.collect()
		if err != nil {
			t.Errorf("%s: %s: %v", seq.name, step, err)
			return false
		}
		cev, err := cs.collect()
		if err != nil {
			t.Errorf("%s: %s: %v", seq.name, step, err)
			return false
		}
		want, wantFull := expected(st, seq.watchers)
		for w := 0; w < seq.watchers; w++ {
			if seq.zk38Bug != "" {
				if !sameEvents(zev[w], want[w], st.anyOrder) {
					t.Logf("%s: %s: watcher %d: zookeeper delivered %s, the table (without %s) expects %s",
						seq.name, step, w, list(zev[w]), seq.zk38Bug, list(want[w]))
				}
				zev[w] = want[w] // Canopy is compared against the table
			} else if !sameEvents(zev[w], want[w], st.anyOrder) {
				c.errorf(fmt.Sprintf("table %s w%d", step, w),
					"%s: watcher %d: zookeeper delivered %s, the table expects %s (the table or the harness is wrong)",
					step, w, list(zev[w]), list(want[w]))
			}
			full := cs.watchers[w].(*canopyWatcher).full
			if !sameEvents(cev[w], zev[w], st.anyOrder) {
				var detail []string
				for _, e := range full {
					e.Path = cs.rel(e.Path)
					detail = append(detail, e.String())
				}
				c.errorf(fmt.Sprintf("events %s w%d", step, w),
					"%s: watcher %d:\n\tzookeeper: %s\n\tcanopy:    %s", step, w, list(zev[w]), list(detail))
			} else {
				rel := make([]wsEvent, len(full))
				for i, e := range full {
					e.Path = cs.rel(e.Path)
					rel[i] = e
				}
				checkChildren(c, step, w, wantFull[w], rel)
			}
			if seq.subtreeOrder {
				if p := subtreeOrderProblem(zev[w]); p != "" {
					c.errorf(fmt.Sprintf("zk order %s w%d", step, w), "%s: watcher %d: zookeeper: %s in %s", step, w, p, list(zev[w]))
				}
				if p := subtreeOrderProblem(cev[w]); p != "" {
					c.errorf(fmt.Sprintf("cp order %s w%d", step, w), "%s: watcher %d: canopy: %s in %s", step, w, p, list(cev[w]))
				}
				if st.anyOrder && len(zev[w]) > 0 {
					t.Logf("%s: %s: watcher %d: zookeeper order %s; canopy order %s", seq.name, step, w, list(zev[w]), list(cev[w]))
				}
			}
		}
		return true
	}

	for i, st := range seq.steps {
		step := fmt.Sprintf("step %d [%s]", i+1, st)
		zo := zs.run(st)
		co := cs.run(st)
		if zo != co {
			c.errorf("outcome "+step, "%s: outcome: zookeeper %q, canopy %q", step, zo, co)
		}
		if !compare(step, st) {
			return
		}
	}
	// Nothing more may come.
	time.Sleep(300 * time.Millisecond)
	compare("after the last step (300 ms later)", wstep{})

	for w, want := range seq.goZK {
		g, ok := zs.watchers[w].(*zkGoWatcher)
		if !ok {
			t.Fatalf("%s: watcher %d is not a go-zookeeper one", seq.name, w)
		}
		if got := g.channels(zs.rel); !reflect.DeepEqual(got, want) {
			c.errorf(fmt.Sprintf("gozk %d", w), "go-zookeeper watcher %d's channels got %q, want %q", w, got, want)
		}
	}
	for i, ws := range canopyWS {
		for _, p := range ws.takeProblems() {
			c.errorf("ws "+p, "canopy watcher %d: %s", i, p)
		}
	}
	checkTransport(t, cs.side)
}
