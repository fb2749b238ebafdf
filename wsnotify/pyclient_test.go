package wsnotify

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// findPython returns a python3 that can import websockets (Debian package
// python3-websockets), or "" and why not.
func findPython() (string, string) {
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	why := "no python3 on PATH or at /usr/bin/python3"
	for _, p := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, p, "-c", "import websockets").CombinedOutput()
		cancel()
		if err == nil {
			return p, ""
		}
		if _, statErr := os.Stat(p); statErr == nil {
			why = p + " cannot import websockets (apt-get install python3-websockets): " + strings.TrimSpace(string(out))
		}
	}
	return "", why
}

// A client in another language speaks the protocol from WS.md alone.
func TestWSPythonClientGetsItsEvent(t *testing.T) {
	t.Parallel()
	python, why := findPython()
	if python == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s", why)
		}
		t.Skip(why)
	}
	tn := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/pyclient.py", tn.wsURL(), "/pyw")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s testdata/pyclient.py: %v\nstdout:\n%s\nstderr:\n%s", python, err, stdout.String(), stderr.String())
	}
	var gotResult, gotEvent bool
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var f frame
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("pyclient printed %q: %v", line, err)
		}
		if string(f.ID) == "2" && f.Result != nil {
			gotResult = true
		}
		if f.Event != nil && f.Event.Type == created && f.Event.Path == "/pyw/from-python" {
			if f.Event.Stat == nil || f.Event.Stat.DataLength != int32(len("hello from python")) {
				t.Fatalf("NodeCreated seen by python: %s", line)
			}
			gotEvent = true
		}
	}
	if !gotResult || !gotEvent {
		t.Fatalf("python saw result %v, event %v; output:\n%s", gotResult, gotEvent, stdout.String())
	}
	data, _, _, err := tn.node.Tree().Get("/pyw/from-python")
	if err != nil || data != "hello from python" {
		t.Fatalf("the node python created: %q, %v", data, err)
	}
}
