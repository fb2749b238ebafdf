package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// Authentication (DESIGN §9): every request is authenticated once, here,
// and carries its caller (service.Caller) in its context; the operation
// layer and the state machine check ACLs on it. Credentials are HTTP Basic
// (the digest identity), a verified client certificate (x509), or the
// browser's login cookie, which stands for Basic credentials checked at
// login.

const (
	cookieName = "canopy_auth"
	cookieLife = 12 * time.Hour
)

// openPaths never need credentials, even with --auth-required: probes,
// the UI's files (its login form asks for them), the contract, and the
// node-to-node calls (guarded by peersOnly instead).
func (s *Server) openPath(p string) bool {
	switch {
	case p == "/healthz", p == "/readyz", p == "/", p == "/ui", p == "/openapi.yaml":
		return true
	case strings.HasPrefix(p, "/ui/"), strings.HasPrefix(p, "/v1/internal/"):
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
		cred, err := s.credentials(r)
		var caller service.Caller
		if err == nil {
			caller, err = s.svc.Authenticate(r.RemoteAddr, cred)
		} else {
			caller, _ = s.svc.Authenticate(r.RemoteAddr, service.Credentials{}) // who failed, for the audit
		}
		if err != nil && !(api.CodeOf(err) == api.CodeAuthFailed && !cred.HasPassword && cred.Digest == "" && s.openPath(r.URL.Path)) {
			s.svc.AuditAuth(r.Context(), caller, err)
			w.Header().Set("WWW-Authenticate", `Basic realm="canopy", charset="UTF-8"`)
			writeError(w, s.svc.Applied(), err)
			return
		}
		next.ServeHTTP(w, r.WithContext(service.WithCaller(r.Context(), caller)))
	})
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
	if c, err := r.Cookie(cookieName); err == nil {
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
	if !found || user == "" {
		return "", "", false
	}
	return user, password, true
}

// login answers POST /v1/login: Basic credentials in, a signed cookie out
// that stands for them (never holding the password), for browsers, which
// cannot set headers on a WebSocket or an EventSource.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	caller := service.CallerOf(r.Context())
	if caller.User == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="canopy", charset="UTF-8"`)
		writeError(w, s.svc.Applied(), api.AuthFailed("log in with HTTP Basic credentials"))
		return
	}
	digest := strings.TrimPrefix(firstWithPrefix(caller.Identity, "digest:"), "digest:")
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.logins.sign(digest, time.Now().Add(cookieLife)), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(cookieLife.Seconds()),
	})
	s.svc.AuditAuth(r.Context(), caller, nil)
	writeJSON(w, http.StatusOK, s.svc.Applied(), s.svc.WhoAmI(r.Context()))
}

// logout clears the login cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
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

// guessLimit answers a client that keeps being refused NoAuth (a password
// guesser: a wrong password is only another identity, so each guess is a
// 403) 429 with Retry-After once it passes a bound, until its window ends.
type guessLimit struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	clients map[netip.Addr]*guesses
	swept   time.Time
}

type guesses struct {
	start time.Time
	count int
}

func newGuessLimit(max int, window time.Duration) *guessLimit {
	return &guessLimit{max: max, window: window, clients: map[netip.Addr]*guesses{}}
}

// blocked returns how long the client must wait, or 0.
func (g *guessLimit) blocked(addr netip.Addr, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.clients[addr]
	if c == nil || c.count < g.max {
		return 0
	}
	if left := c.start.Add(g.window).Sub(now); left > 0 {
		return left
	}
	delete(g.clients, addr)
	return 0
}

func (g *guessLimit) refused(addr netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.swept) > g.window {
		for a, c := range g.clients {
			if now.Sub(c.start) > g.window {
				delete(g.clients, a)
			}
		}
		g.swept = now
	}
	c := g.clients[addr]
	if c == nil || now.Sub(c.start) > g.window {
		c = &guesses{start: now}
		g.clients[addr] = c
	}
	c.count++
}

// limitGuesses applies guessLimit to REST requests.
func (s *Server) limitGuesses(next http.Handler) http.Handler {
	if s.guesses == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientOf(r.RemoteAddr)
		if wait := s.guesses.blocked(addr, time.Now()); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, s.svc.Applied(), api.Errorf(api.CodeThrottled, "", "too many requests refused NoAuth from this client: wait %s", wait.Round(time.Second)))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusForbidden {
			s.guesses.refused(addr, time.Now())
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
// the calling node stamped: once access control is on, only a member's
// address (or the super user) may make them. Nodes that share a host
// share an address, so on one machine this keeps out only other hosts;
// mutual TLS between API ports is the stronger guard (DESIGN §9).
func (s *Server) peersOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sec := s.svc.SecurityConfig()
		if (sec.AuthRequired || sec.SuperDigest != "") && !s.fromMember(r) {
			writeError(w, s.svc.Applied(), api.Errorf(api.CodeNoAuth, "", "node-to-node calls come from cluster members only"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) fromMember(r *http.Request) bool {
	if err := s.svc.Admin(r.Context()); err == nil {
		return true
	}
	addr := clientOf(r.RemoteAddr)
	info, err := s.svc.Cluster()
	if err != nil {
		return false
	}
	for _, m := range info.Members {
		host, _, err := net.SplitHostPort(m.HTTP)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Unmap() == addr {
			return true
		}
		if ips, err := net.LookupIP(host); err == nil {
			for _, ip := range ips {
				if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == addr {
					return true
				}
			}
		}
	}
	return false
}
