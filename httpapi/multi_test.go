package httpapi

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

func TestMultiSuccess(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	sess := n.openSession(10000)
	n.create("/m", "")
	n.create("/m/old", "")
	n.create("/m/cfg", "v0")

	body := `{"ops":[
		{"op":"check","path":"/m","version":0},
		{"op":"create","path":"/m/new","data":"hello"},
		{"op":"create","path":"/m/lock-","data":"me","ephemeral":true,"sequential":true},
		{"op":"set","path":"/m/cfg","data":"` + base64.StdEncoding.EncodeToString([]byte{0xff, 0x01}) + `","encoding":"base64","version":0},
		{"op":"delete","path":"/m/old","version":-1},
		{"op":"create","path":"/m/c","container":true},
		{"op":"create","path":"/m/t","ttl_ms":60000,"encoding":"utf8","data":"ttl"},
		{"op":"create","path":"/m/new/child"},
		{"op":"check","path":"/m/new/child"}
	]}`
	r := n.expect(n.do("POST", "/v1/multi", body, hdr("Canopy-Session", sess.String(), "Content-Type", "application/json")), http.StatusOK)
	var resp api.MultiResponse
	r.decode(t, &resp)
	want := []struct{ op, path string }{
		{"check", "/m"}, {"create", "/m/new"}, {"create", "/m/lock-0000000003"}, {"set", "/m/cfg"},
		{"delete", "/m/old"}, {"create", "/m/c"}, {"create", "/m/t"}, {"create", "/m/new/child"}, {"check", "/m/new/child"},
	}
	if resp.Error != nil || len(resp.Results) != len(want) {
		t.Fatalf("multi: %s", r.body)
	}
	zxid := r.zxid(t)
	for i, w := range want {
		res := resp.Results[i]
		if res.Op != w.op || res.Path != w.path || res.Error != nil {
			t.Errorf("result %d = %+v, want %s %s", i, res, w.op, w.path)
		}
		if hasStat := res.Stat != nil; hasStat != (w.op == "create" || w.op == "set") {
			t.Errorf("result %d: stat %v", i, res.Stat)
		} else if hasStat && res.Stat.Mzxid != zxid {
			t.Errorf("result %d: mzxid %d, Canopy-Zxid %d (one zxid for the whole multi)", i, res.Stat.Mzxid, zxid)
		}
	}
	if st := resp.Results[2].Stat; st.EphemeralOwner != sess {
		t.Errorf("ephemeral owner %s, want %s", st.EphemeralOwner, sess)
	}
	if st := resp.Results[5].Stat; st.EphemeralOwner != 0 {
		t.Errorf("container owner %s, want 0x0 as in ZooKeeper", st.EphemeralOwner)
	}
	raw := n.expect(n.do("GET", "/v1/nodes/m/cfg?raw", "", nil), http.StatusOK)
	if !bytes.Equal(raw.body, []byte{0xff, 0x01}) {
		t.Errorf("base64 set: data %q", raw.body)
	}
	if n.exists("/m/old") || !n.exists("/m/new/child") {
		t.Errorf("multi not applied as a whole")
	}

	// 1000 ops is the most a multi may hold.
	ops := strings.TrimSuffix(strings.Repeat(`{"op":"check","path":"/m","version":0},`, 1000), ",")
	r = n.expect(n.do("POST", "/v1/multi", `{"ops":[`+ops+`]}`, nil), http.StatusOK)
	r.decode(t, &resp)
	if len(resp.Results) != 1000 || resp.Results[999].Op != "check" {
		t.Errorf("1000 ops: %d results", len(resp.Results))
	}

	// An empty multi succeeds and changes nothing.
	before := n.state()
	r = n.expect(n.do("POST", "/v1/multi", `{"ops":[]}`, nil), http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"results":[]}` {
		t.Errorf("empty multi: %s", r.body)
	}
	if after := n.state(); after != before {
		t.Errorf("empty multi changed the tree")
	}
}

func TestMultiFailureBodyShape(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/f", "")
	n.create("/f/exists", "")
	before := n.state()

	cases := []struct {
		name   string
		ops    string
		status int
		code   api.Code
		index  int
	}{
		{"node exists at 2", `{"op":"create","path":"/f/a"},{"op":"set","path":"/f"},{"op":"create","path":"/f/exists"},{"op":"delete","path":"/f/a"}`,
			409, api.CodeNodeExists, 2},
		{"no node at 0", `{"op":"delete","path":"/f/missing"},{"op":"create","path":"/f/b"}`, 404, api.CodeNoNode, 0},
		{"bad version at 1", `{"op":"create","path":"/f/c"},{"op":"check","path":"/f","version":7},{"op":"create","path":"/f/d"}`,
			412, api.CodeBadVersion, 1},
		{"not empty at 1", `{"op":"create","path":"/f/e"},{"op":"delete","path":"/f"}`, 409, api.CodeNotEmpty, 1},
		{"reserved at 1", `{"op":"create","path":"/f/g"},{"op":"create","path":"/zookeeper/x"}`, 400, api.CodeBadArguments, 1},
		{"bad op at 1 (refused before raft)", `{"op":"create","path":"/f/h"},{"op":"get","path":"/f"},{"op":"create","path":"/f/i"}`,
			400, api.CodeBadArguments, 1},
		{"bad version at 2 after two creates", `{"op":"create","path":"/f/j"},{"op":"create","path":"/f/j/k"},{"op":"delete","path":"/f/exists","version":3}`,
			412, api.CodeBadVersion, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := n.expect(n.do("POST", "/v1/multi", `{"ops":[`+c.ops+`]}`, nil), c.status)
			var resp api.MultiResponse
			r.decode(t, &resp)
			if resp.Error == nil || resp.Error.Code != c.code || resp.Error.Index == nil || *resp.Error.Index != c.index {
				t.Fatalf("error = %+v, want %s at %d; body %s", resp.Error, c.code, c.index, r.body)
			}
			nops := strings.Count(c.ops, `"op"`)
			if len(resp.Results) != nops {
				t.Fatalf("%d results for %d ops", len(resp.Results), nops)
			}
			for i, res := range resp.Results {
				switch {
				case i < c.index:
					if res != (api.MultiResult{}) {
						t.Errorf("result %d = %+v, want {}", i, res)
					}
				case i == c.index:
					if res.Error == nil || res.Error.Code != c.code || res.Op != "" || res.Stat != nil {
						t.Errorf("result %d = %+v, want the error %s", i, res, c.code)
					}
				default:
					if res.Error == nil || res.Error.Code != api.CodeRuntimeInconsistency {
						t.Errorf("result %d = %+v, want RuntimeInconsistency", i, res)
					}
				}
			}
			if after := n.state(); after != before {
				t.Errorf("a failed multi changed the tree:\nbefore %s\nafter %s", before, after)
			}
		})
	}
}
