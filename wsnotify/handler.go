package wsnotify

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// Config holds the endpoints' settings; their limits are the service's.
type Config struct {
	OriginPatterns []string      // extra allowed Origin hosts; same origin is always allowed
	IdlePing       time.Duration // ping interval of a socket with no session
	WriteTimeout   time.Duration // a frame not written within it closes the socket
	Logger         zerolog.Logger
	Metrics        *Metrics
	// Throttle takes a frame from its client's rate (the client at the
	// upgrade's remote address): Throttled when over it. Nil is no limit.
	Throttle func(remoteAddr string) *api.Error
}

// Handler serves GET /v1/watch (WebSocket) and GET /v1/events (SSE).
type Handler struct {
	svc *service.Service
	hub *Hub
	cfg Config
}

// NewHandler serves the hub's events and the service's operations.
func NewHandler(svc *service.Service, hub *Hub, cfg Config) *Handler {
	if cfg.IdlePing <= 0 {
		cfg.IdlePing = 20 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Handler{svc: svc, hub: hub, cfg: cfg}
}

// ServeWS upgrades the request and serves the connection until it closes.
func (h *Handler) ServeWS(w http.ResponseWriter, r *http.Request) {
	if err := h.checkHandshake(r); err != nil {
		api.WriteError(w, h.svc.Applied(), err)
		return
	}
	// The Origin was checked above, with the API's error body on refusal.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer h.connection("websocket", r)()
	ws.SetReadLimit(h.svc.Limits().MaxBodyBytes)
	c := &conn{h: h, ws: ws, sub: h.hub.NewSubscriberFor(service.CallerOf(r.Context()).Identity), remote: r.RemoteAddr, log: h.cfg.Logger.With().Str("remote", r.RemoteAddr).Logger()}
	c.serve(r.Context())
}

// checkHandshake refuses, with the contract's error body, what the
// WebSocket library would refuse in plain text: a request that is not a
// WebSocket handshake, and a browser page from a foreign origin.
func (h *Handler) checkHandshake(r *http.Request) error {
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") ||
		r.Header.Get("Sec-WebSocket-Key") == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		return api.Errorf(api.CodeBadArguments, "", "this endpoint speaks WebSocket (version 13): send an upgrade request")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not a browser: nothing to protect against
	}
	u, err := url.Parse(origin)
	if err != nil {
		return api.Errorf(api.CodeBadArguments, "", "malformed Origin header %q", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, pattern := range h.cfg.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(u.Host)); ok {
			return nil
		}
	}
	return api.Errorf(api.CodeNoAuth, "", "WebSocket connections from origin %q are not allowed (see --allowed-origins)", origin)
}

func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
