package server

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
)

// serveTLS serves, with config, a handler that answers the subject of the
// client's verified certificate ("" for none): what httpapi turns into
// the caller's x509 identity.
func serveTLS(t *testing.T, config *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if chains := r.TLS.VerifiedChains; len(chains) > 0 {
			io.WriteString(w, chains[0][0].Subject.String())
		}
	})}
	go srv.Serve(tls.NewListener(ln, config))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

func get(t *testing.T, config *tls.Config, url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: config}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// The API's configuration verifies a client certificate of --tls-client-ca
// and hands the handler its chain; no certificate is no identity; a
// certificate of another CA is refused.
func TestAPITLSHandsVerifiedClientChainsToHandlers(t *testing.T) {
	dir := t.TempDir()
	ca, other := testkit.NewCA(t, "test CA"), testkit.NewCA(t, "another CA")
	m := New(io.Discard)
	m.TLSCert, m.TLSKey = ca.IssueFiles(t, dir, "server", "127.0.0.1")
	m.TLSClientCA = filepath.Join(dir, "ca.pem")
	testkit.WriteFile(t, m.TLSClientCA, ca.PEM)
	config, err := m.apiTLS()
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, config)
	for _, tc := range []struct {
		name    string
		cert    *tls.Certificate
		subject string
		refused bool
	}{
		{"signed by the client CA", ptr(ca.Issue(t, "alice")), "CN=alice,O=Canopy tests", false},
		{"none", nil, "", false},
		{"signed by another CA", ptr(other.Issue(t, "mallory")), "", true},
	} {
		client := &tls.Config{RootCAs: ca.Pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if tc.cert == nil {
				return &tls.Certificate{}, nil
			}
			return tc.cert, nil
		}}
		got, err := get(t, client, url)
		switch {
		case tc.refused && err == nil:
			t.Errorf("%s: served (%q), want refused", tc.name, got)
		case !tc.refused && (err != nil || got != tc.subject):
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.subject)
		}
	}
}

// A forwarding node presents its peer certificate when the other node's
// --tls-client-ca signed it, and no certificate otherwise: a peer CA
// apart from the client CA must not break forwarding.
func TestForwardTLSPresentsThePeerCertificateOnlyWhereItIsTrusted(t *testing.T) {
	dir := t.TempDir()
	ca, peerCA := testkit.NewCA(t, "test CA"), testkit.NewCA(t, "peer CA")
	caFile := filepath.Join(dir, "ca.pem")
	testkit.WriteFile(t, caFile, ca.PEM)
	leader := New(io.Discard)
	leader.TLSCert, leader.TLSKey = ca.IssueFiles(t, dir, "server", "127.0.0.1")
	leader.TLSClientCA = caFile
	config, err := leader.apiTLS()
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, config)

	for _, tc := range []struct {
		name    string
		signer  *testkit.CA
		subject string
	}{
		{"peer certificate of the client CA", ca, "CN=n2,O=Canopy tests"},
		{"peer certificate of another CA", peerCA, ""},
	} {
		follower := New(io.Discard)
		follower.ID = "n2"
		follower.TLSCert, follower.TLSKey = leader.TLSCert, leader.TLSKey
		follower.TLSClientCA = caFile
		follower.PeerTLS.CertFile, follower.PeerTLS.KeyFile = tc.signer.IssueFiles(t, t.TempDir(), "n2", "n2")
		forward, err := follower.forwardTLS()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := get(t, forward, url); err != nil || got != tc.subject {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.subject)
		}
	}
}

func ptr[T any](v T) *T { return &v }
