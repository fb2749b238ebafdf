package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// Config configures a Client.
type Config struct {
	// Servers are the base URLs of the cluster's nodes, e.g.
	// "http://127.0.0.1:8900"; a bare host:port means http, or https when
	// TLS is set. The client talks to one at a time and moves to the next
	// when one fails.
	Servers []string
	// HTTPClient sends the requests; nil means a client of its own with
	// keep-alive connections (and TLS, when set). A client given here
	// brings its own TLS settings: TLS then only picks the scheme of bare
	// host:port servers.
	HTTPClient *http.Client
	// User and Password authenticate every request, and the WebSocket
	// upgrade, with HTTP Basic: the server gives the caller the identity
	// digest:User:base64(sha1(User:Password)) (api.Digest). No User: the
	// calls are anonymous. Use them over TLS on any network but loopback:
	// Basic sends the password in the clear.
	User, Password string
	// TLS, when set, is the configuration of https and wss connections:
	// the CAs to trust (RootCAs) and a client certificate, which the server
	// turns into an x509 identity.
	TLS *tls.Config
	// RequestTimeout bounds a call whose context has no deadline,
	// retries included. Zero means 15 s.
	RequestTimeout time.Duration
	// FailFast makes a call, or the start of a watch, fail as soon as
	// every server has refused a connection twice in a row (nothing
	// listens there) instead of retrying until its deadline: for
	// command-line tools, whose user may have forgotten to start the
	// server. A program that should ride out a restart leaves it off.
	// A session's keep-alives, and watches already running, go on
	// retrying as before.
	FailFast bool
}

// DefaultServer is where a client goes when given no server at all: the
// address `canopy serve` listens on by default.
const DefaultServer = "http://127.0.0.1:8900"

// ServersFromEnv reads CANOPY_SERVERS (comma-separated URLs), falling back
// to DefaultServer.
func ServersFromEnv() []string {
	if s := splitServers(os.Getenv("CANOPY_SERVERS")); len(s) > 0 {
		return s
	}
	return []string{DefaultServer}
}

func splitServers(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Client talks to a Canopy cluster over its REST and WebSocket API. It is
// safe for concurrent use. Views made with Stale or by a Session share
// its connections and its knowledge of the cluster.
type Client struct {
	*shared
	// session is the Canopy-Session header of the requests made through
	// this view ("" outside a session).
	session string
	// stale makes reads local to the answering server (see Stale).
	stale bool
}

// shared is the state of a Client common to all its views.
type shared struct {
	servers []string
	hc      *http.Client
	timeout time.Duration
	// auth is the Authorization header of every request ("" for none).
	auth    string
	refused *refusals // nil unless Config.FailFast
	// current is the index of the server in use.
	current atomic.Int32
	// seen is the highest zxid any answer has shown: stale reads never go
	// back before it.
	seen atomic.Int64

	wsOnce sync.Once
	ws     *watchConn
	closed atomic.Bool

	mu       sync.Mutex
	watchers map[*Watcher]struct{} // the persistent watches, ended by Close
}

// New returns a client for the servers of cfg. It does not connect until
// the first call.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("canopy client: no server given")
	}
	sh := &shared{hc: cfg.HTTPClient, timeout: cfg.RequestTimeout}
	for _, s := range cfg.Servers {
		u, err := normalizeServer(s, cfg.TLS != nil)
		if err != nil {
			return nil, err
		}
		sh.servers = append(sh.servers, u)
	}
	if cfg.User != "" {
		sh.auth = basicAuth(cfg.User, cfg.Password)
	} else if cfg.Password != "" {
		return nil, errors.New("canopy client: a Password needs its User")
	}
	if sh.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		if cfg.TLS != nil {
			t.TLSClientConfig = cfg.TLS.Clone()
		}
		sh.hc = &http.Client{Transport: t}
	}
	if sh.timeout <= 0 {
		sh.timeout = 15 * time.Second
	}
	if cfg.FailFast {
		sh.refused = newRefusals(sh.servers)
	}
	// Spread clients over the servers rather than all on the first.
	sh.current.Store(int32(rand.IntN(len(sh.servers))))
	return &Client{shared: sh}, nil
}

func normalizeServer(s string, tls bool) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		if tls {
			s = "https://" + s
		} else {
			s = "http://" + s
		}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("canopy client: server %q is not an http(s) URL or host:port", s)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// Servers lists the servers the client uses.
func (c *Client) Servers() []string { return append([]string(nil), c.servers...) }

// Server is the server the client uses now (it moves to the next one when
// that one fails).
func (c *Client) Server() string { return c.servers[c.current.Load()] }

// LastZxid is the highest zxid the client has seen in an answer.
func (c *Client) LastZxid() int64 { return c.seen.Load() }

// Stale returns a view of c whose reads are answered from the answering
// server's own state, without a round trip to the leader: faster, and
// possibly behind the cluster. They never go back in time for this client:
// each read carries the highest zxid the client has seen (min_zxid), so it
// sees its own writes, as a ZooKeeper client does.
func (c *Client) Stale() *Client {
	v := *c
	v.stale = true
	return &v
}

// Close closes the client's WebSocket connections: its watches end, one-shot
// and persistent. Calls in flight fail. Sessions made from it are not
// closed: close them first.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.mu.Lock()
	watchers := c.watchers
	c.watchers = nil
	c.mu.Unlock()
	for w := range watchers {
		w.end(ErrClosed)
	}
	c.wsOnce.Do(func() {}) // no watch connection may start from now on
	if c.ws != nil {
		c.ws.close()
	}
	c.hc.CloseIdleConnections()
	return nil
}

// request is one REST call.
type request struct {
	method string
	route  string // e.g. "/v1/multi", or a prefix followed by path
	// path is a node's path, appended to route percent-encoded when node.
	path   string
	node   bool
	query  url.Values
	body   []byte
	header http.Header
	// idempotent calls are retried on another server when one fails; a
	// write is retried only when it certainly never reached a server.
	idempotent bool
	// read calls honour Stale.
	read bool
}

// response is a successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
	zxid   int64
}

// maxBackoff caps the wait between two attempts.
const maxBackoff = time.Second

// do sends req to the current server, moving through the others on
// failures that allow it, until it gets an answer or ctx ends.
func (c *Client) do(ctx context.Context, req *request) (*response, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if req.node {
		if !strings.HasPrefix(req.path, "/") {
			return nil, api.Errorf(api.CodeBadArguments, req.path, "a node path starts with /")
		}
		req.route, req.node = nodeRoute(req.route, req.path), false
	}
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	backoff := 20 * time.Millisecond
	var lastErr error
	for attempt := 0; ; attempt++ {
		idx := int(c.current.Load())
		resp, retry, err := c.try(ctx, c.servers[idx], req)
		c.refused.dialed(c.servers[idx], err)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if retry || serverTrouble(err) {
			// Move on to the next server (unless another call already did),
			// also for a write not sent again here: the caller's retry
			// should not meet the same server.
			c.current.CompareAndSwap(int32(idx), int32((idx+1)%len(c.servers)))
		}
		if !retry || ctx.Err() != nil || isClosed(c.refused.gaveUp()) {
			break
		}
		wait := backoff
		var ae *api.Error
		if errors.As(err, &ae) && ae.Code == api.CodeThrottled {
			if ra := retryAfter(err); ra > wait {
				wait = ra
			}
		}
		if attempt < len(c.servers)-1 && !(errors.As(err, &ae) && ae.Code == api.CodeThrottled) {
			wait = 0 // try every server once before waiting
		} else {
			backoff = min(2*backoff, maxBackoff)
		}
		if !ctxtime.Sleep(ctx, jitter(wait)) {
			break
		}
	}
	if ctx.Err() != nil && lastErr != nil {
		return nil, fmt.Errorf("%w (gave up: %v)", lastErr, ctx.Err())
	}
	return nil, lastErr
}

// bounded gives a context without a deadline the client's RequestTimeout.
func (c *Client) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// try sends req to one server. retry says whether another attempt may
// follow err.
func (c *Client) try(ctx context.Context, server string, req *request) (*response, bool, error) {
	q := url.Values{}
	for k, v := range req.query {
		q[k] = v
	}
	if req.read && c.stale {
		if seen := c.seen.Load(); seen > 0 {
			q.Set("min_zxid", strconv.FormatInt(seen, 10))
		} else {
			q.Set("consistency", "stale")
		}
	}
	u := server + req.route
	if len(q) > 0 {
		u += "?" + encodeQuery(q)
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, false, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	if c.session != "" {
		hr.Header.Set("Canopy-Session", c.session)
	}
	if c.auth != "" {
		hr.Header.Set("Authorization", c.auth)
	}
	hresp, err := c.hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, err
		}
		if tlsTrouble(err) {
			// Another try, or another server of the same cluster, meets
			// the same certificates: say so at once.
			return nil, false, fmt.Errorf("canopy: TLS with %s: %w", server, err)
		}
		// A request that never left (no connection) may go elsewhere; one
		// that did may have been applied.
		if req.idempotent || neverSent(err) {
			return nil, true, &netError{server: server, err: err}
		}
		return nil, false, fmt.Errorf("%w: %s %s: %v", ErrConnectionLoss, req.method, server, err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		if req.idempotent {
			return nil, true, &netError{server: server, err: err}
		}
		return nil, false, fmt.Errorf("%w: %s %s: reading the answer: %v", ErrConnectionLoss, req.method, server, err)
	}
	zxid, _ := strconv.ParseInt(hresp.Header.Get("Canopy-Zxid"), 10, 64)
	c.noteZxid(zxid)
	if hresp.StatusCode/100 == 2 {
		return &response{status: hresp.StatusCode, header: hresp.Header, body: data, zxid: zxid}, false, nil
	}
	apiErr := decodeError(hresp, data)
	switch apiErr.Code {
	case api.CodeThrottled:
		// Refused before it was looked at: safe to send again.
		return nil, true, &throttled{err: apiErr, after: parseRetryAfter(hresp.Header.Get("Retry-After"))}
	case api.CodeUnavailable, api.CodeOperationTimeout:
		return nil, req.idempotent, apiErr
	}
	return nil, false, apiErr
}

func (c *shared) noteZxid(z int64) {
	for {
		cur := c.seen.Load()
		if z <= cur || c.seen.CompareAndSwap(cur, z) {
			return
		}
	}
}

// encodeQuery writes flags (empty values) bare: ?ephemeral, not ?ephemeral=.
func encodeQuery(q url.Values) string {
	var b strings.Builder
	for k, vs := range q {
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			if v != "" {
				b.WriteByte('=')
				b.WriteString(url.QueryEscape(v))
			}
		}
	}
	return b.String()
}

// decodeError turns an error answer into an *api.Error; an answer without
// the API's error body (a proxy's, or Go's own 400) still gets a code.
func decodeError(resp *http.Response, data []byte) *api.Error {
	var body api.ErrorBody
	if json.Unmarshal(data, &body) == nil && body.Error != nil && body.Error.Code != "" {
		return body.Error
	}
	code := api.CodeSystemError
	for c := range codesByStatus {
		if c.Status() == resp.StatusCode {
			code = c
			break
		}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return &api.Error{Code: code, Message: fmt.Sprintf("%s: %s", resp.Status, msg)}
}

// codesByStatus picks, for a status without an error body, the code that
// owns it alone.
var codesByStatus = map[api.Code]bool{
	api.CodeNoNode: true, api.CodeBadVersion: true, api.CodeBadArguments: true, api.CodeAuthFailed: true,
	api.CodeNoAuth: true, api.CodeSessionExpired: true, api.CodeTooLarge: true, api.CodeMethodNotAllowed: true,
	api.CodeThrottled: true, api.CodeUnavailable: true, api.CodeOperationTimeout: true, api.CodeQuotaExceeded: true,
}

// netError is a failure to reach a server.
type netError struct {
	server string
	err    error
}

func (e *netError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.server, e.err) }
func (e *netError) Unwrap() []error {
	return []error{ErrUnavailable, e.err}
}

// throttled is a 429 with its Retry-After.
type throttled struct {
	err   *api.Error
	after time.Duration
}

func (e *throttled) Error() string { return e.err.Error() }
func (e *throttled) Unwrap() error { return e.err }

func retryAfter(err error) time.Duration {
	var t *throttled
	if errors.As(err, &t) {
		return t.after
	}
	return 0
}

func parseRetryAfter(h string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, 5*time.Second)
	}
	return 0
}

// serverTrouble reports an error that says more about the server than about
// the request: it could not be reached or has no quorum.
func serverTrouble(err error) bool {
	var ne *netError
	return errors.As(err, &ne) || errors.Is(err, ErrConnectionLoss) || errors.Is(err, ErrUnavailable)
}

// basicAuth is the Authorization header of HTTP Basic (RFC 7617).
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// tlsTrouble reports a failure of TLS itself (a certificate not trusted,
// or refused, or a plain-HTTP server), as opposed to the network's.
func tlsTrouble(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &rh) || errors.As(err, &alert) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// neverSent reports whether err means the request did not reach a server:
// it could not connect at all.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)/2+1))
}

// isClosed reports whether ch is closed; a nil ch never is.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
