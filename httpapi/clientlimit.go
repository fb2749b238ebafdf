package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/canopy-coord/canopy/api"
)

// ClientLimits are DESIGN §4's limits on one client, answered 429
// Throttled with Retry-After: its open connections (ZooKeeper's
// maxClientCnxns) and its requests per second. A client is an IP address,
// as in ZooKeeper, so clients behind one proxy or NAT share their limits.
// A limit of zero is off.
//
// Connections are counted by the listener, so WebSockets and forwarding
// streams count for as long as they are open. A connection over the limit
// is still accepted: its request is answered 429 and the connection closed,
// so that the client reads why instead of seeing a reset.
//
// The rate counts REST requests and WebSocket frames other than ping; the
// health, readiness and metrics endpoints and the UI's static files are
// never refused for it.
type ClientLimits struct {
	maxConns int
	perSec   int

	mu      sync.Mutex
	conns   map[netip.Addr]int
	buckets map[netip.Addr]*rate.Limiter
	swept   time.Time

	open      atomic.Int64
	throttled *prometheus.CounterVec
}

// NewClientLimits limits each client to maxConns open connections and
// perSec requests a second (bursts of up to perSec); zero is no limit.
func NewClientLimits(maxConns, perSec int, reg prometheus.Registerer) *ClientLimits {
	l := &ClientLimits{
		maxConns: max(maxConns, 0),
		perSec:   max(perSec, 0),
		conns:    map[netip.Addr]int{},
		buckets:  map[netip.Addr]*rate.Limiter{},
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_throttled_total",
			Help: "Requests and WebSocket frames refused 429 Throttled, by the client limit they were over (connections or rate).",
		}, []string{"limit"}),
	}
	if reg != nil {
		reg.MustRegister(l.throttled, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "canopy_http_connections",
			Help: "Open connections to the API, WebSockets and forwarding streams included.",
		}, func() float64 { return float64(l.open.Load()) }))
	}
	return l
}

// off says no limit is set: then nothing needs looking at per request.
func (l *ClientLimits) off() bool { return l == nil || l.maxConns == 0 && l.perSec == 0 }

// Listener counts the connections ln accepts, by client. Serve the API
// from it, with ConnContext as the http.Server's ConnContext.
func (l *ClientLimits) Listener(ln net.Listener) net.Listener {
	return &countingListener{Listener: ln, limits: l}
}

// ConnContext marks the requests of a connection accepted over its
// client's limit, for the API to refuse them.
func (l *ClientLimits) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS, over the counted connection
		c = tc.NetConn()
	}
	if cc, ok := c.(*countedConn); ok && cc.over {
		return context.WithValue(ctx, overConnsKey{}, true)
	}
	return ctx
}

type overConnsKey struct{}

// refuse says why r must not be served, or nil. closeConn is true when the
// connection itself is over the limit and must end with the answer.
func (l *ClientLimits) refuse(r *http.Request) (err *api.Error, closeConn bool) {
	if over, _ := r.Context().Value(overConnsKey{}).(bool); over {
		l.throttled.WithLabelValues("connections").Inc()
		return api.Errorf(api.CodeThrottled, "", "too many connections from %s: at most %d", clientOf(r.RemoteAddr), l.maxConns), true
	}
	if rateExempt(r.URL.Path) {
		return nil, false
	}
	return l.Throttle(r.RemoteAddr), false
}

// rateExempt are the paths the rate never refuses: health, readiness and
// metrics, which answer for the node, not for the client's use of it, and
// the UI's files and the API description, static and embedded (a browser
// opening the UI fetches a dozen at once).
func rateExempt(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/", "/ui":
		return true
	}
	return strings.HasPrefix(path, "/ui/")
}

// Throttle takes one request of the client at remoteAddr (host:port)
// from its rate: nil while it is within it, Throttled when it is over.
func (l *ClientLimits) Throttle(remoteAddr string) *api.Error {
	if l == nil || l.perSec == 0 {
		return nil
	}
	addr := clientOf(remoteAddr)
	now := time.Now()
	l.mu.Lock()
	b := l.buckets[addr]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(l.perSec), l.perSec)
		l.buckets[addr] = b
	}
	ok := b.AllowN(now, 1)
	l.sweep(now)
	l.mu.Unlock()
	if ok {
		return nil
	}
	l.throttled.WithLabelValues("rate").Inc()
	return api.Errorf(api.CodeThrottled, "", "too many requests from %s: at most %d a second", addr, l.perSec)
}

// sweep forgets, once a minute, the clients whose buckets have refilled:
// they are as a new client's would be. l.mu is held.
func (l *ClientLimits) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for addr, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.perSec) {
			delete(l.buckets, addr)
		}
	}
}

// Open is how many connections are open now (zero for a nil l).
func (l *ClientLimits) Open() int64 {
	if l == nil {
		return 0
	}
	return l.open.Load()
}

// opened counts a new connection of addr and says whether it is over
// addr's limit. Connections are counted by client only under a limit.
func (l *ClientLimits) opened(addr netip.Addr) (over bool) {
	l.open.Add(1)
	if l.maxConns == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns[addr]++
	return l.conns[addr] > l.maxConns
}

func (l *ClientLimits) closed(addr netip.Addr) {
	l.open.Add(-1)
	if l.maxConns == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[addr]--; l.conns[addr] <= 0 {
		delete(l.conns, addr)
	}
}

// clientOf is the client address of a host:port; the zero Addr when it
// has none (a test's pipe), which then counts as one client.
func clientOf(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

type countingListener struct {
	net.Listener
	limits *ClientLimits
}

func (cl *countingListener) Accept() (net.Conn, error) {
	c, err := cl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	addr := clientOf(c.RemoteAddr().String())
	return &countedConn{Conn: c, limits: cl.limits, addr: addr, over: cl.limits.opened(addr)}, nil
}

// countedConn is an accepted connection, uncounted when first closed. The
// HTTP server hands it to a hijacker (a WebSocket) as it is, so a hijacked
// connection counts until its new owner closes it.
type countedConn struct {
	net.Conn
	limits *ClientLimits
	addr   netip.Addr
	over   bool
	once   sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.limits.closed(c.addr) })
	return c.Conn.Close()
}

// CloseWrite keeps the HTTP server's graceful close of a connection it
// ends after an error answer: it half-closes, so the client reads the
// answer before the connection is gone.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
