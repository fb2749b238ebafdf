package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/service"
)

// Access control over REST (DESIGN §9, /work/notes/acl-contract.md): each
// refusal answers its documented status and code and leaves the tree as it
// was; what is allowed is what ZooKeeper 3.8 allows.

// passwords of the tests' users; super is the super user (--super-digest).
var passwords = map[string]string{"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "super": "pw"}

// digestOf is user's digest id, user:base64(sha1(user:password)).
func digestOf(user string) string { return api.Digest(user, passwords[user]) }

var superDigest = api.Digest("super", "pw")

// startACLNode serves a node with a super user and without the NoAuth
// limit (these tests draw many NoAuth answers on purpose); authRequired
// is --auth-required.
func startACLNode(t testing.TB, authRequired bool) *testNode {
	t.Helper()
	return startNodeWith(t, service.Security{AuthRequired: authRequired, SuperDigest: superDigest, NoAuthLimit: -1})
}

// basicAuth sends HTTP Basic credentials with every request.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// as is a client of the node for user ("" is anonymous), reporting to t.
func (n *testNode) as(t testing.TB, user string) *client {
	c := newClient(t, n.base)
	if user != "" {
		c.http.Transport = basicAuth{user: user, password: passwords[user], next: http.DefaultTransport}
	}
	return c
}

// fromAddr is a client of the node that connects from the local address
// ip (another loopback address: 127.0.0.2 is one on Linux), as user.
func (n *testNode) fromAddr(t testing.TB, ip, user string) *client {
	c := newClient(t, n.base)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	c.http.Transport = tr
	if user != "" {
		c.http.Transport = basicAuth{user: user, password: passwords[user], next: tr}
	}
	return c
}

// on is c reporting to t (a subtest's).
func (c *client) on(t testing.TB) *client {
	cc := *c
	cc.t = t
	return &cc
}

func digestACL(user, perms string) api.ACL {
	p, err := api.ParsePerms(perms)
	if err != nil {
		panic(err)
	}
	return api.ACL{Scheme: "digest", ID: digestOf(user), Perms: p}
}

// aclQuery is ?acl=a&acl=b for zkCli-style entries.
func aclQuery(entries ...string) string {
	q := make([]string, len(entries))
	for i, e := range entries {
		q[i] = "acl=" + url.QueryEscape(e)
	}
	return "?" + strings.Join(q, "&")
}

// aclPath is the /v1/acl route of a znode path.
func aclPath(p string) string {
	if p == "/" {
		return "/v1/acl/"
	}
	return "/v1/acl" + p
}

func (c *client) getACL(p string) api.ACLResult {
	c.t.Helper()
	var res api.ACLResult
	c.expect(c.do("GET", aclPath(p), "", nil), http.StatusOK).decode(c.t, &res)
	return res
}

// putACL sends PUT /v1/acl{p}?aversion=aversion ("" sends none).
func (c *client) putACL(p string, aversion string, list ...api.ACL) *reply {
	c.t.Helper()
	b, err := json.Marshal(api.SetACLRequest{ACL: list})
	if err != nil {
		c.t.Fatal(err)
	}
	target := aclPath(p)
	if aversion != "" {
		target += "?aversion=" + aversion
	}
	return c.do("PUT", target, string(b), hdr("Content-Type", "application/json"))
}

func (c *client) whoami() api.WhoAmI {
	c.t.Helper()
	var w api.WhoAmI
	c.expect(c.do("GET", "/v1/whoami", "", nil), http.StatusOK).decode(c.t, &w)
	return w
}

// refused checks that r answered status with code.
func refused(t testing.TB, r *reply, status int, code api.Code) {
	t.Helper()
	if r.status != status || r.errorCode() != code {
		t.Errorf("%s %s: %d %s, want %d %s", r.method, r.path, r.status, truncate(r.body), status, code)
	}
}

// fullState is everything a request could change, ACLs included: the
// whole tree with each node's Stat and ACL, and the sessions. c must be
// able to read it all (the super user).
func fullState(c *client) string {
	c.t.Helper()
	return c.stateWith(true)
}

// unchanged checks that the request r, refused, left the state as before.
func unchanged(t testing.TB, su *client, before string, r *reply) {
	t.Helper()
	if after := fullState(su); after != before {
		t.Errorf("%s %s was refused (%d) but changed the state:\nbefore:\n%s\nafter:\n%s", r.method, r.path, r.status, before, after)
	}
}

// TestACLPermMatrix: each perm alone, for each operation and caller,
// allows exactly what ZooKeeper 3.8 allows: CREATE and DELETE on the
// parent, READ for getData and getChildren, WRITE for setData, READ or
// ADMIN for getACL (digests masked without ADMIN), ADMIN for setACL, and
// nothing for exists. The super user passes every check; bob and an
// anonymous caller, whom the ACL does not name, pass none.
func TestACLPermMatrix(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	type operation struct {
		name         string
		needs        api.Perms // any one of them allows; 0 is none needed
		method, path string
		body         string
		ok           int
		write        bool
	}
	setBody, _ := json.Marshal(api.SetACLRequest{ACL: []api.ACL{digestACL("alice", "cdrwa"), {Scheme: "world", ID: "anyone", Perms: api.PermRead}}})
	ops := []operation{
		{"create child", api.PermCreate, "POST", "/v1/nodes/t/new", "x", http.StatusCreated, true},
		{"delete child", api.PermDelete, "DELETE", "/v1/nodes/t/k", "", http.StatusNoContent, true},
		{"getData", api.PermRead, "GET", "/v1/nodes/t", "", http.StatusOK, false},
		{"getChildren", api.PermRead, "GET", "/v1/children/t", "", http.StatusOK, false},
		{"setData", api.PermWrite, "PUT", "/v1/nodes/t", "new", http.StatusOK, true},
		{"getACL", api.PermRead | api.PermAdmin, "GET", "/v1/acl/t", "", http.StatusOK, false},
		{"setACL", api.PermAdmin, "PUT", "/v1/acl/t", string(setBody), http.StatusOK, true},
		{"exists", 0, "GET", "/v1/stat/t", "", http.StatusOK, false},
	}
	callers := []string{"alice", "bob", "", "super"}
	for _, perm := range []string{"c", "d", "r", "w", "a"} {
		held, _ := api.ParsePerms(perm)
		for _, o := range ops {
			for _, who := range callers {
				name := who
				if name == "" {
					name = "anonymous"
				}
				t.Run(perm+"/"+o.name+"/"+name, func(t *testing.T) {
					su := n.as(t, "super")
					// /t holds only alice's perm; /t/k is open.
					if r := su.do("DELETE", "/v1/nodes/t?recursive", "", nil); r.status != http.StatusNoContent && r.status != http.StatusNotFound {
						t.Fatalf("clearing /t: %d %s", r.status, r.body)
					}
					su.expect(su.do("POST", "/v1/nodes/t"+aclQuery("digest:"+digestOf("alice")+":"+perm), "data", nil), http.StatusCreated)
					su.expect(su.do("POST", "/v1/nodes/t/k", "", nil), http.StatusCreated)
					before := fullState(su)

					var allowed, admin bool
					switch who {
					case "super":
						allowed, admin = true, true
					case "alice":
						allowed, admin = o.needs == 0 || o.needs&held != 0, held == api.PermAdmin
					default:
						allowed = o.needs == 0
					}
					c := n.as(t, who)
					r := c.do(o.method, o.path, o.body, nil)
					if !allowed {
						refused(t, r, http.StatusForbidden, api.CodeNoAuth)
						unchanged(t, su, before, r)
						return
					}
					if r.status != o.ok {
						t.Fatalf("%s %s as %s holding %q: %d %s, want %d", o.method, o.path, name, perm, r.status, truncate(r.body), o.ok)
					}
					after := fullState(su)
					if o.write && after == before {
						t.Errorf("%s %s answered %d but changed nothing", o.method, o.path, r.status)
					}
					if !o.write && after != before {
						t.Errorf("the read %s %s changed the state:\nbefore:\n%s\nafter:\n%s", o.method, o.path, before, after)
					}
					if o.name == "getACL" {
						var res api.ACLResult
						r.decode(t, &res)
						want := digestOf("alice")
						if !admin {
							want = "alice:x" // ZooKeeper masks digests for a caller without ADMIN
						}
						if len(res.ACL) != 1 || res.ACL[0].ID != want || res.ACL[0].Perms.String() != perm {
							t.Errorf("getACL as %s holding %q: %+v, want digest %s:%s", name, perm, res.ACL, want, perm)
						}
					}
				})
			}
		}
	}
}

// TestACLDigestsMaskedWithoutAdmin: GET /v1/acl shows digest ids as
// "user:x" to a caller without ADMIN (READ is enough to get the list), in
// full to one with ADMIN and to the super user; other schemes are shown
// as they are.
func TestACLDigestsMaskedWithoutAdmin(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	su := n.as(t, "super")
	su.expect(su.do("POST", "/v1/nodes/m"+aclQuery("digest:"+digestOf("alice")+":r", "digest:"+digestOf("carol")+":a", "ip:10.0.0.0/8:cdrwa"), "", nil), http.StatusCreated)
	su.expect(su.do("POST", "/v1/nodes/open"+aclQuery("world:anyone:r", "digest:"+digestOf("carol")+":cdrwa"), "", nil), http.StatusCreated)

	masked := []api.ACL{{Scheme: "digest", ID: "alice:x", Perms: api.PermRead}, {Scheme: "digest", ID: "carol:x", Perms: api.PermAdmin}, {Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermAll}}
	full := []api.ACL{digestACL("alice", "r"), digestACL("carol", "a"), {Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermAll}}
	for _, tc := range []struct {
		who  string
		want []api.ACL // nil: 403
	}{
		{"alice", masked},
		{"carol", full},
		{"super", full},
		{"bob", nil},
		{"", nil},
	} {
		c := n.as(t, tc.who)
		r := c.do("GET", "/v1/acl/m", "", nil)
		if tc.want == nil {
			refused(t, r, http.StatusForbidden, api.CodeNoAuth)
			if strings.Contains(string(r.body), digestOf("alice")) {
				t.Errorf("a refused getACL shows a digest: %s", r.body)
			}
			continue
		}
		var res api.ACLResult
		c.expect(r, http.StatusOK).decode(t, &res)
		if got, _ := json.Marshal(res.ACL); string(got) != mustJSON(tc.want) {
			t.Errorf("GET /v1/acl/m as %q: %s, want %s", tc.who, got, mustJSON(tc.want))
		}
		if res.Path != "/m" || res.Stat.Aversion != 0 {
			t.Errorf("GET /v1/acl/m as %q: path %q stat %+v", tc.who, res.Path, res.Stat)
		}
	}
	// world:anyone:r lets an anonymous caller read the list, masked.
	res := n.as(t, "").getACL("/open")
	if got, want := mustJSON(res.ACL), mustJSON([]api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermRead}, {Scheme: "digest", ID: "carol:x", Perms: api.PermAll}}); got != want {
		t.Errorf("GET /v1/acl/open anonymously: %s, want %s", got, want)
	}
	// A node without an ACL of its own is world:anyone:cdrwa, which gives ADMIN.
	if got := mustJSON(n.as(t, "").getACL("/").ACL); got != mustJSON(api.OpenACL) {
		t.Errorf("the root's ACL: %s, want world:anyone:cdrwa", got)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestACLAuthSchemeGivesTheCreatorOnly: ?acl=auth::cdrwa stores one entry
// per authenticated identity of the creator (its digest, not its address),
// so the node is alice's alone.
func TestACLAuthSchemeGivesTheCreatorOnly(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, bob, anon, su := n.as(t, "alice"), n.as(t, "bob"), n.as(t, ""), n.as(t, "super")
	alice.expect(alice.do("POST", "/v1/nodes/priv"+aclQuery("auth::cdrwa"), "secret", nil), http.StatusCreated)
	if got := mustJSON(alice.getACL("/priv").ACL); got != mustJSON([]api.ACL{digestACL("alice", "cdrwa")}) {
		t.Fatalf("ACL of /priv: %s, want alice's digest alone", got)
	}
	alice.expect(alice.do("GET", "/v1/nodes/priv", "", nil), http.StatusOK)
	before := fullState(su)
	for _, c := range []*client{bob, anon} {
		for _, r := range []*reply{
			c.do("GET", "/v1/nodes/priv", "", nil),
			c.do("GET", "/v1/children/priv", "", nil),
			c.do("PUT", "/v1/nodes/priv", "x", nil),
			c.do("POST", "/v1/nodes/priv/kid", "", nil),
			c.do("DELETE", "/v1/nodes/priv/none", "", nil), // DELETE on the parent comes before NoNode
			c.do("GET", "/v1/acl/priv", "", nil),
			c.putACL("/priv", "-1", api.OpenACL...),
		} {
			refused(t, r, http.StatusForbidden, api.CodeNoAuth)
		}
	}
	if after := fullState(su); after != before {
		t.Errorf("refused requests changed the state:\n%s\n%s", before, after)
	}
	// The auth entry with perms of its own, beside another entry.
	alice.expect(alice.do("POST", "/v1/nodes/shared"+aclQuery("auth::cdrwa", "digest:"+digestOf("bob")+":r"), "", nil), http.StatusCreated)
	if got := mustJSON(alice.getACL("/shared").ACL); got != mustJSON([]api.ACL{digestACL("alice", "cdrwa"), digestACL("bob", "r")}) {
		t.Errorf("ACL of /shared: %s", got)
	}
	bob.expect(bob.do("GET", "/v1/nodes/shared", "", nil), http.StatusOK)
	refused(t, bob.do("PUT", "/v1/nodes/shared", "x", nil), http.StatusForbidden, api.CodeNoAuth)
}

// TestACLIPScheme: ip:addr[/bits] matches the address the client connects
// from.
func TestACLIPScheme(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	su := n.as(t, "super")
	for p, entry := range map[string]string{"/ip1": "ip:127.0.0.1:r", "/ip2": "ip:127.0.0.2:r", "/net": "ip:127.0.0.0/8:r", "/other": "ip:10.0.0.0/8:r", "/v6": "ip:::1:r"} {
		su.expect(su.do("POST", "/v1/nodes"+p+aclQuery(entry), "", nil), http.StatusCreated)
	}
	one := n.as(t, "")
	if w := one.whoami(); mustJSON(w.Identities) != `[{"scheme":"ip","id":"127.0.0.1"}]` || w.Authenticated {
		t.Errorf("whoami from 127.0.0.1: %+v", w)
	}
	two := n.fromAddr(t, "127.0.0.2", "")
	if w := two.whoami(); mustJSON(w.Identities) != `[{"scheme":"ip","id":"127.0.0.2"}]` {
		t.Fatalf("whoami from 127.0.0.2: %+v", w)
	}
	for _, tc := range []struct {
		c    *client
		from string
		ok   map[string]bool
	}{
		{one, "127.0.0.1", map[string]bool{"/ip1": true, "/net": true}},
		{two, "127.0.0.2", map[string]bool{"/ip2": true, "/net": true}},
		{n.fromAddr(t, "127.0.0.2", "alice"), "127.0.0.2 as alice", map[string]bool{"/ip2": true, "/net": true}},
	} {
		for _, p := range []string{"/ip1", "/ip2", "/net", "/other", "/v6"} {
			r := tc.c.do("GET", "/v1/nodes"+p, "", nil)
			if tc.ok[p] {
				if r.status != http.StatusOK {
					t.Errorf("GET %s from %s: %d %s, want 200", p, tc.from, r.status, r.body)
				}
				continue
			}
			refused(t, r, http.StatusForbidden, api.CodeNoAuth)
		}
	}
}

// TestACLSetACLAversion: ?aversion= must match (412 BadVersion, changing
// nothing); success bumps aversion and nothing else of the Stat (no data
// change, so no data watch can fire); the checks come in ZooKeeper's
// order: the ACL, the node, ADMIN, then the aversion.
func TestACLSetACLAversion(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, bob, su := n.as(t, "alice"), n.as(t, "bob"), n.as(t, "super")
	created := alice.create("/v", "data")
	before := fullState(su)
	for _, av := range []string{"1", "5", "-2"} {
		r := alice.putACL("/v", av, digestACL("alice", "cdrwa"))
		refused(t, r, http.StatusPreconditionFailed, api.CodeBadVersion)
		unchanged(t, su, before, r)
	}
	var res api.ACLResult
	alice.expect(alice.putACL("/v", "0", digestACL("alice", "cdrwa")), http.StatusOK).decode(t, &res)
	if res.Stat.Aversion != 1 || res.Path != "/v" || mustJSON(res.ACL) != mustJSON([]api.ACL{digestACL("alice", "cdrwa")}) {
		t.Fatalf("setACL: %+v", res)
	}
	st := alice.getACL("/v").Stat
	if st.Aversion != 1 || st.Version != created.Stat.Version || st.Mzxid != created.Stat.Mzxid || st.Cversion != created.Stat.Cversion || st.Mtime != created.Stat.Mtime {
		t.Errorf("after setACL the stat is %+v; created %+v: only aversion may move", st, created.Stat)
	}
	// The same aversion again is stale now; -1 and none match any.
	refused(t, alice.putACL("/v", "0", digestACL("alice", "cdrwa")), http.StatusPreconditionFailed, api.CodeBadVersion)
	alice.expect(alice.putACL("/v", "-1", digestACL("alice", "cdrwa")), http.StatusOK).decode(t, &res)
	alice.expect(alice.putACL("/v", "", digestACL("alice", "cdrwa")), http.StatusOK).decode(t, &res)
	if res.Stat.Aversion != 3 {
		t.Errorf("aversion after three setACLs: %d", res.Stat.Aversion)
	}
	// A malformed aversion.
	before = fullState(su)
	for _, av := range []string{"x", "1.5", "2147483648", ""} {
		r := alice.do("PUT", "/v1/acl/v?aversion="+av, mustJSON(api.SetACLRequest{ACL: api.OpenACL}), nil)
		refused(t, r, http.StatusBadRequest, api.CodeBadArguments)
		unchanged(t, su, before, r)
	}
	// Order: NoAuth before BadVersion, InvalidACL before NoNode.
	before = fullState(su)
	for _, tc := range []struct {
		r      *reply
		status int
		code   api.Code
	}{
		{bob.putACL("/v", "99", digestACL("bob", "cdrwa")), http.StatusForbidden, api.CodeNoAuth},
		{alice.putACL("/none", "99", digestACL("alice", "r")), http.StatusNotFound, api.CodeNoNode},
		{alice.putACL("/none", "99", api.ACL{Scheme: "nope", ID: "x", Perms: api.PermRead}), http.StatusBadRequest, api.CodeInvalidACL},
		{bob.putACL("/v", "99", api.ACL{Scheme: "digest", ID: "bob", Perms: api.PermRead}), http.StatusBadRequest, api.CodeInvalidACL},
	} {
		refused(t, tc.r, tc.status, tc.code)
		unchanged(t, su, before, tc.r)
	}
	// A data change does not move aversion.
	alice.expect(alice.do("PUT", "/v1/nodes/v", "more", nil), http.StatusOK)
	if st := alice.getACL("/v").Stat; st.Aversion != 3 || st.Version != 1 {
		t.Errorf("after setData: %+v", st)
	}
}

// TestACLInvalidACLIs400: an empty or malformed ACL, an unknown scheme, a
// malformed id, and "auth" from a caller with no authenticated identity
// are 400 InvalidACL, and change nothing.
func TestACLInvalidACLIs400(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, anon, su := n.as(t, "alice"), n.as(t, ""), n.as(t, "super")
	alice.create("/v", "")
	before := fullState(su)
	ct := hdr("Content-Type", "application/json")
	for _, tc := range []struct {
		name string
		c    *client
		r    func(c *client) *reply
	}{
		{"PUT an empty list", alice, func(c *client) *reply { return c.do("PUT", "/v1/acl/v", `{"acl":[]}`, ct) }},
		{"PUT without acl", alice, func(c *client) *reply { return c.do("PUT", "/v1/acl/v", `{}`, ct) }},
		{"PUT acl null", alice, func(c *client) *reply { return c.do("PUT", "/v1/acl/v", `{"acl":null}`, ct) }},
		{"PUT an unknown scheme", alice, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"sasl","id":"alice","perms":"cdrwa"}]}`, ct)
		}},
		{"PUT a digest without its hash", alice, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"digest","id":"alice","perms":"r"}]}`, ct)
		}},
		{"PUT a bad ip", alice, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"ip","id":"10.0.0.0/33","perms":"r"}]}`, ct)
		}},
		{"PUT an empty x509 id", alice, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"x509","id":"","perms":"r"}]}`, ct)
		}},
		{"PUT perms that are not cdrwa", alice, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"world","id":"anyone","perms":"rx"}]}`, ct)
		}},
		{"PUT perms over 31", alice, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"world","id":"anyone","perms":32}]}`, ct)
		}},
		{"PUT auth anonymously", anon, func(c *client) *reply {
			return c.do("PUT", "/v1/acl/v", `{"acl":[{"scheme":"auth","id":"","perms":"cdrwa"}]}`, ct)
		}},
		{"create ?acl= malformed", alice, func(c *client) *reply { return c.do("POST", "/v1/nodes/x"+aclQuery("garbage"), "", nil) }},
		{"create ?acl= empty", alice, func(c *client) *reply { return c.do("POST", "/v1/nodes/x?acl=", "", nil) }},
		{"create ?acl= unknown scheme", alice, func(c *client) *reply {
			return c.do("POST", "/v1/nodes/x"+aclQuery("sasl:alice:cdrwa"), "", nil)
		}},
		{"create ?acl= bad perms", alice, func(c *client) *reply {
			return c.do("POST", "/v1/nodes/x"+aclQuery("world:anyone:rr"), "", nil)
		}},
		{"create ?acl= world with another id", alice, func(c *client) *reply {
			return c.do("POST", "/v1/nodes/x"+aclQuery("world:bob:r"), "", nil)
		}},
		{"create ?acl= ip with too many bits", alice, func(c *client) *reply {
			return c.do("POST", "/v1/nodes/x"+aclQuery("ip:127.0.0.1/33:r"), "", nil)
		}},
		{"create ?acl= a bad entry beside a good one", alice, func(c *client) *reply {
			return c.do("POST", "/v1/nodes/x"+aclQuery("world:anyone:r", "ip:nowhere:r"), "", nil)
		}},
		{"create ?acl=auth anonymously", anon, func(c *client) *reply {
			return c.do("POST", "/v1/nodes/x"+aclQuery("auth::cdrwa"), "", nil)
		}},
		{"create ?acl= under a missing parent", alice, func(c *client) *reply { // InvalidACL comes before NoNode
			return c.do("POST", "/v1/nodes/none/x"+aclQuery("sasl:x:r"), "", nil)
		}},
	} {
		r := tc.r(tc.c)
		if r.status != http.StatusBadRequest || r.errorCode() != api.CodeInvalidACL {
			t.Errorf("%s: %d %s, want 400 InvalidACL", tc.name, r.status, truncate(r.body))
		}
		unchanged(t, su, before, r)
	}
	// In a multi: the op's index, and nothing applied.
	r := alice.do("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/m1"},{"op":"create","path":"/m2","acl":[]}]}`, ct)
	var body struct {
		Error   *api.Error        `json:"error"`
		Results []json.RawMessage `json:"results"`
	}
	_ = json.Unmarshal(r.body, &body)
	if r.status != http.StatusBadRequest || body.Error == nil || body.Error.Code != api.CodeInvalidACL || body.Error.Index == nil || *body.Error.Index != 1 {
		t.Errorf("multi with an empty acl: %d %s, want 400 InvalidACL at index 1", r.status, truncate(r.body))
	}
	unchanged(t, su, before, r)
}

// TestAuthRequired: with --auth-required an anonymous request is 401
// AuthFailed with a Basic challenge, but for the probes, metrics and the
// contract; a malformed Authorization header is 401; a create that names
// no ACL gets creator-all.
func TestAuthRequired(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, true)
	anon, alice, bob, su := n.as(t, ""), n.as(t, "alice"), n.as(t, "bob"), n.as(t, "super")
	alice.create("/pre", "")
	before := fullState(su)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/nodes/", ""},
		{"GET", "/v1/nodes/pre", ""},
		{"GET", "/v1/stat/pre", ""},
		{"GET", "/v1/children/", ""},
		{"GET", "/v1/tree/", ""},
		{"GET", "/v1/acl/pre", ""},
		{"POST", "/v1/nodes/x", "data"},
		{"PUT", "/v1/nodes/pre", "data"},
		{"DELETE", "/v1/nodes/pre", ""},
		{"POST", "/v1/multi", `{"ops":[{"op":"create","path":"/m"}]}`},
		{"POST", "/v1/sessions", ""},
		{"GET", "/v1/sessions", ""},
		{"GET", "/v1/whoami", ""},
		{"GET", "/v1/status", ""},
		{"GET", "/v1/cluster", ""},
		{"POST", "/v1/login", ""},
	} {
		r := anon.do(tc.method, tc.path, tc.body, nil)
		refused(t, r, http.StatusUnauthorized, api.CodeAuthFailed)
		if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Basic realm="canopy"`) {
			t.Errorf("%s %s: WWW-Authenticate %q, want a Basic challenge for realm canopy", tc.method, tc.path, ch)
		}
		unchanged(t, su, before, r)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml", "/ui/"} {
		if r := anon.do("GET", p, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s anonymously with --auth-required: %d, want 200", p, r.status)
		}
	}
	if r := anon.do("GET", "/", "", nil); r.status != http.StatusFound {
		t.Errorf("GET / anonymously with --auth-required: %d, want the redirect to the UI", r.status)
	}
	// Malformed credentials are 401 wherever they are sent.
	for _, h := range malformedAuthorization {
		for _, p := range []string{"/v1/nodes/pre", "/v1/whoami"} {
			r := anon.do("GET", p, "", hdr("Authorization", h))
			refused(t, r, http.StatusUnauthorized, api.CodeAuthFailed)
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s with Authorization %q: no WWW-Authenticate", p, h)
			}
		}
	}
	// Creator-all: alice's digest alone, with every perm.
	alice.create("/mine", "x")
	if got := mustJSON(alice.getACL("/mine").ACL); got != mustJSON([]api.ACL{digestACL("alice", "cdrwa")}) {
		t.Errorf("a create without an ACL under --auth-required: ACL %s, want alice's digest with cdrwa", got)
	}
	refused(t, bob.do("GET", "/v1/nodes/mine", "", nil), http.StatusForbidden, api.CodeNoAuth)
	alice.expect(alice.do("GET", "/v1/nodes/mine", "", nil), http.StatusOK)
	// An ACL the create names is kept as named.
	alice.expect(alice.do("POST", "/v1/nodes/pub"+aclQuery("world:anyone:r"), "", nil), http.StatusCreated)
	bob.expect(bob.do("GET", "/v1/nodes/pub", "", nil), http.StatusOK)
	// A wrong password is another identity, not a 401.
	wrong := newClient(t, n.base)
	wrong.http.Transport = basicAuth{user: "alice", password: "guess", next: http.DefaultTransport}
	refused(t, wrong.do("GET", "/v1/nodes/mine", "", nil), http.StatusForbidden, api.CodeNoAuth)
}

// TestAuthCreatorAllOfTheSuperUser: "auth" (and creator-all under
// --auth-required) expands to the creator's authenticated identities that
// have an authentication provider, as ZooKeeper's fixupACL does: for the
// super user, its digest. "super" is no ACL scheme (openapi.yaml's ACL
// schemes are world, auth, digest, ip, x509).
func TestAuthCreatorAllOfTheSuperUser(t *testing.T) {
	t.Parallel()
	for _, required := range []bool{false, true} {
		n := startACLNode(t, required)
		su := n.as(t, "super")
		query := aclQuery("auth::cdrwa")
		if required {
			query = "" // creator-all
		}
		su.expect(su.do("POST", "/v1/nodes/s"+query, "", nil), http.StatusCreated)
		r := su.do("GET", "/v1/acl/s", "", nil)
		var res api.ACLResult
		_ = json.Unmarshal(r.body, &res)
		if want := mustJSON([]api.ACL{{Scheme: "digest", ID: superDigest, Perms: api.PermAll}}); mustJSON(res.ACL) != want {
			t.Errorf("auth-required %v: the super user's auth::cdrwa is stored as %s, want %s", required, mustJSON(res.ACL), want)
		}
	}
}

// TestAuthMetricsAuth: with --metrics-auth, /metrics needs credentials
// too where authentication is required.
func TestAuthMetricsAuth(t *testing.T) {
	t.Parallel()
	n := startNodeWith(t, service.Security{AuthRequired: true, SuperDigest: superDigest, NoAuthLimit: -1}, func(c *Config, _ *service.Limits) {
		c.MetricsAuth = true
	})
	r := n.as(t, "").do("GET", "/metrics", "", nil)
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("GET /metrics anonymously with --metrics-auth: %d, want 401 with a challenge", r.status)
	}
	if r := n.as(t, "alice").do("GET", "/metrics", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /metrics as alice with --metrics-auth: %d, want 200", r.status)
	}
	if r := n.as(t, "").do("GET", "/healthz", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /healthz anonymously with --metrics-auth: %d, want 200", r.status)
	}
}

// malformedAuthorization are Authorization headers that are not Basic
// credentials parseBasic accepts.
var malformedAuthorization = []string{
	"Bearer abc",
	"Basic",
	"Basic !!!notbase64",
	"Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")),
	"Digest username=alice",
}

// TestAuthMalformedAuthorizationIs401Everywhere: the contract answers a
// malformed Authorization header 401 AuthFailed (authenticate's comment:
// "everywhere"), also on a server without --auth-required, and also on
// the open paths.
func TestAuthMalformedAuthorizationIs401Everywhere(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	anon := n.as(t, "")
	for _, h := range malformedAuthorization {
		for _, p := range []string{"/v1/nodes/", "/v1/whoami", "/healthz", "/metrics"} {
			r := anon.do("GET", p, "", hdr("Authorization", h))
			if r.status != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q: %d, want 401 AuthFailed", p, h, r.status)
			}
		}
	}
}

// TestAuthSessionOwnership: a session belongs to its opener: another
// identity's keep-alive, close, ephemeral create or request within it is
// 403 NoAuth, and the session lives on.
func TestAuthSessionOwnership(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, bob, anon, su := n.as(t, "alice"), n.as(t, "bob"), n.as(t, ""), n.as(t, "super")
	sid := alice.openSession(30000)
	in := hdr("Canopy-Session", sid.String())
	alice.expect(alice.do("POST", "/v1/nodes/mine?ephemeral", "", in), http.StatusCreated)
	before := fullState(su)
	for _, c := range []*client{bob, anon} {
		for _, r := range []*reply{
			c.do("POST", "/v1/sessions/"+sid.String()+"/keepalive", "", nil),
			c.do("DELETE", "/v1/sessions/"+sid.String(), "", nil),
			c.do("POST", "/v1/nodes/theirs?ephemeral", "", in),
			c.do("POST", "/v1/nodes/plain", "", in),
			c.do("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/m","ephemeral":true}]}`, in),
			c.do("GET", "/v1/nodes/", "", in),
		} {
			refused(t, r, http.StatusForbidden, api.CodeNoAuth)
			unchanged(t, su, before, r)
		}
	}
	// Still alice's, and alive.
	var s api.Session
	alice.expect(alice.do("GET", "/v1/sessions/"+sid.String(), "", nil), http.StatusOK).decode(t, &s)
	if strings.Join(s.Ephemerals, ",") != "/mine" {
		t.Errorf("alice's session after the refusals: %+v", s)
	}
	alice.expect(alice.do("POST", "/v1/sessions/"+sid.String()+"/keepalive", "", nil), http.StatusOK)
	alice.expect(alice.do("POST", "/v1/nodes/mine2?ephemeral", "", in), http.StatusCreated)
	// A session opened anonymously belongs to anyone.
	open := anon.openSession(30000)
	bob.expect(bob.do("POST", "/v1/sessions/"+open.String()+"/keepalive", "", nil), http.StatusOK)
	// The super user may close anyone's.
	su.expect(su.do("DELETE", "/v1/sessions/"+sid.String(), "", nil), http.StatusNoContent)
	if su.exists("/mine") {
		t.Errorf("closing the session left its ephemeral")
	}
}

// TestAuthLoginCookie: POST /v1/login exchanges Basic credentials for a
// signed HttpOnly SameSite=Strict cookie that then stands for them; a
// tampered cookie is nobody's; POST /v1/logout clears it.
func TestAuthLoginCookie(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, anon, bob := n.as(t, "alice"), n.as(t, ""), n.as(t, "bob")
	r := alice.expect(alice.do("POST", "/v1/login", "", nil), http.StatusOK)
	var w api.WhoAmI
	r.decode(t, &w)
	if w.User != "alice" || !w.Authenticated || w.Super {
		t.Errorf("login answered %+v", w)
	}
	ck := loginCookie(r)
	if ck == nil {
		t.Fatalf("login set no canopy_auth cookie: %q", r.header.Values("Set-Cookie"))
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 || ck.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, a Max-Age, not Secure over plain HTTP", ck)
	}
	if strings.Contains(ck.Value, passwords["alice"]) || strings.Contains(decodeAll(ck.Value), passwords["alice"]) {
		t.Errorf("the cookie holds the password: %q", ck.Value)
	}
	withCookie := func(v string) map[string]string { return hdr("Cookie", ck.Name+"="+v) }

	// The cookie alone acts as alice.
	var got api.WhoAmI
	anon.expect(anon.do("GET", "/v1/whoami", "", withCookie(ck.Value)), http.StatusOK).decode(t, &got)
	if got.User != "alice" || !hasIdentity(got, "digest", digestOf("alice")) {
		t.Errorf("whoami with the cookie: %+v", got)
	}
	anon.expect(anon.do("POST", "/v1/nodes/ck"+aclQuery("auth::cdrwa"), "", withCookie(ck.Value)), http.StatusCreated)
	if acl := alice.getACL("/ck").ACL; mustJSON(acl) != mustJSON([]api.ACL{digestACL("alice", "cdrwa")}) {
		t.Errorf("a create with the cookie and auth::cdrwa: ACL %s, want alice's", mustJSON(acl))
	}
	anon.expect(anon.do("GET", "/v1/nodes/ck", "", withCookie(ck.Value)), http.StatusOK)
	refused(t, bob.do("GET", "/v1/nodes/ck", "", nil), http.StatusForbidden, api.CodeNoAuth)
	// Basic credentials win over the cookie.
	refused(t, bob.do("GET", "/v1/nodes/ck", "", withCookie(ck.Value)), http.StatusForbidden, api.CodeNoAuth)

	// Tampered: anonymous, not alice.
	for _, v := range tamper(ck.Value) {
		var who api.WhoAmI
		anon.expect(anon.do("GET", "/v1/whoami", "", withCookie(v)), http.StatusOK).decode(t, &who)
		if who.Authenticated || who.User != "" {
			t.Errorf("whoami with the tampered cookie %q: %+v, want anonymous", v, who)
		}
		refused(t, anon.do("GET", "/v1/nodes/ck", "", withCookie(v)), http.StatusForbidden, api.CodeNoAuth)
	}

	// Expired: anonymous.
	expired := n.server.logins.sign(digestOf("alice"), time.Now().Add(-time.Second))
	var who api.WhoAmI
	anon.expect(anon.do("GET", "/v1/whoami", "", withCookie(expired)), http.StatusOK).decode(t, &who)
	if who.Authenticated {
		t.Errorf("whoami with an expired cookie: %+v, want anonymous", who)
	}
	// The super user's cookie is the super user.
	sck := loginCookie(n.as(t, "super").expect(n.as(t, "super").do("POST", "/v1/login", "", nil), http.StatusOK))
	anon.expect(anon.do("GET", "/v1/whoami", "", withCookie(sck.Value)), http.StatusOK).decode(t, &who)
	if !who.Super {
		t.Errorf("whoami with the super user's cookie: %+v", who)
	}

	// Logout clears it.
	r = anon.expect(anon.do("POST", "/v1/logout", "", withCookie(ck.Value)), http.StatusNoContent)
	if c := loginCookie(r); c == nil || c.Name != ck.Name || c.Value != "" || c.MaxAge >= 0 {
		t.Errorf("logout: cookie %+v, want %s cleared (empty, Max-Age=0)", c, ck.Name)
	}
	// Without credentials login is 401.
	r = anon.do("POST", "/v1/login", "", nil)
	refused(t, r, http.StatusUnauthorized, api.CodeAuthFailed)
	if loginCookie(r) != nil {
		t.Errorf("a refused login set a cookie")
	}
}

// TestAuthLoginCookieUnderAuthRequired: with --auth-required the cookie
// is credentials enough, and a tampered one is 401.
func TestAuthLoginCookieUnderAuthRequired(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, true)
	alice, anon := n.as(t, "alice"), n.as(t, "")
	ck := loginCookie(alice.expect(alice.do("POST", "/v1/login", "", nil), http.StatusOK))
	if ck == nil {
		t.Fatal("no cookie")
	}
	anon.expect(anon.do("POST", "/v1/nodes/c", "", hdr("Cookie", ck.Name+"="+ck.Value)), http.StatusCreated)
	if acl := alice.getACL("/c").ACL; mustJSON(acl) != mustJSON([]api.ACL{digestACL("alice", "cdrwa")}) {
		t.Errorf("creator-all with the cookie: %s", mustJSON(acl))
	}
	for _, v := range tamper(ck.Value) {
		refused(t, anon.do("GET", "/v1/nodes/c", "", hdr("Cookie", ck.Name+"="+v)), http.StatusUnauthorized, api.CodeAuthFailed)
	}
}

// loginCookie is the login cookie a response sets: canopy_auth, or
// canopy_auth_<suffix> (a name per host, so that nodes sharing a host,
// whose cookies a browser does not tell apart by port, keep theirs).
func loginCookie(r *reply) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "canopy_auth" || strings.HasPrefix(c.Name, "canopy_auth_") {
			return c
		}
	}
	return nil
}

func hasIdentity(w api.WhoAmI, scheme, id string) bool {
	for _, i := range w.Identities {
		if i.Scheme == scheme && i.ID == id {
			return true
		}
	}
	return false
}

// decodeAll decodes each dot-separated part of a token as unpadded
// base64url, for looking inside.
func decodeAll(v string) string {
	var b strings.Builder
	for _, part := range strings.Split(v, ".") {
		d, _ := base64.RawURLEncoding.DecodeString(part)
		b.Write(d)
	}
	return b.String()
}

// tamper returns forgeries of a login token: a flipped MAC byte, the
// payload re-signed by nobody for another user, the MAC alone, garbage.
func tamper(v string) []string {
	payload, mac, _ := strings.Cut(v, ".")
	flip := []byte(mac)
	if flip[0] == 'A' {
		flip[0] = 'B'
	} else {
		flip[0] = 'A'
	}
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	forged := append(append([]byte(nil), raw[:8]...), digestOf("bob")...)
	return []string{
		payload + "." + string(flip),
		base64.RawURLEncoding.EncodeToString(forged) + "." + mac,
		"." + mac,
		payload,
		"garbage",
	}
}

// TestAuthNoAuthRateLimit: a client (an address and the user its
// credentials name) refused NoAuth more than the limit allows in a minute
// is answered 429 Throttled with Retry-After; a password guesser is one
// (each wrong password is only another identity, so a 403). Anonymous
// refusals guess nothing and do not count; another user behind the same
// address, and the same user from another address, are served.
func TestAuthNoAuthRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 5
	n := startNodeWith(t, service.Security{SuperDigest: superDigest, NoAuthLimit: limit})
	su := n.as(t, "super")
	su.expect(su.do("POST", "/v1/nodes/lock"+aclQuery("digest:"+digestOf("alice")+":cdrwa"), "", nil), http.StatusCreated)
	basic := func(user, password string) map[string]string {
		return hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	}
	anon := n.as(t, "")
	for i := 0; i < 2*limit; i++ {
		refused(t, anon.do("GET", "/v1/nodes/lock", "", nil), http.StatusForbidden, api.CodeNoAuth)
	}
	for i := 1; i <= limit+3; i++ {
		r := anon.do("GET", "/v1/nodes/lock", "", basic("alice", "guess-"+strconv.Itoa(i)))
		if i <= limit {
			refused(t, r, http.StatusForbidden, api.CodeNoAuth)
			continue
		}
		refused(t, r, http.StatusTooManyRequests, api.CodeThrottled)
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 61 {
			t.Errorf("guess %d: Retry-After %q, want the seconds left of the minute", i, r.header.Get("Retry-After"))
		}
	}
	// Held back whatever it asks, even with the right password: the
	// guesser cannot tell a right guess from a wrong one.
	refused(t, n.as(t, "alice").do("GET", "/v1/nodes/lock", "", nil), http.StatusTooManyRequests, api.CodeThrottled)
	// Others are served.
	refused(t, n.as(t, "bob").do("GET", "/v1/nodes/lock", "", nil), http.StatusForbidden, api.CodeNoAuth)
	refused(t, anon.do("GET", "/v1/nodes/lock", "", nil), http.StatusForbidden, api.CodeNoAuth)
	other := n.fromAddr(t, "127.0.0.2", "alice")
	other.expect(other.do("GET", "/v1/nodes/lock", "", nil), http.StatusOK)
}

// TestACLSuperPassesEveryACLAndAdministers: the super user passes an ACL
// that names nobody it holds, and alone may use the cluster's
// administration once a super digest is set.
func TestACLSuperPassesEveryACLAndAdministers(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, anon, su := n.as(t, "alice"), n.as(t, ""), n.as(t, "super")
	w := su.whoami()
	if !w.Super || !w.Authenticated || !hasIdentity(w, "digest", superDigest) || !hasIdentity(w, "super", "") {
		t.Errorf("whoami as super: %+v", w)
	}
	if w := alice.whoami(); w.Super || hasIdentity(w, "super", "") {
		t.Errorf("whoami as alice: %+v", w)
	}
	// A node nobody but carol may touch.
	su.expect(su.do("POST", "/v1/nodes/locked"+aclQuery("digest:"+digestOf("carol")+":r"), "d", nil), http.StatusCreated)
	su.expect(su.do("GET", "/v1/nodes/locked", "", nil), http.StatusOK)
	su.expect(su.do("PUT", "/v1/nodes/locked", "e", nil), http.StatusOK)
	su.expect(su.do("POST", "/v1/nodes/locked/kid", "", nil), http.StatusCreated)
	su.expect(su.do("GET", "/v1/children/locked", "", nil), http.StatusOK)
	if got := su.getACL("/locked").ACL; mustJSON(got) != mustJSON([]api.ACL{digestACL("carol", "r")}) {
		t.Errorf("super's getACL: %s, want unmasked", mustJSON(got))
	}
	su.expect(su.do("DELETE", "/v1/nodes/locked/kid", "", nil), http.StatusNoContent)
	su.expect(su.putACL("/locked", "0", digestACL("carol", "cdrwa")), http.StatusOK)
	su.expect(su.do("DELETE", "/v1/nodes/locked", "", nil), http.StatusNoContent)

	// The administration: 403 but for super.
	for _, c := range []*client{alice, anon} {
		refused(t, c.do("GET", "/v1/snapshot", "", nil), http.StatusForbidden, api.CodeNoAuth)
		refused(t, c.do("POST", "/v1/cluster/members", `{"id":"n9","raft":"127.0.0.1:1","http":"127.0.0.1:2"}`, hdr("Content-Type", "application/json")), http.StatusForbidden, api.CodeNoAuth)
		refused(t, c.do("DELETE", "/v1/cluster/members/n9", "", nil), http.StatusForbidden, api.CodeNoAuth)
	}
	wrong := newClient(t, n.base)
	wrong.http.Transport = basicAuth{user: "super", password: "not-pw", next: http.DefaultTransport}
	refused(t, wrong.do("GET", "/v1/snapshot", "", nil), http.StatusForbidden, api.CodeNoAuth)
	if r := su.do("GET", "/v1/snapshot", "", nil); r.status != http.StatusOK || len(r.body) == 0 {
		t.Errorf("GET /v1/snapshot as super: %d (%d bytes), want 200 and a backup", r.status, len(r.body))
	}
}

// TestAuthAdminOpenWithoutSecurity: a server with no super digest and no
// --auth-required administers as before, for anyone.
func TestAuthAdminOpenWithoutSecurity(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	if r := n.do("GET", "/v1/snapshot", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /v1/snapshot anonymously without access control: %d %s", r.status, truncate(r.body))
	}
	// Without a super digest, nobody is super, whatever the user.
	if w := n.as(t, "super").whoami(); w.Super {
		t.Errorf("whoami as a user named super without --super-digest: %+v", w)
	}
}

// TestWhoAmIListsTheCallersIdentities: GET /v1/whoami answers ip, and
// digest after Basic.
func TestWhoAmIListsTheCallersIdentities(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	w := n.as(t, "alice").whoami()
	want := api.WhoAmI{Identities: []api.Identity{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: digestOf("alice")}}, Authenticated: true, User: "alice"}
	if mustJSON(w) != mustJSON(want) {
		t.Errorf("whoami as alice: %s, want %s", mustJSON(w), mustJSON(want))
	}
	w = n.as(t, "").whoami()
	if mustJSON(w) != `{"identities":[{"scheme":"ip","id":"127.0.0.1"}],"authenticated":false,"super":false}` {
		t.Errorf("whoami anonymously: %s", mustJSON(w))
	}
	// The scheme's name is case-insensitive; the password may hold colons.
	c := n.as(t, "")
	var got api.WhoAmI
	c.expect(c.do("GET", "/v1/whoami", "", hdr("Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte("dave:p:w")))), http.StatusOK).decode(t, &got)
	if !hasIdentity(got, "digest", api.Digest("dave", "p:w")) || got.User != "dave" {
		t.Errorf("whoami with lower-case basic and a colon in the password: %+v", got)
	}
	// An empty user name is one, as in ZooKeeper's digest provider.
	got = api.WhoAmI{}
	c.expect(c.do("GET", "/v1/whoami", "", hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":pw")))), http.StatusOK).decode(t, &got)
	if !hasIdentity(got, "digest", api.Digest("", "pw")) || !got.Authenticated {
		t.Errorf("whoami with an empty user name: %+v", got)
	}
}

// startTLSACLNode serves the API over TLS with ca's client certificates
// verified when sent, with --auth-required and a super user.
func startTLSACLNode(t *testing.T, ca *testkit.CA) string {
	t.Helper()
	_, srv := newSecureServer(t, 0, service.Security{AuthRequired: true, SuperDigest: superDigest, NoAuthLimit: -1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{ca.Issue(t, "server", "127.0.0.1")},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String()
}

// tlsClient trusts ca and presents cert (none when nil), and Basic
// credentials for user when not "".
func tlsClient(t *testing.T, base string, ca *testkit.CA, cert *tls.Certificate, user string) *client {
	c := newClient(t, base)
	cfg := &tls.Config{RootCAs: ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	c.http.Transport = tr
	if user != "" {
		c.http.Transport = basicAuth{user: user, password: passwords[user], next: tr}
	}
	return c
}

func subjectOf(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.String()
}

// TestAuthX509Identity: a verified client certificate is the identity
// x509:<subject DN> (authentication enough under --auth-required), which
// an x509 ACL names; "auth" expands to it and to the digest together.
func TestAuthX509Identity(t *testing.T) {
	t.Parallel()
	ca := testkit.NewCA(t, "test CA")
	base := startTLSACLNode(t, ca)
	aliceCert, bobCert := ca.Issue(t, "alice"), ca.Issue(t, "bob")
	aliceDN := subjectOf(t, aliceCert)
	if aliceDN != "CN=alice,O=Canopy tests" {
		t.Logf("alice's DN is %q", aliceDN)
	}
	alice := tlsClient(t, base, ca, &aliceCert, "")
	bob := tlsClient(t, base, ca, &bobCert, "")
	nocert := tlsClient(t, base, ca, nil, "")
	basicAlice := tlsClient(t, base, ca, nil, "alice")
	su := tlsClient(t, base, ca, nil, "super")
	testkit.WaitFor(t, 10*time.Second, "readyz 200 over TLS", func() bool {
		return nocert.do("GET", "/readyz", "", nil).status == http.StatusOK
	})

	w := alice.whoami()
	if !hasIdentity(w, "x509", aliceDN) || !w.Authenticated || w.User != "" {
		t.Errorf("whoami with alice's certificate: %+v, want x509:%s", w, aliceDN)
	}
	// No certificate and no password: 401 under --auth-required.
	refused(t, nocert.do("GET", "/v1/whoami", "", nil), http.StatusUnauthorized, api.CodeAuthFailed)

	su.expect(su.do("POST", "/v1/nodes/x"+aclQuery("x509:"+aliceDN+":r"), "for alice", nil), http.StatusCreated)
	if got := su.getACL("/x").ACL; mustJSON(got) != mustJSON([]api.ACL{{Scheme: "x509", ID: aliceDN, Perms: api.PermRead}}) {
		t.Errorf("ACL of /x: %s", mustJSON(got))
	}
	before := fullState(su)
	alice.expect(alice.do("GET", "/v1/nodes/x", "", nil), http.StatusOK)
	for _, r := range []*reply{
		alice.do("PUT", "/v1/nodes/x", "y", nil), // r only
		bob.do("GET", "/v1/nodes/x", "", nil),
		basicAlice.do("GET", "/v1/nodes/x", "", nil), // the digest alice is not the certificate alice
	} {
		refused(t, r, http.StatusForbidden, api.CodeNoAuth)
	}
	unchanged(t, su, before, &reply{method: "several", path: "/x"})

	// auth:: expands to every authenticated identity of the creator.
	both := tlsClient(t, base, ca, &aliceCert, "alice")
	both.expect(both.do("POST", "/v1/nodes/both"+aclQuery("auth::cdrwa"), "", nil), http.StatusCreated)
	got := su.getACL("/both").ACL
	want := []api.ACL{digestACL("alice", "cdrwa"), {Scheme: "x509", ID: aliceDN, Perms: api.PermAll}}
	if len(got) != 2 || !containsACL(got, want[0]) || !containsACL(got, want[1]) {
		t.Errorf("auth::cdrwa from certificate and password: %s, want %s", mustJSON(got), mustJSON(want))
	}
	alice.expect(alice.do("GET", "/v1/nodes/both", "", nil), http.StatusOK)
	basicAlice.expect(basicAlice.do("GET", "/v1/nodes/both", "", nil), http.StatusOK)
	refused(t, bob.do("GET", "/v1/nodes/both", "", nil), http.StatusForbidden, api.CodeNoAuth)

	// Over TLS the login cookie is Secure.
	r := basicAlice.expect(basicAlice.do("POST", "/v1/login", "", nil), http.StatusOK)
	if ck := loginCookie(r); ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Errorf("login over TLS: cookie %+v, want Secure and HttpOnly", ck)
	}
}

func containsACL(list []api.ACL, a api.ACL) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// TestACLTreeListsOnlyReadableChildren: GET /v1/tree needs READ on its
// root and lists the children of the nodes the caller may READ only, as
// getChildren would; the others are marked truncated.
func TestACLTreeListsOnlyReadableChildren(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, bob := n.as(t, "alice"), n.as(t, "bob")
	alice.expect(alice.do("POST", "/v1/nodes/priv"+aclQuery("auth::cdrwa"), "", nil), http.StatusCreated)
	alice.expect(alice.do("POST", "/v1/nodes/priv/kid", "", nil), http.StatusCreated)
	alice.create("/open", "")
	alice.create("/open/kid", "")
	var root api.TreeNode
	bob.expect(bob.do("GET", "/v1/tree/?depth=5", "", nil), http.StatusOK).decode(t, &root)
	byPath := map[string]*api.TreeNode{}
	var walk func(*api.TreeNode)
	walk = func(tn *api.TreeNode) {
		byPath[tn.Path] = tn
		for _, c := range tn.Children {
			walk(c)
		}
	}
	walk(&root)
	if p := byPath["/priv"]; p == nil || len(p.Children) != 0 || !p.Truncated {
		t.Errorf("bob's tree lists /priv as %+v, want it without children and truncated", p)
	}
	if byPath["/priv/kid"] != nil {
		t.Errorf("bob's tree lists /priv/kid")
	}
	if byPath["/open/kid"] == nil {
		t.Errorf("bob's tree lacks /open/kid")
	}
	refused(t, bob.do("GET", "/v1/tree/priv", "", nil), http.StatusForbidden, api.CodeNoAuth)
	alice.expect(alice.do("GET", "/v1/tree/priv", "", nil), http.StatusOK)
}

// TestACLRecursiveDeleteNeedsDeleteThroughout: a recursive delete is
// ZooKeeper's deleteall, a delete of each node, each needing DELETE on
// its parent: one node in the way refuses the whole, and nothing goes.
func TestACLRecursiveDeleteNeedsDeleteThroughout(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, su := n.as(t, "alice"), n.as(t, "super")
	su.expect(su.do("POST", "/v1/nodes/r"+aclQuery("digest:"+digestOf("alice")+":cdrwa"), "", nil), http.StatusCreated)
	su.expect(su.do("POST", "/v1/nodes/r/a"+aclQuery("digest:"+digestOf("alice")+":crwa"), "", nil), http.StatusCreated) // no d
	su.expect(su.do("POST", "/v1/nodes/r/a/x", "", nil), http.StatusCreated)
	su.expect(su.do("POST", "/v1/nodes/r/b", "", nil), http.StatusCreated)
	before := fullState(su)
	r := alice.do("DELETE", "/v1/nodes/r?recursive", "", nil)
	refused(t, r, http.StatusForbidden, api.CodeNoAuth)
	unchanged(t, su, before, r)
	// A multi of the same deletes: the same NoAuth, at the op in the way.
	r = alice.do("POST", "/v1/multi", `{"ops":[{"op":"delete","path":"/r/b"},{"op":"delete","path":"/r/a/x"}]}`, hdr("Content-Type", "application/json"))
	refused(t, r, http.StatusForbidden, api.CodeNoAuth)
	unchanged(t, su, before, r)
	// Once /r/a gives DELETE, it goes.
	su.expect(su.putACL("/r/a", "", digestACL("alice", "cdrwa")), http.StatusOK)
	alice.expect(alice.do("DELETE", "/v1/nodes/r?recursive", "", nil), http.StatusNoContent)
}

// TestACLCreateParentsNeedsCreateOnTheExistingParent: ?parents creates
// the missing ancestors with the node's ACL, each a create needing CREATE
// on its parent.
func TestACLCreateParentsNeedsCreateOnTheExistingParent(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, su := n.as(t, "alice"), n.as(t, "super")
	su.expect(su.do("POST", "/v1/nodes/q"+aclQuery("digest:"+digestOf("alice")+":rwda"), "", nil), http.StatusCreated)
	before := fullState(su)
	r := alice.do("POST", "/v1/nodes/q/a/b?parents", "", nil)
	refused(t, r, http.StatusForbidden, api.CodeNoAuth)
	unchanged(t, su, before, r)
	alice.expect(alice.do("POST", "/v1/nodes/x/y/z?parents&"+aclQuery("auth::cdrwa")[1:], "", nil), http.StatusCreated)
	for _, p := range []string{"/x", "/x/y", "/x/y/z"} {
		if got := mustJSON(su.getACL(p).ACL); got != mustJSON([]api.ACL{digestACL("alice", "cdrwa")}) {
			t.Errorf("ACL of %s: %s, want alice's", p, got)
		}
	}
}

// TestACLZookeeperNodes: ZooKeeper 3.8 gives /zookeeper/config the ACL
// world:anyone:r (DataTree.addConfigNode: READ_ACL_UNSAFE), so setACL on
// it is NoAuth but for the super user; no one changes the ACLs of the
// reserved nodes by accident.
func TestACLZookeeperNodes(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, su := n.as(t, "alice"), n.as(t, "super")
	if got := mustJSON(alice.getACL("/zookeeper/config").ACL); got != `[{"scheme":"world","id":"anyone","perms":"r"}]` {
		t.Errorf("ACL of /zookeeper/config: %s, want world:anyone:r as in ZooKeeper", got)
	}
	before := fullState(su)
	r := alice.putACL("/zookeeper/config", "", digestACL("alice", "cdrwa"))
	refused(t, r, http.StatusForbidden, api.CodeNoAuth)
	unchanged(t, su, before, r)
}

// TestACLHeadIsExists: HEAD /v1/nodes answers as exists (no perm needed),
// the route's summary; GET needs READ.
func TestACLHeadIsExists(t *testing.T) {
	t.Parallel()
	n := startACLNode(t, false)
	alice, bob := n.as(t, "alice"), n.as(t, "bob")
	alice.expect(alice.do("POST", "/v1/nodes/priv"+aclQuery("auth::cdrwa"), "", nil), http.StatusCreated)
	head := bob.do("HEAD", "/v1/nodes/priv", "", nil)
	stat := bob.do("GET", "/v1/stat/priv", "", nil)
	get := bob.do("GET", "/v1/nodes/priv", "", nil)
	t.Logf("as bob on alice's node: HEAD /v1/nodes %d, GET /v1/stat %d, GET /v1/nodes %d", head.status, stat.status, get.status)
	if head.status != stat.status {
		t.Errorf("HEAD /v1/nodes/priv %d, exists %d: want the same", head.status, stat.status)
	}
}
