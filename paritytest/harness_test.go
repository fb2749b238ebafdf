package paritytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
)

// harness prepares the node's tree for each run and reads it back.
type harness struct {
	base    string
	client  *http.Client
	session api.ID // the session of the run under way
}

func newHarness(t *testing.T, base string) *harness {
	return &harness{base: base, client: &http.Client{Timeout: 30 * time.Second}}
}

func (h *harness) call(t *testing.T, method, path string, body []byte, hdr http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (h *harness) must(t *testing.T, want int, method, path string, body []byte, hdr http.Header) []byte {
	t.Helper()
	status, b := h.call(t, method, path, body, hdr)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	return b
}

// reset makes /p hold exactly setup (a "!ephemeral " entry is an
// ephemeral of the run's session), closing the last run's session and
// opening a new one, which it returns.
func (h *harness) reset(t *testing.T, setup []string) api.ID {
	t.Helper()
	if h.session != 0 {
		h.must(t, http.StatusNoContent, "DELETE", "/v1/sessions/"+h.session.String(), nil, nil)
	}
	if status, b := h.call(t, "DELETE", "/v1/nodes/p?recursive", nil, nil); status != http.StatusNoContent && status != http.StatusNotFound {
		t.Fatalf("clearing /p: %d %s", status, b)
	}
	var sess api.Session
	if err := json.Unmarshal(h.must(t, http.StatusCreated, "POST", "/v1/sessions", []byte(`{"timeout_ms":60000}`), nil), &sess); err != nil {
		t.Fatal(err)
	}
	h.session = sess.ID
	h.must(t, http.StatusCreated, "POST", "/v1/nodes/p", nil, nil)
	for _, p := range setup {
		query, hdr := "", http.Header{}
		if rest, ok := strings.CutPrefix(p, "!ephemeral "); ok {
			p, query = rest, "?ephemeral"
			hdr.Set("Canopy-Session", sess.ID.String())
		}
		h.must(t, http.StatusCreated, "POST", "/v1/nodes"+escape(p)+query, []byte("setup"), hdr)
	}
	return sess.ID
}

// tree lists /p's subtree: each node's path, data length, versions,
// children and whether it is ephemeral (not its zxids or times).
func (h *harness) tree(t *testing.T) string {
	t.Helper()
	var root api.TreeNode
	if err := json.Unmarshal(h.must(t, http.StatusOK, "GET", "/v1/tree/p?depth=20", nil, nil), &root); err != nil {
		t.Fatal(err)
	}
	var lines []string
	var walk func(n *api.TreeNode)
	walk = func(n *api.TreeNode) {
		s := n.Stat
		lines = append(lines, fmt.Sprintf("%s len=%d v=%d cv=%d kids=%d eph=%v", n.Path, s.DataLength, s.Version, s.Cversion, s.NumChildren, s.EphemeralOwner != 0))
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(&root)
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

// escape percent-encodes each segment of a path for a URL.
func escape(p string) string {
	segs := strings.Split(p, "/")
	for i := range segs {
		segs[i] = url.PathEscape(segs[i])
	}
	return strings.Join(segs, "/")
}

// --- REST ---------------------------------------------------------------------

type rest struct{ h *harness }

func newREST(h *harness) transport { return rest{h: h} }

func (rest) name() string { return "REST" }

func (r rest) run(t *testing.T, o op, session api.ID) outcome {
	t.Helper()
	q := url.Values{}
	flag := func(on bool, name string) {
		if on {
			q.Set(name, "")
		}
	}
	hdr := http.Header{}
	if o.Session {
		hdr.Set("Canopy-Session", session.String())
	}
	if o.Version != nil {
		q.Set("version", fmt.Sprint(o.Version))
	}
	if o.Consistency != "" {
		q.Set("consistency", o.Consistency)
	}
	if o.MinZxid != nil {
		q.Set("min_zxid", fmt.Sprint(*o.MinZxid))
	}
	var method, route string
	var body []byte
	switch o.Op {
	case "create":
		method, route, body = "POST", "/v1/nodes", []byte(o.Data)
		flag(o.Ephemeral, "ephemeral")
		flag(o.Sequential, "sequential")
		flag(o.Container, "container")
		flag(o.Parents, "parents")
		if o.TTLms != nil {
			q.Set("ttl_ms", fmt.Sprint(*o.TTLms))
		}
	case "setData":
		method, route, body = "PUT", "/v1/nodes", []byte(o.Data)
	case "delete":
		method, route = "DELETE", "/v1/nodes"
		flag(o.Recursive, "recursive")
	case "getData":
		method, route = "GET", "/v1/nodes"
		if o.Encoding != "" {
			q.Set("encoding", o.Encoding)
		}
	case "exists":
		method, route = "GET", "/v1/stat"
	case "getChildren":
		method, route = "GET", "/v1/children"
	case "sync":
		method, route = "POST", "/v1/sync"
	case "multi":
		method, route = "POST", "/v1/multi"
		m := map[string]any{}
		if !o.NoOps {
			m["ops"] = o.Ops
		}
		body, _ = json.Marshal(m)
	default:
		t.Fatalf("REST: no route for %s", o.Op)
	}
	target := route
	if o.Op != "multi" {
		target += escape(o.Path)
	}
	// Go's query encoder writes "ephemeral=": the bare flag is the same.
	if enc := strings.ReplaceAll(q.Encode(), "=&", "&"); enc != "" {
		target += "?" + strings.TrimSuffix(enc, "=")
	}
	status, b := r.h.call(t, method, target, body, hdr)
	var out outcome
	var failed struct {
		Error   *api.Error        `json:"error"`
		Results []json.RawMessage `json:"results"`
	}
	_ = json.Unmarshal(b, &failed)
	switch {
	case o.Op == "exists" && status == http.StatusNotFound:
		return outcome{Code: "absent"}
	case status >= 300:
		if failed.Error == nil {
			t.Fatalf("REST %s %s: %d without the error body: %s", method, target, status, b)
		}
		out.Code, out.Index = string(failed.Error.Code), failed.Error.Index
	default:
		out.Code = "ok"
		if o.Op != "multi" && o.Op != "delete" {
			out.Result = normalizeResult(b)
		}
	}
	for _, r := range failed.Results {
		out.Results = append(out.Results, normalizeResult(r))
	}
	return out
}

// --- WebSocket ----------------------------------------------------------------

type ws struct{ h *harness }

func newWS(t *testing.T, h *harness) transport { return ws{h: h} }

func (ws) name() string { return "WebSocket" }

func (w ws) run(t *testing.T, o op, session api.ID) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.h.base, "http")+"/v1/watch", nil)
	if err != nil {
		t.Fatalf("WebSocket dial: %v", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(-1)
	if o.Session {
		if f := w.call(ctx, t, conn, map[string]any{"id": 1, "op": "attach", "session": session.String()}); f.Error != nil {
			t.Fatalf("attach: %v", f.Error)
		}
	}
	m := map[string]any{"id": 2, "op": o.Op, "path": o.Path}
	set := func(on bool, k string, v any) {
		if on {
			m[k] = v
		}
	}
	set(o.Data != "", "data", o.Data)
	set(o.Encoding != "", "encoding", o.Encoding)
	set(o.Version != nil, "version", o.Version)
	set(o.Ephemeral, "ephemeral", true)
	set(o.Sequential, "sequential", true)
	set(o.Container, "container", true)
	set(o.Parents, "parents", true)
	set(o.Recursive, "recursive", true)
	set(o.TTLms != nil, "ttl_ms", o.TTLms)
	set(o.Consistency != "", "consistency", o.Consistency)
	set(o.MinZxid != nil, "min_zxid", o.MinZxid)
	if o.Op == "multi" {
		delete(m, "path")
		set(!o.NoOps, "ops", o.Ops)
	}
	return frameOutcome(t, o.Op, w.call(ctx, t, conn, m))
}

// frameOutcome is the outcome an answer frame to op shows.
func frameOutcome(t *testing.T, op string, f wsFrame) outcome {
	t.Helper()
	var out outcome
	switch {
	case f.Error != nil:
		out.Code, out.Index = string(f.Error.Code), f.Error.Index
		for _, r := range f.Results {
			out.Results = append(out.Results, normalizeResult(r))
		}
	case op == "exists" && strings.Contains(string(f.Result), `"stat":null`):
		return outcome{Code: "absent"}
	case op == "multi":
		out.Code = "ok"
		var res struct{ Results []json.RawMessage }
		if err := json.Unmarshal(f.Result, &res); err != nil {
			t.Fatalf("multi result %s: %v", f.Result, err)
		}
		for _, r := range res.Results {
			out.Results = append(out.Results, normalizeResult(r))
		}
	default:
		out.Code = "ok"
		if op != "delete" {
			out.Result = normalizeResult(f.Result)
		}
	}
	return out
}

// wsFrame is an answer frame; events are skipped.
type wsFrame struct {
	ID      json.RawMessage   `json:"id"`
	Result  json.RawMessage   `json:"result"`
	Error   *api.Error        `json:"error"`
	Results []json.RawMessage `json:"results"`
}

func (ws) call(ctx context.Context, t *testing.T, conn *websocket.Conn, m map[string]any) wsFrame {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("WebSocket write: %v", err)
	}
	want := fmt.Sprint(m["id"])
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("WebSocket read, waiting for the answer to %s: %v", clip(string(b)), err)
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("WebSocket frame %s: %v", clip(string(data)), err)
		}
		if string(f.ID) == want {
			return f
		}
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
