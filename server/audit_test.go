package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// auditLine is one line of the audit log, as an operator's tools read it.
type auditLine struct {
	Time      string   `json:"time"`
	Zxid      int64    `json:"zxid"`
	Identity  []string `json:"identity"`
	Client    string   `json:"client"`
	Session   string   `json:"session"`
	Operation string   `json:"operation"`
	Path      string   `json:"path"`
	Result    string   `json:"result"`
}

func readAudit(t *testing.T, path string) []auditLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []auditLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// TestAuditLogRecordsWritesSessionsAndAuthentication: --audit-log writes a
// line per write, session event, ACL change and authentication, success
// or failure, with who and where, and never the password.
func TestAuditLogRecordsWritesSessionsAndAuthentication(t *testing.T) {
	file := filepath.Join(t.TempDir(), "audit.log")
	nd := testnode.Start(t, func(m *server.Main) {
		m.AuditLog = file
		m.SuperDigest = api.Digest("super", "pw")
	})
	do := func(method, path, body, user, password string) int {
		req, _ := http.NewRequest(method, nd.URL+path, strings.NewReader(body))
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	alice := api.Digest("alice", "s3cret-pass")
	if got := do("POST", "/v1/nodes/a?acl=digest:"+alice+":cdrwa", "x", "alice", "s3cret-pass"); got != http.StatusCreated {
		t.Fatalf("create: %d", got)
	}
	if got := do("PUT", "/v1/nodes/a", "y", "bob", "guess"); got != http.StatusForbidden {
		t.Fatalf("bob's set: %d, want 403", got)
	}
	if got := do("PUT", "/v1/acl/a", `{"acl":[{"scheme":"world","id":"anyone","perms":"r"}]}`, "alice", "s3cret-pass"); got != http.StatusOK {
		t.Fatalf("setACL: %d", got)
	}
	if got := do("POST", "/v1/sessions", "{}", "alice", "s3cret-pass"); got != http.StatusCreated {
		t.Fatalf("session: %d", got)
	}
	if got := do("GET", "/v1/nodes/a", "", "", ""); got != http.StatusOK {
		t.Fatalf("anonymous read of a world-readable node: %d", got)
	}
	if got := do("GET", "/v1/whoami", "", "", "!"); got != http.StatusOK {
		t.Fatalf("whoami: %d", got)
	}
	req, _ := http.NewRequest("GET", nd.URL+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Basic !!!")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("malformed Authorization: %v %v", resp, err)
	}

	want := []struct{ op, path, result, who string }{
		{"create", "/a", "success", "digest:" + alice},
		{"set", "/a", "NoAuth", "digest:" + api.Digest("bob", "guess")},
		{"setACL", "/a", "success", "digest:" + alice},
		{"createSession", "", "success", "digest:" + alice},
		{"auth", "", "AuthFailed", "ip:127.0.0.1"},
	}
	var lines []auditLine
	testkit.WaitFor(t, 5*time.Second, "the audit lines", func() bool {
		lines = readAudit(t, file)
		return len(lines) >= len(want)
	})
	for i, w := range want {
		l := lines[i]
		if l.Operation != w.op || l.Path != w.path || l.Result != w.result || !contains(l.Identity, w.who) || l.Client != "127.0.0.1" || l.Time == "" {
			t.Errorf("line %d = %+v, want %s %s %s by %s from 127.0.0.1", i, l, w.op, w.path, w.result, w.who)
		}
	}
	if lines[0].Zxid == 0 || lines[3].Session == "" {
		t.Errorf("the create's zxid %d and the session's id %q should be set", lines[0].Zxid, lines[3].Session)
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), "s3cret-pass") || strings.Contains(string(raw), "guess\"") {
		t.Fatal("a password is in the audit log")
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
