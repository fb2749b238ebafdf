package httpapi

import (
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Applied(), map[string]string{"status": "ok"})
}

// readyz answers 200 once this node can serve requests: it knows a leader,
// and if it is the leader its state is current.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.node.Ready() {
		writeError(w, s.svc.Applied(), api.Unavailable("no leader yet"))
		return
	}
	writeJSON(w, http.StatusOK, s.svc.Applied(), map[string]string{"status": "ready"})
}

// Status is the body of /v1/status, after ZooKeeper's mntr.
type Status struct {
	ServerState         string  `json:"server_state"`
	NodeID              string  `json:"node_id"`
	Version             string  `json:"version"`
	Zxid                int64   `json:"zxid"`
	ZnodeCount          int     `json:"znode_count"`
	EphemeralsCount     int     `json:"ephemerals_count"`
	ApproximateDataSize int64   `json:"approximate_data_size"`
	SessionCount        int     `json:"session_count"`
	WatchCount          int     `json:"watch_count"`
	NumAliveConnections int64   `json:"num_alive_connections"`
	OutstandingRequests int64   `json:"outstanding_requests"`
	RequestsTotal       int64   `json:"requests_total"`
	AvgLatencyMs        float64 `json:"avg_latency_ms"`
	MinLatencyMs        float64 `json:"min_latency_ms"`
	MaxLatencyMs        float64 `json:"max_latency_ms"`
	UptimeMs            int64   `json:"uptime_ms"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	c := s.svc.Counts()
	lat := s.metrics.summary()
	watches := 0
	if s.cfg.WatchCount != nil {
		watches = s.cfg.WatchCount()
	}
	st := Status{
		ServerState:         strings.ToLower(s.node.Role()),
		NodeID:              s.node.ID(),
		Version:             s.cfg.Version,
		Zxid:                c.Applied,
		ZnodeCount:          c.Nodes,
		EphemeralsCount:     c.Ephemerals,
		ApproximateDataSize: c.DataBytes,
		SessionCount:        c.Sessions,
		WatchCount:          watches,
		NumAliveConnections: s.cfg.Clients.Open(),
		OutstandingRequests: s.metrics.active.Load() - 1, // not counting this one
		RequestsTotal:       lat.count,
		AvgLatencyMs:        lat.avg,
		MinLatencyMs:        lat.min,
		MaxLatencyMs:        lat.max,
		UptimeMs:            time.Since(s.started).Milliseconds(),
	}
	writeJSON(w, http.StatusOK, c.Applied, st)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(s.cfg.OpenAPI)
}

// serveUI serves the UI's files; a missing one gets the API's error body.
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/")
	if name == "" {
		name = "index.html"
	}
	if _, err := fs.Stat(s.cfg.UI, name); err != nil {
		writeError(w, s.svc.Applied(), api.Errorf(api.CodeNotFound, "", "no UI file %s", r.URL.Path))
		return
	}
	http.StripPrefix("/ui/", http.FileServer(http.FS(s.cfg.UI))).ServeHTTP(w, r)
}
