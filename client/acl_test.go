package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// as returns a client of url authenticated as user (anonymous for "").
func as(t testing.TB, url, user, password string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Servers: []string{url}, User: user, Password: password})
	check(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func aclString(acl []api.ACL) string {
	var s string
	for i, a := range acl {
		if i > 0 {
			s += ","
		}
		s += a.String()
	}
	return s
}

func TestACLsLetTheirDigestUserInAndKeepOthersOut(t *testing.T) {
	t.Parallel()
	url := testnode.Start(t).URL
	ctx := testCtx(t, 30*time.Second)
	alice := as(t, url, "alice", "secret")
	wrong := as(t, url, "alice", "guess")
	anon := as(t, url, "", "")
	acl := must(api.ParseACLList("digest:" + api.Digest("alice", "secret") + ":cdrwa,world:anyone:r"))

	_, st, err := alice.Create(ctx, "/a", []byte("v1"), &client.CreateOptions{ACL: acl})
	check(t, err)
	if st.Aversion != 0 {
		t.Fatalf("a new node's aversion is %d", st.Aversion)
	}
	res, err := alice.GetACL(ctx, "/a")
	check(t, err)
	if got, want := aclString(res.ACL), aclString(acl); got != want || res.Path != "/a" {
		t.Fatalf("GetACL = %s %q, want %q", res.Path, got, want)
	}

	// Reading is anyone's; writing alice's, with her password only.
	if nd, err := anon.Get(ctx, "/a"); err != nil || string(nd.Data) != "v1" {
		t.Fatalf("anonymous Get = %q, %v", nd.Data, err)
	}
	for name, c := range map[string]*client.Client{"anonymous": anon, "a wrong password": wrong} {
		if _, err := c.Set(ctx, "/a", []byte("x"), client.AnyVersion); !errors.Is(err, client.ErrNoAuth) {
			t.Errorf("Set by %s: %v, want ErrNoAuth", name, err)
		}
		if _, err := c.SetACL(ctx, "/a", api.OpenACL, client.AnyVersion); !errors.Is(err, client.ErrNoAuth) {
			t.Errorf("SetACL by %s: %v, want ErrNoAuth", name, err)
		}
	}
	if _, err := alice.Set(ctx, "/a", []byte("v2"), client.AnyVersion); err != nil {
		t.Fatalf("Set by alice: %v", err)
	}
	// Without ADMIN, digests come masked.
	res, err = anon.GetACL(ctx, "/a")
	check(t, err)
	if res.ACL[0].ID != "alice:x" {
		t.Errorf("anonymous GetACL shows %q, want the masked alice:x", res.ACL[0].ID)
	}

	// SetACL checks the ACL version and bumps it.
	if _, err := alice.SetACL(ctx, "/a", api.OpenACL, 7); !errors.Is(err, client.ErrBadVersion) {
		t.Fatalf("SetACL with a stale aversion: %v, want ErrBadVersion", err)
	}
	res, err = alice.SetACL(ctx, "/a", acl[:1], 0)
	check(t, err)
	if res.Stat.Aversion != 1 || aclString(res.ACL) != aclString(acl[:1]) {
		t.Fatalf("SetACL = %+v", res)
	}
	if _, err := anon.Get(ctx, "/a"); !errors.Is(err, client.ErrNoAuth) {
		t.Errorf("anonymous Get after world:anyone:r went: %v, want ErrNoAuth", err)
	}
	if _, err := alice.SetACL(ctx, "/a", nil, client.AnyVersion); !errors.Is(err, client.ErrInvalidACL) {
		t.Errorf("SetACL with no entry: %v, want ErrInvalidACL", err)
	}

	// A multi's creates carry their ACLs too.
	_, err = alice.Multi(ctx, client.CreateOp("/m", nil, &client.CreateOptions{ACL: acl[:1]}))
	check(t, err)
	if res, err := alice.GetACL(ctx, "/m"); err != nil || aclString(res.ACL) != aclString(acl[:1]) {
		t.Errorf("GetACL of a node a multi made = %+v, %v", res, err)
	}
	// A watch set over the WebSocket, whose upgrade carries alice's
	// credentials, reads what only alice may read.
	if nd, _, err := alice.GetW(ctx, "/m"); err != nil || nd.Path != "/m" {
		t.Errorf("GetW by alice = %+v, %v", nd, err)
	}
	if _, _, err := anon.GetW(ctx, "/m"); !errors.Is(err, client.ErrNoAuth) {
		t.Errorf("anonymous GetW: %v, want ErrNoAuth", err)
	}
}

func TestWhoAmIListsTheCallersIdentities(t *testing.T) {
	t.Parallel()
	url := testnode.Start(t).URL
	ctx := testCtx(t, 30*time.Second)
	who, err := as(t, url, "alice", "secret").WhoAmI(ctx)
	check(t, err)
	var digest, ip bool
	for _, id := range who.Identities {
		digest = digest || id == api.Identity{Scheme: "digest", ID: api.Digest("alice", "secret")}
		ip = ip || id == api.Identity{Scheme: "ip", ID: "127.0.0.1"}
	}
	if !digest || !ip || !who.Authenticated || who.User != "alice" || who.Super {
		t.Errorf("WhoAmI as alice = %+v", who)
	}
	who, err = as(t, url, "", "").WhoAmI(ctx)
	check(t, err)
	if who.Authenticated || who.User != "" || len(who.Identities) != 1 || who.Identities[0].Scheme != "ip" {
		t.Errorf("WhoAmI anonymous = %+v", who)
	}
}
