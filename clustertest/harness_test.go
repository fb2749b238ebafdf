package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// electionTimeout is every test node's --election-timeout: the 500 ms
// default. The tests run three or four nodes plus their clients on a
// 2-core CI machine, where a busy node can miss a heartbeat for 100 ms or
// more; at 300 ms (a leader lease of 120 ms) a run beside a CPU hog saw
// leaders step down from such delays alone.
const electionTimeout = 500 * time.Millisecond

var canopyBin string

func TestMain(m *testing.M) {
	// CANOPY_TEST_BINARY runs the tests against a binary built elsewhere
	// (a release build, or while the tree is mid-edit).
	if bin := os.Getenv("CANOPY_TEST_BINARY"); bin != "" {
		canopyBin = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "canopy-clustertest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	canopyBin = filepath.Join(dir, "canopy")
	build := exec.Command("go", "build", "-o", canopyBin, "github.com/canopy-coord/canopy/cmd/canopy")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build canopy: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is a set of canopy processes started by one test.
type cluster struct {
	t        testing.TB
	net      *raftNet
	dataRoot string // each node's data dir is below it
	logDir   string // kept when the test fails
	mu       sync.Mutex
	nodes    []*node
	extra    []string // flags every node gets
	proxied  bool     // raft traffic goes through the fault-injecting proxies
}

// node is one canopy process: its addresses survive restarts, so a node
// comes back on the same ports and data dir.
type node struct {
	c       *cluster
	id      string
	http    string // host:port of the API
	raft    string // host:port raft binds (behind the proxy)
	proxy   *raftProxy
	dataDir string
	logPath string
	args    []string

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	running  bool
	paused   bool
	expected bool // the test asked for the exit
}

// startCluster starts n nodes as a static cluster (--peers) and waits until
// all of them report the same leader. extra flags go to every node.
func startCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	return startClusterWith(t, n, true, extra...)
}

// startClusterWith is startCluster with a choice: proxied false has the
// nodes speak raft to each other directly, which the benchmarks want (a
// proxy adds a hop, and the test process's CPU, to every entry) and which
// makes partition impossible.
func startClusterWith(t testing.TB, n int, proxied bool, extra ...string) *cluster {
	t.Helper()
	// CANOPY_RAFT_LOG_STORE runs the cluster on that log store (make test
	// runs the fault tests on raft-boltdb too); a test's own choice wins.
	if store := os.Getenv("CANOPY_RAFT_LOG_STORE"); store != "" && !slices.Contains(extra, "--raft-log-store") {
		extra = append(extra, "--raft-log-store", store)
	}
	c := &cluster{t: t, net: newRaftNet(), dataRoot: t.TempDir(), extra: extra, proxied: proxied}
	name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_")
	var err error
	if c.logDir, err = os.MkdirTemp("", "canopy-"+name+"-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	for i := 1; i <= n; i++ {
		c.newNode(t, fmt.Sprintf("n%d", i))
	}
	var peers []string
	for _, nd := range c.nodes {
		peers = append(peers, nd.id+"="+nd.raftAdvertise())
	}
	for _, nd := range c.nodes {
		nd.args = append(nd.args, "--peers", strings.Join(peers, ","))
		nd.start(t)
	}
	c.waitAgreed(t, 30*time.Second, c.nodes...)
	return c
}

// newNode allocates a node's ports, proxy and directories; it does not
// start it.
func (c *cluster) newNode(t testing.TB, id string) *node {
	t.Helper()
	nd := &node{c: c, id: id, http: testkit.FreePort(t), raft: testkit.FreePort(t),
		dataDir: filepath.Join(c.dataRoot, id), logPath: filepath.Join(c.logDir, id+".log")}
	if c.proxied {
		p, err := c.net.newProxy(id, nd.raft)
		if err != nil {
			t.Fatal(err)
		}
		nd.proxy = p
	}
	nd.args = append([]string{"serve", "--id", id, "--http", nd.http, "--raft", nd.raft,
		"--raft-advertise", nd.raftAdvertise(), "--data-dir", nd.dataDir,
		"--election-timeout", electionTimeout.String(), "--log-level", "info"}, c.extra...)
	c.mu.Lock()
	c.nodes = append(c.nodes, nd)
	c.mu.Unlock()
	return nd
}

// addNode starts a new node that joins the cluster through joinVia.
func (c *cluster) addNode(t testing.TB, id string, joinVia *node) *node {
	t.Helper()
	nd := c.newNode(t, id)
	nd.args = append(nd.args, "--join", joinVia.url(""))
	nd.start(t)
	return nd
}

// start runs the process; its output is appended to the node's log file.
func (nd *node) start(t testing.TB) {
	t.Helper()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.running {
		t.Fatalf("%s is already running", nd.id)
	}
	logFile, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logFile, "=== test harness: starting %s at %s\n", nd.id, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(canopyBin, nd.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", nd.id, err)
	}
	nd.cmd, nd.exited, nd.running, nd.paused, nd.expected = cmd, make(chan struct{}), true, false, false
	exited := nd.exited
	go func() {
		err := cmd.Wait()
		logFile.Close()
		nd.mu.Lock()
		nd.exitErr, nd.running = err, false
		nd.mu.Unlock()
		close(exited)
	}()
}

// signal sends sig to the process by its PID and, for an exit, waits for it.
func (nd *node) signal(t testing.TB, sig syscall.Signal, wait time.Duration) error {
	t.Helper()
	nd.mu.Lock()
	if !nd.running {
		nd.mu.Unlock()
		t.Fatalf("%s is not running", nd.id)
	}
	cmd, exited := nd.cmd, nd.exited
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		nd.expected = true
	}
	nd.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, nd.id, err)
	}
	if wait == 0 {
		return nil
	}
	select {
	case <-exited:
	case <-time.After(wait):
		t.Fatalf("%s still running %v after %v", nd.id, wait, sig)
	}
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.exitErr
}

// kill is kill -9.
func (nd *node) kill(t testing.TB) {
	t.Helper()
	nd.signal(t, syscall.SIGKILL, 10*time.Second)
	nd.logMark(fmt.Sprintf("killed -9 %s", nd.id))
}

// terminate is SIGTERM: a graceful shutdown that must exit 0.
func (nd *node) terminate(t testing.TB) {
	t.Helper()
	if err := nd.signal(t, syscall.SIGTERM, 20*time.Second); err != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0", nd.id, err)
	}
}

// pause and resume are SIGSTOP and SIGCONT.
func (nd *node) pause(t testing.TB) {
	t.Helper()
	nd.signal(t, syscall.SIGSTOP, 0)
	nd.mu.Lock()
	nd.paused = true
	nd.mu.Unlock()
}

func (nd *node) resume(t testing.TB) {
	t.Helper()
	nd.signal(t, syscall.SIGCONT, 0)
	nd.mu.Lock()
	nd.paused = false
	nd.mu.Unlock()
}

// restart starts the node again on its ports and data dir and waits until
// it answers /readyz.
func (nd *node) restart(t testing.TB) {
	t.Helper()
	nd.start(t)
	testkit.WaitExplained(t, 30*time.Second, nd.id+" ready after restart", func() (bool, string) {
		r := get(nd, "/readyz", time.Second)
		return r.Status == http.StatusOK, r.String()
	})
}

// raftAdvertise is the raft address the other nodes use: its proxy's.
func (nd *node) raftAdvertise() string {
	if nd.proxy == nil {
		return nd.raft
	}
	return nd.proxy.addr()
}

// partition cuts the node off at the raft level; heal reconnects it.
func (nd *node) partition() {
	if nd.proxy == nil {
		panic("partition of a node without a raft proxy")
	}
	nd.c.net.partition(nd.id)
	nd.logMark("partitioned " + nd.id)
}

func (nd *node) heal() {
	nd.c.net.heal(nd.id)
	nd.logMark("healed " + nd.id)
}

// logMark writes a harness line into the node's log, to read it against
// the node's own lines.
func (nd *node) logMark(msg string) {
	f, err := os.OpenFile(nd.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "=== test harness: %s at %s\n", msg, time.Now().UTC().Format(time.RFC3339Nano))
}

// isUp reports a node running, not paused and not cut off.
func (nd *node) isUp() bool {
	nd.mu.Lock()
	up := nd.running && !nd.paused
	nd.mu.Unlock()
	return up && !nd.c.net.isCut(nd.id)
}

func (nd *node) url(path string) string { return "http://" + nd.http + path }

// up lists the nodes running, not paused and not cut off.
func (c *cluster) up() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, nd := range c.nodes {
		if nd.isUp() {
			out = append(out, nd)
		}
	}
	return out
}

func (c *cluster) node(id string) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

// others lists the running nodes but the given ones.
func (c *cluster) others(except ...*node) []*node {
	var out []*node
next:
	for _, nd := range c.up() {
		for _, e := range except {
			if nd == e {
				continue next
			}
		}
		out = append(out, nd)
	}
	return out
}

// info is the node's GET /v1/cluster.
func info(nd *node) (api.Cluster, error) {
	var ci api.Cluster
	r := get(nd, "/v1/cluster", time.Second)
	if err := r.want(http.StatusOK); err != nil {
		return ci, err
	}
	return ci, r.decode(&ci)
}

// waitAgreed waits until every given node reports the same leader, that
// leader is one of them, and every one answers /readyz. It returns the
// leader.
func (c *cluster) waitAgreed(t testing.TB, timeout time.Duration, nodes ...*node) *node {
	t.Helper()
	var leader *node
	testkit.WaitExplained(t, timeout, "nodes agree on a leader", func() (bool, string) {
		var lid string
		var views []string
		for _, nd := range nodes {
			ci, err := info(nd)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", nd.id, err)
			}
			if ci.Leader == nil {
				return false, nd.id + " knows no leader"
			}
			views = append(views, nd.id+"->"+ci.Leader.ID)
			if lid != "" && ci.Leader.ID != lid {
				return false, "views differ: " + strings.Join(views, " ")
			}
			lid = ci.Leader.ID
		}
		leader = c.node(lid)
		if leader == nil || !leader.isUp() {
			return false, "leader " + lid + " is not a running node"
		}
		for _, nd := range append(nodes, leader) {
			if r := get(nd, "/readyz", time.Second); r.Status != http.StatusOK {
				return false, nd.id + " not ready: " + r.String()
			}
		}
		return true, ""
	})
	return leader
}

// leader waits until the running nodes agree on a leader and returns it.
func (c *cluster) leader(t testing.TB) *node {
	t.Helper()
	return c.waitAgreed(t, 20*time.Second, c.up()...)
}

// followers are the running nodes but the leader.
func (c *cluster) followers(t testing.TB) []*node {
	t.Helper()
	return c.others(c.leader(t))
}

// close kills every process the cluster started (by PID), stops the
// proxies, and on failure prints the end of each node's log and keeps the
// log directory.
func (c *cluster) close() {
	c.mu.Lock()
	nodes := append([]*node(nil), c.nodes...)
	c.mu.Unlock()
	var unexpected []string
	for _, nd := range nodes {
		nd.mu.Lock()
		cmd, exited, running := nd.cmd, nd.exited, nd.running
		if exited != nil && !running && !nd.expected {
			unexpected = append(unexpected, fmt.Sprintf("%s exited by itself: %v", nd.id, nd.exitErr))
		}
		nd.mu.Unlock()
		if running {
			cmd.Process.Kill() // SIGKILL works on a stopped process too
			<-exited
		}
	}
	for _, nd := range nodes {
		if nd.proxy != nil {
			nd.proxy.close()
		}
	}
	for _, u := range unexpected {
		c.t.Errorf("%s", u)
	}
	if n := c.net.unidentified.Load(); n > 0 {
		c.t.Logf("note: the raft proxies could not tell the sender of %d connections; cutting a node may not have closed them", n)
	}
	if !c.t.Failed() {
		os.RemoveAll(c.logDir)
		return
	}
	for _, nd := range nodes {
		c.t.Logf("----- last lines of %s's log (%s) -----\n%s", nd.id, nd.logPath, tail(nd.logPath, 80))
	}
	c.t.Logf("node logs kept in %s", c.logDir)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 4*n {
			lines = lines[len(lines)-n:]
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logContains reports whether the node's log has a line containing s.
func (nd *node) logContains(s string) bool {
	b, err := os.ReadFile(nd.logPath)
	return err == nil && strings.Contains(string(b), s)
}

// syncZxid asks nd for a linearizable sync and returns the zxid it names.
func syncZxid(t testing.TB, nd *node) int64 {
	t.Helper()
	var out api.SyncResult
	var last reply
	testkit.WaitExplained(t, 20*time.Second, "sync on "+nd.id, func() (bool, string) {
		last = post(nd, "/v1/sync/", nil, 5*time.Second)
		return last.Status == http.StatusOK, last.String()
	})
	if err := last.decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Zxid
}

// waitCaughtUp waits until nd has applied the leader's commit index as it
// is now.
func (c *cluster) waitCaughtUp(t testing.TB, nd *node) {
	t.Helper()
	leader := c.leader(t)
	li, err := info(leader)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitExplained(t, 30*time.Second, nd.id+" catches up with "+leader.id, func() (bool, string) {
		ci, err := info(nd)
		if err != nil {
			return false, err.Error()
		}
		return ci.AppliedIndex >= int64(li.CommitIndex), fmt.Sprintf("applied %d, leader's commit index %d", ci.AppliedIndex, li.CommitIndex)
	})
}

// waitSameTree waits until each node has applied at least the leader's
// current zxid and answers the same subtree of root, stats included; it
// returns that tree's JSON.
func (c *cluster) waitSameTree(t testing.TB, root string, nodes ...*node) string {
	t.Helper()
	zxid := syncZxid(t, c.leader(t))
	var tree string
	testkit.WaitExplained(t, 30*time.Second, "the same tree of "+root+" on "+ids(nodes), func() (bool, string) {
		var first string
		for i, nd := range nodes {
			r := get(nd, fmt.Sprintf("/v1/tree%s?depth=1000&limit=100000&min_zxid=%d&timeout_ms=1000", root, zxid), 5*time.Second)
			if r.Status != http.StatusOK {
				return false, nd.id + ": " + r.String()
			}
			if i == 0 {
				first = string(r.Body)
				continue
			}
			if string(r.Body) != first {
				return false, fmt.Sprintf("%s and %s differ:\n%s\n%s", nodes[0].id, nd.id, clip(first), clip(string(r.Body)))
			}
		}
		tree = first
		return true, ""
	})
	return tree
}

func ids(nodes []*node) string {
	var s []string
	for _, nd := range nodes {
		s = append(s, nd.id)
	}
	return strings.Join(s, ",")
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// ctxTimeout is a context for one request.
func ctxTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
