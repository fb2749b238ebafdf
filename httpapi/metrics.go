package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canopy-coord/canopy/service"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	active   atomic.Int64 // the same figure as inflight, readable

	// Running figures for /v1/status, like ZooKeeper's mntr.
	mu       sync.Mutex
	count    int64
	total    time.Duration
	min, max time.Duration
}

func newHTTPMetrics(reg prometheus.Registerer, svc *service.Service) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "canopy_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17),
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "canopy_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		min: time.Duration(math.MaxInt64),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.inflight,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "canopy_znodes", Help: "Znodes in the local tree."},
				func() float64 { return float64(svc.Counts().Nodes) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "canopy_sessions", Help: "Open sessions."},
				func() float64 { return float64(svc.Counts().Sessions) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "canopy_applied_index", Help: "Last raft index applied to the local tree."},
				func() float64 { return float64(svc.Applied()) }),
		)
	}
	return m
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
	m.mu.Lock()
	m.count++
	m.total += d
	m.min = min(m.min, d)
	m.max = max(m.max, d)
	m.mu.Unlock()
}

type latencySummary struct {
	count         int64
	avg, min, max float64 // milliseconds
}

func (m *httpMetrics) summary() latencySummary {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.count == 0 {
		return latencySummary{}
	}
	return latencySummary{
		count: m.count,
		avg:   float64(m.total) / float64(m.count) / 1e6,
		min:   float64(m.min) / 1e6,
		max:   float64(m.max) / 1e6,
	}
}

func (s *Server) metricsHandler() http.Handler {
	if s.cfg.Gatherer == nil {
		return promhttp.Handler()
	}
	return promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
}
