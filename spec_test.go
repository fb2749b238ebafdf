package canopy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/canopy-coord/canopy/api"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate openapi.yaml: %v", err)
	}
	return doc
}

func TestSpecValid(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("document is not read as OpenAPI 3.1")
	}
}

// routes is every route of WIRE.md, with every status it may answer.
var routes = []struct {
	method, path string
	statuses     []int
}{
	{"POST", "/v1/nodes/{path}", []int{201, 400, 401, 403, 404, 409, 410, 413, 429, 503, 504, 507}},
	{"GET", "/v1/nodes/{path}", []int{200, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"HEAD", "/v1/nodes/{path}", []int{200, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"PUT", "/v1/nodes/{path}", []int{200, 400, 401, 403, 404, 410, 412, 413, 429, 503, 504, 507}},
	{"DELETE", "/v1/nodes/{path}", []int{204, 400, 401, 403, 404, 409, 410, 412, 429, 503, 504}},
	{"POST", "/v1/nodes/", []int{201, 400, 401, 403, 409, 410, 413, 429, 503, 504, 507}},
	{"GET", "/v1/nodes/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"HEAD", "/v1/nodes/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"PUT", "/v1/nodes/", []int{200, 400, 401, 403, 410, 412, 413, 429, 503, 504, 507}},
	{"DELETE", "/v1/nodes/", []int{400, 401, 403, 410, 429}},
	{"GET", "/v1/stat/{path}", []int{200, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"GET", "/v1/stat/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"GET", "/v1/children/{path}", []int{200, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"GET", "/v1/children/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"GET", "/v1/tree/{path}", []int{200, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"GET", "/v1/tree/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"POST", "/v1/multi", []int{200, 400, 401, 403, 404, 409, 410, 412, 413, 429, 503, 504, 507}},
	{"POST", "/v1/sync/{path}", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"POST", "/v1/sync/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"POST", "/v1/sessions", []int{201, 400, 401, 403, 410, 413, 429, 503, 504}},
	{"GET", "/v1/sessions", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"GET", "/v1/sessions/{id}", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"DELETE", "/v1/sessions/{id}", []int{204, 400, 401, 403, 410, 429, 503, 504}},
	{"POST", "/v1/sessions/{id}/keepalive", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"GET", "/v1/status", []int{200, 400, 401, 403, 410, 429}},
	{"GET", "/v1/watch", []int{101, 400, 401, 403, 410, 429}},
	{"GET", "/v1/events", []int{200, 400, 401, 403, 410, 429}},
	{"GET", "/v1/cluster", []int{200, 400, 401, 403, 410, 429, 503}},
	{"POST", "/v1/cluster/members", []int{201, 400, 401, 403, 410, 413, 429, 503, 504}},
	{"DELETE", "/v1/cluster/members/{id}", []int{204, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"GET", "/v1/snapshot", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"POST", "/v1/snapshot", []int{204, 400, 401, 403, 410, 429, 503}},
	{"POST", "/v1/internal/propose", []int{200, 400, 403, 413, 429, 503, 504}},
	{"GET", "/v1/internal/stream", []int{101, 400, 403}},
	{"POST", "/v1/internal/readindex", []int{200, 400, 403, 429, 503, 504}},
	{"POST", "/v1/internal/keepalive", []int{200, 400, 403, 413, 429, 503}},
	{"GET", "/v1/acl/{path}", []int{200, 400, 401, 403, 404, 410, 429, 503, 504}},
	{"PUT", "/v1/acl/{path}", []int{200, 400, 401, 403, 404, 410, 412, 429, 503, 504}},
	{"GET", "/v1/acl/", []int{200, 400, 401, 403, 410, 429, 503, 504}},
	{"PUT", "/v1/acl/", []int{200, 400, 401, 403, 410, 412, 429, 503, 504}},
	{"GET", "/v1/whoami", []int{200, 401, 403}},
	{"POST", "/v1/login", []int{200, 401}},
	{"POST", "/v1/logout", []int{204}},
	{"GET", "/healthz", []int{200, 401}},
	{"GET", "/readyz", []int{200, 401, 503}},
	{"GET", "/metrics", []int{200, 401}},
	{"GET", "/openapi.yaml", []int{200, 401}},
	{"GET", "/ui/", []int{200, 401}},
}

func TestSpecRoutes(t *testing.T) {
	doc := loadSpec(t)
	want := map[string]bool{}
	for _, r := range routes {
		want[r.method+" "+r.path] = true
		item := doc.Paths.Value(r.path)
		if item == nil {
			t.Errorf("%s: path missing", r.path)
			continue
		}
		op := item.GetOperation(r.method)
		if op == nil {
			t.Errorf("%s %s: operation missing", r.method, r.path)
			continue
		}
		var got []int
		for code := range op.Responses.Map() {
			n, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s %s: response %q is not a status", r.method, r.path, code)
				continue
			}
			got = append(got, n)
		}
		sort.Ints(got)
		if !slices.Equal(got, r.statuses) {
			t.Errorf("%s %s: statuses %v, want %v", r.method, r.path, got, r.statuses)
		}
	}
	// Nothing more than WIRE.md: no route the server does not have.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !want[method+" "+path] {
				t.Errorf("%s %s: in openapi.yaml but not in the route table", method, path)
			}
		}
	}
}

// TestSpecHeaders checks the headers every response must describe:
// Canopy-Zxid everywhere, Retry-After on 429 and 503, Location on 201.
func TestSpecHeaders(t *testing.T) {
	doc := loadSpec(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, ref := range op.Responses.Map() {
				resp := ref.Value
				where := method + " " + path + " " + code
				if h := resp.Headers["Canopy-Zxid"]; h == nil || !h.Value.Required {
					t.Errorf("%s: no required Canopy-Zxid header", where)
				}
				if code == "429" || code == "503" {
					if h := resp.Headers["Retry-After"]; h == nil || !h.Value.Required {
						t.Errorf("%s: no required Retry-After header", where)
					}
				}
				if code == "201" {
					if h := resp.Headers["Location"]; h == nil || !h.Value.Required {
						t.Errorf("%s: no required Location header", where)
					}
				}
				if method == http.MethodHead || code == "204" || code == "101" {
					if len(resp.Content) != 0 {
						t.Errorf("%s: has a body", where)
					}
				} else if len(resp.Content) == 0 {
					t.Errorf("%s: no body described", where)
				}
				if n, _ := strconv.Atoi(code); n >= 400 && method != http.MethodHead {
					if resp.Content.Get("application/json") == nil {
						t.Errorf("%s: error without a JSON body", where)
					}
				}
			}
		}
	}
}

// TestSpecSchemasMatchWireTypes validates the JSON of the api package's types
// against the component schemas, and checks that wrong bodies are refused.
func TestSpecSchemasMatchWireTypes(t *testing.T) {
	doc := loadSpec(t)
	stat := api.Stat{Czxid: 3, Mzxid: 9, Pzxid: 4, Ctime: 1735689600000, Mtime: 1735689601000,
		Version: 2, Cversion: 1, Aversion: 0, EphemeralOwner: 0x1f3a, DataLength: 5, NumChildren: 1}
	idx := 1
	oldest := int64(17)
	expires := int64(9000)
	good := []struct {
		schema string
		v      any
	}{
		{"Stat", stat},
		{"Stat", api.Stat{}},
		{"NodeData", api.NodeData{Path: "/a", Data: "aGk=", Encoding: "base64", Stat: stat}},
		{"PathStat", api.PathStat{Path: "/a", Stat: stat}},
		{"Children", api.Children{Path: "/a", Children: []string{"b", "c"}, Stat: stat, Next: "c"}},
		{"Children", api.Children{Path: "/a", Children: []string{}, Stat: stat}},
		{"Children", api.Children{Path: "/a", Children: []api.ChildStat{{Name: "b", Stat: stat}}, Stat: stat}},
		{"TreeNode", api.TreeNode{Path: "/", Stat: stat, Children: []*api.TreeNode{
			{Path: "/a", Stat: stat, Children: []*api.TreeNode{}, Truncated: true}}}},
		{"ErrorBody", api.ErrorBody{Error: api.Errorf(api.CodeNoNode, "/a", "no node")}},
		{"ErrorBody", api.ErrorBody{Error: &api.Error{Code: api.CodeCompacted, Message: "m", OldestZxid: &oldest}}},
		{"MultiRequest", api.MultiRequest{Ops: []api.MultiOp{{Op: "create", Path: "/a", Data: "x", Sequential: true}}}},
		{"MultiSuccess", api.MultiResponse{Results: []api.MultiResult{
			{Op: "create", Path: "/a", Stat: &stat}, {Op: "delete", Path: "/b"}, {Op: "check", Path: "/c"}}}},
		{"MultiSuccess", api.MultiResponse{Results: []api.MultiResult{}}},
		{"MultiFailure", api.MultiResponse{
			Error: &api.Error{Code: api.CodeNoNode, Message: "m", Path: "/b", Index: &idx},
			Results: []api.MultiResult{{}, {Error: api.Errorf(api.CodeNoNode, "/b", "m")},
				{Error: api.Errorf(api.CodeRuntimeInconsistency, "", "m")}}}},
		{"Session", api.Session{ID: 0xabc, TimeoutMs: 10000}},
		{"SessionList", api.SessionList{Sessions: []api.Session{
			{ID: 1, TimeoutMs: 2000, Ephemerals: []string{"/e"}, ExpiresInMs: &expires}}}},
		{"SyncResult", api.SyncResult{Zxid: 42}},
	}
	for _, c := range good {
		if err := visit(t, doc, c.schema, c.v); err != nil {
			t.Errorf("%s: %+v refused: %v", c.schema, c.v, err)
		}
	}

	bad := []struct {
		schema, json string
	}{
		{"Stat", `{"czxid":1}`},
		{"Stat", strings.Replace(mustJSON(t, stat), `"0x1f3a"`, `7994`, 1)},
		{"Stat", strings.Replace(mustJSON(t, stat), `"0x1f3a"`, `"1f3a"`, 1)},
		{"Stat", strings.Replace(mustJSON(t, stat), `"czxid":3`, `"czxid":"3"`, 1)},
		{"Stat", strings.Replace(mustJSON(t, stat), `{`, `{"extra":1,`, 1)},
		{"NodeData", `{"path":"/a","data":"x","encoding":"latin1","stat":` + mustJSON(t, stat) + `}`},
		{"Children", `{"path":"/a","children":[1],"stat":` + mustJSON(t, stat) + `}`},
		{"TreeNode", `{"path":"/a","stat":` + mustJSON(t, stat) + `}`},
		{"TreeNode", `{"path":"/a","stat":` + mustJSON(t, stat) + `,"children":[],"truncated":false}`},
		{"ErrorBody", `{"error":{"code":"Nope","message":"m"}}`},
		{"ErrorBody", `{"code":"NoNode","message":"m"}`},
		{"MultiSuccess", `{"results":[{"op":"create","path":"/a"}]}`},
		{"MultiSuccess", `{"results":[],"error":{"code":"NoNode","message":"m","index":0}}`},
		{"MultiFailure", `{"results":[{}],"error":{"code":"NoNode","message":"m"}}`},
		{"Session", `{"id":"0x1","timeout_ms":100}`},
		{"Session", `{"id":12,"timeout_ms":10000}`},
		{"Status", `{"server_state":"leader"}`},
	}
	for _, c := range bad {
		var v any
		if err := json.Unmarshal([]byte(c.json), &v); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if err := visitValue(t, doc, c.schema, v); err == nil {
			t.Errorf("%s: %s accepted, want refused", c.schema, c.json)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func visit(t *testing.T, doc *openapi3.T, schema string, v any) error {
	t.Helper()
	var generic any
	if err := json.Unmarshal([]byte(mustJSON(t, v)), &generic); err != nil {
		t.Fatal(err)
	}
	return visitValue(t, doc, schema, generic)
}

func visitValue(t *testing.T, doc *openapi3.T, schema string, v any) error {
	t.Helper()
	ref := doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		t.Fatalf("no component schema %s", schema)
	}
	// Both of kin-openapi's validators must agree: its own (the default of
	// openapi3filter) and the JSON Schema 2020-12 one of OpenAPI 3.1.
	errDefault := ref.Value.VisitJSON(v, openapi3.MultiErrors())
	err2020 := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
	if (errDefault == nil) != (err2020 == nil) {
		t.Errorf("%s: the validators disagree: default %v; 2020-12 %v", schema, errDefault, err2020)
	}
	if errDefault != nil {
		return errDefault
	}
	return err2020
}

// TestSpecChecksResponses runs canned exchanges through openapi3filter, the
// way conformance tests check the server. kin's routers cannot match a
// {path} that spans segments, so the route is built by hand.
func TestSpecChecksResponses(t *testing.T) {
	doc := loadSpec(t)
	stat := mustJSON(t, api.Stat{Czxid: 3, Mzxid: 3, Pzxid: 3, Ctime: 1, Mtime: 1, EphemeralOwner: 0x1f3a, DataLength: 2})
	badStat := strings.Replace(stat, `"0x1f3a"`, `7994`, 1)
	errBody := func(code api.Code) string {
		return mustJSON(t, api.ErrorBody{Error: api.Errorf(code, "/a", "m")})
	}
	h := func(kv ...string) http.Header {
		hdr := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			hdr.Set(kv[i], kv[i+1])
		}
		return hdr
	}
	jsonZxid := func(kv ...string) http.Header {
		return h(append([]string{"Content-Type", "application/json", "Canopy-Zxid", "7"}, kv...)...)
	}
	cases := []struct {
		name, method, path, url string
		reqHeader               http.Header
		reqBody                 string
		status                  int
		header                  http.Header
		body                    string
		ok                      bool
	}{
		{"getData", "GET", "/v1/nodes/{path}", "/v1/nodes/a/b?consistency=stale&min_zxid=3", nil, "",
			200, jsonZxid(), `{"path":"/a/b","data":"hi","encoding":"utf8","stat":` + stat + `}`, true},
		{"getData without Canopy-Zxid", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			200, h("Content-Type", "application/json"), `{"path":"/a","data":"hi","encoding":"utf8","stat":` + stat + `}`, false},
		{"getData bad encoding", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			200, jsonZxid(), `{"path":"/a","data":"hi","encoding":"hex","stat":` + stat + `}`, false},
		{"getData raw", "GET", "/v1/nodes/{path}", "/v1/nodes/a?raw", nil, "",
			200, h("Content-Type", "application/octet-stream", "Canopy-Zxid", "7", "ETag", `"0"`, "Canopy-Stat", stat), "hi", true},
		{"getData raw bad ETag", "GET", "/v1/nodes/{path}", "/v1/nodes/a?raw", nil, "",
			200, h("Content-Type", "application/octet-stream", "Canopy-Zxid", "7", "ETag", `W/0`, "Canopy-Stat", stat), "hi", false},
		{"getData NoNode", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			404, jsonZxid(), errBody(api.CodeNoNode), true},
		{"getData 404 with the wrong code", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			404, jsonZxid(), errBody(api.CodeNotFound), false},
		{"getData undocumented 500", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			500, jsonZxid(), errBody(api.CodeSystemError), false},
		{"getData 503 with Retry-After", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			503, jsonZxid("Retry-After", "1"), errBody(api.CodeUnavailable), true},
		{"getData 503 without Retry-After", "GET", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			503, jsonZxid(), errBody(api.CodeUnavailable), false},
		{"head", "HEAD", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			200, h("Canopy-Zxid", "7", "ETag", `"0"`, "Canopy-Stat", stat), "", true},
		{"head without ETag", "HEAD", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			200, h("Canopy-Zxid", "7", "Canopy-Stat", stat), "", false},
		{"head with a wrong Canopy-Stat", "HEAD", "/v1/nodes/{path}", "/v1/nodes/a", nil, "",
			200, h("Canopy-Zxid", "7", "ETag", `"0"`, "Canopy-Stat", badStat), "", false},
		{"create ephemeral sequential", "POST", "/v1/nodes/{path}", "/v1/nodes/q/?ephemeral&sequential=1",
			h("Content-Type", "text/plain", "Canopy-Session", "0x1f3a"), "hi",
			201, jsonZxid("Location", "/v1/nodes/q/0000000001"), `{"path":"/q/0000000001","stat":` + stat + `}`, true},
		{"create without Location", "POST", "/v1/nodes/{path}", "/v1/nodes/a", nil, "hi",
			201, jsonZxid(), `{"path":"/a","stat":` + stat + `}`, false},
		{"create with a bad flag value", "POST", "/v1/nodes/{path}", "/v1/nodes/a?ephemeral=yes", nil, "",
			400, jsonZxid(), errBody(api.CodeBadArguments), false},
		{"setData If-Match", "PUT", "/v1/nodes/{path}", "/v1/nodes/a",
			h("Content-Type", "application/octet-stream", "If-Match", `"3"`), "x",
			412, jsonZxid(), errBody(api.CodeBadVersion), true},
		{"delete", "DELETE", "/v1/nodes/{path}", "/v1/nodes/a?recursive&version=-1", nil, "",
			204, h("Canopy-Zxid", "9"), "", true},
		{"children", "GET", "/v1/children/{path}", "/v1/children/a?limit=2&after=b&stat", nil, "",
			200, jsonZxid(), `{"path":"/a","children":[{"name":"c","stat":` + stat + `}],"stat":` + stat + `,"next":"c"}`, true},
		{"children limit out of range", "GET", "/v1/children/{path}", "/v1/children/a?limit=0", nil, "",
			400, jsonZxid(), errBody(api.CodeBadArguments), false},
		{"multi failure", "POST", "/v1/multi", "/v1/multi", h("Content-Type", "application/json"),
			`{"ops":[{"op":"check","path":"/a","version":1},{"op":"create","path":"/b"}]}`,
			409, jsonZxid(), `{"error":{"code":"NodeExists","message":"m","path":"/b","index":1},"results":[{},{"error":{"code":"NodeExists","message":"m","path":"/b"}}]}`, true},
		{"multi failure without index", "POST", "/v1/multi", "/v1/multi", h("Content-Type", "application/json"),
			`{"ops":[]}`,
			409, jsonZxid(), `{"error":{"code":"NodeExists","message":"m"},"results":[]}`, false},
		{"multi malformed", "POST", "/v1/multi", "/v1/multi", h("Content-Type", "application/json"),
			`{"ops":[]}`,
			400, jsonZxid(), errBody(api.CodeBadArguments), true},
		{"session", "POST", "/v1/sessions", "/v1/sessions", h("Content-Type", "application/json"), `{"timeout_ms":5000}`,
			201, jsonZxid("Location", "/v1/sessions/0x1f3a"), `{"id":"0x1f3a","timeout_ms":5000}`, true},
		{"status", "GET", "/v1/status", "/v1/status", nil, "",
			200, jsonZxid(), `{"server_state":"leader","node_id":"n1","version":"dev","zxid":7,"znode_count":4,"ephemerals_count":0,
			"approximate_data_size":0,"session_count":0,"watch_count":0,"num_alive_connections":1,"outstanding_requests":0,"requests_total":3,
			"avg_latency_ms":0.5,"min_latency_ms":0,"max_latency_ms":1.25,"uptime_ms":1000}`, true},
		{"readyz", "GET", "/readyz", "/readyz", nil, "",
			200, jsonZxid(), `{"status":"ready"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			item := doc.Paths.Value(c.path)
			op := item.GetOperation(c.method)
			req := httptest.NewRequest(c.method, c.url, strings.NewReader(c.reqBody))
			for k, v := range c.reqHeader {
				req.Header[k] = v
			}
			params := map[string]string{}
			if strings.HasSuffix(c.path, "{path}") {
				prefix := strings.TrimSuffix(c.path, "{path}")
				params["path"] = strings.TrimPrefix(req.URL.Path, prefix)
			}
			reqIn := &openapi3filter.RequestValidationInput{
				Request:    req,
				PathParams: params,
				Route:      &routers.Route{Spec: doc, Path: c.path, PathItem: item, Method: c.method, Operation: op},
				Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			reqErr := openapi3filter.ValidateRequest(context.Background(), reqIn)
			// kin skips every HEAD response: check it as if to a GET, but
			// against the HEAD operation.
			respReqIn := *reqIn
			if c.method == http.MethodHead {
				respReqIn.Request = httptest.NewRequest(http.MethodGet, c.url, nil)
			}
			respIn := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &respReqIn,
				Status:                 c.status,
				Header:                 c.header,
				Options:                &openapi3filter.Options{IncludeResponseStatus: true},
			}
			respIn.SetBodyBytes([]byte(c.body))
			respErr := openapi3filter.ValidateResponse(context.Background(), respIn)
			if c.ok && (reqErr != nil || respErr != nil) {
				t.Errorf("refused: request: %v; response: %v", reqErr, respErr)
			}
			if !c.ok {
				if reqErr == nil && respErr == nil {
					t.Errorf("accepted, want refused")
				} else {
					t.Logf("refused as it should be: request: %v; response: %v", reqErr, respErr)
				}
			}
		})
	}
}
