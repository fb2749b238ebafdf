package server_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// TestNodeToNodeCallsNeedTheClusterToken: with access control on, the
// forwarding between nodes works with the shared token, and the internal
// calls refuse anyone without it, so that nobody can propose a command in
// another identity's name.
func TestNodeToNodeCallsNeedTheClusterToken(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	testkit.WriteFile(t, tokenFile, []byte("a-cluster-secret-of-some-length\n"))
	nodes := testnode.StartCluster(t, 3, func(m *server.Main) {
		m.AuthRequired = true
		m.SuperDigest = api.Digest("root", "pw")
		m.ClusterTokenFile = tokenFile
	})
	do := func(method, url, body string, header map[string]string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	alice := map[string]string{"Authorization": "Basic YWxpY2U6c2VjcmV0"} // alice:secret
	var leader string
	testkit.WaitExplained(t, 20*time.Second, "a leader", func() (bool, string) {
		code, body := do("GET", nodes[0].URL+"/v1/cluster", "", alice)
		var info api.Cluster
		if code != http.StatusOK || json.Unmarshal([]byte(body), &info) != nil || info.Leader == nil {
			return false, body
		}
		leader = info.Leader.ID
		return true, ""
	})
	// Alice's writes through every follower reach the leader, as hers.
	for _, nd := range nodes {
		if nd.ID == leader {
			continue
		}
		if code, body := do("POST", nd.URL+"/v1/nodes/from-"+nd.ID+"?acl=auth::cdrwa", "x", alice); code != http.StatusCreated {
			t.Fatalf("alice's write through follower %s: %d %s", nd.ID, code, body)
		}
		if code, body := do("GET", nd.URL+"/v1/acl/from-"+nd.ID, "", alice); code != http.StatusOK || !strings.Contains(body, api.Digest("alice", "secret")) {
			t.Fatalf("the ACL of alice's forwarded create: %d %s", code, body)
		}
	}
	// A forged proposal in root's name, without the token or with a wrong
	// one, on every node: refused, and nothing written.
	forged := (&fsm.Command{Op: fsm.OpCreate, Path: "/forged", Identity: []string{"super:"}}).Encode(nil)
	for _, nd := range nodes {
		for name, h := range map[string]map[string]string{
			"anonymous":   nil,
			"alice":       alice,
			"wrong token": {cluster.TokenHeader: "not-the-cluster-secret"},
		} {
			for _, path := range []string{"/v1/internal/propose", "/v1/internal/readindex", "/v1/internal/keepalive"} {
				code, body := do("POST", nd.URL+path, string(forged), h)
				if code != http.StatusUnauthorized && code != http.StatusForbidden {
					t.Errorf("%s %s on %s: %d %s, want 401 or 403", name, path, nd.ID, code, body)
				}
			}
		}
		if code, _ := do("GET", nd.URL+"/v1/nodes/forged", "", map[string]string{"Authorization": "Basic cm9vdDpwdw=="}); code != http.StatusNotFound {
			t.Errorf("/forged on %s: %d, want 404", nd.ID, code)
		}
	}
}

func TestClusterTokenFileIsChecked(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	testkit.WriteFile(t, short, []byte("tiny"))
	_, err := testnode.Launch(filepath.Join(dir, "data"), func(m *server.Main) { m.ClusterTokenFile = short })
	if err == nil || !strings.Contains(err.Error(), "16 characters") {
		t.Fatalf("a 4-character token: %v, want a refusal", err)
	}
}
