package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// aliceID is api.Digest("alice", "secret"), as ZooKeeper computes it.
const aliceID = "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="

// as makes the CLI's following commands authenticate as user, password
// from the environment (as a script gives it); "" makes them anonymous.
func as(t *testing.T, user, password string) {
	t.Setenv("CANOPY_USER", user)
	t.Setenv("CANOPY_PASSWORD", password)
	if user == "" {
		os.Unsetenv("CANOPY_USER")
		os.Unsetenv("CANOPY_PASSWORD")
	}
}

func TestDigestIsZooKeepers(t *testing.T) {
	if got := api.Digest("alice", "secret"); got != aliceID {
		t.Fatalf("api.Digest = %q, want %q", got, aliceID)
	}
	r := canopyAt(t, "http://127.0.0.1:1", "digest", "alice", "secret").ok(t)
	matchGolden(t, "digest.golden", []string{"digest", "alice", "secret"}, r.out)
	// From stdin, as a script pipes it: no password in the arguments.
	if r := canopyIn(t, "http://127.0.0.1:1", "secret\n", "digest", "alice").ok(t); r.out != aliceID+"\n" {
		t.Errorf("digest from stdin printed %q", r.out)
	}
	r = canopyAt(t, "http://127.0.0.1:1", "digest", "-o", "json", "alice", "secret").ok(t)
	if r.out != `{"scheme":"digest","id":"`+aliceID+`"}`+"\n" {
		t.Errorf("digest -o json printed %q", r.out)
	}
	canopyAt(t, "http://127.0.0.1:1", "digest", "al:ice", "x").fails(t, exitUsage)
}

func TestGetACLPrintsAsZkCli(t *testing.T) {
	var b bytes.Buffer
	writeACL(&b, []api.ACL{
		{Scheme: "world", ID: "anyone", Perms: api.PermAll},
		{Scheme: "x509", ID: "CN=bob,O=Acme 100%", Perms: api.PermRead | api.PermAdmin},
		{Scheme: "ip", ID: "10.0.0.0/8", Perms: 0},
	})
	want := "'world,'anyone\n: cdrwa\n'x509,'CN=bob%2CO=Acme 100%25\n: ra\n'ip,'10.0.0.0/8\n: \n"
	if b.String() != want {
		t.Fatalf("writeACL wrote\n%s\nwant\n%s", b.String(), want)
	}
}

func TestACLVerbsGuardANode(t *testing.T) {
	nd := testnode.Start(t)
	u := nd.URL
	acl := "digest:" + aliceID + ":cdrwa,world:anyone:r,ip:10.0.0.0/8:rw"

	as(t, "", "")
	canopyAt(t, u, "create", "--acl", acl, "/secure", "v1").ok(t)
	canopyAt(t, u, "create", "--acl", "world:anyone", "/bad").fails(t, exitUsage)
	if r := canopyAt(t, u, "get", "/secure").ok(t); r.out != "v1" {
		t.Errorf("anonymous get (world:anyone:r) printed %q", r.out)
	}
	r := canopyAt(t, u, "set", "/secure", "v2").fails(t, exitAuth)
	if !strings.Contains(r.err, "NoAuth") {
		t.Errorf("anonymous set: %s", r.err)
	}
	// Without ADMIN the digest is masked, as ZooKeeper masks it.
	if r := canopyAt(t, u, "getacl", "/secure").ok(t); !strings.Contains(r.out, "'digest,'alice:x\n: cdrwa\n") {
		t.Errorf("anonymous getacl printed\n%s", r.out)
	}
	matchGolden(t, "whoami-anonymous.golden", []string{"whoami"}, canopyAt(t, u, "whoami").ok(t).out)

	as(t, "alice", "wrong")
	canopyAt(t, u, "set", "/secure", "v2").fails(t, exitAuth)

	as(t, "alice", "secret")
	canopyAt(t, u, "set", "/secure", "v2").ok(t)
	matchGolden(t, "getacl.golden", []string{"getacl", "/secure"}, canopyAt(t, u, "getacl", "/secure").ok(t).out)
	matchGolden(t, "whoami.golden", []string{"whoami"}, canopyAt(t, u, "whoami").ok(t).out)
	var who api.WhoAmI
	if err := json.Unmarshal([]byte(canopyAt(t, u, "whoami", "-o", "json").ok(t).out), &who); err != nil || !who.Authenticated || who.User != "alice" {
		t.Errorf("whoami -o json: %+v, %v", who, err)
	}

	canopyAt(t, u, "setacl", "-v", "3", "/secure", "world:anyone:cdrwa").fails(t, exitBadVersion)
	canopyAt(t, u, "setacl", "/secure", "world:anyone:cdrwx").fails(t, exitUsage)
	if r := canopyAt(t, u, "setacl", "-v", "0", "/secure", "digest:"+aliceID+":cdrwa").ok(t); r.out != "updated the ACL of /secure (aversion 1)\n" {
		t.Errorf("setacl printed %q", r.out)
	}
	var res api.ACLResult
	if err := json.Unmarshal([]byte(canopyAt(t, u, "getacl", "-o", "json", "/secure").ok(t).out), &res); err != nil ||
		res.Path != "/secure" || len(res.ACL) != 1 || res.ACL[0].ID != aliceID || res.Stat.Aversion != 1 {
		t.Errorf("getacl -o json: %+v, %v", res, err)
	}

	as(t, "", "")
	canopyAt(t, u, "get", "/secure").fails(t, exitAuth) // world read is gone
	// --user with no password, and no terminal to ask on: said at once.
	canopyAt(t, u, "get", "--user", "alice", "/secure").fails(t, exitUsage)
}

// aclOf reads a node's ACL through a client as alice.
func aclOf(t *testing.T, url, p string) string {
	t.Helper()
	c, err := client.New(client.Config{Servers: []string{url}, User: "alice", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.GetACL(ctxT(t), p)
	if err != nil {
		t.Fatalf("getacl %s: %v", p, err)
	}
	var s []string
	for _, a := range res.ACL {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func TestExportImportKeepACLs(t *testing.T) {
	src, dst := testnode.Start(t), testnode.Start(t)
	alice := "digest:" + aliceID + ":cdrwa"
	tree := []struct{ path, acl string }{
		{"/app", ""},                           // the default: world:anyone:cdrwa
		{"/app/locked", alice},                 // bars others from creating below: set last
		{"/app/locked/kid", "world:anyone:cr"}, // anyone may create below: set with the create
		{"/app/locked/kid/leaf", alice + ",ip:127.0.0.1:r"},
		{"/app/ro", "world:anyone:r"},
	}
	as(t, "alice", "secret")
	for _, n := range tree {
		args := []string{"create", n.path, "data of " + n.path}
		if n.acl != "" {
			args = append(args, "--acl", n.acl)
		}
		canopyAt(t, src.URL, args...).ok(t)
	}
	file := filepath.Join(t.TempDir(), "app.json")
	canopyAt(t, src.URL, "export", "/app", "-f", file).ok(t)

	// Anonymously, into another cluster: /app/locked's own ACL would bar
	// its children; it is set last.
	as(t, "", "")
	canopyAt(t, dst.URL, "import", file).ok(t)
	for _, n := range tree {
		if got, want := aclOf(t, dst.URL, n.path), aclOf(t, src.URL, n.path); got != want {
			t.Errorf("%s: ACL %q after the round trip, want %q", n.path, got, want)
		}
	}

	// Who may not read an ACL as it is cannot export it: said, not dropped.
	r := canopyAt(t, src.URL, "export", "/app/ro").ok(t) // world:anyone:r, no digest
	if !strings.Contains(r.out, `"acl":[{"scheme":"world","id":"anyone","perms":"r"}]`) {
		t.Errorf("export of /app/ro:\n%s", r.out)
	}
	r = canopyAt(t, src.URL, "export", "/app/locked/kid").fails(t, exitAuth)
	if !strings.Contains(r.err, "/app/locked/kid/leaf") {
		t.Errorf("export with an unreadable ACL: %s", r.err)
	}
	r = canopyAt(t, src.URL, "export", "--no-acl", "/app/ro").ok(t)
	if strings.Contains(r.out, `"acl"`) {
		t.Errorf("export --no-acl wrote ACLs:\n%s", r.out)
	}
	// A file without ACLs (older, or --no-acl) imports with the default.
	canopyIn(t, dst.URL, r.out, "import", "--into", "/plain", "-").ok(t)
	if got := aclOf(t, dst.URL, "/plain"); got != "world:anyone:cdrwa" {
		t.Errorf("a node imported without an ACL got %q", got)
	}
}

// A TLS server given by host:port with --cacert, and credentials from
// the environment, reach the server: https, and Basic on the request.
func TestTLSFlagsReachAnHTTPSServer(t *testing.T) {
	var gotAuth string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		user, pw, _ := r.BasicAuth()
		api.WriteJSON(w, 200, 0, api.WhoAmI{Authenticated: true, User: user,
			Identities: []api.Identity{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: api.Digest(user, pw)}}})
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	hostPort := strings.TrimPrefix(srv.URL, "https://")
	as(t, "alice", "secret")
	r := canopyAt(t, hostPort, "whoami", "--cacert", ca).ok(t)
	if r.out != "Auth scheme: User\nip: 127.0.0.1\ndigest: "+aliceID+"\n" || gotAuth != "Basic YWxpY2U6c2VjcmV0" {
		t.Errorf("whoami over TLS printed %q (Authorization %q)", r.out, gotAuth)
	}
	// Without the CA: refused at once, and said.
	as(t, "", "")
	r = canopyAt(t, srv.URL, "whoami")
	if r.code == 0 || !strings.Contains(r.err, "certificate") {
		t.Errorf("whoami against an untrusted certificate: exit %d, %s", r.code, r.err)
	}
	canopyAt(t, srv.URL, "whoami", "--cert", ca).fails(t, exitUsage) // no --key
	canopyAt(t, srv.URL, "whoami", "--cacert", filepath.Join(t.TempDir(), "none.pem")).fails(t, exitUsage)
}

func TestReadLineLeavesTheRestOfStdin(t *testing.T) {
	r := strings.NewReader("pw\r\ndata")
	line, err := readLine(r)
	rest := new(bytes.Buffer)
	rest.ReadFrom(r)
	if line != "pw" || err != nil || rest.String() != "data" {
		t.Fatalf("readLine = %q, %v; rest %q", line, err, rest)
	}
	if _, err := readLine(strings.NewReader("")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("readLine of nothing: %v", err)
	}
}

// tlsNode starts a node serving TLS with a certificate of ca, verifying
// client certificates of ca too; it returns the node and the CA's file.
func tlsNode(t *testing.T, ca *testkit.CA) (*testnode.Node, string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "server", "127.0.0.1")
	caFile := filepath.Join(dir, "ca.pem")
	testkit.WriteFile(t, caFile, ca.PEM)
	return testnode.Start(t, func(m *server.Main) { m.TLSCert, m.TLSKey, m.TLSClientCA = certFile, keyFile, caFile }), caFile
}

func TestCLIWorksOverTLS(t *testing.T) {
	as(t, "", "")
	nd, caFile := tlsNode(t, testkit.NewCA(t, "test CA"))
	hostPort := strings.TrimPrefix(nd.URL, "https://")
	canopyAt(t, hostPort, "create", "--cacert", caFile, "/a", "over TLS").ok(t)
	t.Setenv("CANOPY_CACERT", caFile)
	if r := canopyAt(t, nd.URL, "get", "/a").ok(t); r.out != "over TLS" {
		t.Errorf("get over TLS printed %q", r.out)
	}
	// A watch's WebSocket goes over wss.
	w := background(t, hostPort, "watch", "/a")
	testkit.WaitFor(t, 10*time.Second, "the watch to be live", func() bool { return strings.Contains(w.errOut.String(), "watching") })
	canopyAt(t, hostPort, "set", "/a", "again").ok(t)
	testkit.WaitFor(t, 10*time.Second, "the watch's event", func() bool { return strings.Contains(w.out.String(), "NodeDataChanged /a") })
	// Without the CA, the system's do not know the node's: refused at once.
	os.Unsetenv("CANOPY_CACERT")
	if r := canopyAt(t, nd.URL, "get", "/a"); r.code == 0 || !strings.Contains(r.err, "certificate") {
		t.Errorf("get without --cacert: exit %d, %s", r.code, r.err)
	}
}

func TestWhoAmIShowsTheClientCertificate(t *testing.T) {
	as(t, "", "")
	ca := testkit.NewCA(t, "test CA")
	nd, caFile := tlsNode(t, ca)
	dir := t.TempDir()
	cert, key := ca.IssueFiles(t, dir, "alice-cert")
	t.Setenv("CANOPY_CACERT", caFile)
	r := canopyAt(t, nd.URL, "whoami", "--cert", cert, "--key", key).ok(t)
	if !strings.Contains(r.out, "\nx509: CN=alice-cert,O=Canopy tests\n") {
		t.Errorf("whoami with a client certificate printed\n%s", r.out)
	}
	canopyAt(t, nd.URL, "create", "--cert", cert, "--key", key, "/x").ok(t)
	// An x509 id has commas, which zkCli's ACL list cannot carry: set it
	// through the client. zkCli's rendering escapes the DN's comma.
	c, err := client.New(client.Config{Servers: []string{nd.URL}, TLS: mustTLS(t, caFile, cert, key)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SetACL(ctxT(t), "/x", []api.ACL{{Scheme: "x509", ID: "CN=alice-cert,O=Canopy tests", Perms: api.PermAll}}, -1); err != nil {
		t.Fatal(err)
	}
	r = canopyAt(t, nd.URL, "getacl", "--cert", cert, "--key", key, "/x").ok(t)
	if r.out != "'x509,'CN=alice-cert%2CO=Canopy tests\n: cdrwa\n" {
		t.Errorf("getacl printed %q", r.out)
	}
	canopyAt(t, nd.URL, "getacl", "/x").fails(t, exitAuth)
}

func mustTLS(t *testing.T, ca, cert, key string) *tls.Config {
	t.Helper()
	cfg, err := (&authFlags{cacert: ca, cert: cert, keyPEM: key}).tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
