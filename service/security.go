package service

import (
	"context"
	"crypto/subtle"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Security is the access control in force (DESIGN §9).
type Security struct {
	// AuthRequired refuses anonymous callers (AuthFailed), and makes
	// creator-all the ACL of a create that names none.
	AuthRequired bool
	// SuperDigest is "super:<base64 sha1>": the digest identity that
	// passes every check. It also guards the cluster's administration
	// (members, backup, restore).
	SuperDigest string
	// Audit receives one record per write, session event and
	// authentication; nil records nothing.
	Audit Auditor
	// NoAuthLimit is how many NoAuth answers one client may get in a
	// minute before it is answered Throttled (guess.go); 0 is
	// DefaultNoAuthLimit, negative none.
	NoAuthLimit int
}

// Auditor writes the audit log (DESIGN §9).
type Auditor interface {
	Record(AuditRecord)
}

// AuditRecord is one audited event. It never holds a password.
type AuditRecord struct {
	Time     time.Time
	Zxid     int64
	Identity []string
	Client   string
	Session  api.ID
	Op       string
	Path     string
	Result   string // "success" or the error code
}

// Caller is who makes a request: every identity it holds (ip first) and
// where it connects from. Transports authenticate it once (Authenticate)
// and carry it in the request's context (WithCaller).
type Caller struct {
	Identity []string
	Addr     string // the client's IP address
	User     string // the digest user ("" is a user name too, as in ZooKeeper)
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller ctx carries: none is an internal caller with
// no identity (the leader's own work, tests of the layer alone).
func CallerOf(ctx context.Context) Caller {
	switch c := ctx.Value(callerKey{}).(type) {
	case Caller:
		return c
	case *callerSlot:
		return c.caller
	}
	return Caller{}
}

// callerSlot is a place for a request's caller, made before the caller is
// known, so that a transport gives its request one context, not two (each
// http.Request.WithContext copies the request).
type callerSlot struct{ caller Caller }

// WithCallerSlot returns ctx with an empty place for the caller, which
// SetCaller fills.
func WithCallerSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerKey{}, &callerSlot{})
}

// SetCaller fills ctx's place for the caller (WithCallerSlot), before any
// operation reads it; false when ctx has none.
func SetCaller(ctx context.Context, c Caller) bool {
	slot, ok := ctx.Value(callerKey{}).(*callerSlot)
	if ok {
		slot.caller = c
	}
	return ok
}

// Credentials are what a caller presents: a user and password (HTTP Basic,
// ZooKeeper's addauth digest), verified certificate subjects, or nothing.
type Credentials struct {
	User, Password string
	HasPassword    bool
	// Digest is a digest identity (user:<base64 sha1>) the transport has
	// already verified the password of (a browser's login cookie).
	Digest string
	// X509 are the subject DNs of the verified client certificate chain's
	// leaf (one, in practice).
	X509 []string
}

// Authenticate turns credentials presented from remote (host:port or an
// address) into a Caller: ip:<addr> always, digest:user:<hash> for a user
// and password (there is no user store: a wrong password is just another
// identity), x509:<DN> per verified certificate, super: for the super
// digest. Anonymous callers are AuthFailed where authentication is
// required.
func (s *Service) Authenticate(remote string, cred Credentials) (Caller, error) {
	c := Caller{Addr: clientIP(remote)}
	if c.Addr != "" {
		c.Identity = append(c.Identity, "ip:"+c.Addr)
	}
	if cred.HasPassword {
		if strings.ContainsRune(cred.User, ':') {
			return c, api.AuthFailed("a digest user name holds no ':'")
		}
		digest := api.Digest(cred.User, cred.Password)
		c.Identity = append(c.Identity, "digest:"+digest)
		c.User = cred.User
		if sd := s.security.SuperDigest; sd != "" && subtle.ConstantTimeCompare([]byte(digest), []byte(sd)) == 1 {
			c.Identity = append(c.Identity, acl.Super)
		}
	}
	if cred.Digest != "" && !cred.HasPassword {
		user, _, _ := strings.Cut(cred.Digest, ":")
		c.Identity = append(c.Identity, "digest:"+cred.Digest)
		c.User = user
		if sd := s.security.SuperDigest; sd != "" && subtle.ConstantTimeCompare([]byte(cred.Digest), []byte(sd)) == 1 {
			c.Identity = append(c.Identity, acl.Super)
		}
	}
	for _, dn := range cred.X509 {
		c.Identity = append(c.Identity, "x509:"+dn)
	}
	if s.security.AuthRequired && len(acl.Authenticated(c.Identity)) == 0 {
		return c, api.AuthFailed("authentication is required: send HTTP Basic credentials or a client certificate")
	}
	return c, nil
}

// clientIP is the address part of host:port (or an address alone).
func clientIP(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return host
}

// SecurityConfig returns the access control in force.
func (s *Service) SecurityConfig() Security { return s.security }

// WhoAmI lists the caller's identities, as ZooKeeper's whoAmI does.
func (s *Service) WhoAmI(ctx context.Context) api.WhoAmI {
	c := CallerOf(ctx)
	w := api.WhoAmI{Identities: []api.Identity{}, User: c.User, Super: acl.IsSuper(c.Identity)}
	for _, id := range c.Identity {
		if i, err := api.ParseIdentity(id); err == nil {
			w.Identities = append(w.Identities, i)
		}
	}
	w.Authenticated = len(acl.Authenticated(c.Identity)) > 0
	return w
}

// Admin refuses a cluster administration request (members, backup,
// restore) from anyone but the super user, once a super digest is set.
func (s *Service) Admin(ctx context.Context) error {
	if s.security.SuperDigest == "" && !s.security.AuthRequired {
		return nil
	}
	if acl.IsSuper(CallerOf(ctx).Identity) {
		return nil
	}
	return api.Errorf(api.CodeNoAuth, "", "cluster administration needs the super user (--super-digest)")
}

// createACL is the ACL a create asks for: the caller's, or the default
// (DESIGN §9): creator-all where authentication is required, else
// world:anyone:cdrwa. An empty list, a malformed one, or "auth" from an
// anonymous caller is InvalidACL, before anything is proposed.
func (s *Service) createACL(ctx context.Context, path string, list []api.ACL) ([]api.ACL, error) {
	if list == nil {
		if s.security.AuthRequired {
			list = api.CreatorAllACL
		} else {
			return nil, nil
		}
	}
	if _, err := acl.Fixup(path, list, CallerOf(ctx).Identity); err != nil {
		return nil, err
	}
	return list, nil
}

// GetACL reads a node's ACL and stat: READ or ADMIN needed, as in
// ZooKeeper 3.8; digests are masked for a caller without ADMIN.
func (s *Service) GetACL(ctx context.Context, path string, c Consistency) (api.ACLResult, int64, error) {
	if err := s.readable(ctx, path, c); err != nil {
		return api.ACLResult{}, s.node.Applied(), err
	}
	identity := CallerOf(ctx).Identity
	var out api.ACLResult
	var zxid int64
	var err error
	s.node.Tree().Read(func(r fsm.Reader) {
		var list []api.ACL
		var stat api.Stat
		if list, stat, zxid, err = r.ACL(path); err != nil {
			return
		}
		if !acl.Allowed(list, identity, api.PermRead|api.PermAdmin) {
			err = api.NoAuth(path, api.PermRead)
			return
		}
		if !acl.Allowed(list, identity, api.PermAdmin) {
			list = acl.Mask(list)
		}
		out = api.ACLResult{Path: path, ACL: list, Stat: stat}
	})
	return out, zxid, err
}

// SetACLRequest replaces a node's ACL; AVersion nil (or -1) matches any.
type SetACLRequest struct {
	Path     string
	ACL      []api.ACL
	AVersion *int64
}

// SetACL replaces a node's ACL (ADMIN needed) and returns it as stored,
// with the node's stat.
func (s *Service) SetACL(ctx context.Context, req SetACLRequest) (api.ACLResult, int64, error) {
	cmd := fsm.Command{Op: fsm.OpSetACL, Path: req.Path, ACL: req.ACL}
	var err error
	if cmd.Version, err = version(req.Path, req.AVersion); err != nil {
		return api.ACLResult{}, s.node.Applied(), err
	}
	if err := s.CheckPath(req.Path); err != nil {
		return api.ACLResult{}, s.node.Applied(), err
	}
	if req.ACL == nil {
		req.ACL = []api.ACL{}
	}
	fixed, aerr := acl.Fixup(req.Path, req.ACL, CallerOf(ctx).Identity)
	if aerr != nil {
		return api.ACLResult{}, s.node.Applied(), aerr
	}
	res, zxid, err := s.propose(ctx, &cmd)
	if err != nil {
		return api.ACLResult{}, zxid, err
	}
	return api.ACLResult{Path: req.Path, ACL: fixed, Stat: *res.Stat}, zxid, nil
}

// checkSession refuses a session that belongs to another identity; a
// session this node has not seen yet is the leader's to judge.
func (s *Service) checkSession(ctx context.Context, id api.ID) error {
	if err := s.node.Tree().SessionAllows(id, CallerOf(ctx).Identity); api.CodeOf(err) == api.CodeNoAuth {
		return err
	}
	return nil
}

// audit records one event for the caller in ctx.
func (s *Service) audit(ctx context.Context, op, path string, session api.ID, zxid int64, err error) {
	if s.security.Audit == nil {
		return
	}
	c := CallerOf(ctx)
	result := "success"
	if err != nil {
		result = string(api.CodeOf(err))
	}
	s.security.Audit.Record(AuditRecord{
		Time: time.Now(), Zxid: zxid, Identity: c.Identity, Client: c.Addr,
		Session: session, Op: op, Path: path, Result: result,
	})
}

// AuditAuth records an authentication (a login, a WebSocket's or an
// event stream's start, a refusal) for transports.
func (s *Service) AuditAuth(ctx context.Context, c Caller, err error) {
	s.audit(WithCaller(ctx, c), "auth", "", 0, s.node.Applied(), err)
}

// checkEphemeral refuses an ephemeral past --max-ephemerals-per-session.
func (s *Service) checkEphemeral(path string, session api.ID) error {
	if max := s.limits.MaxEphemeralsPerSession; max > 0 && s.node.Tree().SessionEphemerals(session) >= max {
		return api.Errorf(api.CodeQuotaExceeded, path, "session %s already owns %d ephemerals, the limit", session, max)
	}
	return nil
}

// checkTreeBytes refuses a write that would add data past --max-tree-bytes.
func (s *Service) checkTreeBytes(path string, adding int) error {
	if max := s.limits.MaxTreeBytes; max > 0 && adding > 0 && s.node.Tree().DataBytes()+int64(adding) > max {
		return api.Errorf(api.CodeQuotaExceeded, path, "the tree holds %d bytes of data, and the limit is %d: delete to make room", s.node.Tree().DataBytes(), max)
	}
	return nil
}

// checkSessions refuses a session past --max-sessions-per-client.
func (s *Service) checkSessions(ctx context.Context) error {
	addr := CallerOf(ctx).Addr
	if max := s.limits.MaxSessionsPerClient; max > 0 && addr != "" && s.node.Tree().SessionsFrom(addr) >= max {
		return api.Errorf(api.CodeThrottled, "", "client %s already holds %d open sessions, the limit", addr, max)
	}
	return nil
}
