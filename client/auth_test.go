package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// contractServer answers the ACL routes of the issue 12 contract as a
// server would, over TLS, and records what the client sent: how each
// request was authenticated, and the queries and bodies.
type contractServer struct {
	*httptest.Server
	mu   sync.Mutex
	auth map[string]string // "METHOD /route" -> Authorization
	seen map[string]string // "METHOD /route" -> raw query, or body
}

func (s *contractServer) record(r *http.Request, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	s.auth[key] = r.Header.Get("Authorization")
	s.seen[key] = what
}

func (s *contractServer) got(key string) (auth, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth[key], s.seen[key]
}

func startContractServer(t *testing.T) *contractServer {
	t.Helper()
	s := &contractServer{auth: map[string]string{}, seen: map[string]string{}}
	acl := []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermRead}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, "")
		user, pw, _ := r.BasicAuth()
		api.WriteJSON(w, 200, 0, api.WhoAmI{Authenticated: true, User: user,
			Identities: []api.Identity{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: api.Digest(user, pw)}}})
	})
	mux.HandleFunc("GET /v1/acl/{path...}", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, "")
		if r.PathValue("path") == "locked" {
			api.WriteError(w, 0, api.NoAuth("/locked", api.PermRead))
			return
		}
		api.WriteJSON(w, 200, 0, api.ACLResult{Path: "/" + r.PathValue("path"), ACL: acl})
	})
	mux.HandleFunc("PUT /v1/acl/{path...}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.record(r, r.URL.RawQuery+" "+string(body))
		var req api.SetACLRequest
		if err := json.Unmarshal(body, &req); err != nil || len(req.ACL) == 0 {
			api.WriteError(w, 0, api.InvalidACL("/"+r.PathValue("path"), "the ACL is empty"))
			return
		}
		api.WriteJSON(w, 200, 0, api.ACLResult{Path: "/" + r.PathValue("path"), ACL: req.ACL, Stat: api.Stat{Aversion: 1}})
	})
	mux.HandleFunc("POST /v1/nodes/{path...}", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, r.URL.RawQuery)
		api.WriteJSON(w, 201, 0, api.PathStat{Path: "/" + r.PathValue("path")})
	})
	mux.HandleFunc("POST /v1/multi", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.record(r, string(body))
		api.WriteJSON(w, 200, 0, api.MultiResponse{Results: []api.MultiResult{{Op: "create", Path: "/m"}}})
	})
	mux.HandleFunc("GET /v1/watch", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, "")
		if _, pw, _ := r.BasicAuth(); pw != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="canopy"`)
			api.WriteError(w, 0, api.AuthFailed("bad credentials"))
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			_, data, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			var req api.Request
			json.Unmarshal(data, &req)
			res, _ := json.Marshal(api.Response{ID: req.ID, Result: api.ExistsResult{}})
			conn.Write(r.Context(), websocket.MessageText, res)
		}
	})
	s.Server = httptest.NewTLSServer(mux) // on 127.0.0.1
	t.Cleanup(s.Close)
	return s
}

// trusting is a TLS configuration that trusts the test server's certificate.
func trusting(s *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool}
}

func TestTLSClientSendsBasicAuthOnEveryRequestAndTheUpgrade(t *testing.T) {
	t.Parallel()
	s := startContractServer(t)
	hostPort := strings.TrimPrefix(s.URL, "https://")
	c, err := client.New(client.Config{Servers: []string{hostPort}, TLS: trusting(s.Server), User: "alice", Password: "secret"})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	if got := c.Server(); got != s.URL {
		t.Fatalf("host:port with TLS became %q, want %q", got, s.URL)
	}
	ctx := testCtx(t, 30*time.Second)
	wantAuth := "Basic YWxpY2U6c2VjcmV0" // alice:secret

	who, err := c.WhoAmI(ctx)
	check(t, err)
	if who.User != "alice" || len(who.Identities) != 2 || who.Identities[1].ID != api.Digest("alice", "secret") {
		t.Fatalf("WhoAmI = %+v", who)
	}

	res, err := c.GetACL(ctx, "/a b")
	check(t, err)
	if res.Path != "/a b" || len(res.ACL) != 1 || res.ACL[0].String() != "world:anyone:r" {
		t.Fatalf("GetACL = %+v", res)
	}

	acl := must(api.ParseACLList(api.Digest("alice", "secret") + ":cdrwa,world:anyone:r"))
	res, err = c.SetACL(ctx, "/a", acl, 0)
	check(t, err)
	if res.Stat.Aversion != 1 || len(res.ACL) != 2 {
		t.Fatalf("SetACL = %+v", res)
	}
	if _, sent := s.got("PUT /v1/acl/a"); !strings.HasPrefix(sent, "aversion=0 ") || !strings.Contains(sent, `"perms":"cdrwa"`) {
		t.Fatalf("SetACL sent %q", sent)
	}
	_, err = c.SetACL(ctx, "/a", acl, client.AnyVersion)
	check(t, err)
	if _, sent := s.got("PUT /v1/acl/a"); strings.Contains(sent, "aversion") {
		t.Fatalf("SetACL with AnyVersion sent %q, want no aversion", sent)
	}

	_, _, err = c.Create(ctx, "/n", nil, &client.CreateOptions{ACL: acl})
	check(t, err)
	_, sent := s.got("POST /v1/nodes/n")
	if got, want := strings.Join(mustQuery(t, sent)["acl"], ","), acl[0].String()+","+acl[1].String(); got != want {
		t.Fatalf("create sent acl %q (query %q), want %q", got, sent, want)
	}

	_, err = c.Multi(ctx, client.CreateOp("/m", nil, &client.CreateOptions{ACL: acl[1:]}))
	check(t, err)
	if _, sent := s.got("POST /v1/multi"); !strings.Contains(sent, `"acl":[{"scheme":"world","id":"anyone","perms":"r"}]`) {
		t.Fatalf("multi sent %s", sent)
	}

	// The WebSocket upgrade carries the credentials too (wss).
	_, _, _, err = c.ExistsW(ctx, "/a")
	check(t, err)

	for _, key := range []string{"GET /v1/whoami", "GET /v1/acl/a b", "PUT /v1/acl/a", "POST /v1/nodes/n", "POST /v1/multi", "GET /v1/watch"} {
		if got, _ := s.got(key); got != wantAuth {
			t.Errorf("%s: Authorization %q, want %q", key, got, wantAuth)
		}
	}
}

func mustQuery(t *testing.T, raw string) map[string][]string {
	t.Helper()
	q, err := url.ParseQuery(raw)
	check(t, err)
	return q
}

func TestACLErrorsMatchTheirSentinels(t *testing.T) {
	t.Parallel()
	s := startContractServer(t)
	c, err := client.New(client.Config{Servers: []string{s.URL}, TLS: trusting(s.Server), User: "alice", Password: "wrong"})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	ctx := testCtx(t, 30*time.Second)

	if _, err := c.GetACL(ctx, "/locked"); !errors.Is(err, client.ErrNoAuth) {
		t.Errorf("GetACL of a node the caller may not read: %v, want ErrNoAuth", err)
	}
	if _, err := c.SetACL(ctx, "/a", nil, client.AnyVersion); !errors.Is(err, client.ErrInvalidACL) {
		t.Errorf("SetACL with no entry: %v, want ErrInvalidACL", err)
	}
	// A refused upgrade ends the call at once, with the server's reason.
	start := time.Now()
	if _, _, _, err := c.ExistsW(ctx, "/a"); !errors.Is(err, client.ErrAuthFailed) {
		t.Errorf("watch with refused credentials: %v, want ErrAuthFailed", err)
	}
	if _, err := c.Watch(ctx, "/a", nil); !errors.Is(err, client.ErrAuthFailed) {
		t.Errorf("persistent watch with refused credentials: %v, want ErrAuthFailed", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("refused upgrades took %v to fail", took)
	}
}

func TestUntrustedCertificateFailsAtOnce(t *testing.T) {
	t.Parallel()
	s := startContractServer(t)
	// The system's roots do not include httptest's certificate.
	c, err := client.New(client.Config{Servers: []string{s.URL}, TLS: &tls.Config{}})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	start := time.Now()
	_, err = c.WhoAmI(testCtx(t, 30*time.Second))
	var cv *tls.CertificateVerificationError
	if !errors.As(err, &cv) {
		t.Fatalf("WhoAmI against an untrusted certificate: %v, want a certificate verification error", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("took %v: a certificate problem is not retried until the deadline", took)
	}
}

func TestPasswordWithoutUserIsRefused(t *testing.T) {
	if _, err := client.New(client.Config{Servers: []string{"127.0.0.1:1"}, Password: "x"}); err == nil {
		t.Fatal("a Password with no User was accepted")
	}
}

func TestWatchOverUntrustedTLSFailsAtOnce(t *testing.T) {
	t.Parallel()
	s := startContractServer(t)
	c, err := client.New(client.Config{Servers: []string{s.URL}, TLS: &tls.Config{}})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	start := time.Now()
	_, err = c.Watch(testCtx(t, 30*time.Second), "/a", nil)
	var cv *tls.CertificateVerificationError
	if !errors.As(err, &cv) || time.Since(start) > 10*time.Second {
		t.Fatalf("Watch against an untrusted certificate: %v after %v, want a certificate verification error at once", err, time.Since(start))
	}
}

// tlsNode starts a real node serving TLS with a certificate of ca, which
// also verifies client certificates.
func tlsNode(t *testing.T, ca *testkit.CA) *testnode.Node {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "server", "127.0.0.1")
	caFile := filepath.Join(dir, "ca.pem")
	testkit.WriteFile(t, caFile, ca.PEM)
	return testnode.Start(t, func(m *server.Main) { m.TLSCert, m.TLSKey, m.TLSClientCA = certFile, keyFile, caFile })
}

func TestClientWorksOverTLSWithItsCA(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := tlsNode(t, ca)
	hostPort := strings.TrimPrefix(nd.URL, "https://")
	c, err := client.New(client.Config{Servers: []string{hostPort}, TLS: &tls.Config{RootCAs: ca.Pool()}})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	ctx := testCtx(t, 30*time.Second)

	_, _, err = c.Create(ctx, "/a", []byte("v1"), nil)
	check(t, err)
	_, _, events, err := c.ExistsW(ctx, "/a") // over wss
	check(t, err)
	w, err := c.Watch(ctx, "/", &client.WatchOptions{Recursive: true})
	check(t, err)
	defer w.Close()
	_, err = c.Set(ctx, "/a", []byte("v2"), client.AnyVersion)
	check(t, err)
	expectEvent(t, events, client.EventNodeDataChanged, "/a", 0)
	select {
	case e := <-w.Events():
		if e.Type != client.EventNodeDataChanged || e.Path != "/a" {
			t.Fatalf("persistent watch over wss got %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no event on the persistent watch over wss")
	}

	// Plain http to a TLS node, and an unknown CA, are refused at once.
	for name, cfg := range map[string]client.Config{
		"http":       {Servers: []string{"http://" + hostPort}},
		"unknown CA": {Servers: []string{hostPort}, TLS: &tls.Config{RootCAs: testkit.NewCA(t, "other CA").Pool()}},
	} {
		c, err := client.New(cfg)
		check(t, err)
		start := time.Now()
		if _, err := c.Get(ctx, "/a"); err == nil || time.Since(start) > 10*time.Second {
			t.Errorf("%s: Get = %v after %v; want a refusal at once", name, err, time.Since(start))
		}
		c.Close()
	}
}

func TestClientCertificateGivesAnX509Identity(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := tlsNode(t, ca)
	withCert := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.Issue(t, "alice-cert")}}
	c, err := client.New(client.Config{Servers: []string{nd.URL}, TLS: withCert})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	anon, err := client.New(client.Config{Servers: []string{nd.URL}, TLS: &tls.Config{RootCAs: ca.Pool()}})
	check(t, err)
	t.Cleanup(func() { anon.Close() })
	ctx := testCtx(t, 30*time.Second)

	const dn = "CN=alice-cert,O=Canopy tests" // pkix.Name.String()
	who, err := c.WhoAmI(ctx)
	check(t, err)
	found := false
	for _, id := range who.Identities {
		found = found || id == api.Identity{Scheme: "x509", ID: dn}
	}
	if !found || !who.Authenticated {
		t.Fatalf("WhoAmI with a client certificate = %+v, want x509:%s", who, dn)
	}
	_, _, err = c.Create(ctx, "/mine", []byte("x"), &client.CreateOptions{ACL: []api.ACL{{Scheme: "x509", ID: dn, Perms: api.PermAll}}})
	check(t, err)
	if _, err := c.Get(ctx, "/mine"); err != nil {
		t.Errorf("Get by the certificate's holder: %v", err)
	}
	if _, err := anon.Get(ctx, "/mine"); !errors.Is(err, client.ErrNoAuth) {
		t.Errorf("Get without the certificate: %v, want ErrNoAuth", err)
	}
}
