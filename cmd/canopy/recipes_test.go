package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// recipeOutput is a bytes.Buffer safe to read while a verb writes to it.
type recipeOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *recipeOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *recipeOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runRecipeVerb runs a canopy command line in-process against server.
// --server goes first, as a global flag: after the verb's words it could
// fall after "--", into the command.
func runRecipeVerb(ctx context.Context, server string, args ...string) (stdout, stderr string, err error) {
	var out, errb recipeOutput
	args = append([]string{"--server", server}, args...)
	err = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), err
}

// recipeMain is runRecipeVerb through runMain: what a shell sees, the
// exit code included.
func recipeMain(ctx context.Context, server string, args ...string) cliResult {
	var out, errb recipeOutput
	code := runMain(ctx, append([]string{"--server", server}, args...), strings.NewReader(""), &out, &errb)
	return cliResult{out: out.String(), err: errb.String(), code: code}
}

func recipeContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func nodeClient(t *testing.T, nd *testnode.Node) *client.Client {
	c, err := client.New(client.Config{Servers: []string{nd.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitForRecipe(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func TestLockVerbRunsCommandsOneAtATimeWithGrowingTokens(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	log := filepath.Join(t.TempDir(), "log")
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, stderr, err := runRecipeVerb(ctx, nd.URL, "lock", "/cli/lock", "--",
				"sh", "-c", `echo "start $CANOPY_FENCING_TOKEN" >> "$0"; sleep 0.1; echo "end $CANOPY_FENCING_TOKEN" >> "$0"`, log)
			if err != nil {
				t.Errorf("lock: %v\n%s", err, stderr)
			}
		})
	}
	wg.Wait()
	data, _ := os.ReadFile(log)
	lines := strings.Fields(strings.ReplaceAll(string(data), "\n", " "))
	if len(lines) != 12 {
		t.Fatalf("log %q: want 3 start/end pairs", data)
	}
	var last int64
	for i := 0; i < len(lines); i += 4 {
		start, tok, end, tok2 := lines[i], lines[i+1], lines[i+2], lines[i+3]
		n, _ := strconv.ParseInt(tok, 10, 64)
		if start != "start" || end != "end" || tok != tok2 || n <= last {
			t.Fatalf("commands overlapped, or tokens did not grow:\n%s", data)
		}
		last = n
	}
	if kids, _, err := nodeClient(t, nd).Children(ctx, "/cli/lock"); err != nil || len(kids) != 0 {
		t.Errorf("lock nodes left after the commands: %v, %v", kids, err)
	}
}

func TestLockVerbFailsWhenTheCommandFailsAndReleases(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	_, _, err := runRecipeVerb(ctx, nd.URL, "lock", "/cli/fail", "--", "sh", "-c", "exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("lock of a failing command: %v, want its exit status", err)
	}
	if kids, _, _ := nodeClient(t, nd).Children(ctx, "/cli/fail"); len(kids) != 0 {
		t.Errorf("lock not released after the command failed: %v", kids)
	}
	if _, _, err := runRecipeVerb(ctx, nd.URL, "lock", "/cli/fail"); err == nil {
		t.Error("lock without a command succeeded")
	}
}

// The rule of the holding verbs: when the hold is lost while the command
// runs, the command gets SIGTERM and canopy fails.
func TestLockVerbSignalsTheCommandWhenTheSessionIsLost(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	dir := t.TempDir()
	ready, termed := filepath.Join(dir, "ready"), filepath.Join(dir, "termed")
	done := make(chan error, 1)
	go func() {
		_, _, err := runRecipeVerb(ctx, nd.URL, "lock", "--session-timeout", "2s", "--kill-after", "5s", "/cli/lost", "--",
			"sh", "-c", `trap 'echo TERM > "$1"; exit 143' TERM; touch "$0"; while :; do sleep 0.05; done`, ready, termed)
		done <- err
	}()
	waitForRecipe(t, 10*time.Second, "the command never started", func() bool { return fileExists(ready) })
	nd.Stop() // the cluster is gone: the session cannot be kept alive
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrSessionLost) {
			t.Errorf("lock after its session was lost: %v, want ErrSessionLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lock still running 10s after its session was lost")
	}
	if data, _ := os.ReadFile(termed); string(data) != "TERM\n" {
		t.Errorf("the command was not sent SIGTERM (it wrote %q)", data)
	}
}

func TestElectVerbRunsTheLeaderAndNamesIt(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	dir := t.TempDir()
	leads, goOn := filepath.Join(dir, "leads"), filepath.Join(dir, "go")
	first := make(chan error, 1)
	go func() {
		_, _, err := runRecipeVerb(ctx, nd.URL, "elect", "/cli/elect", "alpha", "--",
			"sh", "-c", `echo "$CANOPY_FENCING_TOKEN" > "$0"; while [ ! -e "$1" ]; do sleep 0.02; done`, leads, goOn)
		first <- err
	}()
	waitForRecipe(t, 10*time.Second, "alpha never led", func() bool { return fileExists(leads) })
	second := make(chan string, 1)
	go func() {
		out, _, err := runRecipeVerb(ctx, nd.URL, "elect", "/cli/elect", "beta", "--", "sh", "-c", `echo "beta $CANOPY_FENCING_TOKEN"`)
		if err != nil {
			t.Error(err)
		}
		second <- out
	}()
	out, _, err := runRecipeVerb(ctx, nd.URL, "elect", "/cli/elect")
	if err != nil || out != "alpha\n" {
		t.Errorf("elect PATH: %q, %v; want alpha", out, err)
	}
	select {
	case out := <-second:
		t.Fatalf("beta led while alpha did: %q", out)
	case <-time.After(200 * time.Millisecond):
	}
	os.WriteFile(goOn, nil, 0o644)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(leads)
	alphaEpoch, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	var betaEpoch int64
	if _, err := fmt.Sscanf(<-second, "beta %d", &betaEpoch); err != nil || betaEpoch <= alphaEpoch || alphaEpoch <= 0 {
		t.Errorf("epochs alpha %d, beta %d (%v): want positive and growing", alphaEpoch, betaEpoch, err)
	}
}

func TestQueueVerbs(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	for _, item := range []string{"first", "second"} {
		if _, _, err := runRecipeVerb(ctx, nd.URL, "queue", "put", "/cli/q", item); err != nil {
			t.Fatal(err)
		}
	}
	if out, _, err := runRecipeVerb(ctx, nd.URL, "queue", "len", "/cli/q"); err != nil || out != "2\n" {
		t.Errorf("queue len: %q, %v", out, err)
	}
	// The item as it went in, byte for byte, as get writes data.
	for _, want := range []string{"first", "second"} {
		if out, _, err := runRecipeVerb(ctx, nd.URL, "queue", "take", "/cli/q"); err != nil || out != want {
			t.Errorf("queue take: %q, %v; want %q", out, err, want)
		}
	}
	if _, _, err := runRecipeVerb(ctx, nd.URL, "queue", "take", "--wait", "100ms", "/cli/q"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("queue take of an empty queue with --wait: %v", err)
	}
}

func TestBarrierVerbs(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	if _, _, err := runRecipeVerb(ctx, nd.URL, "barrier", "set", "/cli/barrier"); err != nil {
		t.Fatal(err)
	}
	passed := make(chan error, 1)
	go func() {
		_, _, err := runRecipeVerb(ctx, nd.URL, "barrier", "wait", "/cli/barrier")
		passed <- err
	}()
	select {
	case err := <-passed:
		t.Fatalf("barrier wait passed a set barrier (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, _, err := runRecipeVerb(ctx, nd.URL, "barrier", "remove", "/cli/barrier"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-passed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("barrier wait still blocked after remove")
	}
}

func TestGroupVerbs(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := recipeContext(t)
	joinCtx, leave := context.WithCancel(ctx)
	joined := make(chan error, 1)
	go func() {
		_, _, err := runRecipeVerb(joinCtx, nd.URL, "group", "join", "/cli/group", "web-1", "10.0.0.1:80")
		joined <- err
	}()
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	go func() {
		_, _, err := runRecipeVerb(ctx, nd.URL, "group", "join", "/cli/group", "web-2", "--",
			"sh", "-c", `touch "$0"; while [ -e "$0" ]; do sleep 0.02; done`, ran)
		joined <- err
	}()
	waitForRecipe(t, 10*time.Second, "members never listed", func() bool {
		out, _, _ := runRecipeVerb(ctx, nd.URL, "group", "ls", "/cli/group")
		return out == "web-1\t10.0.0.1:80\nweb-2\t\n"
	})
	// web-2 is listed once it has joined, which is before its command
	// starts: removing ran before the command made it would not end it.
	waitForRecipe(t, 10*time.Second, "web-2's command never started", func() bool { return fileExists(ran) })
	leave()
	os.Remove(ran) // web-2's command ends
	for range 2 {
		if err := <-joined; err != nil {
			t.Errorf("group join: %v", err)
		}
	}
	if out, _, err := runRecipeVerb(ctx, nd.URL, "group", "ls", "/cli/group"); err != nil || out != "" {
		t.Errorf("group ls after both left: %q, %v", out, err)
	}
}
