package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/internal/testnode"
)

// complete asks the bash completion script what it offers after words,
// the last one being completed, with the built binary on PATH.
func complete(t *testing.T, script, server string, words ...string) []string {
	t.Helper()
	var cmd strings.Builder
	cmd.WriteString("source " + script + "\nCOMP_WORDS=(canopy")
	for _, w := range words {
		cmd.WriteString(" '" + w + "'")
	}
	cmd.WriteString(")\nCOMP_CWORD=" + strconv.Itoa(len(words)) + "\n_canopy\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
	c := exec.Command("bash", "--norc", "-c", cmd.String())
	c.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"), "CANOPY_SERVERS="+server)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletionOffersVerbsFlagsAndPaths(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	nd := testnode.Start(t)
	canopyAt(t, nd.URL, "create", "-p", "/app/workers/w1").ok(t)
	canopyAt(t, nd.URL, "create", "/app/web").ok(t)
	var script bytes.Buffer
	if code := runMain(context.Background(), []string{"completion", "bash"}, nil, &script, &script); code != 0 {
		t.Fatalf("completion bash: exit %d: %s", code, script.String())
	}
	file := filepath.Join(t.TempDir(), "canopy.bash")
	os.WriteFile(file, script.Bytes(), 0o600)
	if out, err := exec.Command("bash", "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"de"}, []string{"delete", "deleteall"}},
		{[]string{"session", ""}, []string{"open", "ls", "get", "close"}},
		{[]string{"ls", "-"}, []string{"-R", "-s", "-w", "--server", "--timeout", "-o"}},
		{[]string{"session", "open", "--t"}, []string{"--timeout"}},
		{[]string{"get", "-o", ""}, []string{"text", "json"}},
		{[]string{"completion", ""}, []string{"bash", "zsh"}},
		{[]string{"get", "/app/w"}, []string{"/app/web", "/app/workers"}},
		{[]string{"ls", "/"}, []string{"/app", "/zookeeper"}},
		// The recipe verbs, from the same table.
		{[]string{""}, []string{"lock", "elect", "queue", "barrier", "group", "session", "serve"}},
		{[]string{"queue", ""}, []string{"put", "take", "len"}},
		{[]string{"barrier", ""}, []string{"set", "remove", "wait"}},
		{[]string{"group", ""}, []string{"join", "ls"}},
		{[]string{"lock", "--"}, []string{"--wait", "--session-timeout", "--kill-after", "--server"}},
		{[]string{"queue", "take", "--w"}, []string{"--wait"}},
		{[]string{"group", "join", "/a"}, []string{"/app"}},
		{[]string{"help", "l"}, []string{"lock", "ls"}},
		// ACLs, credentials and TLS (issue 12).
		{[]string{"s"}, []string{"setacl", "session", "stat"}},
		{[]string{"w"}, []string{"whoami", "watch"}},
		{[]string{"d"}, []string{"digest", "delete"}},
		{[]string{"getacl", "-"}, []string{"-s", "--user", "--cacert", "--cert", "--key"}},
		{[]string{"setacl", "-"}, []string{"-v", "-s"}},
		{[]string{"create", "--a"}, []string{"--acl"}},
		{[]string{"getacl", "/app/w"}, []string{"/app/web", "/app/workers"}},
		{[]string{"get", "--cacert", "main."}, []string{"main.go"}},
		{[]string{"get", "--key", "main_"}, []string{"main_test.go"}},
		// After "--", the command to run.
		{[]string{"lock", "/app", "--", "tru"}, []string{"true"}},
		{[]string{"group", "join", "/app", "w1", "--", "tru"}, []string{"true"}},
	} {
		got := complete(t, file, nd.URL, tc.words...)
		for _, w := range tc.want {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+w+" ") {
				t.Errorf("completing %q offers %q, missing %q", tc.words, got, w)
			}
		}
	}
}

func TestZshCompletionParses(t *testing.T) {
	var script bytes.Buffer
	if code := runMain(context.Background(), []string{"completion", "zsh"}, nil, &script, &script); code != 0 {
		t.Fatalf("completion zsh: exit %d: %s", code, script.String())
	}
	if !strings.HasPrefix(script.String(), "#compdef canopy\n") || !strings.Contains(script.String(), "'deleteall:delete a node and everything below it'") ||
		!strings.Contains(script.String(), "'lock:run a command while holding a lock'") || !strings.Contains(script.String(), "'queue:put, take, len'") {
		t.Errorf("zsh script:\n%s", script.String())
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh to check the syntax with")
	}
	file := filepath.Join(t.TempDir(), "_canopy")
	os.WriteFile(file, script.Bytes(), 0o600)
	if out, err := exec.Command("zsh", "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
}
