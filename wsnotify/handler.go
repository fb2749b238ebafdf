package wsnotify

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Store is what the watch endpoints need of the replicated state.
type Store interface {
	Tree() *fsm.Tree
	Propose(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error)
	Await(ctx context.Context, linearizable bool, minZxid int64) error
	Linearize(ctx context.Context) error
	Applied() int64
	KeepAlive(ctx context.Context, id api.ID) (api.Session, error)
}

// Config holds the endpoints' limits.
type Config struct {
	ReadLimit      int64         // largest client frame; larger closes with 1009
	MaxDataBytes   int64         // largest node data
	OriginPatterns []string      // extra allowed Origin hosts; same origin is always allowed
	IdlePing       time.Duration // ping interval of a socket with no session
	WriteTimeout   time.Duration // a frame not written within it closes the socket
	Logger         zerolog.Logger
	Metrics        *Metrics
}

// Handler serves GET /v1/watch (WebSocket) and GET /v1/events (SSE).
type Handler struct {
	store Store
	hub   *Hub
	cfg   Config
}

// NewHandler serves the hub's events and the store's operations.
func NewHandler(store Store, hub *Hub, cfg Config) *Handler {
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 2 << 20
	}
	if cfg.MaxDataBytes <= 0 {
		cfg.MaxDataBytes = 1 << 20
	}
	if cfg.IdlePing <= 0 {
		cfg.IdlePing = 20 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Handler{store: store, hub: hub, cfg: cfg}
}

// ServeWS upgrades the request and serves the connection until it closes.
func (h *Handler) ServeWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns})
	if err != nil {
		return // Accept has answered: 403 for a foreign Origin, 426 for no upgrade
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	c := &conn{h: h, ws: ws, sub: h.hub.NewSubscriber(), log: h.cfg.Logger.With().Str("remote", r.RemoteAddr).Logger()}
	c.serve(r.Context())
}
