package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// cliResult is what a command line left: its output and exit code.
type cliResult struct {
	out, err string
	code     int
}

// canopyAt runs a command line in-process against the node at url.
func canopyAt(t *testing.T, url string, args ...string) cliResult {
	t.Helper()
	return canopyIn(t, url, "", args...)
}

// canopyIn is canopyAt with stdin.
func canopyIn(t *testing.T, url, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := runMain(ctx, append(args, "--server", url), strings.NewReader(stdin), &out, &errb)
	return cliResult{out: out.String(), err: errb.String(), code: code}
}

// ok fails the test unless the command succeeded.
func (r cliResult) ok(t *testing.T) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.err)
	}
	return r
}

// fails fails the test unless the command exited with code and said so
// in one line on stderr (with usage after it for a usage error).
func (r cliResult) fails(t *testing.T, code int) cliResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d; stdout %q, stderr:\n%s", r.code, code, r.out, r.err)
	}
	if !strings.HasPrefix(r.err, "canopy") {
		t.Fatalf("stderr %q does not start with the program's name", r.err)
	}
	if code != exitUsage && strings.Count(r.err, "\n") != 1 {
		t.Fatalf("stderr is not one line:\n%s", r.err)
	}
	return r
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Servers: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustGet reads a node through the client.
func mustGet(t *testing.T, c *client.Client, p string) client.Node {
	t.Helper()
	nd, err := c.Get(ctxT(t), p)
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return nd
}

func exists(t *testing.T, c *client.Client, p string) bool {
	t.Helper()
	_, ok, err := c.Exists(ctxT(t), p)
	if err != nil {
		t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

// bg is a command line running in the background: one that waits
// (watch, session open, create -e) until interrupted.
type bg struct {
	t           *testing.T
	args        []string
	out, errOut *testkit.SyncBuffer
	cancel      context.CancelFunc
	done        chan int
	once        sync.Once
	res         cliResult
}

// background starts a command line; the test's end interrupts it.
func background(t *testing.T, url string, args ...string) *bg {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bg{t: t, args: args, out: &testkit.SyncBuffer{}, errOut: &testkit.SyncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- runMain(ctx, append(args, "--server", url), strings.NewReader(""), b.out, b.errOut) }()
	t.Cleanup(func() { b.stop() })
	return b
}

// stop interrupts the command (as Ctrl-C does) and returns its result.
func (b *bg) stop() cliResult {
	b.cancel()
	return b.wait()
}

// wait waits for the command to end by itself.
func (b *bg) wait() cliResult {
	b.t.Helper()
	b.once.Do(func() {
		select {
		case code := <-b.done:
			b.res = cliResult{out: b.out.String(), err: b.errOut.String(), code: code}
		case <-time.After(15 * time.Second):
			b.cancel()
			b.t.Fatalf("canopy %q still running after 15s", b.args)
		}
	})
	return b.res
}

func TestCreateGetSetDeleteChangeTheTree(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)

	if r := canopyAt(t, nd.URL, "create", "/app", "v1").ok(t); r.out != "created /app\n" {
		t.Errorf("create printed %q", r.out)
	}
	if got := mustGet(t, c, "/app"); string(got.Data) != "v1" {
		t.Errorf("/app holds %q, want v1", got.Data)
	}
	// Data from stdin, byte for byte, and from a file.
	binary := "\x00\xff\x01 not utf-8 \xfe\n"
	canopyIn(t, nd.URL, binary, "create", "/app/bin", "-").ok(t)
	if got := mustGet(t, c, "/app/bin"); string(got.Data) != binary {
		t.Errorf("/app/bin holds %q, want %q", got.Data, binary)
	}
	file := filepath.Join(t.TempDir(), "data")
	os.WriteFile(file, []byte("from a file"), 0o600)
	canopyAt(t, nd.URL, "create", "/app/file", "-f", file).ok(t)
	if got := mustGet(t, c, "/app/file"); string(got.Data) != "from a file" {
		t.Errorf("/app/file holds %q", got.Data)
	}
	// get writes the data raw: what went in comes out.
	if r := canopyAt(t, nd.URL, "get", "/app/bin").ok(t); r.out != binary {
		t.Errorf("get printed %q, want %q", r.out, binary)
	}
	// -p makes the parents; -s numbers the name.
	canopyAt(t, nd.URL, "create", "-p", "/app/x/y/z").ok(t)
	if !exists(t, c, "/app/x/y") {
		t.Error("create -p did not make /app/x/y")
	}
	r := canopyAt(t, nd.URL, "create", "-s", "/app/q-", "job").ok(t)
	seq := strings.TrimPrefix(strings.TrimSpace(r.out), "created ")
	if !strings.HasPrefix(seq, "/app/q-") || len(seq) != len("/app/q-")+10 || !exists(t, c, seq) {
		t.Errorf("create -s printed %q", r.out)
	}

	// set with and without a version.
	if r := canopyAt(t, nd.URL, "set", "/app", "v2", "-v", "0").ok(t); r.out != "updated /app (version 1)\n" {
		t.Errorf("set printed %q", r.out)
	}
	canopyAt(t, nd.URL, "set", "-v", "0", "/app", "stale").fails(t, exitBadVersion)
	canopyIn(t, nd.URL, "v3", "set", "/app", "-").ok(t)
	if got := mustGet(t, c, "/app"); string(got.Data) != "v3" || got.Stat.Version != 2 {
		t.Errorf("/app holds %q at version %d, want v3 at 2", got.Data, got.Stat.Version)
	}

	// delete refuses a parent and a wrong version, deleteall takes all.
	canopyAt(t, nd.URL, "delete", "/app/x").fails(t, exitConflict)
	canopyAt(t, nd.URL, "delete", "-v", "7", "/app/file").fails(t, exitBadVersion)
	if r := canopyAt(t, nd.URL, "delete", "-v", "0", "/app/file").ok(t); r.out != "deleted /app/file\n" {
		t.Errorf("delete printed %q", r.out)
	}
	canopyAt(t, nd.URL, "deleteall", "/app/x").ok(t)
	if exists(t, c, "/app/file") || exists(t, c, "/app/x") || exists(t, c, "/app/x/y/z") {
		t.Error("delete and deleteall left nodes behind")
	}
	if r := canopyAt(t, nd.URL, "sync", "/app").ok(t); !strings.HasPrefix(r.out, "synced at zxid ") {
		t.Errorf("sync printed %q", r.out)
	}
}

func TestCreateNodeKinds(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	canopyAt(t, nd.URL, "create", "-c", "/box").ok(t)
	canopyAt(t, nd.URL, "create", "/box/item").ok(t)
	canopyAt(t, nd.URL, "delete", "/box/item").ok(t)
	// The server reaps an emptied container.
	testkit.WaitFor(t, 15*time.Second, "the emptied container to go", func() bool { return !exists(t, c, "/box") })

	canopyAt(t, nd.URL, "create", "-t", "300ms", "/ttl").ok(t)
	testkit.WaitFor(t, 15*time.Second, "the TTL node to expire", func() bool { return !exists(t, c, "/ttl") })
	canopyAt(t, nd.URL, "create", "-t", "soon", "/ttl").fails(t, exitUsage)
}

func TestFlagsMayFollowArguments(t *testing.T) {
	nd := testnode.Start(t)
	canopyAt(t, nd.URL, "create", "/a", "data").ok(t)
	before := canopyAt(t, nd.URL, "get", "-s", "/a").ok(t)
	after := canopyAt(t, nd.URL, "get", "/a", "-s").ok(t)
	if before.out != after.out || !strings.Contains(after.out, "numChildren = 0") {
		t.Errorf("get -s /a printed\n%s\nget /a -s printed\n%s", before.out, after.out)
	}
	// Global flags before the verb, and "--" before an argument that looks
	// like a flag.
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), []string{"-o", "json", "--server", nd.URL, "session", "ls"}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), `{"sessions":`) {
		t.Fatalf("global flags before a two-word verb: exit %d, %q, %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := runMain(context.Background(), []string{"--server", nd.URL, "-o", "json", "stat", "/a"}, nil, &out, &errb); code != 0 {
		t.Fatalf("global flags before the verb: exit %d: %s", code, errb.String())
	}
	var ps api.PathStat
	if err := json.Unmarshal(out.Bytes(), &ps); err != nil || ps.Path != "/a" {
		t.Errorf("stat -o json printed %q (%v)", out.String(), err)
	}
	out.Reset()
	if code := runMain(context.Background(), []string{"--server=" + nd.URL, "set", "/a", "--", "-5"}, nil, &out, &errb); code != 0 {
		t.Fatalf("set /a -- -5: exit %d: %s", code, errb.String())
	}
	if r := canopyAt(t, nd.URL, "get", "/a").ok(t); r.out != "-5" {
		t.Errorf("after set -- -5, get printed %q", r.out)
	}
}

func TestUsageErrorsExitTwoWithUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"get"},
		{"get", "/a", "/b"},
		{"get", "--no-such-flag", "/a"},
		{"ls", "-R", "-w", "/a"},
		{"get", "-o", "yaml", "/a"},
		{"set", "-v", "x", "/a", "d"},
		{"create", "/a", "data", "-f", "file"},
		{"session"},
		{"session", "frob"},
		{"session", "get", "not-an-id"},
		{"completion", "fish"},
		{"delete", "--timeout", "0s", "/a"},
		{"create", "-t", "-5", "/a"},
		{"import", "--into", "rel", "file"},
	} {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), args, nil, &out, &errb)
		if code != exitUsage {
			t.Errorf("canopy %q: exit %d, want %d (stderr %q)", args, code, exitUsage, errb.String())
		}
		if !strings.HasPrefix(errb.String(), "canopy") || !strings.Contains(errb.String(), "usage:") {
			t.Errorf("canopy %q: stderr has no error and usage:\n%s", args, errb.String())
		}
	}
}

func TestErrorsSayWhatAndExitByKind(t *testing.T) {
	nd := testnode.Start(t)
	canopyAt(t, nd.URL, "create", "/p", "x").ok(t)
	canopyAt(t, nd.URL, "create", "/p/c").ok(t)

	r := canopyAt(t, nd.URL, "get", "/missing").fails(t, exitNoNode)
	if r.err != "canopy: get /missing: NoNode: node does not exist\n" {
		t.Errorf("stderr %q", r.err)
	}
	canopyAt(t, nd.URL, "create", "/p").fails(t, exitConflict)
	r = canopyAt(t, nd.URL, "create", "/no/parent").fails(t, exitNoNode)
	if !strings.Contains(r.err, "-p creates missing parents") {
		t.Errorf("a create under a missing parent does not hint at -p: %q", r.err)
	}
	r = canopyAt(t, nd.URL, "delete", "/p").fails(t, exitConflict)
	if !strings.Contains(r.err, "deleteall") {
		t.Errorf("a delete of a parent does not hint at deleteall: %q", r.err)
	}
	canopyAt(t, nd.URL, "set", "-v", "3", "/p", "y").fails(t, exitBadVersion)
	canopyAt(t, nd.URL, "create", "-e", "--session", "0x1234", "/e").fails(t, exitSession)

	// An unreachable cluster: the servers tried and the way to name others.
	dead := "http://" + testkit.FreePort(t)
	r = canopyAt(t, dead, "get", "/p", "--timeout", "2s").fails(t, exitUnavailable)
	if !strings.Contains(r.err, dead) || !strings.Contains(r.err, "CANOPY_SERVERS") {
		t.Errorf("unreachable: stderr %q names neither the server nor CANOPY_SERVERS", r.err)
	}
}

func TestServersFromFlagsAndEnvironment(t *testing.T) {
	nd := testnode.Start(t)
	canopyAt(t, nd.URL, "create", "/s", "here").ok(t)
	dead := "http://" + testkit.FreePort(t)
	// A dead server first: the client moves on to the next.
	for _, args := range [][]string{
		{"get", "/s", "--server", dead + "," + nd.URL},
		{"get", "/s", "--server", dead, "--server", nd.URL},
	} {
		var out, errb bytes.Buffer
		if code := runMain(context.Background(), args, nil, &out, &errb); code != 0 || out.String() != "here" {
			t.Errorf("canopy %q: exit %d, out %q, err %q", args, code, out.String(), errb.String())
		}
	}
	for _, env := range []string{"CANOPY_SERVERS", "CANOPY_SERVER"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("CANOPY_SERVERS", "")
			t.Setenv(env, nd.URL)
			var out, errb bytes.Buffer
			if code := runMain(context.Background(), []string{"get", "/s"}, nil, &out, &errb); code != 0 || out.String() != "here" {
				t.Errorf("with %s: exit %d, out %q, err %q", env, code, out.String(), errb.String())
			}
		})
	}
}

func TestJSONOutputIsTheAPIShapes(t *testing.T) {
	nd := testnode.Start(t)
	canopyIn(t, nd.URL, "\xff\xfe", "create", "/j", "-").ok(t)
	canopyAt(t, nd.URL, "create", "/j/k", "text").ok(t)

	var data api.NodeData
	decodeJSON(t, canopyAt(t, nd.URL, "get", "-o", "json", "/j").ok(t).out, &data)
	if data.Path != "/j" || data.Encoding != "base64" || data.Data != "//4=" || data.Stat.NumChildren != 1 {
		t.Errorf("get -o json: %+v", data)
	}
	var ls struct {
		Path     string          `json:"path"`
		Children []api.ChildStat `json:"children"`
		Stat     api.Stat        `json:"stat"`
	}
	decodeJSON(t, canopyAt(t, nd.URL, "ls", "-s", "-o", "json", "/j").ok(t).out, &ls)
	if len(ls.Children) != 1 || ls.Children[0].Name != "k" || ls.Children[0].Stat.DataLength != 4 {
		t.Errorf("ls -s -o json: %+v", ls)
	}
	var tree api.TreeNode
	decodeJSON(t, canopyAt(t, nd.URL, "ls", "-R", "-o", "json", "/j").ok(t).out, &tree)
	if tree.Path != "/j" || len(tree.Children) != 1 || tree.Children[0].Path != "/j/k" || tree.Truncated {
		t.Errorf("ls -R -o json: %+v", tree)
	}
	var created api.PathStat
	decodeJSON(t, canopyAt(t, nd.URL, "create", "-o", "json", "-s", "/j/seq-").ok(t).out, &created)
	if !strings.HasPrefix(created.Path, "/j/seq-") || created.Stat.Czxid == 0 {
		t.Errorf("create -o json: %+v", created)
	}
	var cl api.Cluster
	decodeJSON(t, canopyAt(t, nd.URL, "cluster", "status", "-o", "json").ok(t).out, &cl)
	if cl.Leader == nil || len(cl.Members) != 1 {
		t.Errorf("cluster status -o json: %+v", cl)
	}
	if r := canopyAt(t, nd.URL, "cluster", "status").ok(t); !strings.Contains(r.out, "leader "+cl.Leader.ID) {
		t.Errorf("cluster status: %q", r.out)
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if strings.Count(s, "\n") != 1 {
		t.Fatalf("JSON output is not one line: %q", s)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("output %q: %v", s, err)
	}
}

func TestMultiAppliesAllOrNothing(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	req := `{"ops":[{"op":"create","path":"/m","data":"a"},{"op":"set","path":"/m","data":"b"},{"op":"create","path":"/m/x","data":"/w==","encoding":"base64"}]}`
	r := canopyIn(t, nd.URL, req, "multi", "-").ok(t)
	if r.out != "create /m\nset /m (version 1)\ncreate /m/x\n" {
		t.Errorf("multi printed %q", r.out)
	}
	if got := mustGet(t, c, "/m/x"); string(got.Data) != "\xff" {
		t.Errorf("/m/x holds %q", got.Data)
	}
	file := filepath.Join(t.TempDir(), "ops.json")
	os.WriteFile(file, []byte(`{"ops":[{"op":"create","path":"/n"},{"op":"create","path":"/m"}]}`), 0o600)
	r = canopyAt(t, nd.URL, "multi", file).fails(t, exitConflict)
	if !strings.Contains(r.err, "op 1 (create /m)") || !strings.Contains(r.err, "nothing was applied") {
		t.Errorf("multi failure: %q", r.err)
	}
	if exists(t, c, "/n") {
		t.Error("a failed multi applied its first op")
	}
	canopyIn(t, nd.URL, `{"ops":[{"op":"create","paht":"/n"}]}`, "multi", "-").fails(t, exitError)
}

func TestHelpListsEveryVerb(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), []string{"help"}, nil, &out, &errb); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, v := range verbs() {
		if !strings.Contains(out.String(), "  "+v.name+" ") {
			t.Errorf("help does not list %q", v.name)
		}
		var vout bytes.Buffer
		args := append(strings.Fields(v.name), "-h")
		if code := runMain(context.Background(), args, nil, &vout, &errb); code != 0 || !strings.HasPrefix(vout.String(), "usage: canopy "+v.name) {
			t.Errorf("canopy %s -h: exit %d, %q", v.name, code, vout.String())
		}
	}
	if !strings.Contains(out.String(), "Exit codes:") || !strings.Contains(out.String(), "CANOPY_SERVERS") {
		t.Error("help does not document exit codes and CANOPY_SERVERS")
	}
}

// TestBinaryExitCodes runs the built binary: what a shell sees.
func TestBinaryExitCodes(t *testing.T) {
	nd := testnode.Start(t)
	canopyBin := func(stdin string, args ...string) (string, string, int) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "CANOPY_SERVERS="+nd.URL)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if _, stderr, code := canopyBin("", "create", "/b", "-"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	canopyBin("piped data", "set", "/b", "-")
	if out, _, code := canopyBin("", "get", "/b"); code != 0 || out != "piped data" {
		t.Errorf("get: exit %d, %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"get", "/missing"}, exitNoNode},
		{[]string{"create", "/b"}, exitConflict},
		{[]string{"set", "-v", "9", "/b", "x"}, exitBadVersion},
		{[]string{"get"}, exitUsage},
		{[]string{"get", "/b", "--server", "http://" + testkit.FreePort(t), "--timeout", "2s"}, exitUnavailable},
	} {
		_, stderr, code := canopyBin("", tc.args...)
		if code != tc.code || !strings.HasPrefix(stderr, "canopy") {
			t.Errorf("canopy %q: exit %d, want %d; stderr %q", tc.args, code, tc.code, stderr)
		}
	}
}

// TestBinarySignals checks what SIGINT does to the commands that wait,
// on the built binary as a shell runs it: watch ends with exit 0 after
// replaying what --since asked for; create -e closes its session on the
// way out, so its node is gone.
func TestBinarySignals(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	canopyAt(t, nd.URL, "create", "/sig").ok(t)
	since, err := c.Sync(ctxT(t), "/")
	if err != nil {
		t.Fatal(err)
	}
	canopyAt(t, nd.URL, "create", "/sig/a", "1").ok(t)
	canopyAt(t, nd.URL, "set", "/sig/a", "2").ok(t)

	start := func(args ...string) (*exec.Cmd, *testkit.SyncBuffer, *testkit.SyncBuffer) {
		cmd := exec.Command(binary, append(args, "--server", nd.URL)...)
		out, errOut := &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = out, errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, out, errOut
	}
	interrupt := func(cmd *exec.Cmd) int {
		t.Helper()
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			}
			return 0
		case <-time.After(15 * time.Second):
			t.Fatalf("%v still running 15s after SIGINT", cmd.Args)
			return -1
		}
	}

	watch, out, errOut := start("watch", "-r", "--since", strconv.FormatInt(since, 10), "/sig")
	testkit.WaitFor(t, 15*time.Second, "the replayed events", func() bool { return len(lines(out.String())) == 2 })
	if got := lines(out.String()); !strings.HasPrefix(got[0], "NodeCreated /sig/a ") || !strings.HasPrefix(got[1], "NodeDataChanged /sig/a ") {
		t.Errorf("watch --since printed %q", got)
	}
	if code := interrupt(watch); code != 0 {
		t.Errorf("watch after SIGINT: exit %d, stderr %q", code, errOut.String())
	}

	create, out, errOut := start("create", "-e", "/sig/eph")
	testkit.WaitFor(t, 15*time.Second, "the ephemeral node", func() bool { return out.String() == "created /sig/eph\n" })
	if code := interrupt(create); code != 0 {
		t.Errorf("create -e after SIGINT: exit %d, stderr %q", code, errOut.String())
	}
	if exists(t, c, "/sig/eph") {
		t.Error("the ephemeral node outlived create -e's SIGINT")
	}
}

func TestClusterAddAndRemoveChangeTheMembers(t *testing.T) {
	nd := testnode.Start(t)
	// A non-voter needs no quorum of its own: one that does not exist yet
	// is a fine member to add and remove.
	if r := canopyAt(t, nd.URL, "cluster", "add", "--nonvoter", "n9", "127.0.0.1:1", "127.0.0.1:2").ok(t); r.out != "added n9\n" {
		t.Errorf("cluster add printed %q", r.out)
	}
	r := canopyAt(t, nd.URL, "cluster", "status").ok(t)
	if !regexp.MustCompile(`(?m)^  n9 +nonvoter +raft 127\.0\.0\.1:1 +http 127\.0\.0\.1:2$`).MatchString(r.out) {
		t.Errorf("cluster status after add:\n%s", r.out)
	}
	var res memberResult
	decodeJSON(t, canopyAt(t, nd.URL, "cluster", "remove", "n9", "-o", "json").ok(t).out, &res)
	if res.Removed != "n9" {
		t.Errorf("cluster remove -o json: %+v", res)
	}
	if r := canopyAt(t, nd.URL, "cluster", "status").ok(t); strings.Contains(r.out, "n9") {
		t.Errorf("cluster status after remove:\n%s", r.out)
	}
	canopyAt(t, nd.URL, "cluster", "add", "n9").fails(t, exitUsage)
}
