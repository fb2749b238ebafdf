package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// runRecipeVerb runs a canopy command line in-process against server.
// --server goes first, as a global flag: after the verb's words it could
// fall after "--", into the command.
func runRecipeVerb(ctx context.Context, server string, args ...string) (stdout, stderr string, err error) {
	var out, errb testkit.SyncBuffer
	args = append([]string{"--server", server}, args...)
	err = run(ctx, args, &out, &errb)
	return out.String(), errb.String(), err
}

// recipeMain is runRecipeVerb through runMain: what a shell sees, the
// exit code included.
func recipeMain(ctx context.Context, server string, args ...string) cliResult {
	var out, errb testkit.SyncBuffer
	code := runMain(ctx, append([]string{"--server", server}, args...), strings.NewReader(""), &out, &errb)
	return cliResult{out: out.String(), err: errb.String(), code: code}
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func TestLockVerbRunsCommandsOneAtATimeWithGrowingTokens(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
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
	if kids, _, err := newClient(t, nd.URL).Children(ctx, "/cli/lock"); err != nil || len(kids) != 0 {
		t.Errorf("lock nodes left after the commands: %v, %v", kids, err)
	}
}

func TestLockVerbFailsWhenTheCommandFailsAndReleases(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	_, _, err := runRecipeVerb(ctx, nd.URL, "lock", "/cli/fail", "--", "sh", "-c", "exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("lock of a failing command: %v, want its exit status", err)
	}
	if kids, _, _ := newClient(t, nd.URL).Children(ctx, "/cli/fail"); len(kids) != 0 {
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
	ctx := ctxT(t)
	dir := t.TempDir()
	ready, termed := filepath.Join(dir, "ready"), filepath.Join(dir, "termed")
	done := make(chan error, 1)
	go func() {
		_, _, err := runRecipeVerb(ctx, nd.URL, "lock", "--session-timeout", "2s", "--kill-after", "5s", "/cli/lost", "--",
			"sh", "-c", `trap 'echo TERM > "$1"; exit 143' TERM; touch "$0"; while :; do sleep 0.05; done`, ready, termed)
		done <- err
	}()
	testkit.WaitFor(t, 10*time.Second, "the command never started", func() bool { return fileExists(ready) })
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
	ctx := ctxT(t)
	dir := t.TempDir()
	leads, goOn := filepath.Join(dir, "leads"), filepath.Join(dir, "go")
	first := make(chan error, 1)
	go func() {
		_, _, err := runRecipeVerb(ctx, nd.URL, "elect", "/cli/elect", "alpha", "--",
			"sh", "-c", `echo "$CANOPY_FENCING_TOKEN" > "$0"; while [ ! -e "$1" ]; do sleep 0.02; done`, leads, goOn)
		first <- err
	}()
	testkit.WaitFor(t, 10*time.Second, "alpha never led", func() bool { return fileExists(leads) })
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
	ctx := ctxT(t)
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
	ctx := ctxT(t)
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
	ctx := ctxT(t)
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
	testkit.WaitFor(t, 10*time.Second, "members never listed", func() bool {
		out, _, _ := runRecipeVerb(ctx, nd.URL, "group", "ls", "/cli/group")
		return out == "web-1\t10.0.0.1:80\nweb-2\t\n"
	})
	// web-2 is listed once it has joined, which is before its command
	// starts: removing ran before the command made it would not end it.
	testkit.WaitFor(t, 10*time.Second, "web-2's command never started", func() bool { return fileExists(ran) })
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

// startRecipe runs a command line through runMain in the background; the
// test reads its output as it goes and its exit code from the channel.
func startRecipe(ctx context.Context, server string, args ...string) (out, errb *testkit.SyncBuffer, code <-chan int) {
	out, errb = &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, append([]string{"--server", server}, args...), strings.NewReader(""), out, errb)
	}()
	return out, errb, done
}

// exitOf waits for a background command's exit code.
func exitOf(t *testing.T, code <-chan int, what string) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: still running after 15s", what)
		return -1
	}
}

func TestHelpOfTheRecipeVerbs(t *testing.T) {
	help := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := runMain(context.Background(), append([]string{"help"}, args...), nil, &out, &errb); code != 0 {
			t.Fatalf("help %q: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	lock := help("lock")
	for _, want := range []string{
		"usage: canopy lock [--shared] [--wait D] [--session-timeout D] [--kill-after D] PATH -- COMMAND [ARGS...]\n",
		"CANOPY_FENCING_TOKEN", "exits with COMMAND's exit", "canopy exits 7", "exit 8",
		"-wait D", "-session-timeout D", "-kill-after D", "Global flags: --server URL",
	} {
		if !strings.Contains(lock, want) {
			t.Errorf("help lock does not say %q:\n%s", want, lock)
		}
	}
	if q := help("queue"); !strings.Contains(q, "canopy queue put ") || !strings.Contains(q, "canopy queue take ") || !strings.Contains(q, "canopy queue len ") {
		t.Errorf("help queue does not list put, take and len:\n%s", q)
	}
	all := help()
	for _, want := range []string{"  lock ", "  elect ", "  queue take ", "  barrier wait ", "  group join ", "  8  --wait ran out", "COMMAND's exit status"} {
		if !strings.Contains(all, want) {
			t.Errorf("help does not say %q", want)
		}
	}
}

func TestRecipeVerbsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"lock", "/a"},
		{"lock", "/a", "--"},
		{"lock", "--", "true"},
		{"lock", "/a", "/b", "--", "true"},
		{"lock", "--wait", "-1s", "/a", "--", "true"},
		{"lock", "--kill-after", "0s", "/a", "--", "true"},
		{"lock", "--timeout", "0s", "/a", "--", "true"},
		{"elect", "/e", "alpha"},
		{"elect", "/e", "--", "true"},
		{"queue"},
		{"queue", "pop", "/q"},
		{"queue", "take"},
		{"queue", "put", "/q", "data", "-f", "file"},
		{"barrier", "wait", "--wait", "soon", "/b"},
		{"group", "join", "/g"},
		{"group", "join", "/g", "web-1", "--"},
		{"group", "ls", "-o", "yaml", "/g"},
	} {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), args, nil, &out, &errb)
		if code != exitUsage || !strings.HasPrefix(errb.String(), "canopy") || !strings.Contains(errb.String(), "usage:") {
			t.Errorf("canopy %q: exit %d, want %d with usage; stderr:\n%s", args, code, exitUsage, errb.String())
		}
	}
}

func TestLockVerbExitsWithTheCommandsStatus(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	r := recipeMain(ctx, nd.URL, "lock", "/cli/status", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.out != "out\n" {
		t.Errorf("lock of a command exiting 3: exit %d, stdout %q; want 3 and the command's output", r.code, r.out)
	}
	// canopy adds nothing to the command's own failure, as flock(1).
	if got := lines(r.err); len(got) != 2 || !strings.HasPrefix(got[0], "canopy lock: holding /cli/status (fencing token ") || got[1] != "err" {
		t.Errorf("stderr %q: want the holding line, then the command's", r.err)
	}
	if r := recipeMain(ctx, nd.URL, "lock", "/cli/status", "--", "sh", "-c", "kill -KILL $$"); r.code != 128+9 {
		t.Errorf("lock of a command killed by SIGKILL: exit %d, want %d", r.code, 128+9)
	}
	// A command that cannot run: as a shell says, and before a session.
	if r := recipeMain(ctx, nd.URL, "lock", "/cli/status", "--", "no-such-command-for-canopy"); r.code != exitNotFound || !strings.Contains(r.err, "not found") {
		t.Errorf("lock of a missing command: exit %d, want %d; stderr %q", r.code, exitNotFound, r.err)
	}
	script := filepath.Join(t.TempDir(), "not-executable")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o644)
	if r := recipeMain(ctx, nd.URL, "lock", "/cli/status", "--", script); r.code != exitCannotRun {
		t.Errorf("lock of a file that is not executable: exit %d, want %d; stderr %q", r.code, exitCannotRun, r.err)
	}
	recipeMain(ctx, nd.URL, "lock", "/cli/status", "--", "true").ok(t)
	c := newClient(t, nd.URL)
	if kids, _, err := c.Children(ctx, "/cli/status"); err != nil || len(kids) != 0 {
		t.Errorf("lock nodes left: %v, %v", kids, err)
	}
	if sessions, err := c.Sessions(ctx); err != nil || len(sessions) != 0 {
		t.Errorf("sessions left open: %v, %v", sessions, err)
	}
}

// A hold lost while the command runs is exit 7 whatever the cause, here
// an operator deleting the lock's node, and even when the command exits 0
// on its SIGTERM.
func TestLockVerbExitsSevenWhenItsNodeIsDeleted(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	dir := t.TempDir()
	ready, termed := filepath.Join(dir, "ready"), filepath.Join(dir, "termed")
	_, errb, code := startRecipe(ctx, nd.URL, "lock", "/cli/deleted", "--",
		"sh", "-c", `trap 'echo TERM > "$1"; exit 0' TERM; echo "$CANOPY_LOCK_NODE" > "$0.tmp"; mv "$0.tmp" "$0"; while :; do sleep 0.05; done`, ready, termed)
	testkit.WaitFor(t, 10*time.Second, "the command never started", func() bool { return fileExists(ready) })
	node, _ := os.ReadFile(ready)
	if err := newClient(t, nd.URL).Delete(ctx, strings.TrimSpace(string(node)), client.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if c := exitOf(t, code, "lock after its node was deleted"); c != exitSession {
		t.Errorf("lock after its node was deleted: exit %d, want %d; stderr %q", c, exitSession, errb.String())
	}
	if !strings.Contains(errb.String(), "the lock was lost while sh ran") {
		t.Errorf("stderr does not say the lock was lost: %q", errb.String())
	}
	if data, _ := os.ReadFile(termed); string(data) != "TERM\n" {
		t.Errorf("the command was not sent SIGTERM (it wrote %q)", data)
	}
}

func TestGroupJoinExitsSevenWhenItsSessionIsLost(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	_, errb, code := startRecipe(ctx, nd.URL, "group", "join", "--session-timeout", "2s", "/cli/lost", "web-1")
	testkit.WaitFor(t, 10*time.Second, "web-1 never joined", func() bool { return strings.Contains(errb.String(), "joined") })
	nd.Stop()
	if c := exitOf(t, code, "group join after its session was lost"); c != exitSession {
		t.Errorf("group join after its session was lost: exit %d, want %d; stderr %q", c, exitSession, errb.String())
	}
	if !strings.Contains(errb.String(), "the membership was lost") {
		t.Errorf("stderr does not say the membership was lost: %q", errb.String())
	}
}

func TestLockVerbInterruptedEndsTheCommandAndReleases(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx, interrupt := context.WithCancel(ctxT(t))
	ready := filepath.Join(t.TempDir(), "ready")
	_, errb, code := startRecipe(ctx, nd.URL, "lock", "/cli/int", "--", "sh", "-c", `touch "$0"; while :; do sleep 0.05; done`, ready)
	testkit.WaitFor(t, 10*time.Second, "the command never started", func() bool { return fileExists(ready) })
	interrupt()
	if c := exitOf(t, code, "lock after an interrupt"); c != exitInterrupted {
		t.Errorf("lock interrupted: exit %d, want %d; stderr %q", c, exitInterrupted, errb.String())
	}
	if kids, _, err := newClient(t, nd.URL).Children(ctxT(t), "/cli/int"); err != nil || len(kids) != 0 {
		t.Errorf("lock not released after an interrupt: %v, %v", kids, err)
	}
}

func TestWaitRunningOutIsExitEight(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	dir := t.TempDir()
	ready, goOn := filepath.Join(dir, "ready"), filepath.Join(dir, "go")
	_, _, holder := startRecipe(ctx, nd.URL, "lock", "/cli/busy", "--", "sh", "-c", `touch "$0"; while [ ! -e "$1" ]; do sleep 0.02; done`, ready, goOn)
	testkit.WaitFor(t, 10*time.Second, "the holder never ran", func() bool { return fileExists(ready) })
	r := recipeMain(ctx, nd.URL, "lock", "--wait", "200ms", "/cli/busy", "--", "true")
	if r.code != exitWait || r.err != "canopy: lock /cli/busy: gave up waiting for the lock after 200ms (--wait)\n" {
		t.Errorf("lock --wait of a held lock: exit %d, stderr %q; want %d", r.code, r.err, exitWait)
	}
	os.WriteFile(goOn, nil, 0o644)
	if c := exitOf(t, holder, "the holder"); c != 0 {
		t.Errorf("the holder: exit %d", c)
	}
	if kids, _, err := newClient(t, nd.URL).Children(ctx, "/cli/busy"); err != nil || len(kids) != 0 {
		t.Errorf("the waiter that gave up left its node: %v, %v", kids, err)
	}
	recipeMain(ctx, nd.URL, "queue", "take", "--wait", "100ms", "/cli/empty").fails(t, exitWait)
	recipeMain(ctx, nd.URL, "barrier", "set", "/cli/up").ok(t)
	recipeMain(ctx, nd.URL, "barrier", "wait", "--wait", "100ms", "/cli/up").fails(t, exitWait)
}

func TestRecipeVerbsJSON(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)

	// queue: len, then the items as get writes data.
	recipeMain(ctx, nd.URL, "queue", "put", "/cli/jq", "text").ok(t)
	file := filepath.Join(t.TempDir(), "item")
	os.WriteFile(file, []byte{0xff, 0x00}, 0o644)
	recipeMain(ctx, nd.URL, "queue", "put", "-f", file, "/cli/jq").ok(t)
	var qlen struct {
		Path   string `json:"path"`
		Length *int   `json:"length"`
	}
	decodeJSON(t, recipeMain(ctx, nd.URL, "queue", "len", "-o", "json", "/cli/jq").ok(t).out, &qlen)
	if qlen.Path != "/cli/jq" || qlen.Length == nil || *qlen.Length != 2 {
		t.Errorf("queue len -o json: %+v", qlen)
	}
	for _, want := range []queueItem{{"/cli/jq", "text", "utf8"}, {"/cli/jq", "/wA=", "base64"}} {
		var item queueItem
		decodeJSON(t, recipeMain(ctx, nd.URL, "-o", "json", "queue", "take", "/cli/jq").ok(t).out, &item)
		if item != want {
			t.Errorf("queue take -o json: %+v, want %+v", item, want)
		}
	}

	// lock: the held record first, then the command's output.
	r := recipeMain(ctx, nd.URL, "-o", "json", "lock", "/cli/jl", "--", "sh", "-c", `echo "$CANOPY_FENCING_TOKEN"`).ok(t)
	out := lines(r.out)
	var held heldJSON
	if len(out) != 2 || json.Unmarshal([]byte(out[0]), &held) != nil ||
		!strings.HasPrefix(held.Node, "/cli/jl/") || held.Token <= 0 || held.Session == 0 || out[1] != strconv.FormatInt(held.Token, 10) {
		t.Errorf("lock -o json printed %q", r.out)
	}

	// elect PATH: the leader, while a candidate leads; exit 3 when none.
	dir := t.TempDir()
	leads, goOn := filepath.Join(dir, "leads"), filepath.Join(dir, "go")
	_, _, alpha := startRecipe(ctx, nd.URL, "elect", "/cli/je", "alpha", "--", "sh", "-c", `touch "$0"; while [ ! -e "$1" ]; do sleep 0.02; done`, leads, goOn)
	testkit.WaitFor(t, 10*time.Second, "alpha never led", func() bool { return fileExists(leads) })
	var leader heldJSON
	decodeJSON(t, recipeMain(ctx, nd.URL, "elect", "/cli/je", "-o", "json").ok(t).out, &leader)
	if leader.Path != "/cli/je" || leader.Name != "alpha" || !strings.HasPrefix(leader.Node, "/cli/je/") || leader.Token <= 0 || leader.Session == 0 {
		t.Errorf("elect PATH -o json: %+v", leader)
	}
	os.WriteFile(goOn, nil, 0o644)
	if c := exitOf(t, alpha, "alpha"); c != 0 {
		t.Errorf("alpha: exit %d", c)
	}
	recipeMain(ctx, nd.URL, "elect", "/cli/je").fails(t, exitNoNode)

	// group ls, while web-1 is a member; and group join's own record.
	joinCtx, leave := context.WithCancel(ctx)
	joinOut, _, joined := startRecipe(joinCtx, nd.URL, "group", "join", "-o", "json", "/cli/jg", "web-1", "10.0.0.1:80")
	type members struct {
		Path    string        `json:"path"`
		Members []groupMember `json:"members"`
	}
	var ls members
	testkit.WaitFor(t, 10*time.Second, "web-1 never listed", func() bool {
		r := recipeMain(ctx, nd.URL, "group", "ls", "-o", "json", "/cli/jg")
		return r.code == 0 && json.Unmarshal([]byte(r.out), &ls) == nil && len(ls.Members) == 1
	})
	if m := ls.Members[0]; ls.Path != "/cli/jg" || m.Name != "web-1" || m.Data != "10.0.0.1:80" || m.Encoding != "utf8" || m.Session == 0 {
		t.Errorf("group ls -o json: %+v", ls)
	}
	// The record follows the join, so the member can be listed before it
	// is printed: a script reading it waits for the line, as this does.
	testkit.WaitFor(t, 15*time.Second, "group join's record", func() bool { return strings.HasSuffix(joinOut.String(), "\n") })
	var member heldJSON
	decodeJSON(t, joinOut.String(), &member)
	if member.Path != "/cli/jg" || member.Name != "web-1" || member.Node != "/cli/jg/web-1" || member.Session != ls.Members[0].Session {
		t.Errorf("group join -o json: %+v", member)
	}
	leave()
	if c := exitOf(t, joined, "group join"); c != 0 {
		t.Errorf("group join interrupted: exit %d, want 0", c)
	}
	if r := recipeMain(ctx, nd.URL, "group", "ls", "-o", "json", "/cli/jg").ok(t); r.out != `{"path":"/cli/jg","members":[]}`+"\n" {
		t.Errorf("group ls -o json of an empty group: %q", r.out)
	}
}

// waitForFile is the shell loop a held command uses to wait (up to 10 s)
// for another holder's marker.
const waitForFile = `i=0; while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; [ -e "$1" ]`

func TestLockVerbSharedHoldersRunTogetherAndExcludeAnExclusiveOne(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	dir := t.TempDir()
	mark := func(name string) string { return filepath.Join(dir, name) }

	// Two shared holders each wait for the other's marker: they finish
	// only if they hold the lock at the same time.
	var wg sync.WaitGroup
	for _, who := range [][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			_, stderr, err := runRecipeVerb(ctx, nd.URL, "lock", "--shared", "/cli/rw", "--",
				"sh", "-c", `touch "$0"; `+waitForFile, mark(who[0]), mark(who[1]))
			if err != nil {
				t.Errorf("shared holder %s: %v\n%s", who[0], err, stderr)
			}
		})
	}
	wg.Wait()

	// An exclusive holder keeps a shared one out until it is done.
	held := make(chan error, 1)
	go func() {
		_, stderr, err := runRecipeVerb(ctx, nd.URL, "lock", "/cli/rw", "--",
			"sh", "-c", `touch "$0"; `+waitForFile, mark("writer-in"), mark("writer-go"))
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, stderr)
		}
		held <- err
	}()
	testkit.WaitFor(t, 10*time.Second, "the exclusive holder runs", func() bool { _, err := os.Stat(mark("writer-in")); return err == nil })
	shared := make(chan error, 1)
	go func() {
		_, stderr, err := runRecipeVerb(ctx, nd.URL, "lock", "--shared", "/cli/rw", "--", "touch", mark("reader-in"))
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, stderr)
		}
		shared <- err
	}()
	// The reader queues behind the writer: give it time to get in line.
	testkit.WaitFor(t, 10*time.Second, "the reader in line", func() bool {
		kids, _, _ := newClient(t, nd.URL).Children(ctx, "/cli/rw")
		return len(kids) == 2
	})
	// Granted by mistake, it would run within milliseconds: watch a while.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(mark("reader-in")); err == nil {
			t.Fatal("a shared holder ran while the exclusive one held the lock")
		}
	}
	os.WriteFile(mark("writer-go"), nil, 0o600)
	if err := <-held; err != nil {
		t.Fatalf("exclusive holder: %v", err)
	}
	if err := <-shared; err != nil {
		t.Fatalf("shared holder after the exclusive one: %v", err)
	}
	if _, err := os.Stat(mark("reader-in")); err != nil {
		t.Fatal("the shared holder never ran")
	}
}

func TestBarrierEnterStartsTogetherAndLeavesTogether(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t)
	ctx := ctxT(t)
	dir := t.TempDir()
	mark := func(name string) string { return filepath.Join(dir, name) }
	type result struct {
		who string
		err error
	}
	done := make(chan result, 3)
	enter := func(who, command string) {
		go func() {
			_, stderr, err := runRecipeVerb(ctx, nd.URL, "barrier", "enter", "/cli/dbarrier", who, "3", "--", "sh", "-c", command)
			if err != nil {
				err = fmt.Errorf("%v\n%s", err, stderr)
			}
			done <- result{who, err}
		}()
	}
	enter("fast", `touch `+mark("fast-in"))
	enter("slow", `touch `+mark("slow-in")+`; sleep 0.3; touch `+mark("slow-done"))
	// Two of three: nobody may start.
	testkit.WaitFor(t, 10*time.Second, "two participants joined", func() bool {
		kids, _, _ := newClient(t, nd.URL).Children(ctx, "/cli/dbarrier")
		return len(kids) == 2
	})
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(mark("fast-in")); err == nil {
			t.Fatal("a participant started with 2 of 3 in the barrier")
		}
	}
	enter("third", `touch `+mark("third-in"))
	for range 3 {
		r := <-done
		if r.err != nil {
			t.Fatalf("%s: %v", r.who, r.err)
		}
		// No one leaves before every command is done.
		if _, err := os.Stat(mark("slow-done")); err != nil {
			t.Fatalf("%s returned before the slow participant's command was done", r.who)
		}
	}
	if code := recipeMain(ctx, nd.URL, "barrier", "enter", "/cli/dbarrier", "x", "zero", "--", "true").code; code != exitUsage {
		t.Fatalf("a COUNT that is not a number: exit %d, want %d", code, exitUsage)
	}
}
