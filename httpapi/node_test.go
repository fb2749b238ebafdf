package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	canopy "github.com/canopy-coord/canopy"
	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
	"github.com/canopy-coord/canopy/consensus"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testkit/raftnode"
	"github.com/canopy-coord/canopy/service"
)

// TestMain runs more tests at once than there are CPUs: they mostly wait.
func TestMain(m *testing.M) {
	flag.Parse()
	testkit.RaiseParallel()
	os.Exit(m.Run())
}

// testNode is one real single-node cluster serving the API on loopback.
type testNode struct {
	node   *consensus.Node
	server *Server
	*client
}

// startNode starts a real raft node on a temporary directory, serves the API
// over it on a loopback port and waits until /readyz answers 200. Everything
// stops when the test ends.
func startNode(t testing.TB) *testNode {
	t.Helper()
	return startNodeWith(t, service.Security{})
}

// startNodeWith is startNode with access control and options.
func startNodeWith(t testing.TB, sec service.Security, opts ...func(*Config, *service.Limits)) *testNode {
	t.Helper()
	node, srv := newSecureServer(t, 0, sec, opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		// net/http counts a connection that never sent a request (clients
		// dial spare ones) as busy for its first 5 s: wait past that.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	c := newClient(t, "http://"+ln.Addr().String())
	testkit.WaitFor(t, 10*time.Second, "readyz 200", func() bool {
		return c.do("GET", "/readyz", "", nil).status == http.StatusOK
	})
	return &testNode{node: node, server: srv, client: c}
}

// newServer opens a real node and builds the API over it, without serving
// it: the fuzz targets call ServeHTTP directly. reap is the node's
// ReapInterval (0: raftnode's); opts adjust the API's Config and the
// limits.
func newServer(t testing.TB, reap time.Duration, opts ...func(*Config, *service.Limits)) (*consensus.Node, *Server) {
	t.Helper()
	return newSecureServer(t, reap, service.Security{}, opts...)
}

// newSecureServer is newServer with access control (service.Security).
func newSecureServer(t testing.TB, reap time.Duration, sec service.Security, opts ...func(*Config, *service.Limits)) (*consensus.Node, *Server) {
	t.Helper()
	reg := prometheus.NewRegistry()
	node := raftnode.Open(t, func(c *consensus.Config) {
		c.Registerer = reg
		if reap != 0 {
			c.ReapInterval = reap
		}
	})
	cfg := Config{OpenAPI: canopy.OpenAPI, UI: testUI, Version: "test", Logger: zerolog.Nop(), Registerer: reg, Gatherer: reg}
	var limits service.Limits
	for _, o := range opts {
		o(&cfg, &limits)
	}
	svc := service.New(node, limits).WithSecurity(sec)
	cfg.Stream = cluster.NewStreamServer(node, 2*int(svc.Limits().MaxBodyBytes), zerolog.Nop(), reg)
	t.Cleanup(cfg.Stream.Close)
	return node, New(svc, node, cfg)
}

// testUI stands in for the embedded web UI, so that the UI routes exist.
var testUI = fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>canopy</title>")}}

// client talks to one node and checks every response it gets against
// openapi.yaml and the contract's invariants (Canopy-Zxid everywhere, JSON
// error bodies whose code has the response's status).
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, base string) *client {
	return &client{t: t, base: base, http: &http.Client{
		Timeout: 30 * time.Second,
		// The tests look at redirects themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reply is one response, read in full.
type reply struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

// hdr builds request headers from pairs.
func hdr(kv ...string) map[string]string {
	h := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

// do sends one request; path is sent as is (already escaped) and body is the
// raw request body. The response is validated before it is returned.
func (c *client) do(method, path, body string, headers map[string]string) *reply {
	c.t.Helper()
	return c.doReader(method, path, strings.NewReader(body), int64(len(body)), headers)
}

// doReader is do with a streamed body; size -1 sends it chunked.
func (c *client) doReader(method, path string, body io.Reader, size int64, headers map[string]string) *reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	r := &reply{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: b}
	if err := checkReply(req, r); err != nil {
		c.t.Errorf("%s %s → %d %s\n%v", method, path, r.status, truncate(b), err)
	}
	return r
}

// checkReply holds every response to the spec and the contract.
func checkReply(req *http.Request, r *reply) error {
	var errs []error
	if r.status >= 500 && r.status != http.StatusServiceUnavailable && r.status != http.StatusGatewayTimeout && r.status != http.StatusInsufficientStorage {
		errs = append(errs, errors.New("a server error: the contract allows none"))
	}
	z := r.header.Get("Canopy-Zxid")
	if n, err := strconv.ParseInt(z, 10, 64); err != nil || n < 0 {
		errs = append(errs, errors.New("no valid Canopy-Zxid header: "+strconv.Quote(z)))
	}
	if r.status >= 400 && req.Method != http.MethodHead {
		var e api.ErrorBody
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil {
			errs = append(errs, errors.New("an error without the error body"))
		} else if e.Error.Code.Status() != r.status {
			errs = append(errs, errors.New("error code "+string(e.Error.Code)+" does not go with status "+strconv.Itoa(r.status)))
		}
	}
	if req.Method == http.MethodHead && len(r.body) != 0 {
		errs = append(errs, errors.New("a HEAD response with a body"))
	}
	if err := validateResponse(req, r); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Helpers for the common calls. Each fails the test on an unexpected status.

func (c *client) expect(r *reply, status int) *reply {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, r.status, status, truncate(r.body))
	}
	return r
}

func (c *client) create(path, data string) api.PathStat {
	c.t.Helper()
	var ps api.PathStat
	c.expect(c.do("POST", "/v1/nodes"+path, data, nil), http.StatusCreated).decode(c.t, &ps)
	return ps
}

func (c *client) stat(path string) (api.Stat, bool) {
	c.t.Helper()
	r := c.do("GET", "/v1/stat"+path, "", nil)
	if r.status == http.StatusNotFound {
		return api.Stat{}, false
	}
	var ps api.PathStat
	c.expect(r, http.StatusOK).decode(c.t, &ps)
	return ps.Stat, true
}

func (c *client) exists(path string) bool {
	c.t.Helper()
	_, ok := c.stat(path)
	return ok
}

func (c *client) openSession(timeoutMs int64) api.ID {
	c.t.Helper()
	var s api.Session
	c.expect(c.do("POST", "/v1/sessions", `{"timeout_ms":`+strconv.FormatInt(timeoutMs, 10)+`}`, nil), http.StatusCreated).decode(c.t, &s)
	return s.ID
}

// state is everything a request could change, without the zxid of the
// answer: the whole tree with every Stat (a data change moves version, mzxid
// and dataLength), and the open sessions with their ephemerals.
func (c *client) state() string {
	c.t.Helper()
	return c.stateWith(false)
}

// stateWith is state, with each node's ACL when acls is set (c must then
// be able to read every ACL: the super user).
func (c *client) stateWith(acls bool) string {
	c.t.Helper()
	var b strings.Builder
	r := c.expect(c.do("GET", "/v1/tree/?depth=1000", "", nil), http.StatusOK)
	var root api.TreeNode
	r.decode(c.t, &root)
	var walk func(n *api.TreeNode)
	walk = func(n *api.TreeNode) {
		if n.Truncated {
			c.t.Fatalf("tree dump truncated at %s", n.Path)
		}
		st, _ := json.Marshal(n.Stat)
		b.WriteString(n.Path + " " + string(st))
		if acls {
			acl, _ := json.Marshal(c.getACL(n.Path).ACL)
			b.WriteString(" " + string(acl))
		}
		b.WriteString("\n")
		for _, k := range n.Children {
			walk(k)
		}
	}
	walk(&root)
	var sl api.SessionList
	c.expect(c.do("GET", "/v1/sessions", "", nil), http.StatusOK).decode(c.t, &sl)
	for _, s := range sl.Sessions {
		b.WriteString("session " + s.ID.String() + " " + strconv.FormatInt(s.TimeoutMs, 10) + " " + strings.Join(s.Ephemerals, ",") + "\n")
	}
	return b.String()
}

func (r *reply) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s %s: decoding %s: %v", r.method, r.path, truncate(r.body), err)
	}
}

func (r *reply) zxid(t testing.TB) int64 {
	t.Helper()
	n, err := strconv.ParseInt(r.header.Get("Canopy-Zxid"), 10, 64)
	if err != nil {
		t.Fatalf("%s %s: Canopy-Zxid %q: %v", r.method, r.path, r.header.Get("Canopy-Zxid"), err)
	}
	return n
}

// errorCode is the code of an error body, "" when there is none.
func (r *reply) errorCode() api.Code {
	var e api.ErrorBody
	if json.Unmarshal(r.body, &e) != nil || e.Error == nil {
		return ""
	}
	return e.Error.Code
}
