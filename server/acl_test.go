package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// Authentication across the whole node (httpapi in front of wsnotify):
// Basic, the login cookie and client certificates on the WebSocket and
// the event stream, and the NoAuth bound across transports.

var aclUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "super": "pw"}

func withSuperDigest(m *server.Main) { m.SuperDigest = api.Digest("super", "pw") }

// aclHeader is an Authorization header for user, or a Cookie header for
// "cookie=<name>=<value>".
func aclHeader(who string) http.Header {
	h := http.Header{}
	switch {
	case who == "":
	case strings.HasPrefix(who, "cookie="):
		h.Set("Cookie", strings.TrimPrefix(who, "cookie="))
	default:
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(who, aclUsers[who])
		h.Set("Authorization", r.Header.Get("Authorization"))
	}
	return h
}

func aclDo(t *testing.T, c *http.Client, method, url, who, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range aclHeader(who) {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
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
	return resp, b.String()
}

// aclWS dials the node's WebSocket as who (see aclHeader) and returns the
// connection, or the HTTP status of a refused upgrade.
func aclWS(t *testing.T, c *http.Client, base, who string) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/v1/watch"
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: c, HTTPHeader: aclHeader(who)})
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode
		}
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws, http.StatusSwitchingProtocols
}

// aclFrame sends one frame and returns the answer to it (events skipped).
func aclFrame(t *testing.T, ws *websocket.Conn, frame map[string]any) (json.RawMessage, *api.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	frame["id"] = 1
	b, _ := json.Marshal(frame)
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer to %s: %v", b, err)
		}
		var f struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *api.Error      `json:"error"`
		}
		if json.Unmarshal(data, &f) == nil && string(f.ID) == "1" {
			return f.Result, f.Error
		}
	}
}

func wsWhoAmI(t *testing.T, ws *websocket.Conn) api.WhoAmI {
	t.Helper()
	res, e := aclFrame(t, ws, map[string]any{"op": "whoami"})
	if e != nil {
		t.Fatalf("whoami: %+v", e)
	}
	var w api.WhoAmI
	if err := json.Unmarshal(res, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestAuthCookieAndBasicOnTheWebSocketAndEvents: the login cookie and
// Basic credentials on the upgrade authenticate the WebSocket and the
// event stream as they do REST requests.
func TestAuthCookieAndBasicOnTheWebSocketAndEvents(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, withSuperDigest)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, body := aclDo(t, c, "POST", nd.URL+"/v1/login", "alice", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var cookie string // name=value
	for _, ck := range resp.Cookies() {
		if ck.Name == "canopy_auth" || strings.HasPrefix(ck.Name, "canopy_auth_") {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("login set no cookie")
	}
	for _, tc := range []struct {
		who, user string
	}{
		{"alice", "alice"},
		{"cookie=" + cookie, "alice"},
		{"bob", "bob"},
		{"", ""},
		{"cookie=" + cookie + "x", ""},
	} {
		ws, status := aclWS(t, c, nd.URL, tc.who)
		if ws == nil {
			t.Fatalf("upgrade as %.30q: HTTP %d", tc.who, status)
		}
		if w := wsWhoAmI(t, ws); w.User != tc.user || w.Authenticated != (tc.user != "") {
			t.Errorf("whoami over the WebSocket as %.30q: %+v, want user %q", tc.who, w, tc.user)
		}
	}

	// The event stream: alice's private node's events reach alice (by her
	// cookie) and not an anonymous stream.
	stream := func(who string) (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", nd.URL+"/v1/events?recursive", nil)
		for k, v := range aclHeader(who) {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			cancel()
			t.Fatalf("GET /v1/events as %.30q: %v %v", who, err, resp)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp, cancel
	}
	mine, _ := stream("cookie=" + cookie)
	anon, _ := stream("")
	ready := func(r *http.Response) chan string {
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			buf := make([]byte, 4096)
			var acc string
			for {
				n, err := r.Body.Read(buf)
				acc += string(buf[:n])
				for {
					line, rest, ok := strings.Cut(acc, "\n")
					if !ok {
						break
					}
					acc = rest
					lines <- line
				}
				if err != nil {
					return
				}
			}
		}()
		return lines
	}
	mineLines, anonLines := ready(mine), ready(anon)
	// Each stream says it is watching before it sends events.
	for _, l := range []chan string{mineLines, anonLines} {
		waitLine(t, l, ": watching")
	}
	if r, b := aclDo(t, c, "POST", nd.URL+"/v1/nodes/priv?acl=auth::cdrwa", "cookie="+cookie, ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("create /priv with the cookie: %d %s", r.StatusCode, b)
	}
	if r, b := aclDo(t, c, "POST", nd.URL+"/v1/nodes/open", "", ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("create /open: %d %s", r.StatusCode, b)
	}
	if l := waitLine(t, mineLines, "data:"); !strings.Contains(l, `"/priv"`) {
		t.Errorf("alice's stream: first event %s, want /priv's NodeCreated", l)
	}
	if l := waitLine(t, anonLines, "data:"); !strings.Contains(l, `"/open"`) {
		t.Errorf("the anonymous stream: first event %s, want /open's (nothing about /priv)", l)
	}
}

// waitLine returns the next line of lines that starts with prefix.
func waitLine(t *testing.T, lines chan string, prefix string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before a line starting %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line starting %q within 10 s", prefix)
		}
	}
}

// TestAuthNoAuthLimitHoldsOnTheWebSocket: a client that REST holds back
// for its NoAuth answers (429) is held back on a WebSocket too: its
// upgrade is 429, or its frames are answered Throttled.
func TestAuthNoAuthLimitHoldsOnTheWebSocket(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, withSuperDigest)
	c := &http.Client{Timeout: 10 * time.Second}
	if r, b := aclDo(t, c, "POST", nd.URL+"/v1/nodes/lock?acl=digest:"+api.Digest("alice", "alice-pw")+":cdrwa", "super", ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("create /lock: %d %s", r.StatusCode, b)
	}
	throttledREST := false
	for i := 1; i <= 200 && !throttledREST; i++ {
		r, b := aclDo(t, c, "GET", nd.URL+"/v1/nodes/lock", "bob", "")
		switch r.StatusCode {
		case http.StatusForbidden:
		case http.StatusTooManyRequests:
			throttledREST = true
		default:
			t.Fatalf("REST request %d: %d %s", i, r.StatusCode, b)
		}
	}
	if !throttledREST {
		t.Fatal("200 NoAuth answers and REST never answered 429")
	}
	ws, status := aclWS(t, c, nd.URL, "bob")
	if ws == nil {
		if status != http.StatusTooManyRequests {
			t.Errorf("upgrade of a throttled client: HTTP %d, want 429 (or frames answered Throttled)", status)
		}
		return
	}
	if res, e := aclFrame(t, ws, map[string]any{"op": "getData", "path": "/lock"}); e == nil || e.Code != api.CodeThrottled {
		t.Errorf("a client throttled for its NoAuth answers goes on over a WebSocket: getData answers %s %+v, want Throttled", res, e)
	}
}

// TestAuthNoAuthOverTheWebSocketCounts: NoAuth answers to WebSocket
// frames count toward the client's bound (a guesser needs one upgrade
// and one frame per password): past it, frames and REST are throttled.
func TestAuthNoAuthOverTheWebSocketCounts(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, withSuperDigest)
	c := &http.Client{Timeout: 10 * time.Second}
	if r, b := aclDo(t, c, "POST", nd.URL+"/v1/nodes/lock?acl=digest:"+api.Digest("alice", "alice-pw")+":cdrwa", "super", ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("create /lock: %d %s", r.StatusCode, b)
	}
	throttled := false
	for i := 0; i < 200 && !throttled; i++ {
		ws, status := aclWS(t, c, nd.URL, "bob")
		if ws == nil {
			if status != http.StatusTooManyRequests {
				t.Fatalf("upgrade %d: HTTP %d", i, status)
			}
			throttled = true
			break
		}
		_, e := aclFrame(t, ws, map[string]any{"op": "getData", "path": "/lock"})
		switch {
		case e != nil && e.Code == api.CodeThrottled:
			throttled = true
		case e == nil || e.Code != api.CodeNoAuth:
			t.Fatalf("frame %d: %+v, want NoAuth", i, e)
		}
		ws.CloseNow()
	}
	if !throttled {
		t.Fatal("200 NoAuth answers over WebSockets and none was throttled")
	}
	if r, _ := aclDo(t, c, "GET", nd.URL+"/v1/nodes/lock", "bob", ""); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after the WebSocket's NoAuth answers passed the bound, REST answers %d, want 429", r.StatusCode)
	}
}

// TestAuthX509OnTheWebSocket: a verified client certificate is the
// identity x509:<DN> on a WebSocket too, and an x509 ACL admits it.
func TestAuthX509OnTheWebSocket(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	certFile, keyFile := ca.IssueFiles(t, t.TempDir(), "server", "127.0.0.1")
	caFile := t.TempDir() + "/client-ca.pem"
	testkit.WriteFile(t, caFile, ca.PEM)
	nd := testnode.Start(t, withSuperDigest, func(m *server.Main) {
		m.TLSCert, m.TLSKey, m.TLSClientCA, m.AuthRequired = certFile, keyFile, caFile, true
	})
	client := func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		tr := &http.Transport{TLSClientConfig: cfg}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	aliceCert := ca.Issue(t, "alice")
	alice, bob, none := client(&aliceCert), client(ptrTo(ca.Issue(t, "bob"))), client(nil)
	dn := "CN=alice,O=Canopy tests"

	if _, status := aclWS(t, none, nd.URL, ""); status != http.StatusUnauthorized {
		t.Errorf("an anonymous upgrade under --auth-required: HTTP %d, want 401", status)
	}
	ws, status := aclWS(t, alice, nd.URL, "")
	if ws == nil {
		t.Fatalf("upgrade with alice's certificate: HTTP %d", status)
	}
	w := wsWhoAmI(t, ws)
	found := false
	for _, id := range w.Identities {
		found = found || id == api.Identity{Scheme: "x509", ID: dn}
	}
	if !found || !w.Authenticated {
		t.Fatalf("whoami with alice's certificate: %+v, want x509:%s", w, dn)
	}
	if r, b := aclDo(t, none, "POST", nd.URL+"/v1/nodes/x?acl="+strings.ReplaceAll(fmt.Sprintf("x509:%s:r", dn), " ", "%20"), "super", "hi"); r.StatusCode != http.StatusCreated {
		t.Fatalf("create /x: %d %s", r.StatusCode, b)
	}
	if _, e := aclFrame(t, ws, map[string]any{"op": "getData", "path": "/x"}); e != nil {
		t.Errorf("getData /x with alice's certificate: %+v", e)
	}
	if _, e := aclFrame(t, ws, map[string]any{"op": "setData", "path": "/x", "data": "no"}); e == nil || e.Code != api.CodeNoAuth {
		t.Errorf("setData /x with alice's certificate (r only): %+v, want NoAuth", e)
	}
	bws, status := aclWS(t, bob, nd.URL, "")
	if bws == nil {
		t.Fatalf("upgrade with bob's certificate: HTTP %d", status)
	}
	if _, e := aclFrame(t, bws, map[string]any{"op": "getData", "path": "/x"}); e == nil || e.Code != api.CodeNoAuth {
		t.Errorf("getData /x with bob's certificate: %+v, want NoAuth", e)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestAuthSessionOnTheUpgrade: a WebSocket or event stream that names
// another identity's session (Canopy-Session) is refused 403 NoAuth, as
// a REST request naming it is; its owner's is served.
func TestAuthSessionOnTheUpgrade(t *testing.T) {
	t.Parallel()
	nd := testnode.Start(t, withSuperDigest)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, body := aclDo(t, c, "POST", nd.URL+"/v1/sessions", "alice", `{"timeout_ms":30000}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("open a session: %d %s", resp.StatusCode, body)
	}
	var s api.Session
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	dial := func(who string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := aclHeader(who)
		h.Set("Canopy-Session", s.ID.String())
		ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(nd.URL, "http")+"/v1/watch", &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			ws.CloseNow()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("dial as %q: %v", who, err)
		}
		return resp.StatusCode
	}
	for _, who := range []string{"bob", ""} {
		if got := dial(who); got != http.StatusForbidden {
			t.Errorf("upgrade as %q naming alice's session: HTTP %d, want 403", who, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", nd.URL+"/v1/events", nil)
		for k, v := range aclHeader(who) {
			req.Header[k] = v
		}
		req.Header.Set("Canopy-Session", s.ID.String())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("GET /v1/events as %q: %v", who, err)
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /v1/events as %q naming alice's session: %d, want 403", who, resp.StatusCode)
		}
		resp.Body.Close()
		cancel()
	}
	if got := dial("alice"); got != http.StatusSwitchingProtocols {
		t.Errorf("upgrade as alice naming her session: HTTP %d, want 101", got)
	}
}
