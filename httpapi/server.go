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
	"github.com/canopy-coord/canopy/service"
)

// Config holds what the API serves besides the operations. Its limits
// are the service's (service.Limits), the one value every layer reads.
type Config struct {
	OpenAPI []byte // served at /openapi.yaml
	UI      fs.FS  // served at /ui/
	Version string
	Pprof   bool // serve /debug/pprof/ (like etcd's --enable-pprof)
	// MetricsAuth makes /metrics need credentials where authentication is
	// required (it is open by default, for scrapers).
	MetricsAuth bool
	// NoAuthLimit is how many NoAuth answers one client may get in a
	// minute before it is answered 429 (0: 20; negative: no limit).
	NoAuthLimit int
	// Clients limits each client's connections and requests; nil is none.
	Clients *ClientLimits
	// Watch and Events serve GET /v1/watch (WebSocket) and GET /v1/events
	// (SSE); WatchCount reports the live watches for status.
	Watch      http.HandlerFunc
	Events     http.HandlerFunc
	WatchCount func() int
	// Stream serves the leader's end of followers' forwarding (the stream
	// at GET /v1/internal/stream and the plain calls beside it):
	// cluster.StreamServer, wired by server.
	Stream     *cluster.StreamServer
	Logger     zerolog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Server is the REST API of one node.
type Server struct {
	cfg     Config
	svc     *service.Service
	node    Node
	log     zerolog.Logger
	metrics *httpMetrics
	started time.Time
	router  chi.Router
	logins  *logins
	guesses *guessLimit
}

// New builds the API: the operations of svc, and node's role, readiness
// and leader-side endpoints.
func New(svc *service.Service, node Node, cfg Config) *Server {
	s := &Server{cfg: cfg, svc: svc, node: node, log: cfg.Logger, started: time.Now(), logins: newLogins()}
	switch {
	case cfg.NoAuthLimit == 0:
		s.guesses = newGuessLimit(20, time.Minute)
	case cfg.NoAuthLimit > 0:
		s.guesses = newGuessLimit(cfg.NoAuthLimit, time.Minute)
	}
	s.metrics = newHTTPMetrics(cfg.Registerer, svc)
	s.router = s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.requestID, s.recoverer, s.stampZxid, s.authenticate)
	r.NotFound(s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.svc.Applied(), api.Errorf(api.CodeNotFound, "", "no route %s %s", r.Method, r.URL.Path))
	})).ServeHTTP)
	r.MethodNotAllowed(s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.svc.Applied(), api.Errorf(api.CodeMethodNotAllowed, "", "method %s is not allowed on %s", r.Method, r.URL.Path))
	})).ServeHTTP)

	// Long-lived connections (WebSocket, SSE, the forwarding stream) are
	// not requests: their lifetimes would swamp the request latencies
	// (and /v1/status's max_latency_ms); wsnotify and cluster count them
	// as connections.
	r.Group(func(r chi.Router) {
		r.Use(s.throttle, s.sessionCheck)
		if s.cfg.Watch != nil {
			r.Get("/v1/watch", s.cfg.Watch)
		}
		if s.cfg.Events != nil {
			r.Get("/v1/events", s.cfg.Events)
		}
		r.With(s.peersOnly).Get("/v1/internal/stream", s.internalStream)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.observe, s.throttle, s.limitGuesses, s.limitBody)
		s.requestRoutes(r)
	})
	return r
}

// requestRoutes are the routes of requests: each answered once, observed
// (metrics, access log), body-limited.
func (s *Server) requestRoutes(r chi.Router) {
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
		for _, p := range []string{"", "/*"} {
			r.Get("/acl"+p, s.getACL)
			r.Put("/acl"+p, s.setACL)
		}
		r.Get("/whoami", s.whoami)
		r.Post("/login", s.login)
		r.Post("/logout", s.logout)
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
		if s.cfg.Stream != nil {
			r.With(s.peersOnly).Post("/internal/propose", s.cfg.Stream.ServePropose)
			r.With(s.peersOnly).Post("/internal/readindex", s.cfg.Stream.ServeReadIndex)
			r.With(s.peersOnly).Post("/internal/keepalive", s.cfg.Stream.ServeKeepAlive)
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
}
