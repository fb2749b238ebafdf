package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// withTLS serves the node's API with a certificate ca signs for
// 127.0.0.1, named name.
func withTLS(t *testing.T, ca *testkit.CA, name string) testnode.Option {
	certFile, keyFile := ca.IssueFiles(t, t.TempDir(), name, "127.0.0.1")
	return func(m *server.Main) { m.TLSCert, m.TLSKey = certFile, keyFile }
}

// withClientCA has the node verify client certificates ca signs.
func withClientCA(t *testing.T, ca *testkit.CA) testnode.Option {
	file := filepath.Join(t.TempDir(), "client-ca.pem")
	testkit.WriteFile(t, file, ca.PEM)
	return func(m *server.Main) { m.TLSClientCA = file }
}

// trusting is a client that trusts roots and presents certs; each has its
// own connections.
func trusting(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs},
	}}
}

func send(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func hostOf(url string) string {
	_, host, _ := strings.Cut(url, "://")
	return host
}

func TestTLSServesTheAPIToClientsTrustingItsCA(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := testnode.Start(t, withTLS(t, ca, "server"))
	if !strings.HasPrefix(nd.URL, "https://") {
		t.Fatalf("URL %s, want https", nd.URL)
	}
	c := trusting(ca.Pool())
	if resp, body := send(t, c, "POST", nd.URL+"/v1/nodes/a", "x"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create over TLS: %d %s", resp.StatusCode, body)
	}
	resp, body := send(t, c, "GET", nd.URL+"/v1/nodes/a", "")
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("read over TLS: %d %s (TLS %+v)", resp.StatusCode, body, resp.TLS)
	}

	// The WebSocket is on the same listener: wss.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+hostOf(nd.URL)+"/v1/watch", &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	other := testkit.NewCA(t, "another CA")
	_, err = trusting(other.Pool()).Get(nd.URL + "/v1/nodes/a")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("a client trusting another CA: got %v, want an unknown authority", err)
	}
}

func TestPlainHTTPToTheTLSPortIsAnswered400AndChangesNothing(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := testnode.Start(t, withTLS(t, ca, "server"))
	plain := &http.Client{Timeout: 10 * time.Second}
	resp, body := send(t, plain, "POST", "http://"+hostOf(nd.URL)+"/v1/nodes/plain", "x")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Client sent an HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP to the TLS port: %d %q, want Go's 400", resp.StatusCode, body)
	}
	if resp, body := send(t, trusting(ca.Pool()), "GET", nd.URL+"/v1/nodes/plain", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the plain POST created /plain: %d %s", resp.StatusCode, body)
	}
}

func TestTLSBelow12IsRefused(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := testnode.Start(t, withTLS(t, ca, "server"))
	for _, tc := range []struct {
		version uint16
		ok      bool
	}{
		{tls.VersionTLS10, false},
		{tls.VersionTLS11, false},
		{tls.VersionTLS12, true},
		{tls.VersionTLS13, true},
	} {
		conn, err := tls.Dial("tcp", hostOf(nd.URL), &tls.Config{RootCAs: ca.Pool(), MinVersion: tc.version, MaxVersion: tc.version})
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: handshake error %v, want ok %v", tls.VersionName(tc.version), err, tc.ok)
		}
	}
}

func TestClientCertificatesAreVerifiedWhenSent(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := testnode.Start(t, withTLS(t, ca, "server"), withClientCA(t, ca))
	other := testkit.NewCA(t, "another CA")
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"signed by the client CA", []tls.Certificate{ca.Issue(t, "alice")}, true},
		{"signed by another CA", []tls.Certificate{other.Issue(t, "mallory")}, false},
		{"none (a browser)", nil, true},
	} {
		c := trusting(ca.Pool())
		// Sent whatever the server asks for: Go's client would keep to
		// itself a certificate of a CA the server does not name.
		c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if len(tc.certs) == 0 {
				return &tls.Certificate{}, nil
			}
			return &tc.certs[0], nil
		}
		resp, err := c.Get(nd.URL + "/v1/nodes/")
		if err == nil {
			resp.Body.Close()
		}
		if tc.ok && (err != nil || resp.StatusCode != http.StatusOK) {
			t.Errorf("%s: %v, want 200", tc.name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: answered %d, want the handshake refused", tc.name, resp.StatusCode)
		}
	}
}

// SIGHUP's reload, in-process: new connections get the new certificate,
// open ones keep theirs, and a reload that fails changes nothing.
func TestReloadTLSSwapsTheCertificateForNewConnections(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "server-a", "127.0.0.1")
	nd := testnode.Start(t, func(m *server.Main) { m.TLSCert, m.TLSKey = certFile, keyFile })
	served := func(c *http.Client) string {
		t.Helper()
		resp, body := send(t, c, "GET", nd.URL+"/v1/nodes/", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/nodes/: %d %s", resp.StatusCode, body)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	old := trusting(ca.Pool())
	if got := served(old); got != "server-a" {
		t.Fatalf("before the reload: %s", got)
	}

	certB, keyB := ca.IssuePEM(t, "server-b", "127.0.0.1")
	testkit.WriteFile(t, certFile, certB)
	testkit.WriteFile(t, keyFile, keyB)
	if err := nd.Main().ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := served(trusting(ca.Pool())); got != "server-b" {
		t.Errorf("a new connection after the reload: %s, want server-b", got)
	}
	if got := served(old); got != "server-a" {
		t.Errorf("the connection open before the reload: %s, want server-a on the same connection", got)
	}

	testkit.WriteFile(t, keyFile, []byte("not a key"))
	if err := nd.Main().ReloadTLS(); err == nil {
		t.Error("reloading a broken key: no error")
	}
	if got := served(trusting(ca.Pool())); got != "server-b" {
		t.Errorf("after a failed reload: %s, want server-b kept", got)
	}
}

// --max-client-conns counts TLS connections as it counts plain ones.
func TestConnectionLimitHoldsOverTLS(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	nd := testnode.Start(t, withTLS(t, ca, "server"), func(m *server.Main) { m.MaxClientConns = 1 })
	get := func(conn *tls.Conn) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", nd.URL+"/v1/nodes/", nil)
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	dial := func() *tls.Conn {
		t.Helper()
		conn, err := tls.Dial("tcp", hostOf(nd.URL), &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// The readiness checks' connections may still be closing: the first
	// one in counts once they have.
	first := dial()
	testkit.WaitFor(t, 10*time.Second, "a connection within the limit", func() bool {
		if get(first).StatusCode == http.StatusOK {
			return true
		}
		first = dial()
		return false
	})
	if resp := get(dial()); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a second connection: %d, want 429", resp.StatusCode)
	}
	if resp := get(first); resp.StatusCode != http.StatusOK {
		t.Errorf("the first connection after the refusal: %d, want 200", resp.StatusCode)
	}
}

// Every node serves TLS: a follower forwards a write to the leader over
// https (the stream), and its own member record got in the same way. The
// nodes' peer certificates come from another CA than --tls-client-ca, so
// a follower reaches the leader without a client certificate.
func TestTLSClusterForwardsFollowerWrites(t *testing.T) {
	t.Parallel()
	ca, peerCA := testkit.NewCA(t, "test CA"), testkit.NewCA(t, "peer CA")
	dir := t.TempDir()
	peerCAFile := filepath.Join(dir, "peer-ca.pem")
	testkit.WriteFile(t, peerCAFile, peerCA.PEM)
	withPeerTLS := func(m *server.Main) {
		m.PeerTLS.CertFile, m.PeerTLS.KeyFile = peerCA.IssueFiles(t, dir, "peer-"+m.ID, m.ID)
		m.PeerTLS.CAFile = peerCAFile
	}
	nodes := testnode.StartCluster(t, 3, withTLS(t, ca, "server"), withClientCA(t, ca), withPeerTLS)
	c := trusting(ca.Pool())

	var leader *testnode.Node
	testkit.WaitExplained(t, 20*time.Second, "a leader", func() (bool, string) {
		resp, body := send(t, c, "GET", nodes[0].URL+"/v1/cluster", "")
		var info api.Cluster
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &info) != nil || info.Leader == nil {
			return false, body
		}
		for _, nd := range nodes {
			if nd.ID == info.Leader.ID {
				leader = nd
			}
		}
		return leader != nil, body
	})
	for _, nd := range nodes {
		if nd == leader {
			continue
		}
		path := "/v1/nodes/from-" + nd.ID
		if resp, body := send(t, c, "POST", nd.URL+path, "x"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("a write to follower %s: %d %s", nd.ID, resp.StatusCode, body)
		}
		if resp, body := send(t, c, "GET", leader.URL+path, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("the follower's write on the leader: %d %s", resp.StatusCode, body)
		}
	}
}

func TestTLSFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, true},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"}, true},
		{[]string{"--tls-cert", "c.pem"}, false},
		{[]string{"--tls-key", "k.pem"}, false},
		{[]string{"--tls-client-ca", "ca.pem"}, false},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--join", "https://127.0.0.1:8900"}, true},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--join", "127.0.0.1:8900"}, true},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--join", "http://127.0.0.1:8900"}, false},
		{[]string{"--join", "https://127.0.0.1:8900"}, false},
		{[]string{"--auth-required"}, true},
	} {
		err := server.New(io.Discard).ParseFlags(tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("%v: %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}

func TestBrokenCertificateFilesStopTheStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	testkit.WriteFile(t, bad, []byte("not PEM"))
	ca := testkit.NewCA(t, "test CA")
	certFile, keyFile := ca.IssueFiles(t, dir, "server", "127.0.0.1")
	for _, tc := range []struct {
		name           string
		cert, key, cas string
		want           string
	}{
		{"a missing certificate", filepath.Join(dir, "none.pem"), keyFile, "", "--tls-cert"},
		{"a key that is not one", certFile, bad, "", "--tls-key"},
		{"a client CA bundle without a certificate", certFile, keyFile, bad, "--tls-client-ca"},
	} {
		m := server.New(io.Discard)
		m.HTTPAddr, m.RaftAddr, m.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
		m.TLSCert, m.TLSKey, m.TLSClientCA = tc.cert, tc.key, tc.cas
		err := m.Run(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}
