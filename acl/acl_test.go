package acl_test

import (
	"reflect"
	"testing"

	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
)

var (
	alice = "digest:" + api.Digest("alice", "secret")
	bob   = "digest:" + api.Digest("bob", "hunter2")
)

func TestDigestIsZooKeepers(t *testing.T) {
	// ZooKeeper's DigestAuthenticationProvider.generateDigest("super:test"),
	// as its documentation gives it.
	if got, want := api.Digest("super", "test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU="; got != want {
		t.Fatalf("Digest(super, test) = %q, want %q", got, want)
	}
}

func TestAllowed(t *testing.T) {
	aliceID := api.Digest("alice", "secret")
	for _, tc := range []struct {
		name     string
		list     []api.ACL
		identity []string
		perm     api.Perms
		want     bool
	}{
		{"empty list allows", nil, nil, api.PermAdmin, true},
		{"world anyone", api.OpenACL, nil, api.PermRead, true},
		{"world anyone without the perm", []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermRead}}, nil, api.PermWrite, false},
		{"digest match", []api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}}, []string{"ip:127.0.0.1", alice}, api.PermWrite, true},
		{"digest other user", []api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}}, []string{bob}, api.PermWrite, false},
		{"digest wrong password", []api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}}, []string{"digest:" + api.Digest("alice", "guess")}, api.PermRead, false},
		{"anonymous", []api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}}, []string{"ip:127.0.0.1"}, api.PermRead, false},
		{"super", []api.ACL{{Scheme: "digest", ID: aliceID, Perms: 0}}, []string{acl.Super}, api.PermAdmin, true},
		{"ip exact", []api.ACL{{Scheme: "ip", ID: "127.0.0.1", Perms: api.PermRead}}, []string{"ip:127.0.0.1"}, api.PermRead, true},
		{"ip other", []api.ACL{{Scheme: "ip", ID: "127.0.0.1", Perms: api.PermRead}}, []string{"ip:127.0.0.2"}, api.PermRead, false},
		{"ip network", []api.ACL{{Scheme: "ip", ID: "10.1.0.0/16", Perms: api.PermRead}}, []string{"ip:10.1.200.3"}, api.PermRead, true},
		{"ip with leading zeros", []api.ACL{{Scheme: "ip", ID: "127.0.0.01", Perms: api.PermRead}}, []string{"ip:127.0.0.1"}, api.PermRead, true},
		{"ip outside network", []api.ACL{{Scheme: "ip", ID: "10.1.0.0/16", Perms: api.PermRead}}, []string{"ip:10.2.0.1"}, api.PermRead, false},
		{"ip /0", []api.ACL{{Scheme: "ip", ID: "0.0.0.0/0", Perms: api.PermRead}}, []string{"ip:192.0.2.1"}, api.PermRead, true},
		{"ipv6", []api.ACL{{Scheme: "ip", ID: "::1", Perms: api.PermRead}}, []string{"ip:::1"}, api.PermRead, true},
		{"ipv6 network", []api.ACL{{Scheme: "ip", ID: "fd00::/8", Perms: api.PermRead}}, []string{"ip:fd12::5"}, api.PermRead, true},
		{"ipv4 client, ipv6 acl", []api.ACL{{Scheme: "ip", ID: "::/0", Perms: api.PermRead}}, []string{"ip:127.0.0.1"}, api.PermRead, false},
		{"x509", []api.ACL{{Scheme: "x509", ID: "CN=alice,O=Example", Perms: api.PermRead}}, []string{"x509:CN=alice,O=Example"}, api.PermRead, true},
		{"x509 other", []api.ACL{{Scheme: "x509", ID: "CN=alice,O=Example", Perms: api.PermRead}}, []string{"x509:CN=bob,O=Example"}, api.PermRead, false},
		{"scheme must match", []api.ACL{{Scheme: "x509", ID: aliceID, Perms: api.PermRead}}, []string{alice}, api.PermRead, false},
		{"any of several perms", []api.ACL{{Scheme: "world", ID: "anyone", Perms: api.PermAdmin}}, nil, api.PermRead | api.PermAdmin, true},
	} {
		if got := acl.Allowed(tc.list, tc.identity, tc.perm); got != tc.want {
			t.Errorf("%s: Allowed(%v, %v, %s) = %v, want %v", tc.name, tc.list, tc.identity, tc.perm, got, tc.want)
		}
	}
}

func TestFixup(t *testing.T) {
	aliceID := api.Digest("alice", "secret")
	for _, tc := range []struct {
		name     string
		list     []api.ACL
		identity []string
		want     []api.ACL // nil: InvalidACL
	}{
		{"open", api.OpenACL, nil, api.OpenACL},
		{"empty", []api.ACL{}, []string{alice}, nil},
		{"auth expands to the authenticated ids, not ip",
			[]api.ACL{{Scheme: "auth", Perms: api.PermAll}}, []string{"ip:127.0.0.1", alice, "x509:CN=a"},
			[]api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}, {Scheme: "x509", ID: "CN=a", Perms: api.PermAll}}},
		{"auth from an anonymous caller", []api.ACL{{Scheme: "auth", Perms: api.PermAll}}, []string{"ip:127.0.0.1"}, nil},
		{"duplicates removed", []api.ACL{api.OpenACL[0], api.OpenACL[0]}, nil, api.OpenACL},
		// ZooKeeper removes duplicates before it expands auth, not after.
		{"auth may repeat a named entry",
			[]api.ACL{{Scheme: "auth", Perms: api.PermAll}, {Scheme: "digest", ID: aliceID, Perms: api.PermAll}}, []string{alice},
			[]api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}, {Scheme: "digest", ID: aliceID, Perms: api.PermAll}}},
		{"auth skips super", []api.ACL{{Scheme: "auth", Perms: api.PermAll}}, []string{"digest:super:x", acl.Super},
			[]api.ACL{{Scheme: "digest", ID: "super:x", Perms: api.PermAll}}},
		{"ip with leading zeros", []api.ACL{{Scheme: "ip", ID: "1.2.3.04", Perms: api.PermRead}}, nil, []api.ACL{{Scheme: "ip", ID: "1.2.3.04", Perms: api.PermRead}}},
		{"world other id", []api.ACL{{Scheme: "world", ID: "someone", Perms: api.PermRead}}, nil, nil},
		{"unknown scheme", []api.ACL{{Scheme: "sasl", ID: "alice", Perms: api.PermRead}}, nil, nil},
		{"digest without hash", []api.ACL{{Scheme: "digest", ID: "alice", Perms: api.PermRead}}, nil, nil},
		{"digest with empty hash", []api.ACL{{Scheme: "digest", ID: "alice:", Perms: api.PermRead}}, nil, nil},
		{"digest of three parts", []api.ACL{{Scheme: "digest", ID: "a:b:c", Perms: api.PermRead}}, nil, nil},
		{"ip bad", []api.ACL{{Scheme: "ip", ID: "10.0.0.256", Perms: api.PermRead}}, nil, nil},
		{"ip bad bits", []api.ACL{{Scheme: "ip", ID: "10.0.0.0/33", Perms: api.PermRead}}, nil, nil},
		{"ip network", []api.ACL{{Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermRead}}, nil, []api.ACL{{Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermRead}}},
		{"perms past cdrwa", []api.ACL{{Scheme: "world", ID: "anyone", Perms: 64}}, nil, nil},
	} {
		got, err := acl.Fixup("/p", tc.list, tc.identity)
		switch {
		case tc.want == nil && (err == nil || err.Code != api.CodeInvalidACL):
			t.Errorf("%s: Fixup = %v, %v; want InvalidACL", tc.name, got, err)
		case tc.want != nil && (err != nil || !reflect.DeepEqual(got, tc.want)):
			t.Errorf("%s: Fixup = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestMaskHidesDigestHashesOnly(t *testing.T) {
	in := []api.ACL{{Scheme: "digest", ID: api.Digest("alice", "x"), Perms: api.PermAll}, {Scheme: "ip", ID: "10.0.0.1", Perms: api.PermRead}}
	got := acl.Mask(in)
	want := []api.ACL{{Scheme: "digest", ID: "alice:x", Perms: api.PermAll}, in[1]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Mask = %v, want %v", got, want)
	}
	if in[0].ID == "alice:x" {
		t.Fatal("Mask changed its input")
	}
}

func TestParseACL(t *testing.T) {
	for in, want := range map[string]api.ACL{
		"world:anyone:cdrwa":  {Scheme: "world", ID: "anyone", Perms: api.PermAll},
		"digest:alice:abc=:r": {Scheme: "digest", ID: "alice:abc=", Perms: api.PermRead},
		"ip:::1:rw":           {Scheme: "ip", ID: "::1", Perms: api.PermRead | api.PermWrite},
		"auth::31":            {Scheme: "auth", ID: "", Perms: api.PermAll},
		"ip:10.0.0.0/8:0x1":   {Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermRead},
		"world:anyone:":       {Scheme: "world", ID: "anyone", Perms: 0},
	} {
		got, err := api.ParseACL(in)
		if err != nil || got != want {
			t.Errorf("ParseACL(%q) = %v, %v; want %v", in, got, err, want)
		}
		if again, err := api.ParseACL(got.String()); err != nil || again != got {
			t.Errorf("ParseACL(%q.String()) = %v, %v", in, again, err)
		}
	}
	for _, bad := range []string{"", "world", "world:anyone", "world:anyone:x", "world:anyone:rr", "world:anyone:99"} {
		if a, err := api.ParseACL(bad); err == nil {
			t.Errorf("ParseACL(%q) = %v, want an error", bad, a)
		} else if api.CodeOf(err) != api.CodeInvalidACL {
			t.Errorf("ParseACL(%q): %v, want InvalidACL", bad, err)
		}
	}
}

// FuzzParseACL: any string parses or is InvalidACL, never a panic; what
// parses prints back to itself, and Fixup decides it without a panic.
func FuzzParseACL(f *testing.F) {
	for _, s := range []string{"world:anyone:cdrwa", "digest:alice:x=:r", "ip:::1/64:31", "auth::a", "ip:10.0.0.0/8:rw", "x509:CN=a,O=b:r", ":::"} {
		f.Add(s, "digest:alice:x=")
	}
	f.Fuzz(func(t *testing.T, s, identity string) {
		a, err := api.ParseACL(s)
		if err != nil {
			if api.CodeOf(err) != api.CodeInvalidACL {
				t.Fatalf("ParseACL(%q): %v, not InvalidACL", s, err)
			}
			return
		}
		again, err := api.ParseACL(a.String())
		if err != nil || again != a {
			t.Fatalf("ParseACL(%q) = %v, which prints as %q and parses as %v, %v", s, a, a.String(), again, err)
		}
		if fixed, ferr := acl.Fixup("/p", []api.ACL{a}, []string{identity}); ferr == nil {
			acl.Allowed(fixed, []string{identity, "ip:127.0.0.1"}, api.PermAll)
		}
	})
}

// BenchmarkAllowed is the cost of one check as the state machine and the
// read path make it: an open node (nil list, no look), a digest ACL that
// names the caller, and one that names someone else with an ip entry.
func BenchmarkAllowed(b *testing.B) {
	aliceID := api.Digest("alice", "secret")
	identity := []string{"ip:127.0.0.1", alice}
	for _, bc := range []struct {
		name string
		list []api.ACL
	}{
		{"open", nil},
		{"digest-match", []api.ACL{{Scheme: "digest", ID: aliceID, Perms: api.PermAll}}},
		{"digest-and-ip-miss", []api.ACL{{Scheme: "digest", ID: "bob:x", Perms: api.PermAll}, {Scheme: "ip", ID: "10.0.0.0/8", Perms: api.PermRead}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				acl.Allowed(bc.list, identity, api.PermRead)
			}
		})
	}
}
