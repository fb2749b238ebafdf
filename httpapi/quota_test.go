package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/service"
)

// The abuse limits of issue 12: each refuses with its status and changes
// nothing, and a delete still works past the tree's quota.
func TestAbuseLimits(t *testing.T) {
	t.Parallel()
	n := startNodeWith(t, service.Security{}, func(_ *Config, l *service.Limits) {
		l.MaxEphemeralsPerSession = 2
		l.MaxSessionsPerClient = 2
		l.MaxTreeBytes = 1000
	})

	// Sessions: the third from this client is 429.
	s1 := n.openSession(10000)
	n.openSession(10000)
	n.expect(n.do("POST", "/v1/sessions", "{}", nil), http.StatusTooManyRequests)

	// Ephemerals: the third in one session is 507.
	sh := hdr("Canopy-Session", s1.String())
	n.expect(n.do("POST", "/v1/nodes/e1?ephemeral", "", sh), http.StatusCreated)
	n.expect(n.do("POST", "/v1/nodes/e2?ephemeral", "", sh), http.StatusCreated)
	r := n.expect(n.do("POST", "/v1/nodes/e3?ephemeral", "", sh), http.StatusInsufficientStorage)
	if !strings.Contains(string(r.body), "QuotaExceeded") || n.exists("/e3") {
		t.Fatalf("third ephemeral: %s, exists %v; want QuotaExceeded and no node", r.body, n.exists("/e3"))
	}

	// Tree bytes: a write past 1000 bytes is 507, a delete still works,
	// and then the write fits.
	big := strings.Repeat("x", 600)
	n.expect(n.do("POST", "/v1/nodes/a", big, nil), http.StatusCreated)
	n.expect(n.do("POST", "/v1/nodes/b", big, nil), http.StatusInsufficientStorage)
	n.expect(n.do("PUT", "/v1/nodes/e1", big, nil), http.StatusInsufficientStorage)
	n.expect(n.do("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/m","data":"`+big+`"}]}`, nil), http.StatusInsufficientStorage)
	if n.exists("/b") || n.exists("/m") {
		t.Fatal("a write refused for the quota left a node")
	}
	n.expect(n.do("DELETE", "/v1/nodes/a", "", nil), http.StatusNoContent)
	n.expect(n.do("POST", "/v1/nodes/b", big, nil), http.StatusCreated)
}
