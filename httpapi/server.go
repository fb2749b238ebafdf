package httpapi

import (
	"io/fs"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
)

// Config holds the API's limits (DESIGN §8) and what it serves besides.
type Config struct {
	MaxDataBytes int64 // per node
	MaxPathBytes int
	MaxBodyBytes int64 // per request
	MaxMultiOps  int
	OpenAPI      []byte // served at /openapi.yaml
	UI           fs.FS  // served at /ui/
	Version      string
	Pprof        bool // serve /debug/pprof/ (like etcd's --enable-pprof)
	// Clients limits each client's connections and requests; nil is none.
	Clients *ClientLimits
	// Watch and Events serve GET /v1/watch (WebSocket) and GET /v1/events
	// (SSE); WatchCount reports the live watches for status.
	Watch      http.HandlerFunc
	Events     http.HandlerFunc
	WatchCount func() int
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Defaults are DESIGN §8's limits.
func Defaults() Config {
	return Config{
		MaxDataBytes: 1 << 20,
		MaxPathBytes: 4096,
		MaxBodyBytes: 2 << 20,
		MaxMultiOps:  1000,
	}
}

// Server is the REST API of one node.
type Server struct {
	cfg     Config
	store   Store
	log     zerolog.Logger
	metrics *httpMetrics
	started time.Time
	router  chi.Router
	streams *cluster.StreamServer
}

// New builds the API over store.
func New(store Store, cfg Config) *Server {
	d := Defaults()
	if cfg.MaxDataBytes <= 0 {
		cfg.MaxDataBytes = d.MaxDataBytes
	}
	if cfg.MaxPathBytes <= 0 {
		cfg.MaxPathBytes = d.MaxPathBytes
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = d.MaxBodyBytes
	}
	if cfg.MaxMultiOps <= 0 {
		cfg.MaxMultiOps = d.MaxMultiOps
	}
	s := &Server{cfg: cfg, store: store, log: cfg.Logger, started: time.Now()}
	s.metrics = newHTTPMetrics(cfg.Registerer, store)
	// A forwarded command is its request's body and path in another
	// encoding: twice the body limit leaves room for any of them.
	s.streams = cluster.NewStreamServer(store, 2*int(cfg.MaxBodyBytes), cfg.Logger, cfg.Registerer)
	s.router = s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Close ends the connections the HTTP server no longer tracks: followers'
// forwarding streams. Register it with http.Server.RegisterOnShutdown.
func (s *Server) Close() { s.streams.Close() }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.requestID, s.recoverer, s.observe, s.throttle, s.limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.store.Applied(), api.Errorf(api.CodeNotFound, "", "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.store.Applied(), api.Errorf(api.CodeMethodNotAllowed, "", "method %s is not allowed on %s", r.Method, r.URL.Path))
	})

	r.Route("/v1", func(r chi.Router) {
		r.Use(s.sessionCheck)
		r.Route("/nodes", func(r chi.Router) {
			for _, p := range []string{"/", "/*"} {
				r.Post(p, s.create)
				r.Get(p, s.getData)
				r.Head(p, s.headNode)
				r.Put(p, s.setData)
				r.Delete(p, s.deleteNode)
			}
		})
		// Each path-addressed route also answers without a trailing path:
		// /v1/children is the root's children, like /v1/children/.
		r.Get("/nodes", s.getData)
		r.Head("/nodes", s.headNode)
		for _, p := range []string{"", "/*"} {
			r.Get("/stat"+p, s.exists)
			r.Get("/children"+p, s.children)
			r.Get("/tree"+p, s.tree)
			r.Post("/sync"+p, s.sync)
		}
		r.Post("/multi", s.multi)
		r.Route("/sessions", func(r chi.Router) {
			r.Post("/", s.createSession)
			r.Get("/", s.listSessions)
			r.Get("/{id}", s.getSession)
			r.Delete("/{id}", s.closeSession)
			r.Post("/{id}/keepalive", s.keepAlive)
		})
		r.Get("/status", s.status)
		r.Get("/cluster", s.clusterInfo)
		r.Get("/snapshot", s.backup)
		r.Post("/snapshot", s.restoreBackup)
		r.Post("/cluster/members", s.addMember)
		r.Delete("/cluster/members/{id}", s.removeMember)
		r.Post("/internal/propose", s.internalPropose)
		r.Get("/internal/stream", s.internalStream)
		r.Post("/internal/readindex", s.internalReadIndex)
		r.Post("/internal/keepalive", s.internalKeepAlive)
		if s.cfg.Watch != nil {
			r.Get("/watch", s.cfg.Watch)
		}
		if s.cfg.Events != nil {
			r.Get("/events", s.cfg.Events)
		}
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/metrics", s.metricsHandler().ServeHTTP)
	r.Get("/openapi.yaml", s.openAPI)
	if s.cfg.Pprof {
		r.Mount("/debug", middleware.Profiler())
	}
	if s.cfg.UI != nil {
		r.Get("/ui", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		})
		r.Get("/ui/*", s.serveUI)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/ui/", http.StatusFound)
		})
	}
	return r
}
