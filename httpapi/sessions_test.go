package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

func TestSessionCreateNegotiatesTimeout(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	cases := []struct {
		body string
		want int64
	}{
		{"", 10000},
		{"  \n", 10000},
		{"{}", 10000},
		{`{"timeout_ms":0}`, 10000},
		{`{"timeout_ms":1}`, 2000},
		{`{"timeout_ms":1999}`, 2000},
		{`{"timeout_ms":2000}`, 2000},
		{`{"timeout_ms":15000}`, 15000},
		{`{"timeout_ms":60000}`, 60000},
		{`{"timeout_ms":60001}`, 60000},
		{`{"timeout_ms":9007199254740991}`, 60000},
	}
	for _, c := range cases {
		r := n.expect(n.do("POST", "/v1/sessions", c.body, hdr("Content-Type", "application/json")), http.StatusCreated)
		var s api.Session
		r.decode(t, &s)
		if s.TimeoutMs != c.want || s.ID == 0 || s.Ephemerals != nil || s.ExpiresInMs != nil {
			t.Errorf("POST /v1/sessions %q: %+v, want timeout %d", c.body, s, c.want)
		}
		if loc := r.header.Get("Location"); loc != "/v1/sessions/"+s.ID.String() {
			t.Errorf("Location %q for %s", loc, s.ID)
		}
	}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	a := n.openSession(15000)
	b := n.openSession(20000)
	with := func(id api.ID) map[string]string { return hdr("Canopy-Session", id.String()) }
	n.expect(n.do("POST", "/v1/nodes/e2?ephemeral", "", with(a)), http.StatusCreated)
	n.expect(n.do("POST", "/v1/nodes/e1?ephemeral", "", with(a)), http.StatusCreated)
	n.expect(n.do("POST", "/v1/nodes/app?parents", "", with(a)), http.StatusCreated) // persistent, within the session
	n.expect(n.do("POST", "/v1/nodes/app/b?ephemeral", "", with(b)), http.StatusCreated)

	// One session, with its ephemerals sorted and its time left.
	var s api.Session
	n.expect(n.do("GET", "/v1/sessions/"+a.String(), "", nil), http.StatusOK).decode(t, &s)
	if s.ID != a || s.TimeoutMs != 15000 || strings.Join(s.Ephemerals, ",") != "/e1,/e2" {
		t.Errorf("GET session a: %+v", s)
	}
	if s.ExpiresInMs == nil || *s.ExpiresInMs <= 0 || *s.ExpiresInMs > 15000 {
		t.Errorf("expires_in_ms = %v, want within (0, 15000]", s.ExpiresInMs)
	}
	// The id is read without 0x and in upper case too.
	upper := strings.ToUpper(strings.TrimPrefix(a.String(), "0x"))
	n.expect(n.do("GET", "/v1/sessions/"+upper, "", nil), http.StatusOK).decode(t, &s)
	if s.ID != a {
		t.Errorf("GET /v1/sessions/%s: %+v", upper, s)
	}

	// The list, by id.
	var list api.SessionList
	n.expect(n.do("GET", "/v1/sessions", "", nil), http.StatusOK).decode(t, &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("sessions: %+v", list)
	}
	first, second := a, b
	if b < a {
		first, second = b, a
	}
	if list.Sessions[0].ID != first || list.Sessions[1].ID != second {
		t.Errorf("sessions not sorted by id: %+v", list)
	}
	for _, s := range list.Sessions {
		want := "/e1,/e2"
		if s.ID == b {
			want = "/app/b"
		}
		if strings.Join(s.Ephemerals, ",") != want || s.ExpiresInMs == nil {
			t.Errorf("listed %+v, want ephemerals %s", s, want)
		}
	}

	// Keep-alive answers the session and renews its lease.
	var ka api.Session
	n.expect(n.do("POST", "/v1/sessions/"+a.String()+"/keepalive", "", nil), http.StatusOK).decode(t, &ka)
	if ka.ID != a || ka.TimeoutMs != 15000 {
		t.Errorf("keepalive: %+v", ka)
	}
	n.expect(n.do("GET", "/v1/sessions/"+a.String(), "", nil), http.StatusOK).decode(t, &s)
	if s.ExpiresInMs == nil || *s.ExpiresInMs < 14000 {
		t.Errorf("after a keepalive, expires_in_ms = %v", s.ExpiresInMs)
	}

	// Close: 204, and the ephemerals are gone when it answers.
	r := n.expect(n.do("DELETE", "/v1/sessions/"+a.String(), "", nil), http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("204 with a body %q", r.body)
	}
	for _, p := range []string{"/e1", "/e2"} {
		if n.exists(p) {
			t.Errorf("%s survived its session's close", p)
		}
	}
	if !n.exists("/app") || !n.exists("/app/b") {
		t.Errorf("closing a closed other nodes")
	}
	for _, req := range [][2]string{
		{"GET", "/v1/sessions/" + a.String()},
		{"POST", "/v1/sessions/" + a.String() + "/keepalive"},
		{"DELETE", "/v1/sessions/" + a.String()},
	} {
		r := n.expect(n.do(req[0], req[1], "", nil), http.StatusGone)
		if r.errorCode() != api.CodeSessionExpired {
			t.Errorf("%s %s after close: %s", req[0], req[1], r.errorCode())
		}
	}
	r = n.expect(n.do("POST", "/v1/nodes/e3?ephemeral", "", with(a)), http.StatusGone)
	if r.errorCode() != api.CodeSessionExpired {
		t.Errorf("ephemeral in a closed session: %s", r.errorCode())
	}
	n.expect(n.do("GET", "/v1/sessions", "", nil), http.StatusOK).decode(t, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].ID != b {
		t.Errorf("sessions after close: %+v", list)
	}
}

// TestSessionExpiresOnItsOwn: a session nobody keeps alive expires after its
// timeout, never before, and its ephemerals go with it; one kept alive
// outlives its timeout.
func TestSessionExpiresOnItsOwn(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	start := time.Now()
	idle := n.openSession(2000)
	kept := n.openSession(2000)
	n.expect(n.do("POST", "/v1/nodes/idle?ephemeral", "", hdr("Canopy-Session", idle.String())), http.StatusCreated)
	n.expect(n.do("POST", "/v1/nodes/kept?ephemeral", "", hdr("Canopy-Session", kept.String())), http.StatusCreated)
	touched := time.Now()

	testkit.WaitFor(t, 10*time.Second, "the idle session's ephemeral to go", func() bool {
		n.expect(n.do("POST", "/v1/sessions/"+kept.String()+"/keepalive", "", nil), http.StatusOK)
		return !n.exists("/idle")
	})
	if gone := time.Since(start); gone < 2*time.Second {
		t.Errorf("the session expired after %v, before its 2 s timeout", gone)
	}
	n.expect(n.do("GET", "/v1/sessions/"+idle.String(), "", nil), http.StatusGone)
	if time.Since(touched) > 2*time.Second {
		if !n.exists("/kept") {
			t.Errorf("a session kept alive expired")
		}
		n.expect(n.do("GET", "/v1/sessions/"+kept.String(), "", nil), http.StatusOK)
	}

	// Left alone, the other one goes too.
	testkit.WaitFor(t, 10*time.Second, "the kept session to expire once left alone", func() bool {
		return !n.exists("/kept")
	})
	r := n.expect(n.do("POST", "/v1/sessions/"+kept.String()+"/keepalive", "", nil), http.StatusGone)
	if r.errorCode() != api.CodeSessionExpired {
		t.Errorf("keepalive of an expired session: %s", r.errorCode())
	}
}

// TestContainerAndTTLNodesAreReaped: an empty container that had a child and
// an empty TTL node past its TTL go; a container that never had a child and a
// TTL node with a child stay.
func TestContainerAndTTLNodesAreReaped(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/c?container", "")
	n.create("/c/child", "")
	n.create("/never?container", "")
	n.create("/full?container", "")
	n.create("/full/child", "")
	n.create("/ttl?ttl_ms=100", "")
	n.create("/ttlkid?ttl_ms=100", "")
	n.create("/ttlkid/k", "")
	n.expect(n.do("DELETE", "/v1/nodes/c/child", "", nil), http.StatusNoContent)

	testkit.WaitFor(t, 10*time.Second, "the emptied container to be reaped", func() bool { return !n.exists("/c") })
	testkit.WaitFor(t, 10*time.Second, "the TTL node to be reaped", func() bool { return !n.exists("/ttl") })
	for _, p := range []string{"/never", "/full", "/ttlkid", "/ttlkid/k"} {
		if !n.exists(p) {
			t.Errorf("%s was reaped", p)
		}
	}
	// Emptied, the TTL node goes too.
	n.expect(n.do("DELETE", "/v1/nodes/ttlkid/k", "", nil), http.StatusNoContent)
	testkit.WaitFor(t, 10*time.Second, "the emptied TTL node to be reaped", func() bool { return !n.exists("/ttlkid") })
}
