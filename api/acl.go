package api

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Perms is a set of ZooKeeper permissions (ZooDefs.Perms): the bits are
// ZooKeeper's, so 0x1f is all of them. In JSON it is the letters zkCli
// prints, in its order: "cdrwa".
type Perms int32

const (
	PermRead   Perms = 1 << 0
	PermWrite  Perms = 1 << 1
	PermCreate Perms = 1 << 2
	PermDelete Perms = 1 << 3
	PermAdmin  Perms = 1 << 4
	PermAll    Perms = 0x1f
)

// permLetters are zkCli's, in its order.
var permLetters = [...]struct {
	letter byte
	perm   Perms
}{{'c', PermCreate}, {'d', PermDelete}, {'r', PermRead}, {'w', PermWrite}, {'a', PermAdmin}}

func (p Perms) String() string {
	var b strings.Builder
	for _, l := range permLetters {
		if p&l.perm != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

// ParsePerms reads perms as zkCli writes them ("cdrwa", any order, each
// letter once; "" is none) or as a number (ZooKeeper's bits, "31" or
// "0x1f").
func ParsePerms(s string) (Perms, error) {
	if s == "" {
		return 0, nil
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.ParseInt(s, 0, 32)
		if err != nil || n < 0 || n > int64(PermAll) {
			return 0, Errorf(CodeInvalidACL, "", "perms %q: want letters of cdrwa or a number from 0 to 31", s)
		}
		return Perms(n), nil
	}
	var p Perms
	for i := 0; i < len(s); i++ {
		found := false
		for _, l := range permLetters {
			if s[i] == l.letter {
				if p&l.perm != 0 {
					return 0, Errorf(CodeInvalidACL, "", "perms %q name %c twice", s, s[i])
				}
				p |= l.perm
				found = true
			}
		}
		if !found {
			return 0, Errorf(CodeInvalidACL, "", "perms %q: %q is not one of cdrwa", s, s[i])
		}
	}
	return p, nil
}

// MarshalJSON writes the letters.
func (p Perms) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads letters or a number (31, as ZooKeeper's records have it).
func (p *Perms) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		if n < 0 || n > int64(PermAll) {
			return Errorf(CodeInvalidACL, "", "perms %d: want a number from 0 to 31", n)
		}
		*p = Perms(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(CodeInvalidACL, "", "perms must be letters of cdrwa or a number")
	}
	v, err := ParsePerms(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ACL is one entry of a node's access list (DESIGN §9):
// {"scheme": "digest", "id": "alice:<base64 sha1>", "perms": "cdrwa"}.
type ACL struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Perms  Perms  `json:"perms"`
}

// String is zkCli's form, scheme:id:perms.
func (a ACL) String() string { return a.Scheme + ":" + a.ID + ":" + a.Perms.String() }

// OpenACL is ZooKeeper's OPEN_ACL_UNSAFE: anyone may do anything.
var OpenACL = []ACL{{Scheme: "world", ID: "anyone", Perms: PermAll}}

// CreatorAllACL is ZooKeeper's CREATOR_ALL_ACL: every authenticated
// identity of the creator gets all perms.
var CreatorAllACL = []ACL{{Scheme: "auth", ID: "", Perms: PermAll}}

// ParseACL reads zkCli's scheme:id:perms. The id runs from the first colon
// to the last, so digest ids (alice:hash) and IPv6 addresses keep theirs.
func ParseACL(s string) (ACL, error) {
	first, last := strings.IndexByte(s, ':'), strings.LastIndexByte(s, ':')
	if first < 0 || first == last {
		return ACL{}, Errorf(CodeInvalidACL, "", "ACL %q: want scheme:id:perms, e.g. world:anyone:cdrwa", s)
	}
	perms, err := ParsePerms(s[last+1:])
	if err != nil {
		return ACL{}, err
	}
	return ACL{Scheme: s[:first], ID: s[first+1 : last], Perms: perms}, nil
}

// ParseACLList reads a comma-separated list, zkCli's setAcl syntax.
func ParseACLList(s string) ([]ACL, error) {
	var out []ACL
	for _, item := range strings.Split(s, ",") {
		a, err := ParseACL(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Digest is the digest scheme's id for a user and password, as ZooKeeper's
// DigestAuthenticationProvider computes it: user:base64(sha1(user:password)).
func Digest(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Identity is one identity a caller holds: ip:127.0.0.1 for every caller,
// digest:alice:<hash> after HTTP Basic (or addauth), x509:<subject DN> from
// a verified client certificate, super: for the super user.
type Identity struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

func (i Identity) String() string { return i.Scheme + ":" + i.ID }

// ParseIdentity reads scheme:id.
func ParseIdentity(s string) (Identity, error) {
	scheme, id, ok := strings.Cut(s, ":")
	if !ok || scheme == "" {
		return Identity{}, fmt.Errorf("identity %q: want scheme:id", s)
	}
	return Identity{Scheme: scheme, ID: id}, nil
}

// ACLResult is the body of GET /v1/acl/{path} and the WebSocket getACL
// answer; PUT /v1/acl/{path} answers the same with the new ACL and stat.
type ACLResult struct {
	Path string `json:"path"`
	ACL  []ACL  `json:"acl"`
	Stat Stat   `json:"stat"`
}

// SetACLRequest is the body of PUT /v1/acl/{path}.
type SetACLRequest struct {
	ACL []ACL `json:"acl"`
}

// WhoAmI is the body of GET /v1/whoami: every identity the request
// carries, as ZooKeeper's whoAmI lists them.
type WhoAmI struct {
	Identities    []Identity `json:"identities"`
	Authenticated bool       `json:"authenticated"`
	Super         bool       `json:"super"`
	// User is the digest user name, when there is one.
	User string `json:"user,omitempty"`
}
