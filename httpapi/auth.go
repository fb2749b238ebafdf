package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
	"github.com/canopy-coord/canopy/service"
)

// Authentication (DESIGN §9): every request is authenticated once, here,
// and carries its caller (service.Caller) in its context; the operation
// layer and the state machine check ACLs on it. Credentials are HTTP Basic
// (the digest identity), a verified client certificate (x509), or the
// browser's login cookie, which stands for Basic credentials checked at
// login.

const (
	cookiePrefix = "canopy_auth"
	cookieLife   = 12 * time.Hour
)

// openPaths never need credentials, even with --auth-required: probes,
// the UI's files (its login form asks for them) and the contract.
func (s *Server) openPath(p string) bool {
	switch {
	case p == "/healthz", p == "/readyz", p == "/", p == "/ui", p == "/openapi.yaml":
		return true
	case strings.HasPrefix(p, "/ui/"):
		return true
	case p == "/metrics":
		return !s.cfg.MetricsAuth
	}
	return false
}

// authenticate reads the request's credentials and puts its caller in the
// context. A malformed Authorization header is 401 AuthFailed everywhere;
// an anonymous request is 401 where authentication is required, except on
// the open paths.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get(cluster.TokenHeader); tok != "" {
			s.authenticateNode(w, r, next, tok)
			return
		}
		cred, malformed := s.credentials(r)
		if malformed != nil {
			cred = service.Credentials{} // who failed, for the audit: the address alone
		}
		caller, err := s.svc.Authenticate(r.RemoteAddr, cred)
		anonymous := !cred.HasPassword && cred.Digest == "" && len(cred.X509) == 0
		switch {
		case malformed != nil:
			err = malformed // refused everywhere
		case err != nil && anonymous && s.openPath(r.URL.Path):
			err = nil // probes, the UI's files and the contract need no credentials
		}
		if err != nil {
			s.svc.AuditAuth(r.Context(), caller, err)
			challenge(w, r)
			writeError(w, s.svc.Applied(), err)
			return
		}
		serveAs(next, w, r, caller)
	})
}

// serveAs serves the request as caller: into the context's caller slot
// when requestID made one, else in a new context.
func serveAs(next http.Handler, w http.ResponseWriter, r *http.Request, caller service.Caller) {
	if !service.SetCaller(r.Context(), caller) {
		r = r.WithContext(service.WithCaller(r.Context(), caller))
	}
	next.ServeHTTP(w, r)
}

// authenticateNode admits another node of the cluster, by the cluster
// token its calls carry, as the super user: it forwards commands whose
// callers it has authenticated itself, and membership changes it has
// checked. A wrong token is 401.
func (s *Server) authenticateNode(w http.ResponseWriter, r *http.Request, next http.Handler, token string) {
	caller, _ := s.svc.Authenticate(r.RemoteAddr, service.Credentials{})
	if want := s.cfg.ClusterToken; want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		err := api.AuthFailed("wrong cluster token (--cluster-token-file)")
		s.svc.AuditAuth(r.Context(), caller, err)
		writeError(w, s.svc.Applied(), err)
		return
	}
	caller.Identity = append(caller.Identity, acl.Super)
	serveAs(next, w, r, caller)
}

// challenge asks for Basic credentials (WWW-Authenticate), except of a
// script in a browser page (Sec-Fetch-Mode other than navigate): there
// the challenge would open the browser's own password box over the
// page's login form.
func challenge(w http.ResponseWriter, r *http.Request) {
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="canopy", charset="UTF-8"`)
}

// cookieName is the login cookie's name for the node the request reached:
// browsers scope cookies by host, not port, and each node signs its own,
// so nodes on one host must not share one.
func cookieName(r *http.Request) string {
	h := fnv.New32a()
	h.Write([]byte(r.Host))
	return fmt.Sprintf("%s_%08x", cookiePrefix, h.Sum32())
}

// credentials reads Basic credentials, else the login cookie, and the
// verified client certificate.
func (s *Server) credentials(r *http.Request) (service.Credentials, error) {
	var cred service.Credentials
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cred.X509 = []string{r.TLS.VerifiedChains[0][0].Subject.String()}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		user, password, ok := parseBasic(h)
		if !ok {
			return cred, api.AuthFailed("malformed Authorization header: want Basic base64(user:password)")
		}
		cred.User, cred.Password, cred.HasPassword = user, password, true
		return cred, nil
	}
	if c, err := r.Cookie(cookieName(r)); err == nil {
		if digest, ok := s.logins.verify(c.Value); ok {
			cred.Digest = digest
		}
	}
	return cred, nil
}

// parseBasic reads "Basic base64(user:password)"; the scheme's name is
// case-insensitive (RFC 7617).
func parseBasic(h string) (user, password string, ok bool) {
	scheme, token, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", "", false
	}
	user, password, found = strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	return user, password, true // an empty user name is one, as in ZooKeeper
}

// login answers POST /v1/login: Basic credentials in, a signed cookie out
// that stands for them (never holding the password), for browsers, which
// cannot set headers on a WebSocket or an EventSource.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	caller := service.CallerOf(r.Context())
	if firstWithPrefix(caller.Identity, "digest:") == "" {
		challenge(w, r)
		writeError(w, s.svc.Applied(), api.AuthFailed("log in with HTTP Basic credentials"))
		return
	}
	digest := strings.TrimPrefix(firstWithPrefix(caller.Identity, "digest:"), "digest:")
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: s.logins.sign(digest, time.Now().Add(cookieLife)), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(cookieLife.Seconds()),
	})
	s.svc.AuditAuth(r.Context(), caller, nil)
	writeJSON(w, http.StatusOK, s.svc.Applied(), s.svc.WhoAmI(r.Context()))
}

// logout clears the login cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Applied(), s.svc.WhoAmI(r.Context()))
}

func firstWithPrefix(ids []string, prefix string) string {
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			return id
		}
	}
	return ""
}

// logins signs login cookies with a key of this process: a restart, or
// another node, asks the browser to log in again.
type logins struct{ key []byte }

func newLogins() *logins {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("no randomness for the login key: " + err.Error())
	}
	return &logins{key: key}
}

func (l *logins) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write(payload)
	return m.Sum(nil)
}

// sign returns a token for the digest identity (user:hash) until expiry.
func (l *logins) sign(digest string, expiry time.Time) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(expiry.Unix()))
	payload = append(payload, digest...)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(l.mac(payload))
}

// verify returns the digest identity a token stands for, if it is ours and
// current.
func (l *logins) verify(token string) (string, bool) {
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) < 9 || !hmac.Equal(mac, l.mac(payload)) {
		return "", false
	}
	if time.Now().Unix() > int64(binary.BigEndian.Uint64(payload)) {
		return "", false
	}
	return string(payload[8:]), true
}

// limitGuesses answers 429 to a client the operation layer's guess limit
// holds back (service.GuessLimit), and counts its NoAuth answers.
func (s *Server) limitGuesses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := service.CallerOf(r.Context())
		if wait := s.svc.GuessWait(caller); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, s.svc.Applied(), api.Errorf(api.CodeThrottled, "", "too many requests as %q refused NoAuth from this address: wait %s", caller.User, wait.Round(time.Second)))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusForbidden {
			s.svc.Guessed(caller)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// peersOnly guards the node-to-node calls, whose commands carry identities
// the calling node stamped: once access control is on, only another node
// (by the cluster token) or the super user may make them.
func (s *Server) peersOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same rule as cluster administration: a node's token makes
		// its calls the super user's (authenticateNode).
		if s.svc.Admin(r.Context()) != nil {
			writeError(w, s.svc.Applied(), api.Errorf(api.CodeNoAuth, "", "node-to-node calls need the cluster token (--cluster-token-file)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
