// The browser tests' harness: a canopy binary built once, nodes that run
// it, one Chromium shared by the tests, and tabs with waits that survive
// page loads.

package web

// Browser tests of the UI: Debian's Chromium, driven by chromedp, against
// real Canopy nodes. Each node is the canopy binary, built once by the first
// test that needs it and run as a child process on free 127.0.0.1 ports with
// a temporary data directory; it is killed by PID when its test ends (the
// reconnect test kills and restarts one mid-test). One headless Chromium
// serves every test, one tab each.
//
// Without Chromium the tests skip, except under CI=true, where they fail.
// With CANOPY_UI_SHOTS=<dir> they save PNG screenshots of the main views
// there.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/canopy-coord/canopy/internal/testkit"
)

var (
	tmpRoot string // removed after the tests

	buildOnce sync.Once
	canopyBin string
	buildErr  error

	browserOnce   sync.Once
	browserCtx    context.Context
	browserErr    error
	cleanups      []func() // run by TestMain, last first
	chromiumPath  string
	chromiumError string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "canopy-ui-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tmpRoot = dir
	chromiumPath, chromiumError = findChromium()
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

func findChromium() (string, string) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found, ""
		}
		return "", fmt.Sprintf("CHROMIUM=%s is not an executable", p)
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	return "", "Chromium is not installed (apt-get install chromium, or set CHROMIUM=/path/to/chromium)"
}

// needBrowser skips the test without Chromium, or fails it under CI=true.
func needBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	if chromiumPath == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s", chromiumError)
		}
		t.Skip(chromiumError)
	}
}

// --- the canopy node ----------------------------------------------------------

func buildCanopy(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go tool is needed to build canopy: %w", err)
			return
		}
		canopyBin = filepath.Join(tmpRoot, "canopy")
		cmd := exec.Command(goTool, "build", "-o", canopyBin, "github.com/canopy-coord/canopy/cmd/canopy")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/canopy: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return canopyBin
}

type node struct {
	t        *testing.T
	bin, dir string
	http     string
	raft     string
	flags    []string
	cmd      *exec.Cmd
	log      *bytes.Buffer
	waited   chan struct{}
}

// startNode runs a fresh single-node cluster; it is killed when t ends.
func startNode(t *testing.T, flags ...string) *node {
	t.Helper()
	needBrowser(t)
	n := &node{t: t, bin: buildCanopy(t), dir: t.TempDir(), http: testkit.FreePort(t), raft: testkit.FreePort(t), flags: flags}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *node) base() string { return "http://" + n.http }

func (n *node) start() {
	n.t.Helper()
	n.launch("/readyz")
}

// launch starts the node's process and waits until path answers 200:
// /readyz for a node that serves, /healthz for one that cannot yet (a
// cluster member without its quorum).
func (n *node) launch(path string) {
	n.t.Helper()
	n.log = &bytes.Buffer{}
	n.cmd = exec.Command(n.bin, append([]string{"serve", "--http", n.http, "--raft", n.raft, "--data-dir", n.dir, "--log-level", "warn"}, n.flags...)...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	dieWithParent(n.cmd)
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(n.cmd, n.waited)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(n.base() + path)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-n.waited:
			n.t.Fatalf("canopy exited while starting:\n%s", n.log)
		default:
		}
		if time.Now().After(deadline) {
			n.stop()
			n.t.Fatalf("canopy on %s: %s not 200 after 15 s:\n%s", n.http, path, n.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the node's process by its PID and waits for it.
func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.waited
	n.cmd = nil
}

// do sends one REST request; it returns the status and the body.
func (n *node) do(method, path, body string, hdr ...string) (int, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.base()+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// must is do that fails the test unless the status is want.
func (n *node) must(want int, method, path, body string) string {
	n.t.Helper()
	code, b := n.do(method, path, body)
	if code != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	return b
}

func (n *node) data(path string) (int, string) {
	n.t.Helper()
	code, b := n.do("GET", "/v1/nodes"+path, "")
	if code != 200 {
		return code, b
	}
	var d struct{ Data string }
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		n.t.Fatal(err)
	}
	return code, d.Data
}

// multi creates the given paths (parents first) in batches of 1,000.
func (n *node) createMany(paths []string, data string) {
	n.t.Helper()
	for i := 0; i < len(paths); i += 1000 {
		end := min(i+1000, len(paths))
		var ops []map[string]any
		for _, p := range paths[i:end] {
			ops = append(ops, map[string]any{"op": "create", "path": p, "data": data})
		}
		b, _ := json.Marshal(map[string]any{"ops": ops})
		n.must(200, "POST", "/v1/multi", string(b))
	}
}

// --- the browser --------------------------------------------------------------

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	needBrowser(t)
	browserOnce.Do(func() {
		profile, err := os.MkdirTemp(tmpRoot, "chromium-profile")
		if err != nil {
			browserErr = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(profile),
			chromedp.WindowSize(1280, 800),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(quietErrorf))
		cleanups = append(cleanups, func() {
			_ = chromedp.Cancel(ctx) // closes the browser; the allocator kills what is left
			cancelBrowser()
			cancelAlloc()
		})
		browserErr = chromedp.Run(ctx)
		browserCtx = ctx
	})
	if browserErr != nil {
		if os.Getenv("CI") != "true" && strings.Contains(browserErr.Error(), "executable file not found") {
			t.Skip(browserErr)
		}
		t.Fatalf("starting Chromium: %v", browserErr)
	}
	return browserCtx
}

// quietErrorf drops chromedp's complaints about CDP events newer than the
// cdproto it knows (Chromium 15x sends DOM.topLayerElementsUpdated).
func quietErrorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "unhandled node event") || strings.Contains(msg, "unhandled page event") {
		return
	}
	log.Print(msg)
}

type tab struct {
	t   *testing.T
	ctx context.Context
	n   *node
	mu  sync.Mutex
	exc []string
}

// openTab opens a tab of 1280×800 on n's UI at /ui/ + hash, and waits
// until the page is live.
func openTab(t *testing.T, n *node, hash string) *tab {
	t.Helper()
	tb := openTabLoading(t, n, hash)
	tb.waitJS(`document.querySelector('#conn').dataset.state === 'online'`, "the live indicator to be online")
	return tb
}

// openTabLoading opens a tab as openTab does, but waits only until the
// page has loaded: a page that asks for a login first is not live yet.
func openTabLoading(t *testing.T, n *node, hash string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(startBrowser(t))
	ctx, cancelTime := context.WithTimeout(ctx, 45*time.Second)
	tb := &tab{t: t, ctx: ctx, n: n}
	t.Cleanup(func() {
		tb.mu.Lock()
		exc := tb.exc
		tb.mu.Unlock()
		for _, e := range exc {
			t.Errorf("uncaught exception in the page: %s", e)
		}
		cancelTime()
		cancel()
	})
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			tb.mu.Lock()
			tb.exc = append(tb.exc, e.ExceptionDetails.Error())
			tb.mu.Unlock()
		}
	})
	// In front, as a tab a person looks at: a background tab is "hidden",
	// and Chromium then defers rendering work (and dialogs' close events).
	url := n.base() + "/ui/" + hash
	tb.run(page.BringToFront(), chromedp.EmulateViewport(1280, 800), chromedp.Navigate(url))
	tb.waitDocument(url)
	return tb
}

// load opens /ui/ + hash as a fresh page load (via about:blank: a change
// of the fragment alone would not load the page again), and waits until
// the new page is the one evaluated in and has loaded.
func (tb *tab) load(hash string) {
	tb.t.Helper()
	url := tb.n.base() + "/ui/" + hash
	tb.run(chromedp.Navigate("about:blank"), chromedp.Navigate(url))
	tb.waitLoaded(url)
}

// waitLoaded waits until the page evaluated in is url's, fully loaded, and
// live.
func (tb *tab) waitLoaded(url string) {
	tb.t.Helper()
	tb.waitDocument(url)
	tb.waitJS(`document.querySelector('#conn').dataset.state === 'online'`, "the live indicator to be online")
}

// waitDocument waits until the page evaluated in is url's and fully loaded.
func (tb *tab) waitDocument(url string) {
	tb.t.Helper()
	doc, _, _ := strings.Cut(url, "#")
	tb.waitJS(fmt.Sprintf(`location.href.split('#')[0] === %q && document.readyState === 'complete'`, doc), "the page "+url+" to load")
}

func (tb *tab) run(actions ...chromedp.Action) {
	tb.t.Helper()
	if err := chromedp.Run(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// contextGone reports an evaluation that found no JavaScript context to
// run in: the page was being replaced (a navigation, a reload), and the
// new page's context did not exist yet. The expression did not run, so it
// is safe to evaluate again once the new page has one.
func contextGone(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "Cannot find context with specified id") ||
		strings.Contains(err.Error(), "Execution context was destroyed") ||
		strings.Contains(err.Error(), "Inspected target navigated or closed"))
}

// evaluate runs an evaluation, again while the page's context is being
// replaced, for up to 10 s. An evaluation that may have begun (its context
// destroyed midway) is run again only when it is idempotent.
func (tb *tab) evaluate(action chromedp.Action, idempotent bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := chromedp.Run(tb.ctx, action)
		again := contextGone(err) && (idempotent || strings.Contains(err.Error(), "Cannot find context"))
		if !again || time.Now().After(deadline) {
			return err
		}
		select {
		case <-tb.ctx.Done():
			return err
		case <-time.After(30 * time.Millisecond):
		}
	}
}

// js evaluates an expression (awaiting a promise) into res.
func (tb *tab) js(expr string, res any) {
	tb.t.Helper()
	err := tb.evaluate(chromedp.Evaluate(expr, res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }), false)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// waitJS waits up to 10 s for a JavaScript expression to be truthy.
func (tb *tab) waitJS(expr, what string) {
	tb.t.Helper()
	var ok bool
	err := tb.evaluate(chromedp.Poll(expr, &ok, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(30*time.Millisecond)), true)
	if err != nil || !ok {
		var state string
		_ = chromedp.Run(tb.ctx, chromedp.Evaluate(`document.querySelector('#conn').dataset.state + ' | ' + [...document.querySelectorAll('#alerts .alert')].map(a => a.textContent).join(' / ')`, &state))
		tb.t.Fatalf("waiting for %s: %v (page: %s)", what, err, state)
	}
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	var s string
	tb.js(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s)
	return s
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run(chromedp.Click(sel, chromedp.ByQuery, chromedp.NodeVisible))
}

// unnamed lists the controls of the page that have no accessible name, as
// Chromium's accessibility tree computes it.
func (tb *tab) unnamed() []string {
	tb.t.Helper()
	var nodes []*accessibility.Node
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		nodes, err = accessibility.GetFullAXTree().Do(ctx)
		return err
	}))
	controls := map[string]bool{"button": true, "textbox": true, "searchbox": true, "link": true, "tab": true, "treeitem": true,
		"combobox": true, "checkbox": true, "radio": true, "tree": true, "tablist": true, "dialog": true, "toolbar": true, "tabpanel": true}
	var bad []string
	for _, n := range nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		role := strings.Trim(string(n.Role.Value), `"`)
		if !controls[role] {
			continue
		}
		if n.Name == nil || strings.Trim(string(n.Name.Value), `" `) == "" {
			bad = append(bad, fmt.Sprintf("%s (DOM node %d)", role, n.BackendDOMNodeID))
		}
	}
	return bad
}

func row(path string) string { return fmt.Sprintf(`li[data-path=%q]`, path) }

// shot saves a screenshot of the viewport when CANOPY_UI_SHOTS is set.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	dir := os.Getenv("CANOPY_UI_SHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	var png []byte
	// A background tab paints no frames: bring it to the front first.
	tb.run(page.BringToFront(), chromedp.Sleep(150*time.Millisecond), chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) colorScheme(dark bool) {
	v := "light"
	if dark {
		v = "dark"
	}
	tb.run(emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}))
}

// --- the tests ----------------------------------------------------------------

// shared is one node for the tests that do not restart theirs; each test
// works under its own top-level node.
var (
	sharedOnce sync.Once
	sharedNode *node
)

func shared(t *testing.T) *node {
	t.Helper()
	needBrowser(t)
	sharedOnce.Do(func() {
		// Owned by the package, not by the first test: TestMain stops it.
		n := &node{t: t, bin: buildCanopy(t), http: testkit.FreePort(t), raft: testkit.FreePort(t)}
		dir, err := os.MkdirTemp(tmpRoot, "shared-node")
		if err != nil {
			t.Fatal(err)
		}
		n.dir = dir
		n.start()
		sharedNode = n
		cleanups = append(cleanups, n.stop)
	})
	if sharedNode == nil {
		t.Fatal("the shared node did not start")
	}
	sharedNode.t = t
	return sharedNode
}
