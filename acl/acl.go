// Package acl is ZooKeeper 3.8's access control, exactly: which perms an
// ACL gives a caller (ZooKeeperServer.checkACL and the authentication
// providers' matches), and which ACLs a create or setACL may set
// (PrepRequestProcessor.fixupACL and the providers' isValid). The state
// machine checks every write with it on the identity stamped into the
// command, the operation layer every read, the watch hub every event.
//
// An identity is "scheme:id", as commands carry it: "ip:127.0.0.1",
// "digest:alice:<base64 sha1>", "x509:CN=alice,O=Example", "super:".
package acl

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/canopy-coord/canopy/api"
)

// Super is the identity of the super user (--super-digest), who passes
// every check, as ZooKeeper's "super" auth id does.
const Super = "super:"

// IsSuper reports whether the identities hold the super user's.
func IsSuper(identity []string) bool {
	for _, id := range identity {
		if id == Super {
			return true
		}
	}
	return false
}

// Open reports whether list lets anyone do anything: the state machine
// stores such a list as nil, and skips its checks.
func Open(list []api.ACL) bool {
	return len(list) == 1 && list[0].Scheme == "world" && list[0].ID == "anyone" && list[0].Perms == api.PermAll
}

// Allowed reports whether a caller holding identity may do what perm
// names on a node whose ACL is list. An empty list allows everything, as
// in ZooKeeper; so does the super identity. perm may hold several bits:
// any one of them given suffices (ZooKeeper's getACL asks READ|ADMIN).
func Allowed(list []api.ACL, identity []string, perm api.Perms) bool {
	if len(list) == 0 {
		return true
	}
	for i := range list {
		a := &list[i]
		if a.Perms&perm == 0 {
			continue
		}
		if a.Scheme == "world" && a.ID == "anyone" {
			return true
		}
		for _, id := range identity {
			scheme, value, ok := strings.Cut(id, ":")
			if ok && scheme == a.Scheme && matches(scheme, value, a.ID) {
				return true
			}
		}
	}
	return IsSuper(identity)
}

// matches is the scheme's provider's matches(id, aclExpr).
func matches(scheme, id, expr string) bool {
	switch scheme {
	case "digest", "x509":
		return id == expr
	case "ip":
		return ipMatches(id, expr)
	}
	return false
}

// ipMatches is IPAuthenticationProvider.matches: the caller's address
// within the ACL's address masked to its bits (all of them when none).
func ipMatches(addr, expr string) bool {
	prefix, ok := parseIPExpr(expr)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.Is4() != prefix.Addr().Is4() {
		return false
	}
	return prefix.Contains(a)
}

// parseIPExpr reads addr[/bits], IPv4 or IPv6, as isValid accepts it.
func parseIPExpr(expr string) (netip.Prefix, bool) {
	host, bitsText, hasBits := strings.Cut(expr, "/")
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	bits := a.BitLen()
	if hasBits {
		n, err := strconv.Atoi(bitsText)
		if err != nil || n < 0 || n > a.BitLen() {
			return netip.Prefix{}, false
		}
		bits = n
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// Authenticated returns the identities a caller proved (all but ip): the
// ones an "auth" ACL expands to, and the ones a session belongs to.
func Authenticated(identity []string) []string {
	var out []string
	for _, id := range identity {
		scheme, _, _ := strings.Cut(id, ":")
		if scheme != "ip" && scheme != "world" && scheme != "" {
			out = append(out, id)
		}
	}
	return out
}

// Fixup validates an ACL a create or setACL asks for and returns the list
// to store: duplicates removed, and each "auth" entry replaced by one
// entry per authenticated identity of the caller with its perms. An empty
// list, an unknown scheme, a malformed id, or an "auth" entry from a
// caller with no authenticated identity is InvalidACL.
func Fixup(path string, list []api.ACL, identity []string) ([]api.ACL, *api.Error) {
	if len(list) == 0 {
		return nil, api.InvalidACL(path, "an ACL needs at least one entry")
	}
	out := make([]api.ACL, 0, len(list))
	add := func(a api.ACL) {
		for _, b := range out {
			if a == b {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range list {
		if a.Perms&^api.PermAll != 0 {
			return nil, api.InvalidACL(path, "perms %d are not a set of cdrwa", int32(a.Perms))
		}
		switch {
		case a.Scheme == "world" && a.ID == "anyone":
			add(a)
		case a.Scheme == "auth":
			ids := Authenticated(identity)
			if len(ids) == 0 {
				return nil, api.InvalidACL(path, "an auth ACL gives rights to the caller's authenticated identities, and this caller has none")
			}
			for _, id := range ids {
				scheme, value, _ := strings.Cut(id, ":")
				add(api.ACL{Scheme: scheme, ID: value, Perms: a.Perms})
			}
		default:
			if !valid(a.Scheme, a.ID) {
				return nil, api.InvalidACL(path, "%s is not a valid ACL: want world:anyone, auth:, digest:user:<base64 sha1>, ip:addr[/bits] or x509:<subject DN>", a.Scheme+":"+a.ID)
			}
			add(a)
		}
	}
	return out, nil
}

// valid is the provider's isValid for scheme.
func valid(scheme, id string) bool {
	switch scheme {
	case "digest":
		// DigestAuthenticationProvider: id.split(":") has two parts, Java's
		// split dropping trailing empty strings ("alice:" has one).
		parts := strings.Split(id, ":")
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		return len(parts) == 2
	case "ip":
		_, ok := parseIPExpr(id)
		return ok
	case "x509":
		return id != ""
	}
	return false
}

// Mask hides digest hashes from a caller without ADMIN, as ZooKeeper's
// getACL does: "alice:x".
func Mask(list []api.ACL) []api.ACL {
	out := make([]api.ACL, len(list))
	for i, a := range list {
		if a.Scheme == "digest" {
			if user, _, ok := strings.Cut(a.ID, ":"); ok {
				a.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}
