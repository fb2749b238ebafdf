package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
)

// withTLS has startLeader serve HTTPS, with httptest's certificate for
// 127.0.0.1.
func withTLS(s *http.Server) { s.TLSConfig = &tls.Config{} }

// trusting is a forwarder's TLS configuration trusting l's certificate.
func trusting(l *leader) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(l.srv.Certificate())
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// A cluster whose APIs serve TLS forwards over https: over the stream (an
// upgrade inside TLS), or as plain requests to a leader without it.
func TestForwardingOverTLS(t *testing.T) {
	for _, tc := range []struct {
		name            string
		withStream      bool
		upgrades, posts int64
	}{
		{"stream", true, 1, 0},
		{"plain requests", false, 1, 2}, // the stream asked for, refused
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLeader(t, tc.withStream, echo, withTLS)
			c := NewClient(trusting(l))
			t.Cleanup(c.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, _, err := c.Propose(ctx, l.addr(), []byte("/a"))
			if err != nil || res.Path != "/a" {
				t.Fatalf("propose: got %q, %v; want /a", res.Path, err)
			}
			if _, err := c.ReadIndex(ctx, l.addr()); err != nil {
				t.Fatalf("read index: %v", err)
			}
			if got := l.upgrades.Load(); got != tc.upgrades {
				t.Errorf("stream requests: got %d, want %d", got, tc.upgrades)
			}
			if got := l.posts.Load(); got != tc.posts {
				t.Errorf("plain requests: got %d, want %d", got, tc.posts)
			}
		})
	}
}

// A forwarder that does not trust the leader's certificate reaches
// nothing: the leader is unavailable to it, and nothing is proposed.
func TestForwardingRefusesAnUntrustedLeader(t *testing.T) {
	l := startLeader(t, true, echo, withTLS)
	c := NewClient(&tls.Config{RootCAs: x509.NewCertPool()})
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := c.Propose(ctx, l.addr(), []byte("/a")); api.CodeOf(err) != api.CodeUnavailable {
		t.Fatalf("propose to an untrusted leader: got %v, want Unavailable", err)
	}
	if n := l.upgrades.Load(); n != 0 {
		t.Errorf("%d stream requests got through", n)
	}
}
