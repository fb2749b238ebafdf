package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
)

var binary string

func TestMain(m *testing.M) {
	// Times print in the local zone: one zone for every machine keeps the
	// golden files' columns the same width.
	time.Local = time.UTC
	dir, err := os.MkdirTemp("", "canopy-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "canopy")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build canopy: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a canopy process started by a test.
type proc struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	log  string // the file of its stdout and stderr
}

// startProc runs `canopy serve` on free loopback ports over dataDir and
// waits until it is ready.
func startProc(t testing.TB, dataDir string, extra ...string) *proc {
	t.Helper()
	return startProcOver(t, "http", http.DefaultClient, dataDir, extra...)
}

// startProcOver is startProc for a node whose API is scheme's (https
// when extra has --tls-cert), asked for readiness with client.
func startProcOver(t testing.TB, scheme string, client *http.Client, dataDir string, extra ...string) *proc {
	t.Helper()
	httpAddr, raftAddr := testkit.FreePort(t), testkit.FreePort(t)
	args := append([]string{"serve", "--http", httpAddr, "--raft", raftAddr,
		"--data-dir", dataDir, "--log-level", "warn", "--election-timeout", "200ms"}, extra...)
	cmd := exec.Command(binary, args...)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "canopy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, url: scheme + "://" + httpAddr, done: make(chan error, 1), log: logFile.Name()}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("canopy not ready within 60s; log:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// creates is a write load: workers each creating nodes in a closed loop
// until stopped or until the node goes away, keeping what was acknowledged.
type creates struct {
	mu    sync.Mutex
	acked []string
	done  chan struct{}
	wg    sync.WaitGroup
}

func startCreates(url string, workers int) *creates {
	c := &creates{done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-c.done:
					return
				default:
				}
				path := fmt.Sprintf("/w%d-%d", w, i)
				resp, err := client.Post(url+"/v1/nodes"+path, "text/plain", strings.NewReader("x"))
				if err != nil {
					return // the node has gone: not acknowledged, and the load is over
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					c.mu.Lock()
					c.acked = append(c.acked, path)
					c.mu.Unlock()
				}
			}
		}()
	}
	return c
}

func (c *creates) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acked)
}

// stop ends the load and returns the paths acknowledged.
func (c *creates) stop() []string {
	close(c.done)
	c.wg.Wait()
	return c.acked
}

func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir)
	client := &http.Client{Timeout: 5 * time.Second}
	load := startCreates(p.url, 8)
	// Let the load run, then kill without warning.
	_ = testkit.Poll(10*time.Second, func() (bool, string) { return load.count() >= 300, "" }) // or as many as 10 s gave
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	acked := load.stop()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}

	p2 := startProc(t, dir)
	for _, path := range acked {
		resp, err := client.Get(p2.url + "/v1/stat" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("acknowledged %s is missing after kill -9 and restart (status %d)", path, resp.StatusCode)
		}
	}
	t.Logf("%d acknowledged creates all present after kill -9", len(acked))
}

// sigtermRounds is how many times TestSIGTERMUnderWriteLoadExitsPromptly
// stops a loaded node. The process under test is the same build either
// way, so the race detector's run (which only instruments this test's own
// loop) does a tenth of them; CANOPY_SIGTERM_ROUNDS sets any count.
func sigtermRounds(t *testing.T) int {
	def := 50
	if raceEnabled {
		def = 5
	}
	return testkit.Rounds(t, "CANOPY_SIGTERM_ROUNDS", def)
}

// A node under a write load exits 0 within 5 s of SIGTERM, every time:
// requests in flight get a grace period, then their connections close, and
// the node's Close is bounded whatever raft still holds.
func TestSIGTERMUnderWriteLoadExitsPromptly(t *testing.T) {
	const bound = 5 * time.Second
	var (
		slowest                    time.Duration
		slowestRound, slowestAcked = 0, int64(0)
	)
	for round := range sigtermRounds(t) {
		p := startProc(t, t.TempDir())
		load := startCreates(p.url, 16)
		// SIGTERM at a moment spread over the first writes and a steady
		// load (or as many as 10 s gave).
		want := round % 10 * 30
		_ = testkit.Poll(10*time.Second, func() (bool, string) { return load.count() >= want, "" })
		sent := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.done:
			if err != nil {
				log, _ := os.ReadFile(p.log)
				t.Fatalf("round %d: exit after SIGTERM: %v, want status 0; log:\n%s", round, err, log)
			}
		case <-time.After(bound):
			log, _ := os.ReadFile(p.log)
			t.Fatalf("round %d: still running %v after SIGTERM (%d writes acknowledged); log:\n%s", round, bound, load.count(), log)
		}
		took := time.Since(sent)
		acked := load.stop()
		if took > slowest {
			slowest, slowestRound, slowestAcked = took, round, int64(len(acked))
		}
	}
	t.Logf("slowest exit: %v after SIGTERM, in round %d with %d writes acknowledged", slowest, slowestRound, slowestAcked)
}

func TestServeRefusesUnknownFlagsAndArguments(t *testing.T) {
	for _, args := range [][]string{{"serve", "--no-such-flag"}, {"serve", "extra"}, {"frobnicate"}, {}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err == nil {
			t.Errorf("canopy %v succeeded; want an error", args)
		}
		if len(out) == 0 {
			t.Errorf("canopy %v printed nothing to explain the error", args)
		}
	}
}

func TestVersionPrints(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "canopy ") {
		t.Fatalf("canopy version = %q, %v", out, err)
	}
}

// statusOf reads /v1/status, for tests that look at the node's figures.
func statusOf(t testing.TB, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status body %s: %v", b, err)
	}
	return m
}

func TestRestartServesTheSameTree(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir)
	for i := 0; i < 20; i++ {
		resp, err := http.Post(fmt.Sprintf("%s/v1/nodes/n%02d", p.url, i), "text/plain", strings.NewReader("d"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	before := statusOf(t, p.url)["znode_count"]
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p2 := startProc(t, dir)
	if after := statusOf(t, p2.url)["znode_count"]; after != before {
		t.Fatalf("znode_count %v after restart, %v before", after, before)
	}
}

func TestSnapshotSaveAndRestoreRoundTripATreeWithSessions(t *testing.T) {
	src := startProc(t, t.TempDir())
	post := func(url, body string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := 0; i < 5; i++ {
		if r := post(fmt.Sprintf("%s/v1/nodes/app/k%d?parents", src.url, i), "v"); r.StatusCode != 201 {
			t.Fatalf("create: %d", r.StatusCode)
		}
	}
	var sess struct{ ID string }
	json.NewDecoder(post(src.url+"/v1/sessions", `{"timeout_ms":60000}`).Body).Decode(&sess)
	if r := post(src.url+"/v1/nodes/app/eph?ephemeral", "", "Canopy-Session", sess.ID); r.StatusCode != 201 {
		t.Fatalf("ephemeral: %d", r.StatusCode)
	}
	file := filepath.Join(t.TempDir(), "backup.snap")
	if out, err := exec.Command(binary, "snapshot", "save", file, "--server", src.url).CombinedOutput(); err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}

	dst := startProc(t, t.TempDir())
	post(dst.url+"/v1/nodes/replaced", "x")
	if out, err := exec.Command(binary, "snapshot", "restore", file, "--server", dst.url).CombinedOutput(); err != nil {
		t.Fatalf("snapshot restore: %v\n%s", err, out)
	}
	children := func(url string) string {
		resp, err := http.Get(url + "/v1/children/app")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c struct{ Children []string }
		json.NewDecoder(resp.Body).Decode(&c)
		return strings.Join(c.Children, ",")
	}
	if got, want := children(dst.url), children(src.url); got != want || want == "" {
		t.Fatalf("children after restore %q, want %q", got, want)
	}
	resp, err := http.Get(dst.url + "/v1/sessions/" + sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("session after restore: %d, want 200", resp.StatusCode)
	}
	if resp, _ := http.Get(dst.url + "/v1/stat/replaced"); resp.StatusCode != 404 {
		t.Fatalf("a node the backup does not have survived the restore: %d", resp.StatusCode)
	}
	// Writes go on above the restored zxids.
	if r := post(dst.url+"/v1/nodes/after", "y"); r.StatusCode != 201 {
		t.Fatalf("write after restore: %d", r.StatusCode)
	}
}
